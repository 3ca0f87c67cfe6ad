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

from aecore.experiments import Config
from aecore.profiles import PROFILES, Profile

BATCH_SIZE = 32  # the question's

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
