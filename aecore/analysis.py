"""Per-pixel studies of the losses: curves, minima, curvature and float32 stability.

These are the analytic views the chapters plot. Everything is computed from
:mod:`aecore.losses`, so a plot can never disagree with what training uses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize

from aecore import losses

# The loss a practitioner plots against the *prediction* (the mean in [0, 1]).
CURVE_LOSSES = ("gaussian", "bernoulli", "laplace", "continuous_bernoulli")


def pixel_loss(name: str, target: float, prediction) -> np.ndarray:
    """Per-pixel NLL (nats) of ``name`` for one target, as a function of the prediction.

    ``prediction`` is the decoder's output in (0, 1): the mean for Gaussian/Laplace, the
    Bernoulli probability for BCE, and lambda for the continuous Bernoulli.
    """
    p = np.asarray(prediction, dtype=np.float64)
    logits = np.log(p) - np.log1p(-p)
    x = np.full_like(p, float(target))
    lik = losses.get_loss(name)
    return lik.pixel_nll(x[None], logits[None]).numpy()[0]


def loss_curves(targets, *, names=CURVE_LOSSES, n: int = 999, normalise: bool = True) -> pd.DataFrame:
    """Tidy table: loss value per (loss, target, prediction) on a grid of predictions in (0, 1).

    With ``normalise=True`` each curve has its minimum over the grid subtracted, the view
    the Cross Validated answer draws (its minimum is at zero).
    """
    grid = np.linspace(0.0, 1.0, n + 2)[1:-1]
    frames = []
    for name in names:
        for t in targets:
            v = pixel_loss(name, t, grid)
            frames.append(pd.DataFrame({"loss": losses.get_loss(name).loss_name, "likelihood": name,
                                        "target": t, "prediction": grid,
                                        "value": v - v.min() if normalise else v}))
    return pd.concat(frames, ignore_index=True)


def minimiser(name: str, target: float) -> tuple[float, float]:
    """(prediction that minimises the per-pixel loss, the minimum value in nats)."""
    def f(logit):
        return float(pixel_loss(name, target, np.array([1.0 / (1.0 + np.exp(-logit))]))[0])

    res = optimize.minimize_scalar(f, bounds=(-30.0, 30.0), method="bounded", options={"xatol": 1e-9})
    return float(1.0 / (1.0 + np.exp(-res.x))), float(res.fun)


def excess_loss(name: str, target: float, prediction: float) -> float:
    """Loss at ``prediction`` minus the loss's minimum for this target (nats per pixel)."""
    return float(pixel_loss(name, target, np.array([prediction]))[0]) - minimiser(name, target)[1]


def curvature_at_minimum(name: str, target: float, h: float = 1e-4) -> float:
    """Second derivative of the per-pixel loss w.r.t. the prediction at its minimum.

    Near its minimum a loss behaves like ``curvature / 2 * (prediction - argmin)^2``:
    this is the weight each loss puts on a small error at this target.
    """
    p0, _ = minimiser(name, target)
    h = min(h, p0 / 2, (1 - p0) / 2)
    if not h > 0:
        raise ValueError(f"{name}: the minimum for target {target} lies at the edge of (0, 1); "
                         "its curvature w.r.t. the prediction is undefined")
    p = np.array([p0 - h, p0, p0 + h])
    v = pixel_loss(name, target, p)
    return float((v[0] - 2 * v[1] + v[2]) / h ** 2)


def stability_table(target: float, logits) -> pd.DataFrame:
    """BCE for one target in float32, three ways, against the float64 exact value.

    Columns: ``logit``, ``p_float32`` (sigmoid in float32), ``naive_probabilities`` (the
    textbook formula on float32 probabilities), ``keras_probabilities`` (Keras' BCE on
    probabilities, which clips them to [1e-7, 1 - 1e-7]), ``from_logits_float32``
    (:func:`aecore.losses.bernoulli_pixel_nll`) and ``exact_float64``, plus the gradient
    with respect to the logit of the Keras and the from-logits versions (``keras_grad``,
    ``from_logits_grad``; exact value ``sigmoid(l) - target``).
    """
    import keras
    import tensorflow as tf

    logits = np.asarray(logits, dtype=np.float64)
    l32 = logits.astype(np.float32)
    x32 = np.full_like(l32, target)
    p32 = 1.0 / (1.0 + np.exp(-l32))  # float32 sigmoid
    with np.errstate(divide="ignore", invalid="ignore"):
        naive = losses.bernoulli_pixel_nll_naive(x32, p32).numpy()
    keras_bce = np.array([float(keras.losses.binary_crossentropy(np.array([[target]], np.float32),
                                                                 np.array([[pi]], np.float32)).numpy()[0])
                          for pi in p32])
    stable = losses.bernoulli_pixel_nll(x32, l32).numpy()
    lv = tf.Variable(l32[:, None])
    with tf.GradientTape(persistent=True) as tape:
        keras_sum = tf.reduce_sum(keras.losses.binary_crossentropy(x32[:, None], tf.sigmoid(lv)))
        ours_sum = tf.reduce_sum(losses.bernoulli_nll(x32[:, None], lv))
    keras_grad = tape.gradient(keras_sum, lv).numpy()[:, 0]
    ours_grad = tape.gradient(ours_sum, lv).numpy()[:, 0]
    exact = losses.bernoulli_pixel_nll(np.full_like(logits, target), logits).numpy()
    return pd.DataFrame({"logit": logits, "p_float32": p32, "naive_probabilities": naive,
                         "keras_probabilities": keras_bce, "from_logits_float32": stable,
                         "exact_float64": exact, "keras_grad": keras_grad, "from_logits_grad": ours_grad})


def saturating_logit_float32() -> float:
    """Smallest positive logit whose float32 sigmoid rounds to exactly 1.0."""
    grid = np.arange(1.0, 40.0, 0.01, dtype=np.float32)
    p = 1.0 / (1.0 + np.exp(-grid))
    return float(grid[np.argmax(p == np.float32(1.0))])


def cb_missing_term(lam) -> np.ndarray:
    """log C(lambda) in nats per pixel: what the likelihood loses when BCE drops C."""
    lam = np.asarray(lam, dtype=np.float64)
    return losses.cb_log_normalizer(np.log(lam) - np.log1p(-lam)).numpy()


def cb_lambda_for_mean(mean: float) -> float:
    """The lambda whose continuous-Bernoulli mean is ``mean`` (solves mu(lambda) = mean)."""
    f = lambda eta: float(losses.cb_mean(np.float64(eta)).numpy()) - mean  # noqa: E731
    eta = optimize.brentq(f, -500.0, 500.0, xtol=1e-12)
    return float(1.0 / (1.0 + np.exp(-eta)))
