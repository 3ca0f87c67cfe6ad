"""aecore.validate.check_int: the one integer check every module uses."""

from __future__ import annotations

import numpy as np
import pytest

from aecore.validate import MAX_SEED, check_int


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(2)])
def test_integers_pass_as_python_ints(value):
    out = check_int(value, "n")
    assert out == int(value) and type(out) is int


@pytest.mark.parametrize("value, kwargs, message", [
    (0, {}, "n must be a positive integer, got 0"),
    (-1, {"minimum": 0}, "n must be a non-negative integer, got -1"),
    (True, {}, "n must be a positive integer, got True"),
    (np.bool_(True), {}, "n must be a positive integer, got np.True_"),
    (2.0, {}, "n must be a positive integer, got 2.0"),
    ("3", {}, "n must be a positive integer, got '3'"),
    (1, {"minimum": 2}, "n must be an integer >= 2, got 1"),
    (MAX_SEED + 1, {"minimum": 0, "maximum": MAX_SEED},
     "n must be an integer from 0 to 4294967295 (2**32 - 1), got 4294967296"),
])
def test_everything_else_is_named_in_the_message(value, kwargs, message):
    with pytest.raises(ValueError) as err:
        check_int(value, "n", **kwargs)
    assert str(err.value) == message


def test_configs_refuse_seeds_numpy_cannot_take():
    from aecore import experiments, vae_runs

    assert experiments.Config(dataset="mnist", model="conv_ae", loss="mse", seed=MAX_SEED).seed == MAX_SEED
    with pytest.raises(ValueError, match=r"seed must be an integer from 0 to 4294967295"):
        experiments.Config(dataset="mnist", model="conv_ae", loss="mse", seed=MAX_SEED + 1)
    with pytest.raises(ValueError, match=r"data_seed must be an integer from 0 to 4294967295"):
        vae_runs.VAEConfig(data_seed=2**40)
