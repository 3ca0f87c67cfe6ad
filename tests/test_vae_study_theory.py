"""aecore.studies.vae_study.linear_vae_prediction against an independent oracle: the β-weighted optimum of
a linear VAE is probabilistic PCA with noise τ = βσ² (Lucas et al. 2019). The oracle builds that
solution's weights from the data covariance, computes its Gaussian posterior with matrix algebra
(no eigenvalue shortcut) and averages the KL to the prior over the data distribution."""

from __future__ import annotations

import numpy as np
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
