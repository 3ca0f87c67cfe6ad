"""Autoencoders built by name from one registry; every decoder ends in a linear layer.

The decoder outputs **logits** (pre-sigmoid values), never pixels: the reconstruction
is the mean of the chosen likelihood, ``x_hat = likelihood.mean(logits)`` (a sigmoid for
the Gaussian, Bernoulli and Laplace models). For the question's Keras snippet, whose last
layer is ``Conv2D(1, 3, activation="sigmoid")`` followed by ``loss="mse"`` or
``"binary_crossentropy"``, this is the same function and the same loss, but the
cross-entropy is computed from logits, which never takes ``log(0)``.

| name          | architecture                                                           | code |
|---------------|------------------------------------------------------------------------|------|
| ``conv_ae``    | the question's Example 1: Conv32-pool-Conv16-pool-Dense16(ReLU)-mirror | 16   |
| ``conv_ae_bn`` | the same with BatchNorm after the 3 hidden convolutions (Example 2)    | 16   |
| ``dense_ae``   | the Cross Validated question's 784-100-50-100-784 MLP (sigmoid)        | 50   |

``conv_ae_bn``'s BatchNorm is :class:`FusedBatchNormalization`: Keras' layer, computed in
training by TensorFlow's fused kernel (the same function; faster on a CPU).

Every model is an :class:`AutoEncoder`: ``model(x)`` gives logits ``[B, 28, 28, 1]``,
``model.encode(x)`` the bottleneck activations ``[N, latent_dim]`` (for dead-unit counts)
and ``model.reconstruct(x)`` the reconstruction ``x_hat`` in [0, 1].
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import random
from typing import Any, Callable

from aecore._tf import tf  # first: TensorFlow, quietly (keras imports it too)
import keras
import numpy as np
from keras import layers

from aecore.data import IMAGE_SHAPE
from aecore.validate import check_images, check_int


# --------------------------------------------------------------------------- initialisers


class _Initializers:
    """Hands out kernel initialisers, seeded from one integer when a seed is given.

    With ``seed=None`` Keras draws initialiser seeds from Python's global ``random``
    (what ``aecore.set_seed`` seeds). With an integer seed, each layer gets its own seed
    from a private ``random.Random(seed)``: the weights then depend on ``seed`` alone,
    not on what ran before in the process.
    """

    def __init__(self, seed: int | None) -> None:
        self._rng = None if seed is None else random.Random(int(seed))

    def glorot(self) -> keras.initializers.Initializer:
        seed = None if self._rng is None else self._rng.randrange(2**31 - 1)
        return keras.initializers.GlorotUniform(seed=seed)


# --------------------------------------------------------------------------- layers


class FusedBatchNormalization(layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` whose training pass runs TensorFlow's fused kernel.

    The same function with the same weights and defaults (momentum 0.99, epsilon 1e-3): in
    training, normalise with the batch's mean and biased variance and move the running
    statistics towards them; in inference, normalise with the running statistics. Keras 3
    computes the training pass with a dozen separate ops (moments, normalisation, and as many
    again in the gradient); ``FusedBatchNormV3`` and its gradient do it in one kernel each
    (oneDNN's on CPU). ``tests/test_models.py`` compares it with Keras' layer. Inference, masks,
    renormalisation and other layouts use Keras' own code.
    """

    def call(self, inputs: tf.Tensor, training: bool | None = None, mask: tf.Tensor | None = None) -> tf.Tensor:
        fused = (training and self.trainable and mask is None and not self.renorm and len(inputs.shape) == 4
                 and self.axis in (-1, 3) and inputs.dtype == tf.float32 and self.compute_dtype == "float32")
        if not fused:
            return super().call(inputs, training=training, mask=mask)
        channels = int(inputs.shape[-1])
        gamma = self.gamma if self.scale else tf.ones((channels,), tf.float32)
        beta = self.beta if self.center else tf.zeros((channels,), tf.float32)
        y, mean, unbiased = tf.compat.v1.nn.fused_batch_norm(
            inputs, tf.convert_to_tensor(gamma), tf.convert_to_tensor(beta), epsilon=self.epsilon,
            data_format="NHWC", is_training=True)
        # The kernel returns the variance with Bessel's correction (for its own running
        # average); Keras' running average uses the biased one, as the normalisation does.
        n = tf.cast(tf.reduce_prod(tf.shape(inputs)[:-1]), tf.float32)  # values per channel
        variance = unbiased * ((n - 1.0) / n)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return y


