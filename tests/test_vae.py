"""aecore.vae, aecore.vae_runs and aecore.keras_vae: checked against closed forms and SciPy."""

from __future__ import annotations

import math
import types

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from scipy import integrate, stats

import aecore
from aecore import cache, keras_vae, losses, vae
from aecore.studies import vae_study
from aecore import vae_runs as vr


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 28, 28, 1), dtype=np.float32)


# --------------------------------------------------------------------------- pieces against oracles


@pytest.mark.parametrize("m,lv", [(0.0, 0.0), (1.5, -1.0), (-0.7, 0.8)])
def test_kl_per_dim_matches_numerical_integration(m, lv):
    s = math.exp(0.5 * lv)
    q, p = stats.norm(m, s), stats.norm(0.0, 1.0)
    expected, _ = integrate.quad(lambda z: q.pdf(z) * (q.logpdf(z) - p.logpdf(z)), -30, 30)
    got = float(vae.kl_per_dim(tf.constant([[m]]), tf.constant([[lv]]))[0, 0])
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_kl_per_dim_sums_to_the_losses_kl():
    rng = np.random.default_rng(1)
    m, lv = rng.normal(size=(5, 7)).astype(np.float32), rng.normal(size=(5, 7)).astype(np.float32)
    np.testing.assert_allclose(vae.kl_per_dim(m, lv).numpy().sum(axis=1),
                               losses.kl_standard_normal(m, lv).numpy(), rtol=1e-6)


