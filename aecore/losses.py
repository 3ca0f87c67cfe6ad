"""Reconstruction losses as negative log-likelihoods, in nats.

Every loss here is the negative log-likelihood (NLL) of a per-pixel distribution
whose parameter the decoder predicts from **logits** (pre-sigmoid outputs):

| name                   | distribution p(x | logits)                  | the familiar loss it is      |
|------------------------|--------------------------------------------|------------------------------|
| ``gaussian``           | Normal(mean=sigmoid(logits), sigma)        | MSE, scaled by 1/(2 sigma^2) |
| ``bernoulli``          | Bernoulli(p=sigmoid(logits))               | binary cross-entropy (BCE)   |
| ``continuous_bernoulli`` | CB(lambda=sigmoid(logits)) on [0, 1]     | BCE minus log C(lambda)      |
| ``laplace``            | Laplace(mean=sigmoid(logits), scale b)     | MAE, scaled by 1/b           |

``laplace_identity`` is the Laplace with the decoder's output as its mean, no sigmoid (chapter 5:
MAE's stuck runs come from the sigmoid, not from the absolute error).

Five more entries reproduce *mistakes* on purpose (:data:`MISTAKES`, chapter 4):
``bce_on_probabilities`` (a double sigmoid), ``categorical_ce`` (categorical cross-entropy
across the pixels) and ``bce_targets_0_255`` (targets never divided by 255), and the MSE
controls of two of them, ``mse_on_probabilities`` and ``mse_targets_0_255``. They are not
likelihoods of anything sensible; their reconstruction is the network's sigmoid output.

Conventions (after optax and disentanglement_lib):

- ``pixel_nll(x, logits)`` returns the elementwise NLL, same shape as ``x``;
- ``nll(x, logits)`` returns one value per example, shape ``[B]``, **summed** over all
  non-batch axes: nats per image;
- ``nll_per_pixel(x, logits)`` returns ``[B]`` averaged over pixels: nats per pixel,
  the scale of Keras' ``"mse"``/``"binary_crossentropy"`` losses and of the plots;
- reduction over the batch is left to the caller.

Inputs may be NumPy arrays or tensors, float32 or float64 (the dtype of ``logits`` is
kept). In eager mode, inputs are validated: NaNs and, for the Bernoulli family,
targets outside [0, 1] raise ``ValueError``; the Gaussian and Laplace likelihoods refuse
targets further than :data:`REAL_TARGET_MARGIN` outside [0, 1] (0-255 pixels). Inside a compiled training step the data
was validated once by ``aecore.data`` and the checks are skipped.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

from aecore._tf import tf  # first: TensorFlow, quietly (keras imports it too)
import numpy as np

LOG_2PI = math.log(2.0 * math.pi)
MIN_LOG_SIGMA = -6.0  # sigma-VAE's floor: a batch reconstructed perfectly must not give log(0)
# How a likelihood's scale is set: "none" (no scale: the Bernoulli family), "fixed" (a constant),
# "learned" (one trainable scalar, VAEs only) or "optimal" (the batch's maximum-likelihood
# value, sigma-VAE, VAEs only).
SIGMA_KINDS: tuple[str, ...] = ("none", "fixed", "learned", "optimal")


# --------------------------------------------------------------------------- helpers


def _as_tensors(x, logits) -> tuple[tf.Tensor, tf.Tensor]:
    """Converts to tensors sharing the floating dtype of ``logits`` (default float32)."""
    logits = tf.convert_to_tensor(logits)
    if not logits.dtype.is_floating:
        logits = tf.cast(logits, tf.float32)
    x = tf.cast(tf.convert_to_tensor(x), logits.dtype)
    return x, logits


# How far a Gaussian's or Laplace's targets may lie outside [0, 1]: their mean, sigmoid(logits), is
# in (0, 1) but the density is defined on every real number, so targets in [-1, 1] (or a little
# above 1) are scored; beyond this margin they are on another scale (0-255 pixels) and refused.
REAL_TARGET_MARGIN = 1.0


def _validate(name: str, x: tf.Tensor, logits: tf.Tensor, *, unit_interval: bool, margin: float = 0.0) -> None:
    """Eager-mode input checks with messages that say what was wrong and what to do.

    ``unit_interval``: refuse targets outside ``[-margin, 1 + margin]`` (``margin`` 0: the
    Bernoulli family, whose targets are probabilities; :data:`REAL_TARGET_MARGIN`: the Gaussian
    and Laplace likelihoods, which only refuse targets on another scale, such as 0-255)."""
    if not tf.executing_eagerly():
        return  # inside tf.function: values are symbolic; the data loader validated them
    x_np, l_np = x.numpy(), logits.numpy()
    if x_np.shape != l_np.shape:
        raise ValueError(f"{name}: targets have shape {x_np.shape} but logits have shape "
                         f"{l_np.shape}; they must match (reshape the decoder output).")
    for label, arr in (("targets", x_np), ("logits", l_np)):
        n_bad = int((~np.isfinite(arr)).sum())
        if n_bad:
            raise ValueError(f"{name}: {n_bad} NaN or infinite value(s) in the {label}. Such targets point to "
                             "broken data; such logits to a diverged model (lower the learning rate).")
    if unit_interval and x_np.size:
        lo, hi = float(x_np.min()), float(x_np.max())
        if lo < -margin or hi > 1.0 + margin:
            tolerated = (f" (its mean, sigmoid(logits), lies in (0, 1); targets up to {margin:g} outside "
                         f"[0, 1] are tolerated)" if margin else "")
            raise ValueError(
                f"{name}: targets must lie in [0, 1] but range over [{lo:g}, {hi:g}]. "
                "Scale images to [0, 1] (e.g. divide uint8 pixels by 255) before using "
                f"this likelihood{tolerated}.")


def _check_batch(name: str, x) -> None:
    """Per-example NLLs need a batch axis: a ``[784]`` vector would be scored as 784 images of
    one pixel each. (Elementwise ``pixel_nll`` takes any shape.)"""
    rank = getattr(x, "ndim", None)
    if rank is None:
        rank = getattr(getattr(x, "shape", None), "rank", None)
    if rank is None:
        rank = np.ndim(x)
    if rank < 2:
        raise ValueError(f"{name}: per-example NLLs need a batch [B, ...], got {rank}-D input; for one image "
                         f"add the batch axis (x[None]), otherwise each value is scored as an image of one pixel")


def _bce_from_logits(x: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """``max(l, 0) - l x + log(1 + exp(-|l|))``: BCE that never logs 0 and never overflows.

    TF's op writes max and |.| with ``where``, which also gets the gradient right at l = 0
    (``relu``/``abs`` have gradient 0 there, which would give -x instead of 1/2 - x).
    """
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits)


def _sum_over_pixels(values: tf.Tensor) -> tf.Tensor:
    """[B, ...] -> [B]: sum over every non-batch axis (nats per example)."""
    return tf.reduce_sum(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


def _mean_over_pixels(values: tf.Tensor) -> tf.Tensor:
    """[B, ...] -> [B]: mean over every non-batch axis (nats per pixel)."""
    return tf.reduce_mean(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


def logit(p, eps: float = 0.0):
    """Inverse sigmoid, log(p / (1 - p)); ``eps`` clips p into [eps, 1 - eps] first."""
    p = tf.convert_to_tensor(p)
    if not p.dtype.is_floating:
        p = tf.cast(p, tf.float32)
    if eps:
        p = tf.clip_by_value(p, eps, 1.0 - eps)
    return tf.math.log(p) - tf.math.log1p(-p)


# --------------------------------------------------------------------------- elementwise NLLs


def gaussian_pixel_nll(x, logits, *, sigma: float = 1.0) -> tf.Tensor:
    """Elementwise Gaussian NLL with mean sigmoid(logits) and fixed ``sigma``.

    Formula: ``(x - mu)^2 / (2 sigma^2) + log(sigma) + log(2 pi) / 2``, ``mu = sigmoid(logits)``.
    Summed over pixels with ``sigma = 1`` this is half the summed squared error plus
    ``D/2 log(2 pi)``: MSE is this likelihood up to scale and shift.
    """
    if not sigma > 0:
        raise ValueError(f"gaussian: sigma must be > 0, got {sigma!r}")
    x, logits = _as_tensors(x, logits)
    _validate("gaussian", x, logits, unit_interval=True, margin=REAL_TARGET_MARGIN)
    mu = tf.sigmoid(logits)
    return 0.5 * tf.square((x - mu) / sigma) + math.log(sigma) + 0.5 * LOG_2PI


def gaussian_pixel_nll_log_sigma(x: tf.Tensor, logits: tf.Tensor, log_sigma: tf.Tensor) -> tf.Tensor:
    """Elementwise Gaussian NLL with mean ``sigmoid(logits)`` and scale ``exp(log_sigma)``, for a
    ``log_sigma`` that may be a (trainable) tensor: a VAE decoder's fixed, learned or per-batch
    optimal sigma (:data:`SIGMA_KINDS`). Tensors in, no eager checks (it runs inside training).

    Formula: ``(x - mu)^2 / (2 sigma^2) + log sigma + log(2 pi) / 2``, written with
    ``exp(-2 log_sigma)`` so that the gradient reaches ``log_sigma``.
    """
    mu = tf.sigmoid(logits)
    return 0.5 * tf.square(x - mu) * tf.exp(-2.0 * log_sigma) + log_sigma + 0.5 * LOG_2PI


def optimal_log_sigma(x: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Maximum-likelihood log sigma of a shared Gaussian: ``log sqrt(mean (x - mu)^2)``,
    the mean over the batch and every pixel (sigma-VAE), floored at :data:`MIN_LOG_SIGMA`."""
    mse = tf.reduce_mean(tf.square(x - tf.sigmoid(logits)))
    return tf.maximum(0.5 * tf.math.log(mse + 1e-12), MIN_LOG_SIGMA)


