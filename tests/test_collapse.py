"""aecore.collapse: the collapse detector on constructed cases with known answers, the
per-epoch tracker through training.fit, and the per-run summary."""

from __future__ import annotations

import math
import types

import numpy as np
import pandas as pd
import pytest

from aecore import collapse, experiments, models, training


def _images(n: int = 200, seed: int = 0) -> np.ndarray:
    """Digit-like test images: sparse bright strokes on black, [n, 28, 28, 1] in [0, 1]."""
    rng = np.random.default_rng(seed)
    x = (rng.uniform(size=(n, 28, 28, 1)) < 0.15) * rng.uniform(0.5, 1.0, size=(n, 28, 28, 1))
    return x.astype(np.float32)


def test_exact_mean_image_is_collapsed_to_the_mean():
    x = _images()
    m = x.mean(axis=0)
    r = collapse.detect(x, np.broadcast_to(m, x.shape))
    assert r.collapsed and r.to_mean_image and r.kind == "mean image"
    assert r.spread_ratio == pytest.approx(0.0, abs=1e-12)
    assert r.distance_ratio == pytest.approx(0.0, abs=1e-12)
    # the mean image *is* the baseline: MSE ratio exactly 1
    assert r.mse_ratio_to_mean_image == pytest.approx(1.0, rel=1e-9)
    assert "collapsed to (nearly) the mean image" in r.describe()


def test_identity_reconstruction_is_not_collapsed():
    x = _images()
    r = collapse.detect(x, x.copy(), mean_image=_images(500, seed=1).mean(axis=0))
    assert not r.collapsed and not r.to_mean_image and r.kind == "not collapsed"
    assert r.spread_ratio == pytest.approx(1.0, rel=1e-12)
    assert r.distance_ratio == pytest.approx(1.0, rel=1e-12)
    assert r.mse_ratio_to_mean_image == 0.0
    assert r.describe().startswith("not collapsed (spread ratio 1.000")


def test_small_noise_around_the_mean_is_collapsed():
    x = _images()
    m = x.mean(axis=0)
    noise = np.random.default_rng(3).normal(0.0, 0.01, size=x.shape)
    r = collapse.detect(x, m + noise, mean_image=m)
    # noise variance 1e-4 against a data variance of ~0.07: ratio ~1.5e-3
    expected = 1e-4 / x.reshape(len(x), -1).var(axis=0).mean()
    assert r.spread_ratio == pytest.approx(expected, rel=0.1)
    assert r.collapsed and r.to_mean_image


@pytest.mark.parametrize("alpha", [0.1, 0.2, 0.5, 0.9])
def test_shrinking_towards_the_mean_scales_both_ratios_by_alpha_squared(alpha):
    # x_hat = m + alpha (x - m): Var(x_hat) = alpha^2 Var(x) and ||x_hat - m||^2 = alpha^2 ||x - m||^2
    x = _images()
    m = x.astype(np.float64).mean(axis=0)
    r = collapse.detect(x, m + alpha * (x - m), mean_image=m)
    assert r.spread_ratio == pytest.approx(alpha**2, rel=1e-9)
    assert r.distance_ratio == pytest.approx(alpha**2, rel=1e-9)
    assert r.mse_ratio_to_mean_image == pytest.approx((1 - alpha) ** 2, rel=1e-9)
    assert r.collapsed == (alpha**2 <= collapse.DEFAULT_THRESHOLD)


def test_a_constant_blob_that_is_not_the_mean_image():
    x = _images()
    blob = np.zeros(x.shape[1:], np.float32)
    blob[6:22, 6:22] = 1.0  # a saturated square
    r = collapse.detect(x, np.broadcast_to(blob, x.shape))
    assert r.collapsed and not r.to_mean_image and r.kind == "constant image"
    assert r.spread_ratio == 0.0 and r.distance_ratio > 1.0 and r.mse_ratio_to_mean_image > 1.0
    assert "not the mean image" in r.describe()


def test_threshold_decides_and_is_reported():
    x = _images()
    m = x.astype(np.float64).mean(axis=0)
    x_hat = m + 0.4 * (x - m)  # ratios 0.16
    assert not collapse.detect(x, x_hat).collapsed
    r = collapse.detect(x, x_hat, threshold=0.2)
    assert r.collapsed and r.threshold == 0.2 and "threshold 0.2" in r.describe()


