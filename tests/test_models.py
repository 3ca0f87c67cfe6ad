"""aecore.models: the registry, the question's architecture, and the AutoEncoder helpers.

The oracle for the architecture is the question's own Keras code (Examples 1 and 2, with
the missing ``Dense`` import added): same layers, same weight count, and, with our weights
copied in, the same outputs as ``sigmoid(our logits)``.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras.layers import (BatchNormalization, Conv2D, Dense, Flatten, MaxPooling2D, Reshape,
                          UpSampling2D)

from aecore import losses, models


def _question_model(batch_norm: bool) -> keras.Sequential:
    """The article's Example 1 (or 2 with BatchNorm), verbatim apart from keras.Input."""
    def bn() -> list:
        return [BatchNormalization()] if batch_norm else []

    return keras.Sequential([
        keras.Input((28, 28, 1)),
        Conv2D(32, (3, 3), activation="relu", padding="same"), *bn(),
        MaxPooling2D((2, 2), padding="same"),
        Conv2D(16, (3, 3), activation="relu", padding="same"), *bn(),
        MaxPooling2D((2, 2), padding="same"),
        Flatten(),
        Dense(16, activation="relu"),
        Dense(7 * 7 * 16, activation="relu"),
        Reshape((7, 7, 16)),
        UpSampling2D((2, 2)),
        Conv2D(16, (3, 3), activation="relu", padding="same"), *bn(),
        UpSampling2D((2, 2)),
        Conv2D(1, (3, 3), activation="sigmoid", padding="same"),
    ])


def _images(n: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, 28, 28, 1)).astype(np.float32)


def test_registry_and_unknown_name():
    assert set(models.MODELS) == {"conv_ae", "conv_ae_bn", "dense_ae"}
    with pytest.raises(ValueError, match="valid names: conv_ae, conv_ae_bn, dense_ae"):
        models.build_model("resnet")


def test_unknown_keyword_lists_valid_ones():
    with pytest.raises(ValueError, match="latent_dim"):
        models.build_model("conv_ae", width=3)


@pytest.mark.parametrize("name,batch_norm", [("conv_ae", False), ("conv_ae_bn", True)])
def test_conv_models_match_the_question_code(name, batch_norm):
    ours = models.build_model(name, seed=0)
    theirs = _question_model(batch_norm)
    assert ours.count_params() == theirs.count_params()
    rng = np.random.default_rng(0)
    for layer in ours.encoder.layers + ours.decoder.layers:
        if isinstance(layer, BatchNormalization):  # distinct gamma, beta, mean, variance
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32)
                               for w in layer.get_weights()])
    # Copy our weights (same layer order) into the question's model: its sigmoid output
    # must equal the sigmoid of our logits.
    ours_weights = ours.encoder.get_weights() + ours.decoder.get_weights()
    theirs.set_weights(ours_weights)
    x = _images()
    expected = theirs.predict(x, verbose=0)
    np.testing.assert_allclose(ours.reconstruct(x), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.reconstruct(x, likelihood="bce"), expected, rtol=1e-5, atol=1e-6)


def test_conv_ae_layers_and_linear_output():
    m = models.build_model("conv_ae", seed=0)
    bottleneck = m.encoder.get_layer("bottleneck")
    assert bottleneck.units == 16 and bottleneck.activation is keras.activations.relu
    last = m.decoder.layers[-1]
    assert isinstance(last, Conv2D) and last.activation is keras.activations.linear
    x = _images()
    logits = m.logits(x)
    assert logits.shape == (6, 28, 28, 1)
    codes = m.encode(x)
    assert codes.shape == (6, 16) and m.latent_dim == 16 and (codes >= 0).all()
    assert np.array_equal(m.encode(x, batch_size=4), codes)  # batching does not change results


def test_dense_ae_shapes_and_activation():
    m = models.build_model("dense_ae", seed=0)
    sizes = [layer.units for layer in m.encoder.layers + m.decoder.layers if isinstance(layer, Dense)]
    assert sizes == [100, 50, 100, 784]
    assert m.encoder.get_layer("bottleneck").activation is keras.activations.sigmoid
    assert m.decoder.get_layer("logits").activation is keras.activations.linear
    relu = models.build_model("dense_ae", activation="relu", latent_dim=8, seed=0)
    assert relu.encoder.get_layer("bottleneck").activation is keras.activations.relu
    assert relu.encode(_images()).shape == (6, 8)


@pytest.mark.parametrize("name", list(models.MODELS))
def test_reconstruct_is_the_likelihood_mean(name):
    m = models.build_model(name, seed=1)
    x = _images()
    logits = m.logits(x).astype(np.float64)
    x_hat = m.reconstruct(x)
    assert x_hat.dtype == np.float32 and x_hat.shape == x.shape
    assert (x_hat >= 0).all() and (x_hat <= 1).all()
    np.testing.assert_allclose(x_hat, 1.0 / (1.0 + np.exp(-logits)), rtol=1e-5, atol=1e-6)
    cb = m.reconstruct(x, likelihood=losses.get_loss("cb"))
    np.testing.assert_allclose(cb, losses.cb_mean(m.logits(x)).numpy(), rtol=1e-5, atol=1e-6)


def test_seed_fixes_the_weights():
    a, b = models.build_model("conv_ae", seed=3), models.build_model("conv_ae", seed=3)
    c = models.build_model("conv_ae", seed=4)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    assert not all(np.array_equal(u, v) for u, v in zip(a.get_weights(), c.get_weights()))


def test_weights_round_trip(tmp_path):
    a, b = models.build_model("conv_ae_bn", seed=0), models.build_model("conv_ae_bn", seed=1)
    a.save_weights(tmp_path / "m.weights.h5")
    b.load_weights(tmp_path / "m.weights.h5")
    x = _images()
    np.testing.assert_array_equal(a.reconstruct(x), b.reconstruct(x))


def test_rejects_wrong_image_shape():
    m = models.build_model("dense_ae", seed=0)
    with pytest.raises(ValueError, match=r"\[N, 28, 28, 1\]"):
        m.reconstruct(np.zeros((2, 784), np.float32))