def _needs_a_sigma(x, logits) -> tf.Tensor:
    raise ValueError("this Gaussian's sigma is learned or fitted per batch, which only a VAE decoder has "
                     "(aecore.vae.build_vae(decoder=...)); for an autoencoder use the 'gaussian' likelihood "
                     "(fixed sigma = 1, i.e. MSE)")


def bernoulli_pixel_nll(x, logits) -> tf.Tensor:
    """Elementwise Bernoulli NLL (binary cross-entropy) from logits, numerically stable.

    Formula: ``-x log s(l) - (1 - x) log(1 - s(l))`` with ``s = sigmoid``, computed as
    ``max(l, 0) - l x + log(1 + exp(-|l|))``, which never takes the log of 0 and never
    overflows (the same form as ``tf.nn.sigmoid_cross_entropy_with_logits``).
    Its minimum over the logits is the binary entropy of ``x``, zero only for x in {0, 1}.
    """
    x, logits = _as_tensors(x, logits)
    _validate("bernoulli", x, logits, unit_interval=True)
    return _bce_from_logits(x, logits)


# Below this |logits|, log C and the CB mean use their Taylor series: the closed forms are
# 0/0 at logits = 0 and lose digits nearby (the series' next terms are below 1e-12 here).
_CB_TAYLOR_CUTOFF = 1e-2


