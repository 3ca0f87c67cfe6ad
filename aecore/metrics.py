"""Reconstruction metrics and baselines: NumPy in, NumPy out.

Images are float arrays ``[N, 28, 28, 1]`` (any ``[N, ...]`` works except for SSIM) with
values in [0, 1]; reconstructions ``x_hat`` have the same shape. Every per-image metric
returns a float64 array ``[N]``; :func:`summarize` and :func:`evaluate` average them over
images. Units:

- ``mse_per_pixel``: squared intensity error averaged over pixels (intensity units^2);
- ``bce_per_pixel``: binary cross-entropy in **nats per pixel**; its minimum is the
  entropy of the targets (> 0 for grey pixels), so ``bce_excess_per_pixel`` subtracts it;
- ``psnr_db``: peak signal-to-noise ratio in **dB** (higher is better);
- ``ssim``: structural similarity, unitless, 1 for identical images.

Baselines: the training mean image (what an autoencoder that ignores its input would
output) and PCA with ``k`` components (the best any linear autoencoder with a
``k``-dimensional code can do under MSE, Eckart-Young).
"""

from __future__ import annotations

from typing import Mapping, NamedTuple

import numpy as np

# --------------------------------------------------------------------------- helpers


def _flat(x: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """``[N, ...]`` -> ``[N, D]`` in ``dtype`` (a view when no conversion is needed)."""
    x = np.asarray(x)
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"expected a non-empty batch [N, ...], got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(dtype)
    return x.reshape(x.shape[0], -1).astype(dtype, copy=False)


def check_unit_images(x: np.ndarray, what: str) -> None:
    """Raises ValueError unless ``x`` is finite and lies in [0, 1]; the message names ``what``,
    the values found and the likely fix (uint8 pixels not divided by 255, logits for pixels)."""
    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise ValueError(f"{what} must be a numeric array, got dtype {x.dtype}")
    if x.size == 0:
        return
    if np.issubdtype(x.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(x)))
        if bad:
            raise ValueError(f"{what} holds {bad} NaN or infinite value(s): a diverged model or corrupt data; "
                             "no metric can be computed from it")
    lo, hi = float(np.min(x)), float(np.max(x))
    if lo < 0.0 or hi > 1.0:
        hint = ("uint8 pixels not divided by 255?" if hi > 1.0 and hi <= 255.0 and lo >= 0.0 else
                "logits passed where the likelihood's mean (e.g. sigmoid(logits)) belongs?")
        raise ValueError(f"{what} must lie in [0, 1], got values in [{lo:g}, {hi:g}] ({hint})")


