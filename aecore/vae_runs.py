"""VAE experiments as values: one frozen :class:`VAEConfig` -> one cached :class:`VAEResult`.

The same contract as :mod:`aecore.experiments` (and the same cache directory): entries
keyed by the SHA-256 of the canonical config JSON plus ``aecore.__version__`` and the code
fingerprint (and :data:`aecore.vae.FIT_PROGRAM` for the runs :func:`aecore.vae.fit` trains), written
atomically (temp dir + rename, manifest last), verified on read (checksums, config, data
fingerprint), and a corrupt entry is deleted and retrained with a :class:`CacheWarning`.
A run that diverges raises :class:`aecore.training.TrainingDivergedError` and writes nothing.

``model="aecore"`` trains :func:`aecore.vae.build_vae` with :func:`aecore.vae.fit`;
``model="keras_example"`` trains keras-io's example (:mod:`aecore.keras_vae`, latent 2)
with its own loss and ``fit``. Both are evaluated by the same code.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

import aecore
from aecore import data, metrics, vae
from aecore.experiments import (CacheWarning, _EntryError, _write_json, cache_dir, check_entry_content,
                                discard_entry, read_csv_exact, sweep_rows, verify_manifest,
                                write_entry_atomically)
from aecore.profiles import Profile, get_profile
from aecore.fingerprint import code_fingerprint, stack_versions
from aecore.validate import MAX_SEED, check_int

ENTRY_FILES: tuple[str, ...] = ("config.json", "metrics.json", "history.csv", "steps.csv", "model.weights.h5")
MODELS: tuple[str, ...] = ("aecore", "keras_example")


@dataclasses.dataclass(frozen=True)
class VAEConfig:
    """Everything that determines a VAE run.

    Attributes:
      dataset: ``"mnist"`` or ``"fashion_mnist"``.
      model: ``"aecore"`` or ``"keras_example"`` (then only latent 2, Bernoulli, beta 1).
      architecture, encoder_hidden, decoder_hidden, latent_dim, decoder, sigma: see
        :func:`aecore.vae.build_vae`.
      beta, schedule, warmup_epochs, n_cycles, free_bits, recon_reduction: see
        :class:`aecore.vae.Objective`.
      binarize: None (grey targets) or ``"dynamic"`` (train on a fresh Bernoulli sample
        every step, test on one fixed sample).
      n_train, n_test, epochs, batch_size, learning_rate, seed, data_seed: as usual.
      n_val: test images scored after every epoch.
      iwae_k: samples of the importance-weighted bound (0: not computed); on the first
        ``n_iwae`` test images.
    """

    dataset: str = "mnist"
    model: str = "aecore"
    architecture: str = "mlp"
    encoder_hidden: tuple[int, ...] = (512, 256)
    decoder_hidden: tuple[int, ...] | None = None
    latent_dim: int = 16
    decoder: str = "bernoulli"
    sigma: float = 1.0
    beta: float = 1.0
    schedule: str = "constant"
    warmup_epochs: int = 0
    n_cycles: int = 4
    free_bits: float = 0.0
    recon_reduction: str = "sum"
    binarize: str | None = None
    n_train: int = 5000
    n_test: int = 10000
    epochs: int = 20
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0
    data_seed: int = 0
    n_val: int = 1000
    iwae_k: int = 0
    n_iwae: int = 1000

    def __post_init__(self) -> None:
        put = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731  (frozen: canonicalise once)
        put("dataset", data._canonical_name(self.dataset))
        if self.model not in MODELS:
            raise ValueError(f"unknown VAE model {self.model!r}; valid: {', '.join(MODELS)}")
        if self.architecture not in vae.ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.architecture!r}; valid: {', '.join(vae.ARCHITECTURES)}")
        put("decoder", vae.get_decoder(self.decoder).name)
        put("encoder_hidden", tuple(check_int(u, "encoder_hidden width", minimum=1) for u in self.encoder_hidden))
        if self.decoder_hidden is not None:
            put("decoder_hidden", tuple(check_int(u, "decoder_hidden width", minimum=1) for u in self.decoder_hidden))
        put("latent_dim", check_int(self.latent_dim, "latent_dim", minimum=1))
        if not (isinstance(self.sigma, (int, float)) and math.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f"sigma must be a positive number, got {self.sigma!r}")
        put("sigma", float(self.sigma))
        self.objective()  # validates beta, schedule, free bits, reduction
        put("beta", float(self.beta))
        put("free_bits", float(self.free_bits))
        if self.binarize not in (None, "dynamic"):
            raise ValueError(f"unknown binarize={self.binarize!r}; valid: None, 'dynamic'")
        for name in ("n_train", "n_test", "epochs", "batch_size", "n_iwae"):
            put(name, check_int(getattr(self, name), name, minimum=1))
        for name in ("seed", "data_seed"):
            put(name, check_int(getattr(self, name), name, minimum=0, maximum=MAX_SEED))
        for name in ("n_val", "iwae_k", "warmup_epochs", "n_cycles"):
            put(name, check_int(getattr(self, name), name, minimum=0))
        if not (isinstance(self.learning_rate, (int, float)) and math.isfinite(self.learning_rate)
                and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate!r}")
        put("learning_rate", float(self.learning_rate))
        if self.model == "keras_example":
            fixed = {"latent_dim": 2, "decoder": "bernoulli", "beta": 1.0, "schedule": "constant",
                     "free_bits": 0.0, "recon_reduction": "sum", "batch_size": 128, "learning_rate": 1e-3}
            wrong = {k: getattr(self, k) for k, v in fixed.items() if getattr(self, k) != v}
            if wrong:
                raise ValueError(f"the keras example is fixed at {fixed}; this config changes {wrong}")

    @classmethod
    def from_profile(cls, profile: Profile | str | None, *, epoch_factor: float = 1.0, **fields: Any) -> "VAEConfig":
        """Sizes (and ``n_val``) from a profile (``AECORE_PROFILE`` wins);
        ``epochs = round(profile.epochs * epoch_factor)``."""
        prof = profile if isinstance(profile, Profile) else get_profile(profile)
        sizes = {"n_train": prof.n_train, "n_test": prof.n_test, "epochs": max(1, round(prof.epochs * epoch_factor)),
                 "batch_size": prof.batch_size, "n_val": prof.n_val}
        return cls(**{**sizes, **fields})

    @property
    def val_images(self) -> int:
        """How many test images are scored after every epoch: the first ``min(n_val, n_test)``."""
        return min(self.n_val, self.n_test)

    def replace(self, **changes: Any) -> "VAEConfig":
        return dataclasses.replace(self, **changes)

    def objective(self) -> vae.Objective:
        return vae.Objective(beta=self.beta, schedule=self.schedule, warmup_epochs=self.warmup_epochs,
                             n_cycles=self.n_cycles, free_bits=self.free_bits,
                             recon_reduction=self.recon_reduction)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["encoder_hidden"] = list(self.encoder_hidden)
        d["decoder_hidden"] = None if self.decoder_hidden is None else list(self.decoder_hidden)
        return d

    def cache_key(self) -> str:
        payload = json.dumps(_key_fields(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

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
            if self.beta != 1.0:
                parts.append(f"beta={self.beta:g}")
            if self.schedule == "linear":
                parts.append(f"warm-up {self.warmup_epochs} ep")
            if self.schedule == "cyclical":
                parts.append(f"cyclical x{self.n_cycles}")
            if self.free_bits:
                parts.append(f"free bits {self.free_bits:g}")
            if self.recon_reduction == "mean":
                parts.append("recon mean (Keras)")
        if self.binarize:
            parts.append("binarized")
        if self.dataset != "mnist":
            parts.insert(0, self.dataset)
        return " ".join(parts)

    def label(self) -> str:
        return f"{self.setting_label()} seed {self.seed}"


@dataclasses.dataclass(frozen=True, eq=False)
class VAEResult:
    """A run: its config, per-epoch ``history`` and per-step ``steps`` logs (nats per image),
    test ``metrics``, the trained ``model`` (None when read from the cache by
    ``run(..., load_model=False)``), and whether it came ``from_cache``."""

    config: VAEConfig
    history: pd.DataFrame
    steps: pd.DataFrame
    metrics: dict[str, Any]
    model: Any
    from_cache: bool
    path: Path | None = None


# --------------------------------------------------------------------------- data


def _images(cfg: VAEConfig) -> tuple[np.ndarray, np.ndarray]:
    """Grey training images and the test targets (one fixed Bernoulli sample if binarised)."""
    x_train = data.load(cfg.dataset, n_train=cfg.n_train, n_test=1, seed=cfg.data_seed).train.x
    x_test = data.load(cfg.dataset, n_train=1, n_test=cfg.n_test, seed=cfg.data_seed,
                       binarize=cfg.binarize).test.x
    return x_train, x_test


def _fingerprint(x_train: np.ndarray, x_test: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x_train).tobytes())
    h.update(np.ascontiguousarray(x_test).tobytes())
    return h.hexdigest()


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


def evaluate(model: Any, x_test: np.ndarray, *, seed: int = 0, iwae_k: int = 0,
             n_iwae: int = 1000) -> dict[str, Any]:
    """Test metrics of a trained VAE (ours or the Keras example), in nats per image.

    ``neg_elbo`` (= ``recon + kl``, one posterior sample per image), ``recon``, ``kl``,
    ``kl_per_dim`` (list, mean over images), ``active_units`` (Burda et al.),
    ``mse_per_pixel`` and ``psnr_db`` of the mean reconstruction through the posterior
    mean, ``log_sigma`` only for a decoder with a sigma (``model.obs.sigma != "none"``: the
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
                        progress: bool) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], Any]:
    n_val = cfg.val_images
    if cfg.model == "keras_example":
        from aecore import keras_vae

        model, history = keras_vae.train(x_train, epochs=cfg.epochs, seed=cfg.seed, binarize=cfg.binarize,
                                         progress=progress, progress_prefix="  ")
        steps = pd.DataFrame(columns=["step", "epoch", "beta", "loss", "recon", "kl"])
    else:
        model = _build(cfg)
        hist = vae.fit(model, x_train, objective=cfg.objective(), x_val=x_test[:n_val] if n_val else None,
                       epochs=cfg.epochs, batch_size=cfg.batch_size, seed=cfg.seed,
                       learning_rate=cfg.learning_rate, binarize=cfg.binarize, progress=progress,
                       progress_prefix="  ")
        history, steps = hist.epochs, hist.steps
    run_metrics = evaluate(model, x_test, seed=cfg.seed, iwae_k=cfg.iwae_k, n_iwae=cfg.n_iwae)
    run_metrics["train_seconds"] = float(history["seconds"].sum())
    run_metrics["effective_beta"] = cfg.objective().effective_beta()
    return history, steps, run_metrics, model


