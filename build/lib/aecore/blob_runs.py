"""Chapter 4's runs: the question's sigmoid MLP autoencoder and "the blob".

The grid lives here, not in the notebook, so that the notebook and
``python -m aecore run -e blob`` (and ``-e blob-sgd-rates``) build the very same configs and
share their cache entries.

Training follows the question (source 001): ``dense_ae`` (784-100-50-100-784, sigmoid hidden
units), Adam at 1e-2, batch 64, at least 20 epochs. The correct settings (MSE and BCE on both
datasets) are set beside the mistakes that reproduce the reported blob (each a named option of
:mod:`aecore.losses` or of the model), and a plain-SGD grid tests the sum-vs-mean reduction.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd

from aecore.experiments import Config
from aecore.profiles import Profile

MODEL = "dense_ae"
MIN_EPOCHS = 20  # the sigmoid MLP sits on the mean image for a few epochs: run at least this long
TRAIN: dict[str, Any] = {"batch_size": 64, "learning_rate": 1e-2}  # Adam

# name: (dataset, loss, model options)
SETTINGS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "MNIST, MSE": ("mnist", "mse", {}),
    "MNIST, BCE": ("mnist", "bce", {}),
    "Fashion, MSE": ("fashion_mnist", "mse", {}),
    "Fashion, BCE": ("fashion_mnist", "bce", {}),
    "double sigmoid": ("mnist", "bce_on_probabilities", {}),
    "categorical CE": ("mnist", "categorical_ce", {}),
    "targets 0–255": ("mnist", "bce_targets_0_255", {}),
    "BCE, ReLU": ("mnist", "bce", {"activation": "relu"}),
    "double sigmoid, ReLU": ("mnist", "bce_on_probabilities", {"activation": "relu"}),
}
CORRECT: tuple[str, ...] = ("MNIST, MSE", "MNIST, BCE", "Fashion, MSE", "Fashion, BCE")
MISTAKES: tuple[str, ...] = ("double sigmoid", "categorical CE", "targets 0–255", "BCE, ReLU",
                             "double sigmoid, ReLU")

# Plain SGD (no momentum): the rates that reproduce the reported blob, tried with one seed.
SGD: dict[str, Any] = {"optimizer": "sgd"}
SGD_RATES: tuple[float, ...] = (300.0, 1000.0, 3000.0)


def epochs(profile: Profile) -> int:
    """The chapter's epochs: the profile's, at least :data:`MIN_EPOCHS`."""
    return max(profile.epochs, MIN_EPOCHS)


def config(profile: Profile, dataset: str, loss: str, seed: int, model_kwargs: Mapping[str, Any] | None = None,
           **train: Any) -> Config:
    """One run of the question's MLP; ``model_kwargs`` and ``train`` override the defaults."""
    return Config.from_profile(profile, dataset=dataset, model=MODEL, loss=loss, seed=seed,
                               model_kwargs={"jit_compile": False, **(model_kwargs or {})},
                               **{"epochs": epochs(profile), **TRAIN, **train})


def setting_configs(profile: Profile, seeds: Sequence[int] | None = None) -> dict[str, list[Config]]:
    """Every setting of :data:`SETTINGS`, once per seed (default: the profile's)."""
    seeds = profile.seeds if seeds is None else seeds
    return {name: [config(profile, d, loss, s, kw) for s in seeds] for name, (d, loss, kw) in SETTINGS.items()}


def sgd_rate_configs(profile: Profile, seed: int | None = None) -> dict[tuple[str, float], Config]:
    """The plain-SGD rate grid on MNIST: ``(loss, rate) -> config``, one seed (default: the
    profile's first)."""
    seed = profile.seeds[0] if seed is None else seed
    return {(loss, lr): config(profile, "mnist", loss, seed, SGD, learning_rate=lr)
            for loss in ("mse", "bce") for lr in SGD_RATES}


def best_rates(grid: pd.DataFrame) -> dict[str, float]:
    """``{"mse": rate, "bce": rate}``: per loss, the rate of the grid with the lowest final
    training loss (the training loss, not a held-out one: the rate is chosen without the test
    images). ``grid`` has columns ``loss`` (``"mse"``/``"bce"``), ``learning_rate`` and
    ``final_loss``; NaN losses (diverged) never win."""
    missing = {"loss", "learning_rate", "final_loss"} - set(grid.columns)
    if missing:
        raise ValueError(f"the rate grid lacks the column(s) {sorted(missing)}")
    out = {}
    for loss in ("mse", "bce"):
        part = grid[(grid["loss"] == loss) & grid["final_loss"].notna()]
        if part.empty:
            raise ValueError(f"no {loss} run of the rate grid finished; nothing to choose a rate from")
        out[loss] = float(part.loc[part["final_loss"].idxmin(), "learning_rate"])
    return out


def sgd_setting_configs(profile: Profile, rates: Mapping[str, float],
                        seeds: Sequence[int] | None = None) -> dict[str, list[Config]]:
    """The reduction comparison under plain SGD on MNIST at the chosen ``rates``
    (:func:`best_rates`): MSE and BCE averaged over pixels at MSE's rate, BCE summed over
    pixels at that rate, and BCE at its own rate; each once per seed."""
    seeds = profile.seeds if seeds is None else seeds
    settings = {
        "SGD, MSE, mean": ("mse", rates["mse"], "per_pixel"),
        "SGD, BCE, mean": ("bce", rates["mse"], "per_pixel"),
        "SGD, BCE, sum": ("bce", rates["mse"], "per_image"),
        "SGD, BCE, mean, its own rate": ("bce", rates["bce"], "per_pixel"),
    }
    return {name: [config(profile, "mnist", loss, s, SGD, learning_rate=lr, reduction=red) for s in seeds]
            for name, (loss, lr, red) in settings.items()}


def configs(profile: Profile, seeds: Sequence[int] | None = None) -> list[Config]:
    """The chapter's main grid as one list (for ``python -m aecore run -e blob``)."""
    return [cfg for cfgs in setting_configs(profile, seeds).values() for cfg in cfgs]