@pytest.mark.parametrize("kwargs,match", [
    ({"x_hat": np.zeros((5, 28, 28, 1))}, "same shape"),
    ({"x": np.zeros((1, 4)), "x_hat": np.zeros((1, 4))}, "at least 2"),
    ({"x": np.full((3, 4), 0.5), "x_hat": np.zeros((3, 4))}, "do not vary"),
    ({"x_hat": np.full((4, 28, 28, 1), np.nan)}, "NaN"),
    ({"mean_image": np.zeros(10)}, "pixels"),
    ({"threshold": 1.5}, "threshold"),
])
def test_invalid_inputs_raise(kwargs, match):
    args = {"x": _images(4), "x_hat": _images(4, seed=1), **kwargs}
    with pytest.raises(ValueError, match=match):
        collapse.detect(**args)


def test_report_is_frozen():
    r = collapse.detect(_images(), _images(seed=2))
    with pytest.raises(AttributeError):
        r.collapsed = True


@pytest.mark.parametrize("ratios,collapse_epoch,escape_epoch", [
    ([0.0, 0.0, 0.0], 1.0, math.nan),      # collapsed from the first epoch on, never left
    ([0.0, 0.05, 0.3, 0.5], math.nan, 3.0),  # a plateau, then it learned
    ([0.5, 0.2, 0.05, 0.01], 3.0, 1.0),     # learned, then collapsed in epoch 3
    ([0.0, 0.2, 0.05, 0.01], 3.0, 2.0),     # escaped, then fell back
    ([0.3, np.nan], math.nan, 1.0),         # NaN is never "collapsed"
])
def test_epochs_to_collapse_and_escape(ratios, collapse_epoch, escape_epoch):
    got_c = collapse.epochs_to_collapse(ratios)
    got_e = collapse.escape_epoch(ratios)
    assert (math.isnan(got_c) and math.isnan(collapse_epoch)) or got_c == collapse_epoch
    assert (math.isnan(got_e) and math.isnan(escape_epoch)) or got_e == escape_epoch
    with pytest.raises(ValueError):
        collapse.epochs_to_collapse([])


def test_bright_region_overlap_counts_and_iou():
    mean = np.zeros((28, 28))
    mean[10:14, 10:14] = 0.6  # 16 pixels above 0.5
    blob = np.zeros((28, 28))
    blob[10:18, 10:14] = 0.9  # 32 bright pixels, 16 shared
    assert collapse.bright_region_overlap(blob, mean) == (32, 16, 0.5)
    n, m, iou = collapse.bright_region_overlap(np.zeros((28, 28)), np.zeros((28, 28)))
    assert (n, m) == (0, 0) and math.isnan(iou)


def _exact_norm(w: np.ndarray) -> float:
    """Oracle: the squares summed as exact fractions, the sum rounded once, its square root once."""
    from fractions import Fraction

    total = sum((Fraction(float(v)) ** 2 for v in w.ravel()), Fraction(0))
    return math.sqrt(float(total))


def test_the_first_layer_norm_is_exact_and_independent_of_order():
    rng = np.random.default_rng(0)
    w = (rng.normal(0, 0.05, (784, 100)) * np.exp(rng.normal(0, 3, (784, 100)))).astype(np.float32)
    assert collapse.frobenius_norm(w) == _exact_norm(w)  # to the last bit
    assert collapse.frobenius_norm(rng.permutation(w.ravel())) == collapse.frobenius_norm(w)  # any order, any kernel
    # the planted fault: NumPy's float32 norm (what the history held before) misses the oracle here
    assert float(np.linalg.norm(w)) != _exact_norm(w)


def test_tracker_columns_through_fit_match_a_direct_computation():
    x_train, x_val = _images(64), _images(40, seed=5)
    model = models.build_model("dense_ae", seed=0)
    history = training.fit(model, "bce", x_train, x_val=x_val, epochs=2, batch_size=32, seed=0,
                           progress=False, on_epoch_end=collapse.EpochTracker(x_train, x_val, likelihood="bce"))
    cols = ["first_layer_norm", "mean_image_distance", "distance_ratio", "output_spread",
            "spread_ratio", "mse_ratio_to_mean_image"]
    assert list(history.columns) == ["epoch", "loss", "val_loss", "val_mse", "seconds", *cols]
    last = history.iloc[-1]
    kernel = model.encoder.get_layer("enc_dense").kernel.numpy()
    assert last["first_layer_norm"] == collapse.frobenius_norm(kernel)  # exact: computed the same way
    x_hat = model.reconstruct(x_val).astype(np.float64)
    m = x_train.astype(np.float64).mean(axis=0)
    assert last["mean_image_distance"] == pytest.approx(((x_hat - m) ** 2).mean(), rel=1e-6)
    per_pixel_var = x_hat.reshape(40, -1).var(axis=0).mean()
    assert last["output_spread"] == pytest.approx(per_pixel_var, rel=1e-6)
    assert last["spread_ratio"] == pytest.approx(
        per_pixel_var / x_val.reshape(40, -1).astype(np.float64).var(axis=0).mean(), rel=1e-6)


