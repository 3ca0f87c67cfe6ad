"""Has an autoencoder collapsed to the mean image? The figures that decide it.

A collapsed autoencoder outputs (nearly) the same image whatever its input: usually the
mean training image, the best constant under squared error, seen as a "blob". Two figures
say it, both computed on held-out images ``x`` and their reconstructions ``x_hat`` and both
unitless, in units of the data's own variation:

- ``spread_ratio``: how much the reconstructions vary *across images*, divided by how much
  the images do (pixel variances across images, averaged over pixels). 1 for a perfect
  reconstruction, 0 for an output that ignores its input. **It decides collapse.**
- ``distance_ratio``: the mean squared distance of the reconstructions to the training mean
  image, divided by that of the images themselves. 1 for a perfect reconstruction, 0 for the
  mean image itself. A collapsed model with a small ``distance_ratio`` collapsed *to the
  mean image*; with a large one, to some other constant picture (a saturated blob).

They are linked: ``distance_ratio = spread_ratio + offset_ratio``, where ``offset_ratio`` is
the squared distance between the *average* reconstruction and the mean image (same units),
so a small ``distance_ratio`` implies a small ``spread_ratio``. The MSE against the
mean-image baseline (``mse_ratio_to_mean_image``, below 1 beats it) is reported too: it says
how good the reconstructions are, not whether they depend on the input.

The default threshold, 0.1, says "the output keeps less than a tenth of the images' variation".
Trained, working autoencoders of this book keep well over half of it, and collapsed ones a
few thousandths, so the verdict does not hinge on the exact value; :func:`detect` reports
the figures so a reader can check the margin.

:class:`EpochTracker` computes the figures (and the first-layer weight norm) after every
training epoch; :func:`aecore.experiments.run` passes it to :func:`aecore.training.fit` for the
architectures of :data:`aecore.experiments.TRACKS_COLLAPSE` (``dense_ae``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

import numpy as np

from aecore import criteria

# The book's collapse criterion (aecore.criteria, where every criterion is defined once).
DEFAULT_THRESHOLD = criteria.COLLAPSE_SPREAD_RATIO


def _flat64(x: Any, what: str) -> np.ndarray:
    """``[N, ...]`` -> float64 ``[N, D]``; rejects empty, 1-D and non-finite input."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim < 2 or a.shape[0] == 0:
        raise ValueError(f"{what} must be a non-empty batch [N, ...], got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{what} holds {int((~np.isfinite(a)).sum())} NaN/inf values")
    return a.reshape(a.shape[0], -1)


@dataclasses.dataclass(frozen=True)
class CollapseReport:
    """Whether reconstructions collapsed to (nearly) one image, and the figures that decide it.

    Attributes:
      collapsed: ``spread_ratio <= threshold``: the output (nearly) ignores the input.
      to_mean_image: ``distance_ratio <= threshold``: the output is (nearly) the mean image
        (implies ``collapsed``).
      spread_ratio: variance of the reconstructions across images / that of the images,
        each averaged over pixels (unitless; 1 = perfect, 0 = constant output). Decides
        ``collapsed``.
      distance_ratio: mean squared distance of the reconstructions to the mean image / that
        of the images (unitless; 0 = the mean image itself). Decides ``to_mean_image``.
      mse_ratio_to_mean_image: MSE of the reconstructions / MSE of the mean image, both
        against the images (below 1 beats the mean-image baseline).
      data_spread: the images' variance across images, averaged over pixels (intensity^2):
        the denominator of ``spread_ratio``.
      threshold: the cut-off used for both decisions.
      n_images: how many images the figures were computed on.
    """

    collapsed: bool
    to_mean_image: bool
    spread_ratio: float
    distance_ratio: float
    mse_ratio_to_mean_image: float
    data_spread: float
    threshold: float
    n_images: int

    @property
    def kind(self) -> str:
        """``"mean image"``, ``"constant image"`` (collapsed, but not to the mean image) or
        ``"not collapsed"``."""
        if self.to_mean_image:
            return "mean image"
        return "constant image" if self.collapsed else "not collapsed"

    def describe(self) -> str:
        """One sentence with the verdict and its deciding figures."""
        figures = (f"spread ratio {self.spread_ratio:.3f}, distance ratio to the mean image "
                   f"{self.distance_ratio:.3f}, MSE / mean-image MSE {self.mse_ratio_to_mean_image:.3f}; "
                   f"threshold {self.threshold:g}, {self.n_images:,} images")
        if self.to_mean_image:
            return f"collapsed to (nearly) the mean image ({figures})"
        if self.collapsed:
            return f"collapsed to a constant image that is not the mean image ({figures})"
        return f"not collapsed ({figures})"