# --------------------------------------------------------------------------- the model


class AutoEncoder(keras.Model):
    """An encoder and a decoder; calling it maps images to decoder logits.

    Args:
      encoder: ``keras.Model`` mapping ``[B, 28, 28, 1]`` images to codes ``[B, latent_dim]``
        (the bottleneck activations).
      decoder: ``keras.Model`` mapping codes ``[B, latent_dim]`` to logits ``[B, 28, 28, 1]``;
        its last layer is linear.
      architecture: the registry name the model was built from (for tables and the cache).
      **kwargs: passed to ``keras.Model`` (e.g. ``name``).
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, *, architecture: str = "custom",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.architecture = architecture
        self._inference_fns: dict[str, Callable] = {}

    @property
    def latent_dim(self) -> int:
        """Number of bottleneck units."""
        return int(self.encoder.output.shape[-1])

    def call(self, x: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        """``[B, 28, 28, 1]`` images -> ``[B, 28, 28, 1]`` decoder logits."""
        z = self.encoder(x, training=training)  # [B, latent_dim]
        return self.decoder(z, training=training)  # [B, 28, 28, 1] logits

    def build_for_images(self) -> "AutoEncoder":
        """Creates every weight by calling the model once on a zero image; returns self."""
        self(np.zeros((1, *IMAGE_SHAPE), np.float32), training=False)
        return self

    # -- inference helpers: numpy in, numpy out, in batches, never in training mode

    def _inference(self, what: str) -> Callable:
        """A ``tf.function`` for ``"encode"`` or ``"logits"`` with this model's weights (graph
        mode is ~5x faster than eager for these small convolutions, and ``predict`` adds
        callback overhead). Models from :func:`build_model` share one traced function per
        architecture (:func:`aecore.programs.inference`), as their training does; others
        trace their own, once."""
        spec = getattr(self, "build_spec", None)
        if spec is not None:
            from aecore import programs

            return programs.inference(self, ("autoencoder", spec, what), lambda: build_from_spec(spec),
                                      lambda template: _inference_function(template, what))
        if what not in self._inference_fns:
            self._inference_fns[what] = _inference_function(self, what)
        return self._inference_fns[what]

    def _batched(self, what: str, x: np.ndarray, batch_size: int,
                 post: Callable[[tf.Tensor], tf.Tensor] | None = None) -> np.ndarray:
        x = check_images(x, f"{what}: the images")  # [N, 28, 28, 1] in [0, 1], finite
        fn = self._inference(what)
        out = []
        for start in range(0, x.shape[0], batch_size):
            y = fn(tf.constant(x[start:start + batch_size]))
            out.append((post(y) if post is not None else y).numpy())
        return np.concatenate(out, axis=0)

    def encode(self, x: np.ndarray, *, batch_size: int = 1000) -> np.ndarray:
        """Bottleneck activations.

        Args:
          x: float32 images ``[N, 28, 28, 1]`` in [0, 1].
          batch_size: images per forward pass (memory only; the result does not depend on it).

        Returns:
          float32 ``[N, latent_dim]`` codes (for ``conv_ae``: ReLU outputs, >= 0).
        """
        return self._batched("encode", x, batch_size)

    def logits(self, x: np.ndarray, *, batch_size: int = 1000) -> np.ndarray:
        """Decoder logits ``[N, 28, 28, 1]`` (float32, unbounded) for images ``[N, 28, 28, 1]``."""
        return self._batched("logits", x, batch_size)

    def reconstruct(self, x: np.ndarray, *, likelihood: Any = None, batch_size: int = 1000) -> np.ndarray:
        """Reconstructions: the mean of the likelihood given the decoder logits.

        Args:
          x: float32 images ``[N, 28, 28, 1]`` in [0, 1].
          likelihood: an ``aecore.losses.Likelihood`` or its name (``"bce"``, ``"cb"``, ...);
            ``None`` means a sigmoid, the mean of the Gaussian, Bernoulli and Laplace models.
            The continuous Bernoulli's mean is *not* the sigmoid: pass it for CB models.
          batch_size: images per forward pass.

        Returns:
          float32 ``x_hat`` ``[N, 28, 28, 1]`` in [0, 1].
        """
        if likelihood is None:
            mean = tf.sigmoid
        else:
            from aecore import losses  # lazy: models do not need the loss module otherwise

            mean = (losses.get_loss(likelihood) if isinstance(likelihood, str) else likelihood).mean
        return self._batched("logits", x, batch_size, post=mean).astype(np.float32, copy=False)


def _inference_function(model: AutoEncoder, what: str) -> Callable:
    """``tf.function`` of ``model``'s encoder (``"encode"``) or whole network (``"logits"``)."""
    if what == "encode":
        fn = lambda x: model.encoder(x, training=False)  # noqa: E731
    else:
        fn = lambda x: model(x, training=False)  # noqa: E731
    compiled = tf.function(fn, reduce_retracing=True, autograph=False)
    # Traced once per model or shared architecture, and input shape, by design: TF's "frequent
    # retracing" warning (keyed by source line, so shared by all models) does not apply.
    compiled._omit_frequent_tracing_warning = True
    return compiled