def cb_log_normalizer(logits) -> tf.Tensor:
    """log C(lambda) of the continuous Bernoulli, lambda = sigmoid(logits), in nats.

    ``C(lambda) = 2 artanh(1 - 2 lambda) / (1 - 2 lambda)`` (Loaiza-Ganem & Cunningham,
    2019), with ``C(1/2) = 2``. In terms of the logit ``eta`` this is
    ``C = eta / tanh(eta / 2)``, so ``log C = log|eta| - log|tanh(eta / 2)|``; near
    ``eta = 0`` we use ``log 2 + eta^2 / 12 - 7 eta^4 / 1440``. Both branches are fed safe
    inputs, so the value *and* the gradient are finite everywhere, including lambda = 0.5.
    It grows like log|eta| as lambda -> 0 or 1 (C is unbounded there).
    """
    eta = tf.convert_to_tensor(logits)
    if not eta.dtype.is_floating:
        eta = tf.cast(eta, tf.float32)
    small = tf.abs(eta) < _CB_TAYLOR_CUTOFF
    safe = tf.where(small, tf.ones_like(eta), eta)  # keeps the unused branch's gradient finite
    exact = tf.math.log(tf.abs(safe)) - tf.math.log(tf.abs(tf.tanh(safe / 2.0)))
    eta2 = tf.square(eta)
    series = math.log(2.0) + eta2 / 12.0 - 7.0 * tf.square(eta2) / 1440.0
    return tf.where(small, series, exact)


