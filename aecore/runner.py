"""One runner for every experiment of the book: ``run(config)`` -> a cached :class:`Result`.

A config is a frozen value that says everything that determines a run. The book has two kinds,
:class:`aecore.experiments.Config` (autoencoders) and :class:`aecore.vae_runs.VAEConfig`
(VAEs); both go through the same :func:`run`, :func:`sweep` and cache (:mod:`aecore.cache`).
What a kind supplies (the :class:`RunKind` protocol): how to train and evaluate it, how to build
its untrained model, what its entry holds, and how its row of a sweep's table reads.

``run(cfg)`` trains, evaluates and stores a run; the next ``run(cfg)`` with an equal config
and the same code reads it back. ``sweep(configs)`` runs many, in order, and returns one row
per run.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Protocol, Sequence

import numpy as np
import pandas as pd

import aecore
from aecore import cache as store
from aecore import data
from aecore.fingerprint import code_fingerprint
from aecore.profiles import Profile, get_profile
from aecore.validate import MAX_SEED, check_int


class RunKind(Protocol):
    """What a config class supplies to the runner (see :class:`aecore.experiments.Config`)."""

    KIND: ClassVar[str]  # "autoencoder", "vae": part of the cache key
    TABLES: ClassVar[tuple[str, ...]]  # CSV tables an entry holds, "history" first
    REQUIRED_METRICS: ClassVar[tuple[str, ...]]  # what every entry's metrics.json holds
    HISTORY_COLUMNS: ClassVar[tuple[str, ...]]  # what every entry's history.csv holds
    SUMMARY: ClassVar[str]  # the line printed after training: str.format on the run's metrics
    epochs: int
    n_train: int
    seed: int

    def label(self) -> str: ...
    def entry_slug(self) -> str: ...
    def key_fields(self) -> dict[str, Any]: ...
    def data_fingerprint(self) -> str: ...
    def build_model(self) -> Any: ...
    def train(self, *, progress: bool, prefix: str) -> tuple[dict[str, Any], dict[str, pd.DataFrame], Any]: ...
    def history_attrs(self) -> dict[str, Any]: ...
    def table_row(self, result: "Result") -> dict[str, Any]: ...


class RunConfig:
    """What every kind's config shares (a base of the frozen dataclasses
    :class:`aecore.experiments.Config` and :class:`aecore.vae_runs.VAEConfig`): sizes from a
    profile, copies with changes, the validation size and the label with the seed."""

    @classmethod
    def from_profile(cls, profile: Profile | str | None, *, epoch_factor: float = 1.0, **fields: Any):
        """A config with ``n_train``, ``n_test``, ``epochs``, ``batch_size`` and ``n_val`` from a profile.

        Args:
          profile: a :class:`~aecore.profiles.Profile`, or a name resolved with
            ``get_profile`` (so ``AECORE_PROFILE`` overrides it).
          epoch_factor: ``epochs = max(1, round(profile.epochs * epoch_factor))``.
          **fields: the other fields (``dataset``, ``model``, ``seed``, ...); they win.
        """
        prof = profile if isinstance(profile, Profile) else get_profile(profile)
        sizes = {"n_train": prof.n_train, "n_test": prof.n_test, "epochs": max(1, round(prof.epochs * epoch_factor)),
                 "batch_size": prof.batch_size, "n_val": prof.n_val}
        return cls(**{**sizes, **fields})

    @property
    def train_subset_seed(self) -> int:
        """The seed of the run's training images (which subset is drawn): ``data_seed`` when set,
        else the run's ``seed`` (the default), so that the seeds of a setting differ in their
        training images as well as in their initial weights and an interval over seeds covers
        both (the verdict protocol, :mod:`aecore.verdicts`). Arms compared at one seed train on
        the same images. Where the whole split is used (offline MNIST's 5,000 training images in
        the ``full`` profile) every seed trains on the same images."""
        return self.seed if self.data_seed is None else self.data_seed

    @property
    def test_subset_seed(self) -> int:
        """The seed of the run's test images and of their fixed Bernoulli sample when binarised:
        ``data_seed`` when set, else 0, so that every seed of a setting is scored on the same
        test images."""
        return 0 if self.data_seed is None else self.data_seed

    @property
    def val_images(self) -> int:
        """How many test images are scored after every epoch: the first ``min(n_val, n_test)``."""
        return min(self.n_val, self.n_test)

    def _check_sizes_and_seeds(self) -> None:
        """Validates (and makes plain ints of) the fields every kind shares: ``n_train``,
        ``n_test``, ``epochs``, ``batch_size`` (>= 1), ``seed`` and ``data_seed`` (0 to
        :data:`~aecore.validate.MAX_SEED`; ``data_seed`` may be None) and ``n_val`` (>= 0)."""
        checked = {name: check_int(getattr(self, name), name, minimum=1)
                   for name in ("n_train", "n_test", "epochs", "batch_size")}
        checked["seed"] = check_int(self.seed, "seed", minimum=0, maximum=MAX_SEED)
        if self.data_seed is not None:
            checked["data_seed"] = check_int(self.data_seed, "data_seed", minimum=0, maximum=MAX_SEED)
        checked["n_val"] = check_int(self.n_val, "n_val", minimum=0)
        for name, value in checked.items():
            object.__setattr__(self, name, value)  # the configs are frozen: canonicalised once

    def replace(self, **changes: Any):
        """A copy with some fields changed (validated like a new config)."""
        return dataclasses.replace(self, **changes)

    def label(self) -> str:
        """Short human label: the setting and the seed, e.g. ``"mnist conv_ae bce seed 1"``."""
        return f"{self.setting_label()} seed {self.seed}"

    def cache_key(self) -> str:
        """SHA-256 (hex) of the kind's ``key_fields()`` (:func:`cache_key`)."""
        return cache_key(self)


