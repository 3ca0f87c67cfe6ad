"""set_seed makes training repeatable: same seed, same history; another seed, another one."""

from __future__ import annotations

import numpy as np
import pytest

import aecore


def _train_history(seed: int) -> list[float]:
    import keras

    aecore.set_seed(seed)
    x = np.random.default_rng(0).uniform(size=(256, 20)).astype("float32")  # fixed data
    model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(20)])
    model.compile(optimizer="adam", loss="mse")
    hist = model.fit(x, x, epochs=3, batch_size=32, shuffle=True, verbose=0)
    return hist.history["loss"]


def test_same_seed_gives_identical_history_and_other_seed_differs():
    a, b = _train_history(7), _train_history(7)
    assert a == b  # bit-identical, not approximately equal
    assert _train_history(8) != a


@pytest.mark.parametrize("bad", [-1, 1.5, "3", None, True])
def test_bad_seed_raises(bad):
    with pytest.raises(ValueError, match="seed"):
        aecore.set_seed(bad)
