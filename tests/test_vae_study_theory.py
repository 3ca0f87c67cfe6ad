"""aecore.studies.vae_study.linear_vae_prediction against an independent oracle: the β-weighted optimum of
a linear VAE is probabilistic PCA with noise τ = βσ² (Lucas et al. 2019). The oracle builds that
solution's weights from the data covariance, computes its Gaussian posterior with matrix algebra
(no eigenvalue shortcut) and averages the KL to the prior over the data distribution."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aecore.studies import vae_study


def _images_with_covariance(eigenvalues, n=4_000, seed=0):
    """Images [n, 28, 28, 1] whose pixel covariance has the given leading eigenvalues (a random
    orthonormal basis of 784 pixels), the rest tiny."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(784, 784)))
    lam = np.full(784, 1e-6)
    lam[:len(eigenvalues)] = eigenvalues
    codes = rng.normal(size=(n, 784)) * np.sqrt(lam)
    return (codes @ basis.T).reshape(n, 28, 28, 1), basis, lam


def _oracle_kl(cov, tau, latent_dim):
    """Mean KL(q(z|x) || N(0, I)) of the pPCA optimum with noise tau, by matrix algebra."""
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:latent_dim]
    vals, vecs = vals[order], vecs[:, order]
    w = vecs * np.sqrt(np.maximum(vals - tau, 0.0))  # [D, L] the decoder's weights at the optimum
    m = w.T @ w + tau * np.eye(latent_dim)
    m_inv = np.linalg.inv(m)
    post_cov = tau * m_inv  # the posterior covariance, the same for every x
    mean_second_moment = m_inv @ w.T @ cov @ w @ m_inv  # E_x[mu(x) mu(x)^T]
    kl = 0.5 * (np.trace(post_cov) + np.trace(mean_second_moment) - latent_dim - np.linalg.slogdet(post_cov)[1])
    return float(kl)


def test_the_prediction_matches_the_ppca_posterior_kl_and_counts_the_kept_directions():
    eig = np.array([5.0, 3.0, 2.0, 1.2, 0.8, 0.45, 0.2, 0.05])
    x, _, _ = _images_with_covariance(eig)
    cov = np.cov(x.reshape(len(x), -1), rowvar=False)
    table = vae_study.linear_vae_prediction(x, betas=(0.1, 1.0, 3.0, 20.0), sigma2=0.5, latent_dim=6)
    for row in table.itertuples():
        assert row.tau == pytest.approx(row.beta * 0.5)
        sample_eig = np.sort(np.linalg.eigvalsh(cov))[::-1][:6]
        assert row.kept == int((sample_eig > row.tau).sum())  # at most latent_dim
        assert row.kl == pytest.approx(_oracle_kl(cov, row.tau, 6), rel=1e-6, abs=1e-9)
    assert table["kept"].tolist() == [6, 5, 3, 0]  # tau 0.05, 0.5, 1.5, 10 against 5, 3, 2, 1.2, 0.8, 0.45
    assert table["kl"].iloc[-1] == 0.0  # every direction collapsed


def test_kl_dims_counts_only_directions_above_the_threshold_and_bad_input_is_named():
    x, _, _ = _images_with_covariance(np.array([4.0, 0.52]))
    row = vae_study.linear_vae_prediction(x, betas=[1.0], sigma2=0.5, latent_dim=2, surviving_kl_nats=0.1).iloc[0]
    assert (row["kept"], row["kl_dims"]) == (2, 1)  # 1/2 log(0.52/0.5) ~ 0.02 nats: kept, but below 0.1
    with pytest.raises(ValueError, match="sigma2 must be a positive number"):
        vae_study.linear_vae_prediction(x, betas=[1.0], sigma2=0.0, latent_dim=2)
    with pytest.raises(ValueError, match="every beta must be a positive number"):
        vae_study.linear_vae_prediction(x, betas=[-1.0], sigma2=0.5, latent_dim=2)


# --------------------------------------------------------------------------- decoders on one scale