def cb_mean(logits) -> tf.Tensor:
    """Mean of the continuous Bernoulli with lambda = sigmoid(logits).

    ``mu(lambda) = lambda / (2 lambda - 1) + 1 / (2 artanh(1 - 2 lambda))``, which in the logit
    is ``1 / (1 - exp(-eta)) - 1 / eta``; near 0 it is ``1/2 + eta/12 - eta^3/720``.
    The mean is *not* lambda: it is pulled toward 1/2 (mu(0.9) ~ 0.670).
    """
    eta = tf.convert_to_tensor(logits)
    if not eta.dtype.is_floating:
        eta = tf.cast(eta, tf.float32)
    small = tf.abs(eta) < _CB_TAYLOR_CUTOFF
    safe = tf.where(small, tf.ones_like(eta), eta)
    exact = -1.0 / tf.math.expm1(-safe) - 1.0 / safe
    series = 0.5 + eta / 12.0 - eta ** 3 / 720.0
    return tf.where(small, series, exact)


def continuous_bernoulli_pixel_nll(x, logits) -> tf.Tensor:
    """Elementwise continuous-Bernoulli NLL: BCE(x, logits) - log C(sigmoid(logits)).

    Unlike BCE, this is a proper density on [0, 1], so grey-valued targets are modelled
    without an improper likelihood. Values can be negative (it is a density).
    """
    x, logits = _as_tensors(x, logits)
    _validate("continuous_bernoulli", x, logits, unit_interval=True)
    return _bce_from_logits(x, logits) - cb_log_normalizer(logits)


def laplace_pixel_nll(x, logits, *, scale: float = 1.0) -> tf.Tensor:
    """Elementwise Laplace NLL with mean sigmoid(logits): ``|x - mu| / b + log(2 b)`` (MAE)."""
    if not scale > 0:
        raise ValueError(f"laplace: scale must be > 0, got {scale!r}")
    x, logits = _as_tensors(x, logits)
    _validate("laplace", x, logits, unit_interval=True, margin=REAL_TARGET_MARGIN)
    return tf.abs(x - tf.sigmoid(logits)) / scale + math.log(2.0 * scale)


def bernoulli_entropy(x) -> tf.Tensor:
    """Elementwise binary entropy ``-x log x - (1 - x) log(1 - x)`` in nats (0 at x in {0, 1}).

    This is the smallest value BCE can reach for target x: the part of a BCE number that no
    model can remove.
    """
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        x = tf.cast(x, tf.float32)
    return -(tf.math.xlogy(x, x) + tf.math.xlogy(1.0 - x, 1.0 - x))


def bernoulli_pixel_nll_naive(x, probs) -> tf.Tensor:
    """BCE computed from *probabilities*, the naive way: ``-x log p - (1 - x) log(1 - p)``.

    Kept only to show why losses take logits: it is ``inf`` (or NaN) once p rounds to 0 or 1
    in floating point. Use :func:`bernoulli_pixel_nll` for anything real.
    """
    probs = tf.convert_to_tensor(probs)
    if not probs.dtype.is_floating:
        probs = tf.cast(probs, tf.float32)
    x = tf.cast(tf.convert_to_tensor(x), probs.dtype)
    return -(x * tf.math.log(probs) + (1.0 - x) * tf.math.log(1.0 - probs))


