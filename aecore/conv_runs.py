"""Chapter 3's runs: the question's convolutional autoencoder, MSE vs BCE, MNIST vs Fashion-MNIST.

The grid lives here, not in the notebook, so that the notebook and
``python -m aecore run -e conv-ae`` (and ``-e conv-ae-batchnorm-short``) build the very same
configs and share their cache entries.

Training follows the question's code (source 000): Adam at its default rate and **batch size
32**, a reproduction of that setup rather than the book's default of 128; what the smaller
batch costs in images per second is measured in ``benchmarks/results/SUMMARY.md``, and this
chapter pays it on purpose.

Epochs: the profile's. (Halving them in the ``fast`` profile was tried to make CI faster; at
5 epochs of 1,000 images the MNIST MSE runs had not yet left the mean-image plateau, so the
verdict on "MSE works on Fashion-MNIST but not on MNIST" flipped to Supported. The verdicts
must be the same in both profiles, so ``fast`` keeps its 10.)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from aecore import experiments, losses, metrics, report, tables
from aecore.experiments import Config
from aecore.profiles import PROFILES, Profile

BATCH_SIZE = 32  # the question's
# The question's training length: ``model.fit(x_train, x_train, epochs=10, batch_size=32)``. Its
# ``x_train`` is not shown; Keras' standard MNIST training split has 60,000 images.
SOURCE_EPOCHS = 10
KERAS_MNIST_TRAIN = 60_000

# A model "works" (has clearly left the mean-image blob) when its MSE is below this fraction of
# the mean image's: the threshold of the chapter's first verdict and of :func:`plateau_curves`.
LEARNED_RATIO = 0.75

SETTINGS: list[tuple[str, str, str, str | None]] = [  # (dataset, model, loss, binarize)
    ("mnist", "conv_ae", "mse", None),
    ("mnist", "conv_ae", "bce", None),
    ("fashion_mnist", "conv_ae", "mse", None),
    ("fashion_mnist", "conv_ae", "bce", None),
    ("mnist", "conv_ae_bn", "mse", None),  # the question's Example 2
    ("fashion_mnist", "conv_ae_bn", "mse", None),
    ("mnist", "conv_ae", "bce", "threshold"),  # Example 3's suggestion: binarise MNIST at 0.5
]

# The short-training check of BatchNorm: with and without, MSE, on both datasets.
BN_SHORT_SETTINGS: list[tuple[str, str, str, str | None]] = [
    (d, m, "mse", None) for d in ("mnist", "fashion_mnist") for m in ("conv_ae", "conv_ae_bn")]


def _grid(settings: Sequence[tuple], profile: Profile, seeds: Sequence[int]) -> list[Config]:
    return [Config.from_profile(profile, dataset=d, model=m, loss=loss, binarize=b, batch_size=BATCH_SIZE,
                                seed=seed)
            for (d, m, loss, b) in settings for seed in seeds]


def configs(profile: Profile, seeds: Sequence[int] | None = None) -> list[Config]:
    """Every run of the chapter: each of :data:`SETTINGS` once per seed (default: the profile's)."""
    return _grid(SETTINGS, profile, profile.seeds if seeds is None else seeds)


def bn_short_configs(seeds: Sequence[int]) -> list[Config]:
    """The BatchNorm check after short training: always the ``fast`` profile's sizes and epochs,
    whatever profile the chapter runs (in ``fast`` they are the main grid's runs, cached once)."""
    return _grid(BN_SHORT_SETTINGS, PROFILES["fast"], seeds)


def source_steps() -> int:
    """Optimiser steps of the question's ``fit`` call on Keras' standard MNIST (the last,
    smaller batch of each epoch counted)."""
    return SOURCE_EPOCHS * -(-KERAS_MNIST_TRAIN // BATCH_SIZE)


def helps_verdict(words: Sequence[str]) -> str:
    """The verdict on "X helps" from comparisons of X against its baseline, each ``"better"``,
    ``"same"`` or ``"worse"`` beyond the seed spread (one per dataset and training budget, as
    :func:`aecore.tables.compare_settings` gives them): Supported when X is better in every
    one, Refuted when it is better in none, Depends otherwise."""
    words = list(words)
    if not words or set(words) - {"better", "same", "worse"}:
        raise ValueError(f"need comparisons 'better'/'same'/'worse', got {words!r}")
    return report.decide_by_count(sum(w == "better" for w in words), len(words))


def batchnorm_effect(table: pd.DataFrame, col: str = "mse_per_pixel") -> dict[str, tables.Comparison]:
    """BatchNorm's effect per dataset: ``conv_ae_bn`` against ``conv_ae``, both trained with MSE
    on grey images, compared on ``col`` beyond twice the seed spread
    (:func:`aecore.tables.compare_settings`).

    Args:
      table: a :func:`aecore.experiments.sweep` table holding, for each dataset to compare,
        the seeds of both models (other rows are ignored).
      col: the metric, lower is better.

    Returns:
      ``{dataset: Comparison}`` in the table's order of datasets; ``diff`` is BatchNorm's mean
      minus the plain model's.

    Raises:
      ValueError: a dataset has runs of only one of the two models.
    """
    rows = table[(table["loss"] == "gaussian") & table["binarize"].isna()
                 & table["model"].isin(["conv_ae", "conv_ae_bn"])]
    stats = tables.summarize_seeds(rows, [col], by=["setting"])
    out = {}
    for dataset, part in rows.groupby("dataset", sort=False):
        setting = dict(zip(part["model"], part["setting"]))
        if len(setting) != 2:
            raise ValueError(f"{dataset}: need MSE runs of both conv_ae and conv_ae_bn, got {sorted(setting)}")
        out[dataset] = tables.compare_settings(stats, setting["conv_ae_bn"], setting["conv_ae"], col)
    return out


def held_out_mse(cfg: Config) -> pd.DataFrame:
    """Per-epoch held-out MSE per pixel of a Gaussian-likelihood run (cached): ``epoch``, ``val_mse``.

    The history's ``val_loss`` is the Gaussian NLL with sigma = 1, ``MSE / 2 + log(2 pi) / 2``
    nats per pixel, on the first ``n_val`` test images.
    """
    if cfg.loss != "gaussian":
        raise ValueError(f"held-out MSE is read off a Gaussian (MSE) run's val_loss; {cfg.label()} "
                         f"was trained with {cfg.loss!r}")
    h = experiments.run(cfg, progress=False, load_model=False).history
    return pd.DataFrame({"epoch": h["epoch"], "val_mse": 2.0 * (h["val_loss"] - 0.5 * losses.LOG_2PI)})


def plateau_curves(configs_: Sequence[Config]) -> pd.DataFrame:
    """How far each MSE run is from the mean-image blob after every epoch.

    Returns one row per (run, epoch): ``dataset``, ``seed``, ``epoch``, ``val_mse`` and ``ratio``,
    the held-out MSE divided by the mean training image's MSE on the same held-out images
    (1 = no better than the average image).
    """
    frames = []
    for cfg in configs_:
        d = experiments.load_data(cfg)
        x_val = d.test.x[:cfg.val_images]  # the images val_loss was computed on
        blob = float(np.mean(metrics.mse_per_pixel(x_val, metrics.mean_image_baseline(d.train.x, x_val))))
        c = held_out_mse(cfg).assign(dataset=cfg.dataset, seed=cfg.seed)
        frames.append(c.assign(ratio=c["val_mse"] / blob))
    return pd.concat(frames, ignore_index=True)


def epochs_to_learn(curves: pd.DataFrame, threshold: float = LEARNED_RATIO) -> pd.Series:
    """First epoch at which each run's ``ratio`` falls below ``threshold``, indexed by
    (``dataset``, ``seed``); NaN for a run that never does."""
    runs = curves[["dataset", "seed"]].drop_duplicates()
    first = curves[curves["ratio"] < threshold].groupby(["dataset", "seed"])["epoch"].min()
    return first.reindex(pd.MultiIndex.from_frame(runs)).astype(float)
