"""Per-pixel studies of the losses: curves, minima, curvature and float32 stability.

These are the analytic views the chapters plot. Everything is computed from
:mod:`aecore.losses`, so a plot can never disagree with what training uses.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import optimize, special

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

    Every loss is drawn against the same axis, ``prediction``: the likelihood's *mean*, the
    reconstruction a reader sees. That is the sigmoid of the logit for MSE, BCE and MAE, and
    ``mu(lambda)`` for the continuous Bernoulli, whose logit is found by
    :func:`logit_for_reconstruction` (no bound on the logit, so the whole grid is reachable).
    ``parameter`` is the sigmoid of the logit (``lambda`` for the CB). With ``normalise=True``
    each curve has its minimum over the grid subtracted, the view the Cross Validated answer
    draws (its minimum is at zero).
    """
    grid = np.linspace(0.0, 1.0, n + 2)[1:-1]
    frames = []
    for name in names:
        lik = losses.get_loss(name)
        logits = np.atleast_1d(logit_for_reconstruction(name, grid, bound=None))
        for t in targets:
            v = lik.pixel_nll(np.full((1, grid.size), float(t)), logits[None]).numpy()[0]
            frames.append(pd.DataFrame({"loss": lik.loss_name, "likelihood": lik.name, "target": t,
                                        "prediction": grid, "parameter": special.expit(logits),
                                        "value": v - v.min() if normalise else v}))
    return pd.concat(frames, ignore_index=True)


def minimiser(name: str, target: float) -> tuple[float, float]:
    """(prediction that minimises the per-pixel loss, the minimum value in nats)."""
    def f(logit):
        return float(pixel_loss(name, target, np.array([1.0 / (1.0 + np.exp(-logit))]))[0])

    res = optimize.minimize_scalar(f, bounds=(-30.0, 30.0), method="bounded", options={"xatol": 1e-9})
    return float(1.0 / (1.0 + np.exp(-res.x))), float(res.fun)


def bce_weights(targets, *, delta: float = 1e-3) -> pd.DataFrame:
    """BCE near its minimum as a weighted squared error: ``BCE(t, x) - BCE(t, t) ≈ w(t) (x - t)^2``.

    ``measured`` is ``w`` from the loss itself, a symmetric second difference of
    :func:`pixel_loss` (``(L(t + delta) + L(t - delta) - 2 L(t)) / (2 delta^2)``, float64);
    ``1 / (2t(1-t))`` is the closed form (a Gaussian of variance ``t(1 - t)``); MSE's weight is
    1 for every target.

    Returns:
      A table indexed by ``target`` with both columns.
    """
    rows = {}
    for t in targets:
        t = float(t)
        if not delta < t < 1.0 - delta:
            raise ValueError(f"targets must lie in ({delta}, {1 - delta}) for a difference of {delta}, got {t}")
        v = pixel_loss("bernoulli", t, np.array([t - delta, t, t + delta]))
        rows[t] = {"measured": float((v[0] + v[2] - 2.0 * v[1]) / (2.0 * delta ** 2)),
                   "1 / (2t(1−t))": 1.0 / (2.0 * t * (1.0 - t))}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("target")


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
    """BCE for one target in float32, four ways, against the float64 exact value.

    Columns: ``logit``, ``p_float32`` (sigmoid in float32), ``naive_probabilities`` (the
    textbook formula on float32 probabilities), ``keras_probabilities`` (Keras' BCE on plain
    probabilities, which it clips to [1e-7, 1 - 1e-7]), ``keras_sigmoid_layer`` (Keras' BCE on
    the output of a Keras sigmoid, ``keras.activations.sigmoid``, what a ``Dense(...,
    activation="sigmoid")`` layer returns: the TensorFlow backend keeps that output's logits
    and computes from them, so nothing is clipped), ``from_logits_float32``
    (:func:`aecore.losses.bernoulli_pixel_nll`) and ``exact_float64``, plus the gradient with
    respect to the logit of the three Keras-or-ours versions (``keras_grad``,
    ``keras_sigmoid_grad``, ``from_logits_grad``; exact value ``sigmoid(l) - target``).
    """
    from aecore._tf import tf  # before keras, which imports TensorFlow
    import keras

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
        layer_each = keras.losses.binary_crossentropy(x32[:, None], keras.activations.sigmoid(lv))
        layer_sum = tf.reduce_sum(layer_each)
        ours_sum = tf.reduce_sum(losses.bernoulli_nll(x32[:, None], lv))
    keras_grad = tape.gradient(keras_sum, lv).numpy()[:, 0]
    layer_grad = tape.gradient(layer_sum, lv).numpy()[:, 0]
    ours_grad = tape.gradient(ours_sum, lv).numpy()[:, 0]
    exact = losses.bernoulli_pixel_nll(np.full_like(logits, target), logits).numpy()
    return pd.DataFrame({"logit": logits, "p_float32": p32, "naive_probabilities": naive,
                         "keras_probabilities": keras_bce, "keras_sigmoid_layer": layer_each.numpy(),
                         "from_logits_float32": stable, "exact_float64": exact, "keras_grad": keras_grad,
                         "keras_sigmoid_grad": layer_grad, "from_logits_grad": ours_grad})


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