def test_bits_per_dim_is_the_code_length_of_the_discrete_model_a_histogram_density_defines():
    # A density that is constant L * p_k on each level's bin: its NLL of dequantised data, converted,
    # must equal -log2 p_k per pixel, the discrete model's exact code length (independent oracle).
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(256))
    levels = rng.choice(256, size=(5, 784), p=p)
    density_nll = -(np.log(256 * p[levels])).sum(axis=1)  # nats per image
    np.testing.assert_allclose(vae_study.bits_per_dim(density_nll), -np.log2(p[levels]).mean(axis=1), rtol=1e-12)
    assert vae_study.bits_per_dim(0.0) == pytest.approx(8.0)  # the uniform density on [0, 1]
    assert vae_study.bits_per_dim(0.0, n_pixels=10, levels=2) == pytest.approx(1.0)


def test_one_scale_configs_change_only_the_decoder_and_the_targets():
    from aecore import PROFILES

    control = vae_study.article_examples(PROFILES["full"])["control: 128-64, z=16"]
    grid = vae_study.one_scale_configs(control)
    assert set(grid) == {f"{n}, dequantised" for n in vae_study.ONE_SCALE_DECODERS} | {"continuous Bernoulli, clipped"}
    assert all(c.targets == "dequantized" for n, c in grid.items() if n.endswith("dequantised"))
    assert grid["continuous Bernoulli, clipped"].targets == "clipped"
    assert "bernoulli" not in {c.decoder for c in grid.values()}  # a pmf on {0, 1}: not on this scale
    for cfg in grid.values():
        diff = {k for k, v in cfg.to_dict().items() if v != control.to_dict()[k]}
        assert diff <= {"targets", "decoder", "sigma"}, diff


# --------------------------------------------------------------------------- the linear prediction beside the runs


def test_linear_vs_measured_predicts_per_dimension_and_compares_sorted_dimensions():
    eig = np.array([5.0, 3.0, 2.0, 1.2, 0.8, 0.45, 0.2, 0.05])
    x, _, _ = _images_with_covariance(eig)
    sample_eig = np.sort(np.linalg.eigvalsh(np.cov(x.reshape(len(x), -1), rowvar=False)))[::-1][:4]
    measured = {"active_units": 2.5, "kl": 1.0, "kl_per_dim": np.array([0.05, 0.6, 0.0, 0.35])}  # unsorted on purpose
    table = vae_study.linear_vs_measured(
        x, {"σ²=1": {"beta": 1.0, "sigma2": 1.0, "measured": measured},
            "mean": {"beta": 784.0, "sigma2": 0.5, "measured": None}}, latent_dim=4)
    one = table.loc["σ²=1"]
    pred = np.where(sample_eig > 1.0, 0.5 * np.log(np.maximum(sample_eig, 1.0)), 0.0)  # tau = 1: 1/2 log(lambda)
    assert (one["tau"], one["kept"]) == (1.0, 4)  # 5, 3, 2, 1.2 all above 1
    assert one["kl"] == pytest.approx(pred.sum(), rel=1e-9)
    assert one["kl"] == pytest.approx(
        vae_study.linear_vae_prediction(x, betas=[1.0], sigma2=1.0, latent_dim=4)["kl"].iloc[0], rel=1e-12)
    assert one["kl_dims"] == int((pred > 0.1).sum()) and one["kl_top"] == pytest.approx(pred[0])
    assert (one["m_kl_dims"], one["m_kl_top"]) == (2, 0.6)
    assert one["dim_gap"] == pytest.approx(np.abs(pred - np.array([0.6, 0.35, 0.05, 0.0])).mean())
    mean = table.loc["mean"]  # a hidden beta of 784 at sigma^2 = 1/2: tau = 392, above every eigenvalue
    assert (mean["tau"], mean["kept"], mean["kl"]) == (392.0, 0, 0.0)
    assert np.isnan(mean["m_kl"]) and np.isnan(mean["dim_gap"])  # "not run"
    with pytest.raises(ValueError, match="expected \\(4,\\)"):
        vae_study.linear_vs_measured(x, {"bad": {"beta": 1.0, "sigma2": 1.0, "measured": {
            "active_units": 1, "kl": 1, "kl_per_dim": [1.0]}}}, latent_dim=4)