def _pair(x: np.ndarray, x_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``[N, D]`` views of images and reconstructions, in a common float dtype.

    Both must be finite (any range: PSNR takes ``max_val``, and a baseline's reconstructions,
    such as unclipped PCA's, may leave [0, 1]; :func:`per_image_metrics` and :func:`evaluate`,
    which score a model, require [0, 1] of both). Elementwise work stays in the inputs' precision (float32 for images:
    10,000 test images are 7.8 M pixels, and float64 copies cost more than the metrics); every
    *sum* over pixels or images is accumulated in float64.
    """
    x, x_hat = np.asarray(x), np.asarray(x_hat)
    if x.shape != x_hat.shape:
        raise ValueError(f"images {x.shape} and reconstructions {x_hat.shape} must have the same shape")
    for arr, what in ((x, "the images"), (x_hat, "the reconstructions")):
        if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
            raise ValueError(f"{what} hold {int(np.count_nonzero(~np.isfinite(arr)))} NaN or infinite value(s) "
                             "(a diverged model? corrupt data?): no metric can be computed from them")
    dtype = np.result_type(x.dtype, x_hat.dtype, np.float32)
    return _flat(x, dtype), _flat(x_hat, dtype)


# --------------------------------------------------------------------------- per-image metrics


def mse_per_pixel(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """Mean squared error of each image, averaged over its pixels.

    Formula: ``mean_j (x_j - x_hat_j)^2``.

    Args:
      x: images ``[N, ...]`` in [0, 1].
      x_hat: reconstructions, same shape.

    Returns:
      float64 ``[N]``, in squared intensity units per pixel.
    """
    x, x_hat = _pair(x, x_hat)
    return np.mean(np.square(x - x_hat), axis=1, dtype=np.float64)


_TARGETS, _RECONSTRUCTIONS = "the images (targets)", "the reconstructions"  # what check_unit_images names
BCE_EPS = 1e-7  # bce_per_pixel's clipping margin (Keras' epsilon)


def bce_per_pixel(x: np.ndarray, x_hat: np.ndarray, eps: float = BCE_EPS) -> np.ndarray:
    """Binary cross-entropy of each image, averaged over its pixels, in nats per pixel.

    Formula: ``-mean_j [x_j log p_j + (1 - x_j) log(1 - p_j)]`` with ``p = clip(x_hat, eps,
    1 - eps)``: reconstructions are probabilities here (not logits), so they are clipped to
    keep the logs finite, as Keras does with ``epsilon = 1e-7``.

    Args:
      x: targets ``[N, ...]`` in [0, 1].
      x_hat: reconstructions in [0, 1], same shape.
      eps: clipping margin.

    Returns:
      float64 ``[N]`` in nats per pixel; never below the entropy of ``x``
      (:func:`bernoulli_entropy_per_pixel`).

    Raises:
      ValueError: ``x`` or ``x_hat`` not finite or outside [0, 1] (0-255 pixels, or logits
        passed for the reconstructions: the clipping would hide either).
    """
    check_unit_images(x, _TARGETS)
    check_unit_images(x_hat, _RECONSTRUCTIONS)
    return _bce_per_pixel(x, x_hat, eps)


def _bce_per_pixel(x: np.ndarray, x_hat: np.ndarray, eps: float) -> np.ndarray:
    """:func:`bce_per_pixel` of arrays already checked to lie in [0, 1]."""
    x, x_hat = _pair(x, x_hat)
    # float64: in float32, 1 - 1e-7 rounds to 1 - 1.19e-7 and the clipped logs move by ~1%.
    x, p = x.astype(np.float64), np.clip(x_hat.astype(np.float64), eps, 1.0 - eps)
    return -np.mean(x * np.log(p) + (1.0 - x) * np.log1p(-p), axis=1, dtype=np.float64)


def bernoulli_entropy_per_pixel(x: np.ndarray) -> np.ndarray:
    """Binary entropy of the targets, ``-mean_j [x log x + (1 - x) log(1 - x)]``, in nats per
    pixel: the smallest BCE any reconstruction of ``x`` can reach (0 for binary images).

    Returns:
      float64 ``[N]``.

    Raises:
      ValueError: ``x`` not finite or outside [0, 1].
    """
    check_unit_images(x, _TARGETS)
    return _bernoulli_entropy_per_pixel(x)


def _bernoulli_entropy_per_pixel(x: np.ndarray) -> np.ndarray:
    """:func:`bernoulli_entropy_per_pixel` of an array already checked to lie in [0, 1]."""
    x = _flat(x, np.float32)
    # xlogy-style: 0 log 0 = 0, and no log(0) warnings for binary pixels.
    safe = np.clip(x, np.finfo(x.dtype).tiny, 1.0)
    safe1 = np.clip(1.0 - x, np.finfo(x.dtype).tiny, 1.0)
    h = -(x * np.log(safe) + (1.0 - x) * np.log(safe1))
    return np.mean(h, axis=1, dtype=np.float64)


def bce_excess_per_pixel(x: np.ndarray, x_hat: np.ndarray, eps: float = BCE_EPS) -> np.ndarray:
    """BCE minus the targets' entropy (the Bernoulli KL divergence), nats per pixel.

    Zero for a perfect reconstruction whatever the grey levels, so unlike raw BCE it can be
    compared across datasets with different amounts of grey.

    Returns:
      float64 ``[N]`` >= 0 (up to the ``eps`` clipping).

    Raises:
      ValueError: ``x`` or ``x_hat`` not finite or outside [0, 1].
    """
    check_unit_images(x, _TARGETS)
    check_unit_images(x_hat, _RECONSTRUCTIONS)
    return _bce_per_pixel(x, x_hat, eps) - _bernoulli_entropy_per_pixel(x)


def psnr_db(x: np.ndarray, x_hat: np.ndarray, max_val: float = 1.0) -> np.ndarray:
    """Peak signal-to-noise ratio of each image in dB.

    Formula: ``10 log10(max_val^2 / mse)``; ``inf`` for a perfect reconstruction.

    Args:
      x: images ``[N, ...]``.
      x_hat: reconstructions, same shape.
      max_val: the largest possible intensity (1 for images in [0, 1]).

    Returns:
      float64 ``[N]`` in dB.
    """
    mse = mse_per_pixel(x, x_hat)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(max_val**2 / mse)


def ssim(x: np.ndarray, x_hat: np.ndarray, *, max_val: float = 1.0, batch_size: int = 2000) -> np.ndarray:
    """Structural similarity of each image with ``tf.image.ssim`` (11x11 Gaussian window,
    sigma 1.5, k1 = 0.01, k2 = 0.03, the Wang et al. 2004 defaults).

    Args:
      x: images ``[N, H, W, C]`` in [0, max_val].
      x_hat: reconstructions, same shape.
      max_val: the dynamic range of the intensities.
      batch_size: images per TensorFlow call (memory only).

    Returns:
      float64 ``[N]``, unitless, 1 for identical images.
    """
    x, x_hat = np.asarray(x, np.float32), np.asarray(x_hat, np.float32)
    if x.shape != x_hat.shape or x.ndim != 4 or x.shape[0] == 0:
        raise ValueError(f"ssim needs two non-empty [N, H, W, C] arrays of the same shape, "
                         f"got {x.shape} and {x_hat.shape}")
    _pair(x, x_hat)  # refuses NaN/inf (TensorFlow would return NaN); any range (max_val)
    from aecore._tf import tf  # lazy: the other metrics do not need it

    out = [tf.image.ssim(x[s:s + batch_size], x_hat[s:s + batch_size], max_val=max_val).numpy()
           for s in range(0, x.shape[0], batch_size)]
    return np.concatenate(out).astype(np.float64)


PER_IMAGE_METRICS: tuple[str, ...] = ("mse_per_pixel", "bce_per_pixel", "bce_excess_per_pixel",
                                      "psnr_db", "ssim")


def per_image_metrics(x: np.ndarray, x_hat: np.ndarray) -> dict[str, np.ndarray]:
    """Every per-image metric of :data:`PER_IMAGE_METRICS`, each float64 ``[N]``; images and
    reconstructions must both lie in [0, 1]."""
    check_unit_images(x, _TARGETS)
    check_unit_images(x_hat, _RECONSTRUCTIONS)
    bce = _bce_per_pixel(x, x_hat, BCE_EPS)  # bce_per_pixel(x, x_hat), checked above
    return {"mse_per_pixel": mse_per_pixel(x, x_hat),
            "bce_per_pixel": bce,
            "bce_excess_per_pixel": bce - _bernoulli_entropy_per_pixel(x),
            "psnr_db": psnr_db(x, x_hat),
            "ssim": ssim(x, x_hat)}


def summarize(per_image: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Averages each per-image array over images: ``{name: mean}`` as Python floats.

    PSNR is averaged in dB (the mean of per-image PSNRs, not the PSNR of the mean MSE).
    """
    return {name: float(np.mean(values)) for name, values in per_image.items()}