# What BCE leaves out on real images: log C of the mean-image model. Two choices of lambda,
# both per pixel from the training mean m (clipped to [c, 1 - c]):
CB_LAMBDA_RULES = {
    # the continuous Bernoulli's own maximum-likelihood lambda: an exponential family in the
    # logit with sufficient statistic x, so the NLL's gradient is mu(eta) - m, zero at mu = m
    "ml": "maximum likelihood: μ(λ) = mean",
    # BCE's optimum read as a CB parameter: what a BCE-trained decoder outputs
    "mean": "λ = mean (BCE's optimum)",
}


def cb_mean_image_log_c(x, *, clip: float, rule: str = "ml") -> np.ndarray:
    """log C(lambda) per pixel, in nats, of the mean-image model of the images ``x``.

    The model predicts, for every pixel, the mean ``m`` of ``x`` over images, clipped to
    ``[clip, 1 - clip]`` (where ``m`` is exactly 0 or 1 every lambda rule sends log C to
    infinity). ``rule`` picks lambda from it (:data:`CB_LAMBDA_RULES`): ``"ml"``, the
    continuous Bernoulli's maximum-likelihood lambda, whose mean ``mu(lambda)`` is ``m`` (found
    in the logit by :func:`logit_for_reconstruction`; it is further from 1/2 than ``m``, so its
    log C is larger); ``"mean"``, ``lambda = m``, BCE's optimum.

    Args:
      x: images in [0, 1], ``[N, H, W, C]``.
      clip: in (0, 1/2).
      rule: ``"ml"`` or ``"mean"``.

    Returns:
      float64 ``[H, W, C]``: what BCE drops from the CB's NLL at that lambda, per pixel.
    """
    if not 0.0 < clip < 0.5:
        raise ValueError(f"clip must lie in (0, 1/2), got {clip!r}")
    if rule not in CB_LAMBDA_RULES:
        raise ValueError(f"rule must be one of {list(CB_LAMBDA_RULES)}, got {rule!r}")
    m = np.clip(np.asarray(x, dtype=np.float64).mean(axis=0), clip, 1.0 - clip)
    if rule == "ml":
        eta = np.asarray(logit_for_reconstruction("continuous_bernoulli", m, bound=None))
    else:
        eta = np.log(m) - np.log1p(-m)
    return losses.cb_log_normalizer(eta).numpy()


