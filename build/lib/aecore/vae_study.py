"""Chapter 6's runs and the tables over them: the article's VAEs (source 004), keras-io's
example against ours, and the collapse columns the chapter reads.

Defined here, not in the notebook, so that ``python -m aecore run -e vae-article`` runs exactly
what the chapter shows (and shares its cache entries). The runner itself (config, cache, run,
sweep) is :mod:`aecore.vae_runs`.
"""

from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

from aecore.profiles import Profile
from aecore.vae_runs import VAEConfig, VAEResult


def summarize(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Mean, std, min, max and count across seeds of each ``setting`` (in first-seen order)."""
    return table.groupby("setting", sort=False)[list(columns)].agg(["mean", "std", "min", "max", "count"])


def histories(results_: Sequence[VAEResult]) -> pd.DataFrame:
    """The per-epoch histories of several runs, stacked with ``setting`` and ``seed`` columns."""
    frames = []
    for res in results_:
        h = res.history.copy()
        h["setting"], h["seed"] = res.config.setting_label(), res.config.seed
        frames.append(h)
    return pd.concat(frames, ignore_index=True)



def collapse_columns(table: pd.DataFrame, mean_image_mse: float) -> pd.DataFrame:
    """A copy of a :func:`sweep` table with ``mse_ratio_to_mean_image`` (the run's test MSE per
    pixel divided by that of predicting the mean training image) and ``collapsed`` (no active
    latent unit: the posterior ignores the image, the "reconstruction stuck while KL falls"
    symptom)."""
    out = table.copy()
    out["mse_ratio_to_mean_image"] = out["mse_per_pixel"] / float(mean_image_mse)
    out["collapsed"] = out["active_units"] == 0
    return out


# --------------------------------------------------------------------------- chapter 6's runs

MSE_SIGMA = 0.5 ** 0.5  # a Gaussian with sigma^2 = 1/2: NLL summed over pixels = sum of squared errors + const


def chapter_epochs(profile: Profile) -> int:
    """Epochs for chapter 6's VAEs: the profile's, but at least 300 optimiser steps (a VAE's
    KL needs a few hundred steps to settle; the fast profile has only 8 steps per epoch)."""
    return max(profile.epochs, math.ceil(300 / math.ceil(profile.n_train / profile.batch_size)))


def article_examples(profile: Profile) -> dict[str, VAEConfig]:
    """The article's three networks (source 004) with an "MSE" (Gaussian, sigma^2 = 1/2)
    decoder, a variant with only the encoder weak, and a 16-dimensional control."""
    base = VAEConfig.from_profile(profile, encoder_hidden=(128, 64), latent_dim=2, decoder="gaussian",
                                  sigma=MSE_SIGMA, epochs=chapter_epochs(profile))
    return {
        "ex. 1: 128-64, z=2": base,
        "ex. 2: 32, z=2": base.replace(encoder_hidden=(32,)),
        "ex. 2b: encoder 32 only": base.replace(encoder_hidden=(32,), decoder_hidden=(64, 128)),
        "ex. 3: beta=10": base.replace(beta=10.0),
        "control: 128-64, z=16": base.replace(latent_dim=16),
    }


def article_grid(profile: Profile) -> dict[tuple[str, str], VAEConfig]:
    """Each example with the reconstruction summed and averaged over pixels (not 2b averaged)."""
    return {(name, red): cfg.replace(recon_reduction=red) for name, cfg in article_examples(profile).items()
            for red in ("sum", "mean") if not (name.startswith("ex. 2b") and red == "mean")}


def quality_configs(profile: Profile) -> dict[str, VAEConfig]:
    """Dynamically binarised MNIST, Bernoulli decoder, IWAE k = 100 on the first ``n_iwae`` test
    images: keras-io's example and ours at latent size 2, and ours at 50; the profile's epochs
    for all (the keras example trains more slowly than our MLP: see the runs' ``train_seconds``)."""
    common = dict(binarize="dynamic", decoder="bernoulli", iwae_k=100, n_iwae=max(100, profile.n_test // 10))
    base = VAEConfig.from_profile(profile, **common)
    return {
        "keras-io example, z=2": base.replace(model="keras_example", architecture="conv",
                                              encoder_hidden=(16,), latent_dim=2),
        "aecore MLP 512-256, z=2": base.replace(encoder_hidden=(512, 256), latent_dim=2),
        "aecore MLP 512-256, z=50": base.replace(encoder_hidden=(512, 256), latent_dim=50),
    }
