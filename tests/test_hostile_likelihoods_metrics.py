"""Hostile input to aecore.losses and aecore.metrics (issue 24): targets outside [0, 1] (uint8 and
float 0-255, [-1, 1]), NaN/inf reconstructions, logits and codes, unbatched and mismatched arrays,
logits passed where reconstructions belong. Each row: a clear ValueError, or the right number."""

from __future__ import annotations

import numpy as np
import pytest

from aecore import losses, metrics
from hostile_helpers import case, raises, returns, run_case

S = (2, 28, 28, 1)
HALF = np.full(S, 0.5, np.float32)
ZEROS = np.zeros(S, np.float32)
U8 = np.full(S, 200, np.uint8)
F255 = np.full(S, 200.0, np.float32)
PM1 = np.linspace(-1, 1, 2 * 784, dtype=np.float32).reshape(S)
LOGITS = np.linspace(-5, 5, 2 * 784, dtype=np.float32).reshape(S)
RANGE = r"targets must lie in \[0, 1\] but range over \[{}\]\. Scale images to \[0, 1\] \(e\.g\. divide uint8 pixels by 255\)"


def _with(arr, value, where=(0, 3, 3, 0)):
    out = np.array(arr, np.float32)
    out[where] = value
    return out


def nll(name, x, logits, method="nll"):
    return lambda _: getattr(losses.get_loss(name), method)(x, logits).numpy()


