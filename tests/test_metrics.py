"""aecore.metrics against independent computations: hand formulas, Keras, SciPy, NumPy
eigen-decompositions, and constructed cases with known answers."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import scipy.stats

from aecore import metrics


@pytest.fixture
def pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(7, 28, 28, 1)).astype(np.float32)
    x_hat = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1).astype(np.float32)
    return x, x_hat


def test_mse_and_psnr_by_hand(pair):
    x, x_hat = pair
    for i in range(len(x)):
        d = x[i].astype(np.float64) - x_hat[i].astype(np.float64)
        mse = sum(float(v) ** 2 for v in d.ravel()) / d.size
        assert metrics.mse_per_pixel(x, x_hat)[i] == pytest.approx(mse, rel=1e-6)
        assert metrics.psnr_db(x, x_hat)[i] == pytest.approx(10 * np.log10(1.0 / mse), rel=1e-6)
        assert metrics.psnr_db(x * 255, x_hat * 255, max_val=255.0)[i] == pytest.approx(
            10 * np.log10(1.0 / mse), rel=1e-5)
    assert metrics.psnr_db(x, x)[0] == np.inf


def test_bce_matches_keras_and_formula(pair):
    x, x_hat = pair
    # Away from 0 and 1 (where the two clip at 1 - 1e-7 in float64 vs float32), Keras agrees.
    inner = np.clip(x_hat, 0.01, 0.99)
    keras_bce = keras.losses.binary_crossentropy(x.reshape(7, -1), inner.reshape(7, -1)).numpy()
    np.testing.assert_allclose(metrics.bce_per_pixel(x, inner), keras_bce, rtol=1e-5)
    ours = metrics.bce_per_pixel(x, x_hat)  # x_hat has exact 0s and 1s: clipped
    p = np.clip(x_hat.astype(np.float64), 1e-7, 1 - 1e-7)
    formula = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(7, -1).mean(axis=1)
    np.testing.assert_allclose(ours, formula, rtol=1e-9)


def test_bce_floor_is_the_entropy_and_excess_is_zero_at_the_target(pair):
    x, x_hat = pair
    values = np.array([0.0, 0.2, 0.5, 0.9, 1.0], np.float32)
    h = metrics.bernoulli_entropy_per_pixel(values.reshape(5, 1))
    np.testing.assert_allclose(h, [scipy.stats.entropy([v, 1 - v]) for v in values], atol=1e-7)
    np.testing.assert_allclose(metrics.bce_excess_per_pixel(x, x), 0.0, atol=1e-6)
    assert (metrics.bce_excess_per_pixel(x, x_hat) > 0).all()
    np.testing.assert_allclose(metrics.bce_per_pixel(x, x_hat) - metrics.bernoulli_entropy_per_pixel(x),
                               metrics.bce_excess_per_pixel(x, x_hat), rtol=1e-12)


def test_ssim_identity_and_monotone_in_noise():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(3, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(metrics.ssim(x, x), 1.0, atol=1e-6)
    noise = rng.normal(size=x.shape)
    scores = [metrics.ssim(x, np.clip(x + s * noise, 0, 1).astype(np.float32)).mean()
              for s in (0.02, 0.1, 0.3)]
    assert 1.0 > scores[0] > scores[1] > scores[2]
    # batching does not change the result
    np.testing.assert_allclose(metrics.ssim(x, x[::-1], batch_size=2), metrics.ssim(x, x[::-1]), rtol=1e-6)


def test_mean_image_baseline():
    rng = np.random.default_rng(2)
    x_train = rng.uniform(size=(50, 28, 28, 1)).astype(np.float32)
    x_test = rng.uniform(size=(4, 28, 28, 1)).astype(np.float32)
    base = metrics.mean_image_baseline(x_train, x_test)
    assert base.shape == x_test.shape
    np.testing.assert_allclose(base[3], x_train.mean(axis=0), rtol=1e-6)
    # On the training set itself, its MSE is the pixel variance (ddof 0), averaged over pixels.
    on_train = metrics.mse_per_pixel(x_train, metrics.mean_image_baseline(x_train, x_train)).mean()
    assert on_train == pytest.approx(x_train.reshape(50, -1).var(axis=0).mean(), rel=1e-5)


def test_pca_reconstructs_a_low_rank_set_exactly():
    rng = np.random.default_rng(3)
    basis = rng.normal(size=(3, 28 * 28))
    codes = rng.normal(size=(40, 3))
    x = (0.5 + 0.05 * codes @ basis).reshape(40, 28, 28, 1)  # rank 3 around a mean
    pca = metrics.pca_fit(x, 3)
    np.testing.assert_allclose(metrics.pca_reconstruct(pca, x), x, atol=1e-5)
    assert pca.explained_variance_ratio.sum() == pytest.approx(1.0)
    assert metrics.mse_per_pixel(x, metrics.pca_reconstruct(metrics.pca_fit(x, 2), x)).mean() > 1e-5


def test_pca_agrees_with_the_covariance_eigendecomposition():
    rng = np.random.default_rng(4)
    x = rng.uniform(size=(60, 6, 5, 1)) * np.linspace(0.1, 1, 30).reshape(1, 6, 5, 1)
    flat = x.reshape(60, -1)
    eig = np.sort(np.linalg.eigvalsh(np.cov(flat, rowvar=False)))[::-1]  # [30], oracle
    pca = metrics.pca_fit(x, 5)
    np.testing.assert_allclose(pca.explained_variance, eig[:5], rtol=1e-8)
    np.testing.assert_allclose(metrics.explained_variance(x, cumulative=False), eig / eig.sum(), atol=1e-12)
    curve = metrics.explained_variance(x)
    assert np.all(np.diff(curve) >= -1e-12) and curve[-1] == pytest.approx(1.0)
    # Eckart-Young: the squared error of the k-component reconstruction is the sum of the
    # discarded eigenvalues (times N - 1).
    sse = np.square(flat - metrics.pca_reconstruct(pca, x).reshape(60, -1).astype(np.float64)).sum()
    assert sse == pytest.approx(eig[5:].sum() * 59, rel=1e-5)
    with pytest.raises(ValueError, match="k must be"):
        metrics.pca_fit(x, 31)


def test_dead_units_on_a_constructed_array():
    a = np.abs(np.random.default_rng(5).normal(size=(100, 6))) + 0.1
    a[:, 1] = 0.0  # dead
    a[:, 4] = 0.0
    a[7, 4] = 1e-3  # alive on one image: not dead with eps=0, dead with eps=1e-2
    a[:, 5] = 1e-9  # tiny everywhere
    assert metrics.dead_units(a) == 1
    assert metrics.dead_unit_mask(a).tolist() == [False, True, False, False, False, False]
    assert metrics.dead_units(a, eps=1e-6) == 2
    assert metrics.dead_units(a, eps=1e-2) == 3
    with pytest.raises(ValueError, match="units"):
        metrics.dead_units(np.zeros(5))


def test_evaluate_averages_and_baseline_ratios(pair):
    x, x_hat = pair
    rng = np.random.default_rng(6)
    x_train = rng.uniform(size=(30, 28, 28, 1)).astype(np.float32)
    out = metrics.evaluate(x, x_hat, x_train=x_train, k_pca=4)
    assert out["n_images"] == 7
    assert out["mse_per_pixel"] == pytest.approx(metrics.mse_per_pixel(x, x_hat).mean())
    assert out["psnr_db"] == pytest.approx(metrics.psnr_db(x, x_hat).mean())
    assert out["ssim"] == pytest.approx(metrics.ssim(x, x_hat).mean())
    mean_mse = metrics.mse_per_pixel(x, np.broadcast_to(x_train.mean(axis=0), x.shape)).mean()
    assert out["mean_image_mse_per_pixel"] == pytest.approx(mean_mse, rel=1e-6)
    assert out["mse_ratio_to_mean_image"] == pytest.approx(out["mse_per_pixel"] / mean_mse, rel=1e-6)
    assert out["mse_ratio_to_pca4"] == pytest.approx(out["mse_per_pixel"] / out["pca4_mse_per_pixel"])
    reused = metrics.evaluate(x, x_hat, x_train=x_train, k_pca=4, pca=metrics.pca_fit(x_train, 4))
    assert reused == out
    assert "mean_image_mse_per_pixel" not in metrics.evaluate(x, x_hat)


def test_shape_mismatch_raises(pair):
    x, _ = pair
    with pytest.raises(ValueError, match="same shape"):
        metrics.mse_per_pixel(x, x[:3])


# --------------------------------------------------------------------------- sharpness and bias (chapter 5)


def test_gradient_energy_matches_a_loop_over_neighbours():
    rng = np.random.default_rng(7)
    x = rng.uniform(size=(3, 6, 5, 1)).astype(np.float32)
    for n in range(3):
        img = x[n, :, :, 0].astype(np.float64)
        total = 0.0
        for i in range(6):
            for j in range(5):
                if i + 1 < 6:
                    total += (img[i + 1, j] - img[i, j]) ** 2
                if j + 1 < 5:
                    total += (img[i, j + 1] - img[i, j]) ** 2
        assert metrics.gradient_energy(x)[n] == pytest.approx(total / 30, rel=1e-12)
    assert metrics.gradient_energy(x[..., 0]).tolist() == metrics.gradient_energy(x).tolist()  # [N, H, W] too


def test_laplacian_energy_matches_scipy_ndimage():
    import scipy.ndimage

    rng = np.random.default_rng(8)
    x = rng.uniform(size=(4, 28, 28, 1))
    oracle = [np.mean(scipy.ndimage.laplace(x[n, :, :, 0], mode="constant", cval=0.0) ** 2) for n in range(4)]
    np.testing.assert_allclose(metrics.laplacian_energy(x), oracle, rtol=1e-12)


def test_blur_lowers_sharpness_and_contrast_scales_it():
    import scipy.ndimage

    rng = np.random.default_rng(9)
    x = (rng.uniform(size=(5, 28, 28, 1)) > 0.7).astype(np.float64)  # hard-edged binary images
    blurred = scipy.ndimage.uniform_filter(x, size=(1, 3, 3, 1), mode="constant")
    for kind in ("gradient", "laplacian"):
        assert metrics.sharpness_ratio(x, x, kind) == pytest.approx(1.0)
        assert metrics.sharpness_ratio(x, blurred, kind) < 0.7  # blur removes edge energy
        # halving the contrast quarters the energy
        assert metrics.sharpness_ratio(x, 0.5 * x, kind) == pytest.approx(0.25, rel=1e-12)
    # differences inside the image ignore a constant (the Laplacian sees zeros outside it)
    assert metrics.sharpness_ratio(x, 0.25 + 0.5 * x, "gradient") == pytest.approx(0.25, rel=1e-12)
    assert metrics.gradient_energy(np.full((2, 4, 4), 0.3)).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="unknown sharpness kind"):
        metrics.sharpness_ratio(x, x, "sobel")
    with pytest.raises(ValueError, match="no edges"):
        metrics.sharpness_ratio(np.zeros((2, 4, 4)), np.ones((2, 4, 4)))


def test_signed_error_by_target_matches_a_loop():
    rng = np.random.default_rng(10)
    x = rng.uniform(size=(6, 28, 28, 1)).astype(np.float32)
    x[0, :3, :3, 0] = 1.0  # exactly 1: must land in the last bin
    x[1, :2, :2, 0] = 0.0
    x_hat = np.clip(x + rng.normal(0, 0.2, x.shape), 0, 1).astype(np.float32)
    edges = [0.0, 0.25, 0.5, 0.9, 1.0]
    got = metrics.signed_error_by_target(x, x_hat, edges)
    t, r = x.ravel().astype(np.float64), x_hat.ravel().astype(np.float64)
    for k in range(4):
        lo, hi = edges[k], edges[k + 1]
        inside = (t >= lo) & ((t < hi) if k < 3 else (t <= hi))
        assert got.count[k] == inside.sum()
        assert got.mean_target[k] == pytest.approx(t[inside].mean(), rel=1e-12)
        assert got.mean_reconstruction[k] == pytest.approx(r[inside].mean(), rel=1e-12)
        assert got.mean_error[k] == pytest.approx((r[inside] - t[inside]).mean(), abs=1e-12)
    assert got.count.sum() == x.size
    assert np.allclose(metrics.signed_error_by_target(x, x).mean_error, 0.0)
    empty = metrics.signed_error_by_target(np.zeros((2, 3, 3)), np.zeros((2, 3, 3)))
    assert empty.count[0] == 18 and np.isnan(empty.mean_error[1:]).all()
    with pytest.raises(ValueError, match="edges"):
        metrics.signed_error_by_target(x, x_hat, [0.0, 0.6, 0.5, 1.0])


def test_pull_toward_half_matches_a_loop_and_has_the_right_sign():
    rng = np.random.default_rng(11)
    x = rng.uniform(size=(4, 10, 10, 1))
    x_hat = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1)
    values = [(r - t) * np.sign(0.5 - t) for t, r in zip(x.ravel(), x_hat.ravel()) if 0.05 < t < 0.95]
    assert metrics.pull_toward_half(x, x_hat) == pytest.approx(np.mean(values), rel=1e-12)
    assert metrics.pull_toward_half(x, x) == 0.0
    shrunk = 0.5 + 0.8 * (x - 0.5)    # every pixel moved toward 0.5 by 20% of its distance
    stretched = 0.5 + 1.2 * (x - 0.5)
    expected = 0.2 * np.mean(np.abs(x - 0.5)[(x > 0.05) & (x < 0.95)])
    assert metrics.pull_toward_half(x, shrunk) == pytest.approx(expected, rel=1e-12)
    assert metrics.pull_toward_half(x, stretched) == pytest.approx(-expected, rel=1e-12)
    # pulled toward the data's mean intensity instead (below 0.5): not toward 0.5 for the
    # targets between that mean and 0.5, so smaller than the toward-0.5 shrink
    toward_mean = x + 0.2 * (0.2 - x)
    assert metrics.pull_toward_half(x, toward_mean) < metrics.pull_toward_half(x, shrunk)
    assert np.isnan(metrics.pull_toward_half(np.zeros((2, 3)), np.zeros((2, 3))))  # no grey pixel


# --------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize("x, x_hat, message", [
    (np.full((2, 4, 4, 1), 200, np.uint8), np.full((2, 4, 4, 1), 0.5, np.float32),
     r"images \(targets\) must lie in \[0, 1\], got values in \[200, 200\] \(uint8 pixels not divided by 255"),
    (np.full((2, 4, 4, 1), 0.5, np.float32), np.full((2, 4, 4, 1), -3.0, np.float32),
     r"reconstructions must lie in \[0, 1\], got values in \[-3, -3\] \(logits passed"),
    (np.full((2, 4, 4, 1), 0.5, np.float32), np.full((2, 4, 4, 1), np.nan, np.float32),
     r"reconstructions\W.*32 NaN"),
    (np.full((2, 4, 4, 1), np.inf, np.float32), np.full((2, 4, 4, 1), 0.5, np.float32), r"images.* 32 NaN"),
])
def test_evaluate_refuses_what_it_would_score_wrongly(x, x_hat, message):
    with pytest.raises(ValueError, match=message):
        metrics.evaluate(x, x_hat)


def test_plain_metrics_accept_other_ranges_but_not_nan():
    x = np.full((2, 3, 3, 1), 100.0)
    assert metrics.psnr_db(x, x + 1.0, max_val=255.0) == pytest.approx(20 * np.log10(255.0))
    with pytest.raises(ValueError, match="reconstructions hold 9 NaN"):
        metrics.mse_per_pixel(x[:1], np.full((1, 3, 3, 1), np.nan))
