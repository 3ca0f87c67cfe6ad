"""benchmarks.adam_ab times the same training step under two optimisers: check that the two arms
really are the same step (same model, same loss, the same Adam update up to rounding)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import adam_ab


@pytest.mark.parametrize("model", ["dense_ae", "vae_mlp"])
def test_the_two_arms_take_the_same_adam_steps(model):
    arms = adam_ab._arms(model)
    losses = {arm: [float(step().numpy()) for _ in range(3)] for arm, step in arms.items()}
    assert losses["keras"][0] == losses["fused"][0]  # same weights, same loss before any update
    # then the same algorithm (Keras' Adam and ResourceApplyAdam differ only in rounding)
    np.testing.assert_allclose(losses["keras"][1:], losses["fused"][1:], rtol=1e-4)
    assert losses["keras"][2] != losses["keras"][0]  # the steps do train