# --------------------------------------------------------------------------- per-example NLLs


def gaussian_nll(x, logits, *, sigma: float = 1.0) -> tf.Tensor:
    """Gaussian NLL per example in nats, shape [B]. See :func:`gaussian_pixel_nll`."""
    return _sum_over_pixels(gaussian_pixel_nll(x, logits, sigma=sigma))


def bernoulli_nll(x, logits) -> tf.Tensor:
    """Bernoulli NLL (BCE) per example in nats, shape [B]. See :func:`bernoulli_pixel_nll`."""
    return _sum_over_pixels(bernoulli_pixel_nll(x, logits))


def continuous_bernoulli_nll(x, logits) -> tf.Tensor:
    """Continuous-Bernoulli NLL per example in nats, shape [B]."""
    return _sum_over_pixels(continuous_bernoulli_pixel_nll(x, logits))


def laplace_nll(x, logits, *, scale: float = 1.0) -> tf.Tensor:
    """Laplace NLL (MAE) per example in nats, shape [B]. See :func:`laplace_pixel_nll`."""
    return _sum_over_pixels(laplace_pixel_nll(x, logits, scale=scale))


def kl_standard_normal(z_mean, z_log_var) -> tf.Tensor:
    """KL(N(z_mean, exp(z_log_var)) || N(0, I)) per example in nats, shape [B].

    Formula: ``0.5 * sum_j (exp(lv_j) + m_j^2 - 1 - lv_j)``, summed over latent dimensions
    (summed, like the reconstruction term: averaging one and summing the other is a hidden
    beta).
    """
    z_mean = tf.convert_to_tensor(z_mean)
    if not z_mean.dtype.is_floating:
        z_mean = tf.cast(z_mean, tf.float32)
    z_log_var = tf.cast(tf.convert_to_tensor(z_log_var), z_mean.dtype)
    if tf.executing_eagerly():
        if z_mean.shape != z_log_var.shape:
            raise ValueError(f"kl_standard_normal: z_mean shape {z_mean.shape} != "
                             f"z_log_var shape {z_log_var.shape}")
        if z_mean.shape.rank is not None and z_mean.shape.rank < 2:
            raise ValueError(f"kl_standard_normal: expected a batch [B, latent_dim], got shape {z_mean.shape}; "
                             "for one example add the batch axis (z[None])")
        finite = tf.reduce_all(tf.math.is_finite(z_mean)) and tf.reduce_all(tf.math.is_finite(z_log_var))
        if not bool(finite):
            raise ValueError("kl_standard_normal: NaN or infinite values in z_mean or z_log_var "
                             "(a diverged encoder?): the KL would be NaN or infinite")
    per_dim = 0.5 * (tf.exp(z_log_var) + tf.square(z_mean) - 1.0 - z_log_var)
    return _sum_over_pixels(per_dim)


# --------------------------------------------------------------------------- mistakes
# Three ways of getting cross-entropy wrong that practitioners meet, kept *on purpose* so a
# chapter can reproduce what they do (chapter 4: the "blob"). Each is one registry entry,
# so a run that uses one says so in its name. Never use them for anything else.


def bce_on_probabilities_pixel_nll(x, logits) -> tf.Tensor:
    """MISTAKE, reproduced on purpose: BCE-from-logits fed *probabilities* (a double sigmoid).

    The network ends in a sigmoid, ``y = sigmoid(logits)``, and ``y`` is then passed to a
    loss that expects logits (``tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=y)``,
    or Keras' ``binary_crossentropy(..., from_logits=True)``), which applies a second sigmoid.

    Formula: ``BCE(x, sigmoid(sigmoid(logits)))``. The probability the loss sees lies in
    ``(1/2, sigmoid(1)) = (0.5, 0.731)``: every target below 0.5 pushes ``y`` to 0 and every
    target above 0.731 pushes it to 1, so the displayed output ``y`` is driven towards where
    the (conditional) mean intensity lies above or below one half.
    """
    x, logits = _as_tensors(x, logits)
    _validate("bce_on_probabilities", x, logits, unit_interval=True)
    return _bce_from_logits(x, tf.sigmoid(logits))


