"""Hostile input to aecore.models.build_model, aecore.experiments.Config and aecore.training.fit
(issue 24): bad hyperparameters and fields, images outside [0, 1] or of the wrong shape, bad epochs,
batch sizes and learning rates, a diverging run. Each row: a clear error, or the right result."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from aecore import models, training
from aecore.experiments import Config
from hostile_helpers import case, raises, returns, run_case

OK = np.full((8, 28, 28, 1), 0.5, np.float32)


@functools.lru_cache(maxsize=1)
def _model():
    return models.build_model("dense_ae", seed=0, hidden_units=8, latent_dim=2)


def fit(x=OK, **kw):
    args = dict(epochs=1, batch_size=8, seed=0, progress=False)
    args.update(kw)
    return lambda _: training.fit(args.pop("model", _model()), args.pop("likelihood", "bce"), x, **args)


def cfg(**kw):
    base = dict(dataset="mnist", model="dense_ae", loss="bce")
    return lambda _: Config(**{**base, **kw})


def bm(name="dense_ae", **kw):
    return lambda _: models.build_model(name, **kw)


def _diverge(_):
    model = models.build_model("dense_ae", seed=0, hidden_units=8, latent_dim=2)
    bias = model.decoder.trainable_variables[-1]
    bias.assign(np.full(bias.shape, np.nan, np.float32))
    return training.fit(model, "bce", OK, epochs=1, batch_size=8, seed=0, progress=False)


def _same_weights(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


POS = "must be a positive integer, got"
ROWS = [
    # --- build_model
    case("unknown-model", bm("resnet"), raises(ValueError, r"unknown model 'resnet'.*(valid|dense_ae)")),
    case("latent_dim-str", bm(latent_dim="16"), raises(ValueError, rf"model 'dense_ae': latent_dim {POS} '16'")),
    case("latent_dim-0", bm(latent_dim=0), raises(ValueError, rf"model 'dense_ae': latent_dim {POS} 0")),
    case("latent_dim-negative", bm("conv_ae", latent_dim=-3), raises(ValueError, rf"model 'conv_ae': latent_dim {POS} -3")),
    case("latent_dim-float", bm(latent_dim=2.0), raises(ValueError, rf"latent_dim {POS} 2\.0")),
    case("latent_dim-bool", bm(latent_dim=True), raises(ValueError, rf"latent_dim {POS} True")),
    case("latent_dim-numpy-int-is-fine", bm(latent_dim=np.int64(3), hidden_units=4),
         returns(lambda m: m.latent_dim == 3)),
    case("unknown-kwarg", bm(latent=16), raises(ValueError, r"model 'dense_ae' takes no argument\(s\) 'latent'; valid: hidden_units=100, latent_dim=50")),
    case("conv-has-no-hidden_units", bm("conv_ae", hidden_units=8), raises(ValueError, r"model 'conv_ae' takes no argument\(s\) 'hidden_units'; valid: latent_dim=16")),
    case("activation-int", bm(activation=3), raises(ValueError, r"activation must be a string such as 'sigmoid', got 3")),
    case("activation-unknown", bm(activation="nope"), raises(ValueError, r"Could not interpret activation function identifier: nope")),
    case("jit_compile-is-no-model-option", bm(jit_compile="no"), raises(ValueError, r"takes no argument\(s\) 'jit_compile'")),
    case("optimizer-is-no-model-option", bm(optimizer="rmsprop"), raises(ValueError, r"takes no argument\(s\) 'optimizer'")),
    case("seed-str", bm(seed="0", hidden_units=4, latent_dim=2), raises(ValueError, r"seed must be a non-negative integer, got '0'")),
    case("seed-negative-is-not-seed-1", lambda _: _same_weights(
        models.build_model("dense_ae", seed=-1, hidden_units=4, latent_dim=2),
        models.build_model("dense_ae", seed=1, hidden_units=4, latent_dim=2)),
         raises(ValueError, r"seed must be a non-negative integer, got -1")),
    # --- Config
    case("cfg-dataset-int", cfg(dataset=1), raises(ValueError, r"dataset must be a string; valid: mnist, fashion_mnist")),
    case("cfg-dataset-unknown", cfg(dataset="cifar10"), raises(ValueError, r"unknown dataset 'cifar10'; valid names")),
    case("cfg-model-unknown", cfg(model="vae"), raises(ValueError, r"unknown model 'vae'")),
    case("cfg-loss-unknown", cfg(loss="l2"), raises(ValueError, r"unknown loss 'l2'; valid names")),
    case("cfg-loss-none", cfg(loss=None), raises(ValueError, r"loss must be a string; valid: gaussian")),
    case("cfg-n_train-0", cfg(n_train=0), raises(ValueError, rf"n_train {POS} 0")),
    case("cfg-epochs-float", cfg(epochs=1.5), raises(ValueError, rf"epochs {POS} 1\.5")),
    case("cfg-batch_size-str", cfg(batch_size="32"), raises(ValueError, rf"batch_size {POS} '32'")),
    case("cfg-seed-negative", cfg(seed=-1), raises(ValueError, r"seed must be an integer from 0 to 4294967295 \(2\*\*32 - 1\), got -1")),
    case("cfg-seed-2**32", cfg(seed=2**32), raises(ValueError, r"seed must be an integer from 0 to 4294967295 \(2\*\*32 - 1\), got 4294967296")),
    case("cfg-data_seed-bool", cfg(data_seed=True), raises(ValueError, r"data_seed must be an integer from 0 to 4294967295.*got True")),
    case("cfg-n_val-negative", cfg(n_val=-1), raises(ValueError, r"n_val must be a non-negative integer, got -1")),
    *[case(f"cfg-learning_rate-{v!r}", cfg(learning_rate=v), raises(ValueError, rf"learning_rate must be a positive finite number, got {r}"))
      for v, r in ((0, "0"), (-1e-3, "-0\\.001"), (float("nan"), "nan"), (float("inf"), "inf"), ("1e-3", "'1e-3'"), (True, "True"))],
    case("cfg-learning_rate-numpy-is-fine", cfg(learning_rate=np.float32(0.5)), returns(lambda c: c.learning_rate == 0.5 and type(c.learning_rate) is float)),
    case("cfg-binarize-unknown", cfg(binarize="otsu"), raises(ValueError, r"unknown binarize='otsu'; valid: None, 'threshold', 'dynamic'")),
    case("cfg-reduction-unknown", cfg(reduction="sum"), raises(ValueError, r"sum.*per_pixel.*per_image")),
    case("cfg-model_kwargs-latent_dim-str", cfg(model_kwargs={"latent_dim": "16"}), raises(ValueError, rf"model 'dense_ae': latent_dim {POS} '16'")),
    case("cfg-model_kwargs-latent_dim-0", cfg(model_kwargs={"latent_dim": 0}), raises(ValueError, rf"latent_dim {POS} 0")),
    case("cfg-model_kwargs-unknown", cfg(model="conv_ae", model_kwargs={"activation": "relu"}), raises(ValueError, r"model 'conv_ae' takes no argument\(s\) 'activation'")),
    case("cfg-model_kwargs-list-value", cfg(model_kwargs={"latent_dim": [16]}), raises(ValueError, r"model_kwargs\['latent_dim'\] = \[16\]: values must be str, int, finite float, bool or None")),
    case("cfg-model_kwargs-nan", cfg(model_kwargs={"latent_dim": float("nan")}), raises(ValueError, r"model_kwargs\['latent_dim'\] = nan: values must be")),
    case("cfg-model_kwargs-bad-pairs", cfg(model_kwargs=[("latent_dim",)]), raises(ValueError, r"model_kwargs must be a mapping or \(name, value\) pairs, got item \('latent_dim',\)")),
    case("cfg-model_kwargs-twice", cfg(model_kwargs=[("latent_dim", 2), ("latent_dim", 3)]), raises(ValueError, r"model_kwargs names 'latent_dim' twice")),
    case("cfg-model_kwargs-a-string", cfg(model_kwargs="latent_dim=2"), raises(ValueError, r"model_kwargs must be a mapping or \(name, value\) pairs, got item 'l'"),
         xfail=None),
    case("cfg-model_kwargs-numpy-is-fine", cfg(model_kwargs={"latent_dim": np.int64(4)}), returns(lambda c: c.model_kwargs == (("latent_dim", 4),))),
    case("cfg-from_dict-unknown", lambda _: Config.from_dict({"dataset": "mnist", "model": "dense_ae", "loss": "bce", "lr": 1}),
         raises(ValueError, r"unknown Config field\(s\) \['lr'\]; valid: ")),
    case("cfg-replace-revalidates", lambda _: Config(dataset="mnist", model="dense_ae", loss="bce").replace(epochs=0), raises(ValueError, rf"epochs {POS} 0")),
    # --- fit: images
    case("fit-uint8-0-255", fit(np.full((8, 28, 28, 1), 255, np.uint8)), raises(ValueError, r"x_train must lie in \[0, 1\], .*got \[255, 255\] \(uint8 pixels: divide by 255\)")),
    case("fit-float-0-255", fit(np.full((8, 28, 28, 1), 3.0, np.float32), likelihood="mse"), raises(ValueError, r"x_train must lie in \[0, 1\].*\[3, 3\] \(uint8 pixels: divide by 255\)")),
    case("fit-minus1-1", fit(np.linspace(-1, 1, 8 * 784, dtype=np.float32).reshape(8, 28, 28, 1), likelihood="mae"), raises(ValueError, r"\[-1, 1\] \(images scaled to \[-1, 1\]\? map them back with \(x \+ 1\) / 2\)")),
    case("fit-far-out-of-range", fit(OK * -100), raises(ValueError, r"x_train must lie in \[0, 1\], the range every likelihood here models, got \[-50, -50\]$")),
    case("fit-flat", fit(OK.reshape(8, 784)), raises(ValueError, r"got shape \(8, 784\): flat vectors\? reshape them with x\.reshape\(-1, 28, 28, 1\)")),
    case("fit-no-channel", fit(OK[..., 0]), raises(ValueError, r"got shape \(8, 28, 28\): add the channel axis with x\[\.\.\., None\]")),
    case("fit-one-image-unbatched", fit(OK[0]), raises(ValueError, r"x_train must be a non-empty batch of images \[N, 28, 28, 1\], got shape \(28, 28, 1\)")),
    case("fit-channels-first", fit(OK.reshape(8, 1, 28, 28)), raises(ValueError, r"got shape \(8, 1, 28, 28\)")),
    case("fit-nan", fit(np.where(np.eye(28)[None, :, :, None] > 0, np.nan, OK).astype(np.float32)), raises(ValueError, r"x_train holds 224 NaN/inf values")),
    case("fit-x_val-0-255", fit(x_val=np.full((2, 28, 28, 1), 255, np.uint8)), raises(ValueError, r"x_val must lie in \[0, 1\].*divide by 255")),
    case("fit-x_val-flat", fit(x_val=OK.reshape(8, 784)), raises(ValueError, r"x_val must be a non-empty batch .*flat vectors")),
    # --- fit: sizes, rates, names
    case("fit-epochs-0", fit(epochs=0), raises(ValueError, rf"epochs {POS} 0")),
    case("fit-epochs-float", fit(epochs=1.0), raises(ValueError, rf"epochs {POS} 1\.0")),
    case("fit-batch-0", fit(batch_size=0), raises(ValueError, rf"batch_size {POS} 0")),
    case("fit-batch-str", fit(batch_size="8"), raises(ValueError, rf"batch_size {POS} '8'")),
    case("fit-batch-larger-than-data-is-fine", fit(batch_size=1000), returns(lambda h: len(h) == 1 and np.isfinite(h["loss"]).all())),
    case("fit-seed-negative", fit(seed=-1), raises(ValueError, r"seed must be a non-negative integer, got -1")),
    *[case(f"fit-learning_rate-{v!r}", fit(learning_rate=v), raises(ValueError, rf"learning_rate must be a positive number, got {r}"))
      for v, r in ((0.0, "0\\.0"), (-1.0, "-1\\.0"), (float("nan"), "nan"), (float("inf"), "inf"), ("1e-3", "'1e-3'"))],
    case("fit-learning_rate-True", fit(learning_rate=True), raises(ValueError, r"learning_rate must be a positive number, got True")),
    case("fit-learning_rate-numpy-float32", fit(learning_rate=np.float32(1e-3)), returns(lambda h: len(h) == 1)),
    case("fit-unknown-likelihood", fit(likelihood="l2"), raises(ValueError, r"unknown loss 'l2'; valid names")),
    case("fit-unknown-reduction", fit(reduction="sum"), raises(ValueError, r"sum.*per_pixel.*per_image")),
    case("fit-binarize-threshold", fit(binarize="threshold"), raises(ValueError, r"unknown binarize='threshold' for training; .*aecore\.data\.load\(\.\.\., binarize='threshold'\)")),
    case("fit-optimizer-unknown", fit(optimizer="rmsprop"), raises(ValueError, r"rmsprop.*(adam|sgd)")),
    case("fit-model-is-a-name", fit(model="dense_ae"), raises(TypeError, r"model must be a Keras model.*build_model\('dense_ae'")),
    case("fit-diverges", _diverge, raises(training.TrainingDivergedError, r"epoch 1")),
]


@pytest.mark.parametrize("call, expect", ROWS)
def test_hostile_models_and_training(call, expect):
    run_case(call, expect)