def detect(x: Any, x_hat: Any, *, mean_image: Any = None,
           threshold: float = DEFAULT_THRESHOLD) -> CollapseReport:
    """Says whether ``x_hat`` collapsed to (nearly) one image, and which.

    Formula, with images ``x_i``, reconstructions ``y_i`` (``N`` of each, ``D`` pixels) and
    the mean image ``m``: ``spread_ratio = sum_j Var_i(y_ij) / sum_j Var_i(x_ij)`` and
    ``distance_ratio = sum_ij (y_ij - m_j)^2 / sum_ij (x_ij - m_j)^2`` (population variances,
    float64 sums).

    Args:
      x: held-out images ``[N, ...]`` (N >= 2), e.g. ``[N, 28, 28, 1]`` in [0, 1].
      x_hat: their reconstructions, same shape.
      mean_image: the mean *training* image, shape ``x.shape[1:]`` (or ``[1, ...]``); None
        uses the mean of ``x``.
      threshold: cut-off for both ratios, in (0, 1).

    Returns:
      A :class:`CollapseReport`.

    Raises:
      ValueError: shapes differ, fewer than 2 images, non-finite values, images that do not
        vary at all (the ratios are undefined), or a threshold outside (0, 1).
    """
    if not (isinstance(threshold, (int, float)) and 0.0 < threshold < 1.0):
        raise ValueError(f"threshold must lie in (0, 1), got {threshold!r}")
    x_arr, y_arr = np.asarray(x), np.asarray(x_hat)
    if x_arr.shape != y_arr.shape:
        raise ValueError(f"images {x_arr.shape} and reconstructions {y_arr.shape} must have the same shape")
    xf, yf = _flat64(x_arr, "x"), _flat64(y_arr, "x_hat")  # [N, D]
    if xf.shape[0] < 2:
        raise ValueError("need at least 2 images to measure a spread across images")
    if mean_image is None:
        m = xf.mean(axis=0)
    else:
        m_arr = np.asarray(mean_image, dtype=np.float64)
        if m_arr.size != xf.shape[1]:
            raise ValueError(f"mean_image has {m_arr.size} pixels, the images have {xf.shape[1]}")
        m = m_arr.reshape(-1)
        if not np.isfinite(m).all():
            raise ValueError("mean_image holds NaN/inf values")
    data_spread = float(xf.var(axis=0).mean())  # intensity^2, averaged over pixels
    data_distance = float(np.mean(np.square(xf - m)))
    if data_spread <= 0.0 or data_distance <= 0.0:
        raise ValueError("the images do not vary across the batch: collapse is undefined")
    spread_ratio = float(yf.var(axis=0).mean()) / data_spread
    distance_ratio = float(np.mean(np.square(yf - m))) / data_distance
    mse_ratio = float(np.mean(np.square(xf - yf))) / data_distance
    return CollapseReport(collapsed=spread_ratio <= threshold, to_mean_image=distance_ratio <= threshold,
                          spread_ratio=spread_ratio, distance_ratio=distance_ratio,
                          mse_ratio_to_mean_image=mse_ratio, data_spread=data_spread,
                          threshold=float(threshold), n_images=int(xf.shape[0]))


def epochs_to_collapse(spread_ratios: Sequence[float], *,
                       threshold: float = DEFAULT_THRESHOLD) -> float:
    """How fast a run collapsed: the first epoch from which it stays collapsed to the end.

    Args:
      spread_ratios: ``spread_ratio`` after epochs 1, 2, ... (a history column).
      threshold: as in :func:`detect`.

    Returns:
      The 1-based epoch (a float, for tables), or NaN when the last epoch is not collapsed.
      1 means the run was collapsed after its first epoch and never left.
    """
    r = np.asarray(spread_ratios, dtype=np.float64)
    if r.ndim != 1 or r.size == 0:
        raise ValueError(f"spread_ratios must be a non-empty 1-D sequence, got shape {r.shape}")
    above = np.flatnonzero(~(r <= threshold))  # NaN counts as "not collapsed"
    if above.size == 0:
        return 1.0
    last_above = int(above[-1])
    return float(last_above + 2) if last_above + 1 < r.size else math.nan


def escape_epoch(spread_ratios: Sequence[float], *, threshold: float = DEFAULT_THRESHOLD) -> float:
    """The first epoch after which the reconstructions were *not* collapsed.

    Args:
      spread_ratios: ``spread_ratio`` after epochs 1, 2, ... (a history column).
      threshold: as in :func:`detect`; the default is the book's criterion
        (:func:`aecore.criteria.collapsed`).

    Returns:
      The 1-based epoch (a float), or NaN when every epoch was collapsed. A sigmoid MLP
      starts collapsed (its initial output barely depends on the input), so this is how
      long it sat on the mean-image plateau. (:func:`aecore.criteria.first_epoch` finds it.)
    """
    r = np.asarray(spread_ratios, dtype=np.float64)
    if r.ndim != 1 or r.size == 0:
        raise ValueError(f"spread_ratios must be a non-empty 1-D sequence, got shape {r.shape}")
    left = criteria.collapsed(r) if threshold == DEFAULT_THRESHOLD else (r <= threshold)
    return criteria.first_epoch(np.arange(1, r.size + 1), ~left & ~np.isnan(r))