def test_gaussian_pixel_nll_is_scipys_normal_density():
    rng = np.random.default_rng(2)
    x, logits = rng.random(50).astype(np.float32), rng.normal(size=50).astype(np.float32)
    log_sigma = -1.3
    expected = -stats.norm(1 / (1 + np.exp(-logits.astype(np.float64))), math.exp(log_sigma)).logpdf(x)
    got = losses.gaussian_pixel_nll_log_sigma(tf.constant(x), tf.constant(logits), tf.constant(log_sigma)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_optimal_log_sigma_maximises_the_gaussian_likelihood():
    rng = np.random.default_rng(3)
    x = tf.constant(rng.random((4, 28, 28, 1), dtype=np.float32))
    logits = tf.constant(rng.normal(size=(4, 28, 28, 1)).astype(np.float32))
    best = losses.optimal_log_sigma(x, logits)
    nll = lambda ls: float(tf.reduce_sum(losses.gaussian_pixel_nll_log_sigma(x, logits, tf.constant(ls))))  # noqa: E731
    assert nll(float(best)) < nll(float(best) + 0.05)
    assert nll(float(best)) < nll(float(best) - 0.05)


# --------------------------------------------------------------------------- the objective


def _terms(b: int = 6, latent: int = 4, seed: int = 0) -> vae.Terms:
    rng = np.random.default_rng(seed)
    return vae.Terms(tf.constant(rng.random(b, dtype=np.float32) * 500),
                     tf.constant(rng.random((b, latent), dtype=np.float32)), tf.constant(0.0))


def test_mean_reduction_is_a_hidden_beta_of_784():
    terms = _terms()
    mean = vae.Objective(recon_reduction="mean").loss(terms, tf.constant(1.0))
    summed = vae.Objective().loss(terms, tf.constant(784.0))
    assert float(mean) * 784 == pytest.approx(float(summed), rel=1e-6)
    assert vae.effective_beta(1.0, "mean") == 784.0
    assert vae.effective_beta(2.0, "sum") == 2.0


def test_free_bits_floor_each_dimensions_batch_mean():
    terms = _terms(latent=3)
    obj = vae.Objective(free_bits=5.0)  # every dimension's KL (< 1 nat) is below the floor
    expected = float(tf.reduce_mean(terms.recon)) + 2.0 * 3 * 5.0
    assert float(obj.loss(terms, tf.constant(2.0))) == pytest.approx(expected, rel=1e-6)
    kl = tf.Variable(terms.kl_per_dim)
    with tf.GradientTape() as tape:
        loss = obj.loss(vae.Terms(terms.recon, kl, terms.log_sigma), tf.constant(1.0))
    assert np.all(tape.gradient(loss, kl).numpy() == 0.0)  # below the floor: no push toward the prior


def test_schedules():
    lin = vae.Objective(beta=2.0, schedule="linear", warmup_epochs=2)
    assert lin.beta_at(0, 10, 100) == 0.0
    assert lin.beta_at(10, 10, 100) == pytest.approx(1.0)
    assert lin.beta_at(20, 10, 100) == 2.0 and lin.beta_at(99, 10, 100) == 2.0
    cyc = vae.Objective(beta=1.0, schedule="cyclical", n_cycles=4)
    assert cyc.beta_at(0, 10, 100) == 0.0 and cyc.beta_at(25, 10, 100) == 0.0  # each cycle restarts
    assert cyc.beta_at(10, 10, 100) == pytest.approx(0.8)
    assert cyc.beta_at(20, 10, 100) == 1.0  # second half of a cycle: the full beta
    assert vae.Objective(beta=3.0).beta_at(5, 10, 100) == 3.0


@pytest.mark.parametrize("kwargs,needle", [
    (dict(beta=-1.0), "beta must be"),
    (dict(schedule="warm"), "unknown KL schedule"),
    (dict(schedule="linear"), "warmup_epochs >= 1"),
    (dict(free_bits=-0.1), "free_bits"),
    (dict(recon_reduction="avg"), "recon_reduction"),
])
def test_bad_objectives_say_what_is_wrong(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        vae.Objective(**kwargs)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(latent_dim=0), "latent_dim"),
    (dict(decoder="poisson"), "unknown decoder"),
    (dict(architecture="rnn"), "unknown architecture"),
    (dict(sigma=0.0), "sigma"),
])
def test_bad_models_say_what_is_wrong(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        vae.build_vae(**kwargs)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(beta=-0.5), "beta must be"),
    (dict(latent_dim=0), "latent_dim"),
    (dict(decoder="laplace"), "unknown decoder"),
    (dict(model="keras_example", latent_dim=8), "keras example is fixed"),
    (dict(targets="jittered"), "unknown targets='jittered'; valid: None, 'clipped', 'dequantized'"),
    (dict(targets="clipped", binarize="dynamic"), "use one or the other"),
    (dict(objective={"beta": 2.0, "bta": 1.0}), r"unknown objective field\(s\) \['bta'\]; valid: beta, schedule"),
    (dict(objective=2.0), "objective must be an aecore.vae.Objective"),
    (dict(objective=vae.Objective(), schedule="linear"), "a linear schedule needs warmup_epochs >= 1"),
    (dict(model="keras_example", architecture="conv", encoder_hidden=(16,), latent_dim=2, free_bits=0.5),
     r"keras example is fixed.*changes \{'free_bits': 0.5\}"),
])
def test_bad_configs_say_what_is_wrong(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        vr.VAEConfig(**kwargs)


def test_the_config_holds_its_objective_once_and_takes_its_fields_by_name():
    """One objective type: the config holds a vae.Objective; its fields given by name (to the
    constructor, replace, from_profile) land in it and keep its other fields; config.json's dict
    reads back equal; equal objectives give one cache key. Oracle: vae.Objective built directly."""
    import dataclasses
    import json

    names = {f.name for f in dataclasses.fields(vr.VAEConfig)}
    assert "objective" in names and not names & {f.name for f in dataclasses.fields(vae.Objective)}
    cfg = vr.VAEConfig(beta=10, recon_reduction="mean")
    assert cfg.objective == vae.Objective(beta=10.0, recon_reduction="mean")
    assert type(cfg.objective.beta) is float and type(cfg.objective.free_bits) is float
    warm = cfg.replace(schedule="linear", warmup_epochs=3)
    assert warm.objective == vae.Objective(beta=10.0, schedule="linear", warmup_epochs=3, recon_reduction="mean")
    assert cfg.replace(decoder="gaussian").objective == cfg.objective  # other changes keep it as it is
    nested = vr.VAEConfig(objective=vae.Objective(free_bits=0.5), beta=2.0)  # both: by name wins, rest kept
    assert nested.objective == vae.Objective(beta=2.0, free_bits=0.5)
    assert vr.VAEConfig.from_profile("fast", free_bits=1).objective == vae.Objective(free_bits=1.0)
    stored = json.loads(json.dumps(warm.to_dict()))
    assert stored["objective"] == {"beta": 10.0, "schedule": "linear", "warmup_epochs": 3, "n_cycles": 4,
                                   "free_bits": 0.0, "recon_reduction": "mean"}
    assert vr.VAEConfig(**stored) == warm
    assert vr.VAEConfig(beta=10).cache_key() == vr.VAEConfig(objective=vae.Objective(beta=10.0)).cache_key()
    assert vr.VAEConfig(beta=10).cache_key() != vr.VAEConfig(beta=10, free_bits=0.25).cache_key()
    assert warm.setting_label().endswith("beta=10 warm-up 3 ep recon mean (Keras)")
    row = warm.table_row(vr.Result(config=warm, history=None, model=None, from_cache=True,
                                   metrics={"kl_per_dim": [0.0]}))
    assert (row["beta"], row["schedule"], row["warmup_epochs"], row["recon_reduction"]) == (10.0, "linear", 3, "mean")
    assert "objective" not in row


# --------------------------------------------------------------------------- IWAE against a closed form


class _LinearGaussian:
    """p(z) = N(0, I), p(x|z) = N(W z + b, s^2 I): log p(x) is a closed-form Gaussian."""

    def __init__(self, latent: int = 2, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.w = rng.normal(size=(latent, 784)).astype(np.float32) * 0.3
        self.b = rng.random(784).astype(np.float32)
        self.log_sigma = tf.constant(math.log(0.5))
        s2 = 0.25
        self.obs = types.SimpleNamespace(pixel_nll_given_log_sigma=lambda x, mean, ls: (
            0.5 * tf.square(x - mean) * tf.exp(-2.0 * ls) + ls + 0.5 * math.log(2 * math.pi)))
        # Exact posterior: precision I + W W^T / s^2, mean Sigma W (x - b) / s^2.
        self.post_cov = np.linalg.inv(np.eye(latent) + self.w @ self.w.T / s2)
        self.s2 = s2
        self.exact = True

    def posterior(self, x, training=False):
        flat = tf.reshape(x, [-1, 784]) - self.b
        if not self.exact:  # the prior as a (poor) proposal
            zeros = tf.zeros([tf.shape(flat)[0], self.w.shape[0]])
            return vae.Posterior(zeros, zeros)
        mean = tf.matmul(flat, self.w.T @ self.post_cov / self.s2)
        # Exact posterior covariance is not diagonal in general; make W's rows orthogonal so it is.
        lv = tf.math.log(tf.constant(np.diag(self.post_cov), tf.float32))
        return vae.Posterior(mean, tf.broadcast_to(lv, tf.shape(mean)))

    def decode(self, z, training=False):
        return tf.reshape(tf.matmul(z, self.w) + self.b, [-1, 28, 28, 1])

    def log_px(self, x):
        cov = self.w.T.astype(np.float64) @ self.w + self.s2 * np.eye(784)
        return stats.multivariate_normal(self.b, cov).logpdf(x.reshape(len(x), 784))


def _orthogonal_model() -> _LinearGaussian:
    model = _LinearGaussian()
    q, _ = np.linalg.qr(np.random.default_rng(5).normal(size=(784, 2)))
    model.w = (q.T * np.array([[3.0], [1.5]])).astype(np.float32)  # orthogonal rows: diagonal posterior
    model.post_cov = np.linalg.inv(np.eye(2) + model.w.astype(np.float64) @ model.w.T / model.s2)
    return model


def test_iwae_with_the_exact_posterior_is_log_px():
    model = _orthogonal_model()
    x = (np.random.default_rng(6).random((8, 28, 28, 1)) * 0.5 + 0.2).astype(np.float32)
    bound = vae.iwae_bound(model, x, k=5)
    np.testing.assert_allclose(bound, model.log_px(x), rtol=0, atol=0.05)


def test_iwae_tightens_with_k_and_stays_below_log_px():
    model = _orthogonal_model()
    model.exact = False
    x = (np.random.default_rng(7).random((8, 28, 28, 1)) * 0.5 + 0.2).astype(np.float32)
    truth = model.log_px(x)
    b1 = vae.iwae_bound(model, x, k=1).mean()
    b500 = vae.iwae_bound(model, x, k=500).mean()
    assert b1 < b500 <= truth.mean() + 0.5
    assert truth.mean() - b500 < truth.mean() - b1


# --------------------------------------------------------------------------- fitting


def test_fit_logs_terms_that_add_up_and_repeats_exactly():
    x = _images(96)
    runs = []
    for _ in range(2):
        model = vae.build_vae(encoder_hidden=(32,), latent_dim=3, seed=0)
        runs.append(vae.fit(model, x, x_val=x[:32], epochs=2, batch_size=32, seed=1, progress=False))
    h, steps = runs[0]
    assert list(h.columns[:6]) == ["epoch", "beta", "loss", "recon", "kl", "neg_elbo"]
    np.testing.assert_allclose(h["neg_elbo"], h["recon"] + h["kl"])
    np.testing.assert_allclose(h["loss"], h["neg_elbo"], rtol=1e-5)  # beta 1, sum: loss = -ELBO
    assert len(steps) == 2 * 3 and list(steps["step"]) == list(range(6))
    # the epoch means are the (size-weighted) means of the step logs
    np.testing.assert_allclose(steps.groupby("epoch")["recon"].mean().to_numpy(), h["recon"], rtol=1e-6)
    assert runs[0].epochs.drop(columns="seconds").equals(runs[1].epochs.drop(columns="seconds"))


@pytest.mark.parametrize("decoder, binarize, objective", [
    ("gaussian_optimal", None, vae.Objective(beta=2.0, schedule="linear", warmup_epochs=2)),
    ("bernoulli", "dynamic", vae.Objective(free_bits=0.5, schedule="cyclical", n_cycles=2)),
])
def test_steps_per_call_gives_the_reference_loops_exact_logs_and_weights(decoder, binarize, objective):
    # 70 images, batch 16: 4 full mini-batches and a last one of 6, so steps_per_call=3 runs
    # a call of 3 steps, a call of 1, then the short batch; beta changes from step to step.
    x = _images(70)

    def run(steps_per_call):
        model = vae.build_vae(encoder_hidden=(16,), latent_dim=3, decoder=decoder, seed=0)
        hist = vae.fit(model, x, objective=objective, x_val=x[:20], epochs=3, batch_size=16, seed=4,
                       binarize=binarize, progress=False, steps_per_call=steps_per_call)
        return hist, [w.copy() for w in model.get_weights()], float(model.log_sigma.numpy())

    ref_hist, ref_weights, ref_sigma = run(1)
    assert ref_hist.steps["beta"].nunique() > 1
    for steps_per_call in (None, 3):
        hist, weights, sigma = run(steps_per_call)
        pd.testing.assert_frame_equal(hist.steps, ref_hist.steps)  # exact: no tolerance
        pd.testing.assert_frame_equal(hist.epochs.drop(columns="seconds"),
                                      ref_hist.epochs.drop(columns="seconds"))
        assert sigma == ref_sigma
        for w, r in zip(weights, ref_weights, strict=True):
            np.testing.assert_array_equal(w, r)


def test_fit_steps_per_call_must_be_positive():
    model = vae.build_vae(encoder_hidden=(8,), latent_dim=2, seed=0)
    with pytest.raises(ValueError, match="steps_per_call"):
        vae.fit(model, _images(32), epochs=1, progress=False, steps_per_call=0)


def test_fit_names_the_step_where_it_diverged():
    model = vae.build_vae(encoder_hidden=(8,), latent_dim=2, seed=0)
    bias = model.encoder.get_layer("q_stats").bias  # no ReLU after it (oneDNN's relu maps NaN to 0)
    bias.assign(tf.fill(bias.shape, float("nan")))
    with pytest.raises(vae.TrainingDivergedError, match=r"step 0 \(epoch 1/1\)"):
        vae.fit(model, _images(64), epochs=1, batch_size=32, progress=False)


def test_learned_sigma_is_trained_and_optimal_sigma_tracks_the_error():
    x = _images(128)
    learned = vae.build_vae(encoder_hidden=(16,), latent_dim=2, decoder="gaussian_learned", seed=0)
    assert any(v is learned.log_sigma for v in learned.trainable_variables)
    vae.fit(learned, x, epochs=1, batch_size=32, progress=False)
    assert float(learned.log_sigma.numpy()) != 0.0
    optimal = vae.build_vae(encoder_hidden=(16,), latent_dim=2, decoder="gaussian_optimal", seed=0)
    assert not any(v is optimal.log_sigma for v in optimal.trainable_variables)
    vae.fit(optimal, x, epochs=2, batch_size=32, progress=False)
    rmse = math.sqrt(float(np.mean((vae.reconstruct(optimal, x) - x) ** 2)))
    assert float(optimal.log_sigma.numpy()) == pytest.approx(math.log(rmse), abs=0.3)


def test_a_learned_sigma_reaches_the_error_it_models():
    """The maximum-likelihood sigma of a Gaussian decoder is its RMSE (the oracle, computed here
    from the reconstructions): in a short run the learned sigma must get there, not sit on its way
    down from the configured sigma = 1 (issue 21 item 13: it ended at twice its RMSE)."""
    x = _images(256)
    model = vae.build_vae(encoder_hidden=(32,), latent_dim=4, decoder="gaussian_learned", sigma=1.0, seed=0)
    history = vae.fit(model, x, epochs=8, batch_size=32, progress=False)  # 64 steps
    rmse = math.sqrt(float(np.mean((vae.reconstruct(model, x) - x) ** 2)))
    sigma = math.exp(float(model.log_sigma.numpy()))
    assert sigma == pytest.approx(rmse, rel=0.3), (sigma, rmse, np.exp(history.epochs["log_sigma"]).round(3).tolist())


def test_active_units():
    z = np.zeros((100, 3))
    z[:, 1] = np.random.default_rng(0).normal(size=100)
    z[:, 2] = 0.05 * np.random.default_rng(1).normal(size=100)  # variance 0.0025 < 0.01
    assert vae.active_units(z) == 1
    with pytest.raises(ValueError, match="posterior means"):
        vae.active_units(np.zeros(5))


# --------------------------------------------------------------------------- cached runs


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path))
    return vr.VAEConfig(encoder_hidden=(16,), latent_dim=2, n_train=64, n_test=40, n_val=20, epochs=1,
                        batch_size=32)