# --------------------------------------------------------------------------- builders


def _conv_encoder(init: _Initializers, *, latent_dim: int, batch_norm: bool) -> keras.Model:
    x = keras.Input(IMAGE_SHAPE, name="image")  # [B, 28, 28, 1]
    h = layers.Conv2D(32, 3, activation="relu", padding="same", kernel_initializer=init.glorot(),
                      name="enc_conv1")(x)  # [B, 28, 28, 32]
    if batch_norm:
        h = FusedBatchNormalization(name="enc_bn1")(h)
    h = layers.MaxPooling2D(2, padding="same", name="enc_pool1")(h)  # [B, 14, 14, 32]
    h = layers.Conv2D(16, 3, activation="relu", padding="same", kernel_initializer=init.glorot(),
                      name="enc_conv2")(h)  # [B, 14, 14, 16]
    if batch_norm:
        h = FusedBatchNormalization(name="enc_bn2")(h)
    h = layers.MaxPooling2D(2, padding="same", name="enc_pool2")(h)  # [B, 7, 7, 16]
    h = layers.Flatten(name="enc_flatten")(h)  # [B, 784]
    z = layers.Dense(latent_dim, activation="relu", kernel_initializer=init.glorot(),
                     name="bottleneck")(h)  # [B, latent_dim], ReLU: units can die
    return keras.Model(x, z, name="encoder")


def _conv_decoder(init: _Initializers, *, latent_dim: int, batch_norm: bool) -> keras.Model:
    z = keras.Input((latent_dim,), name="code")  # [B, latent_dim]
    h = layers.Dense(7 * 7 * 16, activation="relu", kernel_initializer=init.glorot(),
                     name="dec_dense")(z)  # [B, 784]
    h = layers.Reshape((7, 7, 16), name="dec_reshape")(h)  # [B, 7, 7, 16]
    h = layers.UpSampling2D(2, name="dec_up1")(h)  # [B, 14, 14, 16]
    h = layers.Conv2D(16, 3, activation="relu", padding="same", kernel_initializer=init.glorot(),
                      name="dec_conv1")(h)  # [B, 14, 14, 16]
    if batch_norm:
        h = FusedBatchNormalization(name="dec_bn1")(h)
    h = layers.UpSampling2D(2, name="dec_up2")(h)  # [B, 28, 28, 16]
    logits = layers.Conv2D(1, 3, padding="same", kernel_initializer=init.glorot(),
                           name="logits")(h)  # [B, 28, 28, 1], linear
    return keras.Model(z, logits, name="decoder")