ROWS = [
    # --- likelihoods: targets outside [0, 1]
    *[case(f"{name}-uint8-0-255", nll(name, U8, ZEROS), raises(ValueError, name + ": " + RANGE.format("200, 200")))
      for name in ("bernoulli", "continuous_bernoulli")],
    case("bce-float-0-255", nll("bce", F255, ZEROS), raises(ValueError, RANGE.format("200, 200"))),
    case("cb-minus1-1", nll("cb", PM1, ZEROS), raises(ValueError, RANGE.format("-1, 1"))),
    case("bce-per-pixel-minus1-1", nll("bce", PM1, ZEROS, "nll_per_pixel"), raises(ValueError, RANGE.format("-1, 1"))),
    case("mistake-bce-on-probabilities-0-255", nll("bce_on_probabilities", F255, ZEROS), raises(ValueError, RANGE.format("200, 200"))),
    *[case(f"{name}-0-255", nll(name, F255, ZEROS), raises(ValueError, name + r": targets must lie in \[0, 1\]"))
      for name in ("gaussian", "laplace")],
    case("gaussian-minus1-1-accepted", nll("gaussian", PM1, ZEROS),
         returns(lambda v: v.shape == (2,) and np.isfinite(v).all()), xfail=None),
    # --- NaN / inf
    case("nan-logits", nll("bce", HALF, _with(ZEROS, np.nan)),
         raises(ValueError, r"bernoulli: 1 NaN or infinite value\(s\) in the logits\..*diverged model \(lower the learning rate\)")),
    case("inf-logits-gaussian", nll("mse", HALF, _with(ZEROS, np.inf)), raises(ValueError, r"gaussian: 1 NaN or infinite value\(s\) in the logits")),
    case("minus-inf-logits-cb", nll("cb", HALF, _with(ZEROS, -np.inf)), raises(ValueError, r"continuous_bernoulli: 1 NaN or infinite")),
    case("nan-targets-laplace", nll("mae", _with(HALF, np.nan), ZEROS), raises(ValueError, r"laplace: 1 NaN or infinite value\(s\) in the targets\. .*broken data")),
    case("huge-finite-logits-are-fine", nll("bce", np.ones(S, np.float32), np.full(S, 1e30, np.float32)),
         returns(lambda v: np.allclose(v, 0.0))),
    case("float64-logits-kept", nll("cb", HALF.astype(np.float64), ZEROS.astype(np.float64)),
         returns(lambda v: v.dtype == np.float64 and np.isfinite(v).all())),
    # --- shapes
    case("unbatched-784-nll", nll("bce", np.full(784, 0.5, np.float32), np.zeros(784, np.float32)),
         raises(ValueError, r"per-example NLLs need a batch \[B, \.\.\.\], got 1-D input; .*x\[None\]")),
    case("unbatched-scalar-per-pixel", nll("mse", np.float32(0.5), np.float32(0.0), "nll_per_pixel"),
         raises(ValueError, r"need a batch \[B, \.\.\.\], got 0-D input")),
    case("flat-vs-image-shapes", nll("bce", np.full((2, 784), 0.5, np.float32), ZEROS),
         raises(ValueError, r"targets have shape \(2, 784\) but logits have shape \(2, 28, 28, 1\); they must match")),
    case("batch-mismatch", nll("mae", HALF[:1], ZEROS), raises(ValueError, r"targets have shape \(1, 28, 28, 1\) but logits have shape \(2, 28, 28, 1\)")),
    case("pixel-nll-any-shape-is-fine", lambda _: losses.bernoulli_pixel_nll(np.array([0.0, 1.0]), np.array([0.0, 0.0])).numpy(),
         returns(lambda v: np.allclose(v, np.log(2.0)))),
    # --- names and parameters
    case("unknown-loss", lambda _: losses.get_loss("l2"), raises(ValueError, r"unknown loss 'l2'; valid names: gaussian, bernoulli.*aliases: mse->gaussian")),
    case("loss-none", lambda _: losses.get_loss(None), raises(ValueError, r"unknown loss None; valid names")),
    case("sigma-zero", lambda _: losses.gaussian_nll(HALF, ZEROS, sigma=0.0), raises(ValueError, r"gaussian: sigma must be > 0, got 0\.0")),
    case("sigma-nan", lambda _: losses.gaussian_nll(HALF, ZEROS, sigma=float("nan")), raises(ValueError, r"sigma must be > 0, got nan")),
    case("laplace-scale-negative", lambda _: losses.laplace_nll(HALF, ZEROS, scale=-1.0), raises(ValueError, r"laplace: scale must be > 0, got -1\.0")),
    # --- KL
    case("kl-inf-log-variance", lambda _: losses.kl_standard_normal(np.zeros((1, 2), np.float32), np.array([[0.0, np.inf]], np.float32)),
         raises(ValueError, r"kl_standard_normal: NaN or infinite values in z_mean or z_log_var \(a diverged encoder\?\)")),
    case("kl-nan-mean", lambda _: losses.kl_standard_normal(np.array([[np.nan, 0.0]]), np.zeros((1, 2))),
         raises(ValueError, r"NaN or infinite values in z_mean or z_log_var")),
    case("kl-minus-inf-log-variance", lambda _: losses.kl_standard_normal(np.zeros((1, 2)), np.full((1, 2), -np.inf)),
         raises(ValueError, r"NaN or infinite values")),
    case("kl-unbatched", lambda _: losses.kl_standard_normal(np.zeros(2, np.float32), np.zeros(2, np.float32)),
         raises(ValueError, r"expected a batch \[B, latent_dim\], got shape \(2,\); .*z\[None\]")),
    case("kl-shape-mismatch", lambda _: losses.kl_standard_normal(np.zeros((2, 3)), np.zeros((2, 4))),
         raises(ValueError, r"z_mean shape \(2, 3\) != z_log_var shape \(2, 4\)")),
    case("kl-zero-is-zero", lambda _: losses.kl_standard_normal(np.zeros((3, 4)), np.zeros((3, 4))).numpy(),
         returns(lambda v: np.array_equal(v, np.zeros(3)))),
    # --- metrics: what evaluate refuses
    case("evaluate-uint8-0-255", lambda _: metrics.evaluate(U8, HALF),
         raises(ValueError, r"the images \(targets\) must lie in \[0, 1\], got values in \[200, 200\] \(uint8 pixels not divided by 255\?\)")),
    case("evaluate-float-0-255-recon", lambda _: metrics.evaluate(HALF, F255),
         raises(ValueError, r"the reconstructions must lie in \[0, 1\], got values in \[200, 200\] \(uint8 pixels not divided by 255\?\)")),
    case("evaluate-minus1-1", lambda _: metrics.evaluate(PM1, HALF), raises(ValueError, r"must lie in \[0, 1\], got values in \[-1, 1\]")),
    case("evaluate-logits-as-reconstructions", lambda _: metrics.evaluate(HALF, LOGITS),
         raises(ValueError, r"the reconstructions must lie in \[0, 1\], got values in \[-5, 5\] \(logits passed where the likelihood's mean")),
    case("evaluate-nan-recon", lambda _: metrics.evaluate(HALF, _with(HALF, np.nan)), raises(ValueError, r"the reconstructions holds 1 NaN or infinite")),
    case("evaluate-inf-targets", lambda _: metrics.evaluate(_with(HALF, np.inf), HALF), raises(ValueError, r"the images \(targets\) holds 1 NaN or infinite")),
    case("evaluate-unbatched", lambda _: metrics.evaluate(np.full(784, 0.5, np.float32), np.full(784, 0.5, np.float32)),
         raises(ValueError, r"expected a non-empty batch \[N, \.\.\.\], got shape \(784,\)")),
    case("evaluate-shape-mismatch", lambda _: metrics.evaluate(HALF, HALF.reshape(2, 784)),
         raises(ValueError, r"images \(2, 28, 28, 1\) and reconstructions \(2, 784\) must have the same shape")),
    case("evaluate-empty", lambda _: metrics.evaluate(HALF[:0], HALF[:0]), raises(ValueError, r"expected a non-empty batch")),
    case("evaluate-strings", lambda _: metrics.evaluate(np.full(S, "a"), HALF), raises(ValueError, r"must be a numeric array, got dtype <U1")),
    case("evaluate-perfect", lambda _: metrics.evaluate(HALF, HALF),
         returns(lambda m: m["n_images"] == 2 and m["mse_per_pixel"] == 0.0 and m["psnr_db"] == np.inf)),
    # --- metrics that score any range, by design, still refuse NaN
    case("mse-nan", lambda _: metrics.mse_per_pixel(HALF, _with(HALF, np.nan)), raises(ValueError, r"the reconstructions hold 1 NaN or infinite")),
    case("psnr-0-255-with-max-val", lambda _: metrics.psnr_db(F255, F255 + 1.0, max_val=255.0),
         returns(lambda v: np.allclose(v, 20 * np.log10(255.0)))),
    # --- per-image metrics that assume [0, 1] but do not check it (silent wrong numbers)
    case("bce_per_pixel-logits-as-reconstructions", lambda _: metrics.bce_per_pixel(HALF, LOGITS),
         raises(ValueError, r"reconstructions must lie in \[0, 1\].*logits")),
    case("bce_per_pixel-targets-0-255", lambda _: metrics.bce_per_pixel(F255, HALF),
         raises(ValueError, r"images \(targets\) must lie in \[0, 1\].*divided by 255")),
    case("bernoulli_entropy-0-255", lambda _: metrics.bernoulli_entropy_per_pixel(F255),
         raises(ValueError, r"must lie in \[0, 1\]")),
    case("bce_excess-minus1-1", lambda _: metrics.bce_excess_per_pixel(PM1, HALF),
         raises(ValueError, r"must lie in \[0, 1\]")),
    case("ssim-nan", lambda _: metrics.ssim(_with(HALF, np.nan), HALF), raises(ValueError, r"NaN or infinite")),
    case("signed_error_by_target-0-255", lambda _: metrics.signed_error_by_target(F255, HALF), raises(ValueError, r"must lie in \[0, 1\]")),
    case("pull_toward_half-0-255", lambda _: metrics.pull_toward_half(F255, HALF), raises(ValueError, r"must lie in \[0, 1\]")),
    case("sharpness_ratio-nan-recon", lambda _: metrics.sharpness_ratio(np.random.default_rng(0).random(S), _with(HALF, np.nan)),
         raises(ValueError, r"NaN or infinite")),
    # --- other metric arguments
    case("pca-k-0", lambda _: metrics.pca_fit(HALF, 0), raises(ValueError, r"k must be an integer in 1\.\.2 \(min of N=2 and D=784\), got 0")),
    case("pca-k-str", lambda _: metrics.pca_fit(HALF, "3"), raises(ValueError, r"k must be an integer in 1\.\.2 .*got '3'")),
    case("pca-reconstruct-other-shape", lambda _: metrics.pca_reconstruct(metrics.pca_fit(np.random.default_rng(0).random(S), 1),
                                                                          np.zeros((1, 14, 14, 1))),
         raises(ValueError, r"images have shape \(14, 14, 1\), the PCA was fitted on \(28, 28, 1\)")),
    case("sharpness-unknown-kind", lambda _: metrics.sharpness_ratio(HALF, HALF, kind="blur"), raises(ValueError, r"unknown sharpness kind 'blur'; valid: ")),
    case("sharpness-constant-images", lambda _: metrics.sharpness_ratio(HALF, HALF), raises(ValueError, r"the images have no edges \(constant images\): the ratio is undefined")),
    case("dead-units-unbatched", lambda _: metrics.dead_units(np.zeros(5)), raises(ValueError, r"activations must be a non-empty \[N, units\] array, got shape \(5,\)")),
    case("signed-error-bad-edges", lambda _: metrics.signed_error_by_target(HALF, HALF, edges=[0.5, 0.2]), raises(ValueError, r"edges must increase strictly from 0 to 1")),
    case("pull-lo-above-hi", lambda _: metrics.pull_toward_half(HALF, HALF, lo=0.9, hi=0.1), raises(ValueError, r"need lo < hi, got lo=0\.9, hi=0\.1")),
]


@pytest.mark.parametrize("call, expect", ROWS)
def test_hostile_likelihoods_and_metrics(call, expect):
    run_case(call, expect)
