"""aecore.losses against independent oracles (SciPy densities, float64 NumPy formulas,
numerical integration) and against properties the maths guarantees."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from scipy import integrate, optimize, special, stats

from aecore import losses

RNG = np.random.default_rng(1234)


def _np(t):
    return np.asarray(t.numpy() if hasattr(t, "numpy") else t)


def _batch(shape=(4, 28, 28, 1)):
    x = RNG.uniform(0.0, 1.0, size=shape)
    logits = RNG.normal(0.0, 3.0, size=shape)
    return x, logits


# ----------------------------------------------------------------------------- oracles


def test_gaussian_matches_scipy_norm_logpdf():
    x, logits = _batch()
    for sigma in (0.1, 1.0, 2.5):
        ours = _np(losses.gaussian_nll(x, logits, sigma=sigma))
        oracle = -stats.norm.logpdf(x, loc=special.expit(logits), scale=sigma).sum(axis=(1, 2, 3))
        np.testing.assert_allclose(ours, oracle, rtol=1e-10)


def test_gaussian_sigma_one_is_half_sse_plus_constant():
    x, logits = _batch((3, 784))
    sse = ((x - special.expit(logits)) ** 2).sum(axis=1)
    expected = 0.5 * sse + 784 / 2 * np.log(2 * np.pi)
    np.testing.assert_allclose(_np(losses.gaussian_nll(x, logits, sigma=1.0)), expected, rtol=1e-12)


def test_bernoulli_matches_float64_cross_entropy_formula():
    x, logits = _batch()
    p = special.expit(logits)
    oracle = -(x * np.log(p) + (1 - x) * np.log1p(-p)).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(_np(losses.bernoulli_nll(x, logits)), oracle, rtol=1e-10)
    # and with scipy's Bernoulli pmf for binary targets
    xb = (x > 0.5).astype(float)
    oracle_b = -stats.bernoulli.logpmf(xb, p).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(_np(losses.bernoulli_nll(xb, logits)), oracle_b, rtol=1e-10)


def test_laplace_matches_scipy_laplace_logpdf():
    x, logits = _batch()
    for b in (0.05, 1.0):
        ours = _np(losses.laplace_nll(x, logits, scale=b))
        oracle = -stats.laplace.logpdf(x, loc=special.expit(logits), scale=b).sum(axis=(1, 2, 3))
        np.testing.assert_allclose(ours, oracle, rtol=1e-10)


def _cb_log_c_oracle(lam):
    """log C(lambda) straight from the paper's formula, float64, lambda != 0.5."""
    return np.log(2 * np.arctanh(1 - 2 * lam) / (1 - 2 * lam))


def test_cb_log_normalizer_matches_paper_formula():
    lam = np.array([1e-6, 0.01, 0.2, 0.45, 0.499, 0.501, 0.7, 0.99, 1 - 1e-6])
    ours = _np(losses.cb_log_normalizer(special.logit(lam)))
    np.testing.assert_allclose(ours, _cb_log_c_oracle(lam), rtol=1e-7)
    assert _np(losses.cb_log_normalizer(np.float64(0.0))) == pytest.approx(np.log(2.0), abs=1e-15)


@pytest.mark.parametrize("eta", [-30.0, -4.0, -0.3, -5e-3, 0.0, 1e-4, 0.009, 0.011, 2.0, 25.0])
def test_cb_density_integrates_to_one_and_mean_matches_integral(eta):
    def density(x):
        return float(np.exp(-_np(losses.continuous_bernoulli_pixel_nll(np.array([x]), np.array([eta])))[0]))

    total, _ = integrate.quad(density, 0.0, 1.0, limit=200, points=[0.5])
    assert total == pytest.approx(1.0, abs=1e-8)
    mean, _ = integrate.quad(lambda x: x * density(x), 0.0, 1.0, limit=200)
    assert _np(losses.cb_mean(np.float64(eta))) == pytest.approx(mean, abs=1e-8)


