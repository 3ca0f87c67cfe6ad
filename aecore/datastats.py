"""What the pixels say: intensity statistics, distance from binary, and linear baselines.

NumPy in, pandas/NumPy out. Images are ``[N, 28, 28, 1]`` floats in [0, 1]. All squared
errors are per pixel (intensity units squared), averaged over pixels and images.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from aecore import metrics

MID_LOW, MID_HIGH = 0.05, 0.95  # "strictly between": neither background nor full ink


def _flat(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x.reshape(x.shape[0], -1)


def ink_coverage(x: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Fraction of each image's pixels brighter than ``threshold``, shape ``[N]``."""
    return (_flat(x) > threshold).mean(axis=1)


def pixel_summary(x: np.ndarray) -> dict[str, float]:
    """Intensity statistics of a set of images.

    Returns a dict with: ``mean`` and ``std`` of all pixels; ``frac_zero``/``frac_one``:
    pixels exactly 0 / exactly 1; ``frac_mid``: strictly between 0.05 and 0.95;
    ``ink_coverage_median``: median over images of the fraction of non-zero pixels;
    ``variance_across_images``: the per-pixel variance over images, averaged over pixels,
    which equals the MSE of the mean-image baseline (with the mean taken on ``x`` itself).
    """
    flat = _flat(x).astype(np.float64)
    return {
        "mean": float(flat.mean()),
        "std": float(flat.std()),
        "min": float(flat.min()),
        "max": float(flat.max()),
        "frac_zero": float((flat == 0.0).mean()),
        "frac_one": float((flat == 1.0).mean()),
        "frac_mid": float(((flat > MID_LOW) & (flat < MID_HIGH)).mean()),
        "ink_coverage_median": float(np.median(ink_coverage(x))),
        "variance_across_images": float(flat.var(axis=0).mean()),
    }


def binarisation_gap(x: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """How far the images are from binary, as per-pixel squared errors.

    - ``threshold_mse``: MSE between the images and their fixed binarisation ``x > threshold``;
    - ``dynamic_mse``: expected MSE between the images and one Bernoulli(x) sample,
      ``mean x (1 - x)`` (the variance of dynamic binarisation);
    - ``entropy_nats``: mean binary entropy per pixel, the BCE floor (nats per pixel).
    """
    flat = _flat(x).astype(np.float64)
    b = (flat > threshold).astype(np.float64)
    return {"threshold_mse": float(((flat - b) ** 2).mean()),
            "dynamic_mse": float((flat * (1 - flat)).mean()),
            "entropy_nats": float(metrics.bernoulli_entropy_per_pixel(x).mean())}


# Row labels of :func:`summary_table`: every key of ``pixel_summary`` and ``binarisation_gap``.
SUMMARY_LABELS: dict[str, str] = {
    "mean": "mean",
    "std": "std",
    "min": "min",
    "max": "max",
    "frac_zero": "fraction exactly 0",
    "frac_one": "fraction exactly 1",
    "frac_mid": f"fraction mid ({MID_LOW:g}–{MID_HIGH:g})",
    "ink_coverage_median": "median ink coverage",
    "variance_across_images": "variance across images (MSE of mean image)",
    "threshold_mse": "MSE to threshold-binarised (x > 0.5)",
    "dynamic_mse": "MSE to a Bernoulli(x) sample (mean x(1−x))",
    "entropy_nats": "binary entropy (nats/pixel)",
}


def summary_table(images: dict[str, np.ndarray]) -> pd.DataFrame:
    """:func:`pixel_summary` and :func:`binarisation_gap` of each set of images, one column per
    name of ``images``, rows in the order of :data:`SUMMARY_LABELS` and labelled by it.

    Raises:
      RuntimeError: the statistics and :data:`SUMMARY_LABELS` name different keys (a key was
        added or renamed in one place only; rows are labelled by key, never by position).
    """
    columns = {}
    for name, x in images.items():
        stats = {**pixel_summary(x), **binarisation_gap(x)}
        if set(stats) != set(SUMMARY_LABELS):
            raise RuntimeError(f"SUMMARY_LABELS does not match the statistics: unlabelled "
                               f"{sorted(set(stats) - set(SUMMARY_LABELS))}, labelled but absent "
                               f"{sorted(set(SUMMARY_LABELS) - set(stats))}")
        columns[name] = stats
    return pd.DataFrame(columns).loc[list(SUMMARY_LABELS)].rename(index=SUMMARY_LABELS)


def histogram(x: np.ndarray, bins: int = 51) -> tuple[np.ndarray, np.ndarray]:
    """(bin edges ``[bins + 1]``, fraction of pixels per bin ``[bins]``) over [0, 1]."""
    counts, edges = np.histogram(_flat(x), bins=bins, range=(0.0, 1.0))
    return edges, counts / counts.sum()


def pca_error_table(x_train: np.ndarray, x_test: np.ndarray, ks=(2, 16, 32, 64), *,
                    pca: metrics.PCA | None = None) -> pd.DataFrame:
    """Held-out MSE of PCA reconstructions with k components, the best linear autoencoder.

    Columns: ``k``, ``mse`` (per pixel), ``ratio_to_mean_image`` (MSE / MSE of the
    mean-image baseline: the fraction of variance left unexplained), ``psnr_db`` (mean over
    images), ``explained_variance`` (cumulative, on the training images). ``pca``: a PCA
    already fitted on ``x_train`` with at least ``max(ks)`` components (saves an SVD).
    """
    base = metrics.mse_per_pixel(x_test, metrics.mean_image_baseline(x_train, x_test)).mean()
    full = pca if pca is not None else metrics.pca_fit(x_train, max(ks))
    curve = np.cumsum(full.explained_variance_ratio)
    rows = []
    for k in ks:
        x_hat = metrics.pca_reconstruct(metrics.pca_truncate(full, k), x_test)
        mse = metrics.mse_per_pixel(x_test, x_hat)
        rows.append({"k": k, "mse": float(mse.mean()), "ratio_to_mean_image": float(mse.mean() / base),
                     "psnr_db": float(metrics.psnr_db(x_test, x_hat).mean()),
                     "explained_variance": float(curve[k - 1])})
    return pd.DataFrame(rows)


def classwise_errors(x_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, *, k: int = 16,
                     class_names: list[str] | None = None, pca: metrics.PCA | None = None) -> pd.DataFrame:
    """Per test class: mean-image MSE, PCA-k MSE and their ratio (one shared PCA fit;
    ``pca``, if given, is a fit on ``x_train`` with at least ``k`` components)."""
    pca = metrics.pca_truncate(pca, k) if pca is not None else metrics.pca_fit(x_train, k)
    x_hat = metrics.pca_reconstruct(pca, x_test)
    mse_pca = metrics.mse_per_pixel(x_test, x_hat)
    mse_mean = metrics.mse_per_pixel(x_test, metrics.mean_image_baseline(x_train, x_test))
    frame = pd.DataFrame({"label": np.asarray(y_test), "mse_mean_image": mse_mean, f"mse_pca{k}": mse_pca,
                          "ink_coverage": ink_coverage(x_test)})
    out = frame.groupby("label").mean()
    out[f"ratio_pca{k}_to_mean_image"] = out[f"mse_pca{k}"] / out["mse_mean_image"]
    if class_names is not None:
        out.insert(0, "class", [class_names[i] for i in out.index])
    return out.sort_values(f"mse_pca{k}", ascending=False)


CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
}


