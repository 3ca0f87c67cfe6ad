"""aecore.adam.FusedAdam against an independent float64 NumPy Adam, and against Keras' Adam."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from aecore.adam import FusedAdam


def _numpy_adam(w0, grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
    # Kingma & Ba (2015), Algorithm 1, with Keras' epsilon placement (outside the square root,
    # bias correction folded into the step size), in float64.
    w, m, v = w0.astype(np.float64), 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps)
    return w


@pytest.mark.parametrize("lr, b1, b2", [(1e-3, 0.9, 0.999), (1e-2, 0.5, 0.99)])
def test_matches_a_float64_numpy_adam(lr, b1, b2):
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(5, 3)).astype(np.float32)
    grads = [rng.normal(scale=s, size=(5, 3)).astype(np.float32) for s in (1.0, 0.1, 3.0, 1e-3, 0.5)]
    var = tf.Variable(w0)
    opt = FusedAdam([var], learning_rate=lr, beta_1=b1, beta_2=b2)
    step = tf.function(lambda g: opt.apply_gradients([g]))
    for g in grads:
        step(tf.constant(g))
    np.testing.assert_allclose(var.numpy(), _numpy_adam(w0, grads, lr, b1, b2), rtol=1e-5, atol=1e-7)
    assert int(opt.iterations.numpy()) == len(grads)


def test_agrees_with_keras_adam_on_keras_variables_and_skips_missing_gradients():
    rng = np.random.default_rng(1)
    layers = [keras.layers.Dense(4), keras.layers.Dense(4)]
    for layer in layers:
        layer.build((None, 3))
    grads = [[rng.normal(size=tuple(v.shape)).astype(np.float32) for v in layers[0].trainable_variables]
             for _ in range(3)]
    ref = keras.optimizers.Adam(1e-3)
    ref.build(layers[0].trainable_variables)
    fused = FusedAdam(layers[1].trainable_variables + [tf.Variable(1.0)], learning_rate=1e-3)
    layers[1].set_weights(layers[0].get_weights())
    for g in grads:
        ref.apply_gradients(zip(g, layers[0].trainable_variables))
        fused.apply_gradients([tf.constant(x) for x in g] + [None])
    for a, b in zip(layers[0].get_weights(), layers[1].get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)
    assert float(fused.variables[-1].numpy()) == 1.0  # no gradient: untouched


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="beta_1 must be a number in"):
        FusedAdam([tf.Variable(1.0)], beta_1=1.0)
    with pytest.raises(ValueError, match="got 2 gradients for 1 variables"):
        FusedAdam([tf.Variable(1.0)]).apply_gradients([tf.constant(1.0), tf.constant(2.0)])
    with pytest.raises(TypeError, match="needs TensorFlow variables"):
        FusedAdam([np.zeros(3)])


def test_lr_scales_give_one_variable_its_own_step():
    """Each variable follows the NumPy Adam at its own rate (learning_rate x its factor)."""
    rng = np.random.default_rng(2)
    w0, s0 = rng.normal(size=(4,)).astype(np.float32), np.float32(0.3)
    grads = [(rng.normal(size=(4,)).astype(np.float32), np.float32(rng.normal())) for _ in range(6)]
    w, s = tf.Variable(w0), tf.Variable(s0)
    opt = FusedAdam([w, s], learning_rate=1e-3, lr_scales=[1.0, 10.0])
    for gw, gs in grads:
        opt.apply_gradients([tf.constant(gw), tf.constant(gs)])
    np.testing.assert_allclose(w.numpy(), _numpy_adam(w0, [g for g, _ in grads], 1e-3), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(s.numpy(), _numpy_adam(np.array(s0), [g for _, g in grads], 1e-2), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="lr_scales needs one positive factor per variable"):
        FusedAdam([w, s], lr_scales=[1.0])
