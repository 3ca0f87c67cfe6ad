"""One call to make a run repeatable: seeds every RNG and turns on op determinism."""

from __future__ import annotations

import os
import random

import numpy as np


def set_seed(seed: int, *, deterministic: bool = True, tensorflow: bool = True) -> None:
    """Seed Python, NumPy and TensorFlow, and (by default) enable TF op determinism.

    With the same seed, the same code and the same machine, two trainings give
    bit-identical histories (``tests/test_seeding.py`` checks it).

    Args:
      seed: a non-negative integer.
      deterministic: also call ``tf.config.experimental.enable_op_determinism()``.
        Determinism costs a little speed on GPU and nothing measurable on CPU.
      tensorflow: also set TensorFlow's global seed (``tf.random.set_seed``), which only
        TensorFlow's *stateful* random ops use. Setting it clears TensorFlow's kernel cache,
        so every ``tf.function`` called afterwards re-optimises its graph on its first call
        (a noticeable cost per run for the book's short runs). ``aecore``'s
        training loops draw all their randomness from explicit seeds (NumPy ``Generator`` s,
        stateless TensorFlow ops, seeded initialisers) and pass False. With False the global
        seed is still set when none is yet, since op determinism makes TensorFlow's stateful
        random ops fail without one.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    from aecore._tf import tf  # imported here so `import aecore` stays cheap

    os.environ["PYTHONHASHSEED"] = str(seed)  # affects subprocesses only; documented for completeness
    random.seed(seed)
    np.random.seed(seed)
    if tensorflow or _tf_global_seed() is None:  # op determinism needs *a* global seed set
        tf.random.set_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def _tf_global_seed() -> int | None:
    """TensorFlow's global seed, None when unset (or unreadable in this TF version)."""
    try:
        from tensorflow.python.eager import context
    except ImportError:  # pragma: no cover - TF moved it
        return None
    return context.global_seed()