def residual_stats(x_train: np.ndarray, x_test: np.ndarray, *, k: int = 16,
                   pca: metrics.PCA | None = None) -> dict:
    """What the Gaussian assumption behind MSE says about the errors, checked on the residuals
    of the best linear autoencoder (PCA with ``k`` components, fitted on ``x_train``).

    MSE is the Gaussian NLL of *independent errors of one variance*. If that held, the residuals
    ``x - x_hat`` of a good model would be normal (excess kurtosis 0) with the same variance
    at every pixel.

    Returns:
      ``residuals`` (every test residual, flat), ``variance_map`` (residual variance per pixel,
      ``[28, 28]`` for MNIST-sized images), ``excess_kurtosis`` (of the pooled residuals; 0 for
      a normal), ``variance_ratio`` (90th over 10th percentile of the per-pixel residual
      variances, over the pixels where the *images* vary, their variance at least a tenth of the
      largest pixel's, so that the always-empty border does not count: 1 for one variance),
      ``sigma`` (the pooled residual standard deviation) and ``k``.
    """
    from scipy import stats

    fitted = pca if pca is not None else metrics.pca_fit(x_train, k)
    x_hat = metrics.pca_reconstruct(metrics.pca_truncate(fitted, k) if pca is not None else fitted, x_test)
    r = (np.asarray(x_test, np.float64) - np.asarray(x_hat, np.float64)).reshape(len(x_test), -1)
    var = r.var(axis=0)
    data_var = np.asarray(x_test, np.float64).reshape(len(x_test), -1).var(axis=0)
    used = data_var >= 0.1 * data_var.max()
    lo, hi = np.percentile(var[used], [10, 90])
    side = int(round(math.sqrt(r.shape[1])))
    return {"residuals": r.ravel(), "variance_map": var.reshape(side, side) if side * side == r.shape[1] else var,
            "excess_kurtosis": float(stats.kurtosis(r.ravel(), fisher=True)),
            "variance_ratio": float(hi / lo), "sigma": float(r.std()), "k": k}


def residual_histograms(residuals: np.ndarray, *, bins: int = 81, span: float = 0.8) -> dict:
    """Histograms of residuals and of a normal with their standard deviation, on the same bins
    of ``[-span, span]``: ``{"residuals": (edges, fractions), "normal, same σ": (edges, fractions)}``
    (for :func:`aecore.plotting.histograms`; a log scale shows the tails)."""
    from scipy import stats

    r = np.asarray(residuals, np.float64).ravel()
    edges = np.linspace(-span, span, bins + 1)
    counts, _ = np.histogram(r, bins=edges)
    normal = np.diff(stats.norm.cdf(edges, loc=0.0, scale=r.std()))
    return {"residuals": (edges, counts / r.size), "normal, same σ": (edges, normal)}