def test_from_profile_takes_the_validation_size(monkeypatch):
    monkeypatch.delenv("AECORE_PROFILE", raising=False)
    fast = aecore.PROFILES["fast"]
    assert vr.VAEConfig.from_profile(fast).n_val == fast.n_val
    assert vr.VAEConfig.from_profile(fast, n_val=3).n_val == 3
    assert vr.VAEConfig.from_profile("full") == vr.VAEConfig()  # full: the defaults, keys unchanged


def test_cache_keys_name_the_training_program(monkeypatch):
    ours = vr.VAEConfig(n_train=64, n_test=64, epochs=1)
    keras_example = ours.replace(model="keras_example", architecture="conv", encoder_hidden=(16,), latent_dim=2)
    before = ours.cache_key(), keras_example.cache_key()
    monkeypatch.setattr(vae, "FIT_PROGRAM", vae.FIT_PROGRAM + 1)
    assert ours.cache_key() != before[0]  # vae.fit's runs are retrained after a change of program
    assert keras_example.cache_key() == before[1]  # the Keras example trains with its own fit


def test_run_is_cached_and_verified(tiny, tmp_path):
    first = vr.run(tiny, progress=False)
    assert not first.from_cache and first.path is not None
    second = vr.run(tiny, progress=False)
    assert second.from_cache and second.metrics == first.metrics
    np.testing.assert_array_equal(vae.reconstruct(second.model, np.zeros((2, 28, 28, 1), np.float32)),
                                  vae.reconstruct(first.model, np.zeros((2, 28, 28, 1), np.float32)))
    (first.path / "model.weights.h5").write_bytes(b"truncated")
    with pytest.warns(cache.CacheWarning, match="checksum"):
        third = vr.run(tiny, progress=False)
    assert not third.from_cache and third.metrics["neg_elbo"] == first.metrics["neg_elbo"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


def test_validation_size_changes_nothing_that_is_trained(tiny):
    # The per-epoch validation draws its posterior samples statelessly from its own seeds.
    runs = [vr.run(tiny.replace(n_val=n_val, epochs=2), progress=False) for n_val in (20, 5, 0)]
    for other in runs[1:]:
        pd.testing.assert_frame_equal(other.steps, runs[0].steps, check_exact=True)
        pd.testing.assert_series_equal(other.history["loss"], runs[0].history["loss"], check_exact=True)
        for a, b in zip(other.model.get_weights(), runs[0].model.get_weights()):
            np.testing.assert_array_equal(a, b)
    assert runs[0].history["val_neg_elbo"].notna().all()
    assert runs[2].history.get("val_neg_elbo", pd.Series(dtype=float)).isna().all()  # no validation


def test_reading_without_the_model_builds_none_and_still_verifies(tiny, monkeypatch):
    first = vr.run(tiny, progress=False)

    def no_model(cfg):
        raise AssertionError("a model was built")

    with monkeypatch.context() as m:
        m.setattr(vr, "_build", no_model)
        hit = vr.run(tiny, progress=False, load_model=False)
        table = vr.sweep([tiny], progress=False)  # sweeps need only metrics
    assert hit.from_cache and hit.model is None and hit.metrics == first.metrics
    assert table["from_cache"].tolist() == [True] and table.loc[0, "neg_elbo"] == first.metrics["neg_elbo"]
    (first.path / "model.weights.h5").write_bytes(b"truncated")  # still checksummed when not loaded
    with pytest.warns(cache.CacheWarning, match="checksum"):
        again = vr.run(tiny, progress=False, load_model=False)
    assert not again.from_cache and again.model is not None


def test_a_sweep_prints_only_the_runs_it_trains(tiny, capsys):
    first = vr.run(tiny, progress=False)
    capsys.readouterr()
    table = vr.sweep([tiny])  # read from the cache: nothing to say, the table says it
    assert table["from_cache"].tolist() == [True] and capsys.readouterr().out == ""
    (first.path / "model.weights.h5").write_bytes(b"truncated")
    with pytest.warns(cache.CacheWarning, match="checksum"):
        table = vr.sweep([tiny])
    assert table["from_cache"].tolist() == [False]
    assert f"{tiny.label()}: training {tiny.epochs} epoch(s)" in capsys.readouterr().out


def test_a_diverged_run_writes_no_entry(tiny, tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise vae.TrainingDivergedError("VAE training diverged at step 3")

    monkeypatch.setattr(vae, "fit", boom)
    with pytest.raises(vae.TrainingDivergedError, match="step 3"):
        vr.run(tiny, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == [cache.KEY_FILE]  # the cache's key, no entry


def test_the_keras_example_runs_through_the_cache(tiny):
    cfg = tiny.replace(model="keras_example", architecture="conv", latent_dim=2, binarize="dynamic", batch_size=128)
    first = vr.run(cfg, progress=False)
    second = vr.run(cfg, progress=False)
    assert second.from_cache and second.metrics == first.metrics


def test_only_decoders_with_a_sigma_report_one(tiny):
    # A Bernoulli decoder has no sigma; its model still holds the config's unused sigma.
    bernoulli, gaussian = tiny.replace(sigma=0.5), tiny.replace(decoder="gaussian", sigma=0.5)
    assert "log_sigma" not in vr.run(bernoulli, progress=False).metrics
    assert "log_sigma" not in vr.run(bernoulli.replace(seed=1), progress=False).metrics
    assert vr.run(gaussian, progress=False).metrics["log_sigma"] == pytest.approx(math.log(0.5))
    table = vr.sweep([bernoulli, bernoulli.replace(seed=1), gaussian], progress=False)
    assert table["from_cache"].all()
    assert table["log_sigma"].isna().tolist() == [True, True, False]


def test_sweep_table_and_labels(tiny):
    table = vr.sweep(vr.runs([tiny, tiny.replace(recon_reduction="mean")], seeds=[0, 1]), progress=False)
    assert len(table) == 4
    assert table["setting"].nunique() == 2 and "recon mean (Keras)" in table["setting"].iloc[2]
    assert list(table["effective_beta"]) == [1.0, 1.0, 784.0, 784.0]
    stats_ = vae_study.summarize(table, ["neg_elbo"])
    assert list(stats_[("neg_elbo", "count")]) == [2, 2]


# --------------------------------------------------------------------------- the keras example


def test_keras_example_loss_is_our_bernoulli_path():
    aecore.set_seed(0)
    model = keras_vae.KerasExampleVAE(latent_dim=2, seed=0)
    x = (np.random.default_rng(0).random((4, 28, 28, 1)) < 0.3).astype(np.float32)
    z = tf.constant(np.random.default_rng(1).normal(size=(4, 2)).astype(np.float32))
    import keras

    theirs = keras.ops.sum(keras.losses.binary_crossentropy(x, model.decoder(z)), axis=(1, 2)).numpy()
    ours = tf.reduce_sum(model.obs.pixel_nll_given_log_sigma(x, model.decode(z), model.log_sigma), axis=[1, 2, 3]).numpy()
    np.testing.assert_allclose(theirs, ours, rtol=1e-4)


def test_keras_example_trains_and_is_scored_by_our_code():
    x = (np.random.default_rng(0).random((64, 28, 28, 1)) * 0.8).astype(np.float32)
    model, history = keras_vae.train(x, epochs=1, seed=0, progress=False)
    assert {"loss", "reconstruction_loss", "kl_loss"} <= set(history.columns)
    scores = vr.evaluate(model, (x > 0.4).astype(np.float32), iwae_k=3, n_iwae=8)
    assert scores["latent_dim"] == 2 and math.isfinite(scores["iwae_nll"])
    assert scores["iwae_nll"] <= scores["neg_elbo_iwae_subset"] + 5.0  # the bound is tighter (noisy)


@pytest.mark.parametrize("x, message", [
    (np.full((4, 784), 0.5, np.float32), r"x_train must be a non-empty batch of images \[N, 28, 28, 1\].*flat vectors"),
    (np.full((4, 28, 28, 1), 255, np.uint8), r"x_train must lie in \[0, 1\].*divide by 255"),
])
def test_vae_fit_refuses_flat_or_unscaled_images(x, message):
    model = vae.build_vae(encoder_hidden=(8,), latent_dim=2, seed=0)
    with pytest.raises(ValueError, match=message):
        vae.fit(model, x, epochs=1, batch_size=2, progress=False)


def test_vae_fit_names_a_wrong_objective_type():
    model = vae.build_vae(encoder_hidden=(8,), latent_dim=2, seed=0)
    with pytest.raises(TypeError, match=r"objective must be an aecore.vae.Objective.*got dict"):
        vae.fit(model, np.full((4, 28, 28, 1), 0.5, np.float32), objective={"beta": 2.0}, epochs=1, batch_size=2,
                progress=False)


def test_objective_takes_numpy_numbers_and_refuses_bools():
    o = vae.Objective(beta=np.float32(2.0), schedule="linear", warmup_epochs=np.int64(3), free_bits=np.float64(0.5))
    assert (o.beta, o.warmup_epochs, o.free_bits) == (2.0, 3, 0.5)
    assert type(o.beta) is float and type(o.warmup_epochs) is int
    assert vae.Objective(beta=1) == vae.Objective(beta=1) and type(vae.Objective(beta=1).beta) is int
    for kwargs, message in [(dict(schedule="linear", warmup_epochs=True), r"warmup_epochs >= 1 \(an integer\), got True"),
                            (dict(schedule="cyclical", n_cycles=2.0), r"n_cycles >= 1 \(an integer\), got 2.0"),
                            (dict(beta=True), r"beta must be a finite number >= 0, got True"),
                            (dict(beta=np.float32("nan")), r"beta must be a finite number >= 0, got np.float32\(nan\)"),
                            (dict(free_bits=-1.0), r"free_bits must be a number >= 0")]:
        with pytest.raises(ValueError, match=message):
            vae.Objective(**kwargs)


def test_mutual_information_matches_a_linear_gaussian_encoder():
    """Oracle: x ~ N(0, 1) in one dimension and q(z | x) = N(a x, s^2) give the aggregate
    q(z) = N(0, a^2 + s^2) and I(x; z) = 1/2 log(1 + a^2 / s^2) in closed form. A second,
    independent dimension adds its own closed-form term; a posterior equal to the prior
    carries nothing."""
    rng = np.random.default_rng(0)
    n = 3000
    x = rng.standard_normal((n, 2))
    a, s = np.array([1.0, 0.5]), np.array([0.5, 1.0])
    mu, lv = x * a, np.broadcast_to(2 * np.log(s), (n, 2)).copy()
    exact = float(np.sum(0.5 * np.log(1 + a ** 2 / s ** 2)))  # 0.80 + 0.11 nats
    assert vae.mutual_information(mu, lv, seed=1) == pytest.approx(exact, abs=0.05)
    assert vae.mutual_information(np.zeros((n, 3)), np.zeros((n, 3)), seed=1) == pytest.approx(0.0, abs=0.01)
    # a code that tells the images apart reaches the estimator's ceiling, log N
    sharp = vae.mutual_information(rng.standard_normal((500, 4)) * 10, np.full((500, 4), -10.0), seed=1)
    assert sharp == pytest.approx(math.log(500), abs=1e-6)
    with pytest.raises(ValueError, match="one shape"):
        vae.mutual_information(np.zeros((5, 2)), np.zeros((5, 3)))


def test_sampled_reconstruction_differs_from_the_posterior_mean_one_only_by_the_sample():
    x = _images(64)
    model = vae.build_vae(encoder_hidden=(16,), latent_dim=2, seed=0)
    at_mean = vae.reconstruct(model, x)
    sampled = vae.reconstruct_sampled(model, x, seed=3)
    np.testing.assert_array_equal(sampled, vae.reconstruct_sampled(model, x, seed=3))  # repeatable
    assert not np.array_equal(sampled, at_mean)
    mu, lv = vae.posterior_stats(model, x)
    assert mu.shape == lv.shape == (64, 2)
    # with the posterior's variance forced to ~0 the sample is the mean
    model.encoder.get_layer("q_stats").bias.assign(tf.concat([tf.zeros(2), tf.fill([2], -60.0)], 0))
    kernel = model.encoder.get_layer("q_stats").kernel
    kernel.assign(tf.concat([kernel[:, :2], tf.zeros_like(kernel[:, 2:])], 1))
    np.testing.assert_allclose(vae.reconstruct_sampled(model, x, seed=3), vae.reconstruct(model, x), atol=1e-6)


# --------------------------------------------------------------------------- targets for a density on [0, 1]


def test_clipped_and_dequantized_targets_keep_every_pixel_inside_the_open_interval():
    rng = np.random.default_rng(0)
    levels = rng.integers(0, 256, (20, 28, 28, 1))
    levels[0, :3, 0, 0] = (0, 255, 128)
    x = (levels / 255.0).astype(np.float32)
    clipped = vr.transform_targets(x, "clipped", seed=0)
    assert clipped.min() == pytest.approx(vr.CLIP_EPS) and clipped.max() == pytest.approx(1 - vr.CLIP_EPS)
    inside = (x > vr.CLIP_EPS) & (x < 1 - vr.CLIP_EPS)
    np.testing.assert_array_equal(clipped[inside], x[inside])
    deq = vr.transform_targets(x, "dequantized", seed=1)
    # each 8-bit level k lands in [k/256, (k+1)/256): the level is recovered by flooring
    np.testing.assert_array_equal(np.floor(deq.astype(np.float64) * 256).astype(int), levels)
    assert deq.min() > 0 and deq.max() < 1 and deq.dtype == np.float32
    # the noise is uniform within a level (mean 1/2 of a level) and one fixed draw per seed
    assert abs(float((deq * 256.0 - levels).mean()) - 0.5) < 0.01
    np.testing.assert_array_equal(deq, vr.transform_targets(x, "dequantized", seed=1))
    assert not np.array_equal(deq, vr.transform_targets(x, "dequantized", seed=2))
    assert vr.transform_targets(x, None, seed=0) is x