def conv_ae(*, latent_dim: int = 16, seed: int | None = None) -> AutoEncoder:
    """The convolutional autoencoder of the question (its Example 1), with a linear last layer.

    Conv2D 32 3x3 ReLU -> MaxPool 2 -> Conv2D 16 3x3 ReLU -> MaxPool 2 -> Flatten ->
    Dense ``latent_dim`` ReLU (the bottleneck) -> Dense 7*7*16 ReLU -> Reshape (7, 7, 16) ->
    UpSampling 2 -> Conv2D 16 3x3 ReLU -> UpSampling 2 -> Conv2D 1 3x3 (logits).
    33,297 weights with ``latent_dim=16``.

    Args:
      latent_dim: bottleneck units (the question uses 16).
      seed: seed for the weight initialisers; None draws them from Python's ``random``.

    Returns:
      An :class:`AutoEncoder`.
    """
    return _conv_autoencoder("conv_ae", latent_dim=latent_dim, batch_norm=False, seed=seed)


def conv_ae_bn(*, latent_dim: int = 16, seed: int | None = None) -> AutoEncoder:
    """:func:`conv_ae` with BatchNormalization after each hidden convolution (the question's
    Example 2: after the two encoder convolutions and after the decoder's hidden one).

    Args:
      latent_dim: bottleneck units.
      seed: seed for the weight initialisers; None draws them from Python's ``random``.

    Returns:
      An :class:`AutoEncoder`.
    """
    return _conv_autoencoder("conv_ae_bn", latent_dim=latent_dim, batch_norm=True, seed=seed)


def _conv_autoencoder(name: str, *, latent_dim: int, batch_norm: bool, seed: int | None) -> AutoEncoder:
    # Encoder first, then decoder: the initialisers draw their seeds in this order.
    init = _Initializers(seed)
    encoder = _conv_encoder(init, latent_dim=latent_dim, batch_norm=batch_norm)
    decoder = _conv_decoder(init, latent_dim=latent_dim, batch_norm=batch_norm)
    return AutoEncoder(encoder, decoder, architecture=name, name=name)