# --------------------------------------------------------------------------- baselines


def mean_image_baseline(x_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """Reconstructs every test image as the mean training image.

    Args:
      x_train: images ``[M, ...]``.
      x_test: images ``[N, ...]`` (same per-image shape).

    Returns:
      float32 ``[N, ...]``: the training mean image repeated N times.
    """
    x_train, x_test = np.asarray(x_train), np.asarray(x_test)
    if x_train.shape[1:] != x_test.shape[1:]:
        raise ValueError(f"train images {x_train.shape[1:]} and test images {x_test.shape[1:]} differ")
    mean = x_train.astype(np.float64).mean(axis=0).astype(np.float32)  # [...]
    return np.broadcast_to(mean, x_test.shape).copy()


class PCA(NamedTuple):
    """A fitted PCA.

    Attributes:
      mean: float64 ``[D]`` training mean.
      components: float64 ``[k, D]`` orthonormal principal directions, by decreasing variance.
      explained_variance: float64 ``[k]`` variance along each direction (intensity^2).
      explained_variance_ratio: float64 ``[k]`` fraction of the total variance.
      image_shape: per-image shape, e.g. ``(28, 28, 1)``.
    """

    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray
    image_shape: tuple[int, ...]


def _svd(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean ``[D]``, singular values ``[R]`` and right singular vectors ``[R, D]`` of the
    centred data, in float64, ``R = min(N, D)``.

    Computed from the eigendecomposition of the ``[D, D]`` scatter matrix, which is about
    10x faster than an SVD of the ``[N, D]`` data for N = 5,000 images of D = 784 pixels;
    in float64 the squared condition number costs nothing that matters for variance
    fractions or the leading components.
    """
    x = _flat(x_train)  # [N, D]
    mean = x.mean(axis=0)
    xc = x - mean
    eigval, eigvec = np.linalg.eigh(xc.T @ xc)  # ascending
    r = min(x.shape)
    order = np.argsort(eigval)[::-1][:r]
    s = np.sqrt(np.clip(eigval[order], 0.0, None))  # [R]
    return mean, s, eigvec[:, order].T  # [D], [R], [R, D]


def pca_fit(x_train: np.ndarray, k: int) -> PCA:
    """Principal components of the training images, by SVD of the centred data matrix.

    Args:
      x_train: images ``[N, ...]``.
      k: number of components, ``1 <= k <= min(N, D)``.

    Returns:
      A :class:`PCA` with ``k`` components.
    """
    x_train = np.asarray(x_train)
    n, d = x_train.shape[0], int(np.prod(x_train.shape[1:]))
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= min(n, d):
        raise ValueError(f"k must be an integer in 1..{min(n, d)} (min of N={n} and D={d}), got {k!r}")
    mean, s, vt = _svd(x_train)
    var = s**2 / max(n - 1, 1)  # [R]
    total = var.sum()
    ratio = var / total if total > 0 else np.zeros_like(var)
    return PCA(mean=mean, components=vt[:k], explained_variance=var[:k],
               explained_variance_ratio=ratio[:k], image_shape=tuple(x_train.shape[1:]))


def pca_truncate(pca: PCA, k: int) -> PCA:
    """The first ``k`` components of a fitted PCA: the same as ``pca_fit(x_train, k)``,
    without another SVD (fit once with many components, then truncate)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(pca.components):
        raise ValueError(f"k must be an integer in 1..{len(pca.components)}, got {k!r}")
    return PCA(mean=pca.mean, components=pca.components[:k], explained_variance=pca.explained_variance[:k],
               explained_variance_ratio=pca.explained_variance_ratio[:k], image_shape=pca.image_shape)


def pca_reconstruct(pca: PCA, x: np.ndarray, *, clip: bool = False) -> np.ndarray:
    """Projects images on the principal subspace and maps them back.

    Formula: ``x_hat = mean + (x - mean) C^T C`` for components ``C`` ``[k, D]``.

    Args:
      pca: from :func:`pca_fit`.
      x: images ``[N, ...]`` with ``pca.image_shape``.
      clip: clip the result to [0, 1] (the linear reconstruction can leave that range).

    Returns:
      float32 ``[N, ...]``, same shape as ``x``.
    """
    x = np.asarray(x)
    if tuple(x.shape[1:]) != tuple(pca.image_shape):
        raise ValueError(f"images have shape {x.shape[1:]}, the PCA was fitted on {pca.image_shape}")
    xc = _flat(x) - pca.mean  # [N, D]
    x_hat = pca.mean + (xc @ pca.components.T) @ pca.components  # [N, D]
    if clip:
        x_hat = np.clip(x_hat, 0.0, 1.0)
    return x_hat.reshape(x.shape).astype(np.float32)


def explained_variance(x_train: np.ndarray, *, cumulative: bool = True) -> np.ndarray:
    """Explained-variance ratio of every principal component of the training images.

    Args:
      x_train: images ``[N, ...]``.
      cumulative: return the running sum (the curve: entry ``k-1`` is the fraction of the
        variance kept by ``k`` components) instead of each component's own fraction.

    Returns:
      float64 ``[min(N, D)]``, unitless fractions in [0, 1].
    """
    _, s, _ = _svd(x_train)
    var = s**2
    ratio = var / var.sum() if var.sum() > 0 else np.zeros_like(var)
    return np.cumsum(ratio) if cumulative else ratio


# --------------------------------------------------------------------------- bottleneck


def dead_unit_mask(activations: np.ndarray, eps: float = 0.0) -> np.ndarray:
    """Which code units are dead: ``|activation| <= eps`` on every image.

    Args:
      activations: ``[N, units]`` bottleneck activations (e.g. ``model.encode(x_test)``).
      eps: tolerance; 0 counts exact zeros only (what a dead ReLU outputs).

    Returns:
      bool ``[units]``.
    """
    a = np.asarray(activations)
    if a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(f"activations must be a non-empty [N, units] array, got shape {a.shape}")
    return np.all(np.abs(a) <= eps, axis=0)


def dead_units(activations: np.ndarray, eps: float = 0.0) -> int:
    """Number of code units that are dead (``|activation| <= eps``) on every image.

    Args:
      activations: ``[N, units]`` bottleneck activations.
      eps: tolerance (0: exact zeros, a dead ReLU).

    Returns:
      The count, an int in ``0..units``.
    """
    return int(dead_unit_mask(activations, eps).sum())


# --------------------------------------------------------------------------- everything at once


def evaluate(x: np.ndarray, x_hat: np.ndarray, *, x_train: np.ndarray | None = None,
             k_pca: int = 16, pca: PCA | None = None) -> dict[str, float]:
    """Averaged reconstruction metrics, and ratios to the two baselines.

    Args:
      x: test images ``[N, 28, 28, 1]`` in [0, 1] (the targets).
      x_hat: their reconstructions, same shape, in [0, 1].
      x_train: training images ``[M, 28, 28, 1]`` to fit the baselines on; None skips them.
      k_pca: PCA components for the linear baseline (16 = the conv_ae's code size).
      pca: an already fitted ``pca_fit(x_train, k_pca)`` to reuse (saves an SVD when many
        models share a training set); fitted here when None.

    Returns:
      ``{"n_images", "mse_per_pixel", "bce_per_pixel", "bce_excess_per_pixel", "psnr_db",
      "ssim"}`` (means over images, units as in the module docstring) and, with ``x_train``,
      ``"mean_image_mse_per_pixel"``, ``f"pca{k}_mse_per_pixel"``, ``"mse_ratio_to_mean_image"``
      and ``f"mse_ratio_to_pca{k}"`` (model MSE / baseline MSE: below 1 beats the baseline).
    """
    out: dict[str, float] = {"n_images": int(np.asarray(x).shape[0])}
    out.update(summarize(per_image_metrics(x, x_hat)))
    if x_train is not None:
        mse = out["mse_per_pixel"]
        mean_mse = float(np.mean(mse_per_pixel(x, mean_image_baseline(x_train, x))))
        if pca is None:
            pca = pca_fit(x_train, k_pca)
        elif pca.components.shape[0] != k_pca:
            raise ValueError(f"pca has {pca.components.shape[0]} components but k_pca={k_pca}")
        pca_mse = float(np.mean(mse_per_pixel(x, pca_reconstruct(pca, x))))
        out["mean_image_mse_per_pixel"] = mean_mse
        out[f"pca{k_pca}_mse_per_pixel"] = pca_mse
        out["mse_ratio_to_mean_image"] = mse / mean_mse if mean_mse > 0 else float("nan")
        out[f"mse_ratio_to_pca{k_pca}"] = mse / pca_mse if pca_mse > 0 else float("nan")
    return out


# --------------------------------------------------------------------------- sharpness and bias (chapter 5)


def _images_2d(x: np.ndarray) -> np.ndarray:
    """``[N, H, W]`` or ``[N, H, W, 1]`` -> float64 ``[N, H, W]`` (one channel only)."""
    x = np.asarray(x)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or x.shape[0] == 0 or min(x.shape[1:]) < 2:
        raise ValueError(f"expected single-channel images [N, H, W] or [N, H, W, 1] with H, W >= 2, "
                         f"got shape {np.shape(x)}")
    return x.astype(np.float64)


def gradient_energy(x: np.ndarray) -> np.ndarray:
    """Mean squared intensity gradient of each image: how much edge there is.

    Formula: ``(sum_ij (x[i+1, j] - x[i, j])^2 + sum_ij (x[i, j+1] - x[i, j])^2) / (H W)``,
    forward differences between neighbouring pixels inside the image (no padding). A blurred
    image has less of it; a constant image has none.

    Args:
      x: images ``[N, H, W]`` or ``[N, H, W, 1]``.

    Returns:
      float64 ``[N]`` in intensity^2 per pixel.
    """
    x = _images_2d(x)
    dy = np.diff(x, axis=1)  # [N, H-1, W]
    dx = np.diff(x, axis=2)  # [N, H, W-1]
    return (np.square(dy).sum(axis=(1, 2)) + np.square(dx).sum(axis=(1, 2))) / (x.shape[1] * x.shape[2])


def laplacian_energy(x: np.ndarray) -> np.ndarray:
    """Mean squared 5-point Laplacian of each image: how much fine detail (curvature) there is.

    Formula: ``mean_ij (x[i-1,j] + x[i+1,j] + x[i,j-1] + x[i,j+1] - 4 x[i,j])^2`` with pixels
    outside the image taken as 0 (``scipy.ndimage.laplace(mode="constant")``). It weighs the
    finest scales most, so blur lowers it faster than :func:`gradient_energy`.

    Args:
      x: images ``[N, H, W]`` or ``[N, H, W, 1]``.

    Returns:
      float64 ``[N]`` in intensity^2 per pixel.
    """
    x = _images_2d(x)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))  # zeros outside the image
    lap = (padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1] + padded[:, 1:-1, :-2] + padded[:, 1:-1, 2:]
           - 4.0 * x)  # [N, H, W]
    return np.square(lap).mean(axis=(1, 2))


