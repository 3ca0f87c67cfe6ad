"""aecore.datastats against hand-built images whose statistics are known."""

from __future__ import annotations

import numpy as np
import pytest

from aecore import datastats


def test_pixel_summary_on_constructed_images():
    x = np.zeros((4, 2, 2, 1), np.float32)
    x[:, 0, 0] = 1.0     # one full-ink pixel per image
    x[:, 0, 1] = 0.5     # one mid-grey pixel
    x[:, 1, 0] = 0.02    # faint, not "mid"
    s = datastats.pixel_summary(x)
    assert s["frac_zero"] == pytest.approx(0.25)
    assert s["frac_one"] == pytest.approx(0.25)
    assert s["frac_mid"] == pytest.approx(0.25)
    assert s["mean"] == pytest.approx((1 + 0.5 + 0.02) / 4)
    assert s["variance_across_images"] == pytest.approx(0.0, abs=1e-12)  # identical images
    assert datastats.ink_coverage(x).tolist() == pytest.approx([0.75] * 4)


def test_binarisation_gap_zero_for_binary_and_known_for_grey():
    b = (np.random.default_rng(0).random((5, 28, 28, 1)) > 0.7).astype(np.float32)
    g = datastats.binarisation_gap(b)
    assert g["threshold_mse"] == 0 and g["dynamic_mse"] == 0 and g["entropy_nats"] == 0
    grey = np.full((2, 3, 3, 1), 0.5, np.float32)
    g = datastats.binarisation_gap(grey)
    assert g["threshold_mse"] == pytest.approx(0.25) and g["dynamic_mse"] == pytest.approx(0.25)
    assert g["entropy_nats"] == pytest.approx(np.log(2))


def test_summary_table_labels_each_statistic_by_its_key(monkeypatch):
    x = np.zeros((4, 2, 2, 1), np.float32)
    x[:, 0, 0] = 1.0
    x[:, 0, 1] = 0.5
    t = datastats.summary_table({"a": x, "b": np.full((2, 2, 2, 1), 0.5, np.float32)})
    assert list(t.columns) == ["a", "b"]
    assert t.loc["fraction exactly 1", "a"] == pytest.approx(0.25)
    assert t.loc["fraction mid (0.05–0.95)", "b"] == pytest.approx(1.0)
    assert t.loc["MSE to threshold-binarised (x > 0.5)", "b"] == pytest.approx(0.25)  # 0.5 -> 0
    assert len(t) == len(datastats.SUMMARY_LABELS)
    # A statistic added without a label is an error, not a silently shifted row.
    real = datastats.pixel_summary
    monkeypatch.setattr(datastats, "pixel_summary", lambda x: {"new_stat": 0.0, **real(x)})
    with pytest.raises(RuntimeError, match="unlabelled \\['new_stat'\\]"):
        datastats.summary_table({"a": x})


def test_histogram_sums_to_one():
    edges, frac = datastats.histogram(np.random.default_rng(1).random((10, 28, 28, 1)), bins=10)
    assert len(edges) == 11 and frac.sum() == pytest.approx(1.0)


def test_pca_errors_fall_with_k_and_vanish_on_low_rank_data():
    rng = np.random.default_rng(2)
    basis = rng.normal(size=(3, 64))
    x = (rng.normal(size=(300, 3)) @ basis).reshape(300, 8, 8, 1)
    table = datastats.pca_error_table(x[:200], x[200:], ks=(1, 2, 3, 4))
    assert table["mse"].is_monotonic_decreasing
    assert table.loc[table.k == 3, "ratio_to_mean_image"].item() < 1e-10  # float32 output rounding only
    assert table.loc[table.k == 3, "explained_variance"].item() == pytest.approx(1.0)
    per_class = datastats.classwise_errors(x[:200], x[200:], np.arange(100) % 2, k=2)
    assert set(per_class.index) == {0, 1}
    # a PCA fitted once and truncated gives the same tables as fresh fits
    from aecore import metrics
    full = metrics.pca_fit(x[:200], 4)
    np.testing.assert_allclose(datastats.pca_error_table(x[:200], x[200:], ks=(1, 2, 3, 4), pca=full)["mse"],
                               table["mse"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(datastats.classwise_errors(x[:200], x[200:], np.arange(100) % 2, k=2, pca=full)["mse_pca2"],
                               per_class["mse_pca2"], rtol=1e-6)


def _low_rank_plus_noise(noise, seed=0, n=3000, d=64, rank=4):
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((rank, d))
    def draw(m):
        return (0.5 + 0.05 * rng.standard_normal((m, rank)) @ basis + noise(rng, (m, d))).reshape(m, 8, 8, 1)
    return draw(n), draw(n)


def test_residual_stats_see_gaussian_noise_of_one_variance_as_such():
    train, test = _low_rank_plus_noise(lambda rng, shape: 0.02 * rng.standard_normal(shape))
    r = datastats.residual_stats(train, test, k=4)
    assert abs(r["excess_kurtosis"]) < 0.1 and r["variance_ratio"] < 1.2
    assert r["variance_map"].shape == (8, 8) and r["sigma"] == pytest.approx(0.02, rel=0.1)


def test_residual_stats_catch_heavy_tails_and_unequal_variances():
    heavy, test = _low_rank_plus_noise(lambda rng, shape: 0.02 * rng.laplace(size=shape))
    assert datastats.residual_stats(heavy, test, k=4)["excess_kurtosis"] > 2  # Laplace: 3
    scale = np.where(np.arange(64) < 32, 0.01, 0.03)  # half the pixels three times noisier
    train, test = _low_rank_plus_noise(lambda rng, shape: scale * rng.standard_normal(shape))
    assert datastats.residual_stats(train, test, k=4)["variance_ratio"] > 5


def test_residual_histograms_are_fractions_on_shared_bins():
    h = datastats.residual_histograms(np.random.default_rng(0).standard_normal(100000) * 0.1)
    (e1, f1), (e2, f2) = h["residuals"], h["normal, same σ"]
    assert np.array_equal(e1, e2) and f1.sum() == pytest.approx(f2.sum(), abs=1e-3)
    assert np.abs(f1 - f2).max() < 0.003
