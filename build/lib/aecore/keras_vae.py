"""The keras-io VAE example (``examples/generative/vae.py``), reproduced to be compared fairly.

Architecture, loss and optimiser are the example's: encoder Conv2D(32, 3, stride 2) ->
Conv2D(64, 3, stride 2) -> Flatten -> Dense(16, relu) -> z_mean, z_log_var (latent 2);
decoder Dense(7*7*64, relu) -> Reshape -> Conv2DTranspose(64, 3, stride 2) ->
Conv2DTranspose(32, 3, stride 2) -> Conv2DTranspose(1, 3, sigmoid); loss
``mean_batch(sum_pixels(keras.losses.binary_crossentropy(data, reconstruction)))`` plus the
batch mean of the KL summed over latent dimensions; ``keras.optimizers.Adam()`` defaults;
trained with ``model.fit`` at batch 128. Its ``train_step`` below is the example's, line
for line in substance.

Two deliberate differences, neither of which changes what is trained:

- The last layer is split into a linear Conv2DTranspose and a sigmoid, so that the
  evaluation can read the logits (``sigmoid(conv(h))`` is the same function).
- The sampling layer's noise comes from a seeded ``keras.random.SeedGenerator``, as in the
  example (whose seed is 1337); here it is the run's seed, so runs are repeatable.

:class:`KerasExampleVAE` exposes the interface of :class:`aecore.vae.VAE` that the
evaluation needs (``posterior``, ``decode``, ``obs``, ``log_sigma``), so the same
:func:`aecore.vae.evaluate_terms` and :func:`aecore.vae.iwae_bound` score both models.
"""

from __future__ import annotations

import time

from aecore._tf import tf  # first: TensorFlow, quietly (keras imports it too)
import keras
import numpy as np
import pandas as pd
from keras import layers, ops

import aecore
from aecore import vae


class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z (the example's layer)."""

    def __init__(self, seed: int = 1337, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch, dim = ops.shape(z_mean)[0], ops.shape(z_mean)[1]
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


def _encoder(latent_dim: int, seed: int) -> keras.Model:
    encoder_inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling(seed)([z_mean, z_log_var])
    return keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")


def _decoder_logits(latent_dim: int) -> keras.Model:
    latent_inputs = keras.Input(shape=(latent_dim,))
    x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
    x = layers.Reshape((7, 7, 64))(x)
    x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    logits = layers.Conv2DTranspose(1, 3, padding="same")(x)  # the example: activation="sigmoid"
    return keras.Model(latent_inputs, logits, name="decoder_logits")


class KerasExampleVAE(keras.Model):
    """The example's ``VAE(keras.Model)`` with its ``train_step``, plus the evaluation interface."""

    obs = vae.DECODERS["bernoulli"]

    def __init__(self, latent_dim: int = 2, seed: int = 1337, **kwargs):
        super().__init__(**kwargs)
        self.encoder = _encoder(latent_dim, seed)
        self.decoder_logits = _decoder_logits(latent_dim)
        z = keras.Input(shape=(latent_dim,))
        self.decoder = keras.Model(z, layers.Activation("sigmoid")(self.decoder_logits(z)), name="decoder")
        self.log_sigma = tf.constant(0.0)  # unused: Bernoulli decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def call(self, x, training=False):
        return self.decoder(self.encoder(x, training=training)[0], training=training)

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            reconstruction_loss = ops.mean(
                ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2)))
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {"loss": self.total_loss_tracker.result(),
                "reconstruction_loss": self.reconstruction_loss_tracker.result(),
                "kl_loss": self.kl_loss_tracker.result()}

    # -- the interface aecore.vae's evaluation uses

    @property
    def latent_dim(self) -> int:
        return int(self.decoder_logits.input.shape[-1])

    def posterior(self, x, training: bool = False) -> vae.Posterior:
        z_mean, z_log_var, _ = self.encoder(x, training=training)
        return vae.Posterior(z_mean, z_log_var)

    def decode(self, z, training: bool = False):
        return self.decoder_logits(z, training=training)


def train(x_train: np.ndarray, *, epochs: int, seed: int = 0, batch_size: int = 128,
          binarize: str | None = "dynamic", progress: bool = True,
          progress_prefix: str = "") -> tuple[KerasExampleVAE, pd.DataFrame]:
    """Trains the example as the example does (``compile(optimizer=Adam())``, ``fit``, batch
    128), one ``fit`` call per epoch so that each epoch sees a fresh Bernoulli sample of the
    images when ``binarize="dynamic"`` (drawn from ``(seed, epoch)``).

    Returns the model and a history with the example's own logged names (``loss``,
    ``reconstruction_loss``, ``kl_loss``: epoch means in nats per image) and ``seconds``.
    """
    aecore.set_seed(seed)
    model = KerasExampleVAE(latent_dim=2, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam())
    rng = np.random.default_rng(seed)
    rows = []
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        x = x_train
        if binarize == "dynamic":
            x = (rng.random(x_train.shape, dtype=np.float32) < x_train).astype(np.float32)
        with aecore.silenced_fd2():  # tf.data's C++ log line on every fit call
            logs = model.fit(x, epochs=1, batch_size=batch_size, verbose=0).history
        row = {"epoch": epoch, **{k: float(v[-1]) for k, v in logs.items()},
               "seconds": time.perf_counter() - t0}
        rows.append(row)
        if progress:
            print(f"{progress_prefix}epoch {epoch}/{epochs}: loss {row['loss']:.1f} (recon "
                  f"{row['reconstruction_loss']:.1f}, KL {row['kl_loss']:.2f}) nats/image "
                  f"({row['seconds']:.1f} s)", flush=True)
    model(x_train[:1])  # a subclassed model trained by fit is not "built" until called
    return model, pd.DataFrame(rows)