def cb_clip_table(x, clips, *, rule: str = "ml") -> pd.DataFrame:
    """How the mean-image model's total log C depends on the clip, and which pixels carry it.

    Args:
      x: images in [0, 1], ``[N, H, W, C]``.
      clips: the clips ``c`` of :func:`cb_mean_image_log_c`, each in (0, 1/2).
      rule: the lambda rule (:data:`CB_LAMBDA_RULES`).

    Returns:
      One row per clip (index ``clip``): ``total`` (sum of log C over the pixels, nats per
      image); ``constant`` (the part from the pixels whose mean is exactly 0 or 1, the same in
      every image: the only ones whose log C grows without bound as ``c -> 0``), its share
      ``constant_share`` and the number of such pixels ``constant_pixels``; ``clipped_pixels``
      (pixels whose mean lies outside ``[c, 1 - c]``, constant ones included); ``growth``
      (``total`` over the total at the largest clip, minus 1); and ``constant_growth_share``,
      the part of that growth, in nats, that the constant pixels make (NaN at the largest
      clip). Only clipped pixels change with the clip, so the rest of the growth comes from
      pixels whose mean is inside (0, 1) but outside ``[c, 1 - c]`` at the larger clip.
    """
    x = np.asarray(x, dtype=np.float64)
    m = x.mean(axis=0)
    constant = (m == 0.0) | (m == 1.0)
    rows = {}
    for c in clips:
        log_c = cb_mean_image_log_c(x, clip=c, rule=rule)
        total = float(log_c.sum())
        rows[float(c)] = {"total": total, "constant": float(log_c[constant].sum()),
                          "constant_share": float(log_c[constant].sum()) / total,
                          "constant_pixels": int(constant.sum()),
                          "clipped_pixels": int(((m < c) | (m > 1.0 - c)).sum())}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("clip")
    first = table.loc[table.index.max()]
    table["growth"] = table["total"] / first["total"] - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):  # 0 / 0 at the largest clip
        table["constant_growth_share"] = ((table["constant"] - first["constant"])
                                          / (table["total"] - first["total"])).where(table.index < table.index.max())
    return table


# --------------------------------------------------------------------------- bias toward 1/2 (chapter 5)
# The views above take the decoder's *parameter* (lambda for the continuous Bernoulli). Here
# every loss is seen as a function of the *reconstruction* it produces, the likelihood's mean:
# that is what a reader looks at, and for the CB it is mu(lambda), not lambda.


def logit_gradient(name: str, target: float, logits) -> np.ndarray:
    """d(per-pixel NLL)/d(logit) in nats, by automatic differentiation of :mod:`aecore.losses`.

    Args:
      name: a likelihood name or alias.
      target: the pixel's target in [0, 1].
      logits: float64 logits ``[n]``.

    Returns:
      float64 ``[n]``. For BCE it is ``sigmoid(l) - target``; for the Gaussian
      (sigma = 1) ``(sigmoid(l) - target) sigmoid(l) (1 - sigmoid(l))``.
    """
    from aecore._tf import tf

    lv = tf.Variable(np.asarray(logits, dtype=np.float64).reshape(1, -1))
    x = tf.constant(np.full(lv.shape, float(target)))
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(losses.get_loss(name).pixel_nll(x, lv))
    return tape.gradient(total, lv).numpy()[0]


def _cb_mean_numpy(eta: np.ndarray) -> np.ndarray:
    """:func:`aecore.losses.cb_mean` in NumPy float64 (the same closed form and series; tested
    against it): TensorFlow's float64 ``pow`` made bisections over millions of pixels slow."""
    eta = np.asarray(eta, np.float64)
    small = np.abs(eta) < losses._CB_TAYLOR_CUTOFF
    safe = np.where(small, 1.0, eta)
    with np.errstate(over="ignore"):
        exact = -1.0 / np.expm1(-safe) - 1.0 / safe
    return np.where(small, 0.5 + eta / 12.0 - eta * eta * eta / 720.0, exact)


def _numpy_mean(name: str):
    """A likelihood's mean as a NumPy function of float64 logits."""
    lik = losses.get_loss(name)
    if lik.mean is losses.cb_mean:
        return _cb_mean_numpy
    return lambda eta: np.asarray(lik.mean(np.asarray(eta, np.float64)))


