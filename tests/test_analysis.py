"""aecore.analysis: per-pixel loss studies checked against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from aecore import analysis


@pytest.mark.parametrize("t", [0.2, 0.5, 0.8])
def test_minimisers_of_mse_bce_mae_are_the_target(t):
    for name in ("gaussian", "bernoulli", "laplace"):
        p, _ = analysis.minimiser(name, t)
        assert p == pytest.approx(t, abs=1e-4), name


def test_bce_excess_and_curvature_match_closed_forms():
    t = 0.8
    def bce(p):
        return -(t * np.log(p) + (1 - t) * np.log(1 - p))
    entropy = bce(t)
    assert analysis.excess_loss("bernoulli", t, 0.9) == pytest.approx(bce(0.9) - entropy, abs=1e-8)
    assert analysis.excess_loss("bernoulli", t, 0.7) == pytest.approx(bce(0.7) - entropy, abs=1e-8)
    assert analysis.curvature_at_minimum("bernoulli", t) == pytest.approx(1 / (t * (1 - t)), rel=1e-4)
    assert analysis.curvature_at_minimum("gaussian", t) == pytest.approx(1.0, rel=1e-4)


def test_normalised_curves_have_zero_minimum():
    curves = analysis.loss_curves([0.3, 1.0], n=199)
    mins = curves.groupby(["loss", "target"])["value"].min()
    assert np.allclose(mins.to_numpy(), 0.0)
    assert set(curves["loss"]) == {"MSE", "BCE", "MAE", "CB"}


def test_cb_lambda_for_mean_inverts_the_mean():
    for m in (0.1, 0.5, 0.8):
        lam = analysis.cb_lambda_for_mean(m)
        closed = 0.5 if lam == 0.5 else lam / (2 * lam - 1) + 1 / (2 * np.arctanh(1 - 2 * lam))
        assert closed == pytest.approx(m, abs=1e-9)
    assert analysis.cb_missing_term(0.5) == pytest.approx(np.log(2))


def test_saturating_logit_is_where_float32_sigmoid_hits_one():
    l = analysis.saturating_logit_float32()
    sig = lambda v: np.float32(1) / (np.float32(1) + np.exp(-np.float32(v)))  # noqa: E731
    assert sig(l) == np.float32(1.0)
    assert sig(l - 0.01) < np.float32(1.0)


def test_stability_table_gradients_and_failures():
    t = 0.8
    table = analysis.stability_table(t, [-40.0, 0.0, 40.0])
    exact_grad = special.expit(table["logit"]) - t
    np.testing.assert_allclose(table["from_logits_grad"], exact_grad, atol=1e-6)
    assert not np.isfinite(table["naive_probabilities"].iloc[-1])
    assert table["from_logits_float32"].iloc[-1] == pytest.approx(table["exact_float64"].iloc[-1], rel=1e-6)
    assert table["keras_grad"].iloc[-1] == 0.0  # clipped: no gradient once saturated
    # A Keras sigmoid layer keeps its logits, and Keras' BCE computes from them: exact, no clip.
    np.testing.assert_allclose(table["keras_sigmoid_grad"], exact_grad, atol=1e-6)
    assert table["keras_sigmoid_layer"].iloc[-1] == pytest.approx(table["exact_float64"].iloc[-1], rel=1e-5)
    assert table["keras_probabilities"].iloc[-1] < 0.5 * table["exact_float64"].iloc[-1]  # plain probabilities: capped


# --------------------------------------------------------------------------- bias toward 1/2 (chapter 5)


def test_logit_gradients_match_closed_forms():
    eta = np.array([-8.0, -1.0, 0.3, 5.0])
    s = special.expit(eta)
    for t in (0.0, 0.2, 0.8, 1.0):
        np.testing.assert_allclose(analysis.logit_gradient("bce", t, eta), s - t, atol=1e-12)
        np.testing.assert_allclose(analysis.logit_gradient("mse", t, eta), (s - t) * s * (1 - s), atol=1e-12)
        np.testing.assert_allclose(analysis.logit_gradient("mae", t, eta), np.sign(s - t) * s * (1 - s), atol=1e-12)
        # CB is an exponential family in eta: the gradient of its NLL is mean(eta) - target
        cb_mean = 1 / (1 - np.exp(-eta)) - 1 / eta
        np.testing.assert_allclose(analysis.logit_gradient("cb", t, eta), cb_mean - t, atol=1e-9)


def test_reconstruction_curve_gradient_is_the_derivative_of_its_value():
    for name in ("mse", "bce", "cb", "mae"):
        r = np.array([0.3, 0.62])
        h = 1e-6
        mid = analysis.reconstruction_curve(name, 0.8, r)
        up = analysis.reconstruction_curve(name, 0.8, r + h)["value"].to_numpy()
        down = analysis.reconstruction_curve(name, 0.8, r - h)["value"].to_numpy()
        np.testing.assert_allclose(mid["grad_reconstruction"], (up - down) / (2 * h), rtol=1e-5)
    bce = analysis.reconstruction_curve("bce", 0.2, [0.1, 0.5])
    np.testing.assert_allclose(bce["grad_reconstruction"], (bce["reconstruction"] - 0.2)
                               / (bce["reconstruction"] * (1 - bce["reconstruction"])), rtol=1e-9)
    cb = analysis.reconstruction_curve("cb", 0.8, [0.8])
    assert cb["parameter"].iloc[0] == pytest.approx(analysis.cb_lambda_for_mean(0.8), abs=1e-9)


def test_pixel_theory_minima_and_asymmetry():
    table = analysis.pixel_theory((0.2, 0.5, 0.8), delta=0.1).set_index(["loss", "target"])
    for loss in ("MSE", "BCE", "MAE", "CB"):
        for t in (0.2, 0.5, 0.8):
            assert table.loc[(loss, t), "argmin_reconstruction"] == pytest.approx(t, abs=1e-5)
    # the CB's parameter at its minimum is not the target (lambda is not the mean)
    assert table.loc[("CB", 0.8), "argmin_parameter"] == pytest.approx(analysis.cb_lambda_for_mean(0.8), abs=1e-5)
    assert table.loc[("CB", 0.8), "argmin_parameter"] > 0.9
    def bce(t, p):
        return -(t * np.log(p) + (1 - t) * np.log(1 - p))
    away = bce(0.8, 0.9) - bce(0.8, 0.8)
    toward = bce(0.8, 0.7) - bce(0.8, 0.8)
    assert table.loc[("BCE", 0.8), "cost_ratio_away"] == pytest.approx(away / toward, rel=1e-6)
    assert table.loc[("BCE", 0.2), "cost_ratio_away"] == pytest.approx(away / toward, rel=1e-6)  # symmetric in t
    assert table.loc[("MSE", 0.8), "cost_ratio_away"] == pytest.approx(1.0, rel=1e-6)
    assert np.isnan(table.loc[("BCE", 0.5), "cost_ratio_away"])


def test_expected_minimisers_are_the_mean_or_the_median():
    values, weights = np.array([0.0, 0.3, 1.0]), np.array([0.5, 0.2, 0.3])
    mean = float(values @ weights)
    for name in ("mse", "bce", "cb"):
        rec, _ = analysis.expected_minimiser(name, values, weights)
        assert rec == pytest.approx(mean, abs=1e-5), name
    rec, _ = analysis.expected_minimiser("mae", values, [0.2, 0.5, 0.3])
    assert rec == pytest.approx(0.3, abs=1e-5)  # the weighted median
    rec, _ = analysis.expected_minimiser("mae", [0.0, 1.0], [0.7, 0.3])
    assert rec < 1e-6  # the median of a mostly-black pixel is black
    with pytest.raises(ValueError, match="weights"):
        analysis.expected_minimiser("mse", [0.1, 0.2], [1.0])


def test_bce_is_a_squared_error_weighted_by_the_bernoulli_variance():
    w = analysis.bce_weights((0.05, 0.2, 0.5, 0.8, 0.95))
    assert np.allclose(w["measured"], w["1 / (2t(1−t))"], rtol=1e-3)
    assert w.loc[0.5, "measured"] == pytest.approx(2.0, rel=1e-3)  # the answer's "2 x MSE at 1/2"
    assert w.loc[0.05, "measured"] / w.loc[0.5, "measured"] == pytest.approx(1 / (4 * 0.05 * 0.95), rel=1e-3)
    with pytest.raises(ValueError, match="targets must lie"):
        analysis.bce_weights((0.0,))


def test_bce_on_grey_targets_is_the_expected_bce_of_their_binarisations():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(20, 28, 28, 1))
    logits = rng.normal(-1.0, 1.0, size=(20, 28, 28, 1))  # mostly dark outputs
    r = analysis.binarisation_identity(x, logits, n_samples=100)
    assert abs(r["z"]) < 4 and r["standard_error"] > 0
    # A planted fault: targets pushed toward 1 before drawing are not the same expectation.
    biased = analysis.binarisation_identity(np.clip(x + 0.1, 0, 1), logits, n_samples=100)
    assert abs((biased["sampled"] - r["grey"]) / biased["standard_error"]) > 10


# --------------------------------------------------------------------------- chapter 1: the CB on one axis, log C of real data
# An oracle independent of aecore.losses: the CB density by numerical integration,
# p(x | eta) = exp(eta x) / integral_0^1 exp(eta u) du (lambda^x (1 - lambda)^(1 - x), normalised).


def _log_integral(eta: float) -> float:
    from scipy import integrate
    shift = max(eta, 0.0)  # exp(eta u - shift) stays <= 1
    value, _ = integrate.quad(lambda u: np.exp(eta * u - shift), 0.0, 1.0, epsabs=0, epsrel=1e-13)
    return shift + np.log(value)


def _cb_mean_oracle(eta: float) -> float:
    from scipy import integrate
    shift = max(eta, 0.0)
    num, _ = integrate.quad(lambda u: u * np.exp(eta * u - shift), 0.0, 1.0, epsabs=0, epsrel=1e-13)
    return num / np.exp(_log_integral(eta) - shift)


def _log_c_oracle(eta: float) -> float:
    """log C(lambda) = -log integral_0^1 lambda^x (1 - lambda)^(1 - x) dx."""
    return -(np.log(special.expit(-eta)) + _log_integral(eta))


def _cb_ml_logit_oracle(mean: float) -> float:
    """argmin over eta of the mean CB NLL of data with this mean: -eta * mean + log integral."""
    from scipy import optimize
    res = optimize.minimize_scalar(lambda e: -e * mean + _log_integral(e), bounds=(-60.0, 60.0),
                                   method="bounded", options={"xatol": 1e-10})
    return float(res.x)


def test_every_loss_curve_is_drawn_against_the_mean_and_the_cb_has_its_minimum_at_the_target():
    curves = analysis.loss_curves([0.3, 0.8], n=199)
    step = 1.0 / 200
    for (loss, t), part in curves.groupby(["loss", "target"]):
        assert part.loc[part["value"].idxmin(), "prediction"] == pytest.approx(t, abs=step), (loss, t)
    cb = curves[(curves["loss"] == "CB") & curves["prediction"].between(0.2, 0.8)]
    for lam, mean in zip(cb["parameter"].to_numpy()[::25], cb["prediction"].to_numpy()[::25]):
        eta = float(special.logit(lam))
        assert _cb_mean_oracle(eta) == pytest.approx(mean, abs=1e-7)  # the axis is mu(lambda), not lambda
    raw = analysis.loss_curves([0.3], n=9, normalise=False, names=("cb",))
    for lam, value in zip(raw["parameter"], raw["value"]):
        eta = float(special.logit(lam))
        assert value == pytest.approx(-(0.3 * eta - _log_integral(eta)), abs=1e-6)  # -log p(0.3 | eta)
    sig = analysis.loss_curves([0.3], n=9, names=("bce",))
    np.testing.assert_allclose(sig["parameter"], sig["prediction"], atol=1e-12)  # sigmoid means: lambda = mean


def test_logit_for_reconstruction_without_a_bound_reaches_means_near_0_and_1():
    r = np.array([1e-3, 1e-5, 0.3, 1 - 1e-4])
    eta = analysis.logit_for_reconstruction("cb", r, bound=None)
    # far from 0 the CB mean is 1/(1 - exp(-eta)) - 1/eta (exp overflows harmlessly to 1/inf = 0)
    with np.errstate(over="ignore"):
        closed = 1.0 / (1.0 - np.exp(-eta)) - 1.0 / eta
    np.testing.assert_allclose(closed, r, rtol=1e-9)
    assert eta[1] < -9e4  # a mean of 1e-5 needs a logit of about -1e5
    np.testing.assert_allclose(analysis.logit_for_reconstruction("bce", r, bound=None), special.logit(r), rtol=1e-12)
    with pytest.raises(ValueError, match="out of reach"):
        analysis.logit_for_reconstruction("cb", r)  # the default bound of 500 does not reach 1e-3


def test_cb_log_c_of_the_mean_image_at_the_ml_lambda_and_at_lambda_equal_to_the_mean():
    rng = np.random.default_rng(0)
    x = np.zeros((400, 2, 2, 1))
    x[:, 0, 0, 0] = rng.uniform(0.0, 0.6, 400)    # a grey pixel
    x[:, 0, 1, 0] = rng.uniform(0.5, 1.0, 400)    # a bright one
    x[:200, 1, 0, 0] = 0.1                        # mean 0.05 exactly: below the clip of 0.08
    clip = 0.08                                   # pixel (1, 1) is 0 in every image
    m = np.clip(x.mean(axis=0), clip, 1 - clip)
    ml = analysis.cb_mean_image_log_c(x, clip=clip, rule="ml")
    for idx in np.ndindex(m.shape):
        assert ml[idx] == pytest.approx(_log_c_oracle(_cb_ml_logit_oracle(m[idx])), abs=1e-6), idx
    bce = analysis.cb_mean_image_log_c(x, clip=clip, rule="mean")
    for idx in np.ndindex(m.shape):
        assert bce[idx] == pytest.approx(_log_c_oracle(float(special.logit(m[idx]))), abs=1e-9), idx
    assert np.all(ml >= bce - 1e-12)  # the ML lambda lies further from 1/2 than the mean
    with pytest.raises(ValueError, match="rule"):
        analysis.cb_mean_image_log_c(x, clip=clip, rule="median")
    with pytest.raises(ValueError, match="clip"):
        analysis.cb_mean_image_log_c(x, clip=0.5)


def test_cb_clip_table_splits_the_total_between_constant_and_varying_pixels():
    x = np.zeros((100, 1, 4, 1))
    x[:, 0, 1, 0] = np.linspace(0.2, 0.6, 100)   # mean 0.4
    x[:1, 0, 2, 0] = 0.5                         # mean 0.005: clipped at 0.01, not at 0.001
    x[:, 0, 3, 0] = 1.0                          # always full: constant, like an always-empty pixel
    clips = (0.01, 0.001)
    for rule in ("ml", "mean"):
        table = analysis.cb_clip_table(x, clips, rule=rule)
        for c in clips:
            per_pixel = analysis.cb_mean_image_log_c(x, clip=c, rule=rule).ravel()
            row = table.loc[c]
            assert row["total"] == pytest.approx(per_pixel.sum())
            assert row["constant"] == pytest.approx(per_pixel[0] + per_pixel[3])
            assert row["constant_share"] == pytest.approx((per_pixel[0] + per_pixel[3]) / per_pixel.sum())
            assert row["constant_pixels"] == 2
        assert list(table["clipped_pixels"]) == [3, 2]
        assert table.loc[0.01, "growth"] == 0.0
        assert table.loc[0.001, "growth"] == pytest.approx(table.loc[0.001, "total"] / table.loc[0.01, "total"] - 1)
        assert table.loc[0.001, "total"] > table.loc[0.01, "total"]  # constant pixels: log C grows as c -> 0
        small, large = (analysis.cb_mean_image_log_c(x, clip=c, rule=rule).ravel() for c in clips)
        growth = small - large  # per pixel: only the constant ones (0, 3) and the clipped one (2) move
        assert growth[1] == pytest.approx(0.0, abs=1e-12)
        assert table.loc[0.001, "constant_growth_share"] == pytest.approx((growth[0] + growth[3]) / growth.sum())
        assert 0 < table.loc[0.001, "constant_growth_share"] < 1
        assert np.isnan(table.loc[0.01, "constant_growth_share"])


# --------------------------------------------------------------------------- BatchNorm's running statistics


def test_bn_rescore_recomputes_the_population_statistics_a_full_batch_would_use():
    from aecore import models

    rng = np.random.default_rng(0)
    x_train = rng.random((300, 28, 28, 1)).astype(np.float32)
    x_test = rng.random((70, 28, 28, 1)).astype(np.float32)
    model = models.build_model("conv_ae_bn", seed=0)
    bns = analysis._batchnorms(model.encoder) + analysis._batchnorms(model.decoder)
    assert len(bns) == 3
    for bn in bns:  # running statistics far from anything the data gives
        bn.moving_mean.assign(np.full(bn.moving_mean.shape, 3.0, np.float32))
        bn.moving_variance.assign(np.full(bn.moving_variance.shape, 0.01, np.float32))
    before = [bn.moving_mean.numpy().copy() for bn in bns]
    scores = analysis.bn_rescore(model, x_train, x_test)
    # the statistics are put back
    for bn, m in zip(bns, before):
        np.testing.assert_array_equal(bn.moving_mean.numpy(), m)
    # oracle: one training-mode pass over the whole training set normalises every layer with exactly
    # the population statistics; score the test images with those (TF's fused kernel computes them)
    import tensorflow as tf

    fresh = models.build_model("conv_ae_bn", seed=0)
    fresh.set_weights(model.get_weights())
    for layer in analysis._batchnorms(fresh.encoder) + analysis._batchnorms(fresh.decoder):
        layer.momentum = 0.0  # the running statistics become the last (here: the only) batch's
    z = fresh.encoder(x_train, training=True)
    fresh.decoder(z, training=True)
    expected = float(np.mean((tf.sigmoid(fresh(x_test, training=False)).numpy().astype(np.float64) - x_test) ** 2))
    assert scores["recomputed"] == pytest.approx(expected, rel=1e-4)
    assert scores["running"] != pytest.approx(expected, rel=1e-2)  # the planted statistics did matter


def test_bn_rescore_without_batchnorm_scores_the_same_three_ways():
    from aecore import models

    rng = np.random.default_rng(1)
    x = rng.random((64, 28, 28, 1)).astype(np.float32)
    scores = analysis.bn_rescore(models.build_model("conv_ae", seed=0), x, x[:40])
    assert scores["running"] == pytest.approx(scores["recomputed"], rel=1e-6)
    assert scores["running"] == pytest.approx(scores["batch"], rel=1e-5)


def test_numpy_cb_mean_is_the_losses_one():
    from aecore import losses

    eta = np.concatenate([-np.geomspace(2000, 1e-6, 400), [0.0], np.geomspace(1e-6, 2000, 400),
                          [-0.01, 0.01, -0.0099999, 0.0099999]])
    np.testing.assert_allclose(analysis._cb_mean_numpy(eta), losses.cb_mean(eta).numpy(), rtol=1e-13, atol=1e-15)


# --------------------------------------------------------------------------- likelihoods on one scale


def _levels_images(rng, n, p_ink=0.2):
    levels = np.where(rng.random((n, 28, 28, 1)) < p_ink, rng.integers(128, 256, (n, 28, 28, 1)), 0)
    return (levels / 255.0).astype(np.float32)


def test_one_scale_table_against_scipy_and_the_discrete_code_lengths():
    from scipy import stats

    from aecore import metrics
    from aecore.vae_runs import transform_targets

    rng = np.random.default_rng(0)
    x_train, x_test = _levels_images(rng, 400), _levels_images(rng, 300)
    d_train, d_test = transform_targets(x_train, "dequantized", seed=3), transform_targets(x_test, "dequantized", seed=4)
    t = analysis.one_scale_table(d_train, d_test, k=4).set_index(["model", "likelihood"])["bits"]
    # oracle for the one-sigma Gaussian on PCA: SciPy's log-density of the same dequantised images
    xtr = d_train.reshape(400, -1).astype(np.float64)
    xte = d_test.reshape(300, -1).astype(np.float64)
    pca = metrics.pca_fit(xtr, 4)
    sigma = np.sqrt(np.mean((xtr - metrics.pca_reconstruct(pca, xtr)) ** 2))
    nll = -stats.norm.logpdf(xte, loc=metrics.pca_reconstruct(pca, xte), scale=sigma).mean()
    assert t[("PCA-4", "gaussian_shared")] == pytest.approx((nll + np.log(256)) / np.log(2), rel=1e-9)
    # a discrete model integrates the density over each level's bin: never more bits (Jensen)
    for model in ("mean image", "PCA-4"):
        assert t[(model, "discretised_gaussian")] < t[(model, "gaussian_shared")]
    # the per-pixel histogram against its own code lengths (add-1/2 smoothing), from the raw levels
    # (float32 dequantisation can move a rare pixel across a bin edge: hence rel=1e-4)
    lv_tr = np.rint(x_train.reshape(400, -1) * 255).astype(int)
    lv_te = np.rint(x_test.reshape(300, -1) * 255).astype(int)
    assert t[("mean image", "categorical")] == pytest.approx(
        np.mean([-np.log2(((lv_tr[:, j] == lv_te[:, j][:, None]).sum(axis=1) + 0.5) / (400 + 128)).mean()
                 for j in range(784)]), rel=1e-4)
    # a model of the ink fits better than the mean image under the same density
    assert t[("PCA-4", "gaussian_shared")] < t[("mean image", "gaussian_shared")]


def test_one_scale_bits_of_a_uniform_density_are_eight():
    assert float(analysis.bits_per_pixel(0.0)) == pytest.approx(8.0)
    rng = np.random.default_rng(1)
    uniform = (rng.integers(0, 256, (2000, 28, 28, 1)) / 255.0).astype(np.float32)
    from aecore.vae_runs import transform_targets

    t = analysis.one_scale_table(transform_targets(uniform[:1500], "dequantized", seed=0),
                                 transform_targets(uniform[1500:], "dequantized", seed=1), k=2)
    t = t.set_index(["model", "likelihood"])["bits"]
    assert t[("mean image", "categorical")] == pytest.approx(8.0, abs=0.35)  # smoothing over 256 levels
    with pytest.raises(ValueError, match="not a dequantised image set"):
        analysis.one_scale_table(uniform[:1500], uniform[1500:])  # raw levels include exact 0s


# --------------------------------------------------------------------------- first-layer gradients


def test_first_layer_gradient_norm_matches_a_finite_difference_and_vanishes_when_saturated():
    import tensorflow as tf

    from aecore import models

    rng = np.random.default_rng(0)
    x = (rng.random((64, 28, 28, 1)) < 0.3).astype(np.float32)
    model = models.build_model("dense_ae", seed=0)
    g = analysis.first_layer_gradient_norm(model, x, "bce", batch_size=64)
    # oracle: the directional derivative along the gradient's direction, by central differences
    kernel = model.encoder.layers[[getattr(l, "kernel", None) is not None for l in model.encoder.layers].index(True)].kernel
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(analysis.losses.get_loss("bce").nll_per_pixel(x, model(x, training=False)))
    direction = tape.gradient(loss, kernel).numpy()
    direction /= np.linalg.norm(direction)
    w0 = kernel.numpy().copy()

    def f(t):
        kernel.assign(w0 + t * direction)
        return float(tf.reduce_mean(analysis.losses.get_loss("bce").nll_per_pixel(x, model(x, training=False))))

    h = 0.05  # float32: a smaller step drowns in rounding
    fd = (f(h) - f(-h)) / (2 * h)
    kernel.assign(w0)
    assert g == pytest.approx(fd, rel=2e-2)
    # saturate the first layer (huge weights): sigmoid units pass ~no gradient
    kernel.assign(np.full_like(w0, 50.0))  # every image has ink: every unit's input is >= 50
    assert analysis.first_layer_gradient_norm(model, x, "bce") < 1e-3 * g
    np.testing.assert_array_equal(kernel.numpy(), np.full_like(w0, 50.0))  # not changed by measuring
