"""VAE experiments: the run kind :class:`VAEConfig` of :mod:`aecore.runner`.

The same contract as :mod:`aecore.experiments`, through the same runner and cache
(:mod:`aecore.cache`): entries keyed by the config, its kind, ``aecore.__version__``, the code
fingerprint (and :data:`aecore.vae.FIT_PROGRAM` for the runs :func:`aecore.vae.fit` trains),
written atomically, verified on read, an unusable entry deleted and retrained with a
:class:`~aecore.cache.CacheWarning`. A run that diverges raises
:class:`aecore.training.TrainingDivergedError` and writes nothing. A VAE's entry holds one more
table than an autoencoder's: ``steps.csv``, one row per optimiser step.

``model="aecore"`` trains :func:`aecore.vae.build_vae` with :func:`aecore.vae.fit`;
``model="keras_example"`` trains keras-io's example (:mod:`aecore.keras_vae`, latent 2)
with its own loss and ``fit``. Both are evaluated by the same code.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from typing import Any, ClassVar, Mapping

import numpy as np
import pandas as pd

from aecore import data, metrics, vae
from aecore.cache import entry_files, fingerprint_arrays
from aecore.runner import (Result, RunConfig, base_key_fields, entry_path, results, run, runs, sweep, test_images,
                           training_images)

# The one runner's functions, re-exported for the VAE chapters and their study module.
__all__ = ["ENTRY_FILES", "MODELS", "SCALAR_METRICS", "VAEConfig", "VAEResult", "entry_path", "evaluate", "results",
           "run", "runs", "sweep"]
from aecore.validate import check_int

VAEResult = Result  # one result type for every run kind (``Result.steps`` holds the step log)
MODELS: tuple[str, ...] = ("aecore", "keras_example")


# VAEConfig.targets: how the images are presented to a density on [0, 1].
TARGETS: tuple[str | None, ...] = (None, "clipped", "dequantized")
CLIP_EPS = 1.0 / 512.0  # half an 8-bit level: no pixel is exactly 0 or 1
DEQUANTIZE_TEST_OFFSET = 1_000_003  # the test images' noise is not the training images' (same seed 0)


@dataclasses.dataclass(frozen=True)
class VAEConfig(RunConfig):
    """Everything that determines a VAE run.

    Attributes:
      dataset: ``"mnist"`` or ``"fashion_mnist"``.
      model: ``"aecore"`` or ``"keras_example"`` (then only latent 2, Bernoulli, beta 1).
      architecture, encoder_hidden, decoder_hidden, latent_dim, decoder, sigma: see
        :func:`aecore.vae.build_vae`.
      objective: what the optimiser minimises (:class:`aecore.vae.Objective`: ``beta``,
        ``schedule``, ``warmup_epochs``, ``n_cycles``, ``free_bits``, ``recon_reduction``). The
        constructor, :meth:`~aecore.runner.RunConfig.replace` and ``from_profile`` also take
        those fields by name and fold them into ``objective``: ``cfg.replace(beta=10.0)`` keeps
        the rest of ``cfg.objective``. A dict (as ``config.json`` holds it) is read as one.
      binarize: None (grey targets) or ``"dynamic"`` (train on a fresh Bernoulli sample
        every step, test on one fixed sample).
      n_train, n_test, epochs, batch_size, learning_rate, seed: as usual.
      data_seed: seed of the image subsets; None (the default): each seed trains on its own
        subset and all are scored on the same test images (see
        :attr:`~aecore.runner.RunConfig.train_subset_seed`).
      n_val: test images scored after every epoch.
      iwae_k: samples of the importance-weighted bound (0: not computed); on the first
        ``n_iwae`` test images.
      targets: None (the images as they are), ``"clipped"`` (into [:data:`CLIP_EPS`,
        1 - eps]) or ``"dequantized"`` (each 8-bit level k/255 spread uniformly over
        [k/256, (k+1)/256), one fixed draw): training and test images alike, so a density on
        [0, 1] (the continuous Bernoulli's) is never asked for exact 0s and 1s (chapter 6).
    """

    dataset: str = "mnist"
    model: str = "aecore"
    architecture: str = "mlp"
    encoder_hidden: tuple[int, ...] = (512, 256)
    decoder_hidden: tuple[int, ...] | None = None
    latent_dim: int = 16
    decoder: str = "bernoulli"
    sigma: float = 1.0
    objective: vae.Objective = vae.Objective()
    binarize: str | None = None
    n_train: int = 5000
    n_test: int = 10000
    epochs: int = 20
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0
    data_seed: int | None = None
    n_val: int = 1000
    iwae_k: int = 0
    n_iwae: int = 1000
    targets: str | None = None

    def __post_init__(self) -> None:
        put = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731  (frozen: canonicalise once)
        put("dataset", data._canonical_name(self.dataset))
        if self.model not in MODELS:
            raise ValueError(f"unknown VAE model {self.model!r}; valid: {', '.join(MODELS)}")
        if self.architecture not in vae.ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.architecture!r}; valid: {', '.join(vae.ARCHITECTURES)}")
        put("decoder", vae.get_decoder(self.decoder).name)
        for name in ("encoder_hidden", "decoder_hidden"):
            widths = getattr(self, name)
            if widths is None and name == "decoder_hidden":
                continue
            if not isinstance(widths, (tuple, list, range, np.ndarray)):  # a str would be iterated
                one = (f"; for one layer of {widths!r} units write ({widths!r},)"
                       if isinstance(widths, (int, np.integer)) and not isinstance(widths, bool) else "")
                raise ValueError(f"{name} must be a sequence of layer widths such as (512,) or (512, 256), "
                                 f"got {widths!r}{one}")
            put(name, tuple(check_int(u, f"{name} width", minimum=1) for u in widths))
        put("latent_dim", check_int(self.latent_dim, "latent_dim", minimum=1))
        if isinstance(self.sigma, (bool, np.bool_)) or not (
                isinstance(self.sigma, (int, float, np.integer, np.floating)) and math.isfinite(self.sigma)
                and self.sigma > 0):
            raise ValueError(f"sigma must be a positive number, got {self.sigma!r}")
        put("sigma", float(self.sigma))
        put("objective", _canonical_objective(self.objective))
        if self.binarize not in (None, "dynamic"):
            raise ValueError(f"unknown binarize={self.binarize!r}; valid: None, 'dynamic'")
        if self.targets not in TARGETS:
            raise ValueError(f"unknown targets={self.targets!r}; valid: {', '.join(map(repr, TARGETS))}")
        if self.targets is not None and self.binarize is not None:
            raise ValueError(f"targets={self.targets!r} transforms grey images; binarised ones are 0 or 1 by "
                             "design: use one or the other")
        self._check_sizes_and_seeds()
        put("n_iwae", check_int(self.n_iwae, "n_iwae", minimum=1))
        put("iwae_k", check_int(self.iwae_k, "iwae_k", minimum=0))
        if isinstance(self.learning_rate, (bool, np.bool_)) or not (
                isinstance(self.learning_rate, (int, float, np.integer, np.floating))
                and math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate!r}")
        put("learning_rate", float(self.learning_rate))
        if self.model == "keras_example":
            fixed = {"latent_dim": 2, "decoder": "bernoulli", "beta": 1.0, "schedule": "constant",
                     "free_bits": 0.0, "recon_reduction": "sum", "batch_size": 128, "learning_rate": 1e-3}
            now = {**dataclasses.asdict(self.objective), **self.to_dict()}
            wrong = {k: now[k] for k, v in fixed.items() if now[k] != v}
            if wrong:
                raise ValueError(f"the keras example is fixed at {fixed}; this config changes {wrong}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["encoder_hidden"] = list(self.encoder_hidden)
        d["decoder_hidden"] = None if self.decoder_hidden is None else list(self.decoder_hidden)
        return d

    # --- what the runner needs (aecore.runner.RunKind) ---
    KIND: ClassVar[str] = "vae"
    TABLES: ClassVar[tuple[str, ...]] = ("history", "steps")
    REQUIRED_METRICS: ClassVar[tuple[str, ...]] = ("neg_elbo", "recon", "kl", "active_units", "latent_dim",
                                                   "mse_per_pixel", "mse_per_pixel_sampled", "mutual_info",
                                                   "train_seconds")
    HISTORY_COLUMNS: ClassVar[tuple[str, ...]] = ("epoch", "loss", "seconds")
    SUMMARY: ClassVar[str] = ("test -ELBO {neg_elbo:.1f} nats/image (recon {recon:.1f}, KL {kl:.2f}), "
                              "active units {active_units}/{latent_dim}")

    def key_fields(self) -> dict[str, Any]:
        """What the cache key covers: the config, its kind, the aecore version, the code
        fingerprint and, for the runs :func:`aecore.vae.fit` trains (not the Keras example's own
        ``fit``), its program version."""
        fields = base_key_fields(self)
        if self.model != "keras_example":
            fields["vae_fit_program"] = vae.FIT_PROGRAM
        return fields

    def entry_slug(self) -> str:
        return "-".join(["vae", self.dataset, self.model, self.decoder, f"s{self.seed}"])

    def data_fingerprint(self) -> str:
        return fingerprint_arrays(*_images(self))

    def build_model(self) -> Any:
        """The untrained model, built from the seed as :meth:`train` builds it."""
        return _build(self)

    @staticmethod
    def reconstruct(model: Any, x: np.ndarray) -> np.ndarray:
        return vae.reconstruct(model, x)

    def train(self, *, progress: bool, prefix: str) -> tuple[dict[str, Any], dict[str, pd.DataFrame], Any]:
        """Trains and evaluates this run: ``(metrics, {"history": ..., "steps": ...}, model)``."""
        x_train, x_test = _images(self)
        history, steps, run_metrics, model = _train_and_evaluate(self, x_train, x_test, progress=progress,
                                                                 prefix=prefix)
        return run_metrics, {"history": history, "steps": steps}, model

    @staticmethod
    def history_attrs() -> dict[str, Any]:
        return {}

    def table_row(self, result: Result) -> dict[str, Any]:
        """A sweep's row: the config fields (hidden widths as text), ``setting``, ``label``, the
        scalar metrics (NaN where a run has none: ``log_sigma`` for a decoder without a sigma,
        the IWAE columns without ``iwae_k``) and ``kl_per_dim`` (JSON text)."""
        row = self.to_dict()
        row.update(row.pop("objective"))  # one column per objective field (beta, schedule, ...)
        row["encoder_hidden"] = "-".join(map(str, self.encoder_hidden))
        row["decoder_hidden"] = None if self.decoder_hidden is None else "-".join(map(str, self.decoder_hidden))
        row.update({"setting": self.setting_label(), "label": self.label()})
        row.update({k: result.metrics.get(k, np.nan) for k in SCALAR_METRICS})
        row["kl_per_dim"] = json.dumps(result.metrics["kl_per_dim"])
        return row

    def setting_label(self) -> str:
        """What differs from the defaults, seed excluded, e.g. ``"mlp 128-64 z2 gaussian beta=10"``."""
        if self.model == "keras_example":
            parts = ["keras example"]
        else:
            hid = "-".join(map(str, self.encoder_hidden)) or "linear"
            if self.decoder_hidden is not None and tuple(self.decoder_hidden) != tuple(reversed(self.encoder_hidden)):
                hid += "/" + ("-".join(map(str, self.decoder_hidden)) or "linear")
            parts = [self.architecture, hid, f"z{self.latent_dim}", self.decoder]
            if self.decoder == "gaussian" and self.sigma != 1.0:
                parts.append(f"sigma={self.sigma:g}")
            obj = self.objective
            if obj.beta != 1.0:
                parts.append(f"beta={obj.beta:g}")
            if obj.schedule == "linear":
                parts.append(f"warm-up {obj.warmup_epochs} ep")
            if obj.schedule == "cyclical":
                parts.append(f"cyclical x{obj.n_cycles}")
            if obj.free_bits:
                parts.append(f"free bits {obj.free_bits:g}")
            if obj.recon_reduction == "mean":
                parts.append("recon mean (Keras)")
        if self.binarize:
            parts.append("binarized")
        if self.targets:
            parts.append(self.targets)
        if self.dataset != "mnist":
            parts.insert(0, self.dataset)
        return " ".join(parts)


ENTRY_FILES: tuple[str, ...] = entry_files(VAEConfig.TABLES)

# The objective's fields, which VAEConfig's constructor (and so replace and from_profile) takes by name.
OBJECTIVE_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(vae.Objective))


def _as_objective(value: Any) -> vae.Objective:
    if isinstance(value, vae.Objective):
        return value
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(OBJECTIVE_FIELDS))
        if unknown:
            raise ValueError(f"unknown objective field(s) {unknown}; valid: {', '.join(OBJECTIVE_FIELDS)}")
        return vae.Objective(**value)
    raise ValueError(f"objective must be an aecore.vae.Objective (or a dict of its fields: "
                     f"{', '.join(OBJECTIVE_FIELDS)}), got {value!r}")


def _canonical_objective(value: Any) -> vae.Objective:
    """The objective with plain floats for beta and free bits, so that equal configs write equal
    JSON (``beta=10`` and ``beta=10.0`` share a cache key)."""
    obj = _as_objective(value)
    return dataclasses.replace(obj, beta=float(obj.beta), free_bits=float(obj.free_bits))


def _objective_by_name(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with any objective field given by name folded into ``fields["objective"]``
    (which keeps its other fields)."""
    named = {k: fields.pop(k) for k in OBJECTIVE_FIELDS if k in fields}
    if named:
        fields["objective"] = dataclasses.replace(_as_objective(fields.get("objective", vae.Objective())), **named)
    return fields


_init = VAEConfig.__init__


@functools.wraps(_init)
def _init_with_objective_fields(self: VAEConfig, *args: Any, **fields: Any) -> None:
    _init(self, *args, **_objective_by_name(fields))


VAEConfig.__init__ = _init_with_objective_fields  # type: ignore[method-assign]


# --------------------------------------------------------------------------- data


def transform_targets(x: np.ndarray, targets: str | None, *, seed: int) -> np.ndarray:
    """Images as :attr:`VAEConfig.targets` asks: unchanged (None), clipped into
    [:data:`CLIP_EPS`, 1 - eps] or dequantised (``(255 x + u) / 256``, ``u ~ U[0, 1)`` drawn
    once from ``seed``; ``x`` must hold 8-bit levels k/255). float32, same shape."""
    if targets is None:
        return x
    if targets == "clipped":
        return np.clip(x, CLIP_EPS, 1.0 - CLIP_EPS).astype(np.float32)
    if targets == "dequantized":
        levels = np.rint(np.asarray(x, np.float64) * 255.0)
        u = np.random.default_rng(seed).random(x.shape)
        return ((levels + u) / 256.0).astype(np.float32)
    raise ValueError(f"unknown targets={targets!r}; valid: {', '.join(map(repr, TARGETS))}")


def _images(cfg: VAEConfig) -> tuple[np.ndarray, np.ndarray]:
    """Grey training images (:func:`aecore.runner.training_images`; a binarised run samples every
    step) and the test targets (:func:`aecore.runner.test_images`: one fixed Bernoulli sample if
    binarised), transformed as ``cfg.targets`` asks (the training noise drawn from the training
    subset's seed, the test noise from the test subset's)."""
    x_train, x_test = training_images(cfg), test_images(cfg)
    return (transform_targets(x_train, cfg.targets, seed=cfg.train_subset_seed),
            transform_targets(x_test, cfg.targets, seed=cfg.test_subset_seed + DEQUANTIZE_TEST_OFFSET))


def _build(cfg: VAEConfig):
    if cfg.model == "keras_example":
        from aecore import keras_vae

        model = keras_vae.KerasExampleVAE(latent_dim=2, seed=cfg.seed)
        model(np.zeros((1, 28, 28, 1), np.float32))
        return model
    return vae.build_vae(architecture=cfg.architecture, encoder_hidden=cfg.encoder_hidden,
                         decoder_hidden=cfg.decoder_hidden, latent_dim=cfg.latent_dim,
                         decoder=cfg.decoder, sigma=cfg.sigma, seed=cfg.seed)


# --------------------------------------------------------------------------- evaluation


# Test images of the mutual-information estimate: its cost grows with their square, and it
# cannot exceed log(MI_IMAGES) = 6.9 nats (a code that told every image apart would reach it). It
# separates collapsed codes (near 0) from informative ones, not informative ones from each other.
MI_IMAGES = 1000


def evaluate(model: Any, x_test: np.ndarray, *, seed: int = 0, iwae_k: int = 0,
             n_iwae: int = 1000) -> dict[str, Any]:
    """Test metrics of a trained VAE (ours or the Keras example), in nats per image.

    ``neg_elbo`` (= ``recon + kl``, one posterior sample per image), ``recon``, ``kl``,
    ``kl_per_dim`` (list, mean over images), ``active_units`` (Burda et al.),
    ``mse_per_pixel`` and ``psnr_db`` of the mean reconstruction through the posterior
    mean, ``mse_per_pixel_sampled`` of the mean reconstruction at one posterior sample per image
    (:func:`aecore.vae.reconstruct_sampled`), ``mutual_info`` (an estimate of I(x; z) on the
    first :data:`MI_IMAGES` test images, :func:`aecore.vae.mutual_information`), ``log_sigma``
    only for a decoder with a sigma (``model.obs.sigma != "none"``: the
    Gaussians; a Bernoulli or continuous Bernoulli decoder has none, and its model's unused
    ``log_sigma`` weight is not reported), and with ``iwae_k``: ``iwae_nll`` (minus the
    k-sample bound) and ``neg_elbo_iwae_subset`` (the -ELBO on the same first ``n_iwae``
    images, for a like-for-like gap).
    """
    t = vae.evaluate_terms(model, x_test, seed=seed)
    x_hat = vae.reconstruct(model, x_test)
    out: dict[str, Any] = {
        "n_test": int(x_test.shape[0]),
        "neg_elbo": float((t["recon"] + t["kl"]).mean()),
        "recon": float(t["recon"].mean()),
        "kl": float(t["kl"].mean()),
        "kl_per_dim": [float(v) for v in t["kl_per_dim"].mean(axis=0)],
        "active_units": vae.active_units(t["z_mean"]),
        "latent_dim": int(t["z_mean"].shape[1]),
        "mse_per_pixel": float(metrics.mse_per_pixel(x_test, x_hat).mean()),
        "psnr_db": float(metrics.psnr_db(x_test, x_hat).mean()),
        "mse_per_pixel_sampled": float(metrics.mse_per_pixel(x_test, vae.reconstruct_sampled(model, x_test, seed=seed)).mean()),
        "mutual_info": vae.mutual_information(*vae.posterior_stats(model, x_test[:MI_IMAGES]), seed=seed),
    }
    if model.obs.sigma != "none":
        out["log_sigma"] = float(np.asarray(model.log_sigma))
    if iwae_k:
        sub = x_test[:n_iwae]
        out["iwae_k"] = int(iwae_k)
        out["iwae_nll"] = float(-vae.iwae_bound(model, sub, k=iwae_k, seed=seed).mean())
        out["neg_elbo_iwae_subset"] = float((t["recon"] + t["kl"])[:sub.shape[0]].mean())
    return out


def _train_and_evaluate(cfg: VAEConfig, x_train: np.ndarray, x_test: np.ndarray, *,
                        progress: bool, prefix: str = "  ") -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], Any]:
    n_val = cfg.val_images
    if cfg.model == "keras_example":
        from aecore import keras_vae

        model, history = keras_vae.train(x_train, epochs=cfg.epochs, seed=cfg.seed, binarize=cfg.binarize,
                                         progress=progress, progress_prefix=prefix)
        steps = pd.DataFrame(columns=["step", "epoch", "beta", "loss", "recon", "kl"])
    else:
        model = _build(cfg)
        hist = vae.fit(model, x_train, objective=cfg.objective, x_val=x_test[:n_val] if n_val else None,
                       epochs=cfg.epochs, batch_size=cfg.batch_size, seed=cfg.seed,
                       learning_rate=cfg.learning_rate, binarize=cfg.binarize, progress=progress,
                       progress_prefix=prefix)
        history, steps = hist.epochs, hist.steps
    run_metrics = evaluate(model, x_test, seed=cfg.seed, iwae_k=cfg.iwae_k, n_iwae=cfg.n_iwae)
    run_metrics["train_seconds"] = float(history["seconds"].sum())
    run_metrics["effective_beta"] = cfg.objective.effective_beta()
    return history, steps, run_metrics, model


SCALAR_METRICS = ("neg_elbo", "recon", "kl", "active_units", "latent_dim", "mse_per_pixel", "psnr_db",
                  "mse_per_pixel_sampled", "mutual_info", "log_sigma", "iwae_nll", "neg_elbo_iwae_subset",
                  "train_seconds", "effective_beta")