def logit_for_reconstruction(name: str, reconstruction, *, bound: float | None = 500.0):
    """The logit whose reconstruction (the likelihood's mean) is ``reconstruction``.

    ``logit(r)`` for the sigmoid-mean likelihoods; for the continuous Bernoulli the solution
    of ``mu(eta) = r``, further from 0 than ``logit(r)`` (mu is pulled toward 1/2). Solved by
    bisection on the likelihood's own mean function (increasing in the logit), in
    ``[-bound, bound]``: with the default 500 the CB cannot reach reconstructions within ~0.002
    of 0 or 1. ``bound=None`` takes, per element, ``2 / min(r, 1 - r) + 2``, which holds every
    solution: the CB's mean at ``-B`` is below ``1 / B`` (``mu(eta) ~ -1 / eta`` far below 0,
    so a mean of 1e-3 needs ``eta ~ -1000``, a lambda below float64's smallest number: work
    with logits), and the sigmoid's is below ``exp(-B)``.

    Args:
      name: a likelihood name or alias.
      reconstruction: a float or an array of reconstructions, strictly inside (0, 1).
      bound: the largest ``|logit|`` searched, or None for one that reaches every ``r``.

    Returns:
      float64 logits of the same shape (a float for a float).
    """
    r = np.asarray(reconstruction, dtype=np.float64)
    if not np.all((r > 0.0) & (r < 1.0)):
        raise ValueError(f"reconstructions must lie strictly in (0, 1), got {reconstruction!r}")
    mean = _numpy_mean(name)
    b = 2.0 / np.minimum(r, 1.0 - r) + 2.0 if bound is None else np.full(r.shape, float(bound))
    lo, hi = -b, b.copy()
    if not (np.all(mean(lo) < r) and np.all(mean(hi) > r)):
        raise ValueError(f"{name}: some reconstruction in {reconstruction!r} is out of reach for logits in "
                         f"[-{bound}, {bound}]; bound=None reaches every one")
    for _ in range(80):  # width 2 B / 2**80: far below float64 resolution of the logit
        mid = 0.5 * (lo + hi)
        below = mean(mid) < r
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    eta = 0.5 * (lo + hi)
    return float(eta) if eta.ndim == 0 else eta


def reconstruction_curve(name: str, target: float, reconstructions) -> pd.DataFrame:
    """One loss for one target, as a function of the reconstruction it would produce.

    Args:
      name: a likelihood name or alias.
      target: the pixel's target in [0, 1].
      reconstructions: reconstructions (likelihood means) in (0, 1), ``[n]``.

    Returns:
      One row per reconstruction: ``loss`` ("MSE", ...), ``target``, ``reconstruction``,
      ``logit``, ``parameter`` (sigmoid of the logit: lambda for the CB), ``value`` (NLL in
      nats), ``grad_logit`` (d value / d logit) and ``grad_reconstruction`` (d value / d
      reconstruction, by the chain rule through the mean).
    """
    from aecore._tf import tf

    lik = losses.get_loss(name)
    recs = np.asarray(reconstructions, dtype=np.float64)
    logits = np.atleast_1d(logit_for_reconstruction(name, recs))
    lv = tf.Variable(logits)
    with tf.GradientTape() as tape:
        mean = lik.mean(lv)
    dmean = tape.gradient(mean, lv).numpy()  # d reconstruction / d logit, elementwise
    value = lik.pixel_nll(np.full((1, len(recs)), float(target)), logits[None]).numpy()[0]
    grad = logit_gradient(name, target, logits)
    return pd.DataFrame({"loss": lik.loss_name, "target": float(target), "reconstruction": recs,
                         "logit": logits, "parameter": 1.0 / (1.0 + np.exp(-logits)), "value": value,
                         "grad_logit": grad, "grad_reconstruction": grad / dmean})