def test_cb_float32_is_accurate_and_continuous_across_series_cutoff():
    eta = np.float32(losses._CB_TAYLOR_CUTOFF)
    below = _np(losses.cb_log_normalizer(np.array([eta * 0.999], np.float32)))[0]
    above = _np(losses.cb_log_normalizer(np.array([eta * 1.001], np.float32)))[0]
    assert abs(below - above) < 1e-6
    lam = np.array([1e-4, 0.3, 0.5, 0.7, 1 - 1e-4])
    ours32 = _np(losses.cb_log_normalizer(special.logit(lam).astype(np.float32)))
    oracle = np.where(lam == 0.5, np.log(2), _cb_log_c_oracle(np.where(lam == 0.5, 0.4, lam)))
    np.testing.assert_allclose(ours32, oracle, rtol=1e-5)
    m_below = _np(losses.cb_mean(np.array([eta * 0.999], np.float32)))[0]
    m_above = _np(losses.cb_mean(np.array([eta * 1.001], np.float32)))[0]
    assert abs(m_below - m_above) < 1e-5


def test_cb_mean_is_not_lambda():
    # The mean of CB(lambda) is pulled toward 1/2: mu(0.9) ~ 0.79, a known property.
    lam = 0.9
    mu = _np(losses.cb_mean(np.float64(special.logit(lam))))
    closed = lam / (2 * lam - 1) + 1 / (2 * np.arctanh(1 - 2 * lam))
    assert mu == pytest.approx(closed, rel=1e-12)
    assert 0.5 < mu < lam


def test_kl_standard_normal_matches_closed_form_and_monte_carlo():
    m = RNG.normal(size=(5, 8))
    lv = RNG.normal(scale=0.5, size=(5, 8))
    s = np.exp(0.5 * lv)
    oracle = (np.log(1.0 / s) + (s ** 2 + m ** 2) / 2 - 0.5).sum(axis=1)
    np.testing.assert_allclose(_np(losses.kl_standard_normal(m, lv)), oracle, rtol=1e-12)
    # Monte Carlo estimate of E_q[log q - log p] for one example
    z = m[0] + s[0] * RNG.normal(size=(200_000, 8))
    mc = (stats.norm.logpdf(z, m[0], s[0]) - stats.norm.logpdf(z)).sum(axis=1).mean()
    assert _np(losses.kl_standard_normal(m[:1], lv[:1]))[0] == pytest.approx(mc, rel=0.02)
    assert _np(losses.kl_standard_normal(np.zeros((2, 3)), np.zeros((2, 3)))).tolist() == [0.0, 0.0]


# ----------------------------------------------------------------------------- properties


@pytest.mark.parametrize("target", [0.0, 0.1, 0.3, 0.5, 0.8, 1.0])
def test_bce_minimum_over_predictions_is_target_entropy(target):
    def f(logit):
        return float(_np(losses.bernoulli_pixel_nll(np.array([target]), np.array([logit])))[0])

    res = optimize.minimize_scalar(f, bounds=(-40, 40), method="bounded", options={"xatol": 1e-10})
    entropy = -special.xlogy(target, target) - special.xlogy(1 - target, 1 - target)
    assert res.fun == pytest.approx(entropy, abs=1e-8)
    assert _np(losses.bernoulli_entropy(np.array([target])))[0] == pytest.approx(entropy, abs=1e-12)
    if 0 < target < 1:
        assert special.expit(res.x) == pytest.approx(target, abs=1e-5)  # minimum sits at the target


def test_cb_gradient_finite_at_half_and_everywhere():
    eta = tf.constant([-60.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 60.0], tf.float32)
    x = tf.fill(eta.shape, 0.3)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(eta)
        nll = losses.continuous_bernoulli_pixel_nll(x, eta)
        mean = losses.cb_mean(eta)
    for y in (nll, mean):
        g = tape.gradient(y, eta).numpy()
        assert np.all(np.isfinite(g)), g
    # d log C / d eta = 0 at eta = 0 (log C is even in eta)
    with tf.GradientTape() as tape:
        e0 = tf.constant(0.0)
        tape.watch(e0)
        lc = losses.cb_log_normalizer(e0)
    assert abs(float(tape.gradient(lc, e0))) < 1e-7


