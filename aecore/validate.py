"""Argument checks shared by every module: one message per kind of mistake.

NumPy only (no TensorFlow), so that any layer can use them.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def check_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """``value`` as a Python int, if it is an integer (not a bool) of at least ``minimum``.

    Raises:
      ValueError: naming ``name``, the value and what it must be (a positive or non-negative
        integer, or an integer of at least ``minimum``).
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        kind = {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, f"an integer >= {minimum}")
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return int(value)
