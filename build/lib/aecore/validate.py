"""Argument checks shared by every module: one message per kind of mistake.

NumPy only (no TensorFlow), so that any layer can use them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

IMAGE_SHAPE: tuple[int, int, int] = (28, 28, 1)  # [H, W, C] of every image of the book (re-exported by data)

# Seeds reach NumPy's legacy seeding (aecore.set_seed), which takes none larger.
MAX_SEED = 2**32 - 1


def check_int(value: Any, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as a Python int, if it is an integer (not a bool) from ``minimum`` to
    ``maximum`` (no upper bound when None).

    Raises:
      ValueError: naming ``name``, the value and what it must be (a positive or non-negative
        integer, or an integer in a range).
    """
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum
            or (maximum is not None and value > maximum)):
        if maximum is not None:
            kind = f"an integer from {minimum} to {maximum}" + (" (2**32 - 1)" if maximum == MAX_SEED else "")
        else:
            kind = {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, f"an integer >= {minimum}")
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def check_images(x: Any, what: str, *, shape: tuple[int, ...] = IMAGE_SHAPE) -> np.ndarray:
    """``x`` as float32 images ``[N, *shape]`` in [0, 1], or ValueError naming what is wrong.

    Every likelihood of the book models pixels in [0, 1] (its mean is a sigmoid, or the
    continuous Bernoulli's mean, of the logits). The likelihoods' own range check cannot run
    inside a compiled training step, so it runs here, on the whole array: trained on 0-255
    or [-1, 1] targets, BCE goes negative and nothing else would complain.
    """
    raw = np.asarray(x)
    if raw.ndim < 2 or raw.shape[0] == 0 or tuple(raw.shape[1:]) != tuple(shape):
        hint = ""
        if raw.ndim == 2 and raw.shape[1] == int(np.prod(shape)):
            hint = ": flat vectors? reshape them with x.reshape(-1, 28, 28, 1)"
        elif raw.ndim == 3 and tuple(raw.shape[1:]) == tuple(shape)[:2]:
            hint = ": add the channel axis with x[..., None]"
        dims = ", ".join(map(str, shape))
        raise ValueError(f"{what} must be a non-empty batch of images [N, {dims}], got shape {raw.shape}{hint}")
    x = raw.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise ValueError(f"{what} holds {int((~np.isfinite(x)).sum())} NaN/inf values")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        hint = (" (uint8 pixels: divide by 255)" if lo >= 0.0 and hi <= 255.0 else
                " (images scaled to [-1, 1]? map them back with (x + 1) / 2)" if lo >= -1.0 and hi <= 1.0 else "")
        raise ValueError(f"{what} must lie in [0, 1], the range every likelihood here models, got "
                         f"[{lo:g}, {hi:g}]{hint}")
    return x