def pixel_theory(targets=(0.2, 0.5, 0.8), *, delta: float = 0.1, names=CURVE_LOSSES) -> pd.DataFrame:
    """Where each per-pixel loss is minimised, and what an error of ``delta`` either side costs.

    For each loss and target ``t``, errors are measured on the *reconstruction* (the mean):
    ``t - delta`` and ``t + delta``.

    Returns:
      One row per (loss, target): ``argmin_parameter`` (the minimising sigmoid(logit): lambda
      for the CB), ``argmin_reconstruction`` (the likelihood's mean there), ``excess_below`` /
      ``excess_above`` (NLL at ``t -/+ delta`` minus the minimum, nats), ``cost_ratio_away``
      (excess on the side away from 1/2 over that on the side toward it; > 1: erring toward
      1/2 is cheaper; NaN at t = 1/2), and ``grad_below`` / ``grad_above`` (d NLL / d
      reconstruction at ``t -/+ delta``).
    """
    rows = []
    for name in names:
        lik = losses.get_loss(name)
        for t in targets:
            param, v_min = minimiser(name, t)
            eta = float(np.log(param) - np.log1p(-param))
            rec = float(lik.mean(np.float64(eta)).numpy())
            curve = reconstruction_curve(name, t, [t - delta, t + delta])
            below, above = curve["value"].to_numpy() - v_min
            if t < 0.5:
                ratio = below / above
            elif t > 0.5:
                ratio = above / below
            else:
                ratio = float("nan")
            rows.append({"loss": lik.loss_name, "target": float(t), "argmin_parameter": param,
                         "argmin_reconstruction": rec, "excess_below": below, "excess_above": above,
                         "cost_ratio_away": ratio, "grad_below": curve["grad_reconstruction"].iloc[0],
                         "grad_above": curve["grad_reconstruction"].iloc[1]})
    return pd.DataFrame(rows)


def expected_minimiser(name: str, values, weights=None) -> tuple[float, float]:
    """The reconstruction that minimises the *expected* per-pixel loss over uncertain targets.

    A decoder that cannot tell which of several targets a pixel will have (the code does not
    pin it down) is best off at the minimiser of ``sum_k w_k NLL(values_k, logit)``. For MSE,
    BCE and the CB that is the mean target (they are linear in the target, up to terms the
    logit does not touch, and the CB's mean matches it); for MAE it is a median.

    Args:
      name: a likelihood name or alias.
      values: possible targets in [0, 1], ``[k]``.
      weights: their probabilities (default: equal); normalised here.

    Returns:
      ``(reconstruction, parameter)``: the likelihood's mean at the minimising logit, and
      sigmoid of that logit (lambda for the CB). The logit is searched in [-30, 30].
    """
    lik = losses.get_loss(name)
    v = np.asarray(values, dtype=np.float64)
    w = np.full(v.shape, 1.0 / v.size) if weights is None else np.asarray(weights, dtype=np.float64)
    if v.ndim != 1 or v.shape != w.shape or not np.all(w >= 0) or not w.sum() > 0:
        raise ValueError("values and weights must be 1-D of the same length, weights >= 0 and not all 0")
    w = w / w.sum()

    def f(eta: float) -> float:
        nll = lik.pixel_nll(v[None], np.full((1, v.size), eta)).numpy()[0]
        return float(np.dot(w, nll))

    res = optimize.minimize_scalar(f, bounds=(-30.0, 30.0), method="bounded", options={"xatol": 1e-10})
    return float(lik.mean(np.float64(res.x)).numpy()), float(1.0 / (1.0 + np.exp(-res.x)))


def reconstruction_curves(targets, *, names=CURVE_LOSSES, n: int = 193, lo: float = 0.02,
                          hi: float = 0.98) -> pd.DataFrame:
    """:func:`reconstruction_curve` for several losses and targets on one grid of
    reconstructions in ``[lo, hi]``, with ``excess``: the value minus the loss's minimum for
    that target (:func:`minimiser`), in nats, so every curve touches 0 at its minimum."""
    grid = np.linspace(lo, hi, n)
    frames = []
    for name in names:
        for t in targets:
            curve = reconstruction_curve(name, t, grid)
            frames.append(curve.assign(likelihood=losses.get_loss(name).name,
                                       excess=curve["value"] - minimiser(name, t)[1]))
    return pd.concat(frames, ignore_index=True)


