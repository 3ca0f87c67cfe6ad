"""Does a reconstruction loss pull pixels toward 0.5, or blur the images? (chapter 5)

The chapter trains two autoencoders with four likelihoods each, on both datasets, and
measures on held-out images what each loss does to the reconstructions. This module holds
its experiment grid (shared by the notebook and ``python -m aecore run -e bce-bias``, so the
two share cache entries) and the per-run measurements; the metrics themselves live in
:mod:`aecore.metrics` and the per-pixel theory in :mod:`aecore.analysis`.

Reconstructions are always ``Result.reconstruct``: the mean of the run's likelihood, which
for the continuous Bernoulli is ``mu(lambda)``, not ``lambda = sigmoid(logits)``.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from aecore import data, losses, metrics
from aecore.experiments import Config, Result
from aecore.profiles import Profile

# The four likelihoods compared, as their familiar loss names (aliases of aecore.losses).
LOSSES: tuple[str, ...] = ("mse", "bce", "cb", "mae")

# Training recipe per architecture. conv_ae: the question's batch of 32 and Adam's default
# rate, as in chapter 3, for 10 epochs (48 runs must fit the book's time budget).
# dense_ae: chapter 4's MLP with its ReLU fix, the variant that trains from the first epoch
# (the sigmoid one first sits on the mean-image plateau), with chapter 4's Adam 1e-2,
# batch 64 and 20 epochs.
MODELS: dict[str, dict[str, Any]] = {
    "conv_ae": {"model_kwargs": {}, "batch_size": 32, "epochs": 10, "learning_rate": 1e-3},
    "dense_ae": {"model_kwargs": {"activation": "relu", "jit_compile": False}, "batch_size": 64,
                 "epochs": 20, "learning_rate": 1e-2},
}

# A run is "stuck" when its held-out reconstructions are no better than the training mean
# image repeated: test MSE / the mean image's test MSE at or above this (see :func:`is_stuck`).
STUCK_RATIO = 1.0

# Held-out images scored per run: the profile's, at most this many (scoring all 10,000 test
# images costs ~5 s per run, four minutes over the 48 runs).
MAX_TEST_IMAGES = 2000


def configs(profile: Profile, seeds: Sequence[int]) -> list[Config]:
    """Every run of the chapter: each model, dataset and loss, once per seed.

    Args:
      profile: gives the number of training images (``n_train``) and of test images (capped
        at :data:`MAX_TEST_IMAGES`); epochs, batch size and learning rate come from
        :data:`MODELS`.
      seeds: the seeds.

    Returns:
      Configs ordered by model, dataset, loss, seed.
    """
    out = []
    for model, recipe in MODELS.items():
        for dataset in data.DATASETS:
            for loss in LOSSES:
                for seed in seeds:
                    out.append(Config.from_profile(profile, dataset=dataset, model=model, loss=loss,
                                                   seed=seed, n_test=min(profile.n_test, MAX_TEST_IMAGES),
                                                   **recipe))
    return out


def measure(x: np.ndarray, x_hat: np.ndarray) -> dict[str, float]:
    """What a loss did to the reconstructions of held-out images, in one row.

    Args:
      x: images ``[N, 28, 28, 1]`` in [0, 1].
      x_hat: their reconstructions, same shape.

    Returns:
      ``pull_grey`` (mean error toward 0.5 over grey targets, 0.05-0.95, intensity units),
      ``pull_all`` (the same over every pixel), ``mean_error`` (mean of ``x_hat - x``),
      ``gradient_ratio`` / ``laplacian_ratio`` (edge energy of the reconstructions / the
      images', :func:`aecore.metrics.sharpness_ratio`), ``dark_fraction`` /
      ``bright_fraction`` (reconstructed pixels below 0.05 / above 0.95, to compare with the
      data's), ``mse``, ``psnr_db`` and ``ssim`` (means over images).
    """
    x_hat = np.asarray(x_hat)
    return {
        "pull_grey": metrics.pull_toward_half(x, x_hat),
        "pull_all": metrics.pull_toward_half(x, x_hat, lo=-1.0, hi=2.0),
        "mean_error": float(np.mean(x_hat.astype(np.float64) - np.asarray(x, np.float64))),
        "gradient_ratio": metrics.sharpness_ratio(x, x_hat, "gradient"),
        "laplacian_ratio": metrics.sharpness_ratio(x, x_hat, "laplacian"),
        "dark_fraction": float(np.mean(x_hat < 0.05)),
        "bright_fraction": float(np.mean(x_hat > 0.95)),
        "mse": float(np.mean(metrics.mse_per_pixel(x, x_hat))),
        "psnr_db": float(np.mean(metrics.psnr_db(x, x_hat))),
        "ssim": float(np.mean(metrics.ssim(x, x_hat))),
    }


def binned_table(x: np.ndarray, x_hat: np.ndarray, edges=None) -> pd.DataFrame:
    """:func:`aecore.metrics.signed_error_by_target` as a table, one row per bin
    (``bin_lo``, ``bin_hi``, ``count``, ``mean_target``, ``mean_reconstruction``, ``mean_error``)."""
    b = metrics.signed_error_by_target(x, x_hat, edges)
    return pd.DataFrame({"bin_lo": b.edges[:-1], "bin_hi": b.edges[1:], "count": b.count,
                         "mean_target": b.mean_target, "mean_reconstruction": b.mean_reconstruction,
                         "mean_error": b.mean_error})


def measure_runs(results: Iterable[Result], images: Mapping[str, np.ndarray], *,
                 edges=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`measure` and :func:`binned_table` for many runs.

    Args:
      results: trained runs (e.g. ``experiments.run(cfg)`` for each config).
      images: held-out images per dataset name, ``[N, 28, 28, 1]``; each run is scored on
        the first ``config.n_test`` of its dataset's (its own test images).
      edges: bin edges for the binned errors.

    Returns:
      ``(runs, bins)``: one row per run (``model``, ``dataset``, ``loss`` as "MSE"/"BCE"/...,
      ``seed``, then the :func:`measure` columns) and one row per run and bin.
    """
    rows, bins = [], []
    for res in results:
        cfg = res.config
        x = images[cfg.dataset][:cfg.n_test]
        x_hat = res.reconstruct(x)
        key = {"model": cfg.model, "dataset": cfg.dataset, "loss": losses.get_loss(cfg.loss).loss_name, "seed": cfg.seed}
        rows.append({**key, **measure(x, x_hat)})
        bins.append(binned_table(x, x_hat, edges).assign(**key))
    return pd.DataFrame(rows), pd.concat(bins, ignore_index=True)


def epochs_to_reach(history: pd.DataFrame, column: str, level: float) -> float:
    """First epoch (1-based, from ``history["epoch"]``) at which ``column`` is at or below
    ``level``; NaN if it never is."""
    hit = history.loc[history[column] <= level, "epoch"]
    return float(hit.iloc[0]) if len(hit) else float("nan")


def is_stuck(mse_ratio_to_mean_image: float) -> bool:
    """Whether a run failed to learn: its reconstructions are no better than the mean image.

    Args:
      mse_ratio_to_mean_image: the run's final ``Result.metrics["mse_ratio_to_mean_image"]``,
        the MSE of its reconstructions of the held-out images divided by the MSE of the
        training mean image on the same images (chapter 4's collapse detector).

    Returns:
      True when the ratio is at least :data:`STUCK_RATIO` (1: the run does no better than
      outputting the mean image for every input; an MAE run stuck on black is far above it).

    Raises:
      ValueError: the ratio is NaN (no measurement to decide on).
    """
    ratio = float(mse_ratio_to_mean_image)
    if np.isnan(ratio):
        raise ValueError("mse_ratio_to_mean_image is NaN: cannot tell whether the run is stuck")
    return ratio >= STUCK_RATIO