def categorical_ce_pixel_nll(x, logits) -> tf.Tensor:
    """MISTAKE, reproduced on purpose: categorical cross-entropy across the pixels of an image.

    What Keras' ``loss="categorical_crossentropy"`` does to a sigmoid output layer: it
    renormalises the outputs ``y = sigmoid(logits)`` of each image to sum to one over its
    pixels, as if the 784 pixels were 784 mutually exclusive classes, and scores
    ``-sum_j x_j log(y_j / sum_k y_k)``. The loss is blind to the overall brightness of
    ``y`` (any rescaling of ``y`` scores the same) and a pixel is only "on" relative to the
    others.

    Formula (computed stably in log space, without Keras' clipping):
    ``-x_j * (log_sigmoid(l_j) - logsumexp_k log_sigmoid(l_k))``, per pixel; summed over the
    image it is the categorical cross-entropy above. Returns the shape of ``x``.
    """
    x, logits = _as_tensors(x, logits)
    _validate("categorical_ce", x, logits, unit_interval=True)
    flat = tf.reshape(logits, [tf.shape(logits)[0], -1])  # [B, D]
    log_y = tf.math.log_sigmoid(flat)  # log y_j, never log(0)
    log_q = log_y - tf.reduce_logsumexp(log_y, axis=1, keepdims=True)  # log(y_j / sum_k y_k)
    return -x * tf.reshape(log_q, tf.shape(x))


TARGET_SCALE_0_255 = 255.0


def bce_targets_0_255_pixel_nll(x, logits) -> tf.Tensor:
    """MISTAKE, reproduced on purpose: BCE with raw 0-255 pixel values as targets.

    The images were never divided by 255. ``aecore``'s Bernoulli loss refuses such targets
    (they are not probabilities); this entry takes images in [0, 1] like every other loss and
    multiplies the *targets* by 255 inside, to reproduce the bug without weakening that
    check. The network's input stays in [0, 1].

    Formula: ``BCE(255 x, logits) = max(l, 0) - 255 x l + log(1 + exp(-|l|))``. For any
    target above 1 this is unbounded below (it decreases linearly as ``l -> +inf``), so
    every pixel that is inked in some images is rewarded for saturating to 1.
    """
    x, logits = _as_tensors(x, logits)
    _validate("bce_targets_0_255", x, logits, unit_interval=True)
    return _bce_from_logits(TARGET_SCALE_0_255 * x, logits)


# MSE controls of two mistakes (chapter 4): the same error with the Gaussian (MSE) instead of the
# Bernoulli, to tell a failure of BCE from a failure of the mistake itself.


def mse_on_probabilities_pixel_nll(x, logits) -> tf.Tensor:
    """MISTAKE, reproduced on purpose: the double sigmoid of :func:`bce_on_probabilities_pixel_nll`
    under MSE, its control.

    The network ends in a sigmoid, ``y = sigmoid(logits)``, and the loss applies another one
    before comparing with the target: ``(x - sigmoid(y))^2 / 2 + log(2 pi) / 2`` (the Gaussian NLL,
    sigma = 1). What the loss sees lies in (0.5, 0.731), as with BCE, so every target below 0.5
    pushes ``y`` to 0; the displayed reconstruction is ``y``.
    """
    x, logits = _as_tensors(x, logits)
    _validate("mse_on_probabilities", x, logits, unit_interval=True)
    return 0.5 * tf.square(x - tf.sigmoid(tf.sigmoid(logits))) + 0.5 * LOG_2PI