def bright_region_overlap(image: Any, mean_image: Any, *, level: float = 0.5) -> tuple[int, int, float]:
    """Where an image is bright compared with where the mean image is: pixel counts and IoU.

    Tests the guess that a blob is the region where the mean intensity exceeds ``level``.

    Args:
      image: one image (e.g. the average reconstruction of a collapsed model), any shape.
      mean_image: the mean training image, same number of pixels.
      level: the intensity that counts as bright.

    Returns:
      ``(bright pixels of image, pixels of mean_image above level, intersection over union)``;
      the IoU is NaN when both regions are empty.
    """
    a = np.asarray(image, dtype=np.float64).reshape(-1) > level
    b = np.asarray(mean_image, dtype=np.float64).reshape(-1) > level
    if a.size != b.size:
        raise ValueError(f"image has {a.size} pixels, mean_image has {b.size}")
    union = int((a | b).sum())
    iou = int((a & b).sum()) / union if union else math.nan
    return int(a.sum()), int(b.sum()), float(iou)


def first_layer_variable(model: Any) -> Any:
    """The input -> first-layer weight variable of an autoencoder (its encoder's first kernel):
    live, so a gradient can be taken with respect to it."""
    for layer in getattr(model, "encoder", model).layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is not None:
            return kernel
    raise ValueError(f"{getattr(model, 'name', model)!r} has no layer with a kernel")


def frobenius_norm(w: Any) -> float:
    """The Frobenius norm of ``w``, the same to the last bit on every CPU: each float32 weight
    is squared exactly in float64 and the squares summed correctly rounded (``math.fsum``), where
    ``np.linalg.norm`` of float32 weights depends on the CPU's vector kernels (a 1e-7 difference
    between two machines)."""
    squares = np.square(np.asarray(w, dtype=np.float64)).ravel()
    return math.sqrt(math.fsum(squares.tolist()))


def first_layer_kernel(model: Any) -> np.ndarray:
    """A NumPy copy of :func:`first_layer_variable`, e.g. ``[784, 100]`` for ``dense_ae``."""
    kernel = first_layer_variable(model)
    return np.asarray(kernel.numpy() if hasattr(kernel, "numpy") else kernel)


class EpochTracker:
    """Per-epoch collapse figures, as a :func:`aecore.training.fit` ``on_epoch_end`` hook.

    Args:
      x_train: the training images; only their mean image is kept.
      x_val: held-out images the figures are computed on (the first ``max_images``).
      likelihood: what turns logits into reconstructions (a ``Likelihood`` or its name).
      max_images: cap on the held-out images used, to keep each epoch cheap.
      threshold: as in :func:`detect`.

    Calling it with ``(epoch, model)`` returns the history columns:

    - ``first_layer_norm``: Frobenius norm of the input -> first-layer weights (the question
      saw them go to zero);
    - ``mean_image_distance``: mean squared distance of the reconstructions to the training
      mean image (intensity^2 per pixel), and ``distance_ratio`` (that / the images' own);
    - ``output_spread``: variance of the reconstructions across images, averaged over pixels
      (intensity^2), and ``spread_ratio`` (that / the images' own);
    - ``mse_ratio_to_mean_image``: reconstruction MSE / the mean image's.
    """

    def __init__(self, x_train: Any, x_val: Any, *, likelihood: Any, max_images: int = 1000,
                 threshold: float = DEFAULT_THRESHOLD) -> None:
        x_train = np.asarray(x_train, dtype=np.float32)
        self.mean_image = x_train.astype(np.float64).mean(axis=0)  # [28, 28, 1]
        self.x_val = np.asarray(x_val, dtype=np.float32)[:max_images]
        self.likelihood = likelihood
        self.threshold = threshold

    def __call__(self, epoch: int, model: Any) -> Mapping[str, float]:
        x_hat = model.reconstruct(self.x_val, likelihood=self.likelihood)
        report = detect(self.x_val, x_hat, mean_image=self.mean_image, threshold=self.threshold)
        return {
            "first_layer_norm": frobenius_norm(first_layer_kernel(model)),
            "mean_image_distance": float(np.mean(np.square(
                x_hat.astype(np.float64) - self.mean_image))),
            "distance_ratio": report.distance_ratio,
            "output_spread": report.spread_ratio * report.data_spread,
            "spread_ratio": report.spread_ratio,
            "mse_ratio_to_mean_image": report.mse_ratio_to_mean_image,
        }