SHARPNESS_KINDS = {"gradient": gradient_energy, "laplacian": laplacian_energy}


def sharpness_ratio(x: np.ndarray, x_hat: np.ndarray, kind: str = "gradient") -> float:
    """Edge energy of the reconstructions relative to that of the images.

    Formula: ``sum_n E(x_hat_n) / sum_n E(x_n)`` with ``E`` = :func:`gradient_energy` or
    :func:`laplacian_energy`. 1: as sharp as the data; below 1: blurrier (or fainter); above
    1: more edge than the data (e.g. noise or hard, over-contrasted edges).

    Args:
      x: images ``[N, H, W(, 1)]``.
      x_hat: reconstructions, same shape.
      kind: ``"gradient"`` or ``"laplacian"``.

    Returns:
      The ratio, a unitless float.
    """
    if kind not in SHARPNESS_KINDS:
        raise ValueError(f"unknown sharpness kind {kind!r}; valid: {', '.join(SHARPNESS_KINDS)}")
    if np.shape(x) != np.shape(x_hat):
        raise ValueError(f"images {np.shape(x)} and reconstructions {np.shape(x_hat)} must have the same shape")
    energy = SHARPNESS_KINDS[kind]
    per_image = energy(x)  # [N]; checks the shape first
    _pair(x, x_hat)  # refuses NaN/inf (the ratio would be NaN); any range
    data_energy = float(per_image.sum())
    if not data_energy > 0:
        raise ValueError("the images have no edges (constant images): the ratio is undefined")
    return float(energy(x_hat).sum()) / data_energy