@pytest.mark.parametrize("name", ["bernoulli", "continuous_bernoulli"])
def test_gradient_wrt_logits_matches_closed_form(name):
    # d BCE / d l = sigmoid(l) - x exactly, including at l = 0; CB adds -d log C / d l.
    l = tf.Variable(np.array([-30.0, -2.0, -1e-3, 0.0, 1e-3, 0.5, 3.0, 30.0]))
    x = np.full(8, 0.3)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(losses.get_loss(name).pixel_nll(x, l))
    grad = tape.gradient(y, l).numpy()
    expected = special.expit(l.numpy()) - x
    if name == "continuous_bernoulli":
        # C = eta / tanh(eta / 2)  =>  d log C / d eta = 1/eta - 1/sinh(eta); series near 0
        eta = l.numpy()
        safe = np.where(np.abs(eta) < 0.01, 1.0, eta)
        dlogc = np.where(np.abs(eta) < 0.01, eta / 6 - 7 * eta ** 3 / 360, 1 / safe - 1 / np.sinh(safe))
        expected = expected - dlogc
    np.testing.assert_allclose(grad, expected, atol=1e-6)


def test_bce_from_logits_stable_where_naive_probabilities_fail():
    logits = np.array([-200.0, -40.0, 40.0, 200.0], np.float32)
    x = np.array([1.0, 1.0, 0.0, 0.0], np.float32)  # maximally wrong predictions
    stable = _np(losses.bernoulli_pixel_nll(x, logits))
    np.testing.assert_allclose(stable, np.abs(logits), rtol=1e-6)  # BCE -> |logit| when wrong
    naive = _np(losses.bernoulli_pixel_nll_naive(x, tf.sigmoid(logits)))
    assert not np.all(np.isfinite(naive))


# The likelihoods that score without a model (the VAE-only Gaussians need the model's sigma).
STANDALONE = [name for name, lik in losses.LOSSES.items() if not lik.needs_model_sigma]


def test_shapes_and_units():
    x, logits = _batch((6, 28, 28, 1))
    for name in STANDALONE:
        lik = losses.LOSSES[name]
        per_image = _np(lik.nll(x, logits))
        per_pixel = _np(lik.nll_per_pixel(x, logits))
        assert per_image.shape == (6,), name
        np.testing.assert_allclose(per_pixel * 784, per_image, rtol=1e-10, err_msg=name)
        assert _np(lik.pixel_nll(x, logits)).shape == x.shape
    assert losses.gaussian_nll(x.astype(np.float32), logits.astype(np.float32)).dtype == tf.float32


def test_likelihoods_are_minimised_at_their_mean():
    # For binary targets each NLL decreases as the prediction moves toward the target.
    x = np.array([[1.0, 0.0]])
    for name in STANDALONE:
        lik = losses.LOSSES[name]
        good = _np(lik.nll(x, np.array([[3.0, -3.0]])))[0]
        bad = _np(lik.nll(x, np.array([[-3.0, 3.0]])))[0]
        assert good < bad, name


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("name", ["bernoulli", "continuous_bernoulli"])
def test_targets_outside_unit_interval_raise_with_range(name):
    x = np.array([[0.0, 255.0]], np.float32)
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        losses.get_loss(name).nll(x, np.zeros_like(x))


def test_gaussian_accepts_any_real_targets():
    losses.get_loss("mse").nll(np.array([[-1.0, 2.0]]), np.zeros((1, 2)))