# --------------------------------------------------------------------------- cache


def entry_path(cfg: VAEConfig, root: Path | None = None) -> Path:
    slug = "-".join(["vae", cfg.dataset, cfg.model, cfg.decoder, f"s{cfg.seed}"])
    return (root if root is not None else cache_dir()) / f"{slug}-{cfg.cache_key()[:20]}"


def _key_fields(cfg: VAEConfig) -> dict[str, Any]:
    """What a cache entry is keyed by: the config, the aecore version and, for the runs
    :func:`aecore.vae.fit` trains (not the Keras example's own ``fit``), its program version."""
    out = {"vae_config": cfg.to_dict(), "aecore_version": aecore.__version__, "code": code_fingerprint()}
    if cfg.model != "keras_example":
        out["vae_fit_program"] = vae.FIT_PROGRAM
    return out


def _stored_config(cfg: VAEConfig, fingerprint: str) -> dict[str, Any]:
    return {**_key_fields(cfg),
            "cache_key": cfg.cache_key(), "data_fingerprint": fingerprint}


def _write_entry(cfg: VAEConfig, history: pd.DataFrame, steps: pd.DataFrame, run_metrics: dict[str, Any],
                 model: Any, root: Path, fingerprint: str) -> Path:
    def write_files(folder: Path) -> None:
        _write_json(folder / "config.json", {**_stored_config(cfg, fingerprint), "trained_with": stack_versions()})
        _write_json(folder / "metrics.json", run_metrics)
        history.to_csv(folder / "history.csv", index=False)
        steps.to_csv(folder / "steps.csv", index=False)
        model.save_weights(folder / "model.weights.h5")

    return write_entry_atomically(root, entry_path(cfg, root), write_files)