def test_fit_itself_adds_no_tracking_columns():
    # The hook is the caller's choice (experiments.run passes one for dense_ae): fit adds none.
    x = _images(16)
    h = training.fit(models.build_model("dense_ae", seed=0), "bce", x, epochs=1,
                     batch_size=16, seed=0, progress=False)
    assert list(h.columns) == ["epoch", "loss", "val_loss", "val_mse", "seconds"]
    h = training.fit(models.build_model("dense_ae", seed=0), "bce", x, x_val=x, epochs=1,
                     batch_size=16, seed=0, progress=False)
    assert list(h.columns) == ["epoch", "loss", "val_loss", "val_mse", "seconds"]
    h = training.fit(models.build_model("conv_ae", seed=0), "bce", x, x_val=x, epochs=1,
                     batch_size=16, seed=0, progress=False)
    assert list(h.columns) == ["epoch", "loss", "val_loss", "val_mse", "seconds"]


def test_summarize_run_on_a_trained_model():
    x_train, x_test = _images(64), _images(50, seed=7)
    cfg = experiments.Config(dataset="mnist", model="dense_ae", loss="bce", n_train=64, n_test=50,
                             epochs=2, batch_size=32, seed=1, model_kwargs={})
    model = models.build_model("dense_ae", seed=1)
    norm0 = float(np.linalg.norm(model.encoder.get_layer("enc_dense").kernel.numpy()))
    history = training.fit(model, "bce", x_train, x_val=x_test, epochs=2, batch_size=32, seed=1,
                           progress=False, on_epoch_end=collapse.EpochTracker(x_train, x_test, likelihood="bce"))
    result = types.SimpleNamespace(config=cfg, history=history, model=model,
                                   initial_model=lambda: models.build_model("dense_ae", seed=1),
                                   reconstruct=lambda x: model.reconstruct(x, likelihood="bce"))
    row = collapse.summarize_run(result, x_test, mean_image=x_train.mean(axis=0))
    assert row["first_layer_norm_init"] == pytest.approx(norm0, rel=1e-6)
    assert row["first_layer_norm_final"] == pytest.approx(history["first_layer_norm"].iloc[-1])
    assert 0 < row["first_layer_norm_min_ratio"] <= 1.0
    assert row["steps_per_epoch"] == 2
    # two epochs of 2 steps leave a sigmoid MLP on its mean image
    assert row["collapsed"] and row["kind"] in ("mean image", "constant image")
    assert row["collapse_epoch"] == 1.0 and math.isnan(row["escape_epoch"])


def test_summarize_run_needs_the_tracked_columns():
    cfg = experiments.Config(dataset="mnist", model="dense_ae", loss="bce", n_train=8, n_test=8)
    result = types.SimpleNamespace(config=cfg, history=pd.DataFrame({"epoch": [1], "loss": [0.1]}),
                                   reconstruct=lambda x: x)
    with pytest.raises(ValueError, match="spread_ratio"):
        collapse.summarize_run(result, _images(8), mean_image=_images(8).mean(axis=0))


def test_summarize_settings_pools_seeds_and_keeps_order():
    runs = pd.DataFrame({
        "setting": ["b", "b", "a"], "collapsed": [True, False, False], "to_mean_image": [True, False, False],
        "spread_ratio": [0.0, 0.4, 0.8], "distance_ratio": [0.0, 0.5, 0.9], "mse_ratio_to_mean_image": [1.0, 0.6, 0.2],
        "escape_epoch": [math.nan, 3.0, 1.0], "collapse_epoch": [1.0, math.nan, math.nan],
        "first_layer_norm_init": [10.0, 10.0, 20.0], "first_layer_norm_final": [10.0, 30.0, 40.0]})
    table = collapse.summarize_settings(runs)
    assert list(table.index) == ["b", "a"]
    assert table.loc["b", "runs"] == 2 and table.loc["b", "collapsed"] == 1 and table.loc["b", "to mean image"] == 1
    assert table.loc["b", "spread ratio"] == pytest.approx(0.2)
    assert table.loc["b", "left the plateau at epoch"] == "never, 3"
    assert table.loc["b", "collapsed for good from epoch"] == "1, never"
    assert table.loc["b", "W1 final ÷ initial"] == pytest.approx(2.0)  # mean of 1 and 3
    assert table.loc["a", "W1 final ÷ initial"] == pytest.approx(2.0)