def test_measured_collapse_sorts_each_run_before_averaging_over_seeds():
    import json

    from aecore import PROFILES

    cfg = vae_study.article_examples(PROFILES["fast"])["control: 128-64, z=16"]
    rows = pd.DataFrame({"setting": [cfg.setting_label()] * 2 + ["other"], "seed": [0, 1, 0],
                         "active_units": [2, 1, 9], "kl": [2.1, 1.0, 99.0],
                         "kl_per_dim": [json.dumps([0.1, 2.0]), json.dumps([1.0, 0.0]), json.dumps([9.0, 9.0])]})
    m = vae_study.measured_collapse(rows, cfg)
    assert (m["active_units"], m["kl"]) == (1.5, pytest.approx(1.55))
    np.testing.assert_allclose(m["kl_per_dim"], [1.5, 0.05])  # averaging first, then sorting, gives [1.0, 0.55]
    with pytest.raises(ValueError, match="no run of the setting"):
        vae_study.measured_collapse(rows[rows["setting"] == "other"], cfg)


# --------------------------------------------------------------------------- BCE as a Gaussian of variance t(1-t)


def test_bernoulli_variance_stats_against_a_hand_computation():
    x = np.array([0.0, 1.0, 0.5, 0.2, 0.9]).reshape(1, 5, 1, 1)
    # t(1-t) = 0, 0, 0.25, 0.16, 0.09
    s = vae_study.bernoulli_variance_stats(x, threshold=0.1)
    assert s["mean_variance"] == pytest.approx(0.5 / 5)
    assert s["share_below"] == pytest.approx(3 / 5)  # 0, 0 and 0.09
    assert s["share_exact"] == pytest.approx(2 / 5)
    assert s["median_weight_grey"] == pytest.approx(0.5 / 0.16)  # of 2, 3.125, 5.56
    # the variance is BCE's curvature: (BCE(t, t + e) - BCE(t, t)) ~ e^2 / (2 t(1-t))
    t, e = 0.2, 1e-4
    bce = lambda p: -(t * np.log(p) + (1 - t) * np.log(1 - p))  # noqa: E731
    assert (bce(t + e) - bce(t)) / e ** 2 == pytest.approx(1 / (2 * 0.16), rel=1e-3)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        vae_study.bernoulli_variance_stats(np.array([0.5, 1.5]))


# --------------------------------------------------------------------------- model size and step budget


def test_optimizer_steps_count_the_last_smaller_batch():
    assert vae_study.optimizer_steps(**vae_study.KERAS_IO_PUBLISHED) == 30 * 547  # 70,000 / 128 = 546.9
    assert vae_study.optimizer_steps(epochs=2, n_train=256, batch_size=128) == 4
    with pytest.raises(ValueError, match="must be positive"):
        vae_study.optimizer_steps(epochs=0, n_train=10, batch_size=1)


def test_weight_counts_match_a_hand_count_of_each_layer():
    from aecore import PROFILES

    q = vae_study.quality_configs(PROFILES["fast"])
    counts = vae_study.weight_counts({"keras": q["keras-io example, z=2"],
                                      "mlp": q["aecore MLP 512-256, z=2"].replace(encoder_hidden=(8,))})

    def dense(n_in, n_out):
        return n_in * n_out + n_out

    def conv(k, c_in, c_out):
        return k * k * c_in * c_out + c_out

    keras_encoder = conv(3, 1, 32) + conv(3, 32, 64) + dense(7 * 7 * 64, 16) + 2 * dense(16, 2)
    keras_decoder = dense(2, 7 * 7 * 64) + conv(3, 64, 64) + conv(3, 64, 32) + conv(3, 32, 1)
    assert counts["keras"] == keras_encoder + keras_decoder  # the sigmoid decoder shares its weights: once
    log_sigma = 1  # aecore's VAE holds the decoder's log sigma as one (here unused) weight
    assert counts["mlp"] == dense(784, 8) + 2 * dense(8, 2) + dense(2, 8) + dense(8, 784) + log_sigma