def summarize_run(result: Any, x: Any, *, mean_image: Any,
                  threshold: float = DEFAULT_THRESHOLD) -> dict[str, Any]:
    """The collapse figures of one trained run, for a table with one row per run.

    Args:
      result: an :class:`aecore.experiments.Result` of a model that tracks collapse (its
        history has ``spread_ratio`` and ``first_layer_norm`` columns, as ``dense_ae``'s do);
        its ``initial_model()`` gives the untrained weights the norms are compared with.
      x: held-out images ``[N, 28, 28, 1]`` to judge the final model on.
      mean_image: the mean training image.
      threshold: as in :func:`detect`.

    Returns:
      ``collapsed``, ``to_mean_image``, ``kind``, ``spread_ratio``, ``distance_ratio``,
      ``mse_ratio_to_mean_image`` (the final model on ``x``); ``escape_epoch`` (first epoch
      not collapsed) and ``collapse_epoch`` (first epoch from which it stayed collapsed),
      from the per-epoch figures on the validation images; ``steps_per_epoch``;
      ``first_layer_norm_init`` / ``_final`` (Frobenius norms) and ``first_layer_norm_min_ratio``
      (smallest per-epoch norm / initial norm); ``bright_pixels``, ``mean_bright_pixels`` and
      ``bright_iou`` from :func:`bright_region_overlap` of the average reconstruction.
    """
    cfg, history = result.config, result.history
    missing = {"spread_ratio", "first_layer_norm"} - set(history.columns)
    if missing:
        raise ValueError(f"the history of {cfg.label()} lacks {sorted(missing)}: its model does not "
                         "track collapse (train a dense_ae, or pass an EpochTracker to fit)")
    x_hat = result.reconstruct(x)
    report = detect(x, x_hat, mean_image=mean_image, threshold=threshold)
    initial = result.initial_model()
    norm0 = frobenius_norm(first_layer_kernel(initial))
    norms = history["first_layer_norm"].to_numpy(np.float64)
    spread = history["spread_ratio"].to_numpy(np.float64)
    bright, mean_bright, iou = bright_region_overlap(x_hat.mean(axis=0), mean_image)
    return {
        "collapsed": report.collapsed, "to_mean_image": report.to_mean_image, "kind": report.kind,
        "spread_ratio": report.spread_ratio, "distance_ratio": report.distance_ratio,
        "mse_ratio_to_mean_image": report.mse_ratio_to_mean_image,
        "escape_epoch": escape_epoch(spread, threshold=threshold),
        "collapse_epoch": epochs_to_collapse(spread, threshold=threshold),
        "steps_per_epoch": math.ceil(cfg.n_train / cfg.batch_size),
        "first_layer_norm_init": norm0, "first_layer_norm_final": float(norms[-1]),
        "first_layer_norm_min_ratio": float(min(norms.min(), norm0) / norm0),
        "bright_pixels": bright, "mean_bright_pixels": mean_bright, "bright_iou": iou,
    }


def _epochs_text(values: Any) -> str:
    """Per-seed epochs as ``"3, 4, never"`` (NaN: the event never happened)."""
    return ", ".join("never" if not np.isfinite(v) else str(int(v)) for v in values)


def summarize_settings(runs: Any, *, by: str = "setting") -> Any:
    """One row per setting from :func:`summarize_run` rows, its seeds pooled.

    Args:
      runs: a DataFrame with one :func:`summarize_run` row per run and a ``by`` column.
      by: the column naming the setting (rows keep their first-appearance order).

    Returns:
      A DataFrame indexed by setting: ``runs``, ``collapsed`` and ``to mean image`` (counts
      of runs), the means over seeds of ``spread ratio``, ``distance ratio`` and
      ``MSE ÷ mean image``, ``left the plateau at epoch`` and ``collapsed for good from epoch``
      (per seed, as text; "never" when it did not happen) and ``W1 final ÷ initial`` (mean
      over seeds of the first-layer weight norm's final / initial value).
    """
    import pandas as pd  # lazy: the detector itself needs only NumPy

    g = runs.groupby(by, sort=False)
    w1 = (runs["first_layer_norm_final"] / runs["first_layer_norm_init"]).groupby(runs[by], sort=False)
    return pd.DataFrame({
        "runs": g.size(),
        "collapsed": g["collapsed"].sum().astype(int),
        "to mean image": g["to_mean_image"].sum().astype(int),
        "spread ratio": g["spread_ratio"].mean(),
        "distance ratio": g["distance_ratio"].mean(),
        "MSE ÷ mean image": g["mse_ratio_to_mean_image"].mean(),
        "left the plateau at epoch": g["escape_epoch"].agg(_epochs_text),
        "collapsed for good from epoch": g["collapse_epoch"].agg(_epochs_text),
        "W1 final ÷ initial": w1.mean(),
    })