class BinnedError(NamedTuple):
    """Signed reconstruction error in bins of target intensity (from :func:`signed_error_by_target`).

    Attributes (each float64 ``[bins]``, NaN for an empty bin, except ``edges`` and ``count``):
      edges: ``[bins + 1]`` bin edges over [0, 1]; bins are ``[lo, hi)``, the last ``[lo, 1]``.
      count: pixels whose target falls in each bin (int64).
      mean_target: their mean target intensity.
      mean_reconstruction: their mean reconstructed intensity.
      mean_error: their mean signed error ``x_hat - x`` (positive: reconstructed too bright).
    """

    edges: np.ndarray
    count: np.ndarray
    mean_target: np.ndarray
    mean_reconstruction: np.ndarray
    mean_error: np.ndarray


def signed_error_by_target(x: np.ndarray, x_hat: np.ndarray, edges=None) -> BinnedError:
    """Mean signed error ``x_hat - x`` of the pixels in each bin of *target* intensity.

    An unbiased reconstruction has zero mean error in every bin. A reconstruction pulled
    toward 0.5 has positive errors below 0.5 and negative ones above; one pulled toward the
    data's mean intensity has them change sign there instead.

    Args:
      x: targets ``[N, ...]`` in [0, 1].
      x_hat: reconstructions, same shape.
      edges: increasing bin edges from 0 to 1; default ten bins of width 0.1.

    Returns:
      A :class:`BinnedError` (sums accumulated in float64).

    Raises:
      ValueError: NaN/inf in either array, or targets outside [0, 1] (the bins cover [0, 1]).
    """
    x, x_hat = _pair(x, x_hat)
    check_unit_images(x, _TARGETS)
    edges = np.linspace(0.0, 1.0, 11) if edges is None else np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0) or edges[0] != 0.0 or edges[-1] != 1.0:
        raise ValueError(f"edges must increase strictly from 0 to 1, got {edges}")
    t, r = x.ravel().astype(np.float64), x_hat.ravel().astype(np.float64)
    idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(edges) - 2)  # target 1.0 -> last bin
    bins = len(edges) - 1
    count = np.bincount(idx, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_t = np.bincount(idx, weights=t, minlength=bins) / count
        mean_r = np.bincount(idx, weights=r, minlength=bins) / count
        mean_e = np.bincount(idx, weights=r - t, minlength=bins) / count
    return BinnedError(edges, count.astype(np.int64), mean_t, mean_r, mean_e)


def pull_toward_half(x: np.ndarray, x_hat: np.ndarray, *, lo: float = 0.05, hi: float = 0.95) -> float:
    """Mean signed error toward 0.5, over the pixels whose target lies strictly in ``(lo, hi)``.

    Formula: ``mean_j (x_hat_j - x_j) * sign(0.5 - x_j)`` over pixels with ``lo < x_j < hi``:
    positive when reconstructions err toward 0.5 (grey targets below 0.5 come out brighter,
    above 0.5 darker), negative when they err away from it, 0 when unbiased. Pixels with
    target exactly 0.5 count as 0. The default range is the grey, non-binary pixels.

    Args:
      x: targets ``[N, ...]`` in [0, 1] (ValueError otherwise, or for NaN/inf in either array).
      x_hat: reconstructions, same shape (any range).
      lo, hi: the target range, both bounds excluded (``lo=-1, hi=2`` takes every pixel).

    Returns:
      The mean, in intensity units (NaN if no pixel is in range).
    """
    if not lo < hi:
        raise ValueError(f"need lo < hi, got lo={lo}, hi={hi}")
    x, x_hat = _pair(x, x_hat)
    check_unit_images(x, _TARGETS)  # 0.5 is the middle of [0, 1]; reconstructions may leave it
    keep = (x > lo) & (x < hi)
    if not keep.any():
        return float("nan")
    t, r = x[keep].astype(np.float64), x_hat[keep].astype(np.float64)
    return float(np.mean((r - t) * np.sign(0.5 - t)))