def _without_unused_sigma(cfg: VAEConfig, run_metrics: dict[str, Any]) -> dict[str, Any]:
    """``run_metrics`` without ``log_sigma`` when ``cfg``'s decoder has no sigma. Entries written
    before :func:`evaluate` left it out hold the unused config ``sigma`` there (e.g. 0.7071 for a
    Bernoulli decoder); this drops it on reading, so old and new entries read the same."""
    if vae.get_decoder(cfg.decoder).sigma == "none":
        return {k: v for k, v in run_metrics.items() if k != "log_sigma"}
    return run_metrics


def _read_entry(cfg: VAEConfig, path: Path, fingerprint: str, *, load_model: bool = True):
    verify_manifest(path, ENTRY_FILES)  # every file's checksum, whether or not the model is loaded
    try:
        stored = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (ValueError, OSError) as err:
        raise _EntryError(f"config.json is unreadable ({err})") from None
    if not isinstance(stored, dict) or {k: v for k, v in stored.items() if k != "trained_with"} != _stored_config(
            cfg, fingerprint):
        raise _EntryError("config.json holds a different config or was trained on other images "
                          f"(is {data.ENV_VAR} set the same way?)")
    try:
        run_metrics = _without_unused_sigma(cfg, json.loads((path / "metrics.json").read_text(encoding="utf-8")))
        history = read_csv_exact(path / "history.csv")
        steps = read_csv_exact(path / "steps.csv")
        model = None
        if load_model:
            model = _build(cfg)
            model.load_weights(path / "model.weights.h5")
    except Exception as err:
        raise _EntryError(f"could not load it ({type(err).__name__}: {err})") from None
    check_entry_content(run_metrics, history, epochs=cfg.epochs, history_columns=("epoch", "loss", "seconds"),
                        metrics_required=("neg_elbo", "recon", "kl", "active_units", "latent_dim", "mse_per_pixel",
                                          "train_seconds"))
    return history, steps, run_metrics, model