def dense_ae(*, hidden_units: int = 100, latent_dim: int = 50, activation: str = "sigmoid",
             seed: int | None = None) -> AutoEncoder:
    """The Cross Validated question's MLP: 784 - 100 - 50 - 100 - 784, output logits.

    Args:
      hidden_units: width of the two outer hidden layers.
      latent_dim: width of the middle (code) layer.
      activation: activation of all three hidden layers (``"sigmoid"`` as in the question;
        ``"relu"`` is its suggested fix). Any Keras activation name.
      seed: seed for the weight initialisers; None draws them from Python's ``random``.

    Returns:
      An :class:`AutoEncoder` whose code is the middle layer's activations. How it is trained
      (optimizer, XLA) is the training's business (:func:`aecore.training.fit`,
      :class:`aecore.experiments.Config`), not the model's.
    """
    keras.activations.get(activation)  # fails early, with Keras' message, on an unknown name
    init = _Initializers(seed)
    x = keras.Input(IMAGE_SHAPE, name="image")  # [B, 28, 28, 1]
    h = layers.Flatten(name="enc_flatten")(x)  # [B, 784]
    h = layers.Dense(hidden_units, activation=activation, kernel_initializer=init.glorot(),
                     name="enc_dense")(h)  # [B, hidden_units]
    z = layers.Dense(latent_dim, activation=activation, kernel_initializer=init.glorot(),
                     name="bottleneck")(h)  # [B, latent_dim]
    encoder = keras.Model(x, z, name="encoder")
    c = keras.Input((latent_dim,), name="code")
    h = layers.Dense(hidden_units, activation=activation, kernel_initializer=init.glorot(),
                     name="dec_dense")(c)  # [B, hidden_units]
    h = layers.Dense(int(np.prod(IMAGE_SHAPE)), kernel_initializer=init.glorot(),
                     name="logits")(h)  # [B, 784], linear
    logits = layers.Reshape(IMAGE_SHAPE, name="dec_reshape")(h)  # [B, 28, 28, 1]
    decoder = keras.Model(c, logits, name="decoder")
    return AutoEncoder(encoder, decoder, architecture="dense_ae", name="dense_ae")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A registry entry.

    Attributes:
      name: registry key.
      builder: keyword-only function returning an :class:`AutoEncoder`.
      description: one line for tables.
      revision: how the model computes, numbered from 1; raised when the same weights and
        inputs give different bits (a changed kernel, say), so that the experiment cache
        (:meth:`aecore.experiments.Config.cache_key`) never serves a result of an older one.
    """

    name: str
    builder: Callable[..., AutoEncoder]
    description: str
    revision: int = 1

    def hyperparameters(self) -> dict[str, Any]:
        """The builder's keyword arguments (except ``seed``) and their defaults."""
        params = inspect.signature(self.builder).parameters
        return {k: p.default for k, p in params.items() if k != "seed"}


MODELS: dict[str, ModelSpec] = {
    "conv_ae": ModelSpec("conv_ae", conv_ae,
                         "the question's conv autoencoder (Example 1), 16-unit ReLU bottleneck"),
    # Revision 2: BatchNorm by TensorFlow's fused kernel (FusedBatchNormalization).
    "conv_ae_bn": ModelSpec("conv_ae_bn", conv_ae_bn,
                            "conv_ae with BatchNorm after the hidden convolutions (Example 2)", revision=2),
    "dense_ae": ModelSpec("dense_ae", dense_ae,
                          "784-100-50-100-784 MLP, sigmoid hidden units (Cross Validated question)"),
}


def get_model_spec(name: str) -> ModelSpec:
    """The registry entry for ``name``.

    Raises:
      ValueError: unknown name; the message lists the valid names.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(MODELS)}")
    return MODELS[name]


def check_model_kwargs(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Raises ValueError if ``kwargs`` holds a keyword the builder of ``name`` does not take, or
    a value of the wrong kind for it: sizes (integer defaults) must be positive integers, flags
    (bool defaults) bools, names (str defaults) strings.

    The message lists the keywords it does take (``seed`` is set separately). Checked when a
    :class:`aecore.experiments.Config` is made, so a bad value fails before any training.

    Returns:
      ``kwargs`` with NumPy integers and bools as Python ``int`` and ``bool`` (what Keras' layers
      and the model's ``build_spec`` take).
    """
    valid = get_model_spec(name).hyperparameters()
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise ValueError(f"model {name!r} takes no argument(s) {', '.join(map(repr, unknown))}; "
                         f"valid: {', '.join(f'{k}={v!r}' for k, v in valid.items()) or 'none'}")
    out = dict(kwargs)
    for key, value in kwargs.items():
        default = valid[key]
        if isinstance(default, bool):
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"model {name!r}: {key} must be True or False, got {value!r}")
            out[key] = bool(value)
        elif isinstance(default, int):
            out[key] = check_int(value, f"model {name!r}: {key}")
        elif isinstance(default, str) and not isinstance(value, str):
            raise ValueError(f"model {name!r}: {key} must be a string such as {default!r}, got {value!r}")
        if key == "activation":
            keras.activations.get(value)  # Keras' message on an unknown name
    return out