@dataclasses.dataclass(frozen=True, eq=False)
class Result:
    """What a run produced.

    Attributes:
      config: the run's config.
      history: one row per epoch (``epoch``, ``loss``, ``seconds`` and the kind's columns;
        units in ``history.attrs["unit"]`` for autoencoders, nats per image for VAEs).
      metrics: the test metrics and the run's extras (see the kind's ``train``).
      model: the trained model; None when read from the cache by ``run(..., load_model=False)``.
      from_cache: True when read from the disk cache (no training happened).
      path: the cache entry, or None when the run was not cached.
      steps: one row per optimiser step (VAEs: ``beta``, ``loss``, ``recon``, ``kl``); None
        for kinds that log no steps.
    """

    config: Any
    history: pd.DataFrame
    metrics: dict[str, Any]
    model: Any
    from_cache: bool
    path: Path | None = None
    steps: pd.DataFrame | None = None

    def initial_model(self) -> Any:
        """The run's model before training: built from the config's seed, as :func:`run` builds it."""
        return self.config.build_model()

    def reconstruct(self, x: Any) -> Any:
        """``x_hat`` in [0, 1] for images ``[N, 28, 28, 1]``: the mean of the run's likelihood."""
        if self.model is None:
            raise ValueError(f"this result of {self.config.label()} was read from the cache without its "
                             f"model (run(..., load_model=False)); call run(cfg) to load it")
        return self.config.reconstruct(self.model, x)


# --------------------------------------------------------------------------- images


def training_key(cfg: Any, binarize: str | None = None) -> tuple:
    """Identifies a run's training images: dataset, size, subset seed, how they are binarised at
    load time and ``$AECORE_DATA_DIR`` (offline and online differ)."""
    return (cfg.dataset, cfg.n_train, cfg.train_subset_seed, binarize, os.environ.get(data.ENV_VAR, "").strip())


def training_images(cfg: Any, binarize: str | None = None) -> np.ndarray:
    """A run's training images ``[n_train, 28, 28, 1]``, float32 in [0, 1]: the subset of
    :attr:`RunConfig.train_subset_seed`, grey (or thresholded with ``binarize="threshold"``; a
    dynamically binarised run trains on grey images and samples every step). Read-only and
    memoised: every seed and arm of a setting that share a subset share one array."""
    return training_images_of(training_key(cfg, binarize))


