"""Autoencoder experiments: the run kind :class:`Config` of :mod:`aecore.runner`.

A :class:`Config` is a frozen value that says everything that determines an autoencoder run;
``run(cfg)`` (:func:`aecore.runner.run`, re-exported here) loads the data, builds the model,
trains it, evaluates it on held-out test images and stores everything in the cache
(:mod:`aecore.cache`); the next ``run(cfg)`` with an equal config and the same code reads it
back. ``sweep(configs)`` runs many and returns a tidy table, one row per run. VAEs are the other
run kind (:mod:`aecore.vae_runs`), through the same runner and cache.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from typing import Any, ClassVar, Mapping

import numpy as np
import pandas as pd

import aecore
from aecore import collapse, data, losses, metrics, models, optim, training
from aecore.cache import entry_files, fingerprint_arrays
from aecore.profiles import PROFILES
from aecore.runner import (Result, RunConfig, base_key_fields, entry_path, results, run, runs, sweep, test_images,
                           training_images_of, training_key)

# The one runner's functions, re-exported: chapters call experiments.run(cfg) and experiments.sweep(cfgs).
__all__ = ["Config", "ENTRY_FILES", "Result", "data_fingerprint", "entry_path", "load_data", "results", "run",
           "runs", "sweep"]
from aecore.validate import check_int

_K_PCA = 16
_FULL = PROFILES["full"]
_JSON_SCALARS = (str, int, float, bool, type(None))


# --------------------------------------------------------------------------- config


def _canonical_model_kwargs(value: Any) -> tuple[tuple[str, Any], ...]:
    """Mapping or pairs -> sorted tuple of ``(name, JSON scalar)`` pairs (hashable, JSON-able)."""
    pairs = list(value.items()) if isinstance(value, Mapping) else list(value or ())
    out: dict[str, Any] = {}
    for pair in pairs:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[0], str)):
            raise ValueError(f"model_kwargs must be a mapping or (name, value) pairs, got item {pair!r}")
        key, val = pair
        if isinstance(val, np.generic):
            val = val.item()
        if not isinstance(val, _JSON_SCALARS) or (isinstance(val, float) and not math.isfinite(val)):
            raise ValueError(f"model_kwargs[{key!r}] = {val!r}: values must be str, int, finite "
                             f"float, bool or None (so the config is hashable and JSON-able)")
        if key in out:
            raise ValueError(f"model_kwargs names {key!r} twice")
        out[key] = val
    return tuple(sorted(out.items()))


# How a Config's output bias starts (Config.output_bias).
OUTPUT_BIAS_MODES: tuple[str | None, ...] = (None, "mean_image")
# The architectures whose runs log chapter 4's collapse figures after every epoch
# (aecore.collapse.EpochTracker, on the held-out images): a choice of the runs, not of the model.
TRACKS_COLLAPSE: frozenset[str] = frozenset({"dense_ae"})


@dataclasses.dataclass(frozen=True)
class Config(RunConfig):
    """Everything that determines a run; equal configs give equal results.

    Names are canonicalised on construction (``loss="bce"`` becomes ``"bernoulli"``,
    ``dataset="fashion-mnist"`` becomes ``"fashion_mnist"``), so aliases share a cache entry.
    Defaults are the ``full`` profile's sizes; :meth:`from_profile` takes another profile's.

    Attributes:
      dataset: ``"mnist"`` or ``"fashion_mnist"``.
      model: a key of :data:`aecore.models.MODELS`.
      loss: a likelihood of :data:`aecore.losses.LOSSES` or an alias (``"mse"``, ``"bce"``, ...).
      n_train: training images (a seeded uniform subset, see ``aecore.data.load``).
      n_test: held-out test images the metrics are computed on.
      epochs: passes over the training images.
      batch_size: images per gradient step.
      seed: seed of the weights, the shuffling and the dynamic binarisation.
      binarize: None, ``"threshold"`` (train and test images thresholded at 0.5) or
        ``"dynamic"`` (a fresh Bernoulli sample of the training images every epoch;
        metrics against one fixed Bernoulli sample of the test images).
      learning_rate: the optimizer's step size.
      optimizer: ``"adam"`` (Keras defaults) or ``"sgd"`` (plain gradient descent, no momentum;
        chapter 4's reported setting).
      jit_compile: XLA-compile the training steps (:func:`aecore.training.fit`); it changes the
        rounding, so it is part of the config. False for every run of the book.
      reduction: training-loss scale, ``"per_pixel"`` (nats per pixel) or ``"per_image"``.
      model_kwargs: builder hyperparameters as sorted ``(name, value)`` pairs (a dict is
        accepted and converted), e.g. ``{"activation": "relu"}`` for ``dense_ae``.
      data_seed: seed of the data subsets. None (the default): each seed trains on its own
        training subset, drawn with the run's ``seed``, and every seed is scored on the same test
        images (:attr:`~aecore.runner.RunConfig.train_subset_seed`, ``test_subset_seed``). An
        integer fixes both subsets for every seed.
      n_val: test images whose loss is logged after every epoch (``val_loss``); the first
        ``min(n_val, n_test)`` of the evaluation images, 0 for none.
      output_bias: None (the initialiser's zeros) or ``"mean_image"``: the output layer's bias
        starts where the reconstruction is the training images' mean image
        (:func:`aecore.models.set_output_bias`; chapter 5's MAE runs).
      checkpoints: optimiser-step counts (1 = after the first step) at which the held-out
        ``val_loss`` and ``val_mse`` are also logged inside an epoch, in the entry's step table
        (chapter 3 logs its first epochs this way). Evaluating does not change what is trained.
    """

    dataset: str
    model: str
    loss: str
    n_train: int = _FULL.n_train
    n_test: int = _FULL.n_test
    epochs: int = _FULL.epochs
    batch_size: int = _FULL.batch_size
    seed: int = 0
    binarize: str | None = None
    learning_rate: float = 1e-3
    reduction: str = "per_pixel"
    model_kwargs: tuple[tuple[str, Any], ...] = ()
    data_seed: int | None = None
    n_val: int = 1000
    output_bias: str | None = None
    optimizer: str = "adam"
    jit_compile: bool = False
    checkpoints: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)  # frozen: canonicalise once, here

        if not isinstance(self.dataset, str):
            raise ValueError(f"dataset must be a string; valid: {', '.join(data.DATASETS)}")
        put("dataset", data._canonical_name(self.dataset))  # ValueError lists the names
        if not isinstance(self.loss, str):
            raise ValueError(f"loss must be a string; valid: {', '.join(losses.LOSSES)}")
        likelihood = losses.get_loss(self.loss)
        if likelihood.needs_model_sigma:
            raise ValueError(f"loss {self.loss!r} has a {likelihood.sigma} sigma, which only a VAE decoder has; "
                             f"for an autoencoder use 'gaussian' (MSE), or a VAE (aecore.vae_runs.VAEConfig)")
        put("loss", likelihood.name)
        models.get_model_spec(self.model)
        if self.binarize not in data.BINARIZE_MODES:
            raise ValueError(f"unknown binarize={self.binarize!r}; valid: "
                             f"{', '.join(map(repr, data.BINARIZE_MODES))}")
        training.get_reduction(self.reduction)
        self._check_sizes_and_seeds()
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)) or not (
                math.isfinite(lr) and lr > 0):
            raise ValueError(f"learning_rate must be a positive finite number, got {lr!r}")
        put("learning_rate", float(lr))
        kwargs = _canonical_model_kwargs(self.model_kwargs)
        models.check_model_kwargs(self.model, dict(kwargs))
        put("model_kwargs", kwargs)
        if self.output_bias not in OUTPUT_BIAS_MODES:
            raise ValueError(f"unknown output_bias={self.output_bias!r}; valid: "
                             f"{', '.join(map(repr, OUTPUT_BIAS_MODES))}")
        if self.output_bias is not None:
            models.check_output_bias(likelihood)
        optim.check_optimizer(self.optimizer)
        if not isinstance(self.jit_compile, (bool, np.bool_)):
            raise ValueError(f"jit_compile must be True or False, got {self.jit_compile!r}")
        put("jit_compile", bool(self.jit_compile))
        if isinstance(self.checkpoints, (str, bytes)) or not isinstance(self.checkpoints, (tuple, list)):
            raise ValueError(f"checkpoints must be a list of step counts, got {self.checkpoints!r}")
        total = self.epochs * -(-self.n_train // self.batch_size)
        steps = tuple(check_int(c, "checkpoint", minimum=1, maximum=total) for c in self.checkpoints)
        if list(steps) != sorted(set(steps)):
            raise ValueError(f"checkpoints must increase, without repeats, got {list(steps)}")
        if steps and not self.n_val:
            raise ValueError("checkpoints log the held-out loss: they need n_val > 0")
        put("checkpoints", steps)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of every field; ``model_kwargs`` becomes a dict."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["model_kwargs"] = dict(self.model_kwargs)
        d["checkpoints"] = list(self.checkpoints)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Config":
        """Inverse of :meth:`to_dict`; unknown keys raise ValueError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown Config field(s) {unknown}; valid: {sorted(names)}")
        return cls(**d)

    def canonical_json(self) -> str:
        """The config as sorted, compact JSON: equal configs give equal strings."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)

    # --- what the runner needs (aecore.runner.RunKind) ---
    KIND: ClassVar[str] = "autoencoder"
    TABLES: ClassVar[tuple[str, ...]] = ("history", "steps")
    # What every autoencoder entry's metrics.json holds (aecore.metrics.evaluate and train's extras).
    REQUIRED_METRICS: ClassVar[tuple[str, ...]] = (
        "mse_per_pixel", "bce_per_pixel", "bce_excess_per_pixel", "psnr_db", "ssim", "n_images", "dead_units",
        "latent_dim", "train_seconds", "final_loss")
    HISTORY_COLUMNS: ClassVar[tuple[str, ...]] = ("epoch", "loss", "val_loss", "val_mse", "seconds")
    SUMMARY: ClassVar[str] = ("test MSE {mse_per_pixel:.4f}, BCE {bce_per_pixel:.4f} nats/pixel, SSIM {ssim:.3f}, "
                              "dead units {dead_units}/{latent_dim}")

    def key_fields(self) -> dict[str, Any]:
        """What the cache key covers (:func:`aecore.runner.cache_key`): the config, its kind, the
        aecore version, the code fingerprint and the model's
        :attr:`~aecore.models.ModelSpec.revision` (left out at revision 1)."""
        fields = base_key_fields(self)
        revision = models.get_model_spec(self.model).revision
        if revision != 1:
            fields["model_revision"] = revision
        return fields

    def entry_slug(self) -> str:
        """The readable start of the entry's folder name, e.g. ``mnist-conv_ae-bernoulli-s0``."""
        return "-".join([self.dataset, self.model, self.loss, f"s{self.seed}"])

    def data_fingerprint(self) -> str:
        """SHA-256 (hex) of the training and evaluation images of this run as loaded now."""
        return data_fingerprint(self)

    def build_model(self) -> models.AutoEncoder:
        """The untrained model, built from the seed as :meth:`train` builds it."""
        return models.build_model(self.model, seed=self.seed, **dict(self.model_kwargs))

    def reconstruct(self, model: models.AutoEncoder, x: np.ndarray) -> np.ndarray:
        """``model``'s reconstructions of ``x``: the mean of this run's likelihood."""
        return model.reconstruct(x, likelihood=self.loss)

    def train(self, *, progress: bool, prefix: str) -> tuple[dict[str, Any], dict[str, pd.DataFrame], Any]:
        """Trains and evaluates this run: ``(metrics, {"history": ..., "steps": ...}, model)``."""
        logs, run_metrics, model = _train_and_evaluate(self, progress=progress, prefix=prefix)
        return run_metrics, {"history": logs.epochs, "steps": logs.steps}, model

    def history_attrs(self) -> dict[str, Any]:
        """The attributes :func:`aecore.training.fit` gives a history (restored on reading)."""
        return {"unit": training.get_reduction(self.reduction).unit, "likelihood": self.loss,
                "reduction": self.reduction, "binarize": "dynamic" if self.binarize == "dynamic" else None}

    def table_row(self, result: Result) -> dict[str, Any]:
        """A sweep's row: every field (``model_kwargs`` as JSON text), ``label``, ``setting``,
        ``loss_name`` and the metrics in the order an entry stores them."""
        row = self.to_dict()
        row["model_kwargs"] = json.dumps(row["model_kwargs"], sort_keys=True)
        # which images (tables.score_binarised matches binarised runs with grey ones by them)
        row.update(train_subset_seed=self.train_subset_seed, test_subset_seed=self.test_subset_seed)
        row.update({"label": self.label(), "setting": self.setting_label(),
                    "loss_name": losses.get_loss(self.loss).loss_name})
        row.update(sorted(result.metrics.items()))  # in the order a cache entry stores them, trained or read
        return row

    def setting_label(self) -> str:
        """The label without the seed, e.g. ``"mnist conv_ae bce"``: what seeds are repeats of."""
        parts = [self.dataset, self.model, losses.get_loss(self.loss).loss_name.lower()]
        if self.binarize:
            parts.append(f"binarize={self.binarize}")
        if self.output_bias:
            parts.append(f"output_bias={self.output_bias}")
        parts += [f"{k}={v}" for k, v in self.model_kwargs]
        if self.optimizer != "adam":
            parts.append(f"optimizer={self.optimizer}")
        if self.jit_compile:
            parts.append("jit_compile=True")
        return " ".join(parts)


ENTRY_FILES: tuple[str, ...] = entry_files(Config.TABLES)


# --------------------------------------------------------------------------- data


def load_data(cfg: Config) -> data.Dataset:
    """The images of a run: ``aecore.data.load`` with the config's dataset, sizes and
    ``binarize`` (for ``"dynamic"``, one fixed Bernoulli sample per pixel; training itself
    resamples the grey training images every epoch). The training split is drawn with
    :attr:`~aecore.runner.RunConfig.train_subset_seed`, the test split with ``test_subset_seed``
    (the dataset's ``seed`` is the latter)."""
    ds = data.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=cfg.test_subset_seed,
                   binarize=cfg.binarize)
    if cfg.train_subset_seed != cfg.test_subset_seed:  # a split's subset depends on its own seed only
        train = data.load(cfg.dataset, n_train=cfg.n_train, n_test=1, seed=cfg.train_subset_seed,
                          binarize=cfg.binarize).train
        ds = dataclasses.replace(ds, train=train)
    return ds


def _train_binarize(cfg: Config) -> str | None:
    """How the *loaded* training images are binarised: only thresholding is done at load time."""
    return "threshold" if cfg.binarize == "threshold" else None


def _data_key(cfg: Config) -> tuple:
    """Identifies a run's training images (:func:`aecore.runner.training_key`)."""
    return training_key(cfg, _train_binarize(cfg))


@functools.lru_cache(maxsize=32)
def _pca_baseline(data_key: tuple, k: int) -> metrics.PCA:
    """PCA of a training set, shared by every run on it (saves one SVD per run)."""
    return metrics.pca_fit(training_images_of(data_key), k)


def data_fingerprint(cfg: Config) -> str:
    """SHA-256 (hex) of the training and evaluation images of ``cfg`` as loaded now (see
    :func:`aecore.cache.fingerprint_arrays`)."""
    return fingerprint_arrays(training_images_of(_data_key(cfg)), test_images(cfg))


# --------------------------------------------------------------------------- run


def _train_and_evaluate(cfg: Config, *, progress: bool, prefix: str) -> tuple[
        training.History, dict[str, float], models.AutoEncoder]:
    aecore.set_seed(cfg.seed, tensorflow=False)  # the model and fit are seeded explicitly
    x_train = training_images_of(_data_key(cfg))  # [n_train, 28, 28, 1]
    x_test = test_images(cfg)  # [n_test, 28, 28, 1], the evaluation targets
    n_val = cfg.val_images
    likelihood = losses.get_loss(cfg.loss)

    model = cfg.build_model()
    if cfg.output_bias == "mean_image":
        models.set_output_bias(model, x_train, likelihood)
    x_val = x_test[:n_val] if n_val else None
    tracker = (collapse.EpochTracker(x_train, x_val, likelihood=likelihood)
               if x_val is not None and cfg.model in TRACKS_COLLAPSE else None)
    logs = training.fit_logs(model, likelihood, x_train, x_val=x_val, on_epoch_end=tracker, checkpoints=cfg.checkpoints,
                           epochs=cfg.epochs, batch_size=cfg.batch_size, seed=cfg.seed,
                           learning_rate=cfg.learning_rate, optimizer=cfg.optimizer,
                           jit_compile=cfg.jit_compile,
                           binarize="dynamic" if cfg.binarize == "dynamic" else None,
                           reduction=cfg.reduction, progress=progress, progress_prefix=prefix)
    history = logs.epochs

    x_hat = model.reconstruct(x_test, likelihood=likelihood)  # [n_test, 28, 28, 1]
    pca = _pca_baseline(_data_key(cfg), _K_PCA)
    run_metrics: dict[str, float] = metrics.evaluate(x_test, x_hat, x_train=x_train, k_pca=_K_PCA, pca=pca)
    if cfg.binarize is not None:
        x_grey = data.load(cfg.dataset, n_train=1, n_test=cfg.n_test, seed=cfg.test_subset_seed).test.x
        run_metrics.update({f"vs_grey_{k}": v for k, v in metrics.evaluate(x_grey, x_hat).items()
                            if k != "n_images"})
    codes = model.encode(x_test)  # [n_test, latent_dim]
    run_metrics["dead_units"] = metrics.dead_units(codes)
    run_metrics["latent_dim"] = int(codes.shape[1])
    run_metrics["train_seconds"] = float(history["seconds"].sum())
    run_metrics["final_loss"] = float(history["loss"].iloc[-1])
    run_metrics["final_val_loss"] = float(history["val_loss"].iloc[-1])
    return logs, run_metrics, model


