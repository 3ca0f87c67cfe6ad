"""Variational autoencoders: the model, its one loss path, KL schedules, and fitting.

A :class:`VAE` has an encoder ``x -> (z_mean, z_log_var)`` (a diagonal Gaussian
``q(z|x)``), the reparameterisation trick ``z = z_mean + exp(z_log_var / 2) * eps``, and a
decoder ``z -> logits`` read through a per-pixel observation model (:data:`DECODERS`).

The negative ELBO of one image, in **nats per image**::

    -ELBO(x) = recon(x) + KL(q(z|x) || N(0, I)),   recon(x) = -log p(x | z),  z ~ q(z|x)

:func:`elbo_terms` computes both terms, and the training step, the validation step and
the test metrics all call it (one loss path). The objective that is *optimised* can differ
from the -ELBO on purpose, and the history logs both:

- ``beta``: ``recon + beta * KL`` (beta-VAE, Higgins et al. 2017), with a schedule:
  ``"constant"``, ``"linear"`` warm-up over ``warmup_epochs`` (Bowman et al. 2016) or
  ``"cyclical"`` annealing (Fu et al. 2019);
- ``free_bits``: each latent dimension's batch-mean KL counts as at least this many nats
  (Kingma et al. 2016), so the optimiser gains nothing by pushing it lower;
- ``recon_reduction="mean"``: the reconstruction averaged over the 784 pixels while the KL
  stays summed over latent dimensions, what ``loss="mse"`` or ``"binary_crossentropy"``
  plus a hand-written KL does in Keras. It optimises ``recon / 784 + KL``, i.e.
  ``(recon + 784 KL) / 784``: a hidden beta of 784 (:func:`effective_beta`).

Decoders (:data:`DECODERS`): ``bernoulli`` (BCE), ``gaussian`` with a fixed sigma (MSE),
``gaussian_learned`` (one learned sigma shared by all pixels, a calibrated decoder),
``gaussian_optimal`` (sigma set to its maximum-likelihood value on each batch, the
sigma-VAE of Rybkin et al. 2021) and ``continuous_bernoulli`` (Loaiza-Ganem & Cunningham 2019).
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from aecore._tf import tf  # first: TensorFlow, quietly (keras imports it too)
import keras
import numpy as np
from keras import layers

import aecore
from aecore import losses, programs
from aecore.data import IMAGE_SHAPE
from aecore import training
from aecore.training import TrainingDivergedError, check_fit_arguments, step_loop  # noqa: F401 (re-exported)
from aecore.validate import check_images
from aecore.optim import make_optimizer

N_PIXELS = int(np.prod(IMAGE_SHAPE))
LOG_2PI = losses.LOG_2PI
ACTIVE_UNIT_THRESHOLD = 0.01  # Burda et al. (2016): Var_x(E_q[z_u]) above this = active


# --------------------------------------------------------------------------- decoders


# The likelihoods a VAE's decoder can have: entries of the one registry, aecore.losses.LOSSES.
DECODER_NAMES: tuple[str, ...] = ("bernoulli", "gaussian", "gaussian_learned", "gaussian_optimal",
                                  "continuous_bernoulli")
DECODERS: dict[str, losses.Likelihood] = {name: losses.LOSSES[name] for name in DECODER_NAMES}


def get_decoder(name: str) -> losses.Likelihood:
    """A decoder likelihood by name or alias (:func:`aecore.losses.get_loss`: ``"bce"``,
    ``"mse"``, ``"cb"``, ``"sigma_vae"``, ...); ValueError listing the valid names."""
    try:
        lik = losses.get_loss(name)
    except ValueError:
        lik = None
    if lik is None or lik.name not in DECODERS:
        raise ValueError(f"unknown decoder {name!r}; valid: {', '.join(DECODERS)} "
                         f"(aliases: {', '.join(f'{a}->{t}' for a, t in losses.ALIASES.items() if t in DECODERS)})")
    return lik


# --------------------------------------------------------------------------- architectures


def _glorot(rng: random.Random) -> keras.initializers.Initializer:
    return keras.initializers.GlorotUniform(seed=rng.randrange(2**31 - 1))


def _mlp_encoder(rng: random.Random, hidden: Sequence[int], latent_dim: int) -> keras.Model:
    x = keras.Input(IMAGE_SHAPE, name="image")  # [B, 28, 28, 1]
    h = layers.Flatten()(x)  # [B, 784]
    for i, units in enumerate(hidden):
        h = layers.Dense(units, activation="relu", kernel_initializer=_glorot(rng), name=f"enc_{i}")(h)
    stats = layers.Dense(2 * latent_dim, kernel_initializer=_glorot(rng), name="q_stats")(h)  # [B, 2L]
    return keras.Model(x, stats, name="encoder")


def _mlp_decoder(rng: random.Random, hidden: Sequence[int], latent_dim: int) -> keras.Model:
    z = keras.Input((latent_dim,), name="z")
    h = z
    for i, units in enumerate(hidden):
        h = layers.Dense(units, activation="relu", kernel_initializer=_glorot(rng), name=f"dec_{i}")(h)
    h = layers.Dense(N_PIXELS, kernel_initializer=_glorot(rng), name="logits")(h)  # [B, 784]
    return keras.Model(z, layers.Reshape(IMAGE_SHAPE)(h), name="decoder")


def _conv_encoder(rng: random.Random, hidden: Sequence[int], latent_dim: int) -> keras.Model:
    # keras-io's VAE encoder layout: two stride-2 3x3 convolutions, then dense layers.
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu",
                      kernel_initializer=_glorot(rng))(x)  # [B, 14, 14, 32]
    h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu",
                      kernel_initializer=_glorot(rng))(h)  # [B, 7, 7, 64]
    h = layers.Flatten()(h)  # [B, 3136]
    for i, units in enumerate(hidden):
        h = layers.Dense(units, activation="relu", kernel_initializer=_glorot(rng), name=f"enc_{i}")(h)
    stats = layers.Dense(2 * latent_dim, kernel_initializer=_glorot(rng), name="q_stats")(h)
    return keras.Model(x, stats, name="encoder")


def _conv_decoder(rng: random.Random, hidden: Sequence[int], latent_dim: int) -> keras.Model:
    z = keras.Input((latent_dim,), name="z")
    h = z
    for i, units in enumerate(hidden):
        h = layers.Dense(units, activation="relu", kernel_initializer=_glorot(rng), name=f"dec_{i}")(h)
    h = layers.Dense(7 * 7 * 64, activation="relu", kernel_initializer=_glorot(rng))(h)
    h = layers.Reshape((7, 7, 64))(h)
    h = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu",
                               kernel_initializer=_glorot(rng))(h)  # [B, 14, 14, 64]
    h = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu",
                               kernel_initializer=_glorot(rng))(h)  # [B, 28, 28, 32]
    logits = layers.Conv2DTranspose(1, 3, padding="same", kernel_initializer=_glorot(rng),
                                    name="logits")(h)  # [B, 28, 28, 1]
    return keras.Model(z, logits, name="decoder")


ARCHITECTURES: dict[str, tuple[Callable, Callable]] = {
    "mlp": (_mlp_encoder, _mlp_decoder),
    "conv": (_conv_encoder, _conv_decoder),
}


class Posterior(NamedTuple):
    z_mean: tf.Tensor  # [B, L]
    z_log_var: tf.Tensor  # [B, L]


class VAE(keras.Model):
    """Encoder, reparameterised sample, decoder logits; see the module docstring.

    Build with :func:`build_vae`. ``posterior(x)`` gives ``q(z|x)``, ``decode(z)`` the
    logits, and ``log_sigma`` the Gaussian decoders' scale (a weight of the model, so it
    is saved with it; for ``gaussian_optimal`` it holds the running training optimum that
    evaluation uses).
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, *, decoder_name: str,
                 sigma: float = 1.0, hyperparameters: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.obs = get_decoder(decoder_name)
        self.hyperparameters = dict(hyperparameters or {})
        self.log_sigma = self.add_weight(
            name="log_sigma", shape=(), initializer=keras.initializers.Constant(math.log(sigma)),
            trainable=self.obs.sigma == "learned")

    @property
    def latent_dim(self) -> int:
        return int(self.decoder.input.shape[-1])

    def posterior(self, x: tf.Tensor, training: bool = False) -> Posterior:
        stats = self.encoder(x, training=training)  # [B, 2L]
        z_mean, z_log_var = tf.split(stats, 2, axis=-1)
        return Posterior(z_mean, z_log_var)

    def decode(self, z: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.decoder(z, training=training)  # [B, 28, 28, 1] logits

    def call(self, x: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        """Logits of the reconstruction through the posterior mean (deterministic)."""
        return self.decode(self.posterior(x, training=bool(training)).z_mean, training=bool(training))

    def build_for_images(self) -> "VAE":
        self(np.zeros((1, *IMAGE_SHAPE), np.float32))
        return self


def build_vae(*, architecture: str = "mlp", encoder_hidden: Sequence[int] = (512, 256),
              decoder_hidden: Sequence[int] | None = None, latent_dim: int = 16,
              decoder: str = "bernoulli", sigma: float = 1.0, seed: int = 0) -> VAE:
    """A VAE whose initial weights depend on ``seed`` alone.

    Args:
      architecture: ``"mlp"`` (dense ReLU layers) or ``"conv"`` (keras-io's two stride-2
        convolutions and their transposes around the dense layers).
      encoder_hidden: dense layer widths of the encoder, input side first.
      decoder_hidden: dense widths of the decoder, latent side first; None mirrors the encoder.
      latent_dim: dimensions of z (>= 1).
      decoder: a :data:`DECODERS` name or alias.
      sigma: the fixed Gaussian's sigma (a learned sigma starts at this value, which :func:`fit`
        replaces with the first batch's optimum).
      seed: initialiser seed.

    Raises:
      ValueError: unknown architecture/decoder, latent_dim < 1, a non-positive width or sigma.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; valid: {', '.join(ARCHITECTURES)}")
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, (int, np.integer)) or latent_dim < 1:
        raise ValueError(f"latent_dim must be an integer >= 1, got {latent_dim!r} "
                         f"(a VAE needs at least one latent dimension)")
    obs = get_decoder(decoder)
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number, got {sigma!r}")
    encoder_hidden = tuple(int(u) for u in encoder_hidden)
    decoder_hidden = tuple(reversed(encoder_hidden)) if decoder_hidden is None else tuple(
        int(u) for u in decoder_hidden)
    if any(u < 1 for u in encoder_hidden + decoder_hidden):
        raise ValueError(f"layer widths must be >= 1, got encoder {encoder_hidden}, decoder {decoder_hidden}")
    rng = random.Random(int(seed))
    make_encoder, make_decoder = ARCHITECTURES[architecture]
    model = VAE(make_encoder(rng, encoder_hidden, int(latent_dim)),
                make_decoder(rng, decoder_hidden, int(latent_dim)),
                decoder_name=obs.name, sigma=float(sigma), name=f"vae_{architecture}",
                hyperparameters={"architecture": architecture, "encoder_hidden": list(encoder_hidden),
                                 "decoder_hidden": list(decoder_hidden), "latent_dim": int(latent_dim),
                                 "decoder": obs.name, "sigma": float(sigma)})
    return model.build_for_images()


# --------------------------------------------------------------------------- the loss path


class Terms(NamedTuple):
    """Per-example parts of the ELBO, nats. ``recon`` [B], ``kl_per_dim`` [B, L], ``log_sigma`` []."""

    recon: tf.Tensor
    kl_per_dim: tf.Tensor
    log_sigma: tf.Tensor

    @property
    def kl(self) -> tf.Tensor:
        return tf.reduce_sum(self.kl_per_dim, axis=-1)  # [B]


def kl_per_dim(z_mean: tf.Tensor, z_log_var: tf.Tensor) -> tf.Tensor:
    """KL(N(m, exp(lv)) || N(0, 1)) per latent dimension, ``[B, L]`` nats; sums to
    :func:`aecore.losses.kl_standard_normal`."""
    return 0.5 * (tf.exp(z_log_var) + tf.square(z_mean) - 1.0 - z_log_var)


def elbo_terms(model: Any, x: tf.Tensor, seed: tf.Tensor, *, training: bool) -> Terms:
    """The one loss path: reconstruction NLL and KL of a batch, one posterior sample each.

    Args:
      model: a :class:`VAE` (or anything with ``posterior``, ``decode``, ``obs`` and
        ``log_sigma``, like :class:`aecore.keras_vae.KerasExampleVAE`).
      x: images ``[B, 28, 28, 1]``, the targets.
      seed: int tensor ``[2]``; the sample ``eps`` is a pure function of it (repeatable).
      training: training mode; for ``gaussian_optimal`` it also picks sigma: the batch's
        optimum in training, the stored running optimum otherwise.
    """
    q = model.posterior(x, training=training)
    eps = tf.random.stateless_normal(tf.shape(q.z_mean), seed=seed, dtype=q.z_mean.dtype)
    z = q.z_mean + tf.exp(0.5 * q.z_log_var) * eps  # reparameterisation: gradients reach the encoder
    logits = model.decode(z, training=training)
    if model.obs.sigma == "optimal" and training:
        log_sigma = losses.optimal_log_sigma(x, logits)
    else:
        log_sigma = tf.convert_to_tensor(model.log_sigma)
    recon = tf.reduce_sum(model.obs.pixel_nll_given_log_sigma(x, logits, log_sigma), axis=[1, 2, 3])  # [B]
    return Terms(recon, kl_per_dim(q.z_mean, q.z_log_var), log_sigma)


# --------------------------------------------------------------------------- the objective


SCHEDULES: tuple[str, ...] = ("constant", "linear", "cyclical")
RECON_REDUCTIONS: tuple[str, ...] = ("sum", "mean")


@dataclasses.dataclass(frozen=True)
class Objective:
    """What the optimiser minimises, per image (the history also logs the plain -ELBO).

    Attributes:
      beta: the KL weight once any schedule has finished (>= 0).
      schedule: ``"constant"``; ``"linear"`` (0 -> beta over ``warmup_epochs``, then beta);
        ``"cyclical"`` (``n_cycles`` cycles over training; in the first half of each, 0 ->
        beta linearly, then beta; Fu et al. 2019).
      warmup_epochs: length of the linear warm-up.
      n_cycles: cycles of the cyclical schedule.
      free_bits: nats per latent dimension below which the batch-mean KL of that
        dimension is not penalised (0 = off).
      recon_reduction: ``"sum"`` over pixels (the ELBO), or ``"mean"`` (the Keras-loss
        mistake: reconstruction divided by 784, KL not).
    """

    beta: float = 1.0
    schedule: str = "constant"
    warmup_epochs: int = 0
    n_cycles: int = 4
    free_bits: float = 0.0
    recon_reduction: str = "sum"

    def __post_init__(self) -> None:
        def number(value: Any) -> float | None:  # a real number (NumPy's too), never a bool
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
                return None
            value = float(value)
            return value if math.isfinite(value) else None

        beta = number(self.beta)
        if beta is None or beta < 0:
            raise ValueError(f"beta must be a finite number >= 0, got {self.beta!r} (beta weights the "
                             f"KL term; a negative beta would reward moving away from the prior)")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown KL schedule {self.schedule!r}; valid: {', '.join(SCHEDULES)}")
        minimum = {"warmup_epochs": 1 if self.schedule == "linear" else 0,
                   "n_cycles": 1 if self.schedule == "cyclical" else 0}
        counts = {}
        for name, least in minimum.items():
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < least:
                need = f"a {self.schedule} schedule needs {name} >= {least}" if least else f"{name} must be >= 0"
                raise ValueError(f"{need} (an integer), got {value!r}")
            counts[name] = int(value)
        free_bits = number(self.free_bits)
        if free_bits is None or free_bits < 0:
            raise ValueError(f"free_bits must be a number >= 0 (nats per latent dimension), "
                             f"got {self.free_bits!r}")
        # Plain Python numbers from here on (the config's JSON, the cache key).
        for name, value in {"beta": beta if isinstance(self.beta, (float, np.floating)) else int(self.beta),
                            "free_bits": free_bits if isinstance(self.free_bits, (float, np.floating))
                            else int(self.free_bits), **counts}.items():
            object.__setattr__(self, name, value)
        if self.recon_reduction not in RECON_REDUCTIONS:
            raise ValueError(f"unknown recon_reduction {self.recon_reduction!r}; valid: "
                             f"{', '.join(RECON_REDUCTIONS)}")

    def beta_at(self, step: int, steps_per_epoch: int, total_steps: int) -> float:
        """The KL weight at optimiser step ``step`` (0-based)."""
        if self.schedule == "linear":
            return self.beta * min(1.0, step / (self.warmup_epochs * steps_per_epoch))
        if self.schedule == "cyclical":
            period = total_steps / self.n_cycles
            phase = (step % period) / period
            return self.beta * min(1.0, 2.0 * phase)
        return float(self.beta)

    def effective_beta(self) -> float:
        """The KL weight relative to the summed reconstruction: ``beta * 784`` for ``"mean"``."""
        return self.beta * (N_PIXELS if self.recon_reduction == "mean" else 1.0)

    def traced_form(self) -> "Objective":
        """The parts of this objective that :meth:`loss` bakes into a traced step (reduction,
        free bits), with the beta and its schedule at their defaults: they reach the step as
        the ``beta`` tensor of :meth:`beta_at`, never as constants."""
        return Objective(free_bits=self.free_bits, recon_reduction=self.recon_reduction)

    def loss(self, terms: Terms, beta: tf.Tensor) -> tf.Tensor:
        """Mean over the batch of ``recon / r + beta * KL`` (free bits applied to the KL)."""
        recon = tf.reduce_mean(terms.recon)
        if self.recon_reduction == "mean":
            recon = recon / N_PIXELS
        kl_dims = tf.reduce_mean(terms.kl_per_dim, axis=0)  # [L], batch mean per dimension
        if self.free_bits > 0:
            kl_dims = tf.maximum(kl_dims, self.free_bits)
        return recon + beta * tf.reduce_sum(kl_dims)


def effective_beta(beta: float, recon_reduction: str) -> float:
    """See :meth:`Objective.effective_beta`."""
    return Objective(beta=beta, recon_reduction=recon_reduction).effective_beta()


# --------------------------------------------------------------------------- evaluation


def _batches(x: np.ndarray, batch_size: int):
    for start in range(0, x.shape[0], batch_size):
        yield start, tf.constant(x[start:start + batch_size])


def evaluate_terms(model: Any, x: np.ndarray, *, seed: int = 0, batch_size: int = 500) -> dict[str, np.ndarray]:
    """Per-image ``recon``, ``kl`` [N] and ``kl_per_dim`` [N, L] (nats) through :func:`elbo_terms`,
    one posterior sample per image drawn from ``(seed, batch index)``; plus ``z_mean`` [N, L].
    ``x``: images ``[N, 28, 28, 1]`` in [0, 1] (ValueError otherwise, or for NaN/inf)."""
    x = check_images(x, "evaluate_terms: the images")  # float32 [N, 28, 28, 1] in [0, 1], finite
    fn = _eval_fn(model)
    out: dict[str, list] = {"recon": [], "kl": [], "kl_per_dim": [], "z_mean": []}
    for i, (start, xb) in enumerate(_batches(x, batch_size)):
        recon, kld, z_mean = fn(xb, tf.constant([seed, 1_000_003 + i], tf.int64))
        out["recon"].append(recon.numpy())
        out["kl_per_dim"].append(kld.numpy())
        out["z_mean"].append(z_mean.numpy())
    res = {k: np.concatenate(v) for k, v in out.items() if v}
    res["kl"] = res["kl_per_dim"].sum(axis=1)
    return res


def _eval_fn(model: Any) -> Callable:
    cache = model.__dict__.setdefault("_aecore_eval_fns", {})
    if "terms" not in cache:
        @tf.function(reduce_retracing=True, autograph=False)
        def fn(x, seed):
            terms = elbo_terms(model, x, seed, training=False)
            return terms.recon, terms.kl_per_dim, model.posterior(x, training=False).z_mean
        fn._omit_frequent_tracing_warning = True
        cache["terms"] = fn
    return cache["terms"]


def active_units(z_mean: np.ndarray, threshold: float = ACTIVE_UNIT_THRESHOLD) -> int:
    """Latent dimensions whose posterior mean varies across images: ``Var_x(E_q[z_u]) > threshold``
    (Burda et al. 2016, threshold 0.01). ``z_mean`` is ``[N, L]``."""
    z_mean = np.asarray(z_mean, np.float64)
    if z_mean.ndim != 2 or z_mean.shape[0] < 2:
        raise ValueError(f"active_units needs posterior means [N >= 2, L], got shape {z_mean.shape}")
    return int((z_mean.var(axis=0) > threshold).sum())


def iwae_bound(model: Any, x: np.ndarray, *, k: int = 100, seed: int = 0, batch_size: int = 100) -> np.ndarray:
    """Importance-weighted lower bound on ``log p(x)`` per image (Burda et al. 2016), nats [N].

    ``log (1/k) sum_i p(x | z_i) p(z_i) / q(z_i | x)`` with ``z_i ~ q(z|x)``; k = 1 is the
    ELBO, and the bound tightens as k grows. Returns the bound; ``-bound`` estimates the NLL.
    ``x``: images ``[N, 28, 28, 1]`` in [0, 1] (ValueError otherwise, or for NaN/inf).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    x = check_images(x, "iwae_bound: the images")  # float32 [N, 28, 28, 1] in [0, 1], finite
    fn = _iwae_fn(model)
    out = []
    for i, (_, xb) in enumerate(_batches(x, batch_size)):
        out.append(fn(xb, tf.constant(k), tf.constant([seed, 2_000_003 + i], tf.int64)).numpy())
    return np.concatenate(out).astype(np.float64)


def _iwae_fn(model: Any) -> Callable:
    cache = model.__dict__.setdefault("_aecore_eval_fns", {})
    if "iwae" not in cache:
        @tf.function(reduce_retracing=True, autograph=False)
        def fn(x, k, seed):
            q = model.posterior(x, training=False)
            b, latent = tf.shape(q.z_mean)[0], tf.shape(q.z_mean)[1]
            eps = tf.random.stateless_normal(tf.stack([k, b, latent]), seed=seed)  # [k, B, L]
            std = tf.exp(0.5 * q.z_log_var)
            z = q.z_mean[None] + std[None] * eps  # [k, B, L]
            logits = model.decode(tf.reshape(z, [-1, latent]), training=False)  # [k*B, 28, 28, 1]
            x_rep = tf.tile(x, [k, 1, 1, 1])  # [k*B, 28, 28, 1], sample-major like z
            log_px_z = -tf.reduce_sum(model.obs.pixel_nll_given_log_sigma(x_rep, logits, tf.convert_to_tensor(model.log_sigma)),
                                      axis=[1, 2, 3])
            log_px_z = tf.reshape(log_px_z, [k, b])
            log_pz = -0.5 * tf.reduce_sum(tf.square(z) + LOG_2PI, axis=-1)  # [k, B]
            log_qz = -0.5 * tf.reduce_sum(tf.square(eps) + q.z_log_var[None] + LOG_2PI, axis=-1)
            log_w = log_px_z + log_pz - log_qz  # [k, B]
            return tf.reduce_logsumexp(log_w, axis=0) - tf.math.log(tf.cast(k, log_w.dtype))
        fn._omit_frequent_tracing_warning = True
        cache["iwae"] = fn
    return cache["iwae"]


def reconstruct(model: Any, x: np.ndarray, *, batch_size: int = 1000) -> np.ndarray:
    """Mean reconstruction through the posterior mean, ``[N, 28, 28, 1]`` in [0, 1]."""
    x = check_images(x, "reconstruct: the images")  # [N, 28, 28, 1] in [0, 1], finite
    out = [model.obs.mean(model.decode(model.posterior(xb).z_mean)).numpy() for _, xb in _batches(x, batch_size)]
    return np.concatenate(out)


def reconstruct_sampled(model: Any, x: np.ndarray, *, seed: int = 0, batch_size: int = 1000) -> np.ndarray:
    """Mean reconstruction at one sample ``z ~ q(z|x)`` per image, ``[N, 28, 28, 1]`` in [0, 1].

    What the decoder was trained on: a collapsed posterior is the prior, whose mean z = 0 lies
    far inside the shell its samples fill (radius about sqrt(L)), so :func:`reconstruct` scores
    a point the decoder never saw; this scores the samples it did (issue 21 item 18). The sample
    of batch ``i`` is drawn from ``(seed, 2_000_003 + i)``.
    """
    x = check_images(x, "reconstruct_sampled: the images")
    out = []
    for i, (_, xb) in enumerate(_batches(x, batch_size)):
        q = model.posterior(xb)
        eps = tf.random.stateless_normal(tf.shape(q.z_mean), seed=tf.constant([seed, 2_000_003 + i], tf.int64),
                                         dtype=q.z_mean.dtype)
        out.append(model.obs.mean(model.decode(q.z_mean + tf.exp(0.5 * q.z_log_var) * eps)).numpy())
    return np.concatenate(out)


def posterior_stats(model: Any, x: np.ndarray, *, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """``(z_mean, z_log_var)`` of ``q(z|x)``, each float64 ``[N, L]``."""
    x = check_images(x, "posterior_stats: the images")
    parts = [model.posterior(xb) for _, xb in _batches(x, batch_size)]
    return (np.concatenate([q.z_mean.numpy() for q in parts]).astype(np.float64),
            np.concatenate([q.z_log_var.numpy() for q in parts]).astype(np.float64))


def mutual_information(z_mean: np.ndarray, z_log_var: np.ndarray, *, seed: int = 0, block: int = 250) -> float:
    """Estimate of the mutual information ``I(x; z)`` under the encoder, nats (Hoffman & Johnson
    2016: the KL term is ``I(x; z) + KL(q(z) || p(z))``; the estimator of He et al. 2019).

    With one sample ``z_i ~ q(z | x_i)`` per image and the aggregate posterior ``q(z)`` taken as
    the mixture of the ``N`` posteriors, ``I = mean_i [log q(z_i | x_i) - log q(z_i)]``. It is a
    rate that ignores what the KL spends on matching the prior's shape: near 0 when the code
    carries no information about the image, at most ``log N``.

    Args:
      z_mean, z_log_var: the posteriors' parameters ``[N, L]`` (N >= 2).
      seed: seed of the samples.
      block: rows of the ``[block, N, L]`` intermediate (memory only).
    """
    mu, lv = np.asarray(z_mean, np.float64), np.asarray(z_log_var, np.float64)
    if mu.ndim != 2 or mu.shape != lv.shape or mu.shape[0] < 2:
        raise ValueError(f"mutual_information needs z_mean and z_log_var of one shape [N >= 2, L], got "
                         f"{mu.shape} and {lv.shape}")
    if not (np.isfinite(mu).all() and np.isfinite(lv).all()):
        raise ValueError("mutual_information: NaN or infinite posterior parameters (a diverged model?)")
    n, dims = mu.shape
    z = mu + np.exp(0.5 * lv) * np.random.default_rng(seed).standard_normal(mu.shape)  # [N, L]
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    log_q_own = np.sum(-half_log_2pi - 0.5 * lv - 0.5 * (z - mu) ** 2 / np.exp(lv), axis=1)  # [N]
    log_q_agg = np.empty(n)
    inv_var = np.exp(-lv)  # [N, L]
    for start in range(0, n, block):
        zb = z[start:start + block, None, :]  # [b, 1, L]
        log_dens = np.sum(-half_log_2pi - 0.5 * lv[None] - 0.5 * (zb - mu[None]) ** 2 * inv_var[None], axis=2)  # [b, N]
        top = log_dens.max(axis=1, keepdims=True)
        log_q_agg[start:start + block] = (top[:, 0] + np.log(np.exp(log_dens - top).sum(axis=1))) - math.log(n)
    return float(np.mean(log_q_own - log_q_agg))


def decode_mean(model: Any, z: np.ndarray, *, batch_size: int = 1000) -> np.ndarray:
    """Decoder means for latent codes ``z`` ``[N, L]`` (manifold grids, prior samples)."""
    out = [model.obs.mean(model.decode(zb)).numpy()
           for _, zb in _batches(np.asarray(z, np.float32), batch_size)]
    return np.concatenate(out)


# --------------------------------------------------------------------------- fitting


# What fit logs (nats per image): ``epochs``, one row per epoch: ``epoch``, ``beta`` (at the epoch's
# last step), ``loss`` (the optimised objective, epoch mean), ``recon``, ``kl``, ``neg_elbo`` (=
# recon + kl), then ``val_recon``, ``val_kl``, ``val_neg_elbo``, ``val_active_units`` (on
# ``x_val``), ``log_sigma`` and ``seconds``; ``steps``, one row per optimiser step: ``step``, ``epoch``,
# ``beta``, ``loss``, ``recon``, ``kl`` (batch means). The autoencoders' loop logs the same way.
History = training.History


# Version of fit's training program, part of the cache key of every run it trains: raise it
# when a change alters what fit computes (not only how fast). 2: FusedAdam instead of
# keras.optimizers.Adam (the same algorithm; the last bits of the results differ). 3: a learned
# sigma starts at the first batch's optimum and steps SIGMA_LR_SCALE times faster.
FIT_PROGRAM = 3

# Learning-rate factor of a learned decoder sigma (log sigma's Adam step is about this times the
# learning rate). At 1 it moves about 1e-3 per step at the book's rate, and after 800 steps sat at
# twice its own RMSE; 10 lets it follow the reconstruction error (chapter 6, issue 21 item 13).
SIGMA_LR_SCALE = 10.0


def _check_objective(objective: Any) -> Objective:
    """``objective``, or the default :class:`Objective` for None; anything else a TypeError."""
    if objective is None:
        return Objective()
    if not isinstance(objective, Objective):
        raise TypeError(f"objective must be an aecore.vae.Objective (e.g. Objective(beta=2.0)), "
                        f"got {type(objective).__name__}: {objective!r}")
    return objective


def fit(model: VAE, x_train: np.ndarray, *, objective: Objective | None = None,
        x_val: np.ndarray | None = None, epochs: int, batch_size: int = 128, seed: int = 0,
        learning_rate: float = 1e-3, binarize: str | None = None, progress: bool = True,
        progress_prefix: str = "", steps_per_call: int | None = None, jit_compile: bool = False) -> History:
    """Trains ``model`` with Adam on the objective; returns per-epoch and per-step logs.

    Adam is :class:`aecore.adam.FusedAdam` (:func:`aecore.optim.make_optimizer`, as for the
    autoencoders), and the epochs run in :func:`aecore.training.train_epochs`, the loop the
    autoencoders use too. :data:`FIT_PROGRAM` names this training program in the cache keys.

    Args:
      model: from :func:`build_vae`.
      x_train: images ``[N, 28, 28, 1]`` in [0, 1].
      objective: what to minimise (default: the plain -ELBO, beta 1).
      x_val: held-out targets for the per-epoch validation columns (used as given).
      epochs, batch_size, learning_rate: as usual.
      seed: shuffling, posterior samples (``(seed, step)``) and dynamic binarisation.
      binarize: None or ``"dynamic"`` (a fresh Bernoulli sample of every batch).
      progress: print one line per epoch.
      steps_per_call: optimiser steps per ``tf.function`` call, as in
        :func:`aecore.training.fit`: a graph-side loop over that many full mini-batches, each
        step the very same compiled ``train_step`` with the same batch, step seed and beta;
        None means ``aecore.training.DEFAULT_STEPS_PER_CALL``. Only the speed depends on it:
        every value gives bit-identical logs and weights (``tests/test_vae.py``); ``1`` is
        the one-call-per-step reference loop.
      jit_compile: XLA-compile the training step. Off by default: XLA speeds up the steps of
        the MLP VAE but its compilation (seconds per run and batch shape) costs more than it
        saves in runs of the book's length (``benchmarks/`` measures both), and it changes
        the last bits of the results. XLA's CPU convolutions are slower than oneDNN's.

    Raises:
      ValueError: bad arguments.
      TrainingDivergedError: the objective became NaN/inf; the message names the first bad
        step and its epoch.
    """
    objective = _check_objective(objective)
    epochs, batch_size, steps_per_call, learning_rate = check_fit_arguments(epochs, batch_size, steps_per_call,
                                                                            learning_rate)
    if binarize not in (None, "dynamic"):
        raise ValueError(f"unknown binarize={binarize!r}; valid: None, 'dynamic'")
    x_train = check_images(x_train, "x_train")
    if x_val is not None:
        x_val = check_images(x_val, "x_val")
    dynamic = binarize == "dynamic"

    # Models of one architecture share one traced program (aecore.programs): the results are
    # the same as with a fresh trace; only the tracing time is saved. The trace bakes in the
    # objective's form (reduction, free bits) but not beta or its schedule, which enter every
    # step as a tensor: a sweep over beta, warm-ups and cycles runs on one program.
    traced = objective.traced_form()
    hyper = getattr(model, "hyperparameters", None)
    key = None if not hyper else ("vae", json.dumps(hyper, sort_keys=True), traced, float(learning_rate),
                                  bool(jit_compile), dynamic)

    def make(net: VAE) -> tuple[list[Any], dict[str, Callable]]:
        return _make_steps(net, traced, learning_rate, jit_compile, dynamic)

    with programs.bound(model, key, lambda: build_vae(**hyper, seed=0), make) as program:
        # After the template is built, which then does not depend on what ran before. Not TF's
        # global seed: the steps' random ops are stateless (see aecore.set_seed).
        aecore.set_seed(seed, tensorflow=False)
        return _fit_loop(model, program, x_train, x_val, objective=objective, epochs=epochs,
                         batch_size=batch_size, seed=seed, learning_rate=learning_rate,
                         steps_per_call=steps_per_call, progress=progress, progress_prefix=progress_prefix)


def _make_steps(net: VAE, objective: Objective, learning_rate: float, jit_compile: bool,
                dynamic: bool) -> tuple[list[Any], dict[str, Callable]]:
    """Adam for ``net`` and the steps traced on it: ``(optimizer variables, {"train_step",
    "train_steps"})``."""
    from aecore.data import binarize_dynamic_tf

    variables = net.trainable_variables
    # A learned sigma gets its own step (SIGMA_LR_SCALE x the rate): Adam moves log sigma by about
    # the learning rate per step, too slow for it to follow the reconstruction error in a short run.
    scales = [SIGMA_LR_SCALE if v is net.log_sigma else 1.0 for v in variables]
    opt = make_optimizer("adam", variables, learning_rate, lr_scales=scales)
    optimal_sigma = net.obs.sigma == "optimal"

    @tf.function(reduce_retracing=True, autograph=False, jit_compile=bool(jit_compile))
    def train_step(x, step_seed, beta):
        if dynamic:
            x = binarize_dynamic_tf(x, step_seed + tf.constant([0, 7_919], tf.int64))
        with tf.GradientTape() as tape:
            terms = elbo_terms(net, x, step_seed, training=True)
            loss = objective.loss(terms, beta)
        grads = tape.gradient(loss, variables)
        opt.apply_gradients(grads)
        if optimal_sigma:  # running optimum for evaluation (EMA over the batches' optima)
            net.log_sigma.assign(0.9 * net.log_sigma + 0.1 * terms.log_sigma)
        return tf.stack([loss, tf.reduce_mean(terms.recon), tf.reduce_mean(terms.kl)])

    # Several steps per call: the same compiled train_step, the same batch, step seed and beta.
    train_steps = step_loop(train_step)  # [count, 3]: loss, recon, kl per step
    train_step._omit_frequent_tracing_warning = True  # traced once per program, on purpose
    return opt.state, {"train_step": train_step, "train_steps": train_steps}


def _fit_loop(model: VAE, program: "programs.Program", x_train: np.ndarray, x_val: np.ndarray | None, *,
              objective: Objective, epochs: int, batch_size: int, seed: int, learning_rate: float,
              steps_per_call: int, progress: bool, progress_prefix: str) -> History:
    """:func:`fit`'s epochs (:func:`aecore.training.train_epochs`), run with ``program`` (its
    template holds ``model``'s weights)."""
    net = program.template
    if net.obs.sigma in ("optimal", "learned"):
        # Start at the first batch's optimum, not at the configured sigma: the running value of
        # gaussian_optimal, and the learned sigma's starting point (from sigma = 1 it would spend
        # hundreds of steps only reaching the untrained decoder's error).
        x0 = tf.constant(x_train[:batch_size])
        q0 = net.posterior(x0, training=True)
        eps = tf.random.stateless_normal(tf.shape(q0.z_mean), seed=tf.constant([seed, 0], tf.int64), dtype=q0.z_mean.dtype)
        logits0 = net.decode(q0.z_mean + tf.exp(0.5 * q0.z_log_var) * eps, training=True)
        net.log_sigma.assign(losses.optimal_log_sigma(x0, logits0))

    def evaluate() -> dict[str, float]:  # on the template: its evaluation function is traced once too
        if x_val is None:
            return {}
        t = evaluate_terms(net, x_val, seed=seed)
        return {"val_recon": float(t["recon"].mean()), "val_kl": float(t["kl"].mean()),
                "val_neg_elbo": float((t["recon"] + t["kl"]).mean()), "val_active_units": active_units(t["z_mean"])}

    def after_epoch(epoch: int, row: Mapping[str, float]) -> dict[str, float]:
        return {"neg_elbo": row["recon"] + row["kl"], "log_sigma": float(net.log_sigma.numpy())}

    wording = training.Wording("VAE training", "nats/image",
                               f"decoder {model.obs.name}, learning rate {learning_rate:g}",
                               (("loss", "loss", ".4g"), ("recon", "recon", ".1f"), ("KL", "kl", ".2f"),
                                ("val -ELBO", "val_neg_elbo", ".1f"), ("val KL", "val_kl", ".1f"),
                                ("val active units", "val_active_units", "g")))
    logs = training.train_epochs(model, program, x_train, epochs=epochs, batch_size=batch_size, seed=seed,
                                 steps_per_call=steps_per_call, names=("loss", "recon", "kl"),
                                 per_batch=("beta", objective.beta_at), evaluate=evaluate,
                                 after_epoch=after_epoch, wording=wording, progress=progress,
                                 progress_prefix=progress_prefix)
    first = ["epoch", "beta", "loss", "recon", "kl", "neg_elbo"]
    last = ["log_sigma", "seconds"]
    order = first + [c for c in logs.epochs.columns if c not in first + last] + last
    return History(logs.epochs[order], logs.steps)
