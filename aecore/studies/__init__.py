"""The studies: one module per chapter, each with its run grid, its measurements and its verdicts.

- ``data_study``: chapters 1 and 2 (the likelihoods and the data, no training);
- ``conv_runs``: chapter 3 (the convolutional autoencoder, MSE against BCE on two datasets);
- ``blob_runs``: chapter 4 (the sigmoid MLP's blob and the mistakes that make it);
- ``bias``: chapter 5 (BCE's pull toward ½, and MAE);
- ``vae_study``: chapter 6 (the VAE's KL and reconstruction terms).

They sit on top of the library (core, models, training, runs, presentation) and nothing below
imports them (``tests/test_layout.py``). Like ``aecore`` itself, ``aecore.studies`` loads a
module when it is first used.
"""

from __future__ import annotations

_STUDIES = frozenset({"bias", "blob_runs", "conv_runs", "data_study", "vae_study"})


def __getattr__(name: str):
    import importlib

    if name in _STUDIES:
        return importlib.import_module(f"aecore.studies.{name}")
    raise AttributeError(f"module 'aecore.studies' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _STUDIES)


__all__ = sorted(_STUDIES)
