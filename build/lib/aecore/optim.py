"""Optimisers by name: one factory for every training loop.

Adam (the default everywhere) nearly ignores the scale of the loss (its step is
g / (|g| + eps)); plain SGD (no momentum) does not, which is what makes a sum-vs-mean
reduction mismatch bite (chapter 4). :mod:`aecore.vae` trains with :class:`aecore.adam.FusedAdam`,
the same algorithm in one fused update (kept apart because its rounding differs from Keras'
Adam, and the book's VAE runs were trained with it).
"""

from __future__ import annotations

from typing import Any

OPTIMIZERS: tuple[str, ...] = ("adam", "sgd")


def check_optimizer(name: Any) -> str:
    """``name`` if it is a key of :data:`OPTIMIZERS`; ValueError listing them otherwise."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
    return name


def make_optimizer(name: str, learning_rate: float) -> Any:
    """A fresh Keras optimizer: ``"adam"`` (Keras defaults) or ``"sgd"`` (plain, no momentum)."""
    check_optimizer(name)
    from aecore._tf import keras  # lazy (seconds), and quiet

    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.0)
    return keras.optimizers.Adam(learning_rate=learning_rate)
