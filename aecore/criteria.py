"""The book's criteria, each defined once: when a run counts as collapsed, stuck or learned.

Every chapter decides some of its verdicts by asking the same few questions of a run. Each
question has one name, one threshold and one function here, used by every chapter:

- **An autoencoder collapsed to the mean image** (chapter 4): its reconstructions keep less
  than :data:`COLLAPSE_SPREAD_RATIO` of the images' own variation across images
  (:func:`collapsed`; :func:`aecore.collapse.detect` and the training-time tracker use this value).
- **A run is stuck at the mean image** (chapter 5): its held-out MSE is no better than the
  training mean image's on the same images, a ratio of at least :data:`STUCK_RATIO`.
- **A run has left the mean image** (chapters 3 and 6): its held-out MSE is below
  :data:`LEFT_MEAN_IMAGE_RATIO` of the mean image's. Between the two ratios a run is neither
  stuck nor clearly working (some of chapter 5's MAE runs without a sigmoid end there).
- **A VAE's posterior collapsed** (chapter 6): no active unit, or a test KL below one bit
  (:data:`POSTERIOR_COLLAPSE_KL_NATS`).

The two mean-image ratios are different questions, not two settings of one: "no better than
predicting the average image" is a floor that needs no tuning, "has clearly left it" is a bar.
(Chapter 6 once used a third bar, 0.9, for "a remedy fixes the failure"; that is the question "has
left the mean image", and it now uses that bar.)

NumPy only; :func:`first_epoch` is the one way to find the first epoch that meets a criterion.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# An autoencoder collapsed: the reconstructions' spread across images / the images' own spread is
# at most this ("the output keeps less than a tenth of the images' variation"; aecore.collapse).
COLLAPSE_SPREAD_RATIO = 0.1
# Stuck at the mean image: held-out MSE / the mean training image's MSE on the same images at or
# above this (1: no better than outputting the average image for every input).
STUCK_RATIO = 1.0
# Left the mean image ("learned", "works", "fixes"): the same ratio below this.
LEFT_MEAN_IMAGE_RATIO = 0.75
# A VAE's posterior collapsed: no active unit, or a test KL (nats per image, an upper bound on the
# mutual information I(x; z), Hoffman & Johnson 2016) below one bit.
POSTERIOR_COLLAPSE_KL_NATS = math.log(2.0)


def _ratio(value: Any, name: str) -> np.ndarray:
    r = np.asarray(value, np.float64)
    if np.isnan(r).any():
        raise ValueError(f"{name} is NaN: no measurement to decide on")
    return r


def collapsed(spread_ratio: Any) -> Any:
    """Whether autoencoder runs collapsed (elementwise): a spread ratio at most
    :data:`COLLAPSE_SPREAD_RATIO`. NaN (no measurement) counts as not collapsed, as a history
    column can hold NaN before its first evaluation. A bool for a scalar."""
    r = np.asarray(spread_ratio, np.float64) <= COLLAPSE_SPREAD_RATIO
    return bool(r) if r.ndim == 0 else r


def stuck(mse_ratio_to_mean_image: Any) -> Any:
    """Whether runs are stuck at the mean image (elementwise): a held-out MSE ratio to the mean
    image's at or above :data:`STUCK_RATIO`. A bool for a scalar; ValueError on NaN."""
    r = _ratio(mse_ratio_to_mean_image, "mse_ratio_to_mean_image") >= STUCK_RATIO
    return bool(r) if r.ndim == 0 else r


def left_mean_image(mse_ratio_to_mean_image: Any) -> Any:
    """Whether runs have left the mean image (elementwise): the ratio below
    :data:`LEFT_MEAN_IMAGE_RATIO`. A bool for a scalar; ValueError on NaN."""
    r = _ratio(mse_ratio_to_mean_image, "mse_ratio_to_mean_image") < LEFT_MEAN_IMAGE_RATIO
    return bool(r) if r.ndim == 0 else r


def posterior_collapsed(active_units: Any, kl_nats: Any) -> Any:
    """Whether VAE runs' posteriors collapsed (elementwise): no active unit, or a test KL below
    :data:`POSTERIOR_COLLAPSE_KL_NATS`. ValueError on NaN."""
    units = _ratio(active_units, "active units")
    kl = _ratio(kl_nats, "KL")
    return (units == 0) | (kl < POSTERIOR_COLLAPSE_KL_NATS)


def first_epoch(epochs: Any, met: Any) -> float:
    """The first epoch (from ``epochs``, in order) at which ``met`` is true; NaN if never.

    ``epochs`` and ``met`` are aligned sequences (a history's ``epoch`` column and a criterion
    applied to another column)."""
    e, m = np.asarray(epochs, np.float64), np.asarray(met, bool)
    if e.shape != m.shape or e.ndim != 1:
        raise ValueError(f"epochs and met must be 1-D and aligned, got shapes {e.shape} and {m.shape}")
    hit = np.flatnonzero(m)
    return float(e[hit[0]]) if hit.size else math.nan
