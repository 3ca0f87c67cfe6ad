"""Optimisers by name: the one factory of every training loop (autoencoders and VAEs).

Adam (the default everywhere) nearly ignores the scale of the loss (its step is
g / (|g| + eps)); plain SGD (no momentum) does not, which is what makes a sum-vs-mean
reduction mismatch bite (chapter 4).

Adam is :class:`aecore.adam.FusedAdam`, Keras' algorithm and defaults in one TensorFlow kernel
per weight. ``benchmarks/adam_ab.py`` measured it against ``keras.optimizers.Adam`` on the same
training steps (``benchmarks/results/adam_ab.md``): Keras took 1.08x the time per step for
``dense_ae`` and ``conv_ae`` and 1.26x for the VAE's MLP, so every model trains with it.
"""

from __future__ import annotations

from typing import Any, Sequence

OPTIMIZERS: tuple[str, ...] = ("adam", "sgd")


def check_optimizer(name: Any) -> str:
    """``name`` if it is a key of :data:`OPTIMIZERS`; ValueError listing them otherwise."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
    return name


class KerasSGD:
    """Keras' plain SGD behind the interface of :class:`aecore.adam.FusedAdam`:
    ``apply_gradients(grads)`` in the order of ``variables``, and ``state``."""

    def __init__(self, variables: Sequence[Any], learning_rate: float) -> None:
        from aecore._tf import keras  # lazy (seconds), and quiet

        self.variables = list(variables)
        self._opt = keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.0)
        self._opt.build(self.variables)  # its state is created outside tf.function

    def apply_gradients(self, grads: Sequence[Any]) -> None:
        self._opt.apply_gradients(zip(grads, self.variables))

    @property
    def state(self) -> list[Any]:
        """The optimizer's own variables (what a shared program resets between runs)."""
        return list(self._opt.variables)


def make_optimizer(name: str, variables: Sequence[Any], learning_rate: float,
                   lr_scales: Sequence[float] | None = None) -> Any:
    """A fresh optimizer of ``variables``, created outside ``tf.function``: ``"adam"``
    (:class:`aecore.adam.FusedAdam`, Keras' defaults) or ``"sgd"`` (plain, no momentum).
    ``lr_scales``: one learning-rate factor per variable (Adam only).

    Both have ``apply_gradients(grads)`` (one gradient per variable, in order) and ``state``
    (the optimizer's variables)."""
    check_optimizer(name)
    if name == "sgd":
        if lr_scales is not None and any(float(f) != 1.0 for f in lr_scales):
            raise ValueError("per-variable learning-rate factors are implemented for Adam only")
        return KerasSGD(variables, learning_rate)
    from aecore.adam import FusedAdam

    return FusedAdam(variables, learning_rate=learning_rate, lr_scales=lr_scales)