def mse_targets_0_255_pixel_nll(x, logits) -> tf.Tensor:
    """MISTAKE, reproduced on purpose: MSE with raw 0-255 targets, the control of
    :func:`bce_targets_0_255_pixel_nll`.

    Takes images in [0, 1] and multiplies the *targets* by 255 inside; the network's input and its
    sigmoid output stay in [0, 1]. Formula: ``(255 x - sigmoid(logits))^2 / 2 + log(2 pi) / 2``:
    every pixel with any ink (``255 x > 1``) is pulled to 1, where the sigmoid saturates.
    """
    x, logits = _as_tensors(x, logits)
    _validate("mse_targets_0_255", x, logits, unit_interval=True)
    return 0.5 * tf.square(TARGET_SCALE_0_255 * x - tf.sigmoid(logits)) + 0.5 * LOG_2PI


def laplace_identity_pixel_nll(x, logits) -> tf.Tensor:
    """Elementwise Laplace NLL (MAE) whose mean is the decoder's output itself, without a sigmoid:
    ``|x - logits| + log 2`` (scale 1).

    The gradient with respect to the output is ``sign(logits - x)`` everywhere, so, unlike
    :func:`laplace_pixel_nll` through a sigmoid, it never vanishes at a saturated output
    (chapter 5). The reconstruction is the output clipped to [0, 1] (:func:`clip_unit`).
    """
    x, logits = _as_tensors(x, logits)
    _validate("laplace_identity", x, logits, unit_interval=True, margin=REAL_TARGET_MARGIN)
    return tf.abs(x - logits) + math.log(2.0)


def clip_unit(logits) -> tf.Tensor:
    """The decoder's output clipped to [0, 1]: the reconstruction of a likelihood whose mean is the
    output itself (``laplace_identity``)."""
    out = tf.convert_to_tensor(logits)
    if not out.dtype.is_floating:
        out = tf.cast(out, tf.float32)
    return tf.clip_by_value(out, 0.0, 1.0)


# --------------------------------------------------------------------------- registry


@dataclasses.dataclass(frozen=True)
class Likelihood:
    """A per-pixel observation model: how logits become a reconstruction and a loss.

    Attributes:
      name: registry key.
      pixel_nll: ``(x, logits) -> [B, ...]`` elementwise NLL in nats.
      mean: ``logits -> x_hat``, the reconstruction (the distribution's mean).
      loss_name: the name practitioners use for it ("MSE", "BCE", ...).
      description: one line for tables.
      sigma: how its scale is set, one of :data:`SIGMA_KINDS`. "learned" and "optimal" need a
        scale that lives in a model: they are VAE decoders only (:mod:`aecore.vae`), and their
        ``pixel_nll`` without a scale raises ValueError.
    """

    name: str
    pixel_nll: Callable
    mean: Callable
    loss_name: str
    description: str
    sigma: str = "none"

    @property
    def needs_model_sigma(self) -> bool:
        """True for the Gaussians whose sigma a VAE learns or fits per batch."""
        return self.sigma in ("learned", "optimal")

    def pixel_nll_given_log_sigma(self, x, logits, log_sigma) -> tf.Tensor:
        """Elementwise NLL with the scale ``exp(log_sigma)`` (a tensor: a VAE's fixed, learned or
        optimal sigma); without a scale (``sigma == "none"``) ``log_sigma`` is ignored."""
        if self.sigma == "none":
            return self.pixel_nll(x, logits)
        return gaussian_pixel_nll_log_sigma(x, logits, log_sigma)

    def nll(self, x, logits) -> tf.Tensor:
        """Per-example NLL in nats per image, shape [B]."""
        _check_batch(self.name, x)
        return _sum_over_pixels(self.pixel_nll(x, logits))

    def nll_per_pixel(self, x, logits) -> tf.Tensor:
        """Per-example NLL in nats per pixel, shape [B]."""
        _check_batch(self.name, x)
        return _mean_over_pixels(self.pixel_nll(x, logits))