def binarisation_identity(x: np.ndarray, logits: np.ndarray, *, n_samples: int = 200, seed: int = 0) -> dict:
    """BCE on grey targets is the expected Bernoulli NLL of dynamically binarised targets.

    For ``b ~ Bernoulli(x)`` drawn independently per pixel, ``E_b[BCE(b, p)] = BCE(x, p)``
    exactly: BCE is linear in its target. Checked here by Monte Carlo over ``n_samples``
    binarisations of ``x``.

    Returns:
      ``grey`` (BCE of the grey targets, nats per image, mean over images), ``sampled`` (the
      Monte Carlo mean of the binarised targets' BCE), ``standard_error`` (of that mean, over the
      samples), ``z`` (``(sampled - grey) / standard_error``: within a few units if the identity
      holds).
    """
    x = np.asarray(x, np.float64)
    logits = np.asarray(logits, np.float64)
    rng = np.random.default_rng(seed)
    grey = float(losses.bernoulli_nll(x, logits).numpy().mean())
    draws = np.array([float(losses.bernoulli_nll((rng.random(x.shape) < x).astype(np.float64), logits).numpy().mean())
                      for _ in range(n_samples)])
    se = float(draws.std(ddof=1) / np.sqrt(n_samples))
    return {"grey": grey, "sampled": float(draws.mean()), "standard_error": se,
            "z": float((draws.mean() - grey) / se)}


# --------------------------------------------------------------------------- BatchNorm's running statistics


def _batchnorms(net) -> list:
    import keras

    return [layer for layer in net.layers if isinstance(layer, keras.layers.BatchNormalization)]


def bn_rescore(model, x_train: np.ndarray, x_test: np.ndarray, *, likelihood=None,
               batch_size: int = 32, chunk: int = 1000) -> dict[str, float]:
    """Test MSE per pixel of an autoencoder with BatchNorm layers, scored three ways.

    - ``"running"``: inference mode with the running statistics, as every metric of the book
      (and Keras' ``evaluate``) scores it. They are an exponential average (momentum 0.99) over
      the training batches, taken while the weights were still changing.
    - ``"recomputed"``: the running statistics replaced by the exact mean and (biased) variance of
      each BatchNorm layer's input over ``x_train`` under the final weights, one layer after the
      other (Ioffe & Szegedy 2015, section 3.1).
    - ``"batch"``: every ``batch_size`` test images normalised by their own statistics, as in
      training.

    The model's weights and running statistics are left as they were. Without a BatchNorm layer
    the three coincide. ``likelihood``: how logits become reconstructions (None: a sigmoid).
    """
    import keras

    x_train = np.asarray(x_train, np.float32)
    x_test = np.asarray(x_test, np.float32)
    mean_fn = (losses.get_loss(likelihood).mean if isinstance(likelihood, str)
               else (likelihood.mean if likelihood is not None else special.expit))
    bns = _batchnorms(model.encoder) + _batchnorms(model.decoder)
    saved = [(bn.moving_mean.numpy(), bn.moving_variance.numpy()) for bn in bns]

    def mse(x_hat) -> float:
        return float(np.mean((np.asarray(x_hat, np.float64) - x_test) ** 2))

    def recon(training: bool, size: int) -> np.ndarray:
        parts = []
        for i in range(0, len(x_test), size):
            xb = x_test[i:i + size]
            logits = model.decoder(model.encoder(xb, training=training), training=training)
            parts.append(np.asarray(mean_fn(np.asarray(logits))))
        return np.concatenate(parts)

    try:
        out = {"running": mse(recon(False, chunk))}
        for net, inputs in ((model.encoder, x_train), (model.decoder, None)):
            if inputs is None:  # the decoder's inputs: the codes under the recomputed encoder
                inputs = np.concatenate([np.asarray(model.encoder(x_train[i:i + chunk], training=False))
                                         for i in range(0, len(x_train), chunk)])
            for bn in _batchnorms(net):
                probe = keras.Model(net.input, bn.input)
                h = np.concatenate([np.asarray(probe(inputs[i:i + chunk], training=False), np.float64)
                                    for i in range(0, len(inputs), chunk)])
                axes = tuple(range(h.ndim - 1))
                bn.moving_mean.assign(h.mean(axis=axes).astype(np.float32))
                bn.moving_variance.assign(h.var(axis=axes).astype(np.float32))
        out["recomputed"] = mse(recon(False, chunk))
        out["batch"] = mse(recon(True, batch_size))  # moves the running statistics: restored below
    finally:
        for bn, (m, v) in zip(bns, saved):
            bn.moving_mean.assign(m)
            bn.moving_variance.assign(v)
    return out


# --------------------------------------------------------------------------- likelihoods on one scale