@pytest.mark.parametrize("name", STANDALONE)
def test_nan_inputs_raise(name):
    x = np.array([[0.5, np.nan]], np.float32)
    with pytest.raises(ValueError, match="NaN"):
        losses.get_loss(name).nll(x, np.zeros_like(x))
    with pytest.raises(ValueError, match="NaN"):
        losses.get_loss(name).nll(np.zeros((1, 2)), np.array([[0.0, np.nan]]))


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape"):
        losses.bernoulli_nll(np.zeros((2, 784)), np.zeros((2, 28, 28, 1)))


def test_registry_names_and_aliases():
    assert losses.get_loss("MSE") is losses.LOSSES["gaussian"]
    assert losses.get_loss("bce") is losses.LOSSES["bernoulli"]
    assert losses.get_loss("cb") is losses.LOSSES["continuous_bernoulli"]
    assert losses.get_loss("mae") is losses.LOSSES["laplace"]
    assert losses.get_loss("sigma_vae") is losses.LOSSES["gaussian_optimal"]


@pytest.mark.parametrize("name", ["gaussian_learned", "gaussian_optimal"])
def test_a_vae_only_gaussian_says_it_needs_a_model_sigma(name):
    lik = losses.get_loss(name)
    assert lik.needs_model_sigma
    with pytest.raises(ValueError, match="only a VAE decoder has.*use the 'gaussian' likelihood"):
        lik.nll(np.zeros((1, 4)), np.zeros((1, 4)))
    with pytest.raises(ValueError, match="only a VAE decoder has"):
        from aecore.experiments import Config
        Config(dataset="mnist", model="conv_ae", loss=name)


def test_one_registry_serves_autoencoders_and_vae_decoders():
    from aecore import vae

    assert all(vae.DECODERS[name] is losses.LOSSES[name] for name in vae.DECODERS)
    assert vae.get_decoder("sigma_vae") is losses.LOSSES["gaussian_optimal"]
    with pytest.raises(ValueError, match="unknown decoder 'mae'"):
        vae.get_decoder("mae")  # a likelihood, but not one the book's VAEs decode with


def test_a_model_sigma_gaussian_is_the_fixed_gaussian_at_that_sigma():
    # Oracle: the fixed-sigma formula of the autoencoders' Gaussian at the same sigma.
    x, logits = _batch((3, 28, 28, 1))
    for sigma in (0.3, 1.0, 2.5):
        got = losses.gaussian_pixel_nll_log_sigma(tf.constant(x), tf.constant(logits),
                                                  tf.constant(np.log(sigma), tf.float64))
        np.testing.assert_allclose(_np(got), _np(losses.gaussian_pixel_nll(x, logits, sigma=sigma)), rtol=1e-10)
    with pytest.raises(ValueError, match="valid names: gaussian"):
        losses.get_loss("hinge")


def test_bad_scale_parameters_raise():
    with pytest.raises(ValueError, match="sigma"):
        losses.gaussian_nll(np.zeros((1, 2)), np.zeros((1, 2)), sigma=0.0)
    with pytest.raises(ValueError, match="scale"):
        losses.laplace_nll(np.zeros((1, 2)), np.zeros((1, 2)), scale=-1.0)


def test_works_inside_tf_function():
    lik = losses.get_loss("cb")

    @tf.function
    def step(x, logits):
        return tf.reduce_mean(lik.nll(x, logits))

    x, logits = _batch((2, 10))
    eager = float(tf.reduce_mean(lik.nll(x.astype(np.float32), logits.astype(np.float32))))
    assert float(step(x.astype(np.float32), logits.astype(np.float32))) == pytest.approx(eager, rel=1e-6)


# --------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize("name", ["gaussian", "bernoulli", "continuous_bernoulli", "laplace"])
def test_infinite_logits_or_targets_are_refused_not_turned_into_nan(name):
    x = np.full((2, 4), 0.5, np.float32)
    logits = np.zeros((2, 4), np.float32)
    logits[0, 1] = np.inf
    with pytest.raises(ValueError, match=r"1 NaN or infinite value\(s\) in the logits"):
        losses.get_loss(name).nll(x, logits)
    x_bad = x.copy()
    x_bad[1, 2] = -np.inf
    with pytest.raises(ValueError, match=r"NaN or infinite value\(s\) in the targets"):
        losses.get_loss(name).nll(x_bad, np.zeros((2, 4), np.float32))