def run(cfg: VAEConfig, *, cache: bool = True, progress: bool = True, load_model: bool = True,
        _in_sweep: bool = False) -> VAEResult:
    """Runs one VAE experiment, or reads it from the cache (see the module docstring).

    ``load_model=False`` skips building the model of an entry read from the cache, as in
    :func:`aecore.experiments.run` (the entry is verified all the same; a run that trains
    always returns its model). In a sweep (``_in_sweep``), a cached read prints nothing and a
    run retrained after an unusable entry names itself, as :func:`aecore.experiments.sweep` does."""
    if not isinstance(cfg, VAEConfig):
        raise TypeError(f"run() needs a vae_runs.VAEConfig, got {type(cfg).__name__}")
    x_train, x_test = _images(cfg)
    fingerprint = _fingerprint(x_train, x_test)
    root = cache_dir()
    path = entry_path(cfg, root)
    retraining = False
    if cache and path.exists():
        try:
            history, steps, run_metrics, model = _read_entry(cfg, path, fingerprint, load_model=load_model)
            if progress and not _in_sweep:
                print(f"  from the cache ({path.name})", flush=True)
            return VAEResult(cfg, history, steps, run_metrics, model, True, path)
        except _EntryError as err:
            discard_entry(path, err)
            retraining = True
    if progress:
        name = f"{cfg.label()}: " if _in_sweep and retraining else "  "  # a sweep's header names only runs it trains
        print(f"{name}training {cfg.epochs} epoch(s) on {cfg.n_train:,} images", flush=True)
    history, steps, run_metrics, model = _train_and_evaluate(cfg, x_train, x_test, progress=progress)
    if progress:
        print(f"  done in {run_metrics['train_seconds']:.1f} s: test -ELBO {run_metrics['neg_elbo']:.1f} "
              f"nats/image (recon {run_metrics['recon']:.1f}, KL {run_metrics['kl']:.2f}), active units "
              f"{run_metrics['active_units']}/{run_metrics['latent_dim']}", flush=True)
    written = None
    if cache:
        try:
            written = _write_entry(cfg, history, steps, run_metrics, model, root, fingerprint)
        except OSError as err:
            import warnings

            warnings.warn(f"aecore cache: could not write entry {path} ({err}); the result is not cached",
                          CacheWarning, stacklevel=2)
    return VAEResult(cfg, history, steps, run_metrics, model, False, written)


SCALAR_METRICS = ("neg_elbo", "recon", "kl", "active_units", "latent_dim", "mse_per_pixel", "psnr_db",
                  "log_sigma", "iwae_nll", "neg_elbo_iwae_subset", "train_seconds", "effective_beta")


def _sweep_row(cfg: VAEConfig, *, cache: bool, progress: bool) -> dict[str, Any]:
    """One row of :func:`sweep`'s table."""
    res = run(cfg, cache=cache, progress=progress, load_model=False, _in_sweep=True)  # needs only the metrics
    row = cfg.to_dict()
    row["encoder_hidden"] = "-".join(map(str, cfg.encoder_hidden))
    row["decoder_hidden"] = None if cfg.decoder_hidden is None else "-".join(map(str, cfg.decoder_hidden))
    row.update({"setting": cfg.setting_label(), "label": cfg.label()})
    row.update({k: res.metrics.get(k, np.nan) for k in SCALAR_METRICS})
    row["kl_per_dim"] = json.dumps(res.metrics["kl_per_dim"])
    row["from_cache"] = res.from_cache
    return row


def sweep(configs: Iterable[VAEConfig], *, cache: bool = True, progress: bool = True) -> pd.DataFrame:
    """Runs (or reads) every config; one row per run: config fields, ``setting``, ``label``,
    the scalar metrics (NaN where a run has none: ``log_sigma`` for a decoder without a sigma,
    the IWAE columns without ``iwae_k``), ``kl_per_dim`` (JSON text) and ``from_cache``."""
    root = cache_dir()
    return pd.DataFrame(sweep_rows(functools.partial(_sweep_row, cache=cache, progress=progress), list(configs),
                                   cached=lambda cfg: entry_path(cfg, root).exists(), cache=cache, progress=progress))


def runs(configs: Iterable[VAEConfig], *, seeds: Sequence[int]) -> list[VAEConfig]:
    """Every config once per seed, seeds innermost."""
    return [cfg.replace(seed=int(s)) for cfg in configs for s in seeds]


def results(configs: Iterable[VAEConfig], **kwargs: Any) -> list[VAEResult]:
    """``run`` each config (cached), returning the full results (models, step logs)."""
    return [run(cfg, **kwargs) for cfg in configs]