PIXEL_LEVELS = 256
ONE_SCALE_LIKELIHOODS: dict[str, str] = {
    "gaussian_shared": "Gaussian, one σ",
    "gaussian_per_pixel": "Gaussian, σ per pixel",
    "laplace_shared": "Laplace, one scale",
    "continuous_bernoulli": "continuous Bernoulli",
    "discretised_gaussian": "8-bit: Gaussian, one σ, per level",
    "categorical": "8-bit: histogram per pixel",
}


def bits_per_pixel(nll_nats_per_pixel, levels: int = PIXEL_LEVELS):
    """A density's NLL of dequantised images in [0, 1] (nats per pixel) as bits per 8-bit pixel:
    ``(nll + log L) / log 2``, an upper bound on what the discrete model it defines needs
    (Theis et al. 2016); 8 for the uniform density. (:func:`aecore.studies.vae_study.bits_per_dim` takes it
    per image.)"""
    return (np.asarray(nll_nats_per_pixel, np.float64) + np.log(levels)) / np.log(2.0)


def one_scale_table(x_train: np.ndarray, x_test: np.ndarray, *, k: int = 16) -> pd.DataFrame:
    """Two simple models of the test images scored by several likelihoods on one scale.

    The images must be dequantised (each 8-bit level spread uniformly over its bin of width 1/256:
    ``aecore.vae_runs.transform_targets(x, "dequantized", seed=...)``, another seed for the test
    images), so that every density, Gaussian, Laplace or continuous Bernoulli, scores the same data,
    and none is offered an exact 0; each pixel's level is its bin. ValueError for images with an
    exact 0 or 1 (not dequantised). The models: the
    training mean image, and PCA with ``k`` components fitted on the training images. Every
    likelihood's free parameters are fitted on the training images by maximum likelihood: the
    Gaussian's σ (one, or one per pixel) and the Laplace's scale from the training residuals; the
    continuous Bernoulli's λ per prediction so that its mean μ(λ) is the prediction (clipped into
    [1/512, 1 - 1/512]). Two discrete models of the 8-bit levels themselves are scored too: the
    one-σ Gaussian integrated over each level's bin (the end bins take the tails), and, for the mean
    image, a histogram of each pixel's training levels (add-½ smoothing): the best a model that
    ignores the other pixels can do.

    Returns:
      One row per (``model``, ``likelihood``: a key of :data:`ONE_SCALE_LIKELIHOODS`) with
      ``bits`` (per pixel, mean over the test pixels; an upper bound for the densities, exact for
      the discrete models) and ``fitted`` (what was fitted, for the table).
    """
    from scipy import stats

    from aecore import metrics

    xtr = np.asarray(x_train, np.float64).reshape(len(x_train), -1)
    xte = np.asarray(x_test, np.float64).reshape(len(x_test), -1)
    for name, x in (("x_train", xtr), ("x_test", xte)):
        # float32 rounding puts a rare dequantised value exactly on 0 or 1; raw 8-bit images have many
        if not (np.all(np.isfinite(x)) and x.min() >= 0.0 and x.max() <= 1.0 and np.mean((x == 0) | (x == 1)) < 1e-3):
            raise ValueError(f"one_scale_table: {name} is not a dequantised image set (values outside [0, 1], or "
                             f"many exactly 0 or 1); pass aecore.vae_runs.transform_targets(x, 'dequantized', seed=...)")
    # A pixel's level is its bin. (float32 rounding can put a dequantised value on a bin's edge, so
    # about one pixel in 10^5 lands in the neighbouring bin: far below the table's precision.)
    levels_train = np.minimum(np.floor(xtr * PIXEL_LEVELS), PIXEL_LEVELS - 1).astype(int)
    levels_test = np.minimum(np.floor(xte * PIXEL_LEVELS), PIXEL_LEVELS - 1).astype(int)
    pca = metrics.pca_fit(xtr, k)
    models = {"mean image": (np.broadcast_to(xtr.mean(axis=0), xtr.shape), np.broadcast_to(xtr.mean(axis=0), xte.shape)),
              f"PCA-{k}": (metrics.pca_reconstruct(pca, xtr), metrics.pca_reconstruct(pca, xte))}
    edges = np.arange(PIXEL_LEVELS + 1) / PIXEL_LEVELS  # the bins of the dequantised levels
    rows = []
    for model, (pred_tr, pred_te) in models.items():
        r_tr, r_te = xtr - pred_tr, xte - pred_te
        s2 = float(np.mean(r_tr ** 2))
        s2p = np.mean(r_tr ** 2, axis=0)
        b = float(np.mean(np.abs(r_tr)))
        p = np.clip(pred_te, 0.5 / PIXEL_LEVELS, 1 - 0.5 / PIXEL_LEVELS)
        eta = logit_for_reconstruction("cb", p, bound=None)
        cb = np.asarray(losses.continuous_bernoulli_pixel_nll(xte, eta))
        sigma = math.sqrt(s2)
        hi = np.where(levels_test == PIXEL_LEVELS - 1, np.inf, edges[np.minimum(levels_test + 1, PIXEL_LEVELS)])
        lo = np.where(levels_test == 0, -np.inf, edges[levels_test])
        mass = stats.norm.cdf((hi - pred_te) / sigma) - stats.norm.cdf((lo - pred_te) / sigma)
        nats = {
            "gaussian_shared": 0.5 * np.log(2 * np.pi * s2) + r_te ** 2 / (2 * s2),
            "gaussian_per_pixel": 0.5 * np.log(2 * np.pi * s2p) + r_te ** 2 / (2 * s2p),
            "laplace_shared": np.log(2 * b) + np.abs(r_te) / b,
            "continuous_bernoulli": cb,
        }
        fitted = {"gaussian_shared": f"σ = {sigma:.3f}",
                  "gaussian_per_pixel": f"σ from {np.sqrt(s2p).min():.4f} to {np.sqrt(s2p).max():.3f}",
                  "laplace_shared": f"scale = {b:.3f}", "continuous_bernoulli": "μ(λ) = the prediction"}
        for name, v in nats.items():
            rows.append({"model": model, "likelihood": name, "bits": float(bits_per_pixel(v.mean())),
                         "fitted": fitted[name]})
        rows.append({"model": model, "likelihood": "discretised_gaussian",
                     "bits": float(-np.mean(np.log2(np.maximum(mass, 1e-300)))), "fitted": f"σ = {sigma:.3f}"})
    counts = np.stack([np.bincount(col, minlength=PIXEL_LEVELS) for col in levels_train.T])  # [D, 256]
    probs = (counts + 0.5) / (counts.sum(axis=1, keepdims=True) + 0.5 * PIXEL_LEVELS)
    bits = -np.log2(probs[np.arange(levels_test.shape[1])[None, :], levels_test])
    rows.append({"model": "mean image", "likelihood": "categorical", "bits": float(bits.mean()),
                 "fitted": "256 probabilities per pixel"})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- first-layer gradients