@pytest.mark.parametrize("method", ["nll", "nll_per_pixel"])
def test_a_flat_vector_is_not_scored_as_784_images(method):
    x = np.full(784, 0.5, np.float32)
    with pytest.raises(ValueError, match=r"need a batch \[B, \.\.\.\], got 1-D input; .*x\[None\]"):
        getattr(losses.get_loss("bernoulli"), method)(x, np.zeros(784, np.float32))
    assert losses.get_loss("bernoulli").nll(x[None], np.zeros((1, 784), np.float32)).shape == (1,)


def test_kl_refuses_infinite_log_variance_and_unbatched_codes():
    with pytest.raises(ValueError, match="NaN or infinite values in z_mean or z_log_var"):
        losses.kl_standard_normal(np.zeros((1, 2), np.float32), np.array([[0.0, np.inf]], np.float32))
    with pytest.raises(ValueError, match=r"expected a batch \[B, latent_dim\]"):
        losses.kl_standard_normal(np.zeros(2, np.float32), np.zeros(2, np.float32))


# --------------------------------------------------------------------------- MSE controls, MAE without a sigmoid


def test_mse_controls_of_the_mistakes_match_their_formulas():
    # Independent oracle: the Gaussian log-density of SciPy at the mean the mistake produces.
    rng = np.random.default_rng(3)
    x = rng.random((4, 6))
    logits = rng.normal(0, 4, (4, 6))
    y = special.expit(logits)
    np.testing.assert_allclose(_np(losses.get_loss("mse_on_probabilities").pixel_nll(x, logits)),
                               -stats.norm.logpdf(x, loc=special.expit(y), scale=1.0), rtol=1e-10)
    np.testing.assert_allclose(_np(losses.get_loss("mse_targets_0_255").pixel_nll(x, logits)),
                               -stats.norm.logpdf(255.0 * x, loc=y, scale=1.0), rtol=1e-10)
    assert {"mse_on_probabilities", "mse_targets_0_255"} <= set(losses.MISTAKES)


def test_the_double_sigmoid_pushes_dark_targets_to_black_with_mse_too():
    # What the loss sees lies in (1/2, sigmoid(1)): for a target below 1/2 the NLL keeps falling as
    # the displayed output goes to 0, with MSE as with BCE.
    l = np.linspace(-12, 12, 241)[None]
    for name in ("mse_on_probabilities", "bce_on_probabilities"):
        nll = _np(losses.get_loss(name).pixel_nll(np.full_like(l, 0.2), l))[0]
        assert np.all(np.diff(nll) > 0), name


def test_laplace_identity_is_mae_on_the_output_and_its_gradient_never_vanishes():
    rng = np.random.default_rng(4)
    x = rng.random((3, 5))
    out = rng.normal(0.5, 1.0, (3, 5))
    np.testing.assert_allclose(_np(losses.get_loss("laplace_identity").pixel_nll(x, out)),
                               -stats.laplace.logpdf(x, loc=out, scale=1.0), rtol=1e-10)
    # at outputs far past either end the gradient is still +-1 (through a sigmoid it is ~0)
    l = tf.Variable(np.array([[-30.0, -8.0, 8.0, 30.0]]))
    x = np.array([[1.0, 1.0, 0.0, 0.0]])
    for name, big in (("laplace_identity", True), ("laplace", False)):
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(losses.get_loss(name).pixel_nll(x, l))
        g = np.abs(tape.gradient(y, l).numpy())
        assert (g.min() == 1.0) if big else (g.max() < 1e-3), (name, g)
    np.testing.assert_array_equal(_np(losses.clip_unit(np.array([-0.5, 0.25, 1.5]))), [0.0, 0.25, 1.0])
