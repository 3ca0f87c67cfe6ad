"""Hostile input to aecore.vae and aecore.vae_runs.VAEConfig (issue 24): flat or unscaled images,
objectives of the wrong type, NumPy numbers and bools, bad config fields, NaN or 0-255 images given
to the encoder/decoder helpers. Each row: a clear error, or the right result."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from aecore import vae
from aecore.vae_runs import VAEConfig
from hostile_helpers import case, raises, returns, run_case

OK = np.full((8, 28, 28, 1), 0.5, np.float32)
NAN = np.where(np.eye(28)[None, :, :, None] > 0, np.nan, OK[:2]).astype(np.float32)
U8 = np.full((2, 28, 28, 1), 255, np.uint8)


@functools.lru_cache(maxsize=1)
def _model():
    return vae.build_vae(encoder_hidden=(8,), latent_dim=2, seed=0)


def fit(x=OK, **kw):
    args = dict(epochs=1, batch_size=8, progress=False)
    args.update(kw)
    return lambda _: vae.fit(_model(), x, **args)


def vc(**kw):
    return lambda _: VAEConfig(**kw)


def obj(**kw):
    return lambda _: vae.Objective(**kw)


def _finite_history(h):
    return len(h.epochs) == 1 and np.isfinite(h.epochs["loss"]).all()


IMG = r"\[N, 28, 28, 1\]"
ROWS = [
    # --- fit
    case("fit-flat-784", fit(OK.reshape(8, 784)), raises(ValueError, rf"x_train must be a non-empty batch of images {IMG}, got shape \(8, 784\): flat vectors\?")),
    case("fit-uint8-0-255", fit(np.full((8, 28, 28, 1), 255, np.uint8)), raises(ValueError, r"x_train must lie in \[0, 1\].*divide by 255")),
    case("fit-nan-images", fit(np.full((8, 28, 28, 1), np.nan, np.float32)), raises(ValueError, r"x_train holds 6272 NaN/inf values")),
    case("fit-x_val-minus1-1", fit(x_val=np.linspace(-1, 1, 2 * 784, dtype=np.float32).reshape(2, 28, 28, 1)), raises(ValueError, r"x_val must lie in \[0, 1\].*\(x \+ 1\) / 2")),
    case("fit-objective-dict", fit(objective={"beta": 2.0}), raises(TypeError, r"objective must be an aecore\.vae\.Objective \(e\.g\. Objective\(beta=2\.0\)\), got dict")),
    case("fit-objective-number", fit(objective=2.0), raises(TypeError, r"objective must be an aecore\.vae\.Objective .*got float")),
    case("fit-objective-numpy-beta", fit(objective=vae.Objective(beta=np.float32(1))), returns(_finite_history)),
    case("fit-epochs-0", fit(epochs=0), raises(ValueError, r"epochs must be a positive integer, got 0")),
    case("fit-batch-float", fit(batch_size=8.0), raises(ValueError, r"batch_size must be a positive integer, got 8\.0")),
    case("fit-learning_rate-0", fit(learning_rate=0), raises(ValueError, r"learning_rate must be a positive number, got 0")),
    case("fit-learning_rate-True", fit(learning_rate=True), raises(ValueError, r"learning_rate must be a positive number, got True")),
    case("fit-binarize-threshold", fit(binarize="threshold"), raises(ValueError, r"unknown binarize='threshold'; valid: None, 'dynamic'")),
    case("fit-seed-negative", fit(seed=-1), raises(ValueError, r"seed must be a non-negative integer, got -1")),
    # --- Objective
    case("objective-numpy-beta-is-a-float", obj(beta=np.float32(1)), returns(lambda o: o.beta == 1.0 and type(o.beta) is float)),
    case("objective-warmup-True", obj(schedule="linear", warmup_epochs=True), raises(ValueError, r"a linear schedule needs warmup_epochs >= 1 \(an integer\), got True")),
    case("objective-warmup-float", obj(schedule="linear", warmup_epochs=2.0), raises(ValueError, r"warmup_epochs >= 1 \(an integer\), got 2\.0")),
    case("objective-beta-negative", obj(beta=-1.0), raises(ValueError, r"beta must be a finite number >= 0, got -1\.0 \(beta weights the KL term")),
    case("objective-beta-inf", obj(beta=float("inf")), raises(ValueError, r"beta must be a finite number >= 0, got inf")),
    case("objective-beta-str", obj(beta="2"), raises(ValueError, r"beta must be a finite number >= 0, got '2'")),
    case("objective-schedule-unknown", obj(schedule="cosine"), raises(ValueError, r"unknown KL schedule 'cosine'; valid: constant")),
    case("objective-free-bits-nan", obj(free_bits=float("nan")), raises(ValueError, r"free_bits must be a number >= 0 \(nats per latent dimension\), got nan")),
    case("objective-reduction-unknown", obj(recon_reduction="avg"), raises(ValueError, r"unknown recon_reduction 'avg'; valid: sum, mean")),
    # --- build_vae
    case("build-latent-0", lambda _: vae.build_vae(latent_dim=0), raises(ValueError, r"latent_dim must be an integer >= 1, got 0")),
    case("build-latent-str", lambda _: vae.build_vae(latent_dim="2"), raises(ValueError, r"latent_dim must be an integer >= 1, got '2'")),
    case("build-decoder-unknown", lambda _: vae.build_vae(decoder="poisson"), raises(ValueError, r"unknown decoder 'poisson'; valid: ")),
    case("build-width-0", lambda _: vae.build_vae(encoder_hidden=(0,)), raises(ValueError, r"layer widths must be >= 1, got encoder \(0,\)")),
    # --- VAEConfig
    case("config-objective-str", vc(objective="beta=2"), raises(ValueError, r"objective must be an aecore\.vae\.Objective \(or a dict of its fields: beta, schedule, warmup_epochs, n_cycles, free_bits, recon_reduction\), got 'beta=2'")),
    case("config-objective-dict-typo", vc(objective={"betta": 2.0}), raises(ValueError, r"unknown objective field\(s\) \['betta'\]; valid: beta, schedule")),
    case("config-objective-dict-bad-beta", vc(objective={"beta": "2"}), raises(ValueError, r"beta must be a finite number >= 0, got '2'")),
    case("config-objective-field-by-name-bad", vc(objective=vae.Objective(schedule="linear", warmup_epochs=2), warmup_epochs=0), raises(ValueError, r"a linear schedule needs warmup_epochs >= 1 \(an integer\), got 0")),
    case("config-objective-field-by-name-keeps-the-rest", vc(objective=vae.Objective(free_bits=0.5), beta=np.float32(3)), returns(lambda c: c.objective == vae.Objective(beta=3.0, free_bits=0.5) and type(c.objective.beta) is float)),
    case("config-objective-field-typo", vc(betta=2.0), raises(TypeError, r"unexpected keyword argument 'betta'")),
    case("cfg-dataset-unknown", vc(dataset="cifar"), raises(ValueError, r"unknown dataset 'cifar'; valid names")),
    case("cfg-model-unknown", vc(model="beta_vae"), raises(ValueError, r"unknown VAE model 'beta_vae'; valid: aecore, keras_example")),
    case("cfg-architecture-unknown", vc(architecture="rnn"), raises(ValueError, r"unknown architecture 'rnn'; valid: mlp")),
    case("cfg-decoder-unknown", vc(decoder="laplace"), raises(ValueError, r"unknown decoder 'laplace'; valid: ")),
    case("cfg-latent-str", vc(latent_dim="16"), raises(ValueError, r"latent_dim must be a positive integer, got '16'")),
    case("cfg-latent-0", vc(latent_dim=0), raises(ValueError, r"latent_dim must be a positive integer, got 0")),
    case("cfg-width-0", vc(encoder_hidden=(0,)), raises(ValueError, r"encoder_hidden width must be a positive integer, got 0")),
    case("cfg-encoder_hidden-int", vc(encoder_hidden=16), raises(ValueError, r"encoder_hidden must be a sequence of layer widths.*\(16,\)")),
    case("cfg-encoder_hidden-str", vc(encoder_hidden="512"), raises(ValueError, r"encoder_hidden must be a sequence of layer widths")),
    case("cfg-sigma-0", vc(sigma=0.0), raises(ValueError, r"sigma must be a positive number, got 0\.0")),
    case("cfg-sigma-True", vc(sigma=True), raises(ValueError, r"sigma must be a positive number, got True")),
    case("cfg-beta-negative", vc(beta=-0.5), raises(ValueError, r"beta must be a finite number >= 0, got -0\.5")),
    case("cfg-schedule-linear-without-warmup", vc(schedule="linear"), raises(ValueError, r"a linear schedule needs warmup_epochs >= 1 \(an integer\), got 0")),
    case("cfg-warmup-True", vc(schedule="linear", warmup_epochs=True), raises(ValueError, r"warmup_epochs >= 1 \(an integer\), got True")),
    case("cfg-binarize-threshold", vc(binarize="threshold"), raises(ValueError, r"unknown binarize='threshold'; valid: None, 'dynamic'")),
    case("cfg-n_train-0", vc(n_train=0), raises(ValueError, r"n_train must be a positive integer, got 0")),
    case("cfg-seed-2**32", vc(seed=2**32), raises(ValueError, r"seed must be an integer from 0 to 4294967295 \(2\*\*32 - 1\), got 4294967296")),
    case("cfg-iwae_k-negative", vc(iwae_k=-1), raises(ValueError, r"iwae_k must be a non-negative integer, got -1")),
    case("cfg-learning_rate-nan", vc(learning_rate=float("nan")), raises(ValueError, r"learning_rate must be a positive number, got nan")),
    case("cfg-learning_rate-True", vc(learning_rate=True), raises(ValueError, r"learning_rate must be a positive (finite )?number, got True")),
    case("cfg-learning_rate-numpy-float32", vc(learning_rate=np.float32(0.5)), returns(lambda c: c.learning_rate == 0.5)),
    case("cfg-keras-example-fixed", vc(model="keras_example", latent_dim=8), raises(ValueError, r"the keras example is fixed at .*; this config changes \{'latent_dim': 8\}")),
    case("cfg-numpy-ints-are-fine", vc(latent_dim=np.int64(4), encoder_hidden=(np.int32(8),)),
         returns(lambda c: c.latent_dim == 4 and c.encoder_hidden == (8,) and type(c.latent_dim) is int)),
    # --- the model's helpers on hostile images
    case("reconstruct-nan", lambda _: vae.reconstruct(_model(), NAN), raises(ValueError, r"reconstruct: the images holds 56 NaN/inf values")),
    case("reconstruct-uint8-0-255", lambda _: vae.reconstruct(_model(), U8), raises(ValueError, r"reconstruct: the images must lie in \[0, 1\].*divide by 255")),
    case("reconstruct-flat", lambda _: vae.reconstruct(_model(), OK.reshape(8, 784)), raises(ValueError, r"flat vectors\? reshape them")),
    case("reconstruct-ok", lambda _: vae.reconstruct(_model(), OK[:2]), returns(lambda r: r.shape == (2, 28, 28, 1) and 0 <= r.min() and r.max() <= 1)),
    case("evaluate_terms-nan", lambda _: vae.evaluate_terms(_model(), NAN), raises(ValueError, r"NaN")),
    case("evaluate_terms-0-255", lambda _: vae.evaluate_terms(_model(), U8), raises(ValueError, r"must lie in \[0, 1\].*divide by 255")),
    case("iwae_bound-0-255", lambda _: vae.iwae_bound(_model(), U8, k=2), raises(ValueError, r"must lie in \[0, 1\].*divide by 255")),
    case("iwae_bound-k-0", lambda _: vae.iwae_bound(_model(), OK[:2], k=0), raises(ValueError, r"k must be an integer >= 1, got 0")),
    case("active_units-one-image", lambda _: vae.active_units(np.zeros((1, 2))), raises(ValueError, r"active_units needs posterior means \[N >= 2, L\], got shape \(1, 2\)")),
]


@pytest.mark.parametrize("call, expect", ROWS)
def test_hostile_vae(call, expect):
    run_case(call, expect)
