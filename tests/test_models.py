"""aecore.models: the registry, the question's architecture, and the AutoEncoder helpers.

The oracle for the architecture is the question's own Keras code (Examples 1 and 2, with
the missing ``Dense`` import added): same layers, same weight count, and, with our weights
copied in, the same outputs as ``sigmoid(our logits)``.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
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


def _bn_pair(channels: int, seed: int) -> tuple[keras.layers.Layer, keras.layers.Layer]:
    """Keras' BatchNormalization and ours, with the same random gamma, beta and running stats."""
    rng = np.random.default_rng(seed)
    keras_bn, fused = BatchNormalization(), models.FusedBatchNormalization()
    for layer in (keras_bn, fused):
        layer.build((None, 7, 7, channels))
    weights = [rng.uniform(0.5, 1.5, channels).astype(np.float32), rng.normal(size=channels).astype(np.float32),
               rng.normal(size=channels).astype(np.float32), rng.uniform(0.5, 2.0, channels).astype(np.float32)]
    keras_bn.set_weights(weights)
    fused.set_weights(weights)
    return keras_bn, fused


def _train_pass(layer, x: tf.Tensor, upstream: tf.Tensor):
    """Training-mode output, gradients (input, gamma, beta) and the updated running stats."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * upstream)
    grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
    return [y.numpy(), *(g.numpy() for g in grads), layer.moving_mean.numpy(), layer.moving_variance.numpy()]


def test_fused_batch_norm_computes_what_keras_batch_norm_computes():
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(2.0, 3.0, size=(16, 7, 7, 5)).astype(np.float32))
    upstream = tf.constant(rng.normal(size=(16, 7, 7, 5)).astype(np.float32))
    keras_bn, fused = _bn_pair(5, seed=2)
    moving_before = fused.moving_variance.numpy().astype(np.float64)
    expected, got = _train_pass(keras_bn, x, upstream), _train_pass(fused, x, upstream)
    names = ["output", "input gradient", "gamma gradient", "beta gradient", "running mean", "running variance"]
    for name, a, b in zip(names, expected, got, strict=True):
        np.testing.assert_allclose(b, a, rtol=2e-5, atol=2e-5, err_msg=name)
    # The running variance moves towards the *biased* batch variance (float64 NumPy oracle).
    batch_var = np.asarray(x, np.float64).reshape(-1, 5).var(axis=0)
    np.testing.assert_allclose(got[-1], 0.99 * moving_before + 0.01 * batch_var, rtol=1e-6)
    # Inference runs Keras' own code: the same bits from the same running statistics.
    keras_bn, fused = _bn_pair(5, seed=3)
    np.testing.assert_array_equal(fused(x, training=False).numpy(), keras_bn(x, training=False).numpy())


def test_fused_batch_norm_runs_the_fused_kernel_in_training():
    _, fused = _bn_pair(3, seed=0)
    graph = tf.function(lambda x: fused(x, training=True)).get_concrete_function(
        tf.TensorSpec((4, 7, 7, 3), tf.float32)).graph
    assert any(op.type.startswith("FusedBatchNorm") for op in graph.get_operations())


def test_the_bn_models_use_the_fused_layer_and_a_new_revision():
    model = models.build_model("conv_ae_bn", seed=0)
    bns = [l for l in model.encoder.layers + model.decoder.layers if isinstance(l, BatchNormalization)]
    assert len(bns) == 3 and all(isinstance(l, models.FusedBatchNormalization) for l in bns)
    assert models.get_model_spec("conv_ae_bn").revision > 1  # its cached runs predate the kernel
    assert models.get_model_spec("conv_ae").revision == 1


@pytest.mark.parametrize("name, kwargs, message", [
    ("conv_ae", {"latent_dim": "16"}, r"model 'conv_ae': latent_dim must be a positive integer, got '16'"),
    ("conv_ae", {"latent_dim": 0}, r"latent_dim must be a positive integer, got 0"),
    ("conv_ae", {"latent_dim": 2.0}, r"latent_dim must be a positive integer, got 2.0"),
    ("dense_ae", {"hidden_units": True}, r"hidden_units must be a positive integer, got True"),
    ("dense_ae", {"jit_compile": True}, r"takes no argument\(s\) 'jit_compile'"),
    ("dense_ae", {"activation": 3}, r"activation must be a string such as 'sigmoid', got 3"),
    ("dense_ae", {"optimizer": "sgd"}, r"takes no argument\(s\) 'optimizer'"),
    ("dense_ae", {"width": 3}, r"takes no argument\(s\) 'width'"),
])
def test_bad_hyperparameters_fail_before_building(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.check_model_kwargs(name, kwargs)
    with pytest.raises(ValueError, match=message):
        models.build_model(name, seed=0, **kwargs)
    from aecore.experiments import Config

    with pytest.raises(ValueError, match=message):  # a config fails when made, not inside run
        Config(dataset="mnist", model=name, loss="bce", model_kwargs=kwargs)


@pytest.mark.parametrize("method", ["encode", "reconstruct", "logits"])
@pytest.mark.parametrize("x, message", [
    (np.full((2, 28, 28, 1), np.nan, np.float32), r"holds 1568 NaN/inf values"),
    (np.full((2, 28, 28, 1), 255.0, np.float32), r"must lie in \[0, 1\].*divide by 255"),
    (np.full((2, 784), 0.5, np.float32), r"flat vectors\? reshape"),
])
def test_inference_refuses_images_it_would_answer_wrongly(method, x, message):
    model = models.build_model("dense_ae", seed=0)
    with pytest.raises(ValueError, match=message):
        getattr(model, method)(x)


# --------------------------------------------------------------------------- output bias at the mean image


@pytest.mark.parametrize("model_name,per_pixel", [("dense_ae", True), ("conv_ae", False)])
def test_output_bias_starts_the_reconstruction_at_the_mean_image(model_name, per_pixel):
    from scipy import special

    from aecore import models, training

    rng = np.random.default_rng(0)
    x = (rng.random((64, 28, 28, 1)) * rng.random((1, 28, 28, 1))).astype(np.float32)
    x[:, 0, 0, 0] = 0.0  # an always-empty pixel: clipped, not -inf
    model = models.build_model(model_name, seed=0)
    bias = models.set_output_bias(model, x, "mae")
    mean = x.astype(np.float64).mean(axis=0).reshape(-1) if per_pixel else np.array([x.astype(np.float64).mean()])
    eps = models.OUTPUT_BIAS_EPS
    np.testing.assert_allclose(bias, special.logit(np.clip(mean, eps, 1 - eps)), rtol=1e-6)
    np.testing.assert_allclose(model.decoder.get_layer("logits").bias.numpy(), bias, rtol=1e-6)
    # the identity-mean MAE gets the mean itself; the continuous Bernoulli's mean is not invertible so
    ident = models.set_output_bias(model, x, "laplace_identity")
    np.testing.assert_allclose(ident, mean, rtol=1e-6)
    with pytest.raises(ValueError, match="needs a likelihood whose mean is sigmoid"):
        models.set_output_bias(model, x, "cb")
    # training starts from it: a step of ~zero size leaves the bias where it was set
    models.set_output_bias(model, x, "mae")
    training.fit(model, "mae", x, epochs=1, batch_size=32, seed=0, learning_rate=1e-12, progress=False)
    np.testing.assert_allclose(model.decoder.get_layer("logits").bias.numpy(), bias, rtol=1e-4, atol=1e-6)


def test_config_output_bias_is_validated_before_training():
    from aecore.experiments import Config

    assert Config(dataset="mnist", model="conv_ae", loss="mae", output_bias="mean_image").output_bias == "mean_image"
    with pytest.raises(ValueError, match="unknown output_bias='median'; valid: None, 'mean_image'"):
        Config(dataset="mnist", model="conv_ae", loss="mae", output_bias="median")
    with pytest.raises(ValueError, match="needs a likelihood whose mean is sigmoid"):
        Config(dataset="mnist", model="conv_ae", loss="cb", output_bias="mean_image")