# Mean pixel values are clipped into [eps, 1 - eps] before their logit: an always-empty pixel
# would otherwise start at logit -inf.
OUTPUT_BIAS_EPS = 1e-3


def check_output_bias(likelihood: Any) -> None:
    """Raises ValueError unless ``likelihood``'s reconstruction is the sigmoid of the output or the
    output itself, the two means :func:`set_output_bias` can invert (the continuous Bernoulli's
    mean is not its parameter)."""
    from aecore import losses

    lik = losses.get_loss(likelihood) if isinstance(likelihood, str) else likelihood
    if lik.mean not in (tf.sigmoid, losses.clip_unit):
        raise ValueError(f"output_bias='mean_image' needs a likelihood whose mean is sigmoid(output) or the output "
                         f"itself; {lik.name!r} has another mean. Use it without output_bias")


def set_output_bias(model: "AutoEncoder", images: np.ndarray, likelihood: Any) -> np.ndarray:
    """Sets the bias of the decoder's ``logits`` layer so that, before training, the
    reconstruction (``likelihood``'s mean) of a zero pre-activation is the mean of ``images``:
    per pixel for a dense output layer (784 biases), the mean over every pixel for a
    convolutional one (one bias per channel). Returns the bias set.

    For a sigmoid mean the bias is the logit of the mean, clipped into
    [:data:`OUTPUT_BIAS_EPS`, 1 - eps]; for an identity mean it is the mean itself.
    """
    from aecore import losses

    lik = losses.get_loss(likelihood) if isinstance(likelihood, str) else likelihood
    check_output_bias(lik)
    layer = model.decoder.get_layer("logits")
    n_bias = int(layer.bias.shape[0])
    x = np.asarray(images, np.float64)
    if x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"set_output_bias: images must be [N, 28, 28, 1], got shape {x.shape}")
    mean = x.mean(axis=0).reshape(-1) if n_bias == x[0].size else np.full(n_bias, x.mean())
    if lik.mean is tf.sigmoid:
        p = np.clip(mean, OUTPUT_BIAS_EPS, 1.0 - OUTPUT_BIAS_EPS)
        bias = np.log(p) - np.log1p(-p)
    else:
        bias = mean
    layer.bias.assign(bias.astype(layer.bias.dtype))
    return bias


def build_model(name: str, *, seed: int | None = None, **kwargs: Any) -> AutoEncoder:
    """Builds the registered autoencoder ``name`` with its weights created.

    Args:
      name: a key of :data:`MODELS`.
      seed: non-negative int seeding the weight initialisers; None draws them from Python's
        ``random`` (seeded by ``aecore.set_seed``).
      **kwargs: the builder's hyperparameters, e.g. ``latent_dim=8`` or ``activation="relu"``.

    Returns:
      An :class:`AutoEncoder`, built for ``[B, 28, 28, 1]`` images.

    Raises:
      ValueError: unknown model name or keyword (the message lists the valid ones), a bad
        value for one, or a seed that is not a non-negative integer.
    """
    kwargs = check_model_kwargs(name, kwargs)
    if seed is not None:
        # Not a string (random.Random would hash it) nor a negative number (Random(-1) is Random(1)).
        seed = check_int(seed, "seed", minimum=0)
    model = get_model_spec(name).builder(seed=seed, **kwargs)
    # How to build another model of this architecture: aecore.training.fit uses it to share
    # one traced training program between every model of a sweep (aecore.programs).
    model.build_spec = (name, json.dumps(kwargs, sort_keys=True, default=repr))
    return model.build_for_images()


def build_from_spec(spec: tuple[str, str]) -> AutoEncoder:
    """Another model of the architecture ``spec`` names (a model's ``build_spec``), with the
    initial weights of seed 0: the template :mod:`aecore.programs` traces on."""
    name, kwargs = spec
    return build_model(name, seed=0, **json.loads(kwargs))