@functools.lru_cache(maxsize=16)
def training_images_of(key: tuple) -> np.ndarray:
    """The images of a :func:`training_key` (memoised; the key's last item only keys the memo)."""
    dataset, n_train, seed, binarize, _data_dir = key
    x = data.load(dataset, n_train=n_train, n_test=1, seed=seed, binarize=binarize).train.x
    x.flags.writeable = False
    return x


def test_images(cfg: Any) -> np.ndarray:
    """A run's test images ``[n_test, 28, 28, 1]``: the subset of :attr:`RunConfig.test_subset_seed`
    (the same for every seed of a setting), binarised as ``cfg.binarize`` says (for
    ``"dynamic"``, one fixed Bernoulli sample per pixel)."""
    return data.load(cfg.dataset, n_train=1, n_test=cfg.n_test, seed=cfg.test_subset_seed,
                     binarize=cfg.binarize).test.x


def cache_key(cfg: RunKind) -> str:
    """SHA-256 (hex) of the canonical JSON of ``cfg.key_fields()``: the config, its kind,
    ``aecore.__version__`` and the code fingerprint (:mod:`aecore.fingerprint`)."""
    payload = json.dumps(cfg.key_fields(), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def base_key_fields(cfg: Any) -> dict[str, Any]:
    """The key fields every kind shares: kind, config, aecore version, code fingerprint."""
    return {"kind": cfg.KIND, "config": cfg.to_dict(), "aecore_version": aecore.__version__,
            "code": code_fingerprint()}


def entry_path(cfg: RunKind, root: Path | None = None) -> Path:
    """Where the cache entry of ``cfg`` lives (whether or not it exists)."""
    return (root if root is not None else store.cache_dir()) / f"{cfg.entry_slug()}-{cache_key(cfg)[:20]}"


def _stored_config(cfg: RunKind, data_fingerprint: str) -> dict[str, Any]:
    """What ``config.json`` of ``cfg``'s entry holds (the stack it was trained with aside)."""
    return {**cfg.key_fields(), "cache_key": cache_key(cfg), "data_fingerprint": data_fingerprint}


def _check_kind(cfg: Any) -> None:
    if not (hasattr(type(cfg), "KIND") and callable(getattr(cfg, "train", None))):
        raise TypeError(f"run() needs an experiment config (aecore.experiments.Config or "
                        f"aecore.vae_runs.VAEConfig), got {type(cfg).__name__}")


def run(cfg: RunKind, *, cache: bool = True, progress: bool = True, load_model: bool = True,
        _in_sweep: bool = False) -> Result:
    """Runs one experiment, or reads it from the disk cache.

    Args:
      cfg: the experiment (any :class:`RunKind`).
      cache: read an existing entry and write a new one; False always trains and writes
        nothing.
      progress: print what is run, one line per epoch, and a summary line.
      load_model: False skips building the model of an entry read from the cache, for callers
        that need only its history and metrics (``Result.model`` is then None; the entry is
        verified all the same). A run that trains always returns its model.

    Returns:
      A :class:`Result`; ``from_cache`` says whether training was skipped.

    Raises:
      TypeError: ``cfg`` is not an experiment config.
      aecore.data.DataError: the data cannot give the images the config asks for.
      aecore.training.TrainingDivergedError: the loss became NaN or infinite (nothing is cached).
    """
    use_cache = cache
    _check_kind(cfg)
    root = store.cache_dir()
    path = entry_path(cfg, root)
    if use_cache:
        try:
            key = store.signing_key(root)
        except store.CacheKeyError as err:  # entries can be neither checked nor signed: train, cache nothing
            store.warn(f"aecore cache: {err}; training without the cache")
            use_cache = False
    fingerprint = cfg.data_fingerprint() if use_cache else ""
    retraining = False
    if use_cache and path.exists():
        try:
            run_metrics, frames, model = store.read_entry(
                path, key=key, stored_config=_stored_config(cfg, fingerprint), tables=cfg.TABLES, epochs=cfg.epochs,
                metrics_required=cfg.REQUIRED_METRICS, history_columns=cfg.HISTORY_COLUMNS,
                build_model=cfg.build_model if load_model else None)
            frames["history"].attrs.update(cfg.history_attrs())
            if progress and not _in_sweep:  # a sweep's cached reads stay quiet: its table says which
                print(f"{cfg.label()}: from the cache ({path.name})", flush=True)
            return Result(cfg, frames["history"], run_metrics, model, True, path, frames.get("steps"))
        except store.EntryError as err:
            store.discard_entry(path, err)
            retraining = True

    if progress and (not _in_sweep or retraining):  # in a sweep, the header names only runs it trains
        print(f"{cfg.label()}: training {cfg.epochs} epoch(s) on {cfg.n_train:,} images", flush=True)
    run_metrics, frames, model = cfg.train(progress=progress, prefix="  ")
    if progress:
        print(f"  done in {run_metrics['train_seconds']:.1f} s: {cfg.SUMMARY.format_map(run_metrics)}", flush=True)
    written = None
    if use_cache:
        try:
            written = store.write_entry(root, path, stored_config=_stored_config(cfg, fingerprint),
                                        run_metrics=run_metrics, tables=frames, model=model)
        except OSError as err:  # a full or read-only disk should not lose the trained model
            store.warn(f"aecore cache: could not write entry {path} ({err}); the result is not cached")
    return Result(cfg, frames["history"], run_metrics, model, False, written, frames.get("steps"))


def _sweep_row(cfg: RunKind, *, cache: bool, progress: bool) -> dict[str, Any]:
    """One row of :func:`sweep`'s table: ``run(cfg)`` (metrics only) as the kind lays it out."""
    result = run(cfg, cache=cache, progress=progress, load_model=False, _in_sweep=True)
    row = cfg.table_row(result)
    row["from_cache"] = result.from_cache
    return row


def sweep_rows(row: Callable[[Any], dict], configs: Sequence[Any], *, cached: Callable[[Any], bool], cache: bool,
               progress: bool) -> list[dict]:
    """The rows of a sweep's table, one per config in order: ``row(config)`` once per distinct
    config, one after another in this process, each repeat a copy of its first row marked as
    read from the cache, as a second ``run`` would have been (when ``cache`` is on). With
    ``progress``, each run that will train (``cached(config)`` false, or the cache off) is
    announced as ``run i/n: label`` first."""
    unique = list(dict.fromkeys(configs))
    by_config = {}
    for i, cfg in enumerate(unique):
        if progress and not (cache and cached(cfg)):
            print(f"run {i + 1}/{len(unique)}: {cfg.label()}", flush=True)
        by_config[cfg] = row(cfg)
    table, seen = [], set()
    for cfg in configs:
        one = dict(by_config[cfg])
        if cfg in seen:
            one["from_cache"] = cache
        seen.add(cfg)
        table.append(one)
    return table


def sweep(configs: Iterable[RunKind], *, cache: bool = True, progress: bool = True) -> pd.DataFrame:
    """Runs (or reads from the cache) every config; returns a tidy table.

    Args:
      configs: the experiments (of one kind, or mixed: each row is laid out by its kind).
      cache: as in :func:`run`.
      progress: print ``"run 3/12: mnist conv_ae bce seed 1"`` before each run that trains,
        then its epoch lines. Runs read from the cache print nothing (the table's
        ``from_cache`` says which they were); one whose entry is unusable warns, names itself
        and retrains with its epoch lines.

    Returns:
      One row per config, in order: the kind's columns (config fields, ``label``,
      ``setting``, metrics) and ``from_cache``.
    """
    configs = list(configs)
    for cfg in configs:
        _check_kind(cfg)
    root = store.cache_dir()
    return pd.DataFrame(sweep_rows(functools.partial(_sweep_row, cache=cache, progress=progress), configs,
                                   cached=lambda cfg: entry_path(cfg, root).exists(), cache=cache, progress=progress))


def runs(configs: Iterable[Any], *, seeds: Sequence[int]) -> list[Any]:
    """Every config once per seed, seeds innermost."""
    return [cfg.replace(seed=int(s)) for cfg in configs for s in seeds]


def results(configs: Iterable[Any], **kwargs: Any) -> list[Result]:
    """``run`` each config (cached), returning the full results (models, step logs)."""
    return [run(cfg, **kwargs) for cfg in configs]