def first_layer_gradient_norm(model, x: np.ndarray, likelihood, *, batch_size: int = 64,
                              max_images: int = 1024) -> float:
    """How hard the training loss still pulls the input -> first-layer weights of a trained
    autoencoder: the Frobenius norm of the gradient of the loss (nats per pixel, the mean over a
    mini-batch, as :func:`aecore.training.fit` trains with ``reduction="per_pixel"``) with respect to
    the encoder's first kernel, averaged over the mini-batches of the first ``max_images`` of
    ``x``. Inference mode; the weights are not changed.

    A network whose hidden units are saturated passes almost no gradient to its first layer: that is
    how a collapsed run's first-layer weights stop moving without going to zero (chapter 4).
    """
    import tensorflow as tf

    lik = losses.get_loss(likelihood) if isinstance(likelihood, str) else likelihood
    from aecore.collapse import first_layer_variable

    kernel = first_layer_variable(model)
    x = np.asarray(x, np.float32)[:max_images]
    norms = []
    for i in range(0, len(x), batch_size):
        xb = tf.convert_to_tensor(x[i:i + batch_size])
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(lik.nll_per_pixel(xb, model(xb, training=False)))
        norms.append(float(tf.norm(tape.gradient(loss, kernel))))
    return float(np.mean(norms))
