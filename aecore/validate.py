"""Argument checks shared by every module: one message per kind of mistake.

NumPy only (no TensorFlow), so that any layer can use them.
"""

from __future__ import annotations

from typing import Any

import numpy as np


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