LOSSES: dict[str, Likelihood] = {
    "gaussian": Likelihood("gaussian", gaussian_pixel_nll, tf.sigmoid, "MSE",
                           "Gaussian, fixed sigma (1 for an autoencoder): MSE / 2 + const", sigma="fixed"),
    "bernoulli": Likelihood("bernoulli", bernoulli_pixel_nll, tf.sigmoid, "BCE",
                            "Bernoulli: binary cross-entropy from logits"),
    "continuous_bernoulli": Likelihood("continuous_bernoulli", continuous_bernoulli_pixel_nll,
                                       cb_mean, "CB",
                                       "continuous Bernoulli: BCE - log C(lambda)"),
    "laplace": Likelihood("laplace", laplace_pixel_nll, tf.sigmoid, "MAE",
                          "Laplace, fixed scale = 1: MAE + const"),
    "laplace_identity": Likelihood("laplace_identity", laplace_identity_pixel_nll, clip_unit, "MAE, no sigmoid",
                                   "Laplace, fixed scale = 1, mean = the output itself (no sigmoid): MAE + const"),
    # VAE decoders only: the scale lives in the model (aecore.vae).
    "gaussian_learned": Likelihood("gaussian_learned", _needs_a_sigma, tf.sigmoid, "MSE, learned sigma",
                                   "Gaussian, one learned sigma (calibrated decoder)", sigma="learned"),
    "gaussian_optimal": Likelihood("gaussian_optimal", _needs_a_sigma, tf.sigmoid, "MSE, optimal sigma",
                                   "Gaussian, sigma = batch RMSE (sigma-VAE, calibrated)", sigma="optimal"),
    # Mistakes, reproduced on purpose (see the "mistakes" section above); the reconstruction
    # is what the mistaken code displays: its network's sigmoid output.
    "bce_on_probabilities": Likelihood("bce_on_probabilities", bce_on_probabilities_pixel_nll,
                                       tf.sigmoid, "BCE-on-probabilities",
                                       "MISTAKE: BCE from logits fed sigmoid outputs (double sigmoid)"),
    "categorical_ce": Likelihood("categorical_ce", categorical_ce_pixel_nll, tf.sigmoid,
                                 "categorical-CE",
                                 "MISTAKE: categorical cross-entropy across the 784 pixels"),
    "bce_targets_0_255": Likelihood("bce_targets_0_255", bce_targets_0_255_pixel_nll, tf.sigmoid,
                                    "BCE-targets-0-255",
                                    "MISTAKE: BCE with targets in 0-255 (images not divided by 255)"),
    "mse_on_probabilities": Likelihood("mse_on_probabilities", mse_on_probabilities_pixel_nll, tf.sigmoid,
                                       "MSE-on-probabilities",
                                       "MISTAKE: MSE after a second sigmoid (double sigmoid, MSE control)"),
    "mse_targets_0_255": Likelihood("mse_targets_0_255", mse_targets_0_255_pixel_nll, tf.sigmoid,
                                    "MSE-targets-0-255",
                                    "MISTAKE: MSE with targets in 0-255 (images not divided by 255)"),
}

# The registry entries that reproduce a mistake (never a modelling choice).
MISTAKES: tuple[str, ...] = ("bce_on_probabilities", "categorical_ce", "bce_targets_0_255",
                             "mse_on_probabilities", "mse_targets_0_255")

ALIASES: dict[str, str] = {
    "mse": "gaussian", "normal": "gaussian",
    "bce": "bernoulli", "binary_crossentropy": "bernoulli", "cross_entropy": "bernoulli",
    "cb": "continuous_bernoulli",
    "mae": "laplace",
    "sigma_vae": "gaussian_optimal",
}


def get_loss(name: str) -> Likelihood:
    """Looks a likelihood up by name or alias (``"mse"``, ``"bce"``, ``"cb"``, ``"mae"``).

    Raises:
      ValueError: unknown name; the message lists the valid names and aliases.
    """
    key = str(name).strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid names: {', '.join(LOSSES)}; "
                         f"aliases: {', '.join(f'{a}->{t}' for a, t in ALIASES.items())}")
    return LOSSES[key]
