"""Experiments as values: one frozen :class:`Config` -> one cached :class:`Result`.

``run(cfg)`` loads the data, builds the model, trains it, evaluates it on held-out test
images and stores everything on disk; the next ``run(cfg)`` with an equal config (and the
same code: see :mod:`aecore.fingerprint`) reads it back in about a second. ``sweep(configs)`` runs many
and returns a tidy table, one row per run.

The cache
---------
Location: ``$AECORE_CACHE_DIR`` if set; else ``<repo>/.aecore_cache`` when ``aecore`` is
imported from a source checkout (``pyproject.toml`` beside the package); else
``~/.cache/aecore``. One directory per run, named ``<readable slug>-<key prefix>``, where
the key is the SHA-256 of the canonical JSON of the full config, the aecore version and the
fingerprint of the code that computes a run (so an entry trained by older code is never served).
Each entry holds ``config.json``, ``metrics.json``, ``history.csv``, ``model.weights.h5``
and ``manifest.json`` (the SHA-256 of each of the other four).

- Writes are atomic: the entry is written into a hidden temporary directory
  (``.tmp-aecore-*``, with a marker file) in the cache directory and renamed into place only
  when complete, so an interrupted run leaves no entry; only such marked folders are ever
  cleaned up.
- Reads are verified: every checksum in the manifest, and ``config.json`` must equal the
  requested config exactly, and the content must have the shape a run writes. A corrupt,
  mismatched or unreadable entry raises a :class:`CacheWarning` naming the entry and the
  problem, is deleted where it can be (the warning says whether), and the run is retrained.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

import aecore
from aecore import collapse, data, losses, metrics, models, training
from aecore.profiles import PROFILES, Profile, get_profile
from aecore.fingerprint import code_fingerprint, stack_versions
from aecore.validate import MAX_SEED, check_int

CACHE_ENV_VAR = "AECORE_CACHE_DIR"
ENTRY_FILES: tuple[str, ...] = ("config.json", "metrics.json", "history.csv", "model.weights.h5")
MANIFEST = "manifest.json"
_TMP_PREFIX = ".tmp-aecore-"
_TMP_MARKER = ".aecore-tmp"  # written first into every temp dir aecore makes: only those are ever removed
_STALE_TMP_SECONDS = 6 * 3600  # a temp dir this old belongs to a killed process
_K_PCA = 16
_FULL = PROFILES["full"]
_JSON_SCALARS = (str, int, float, bool, type(None))


class CacheWarning(UserWarning):
    """A cache entry could not be used (corrupt, mismatched) or written."""


class _EntryError(Exception):
    """Internal: why a cache entry is unusable."""


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


@dataclasses.dataclass(frozen=True)
class Config:
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
      learning_rate: Adam step size.
      reduction: training-loss scale, ``"per_pixel"`` (nats per pixel) or ``"per_image"``.
      model_kwargs: builder hyperparameters as sorted ``(name, value)`` pairs (a dict is
        accepted and converted), e.g. ``{"activation": "relu"}`` for ``dense_ae``.
      data_seed: seed of the data subsets (kept apart from ``seed`` so that all seeds of a
        setting see the same images).
      n_val: test images whose loss is logged after every epoch (``val_loss``); the first
        ``min(n_val, n_test)`` of the evaluation images, 0 for none.
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
    data_seed: int = 0
    n_val: int = 1000

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)  # frozen: canonicalise once, here

        if not isinstance(self.dataset, str):
            raise ValueError(f"dataset must be a string; valid: {', '.join(data.DATASETS)}")
        put("dataset", data._canonical_name(self.dataset))  # ValueError lists the names
        if not isinstance(self.loss, str):
            raise ValueError(f"loss must be a string; valid: {', '.join(losses.LOSSES)}")
        put("loss", losses.get_loss(self.loss).name)
        models.get_model_spec(self.model)
        if self.binarize not in data.BINARIZE_MODES:
            raise ValueError(f"unknown binarize={self.binarize!r}; valid: "
                             f"{', '.join(map(repr, data.BINARIZE_MODES))}")
        training.get_reduction(self.reduction)
        for name in ("n_train", "n_test", "epochs", "batch_size"):
            put(name, check_int(getattr(self, name), name, minimum=1))
        for name in ("seed", "data_seed"):
            put(name, check_int(getattr(self, name), name, minimum=0, maximum=MAX_SEED))
        put("n_val", check_int(self.n_val, "n_val", minimum=0))
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)) or not (
                math.isfinite(lr) and lr > 0):
            raise ValueError(f"learning_rate must be a positive finite number, got {lr!r}")
        put("learning_rate", float(lr))
        kwargs = _canonical_model_kwargs(self.model_kwargs)
        models.check_model_kwargs(self.model, dict(kwargs))
        put("model_kwargs", kwargs)

    @classmethod
    def from_profile(cls, profile: Profile | str | None, **fields: Any) -> "Config":
        """A config with ``n_train``, ``n_test``, ``epochs``, ``batch_size`` and ``n_val`` from a profile.

        Args:
          profile: a :class:`~aecore.profiles.Profile`, or a name resolved with
            ``get_profile`` (so ``AECORE_PROFILE`` overrides it).
          **fields: the other fields (``dataset``, ``model``, ``loss``, ``seed``, ...); they win.
        """
        prof = profile if isinstance(profile, Profile) else get_profile(profile)
        sizes = {"n_train": prof.n_train, "n_test": prof.n_test, "epochs": prof.epochs,
                 "batch_size": prof.batch_size, "n_val": prof.n_val}
        return cls(**{**sizes, **fields})

    @property
    def val_images(self) -> int:
        """How many test images ``val_loss`` is computed on after every epoch: the first
        ``min(n_val, n_test)``."""
        return min(self.n_val, self.n_test)

    def replace(self, **changes: Any) -> "Config":
        """A copy with some fields changed (validated like a new config)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of every field; ``model_kwargs`` becomes a dict."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["model_kwargs"] = dict(self.model_kwargs)
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

    def cache_key(self) -> str:
        """SHA-256 (hex) of the canonical JSON of the config, ``aecore.__version__``, the
        fingerprint of the code that computes a run (:func:`aecore.fingerprint.code_fingerprint`)
        and the model's :attr:`~aecore.models.ModelSpec.revision` (left out at revision 1)."""
        fields: dict[str, Any] = {"config": json.loads(self.canonical_json()), "aecore_version": aecore.__version__,
                                  "code": code_fingerprint()}
        revision = models.get_model_spec(self.model).revision
        if revision != 1:
            fields["model_revision"] = revision
        payload = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def setting_label(self) -> str:
        """The label without the seed, e.g. ``"mnist conv_ae bce"``: what seeds are repeats of."""
        parts = [self.dataset, self.model, losses.get_loss(self.loss).loss_name.lower()]
        if self.binarize:
            parts.append(f"binarize={self.binarize}")
        parts += [f"{k}={v}" for k, v in self.model_kwargs]
        return " ".join(parts)

    def label(self) -> str:
        """Short human label, e.g. ``"mnist conv_ae bce seed 1"``."""
        return f"{self.setting_label()} seed {self.seed}"


# --------------------------------------------------------------------------- result


@dataclasses.dataclass(frozen=True, eq=False)
class Result:
    """What a run produced.

    Attributes:
      config: the run's :class:`Config`.
      history: one row per epoch: ``epoch``, ``loss``, ``val_loss`` (units in
        ``history.attrs["unit"]``) and ``seconds``.
      metrics: test-set metrics (:func:`aecore.metrics.evaluate` on the ``n_test`` test
        images, baselines fitted on the training images), plus ``dead_units``,
        ``latent_dim``, ``train_seconds``, ``final_loss`` and ``final_val_loss``; for
        binarised runs also ``vs_grey_*``: the same reconstructions against the original
        grey test images.
      model: the trained :class:`aecore.models.AutoEncoder`; None when read from the cache
        by ``run(..., load_model=False)``.
      from_cache: True when read from the disk cache (no training happened).
      path: the cache entry, or None when the run was not cached.
    """

    config: Config
    history: pd.DataFrame
    metrics: dict[str, float]
    model: models.AutoEncoder | None
    from_cache: bool
    path: Path | None = None

    def initial_model(self) -> models.AutoEncoder:
        """The run's model before training: built from the config's seed, as :func:`run` builds it."""
        return models.build_model(self.config.model, seed=self.config.seed, **dict(self.config.model_kwargs))

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        """``x_hat`` ``[N, 28, 28, 1]`` in [0, 1] for images ``[N, 28, 28, 1]``, through the
        mean of the run's likelihood."""
        if self.model is None:
            raise ValueError(f"this result of {self.config.label()} was read from the cache without its "
                             f"model (run(..., load_model=False)); call experiments.run(cfg) to load it")
        return self.model.reconstruct(x, likelihood=self.config.loss)


# --------------------------------------------------------------------------- data


def load_data(cfg: Config) -> data.Dataset:
    """The images a run is evaluated on: ``aecore.data.load`` with the config's dataset, sizes,
    ``data_seed`` and ``binarize`` (for ``"dynamic"``, one fixed Bernoulli sample per pixel;
    training itself resamples the grey training images every epoch)."""
    return data.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=cfg.data_seed,
                     binarize=cfg.binarize)


def _train_binarize(cfg: Config) -> str | None:
    """How the *loaded* training images are binarised: only thresholding is done at load time."""
    return "threshold" if cfg.binarize == "threshold" else None


def _data_key(cfg: Config) -> tuple:
    """Identifies a training set; includes ``$AECORE_DATA_DIR`` (offline and online differ)."""
    return (cfg.dataset, cfg.n_train, cfg.data_seed, _train_binarize(cfg),
            os.environ.get(data.ENV_VAR, "").strip())


@functools.lru_cache(maxsize=4)
def _training_images(dataset: str, n_train: int, data_seed: int, binarize: str | None,
                     data_dir_env: str) -> np.ndarray:
    """Training inputs ``[n_train, 28, 28, 1]`` (grey, or 0/1 when thresholded), read-only and
    memoised: every seed and loss of a setting trains on the same array. ``data_dir_env`` is
    only part of the memo key."""
    del data_dir_env
    x = data.load(dataset, n_train=n_train, n_test=1, seed=data_seed, binarize=binarize).train.x
    x.flags.writeable = False
    return x


@functools.lru_cache(maxsize=16)
def _pca_baseline(data_key: tuple, k: int) -> metrics.PCA:
    """PCA of a training set, shared by every run on it (saves one SVD per run)."""
    return metrics.pca_fit(_training_images(*data_key), k)


def data_fingerprint(cfg: Config) -> str:
    """SHA-256 (hex) of the training and evaluation images of ``cfg`` as loaded now.

    Stored in each cache entry and checked on read: offline MNIST (5,000 training images)
    and online MNIST (60,000) give different subsets for the same config, and a result
    trained on one must not be reported for the other.
    """
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(_training_images(*_data_key(cfg))).tobytes())
    h.update(np.ascontiguousarray(load_data(cfg).test.x).tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- cache


def cache_dir() -> Path:
    """The cache root: ``$AECORE_CACHE_DIR``, else ``<repo>/.aecore_cache`` in a source
    checkout, else ``~/.cache/aecore``. Not created here."""
    env = os.environ.get(CACHE_ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parent.parent
    if (repo / "pyproject.toml").is_file():
        return repo / ".aecore_cache"
    return Path.home() / ".cache" / "aecore"


def entry_path(cfg: Config, root: Path | None = None) -> Path:
    """Where the cache entry of ``cfg`` lives (whether or not it exists)."""
    slug = "-".join([cfg.dataset, cfg.model, cfg.loss, f"s{cfg.seed}"])
    return (root if root is not None else cache_dir()) / f"{slug}-{cfg.cache_key()[:20]}"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _entry_config_json(cfg: Config, fingerprint: str) -> dict[str, Any]:
    return {"config": cfg.to_dict(), "aecore_version": aecore.__version__, "code": code_fingerprint(),
            "cache_key": cfg.cache_key(), "data_fingerprint": fingerprint}


# Recorded in an entry's config.json, not compared on reading (see aecore.fingerprint).
_RECORDED_ONLY = ("data_fingerprint", "trained_with")


def _write_json(path: Path, obj: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def _history_attrs(cfg: Config) -> dict[str, Any]:
    return {"unit": training.get_reduction(cfg.reduction).unit, "likelihood": cfg.loss,
            "reduction": cfg.reduction, "binarize": "dynamic" if cfg.binarize == "dynamic" else None}


def _remove_stale_tmp(root: Path) -> None:
    """Removes temp dirs left by killed writers: only folders that aecore provably made (its
    prefix, its marker file inside, owned by this user) and untouched for
    :data:`_STALE_TMP_SECONDS`. Anything else in the cache folder is never touched."""
    now = time.time()
    for p in root.glob(f"{_TMP_PREFIX}*"):
        try:
            st = p.lstat()
            if (p.is_dir() and not p.is_symlink() and (p / _TMP_MARKER).is_file()
                    and st.st_uid == os.getuid() and now - st.st_mtime > _STALE_TMP_SECONDS):
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def _write_manifest(folder: Path) -> None:
    """The SHA-256 of every file in ``folder``, written last: a directory with a manifest is complete."""
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != MANIFEST)
    _write_json(folder / MANIFEST, {"files": {name: _sha256_file(folder / name) for name in files},
                                    "aecore_version": aecore.__version__})


def write_entry_atomically(root: Path, final: Path, write_files: Callable[[Path], None]) -> Path:
    """Writes a cache entry into a temp dir, then renames it to ``final`` (atomic on POSIX).

    ``write_files(folder)`` writes the entry's files; then :func:`_write_manifest`. On any exception the temp dir is
    removed and the exception propagates. Shared by every cache in aecore.
    """
    root.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(root)
    tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=root))
    try:
        (tmp / _TMP_MARKER).touch()
        write_files(tmp)
        (tmp / _TMP_MARKER).unlink()  # not part of the entry
        _write_manifest(tmp)
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp made it 0700: an entry gets the mode of any new folder
        if final.exists():  # a concurrent run finished first, or a leftover we failed to delete
            shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def verify_manifest(path: Path, files: Sequence[str]) -> None:
    """Raises :class:`_EntryError` unless ``path`` holds every name in ``files`` with the
    checksum its manifest lists (and the manifest lists exactly those)."""
    if path.is_symlink() or not path.is_dir():
        raise _EntryError("it is not a folder")
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        listed = manifest["files"]
    except FileNotFoundError:
        raise _EntryError(f"{MANIFEST} is missing") from None
    except OSError as err:  # e.g. a folder of another account, mode 0700
        raise _EntryError(f"it cannot be read ({err.strerror or err})") from None
    except (ValueError, KeyError, TypeError) as err:
        raise _EntryError(f"{MANIFEST} is unreadable ({err})") from None
    if not isinstance(listed, dict) or set(listed) != set(files):
        raise _EntryError(f"{MANIFEST} lists {sorted(listed) if isinstance(listed, dict) else listed}, "
                          f"expected {sorted(files)}")
    for name in files:
        if not (path / name).is_file():
            raise _EntryError(f"{name} is missing")
        try:
            digest = _sha256_file(path / name)
        except OSError as err:
            raise _EntryError(f"{name} cannot be read ({err.strerror or err})") from None
        if digest != listed[name]:
            raise _EntryError(f"{name} does not match its checksum in {MANIFEST} (modified or truncated)")


def discard_entry(path: Path, problem: Any) -> None:
    """Warns that the entry at ``path`` is unusable (``problem`` says why) and removes it,
    saying truthfully whether it could: in a read-only cache folder, or for an entry of another
    account, it stays, and the run is retrained without being cached over it."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        outcome = "deleted it; retraining"
    except OSError as err:
        outcome = (f"could not delete it ({err.strerror or err}); retraining, and the new result may not be "
                   f"cached: remove the entry by hand or set {CACHE_ENV_VAR} to a folder of your own")
    _warn(f"aecore cache: entry {path} is unusable: {problem}; {outcome}", stacklevel=4)


def _write_entry(cfg: Config, history: pd.DataFrame, run_metrics: dict[str, float],
                 model: models.AutoEncoder, root: Path, fingerprint: str) -> Path:
    def write_files(folder: Path) -> None:
        _write_json(folder / "config.json", {**_entry_config_json(cfg, fingerprint), "trained_with": stack_versions()})
        _write_json(folder / "metrics.json", run_metrics)
        history.to_csv(folder / "history.csv", index=False)
        model.save_weights(folder / "model.weights.h5")

    return write_entry_atomically(root, entry_path(cfg, root), write_files)


def _read_entry(cfg: Config, path: Path, fingerprint: str, *, load_model: bool = True) -> tuple[
        pd.DataFrame, dict[str, float], models.AutoEncoder | None]:
    """Verifies and reads one entry (every file's checksum, whether or not the model is
    loaded); raises _EntryError saying what is wrong."""
    verify_manifest(path, ENTRY_FILES)
    try:
        stored = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (ValueError, OSError) as err:
        raise _EntryError(f"config.json is unreadable ({err})") from None
    expected = _entry_config_json(cfg, fingerprint)
    if not isinstance(stored, dict) or stored.get("data_fingerprint") is None:
        raise _EntryError("config.json lacks a data fingerprint")
    if {k: v for k, v in stored.items() if k not in _RECORDED_ONLY} != {
            k: v for k, v in expected.items() if k not in _RECORDED_ONLY}:
        raise _EntryError(f"config.json holds a different config ({json.dumps(stored, sort_keys=True)}), "
                          f"expected {json.dumps(expected, sort_keys=True)}")
    if stored["data_fingerprint"] != fingerprint:
        raise _EntryError(f"it was trained on other images (data fingerprint "
                          f"{str(stored['data_fingerprint'])[:12]}..., now {fingerprint[:12]}...: "
                          f"offline and online data differ; is {data.ENV_VAR} set the same way?)")
    try:
        run_metrics = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
        history = read_csv_exact(path / "history.csv")
        model = None
        if load_model:
            model = models.build_model(cfg.model, seed=cfg.seed, **dict(cfg.model_kwargs))
            model.load_weights(path / "model.weights.h5")
    except Exception as err:  # checksums matched, so this is a format/version problem
        raise _EntryError(f"could not load it ({type(err).__name__}: {err})") from None
    check_entry_content(run_metrics, history, epochs=cfg.epochs, metrics_required=_REQUIRED_METRICS,
                        history_columns=_HISTORY_COLUMNS)
    history.attrs.update(_history_attrs(cfg))
    return history, run_metrics, model


# What every autoencoder entry's metrics.json holds (aecore.metrics.evaluate and run's extras).
_REQUIRED_METRICS = ("mse_per_pixel", "bce_per_pixel", "bce_excess_per_pixel", "psnr_db", "ssim", "n_images",
                     "dead_units", "latent_dim", "train_seconds", "final_loss")
_HISTORY_COLUMNS = ("epoch", "loss", "val_loss", "seconds")


def check_entry_content(run_metrics: Any, history: pd.DataFrame, *, epochs: int,
                        metrics_required: Sequence[str], history_columns: Sequence[str]) -> None:
    """Raises :class:`_EntryError` unless an entry's content has the shape a run writes:
    ``metrics.json`` an object of named numbers (lists of numbers allowed) holding
    ``metrics_required``; ``history.csv`` one row per epoch ``1..epochs`` with
    ``history_columns`` (``epoch`` and ``loss`` among them), the training losses finite. (The manifest's checksums catch damage, not an edit made with
    a matching manifest; this catches an edited entry that no run could have written.)"""
    if not isinstance(run_metrics, dict):
        raise _EntryError(f"metrics.json holds a {type(run_metrics).__name__}, not an object of metrics")

    def numeric(v: Any) -> bool:
        if isinstance(v, list):
            return all(numeric(u) for u in v)
        return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))

    bad = sorted(k for k, v in run_metrics.items() if not numeric(v))
    if bad:
        raise _EntryError(f"metrics.json: {', '.join(bad)} not numbers")
    missing = [k for k in metrics_required if k not in run_metrics]
    if missing:
        raise _EntryError(f"metrics.json lacks {', '.join(missing)}")
    missing = [c for c in history_columns if c not in history.columns]
    if missing:
        raise _EntryError(f"history.csv lacks the column(s) {', '.join(missing)}")
    if history["epoch"].tolist() != list(range(1, epochs + 1)):
        raise _EntryError(f"history.csv has epochs {history['epoch'].tolist()[:5]}..., expected 1..{epochs}")
    if not np.isfinite(history["loss"].to_numpy(np.float64)).all():
        raise _EntryError("history.csv holds a non-finite training loss (a run that diverged is never cached)")


def read_csv_exact(path: Path) -> pd.DataFrame:
    """A CSV that the cache wrote, every float read back to the bit: pandas 3 parses floats
    exactly by default (and deprecates ``float_precision``); pandas 2 needs ``"round_trip"``."""
    if int(pd.__version__.split(".")[0]) >= 3:
        return pd.read_csv(path)
    return pd.read_csv(path, float_precision="round_trip")


def _warn(message: str, stacklevel: int = 3) -> None:
    warnings.warn(message, CacheWarning, stacklevel=stacklevel)


# --------------------------------------------------------------------------- run


def _train_and_evaluate(cfg: Config, *, progress: bool, prefix: str) -> tuple[
        pd.DataFrame, dict[str, float], models.AutoEncoder]:
    aecore.set_seed(cfg.seed, tensorflow=False)  # the model and fit are seeded explicitly
    x_train = _training_images(*_data_key(cfg))  # [n_train, 28, 28, 1]
    dataset = load_data(cfg)
    x_test = dataset.test.x  # [n_test, 28, 28, 1], the evaluation targets
    n_val = cfg.val_images
    likelihood = losses.get_loss(cfg.loss)

    model = models.build_model(cfg.model, seed=cfg.seed, **dict(cfg.model_kwargs))
    x_val = x_test[:n_val] if n_val else None
    # Models that track collapse (dense_ae) log chapter 4's per-epoch figures on the held-out images.
    tracker = (collapse.EpochTracker(x_train, x_val, likelihood=likelihood)
               if x_val is not None and getattr(model, "tracks_collapse", False) else None)
    history = training.fit(model, likelihood, x_train, x_val=x_val, on_epoch_end=tracker,
                           epochs=cfg.epochs, batch_size=cfg.batch_size, seed=cfg.seed,
                           learning_rate=cfg.learning_rate,
                           binarize="dynamic" if cfg.binarize == "dynamic" else None,
                           reduction=cfg.reduction, progress=progress, progress_prefix=prefix)

    x_hat = model.reconstruct(x_test, likelihood=likelihood)  # [n_test, 28, 28, 1]
    pca = _pca_baseline(_data_key(cfg), _K_PCA)
    run_metrics: dict[str, float] = metrics.evaluate(x_test, x_hat, x_train=x_train, k_pca=_K_PCA, pca=pca)
    if cfg.binarize is not None:
        x_grey = data.load(cfg.dataset, n_train=1, n_test=cfg.n_test, seed=cfg.data_seed).test.x
        run_metrics.update({f"vs_grey_{k}": v for k, v in metrics.evaluate(x_grey, x_hat).items()
                            if k != "n_images"})
    codes = model.encode(x_test)  # [n_test, latent_dim]
    run_metrics["dead_units"] = metrics.dead_units(codes)
    run_metrics["latent_dim"] = int(codes.shape[1])
    run_metrics["train_seconds"] = float(history["seconds"].sum())
    run_metrics["final_loss"] = float(history["loss"].iloc[-1])
    run_metrics["final_val_loss"] = float(history["val_loss"].iloc[-1])
    return history, run_metrics, model


def run(cfg: Config, *, cache: bool = True, progress: bool = True, load_model: bool = True,
        _announce: bool = True) -> Result:
    """Runs one experiment, or reads it from the disk cache.

    Args:
      cfg: the experiment.
      cache: read an existing entry and write a new one; False always trains and writes
        nothing.
      progress: print what is run, one line per epoch, and a summary line.
      load_model: False skips building the model of an entry read from the cache, for callers
        that need only its history and metrics (``Result.model`` is then None; the entry is
        verified all the same). Building a Keras model costs more than reading the rest.
        A run that trains always returns its model.

    Returns:
      A :class:`Result`; ``from_cache`` says whether training was skipped.

    Raises:
      aecore.data.DataError: the data cannot give ``n_train``/``n_test`` images.
      aecore.training.TrainingDivergedError: the loss became NaN (nothing is cached).
    """
    if not isinstance(cfg, Config):
        raise TypeError(f"run() needs an experiments.Config, got {type(cfg).__name__}")
    root = cache_dir()
    path = entry_path(cfg, root)
    fingerprint = data_fingerprint(cfg) if cache else ""
    retraining = False
    if cache and path.exists():
        try:
            history, run_metrics, model = _read_entry(cfg, path, fingerprint, load_model=load_model)
            if progress and _announce:  # a sweep's cached reads stay quiet: its table says which
                print(f"{cfg.label()}: from the cache ({path.name})", flush=True)
            return Result(cfg, history, run_metrics, model, from_cache=True, path=path)
        except _EntryError as err:
            discard_entry(path, err)
            retraining = True

    if progress and (_announce or retraining):  # in a sweep, the header names only runs it trains
        print(f"{cfg.label()}: training {cfg.epochs} epoch(s) on {cfg.n_train:,} images", flush=True)
    history, run_metrics, model = _train_and_evaluate(cfg, progress=progress, prefix="  ")
    if progress:
        print(f"  done in {run_metrics['train_seconds']:.1f} s: test MSE "
              f"{run_metrics['mse_per_pixel']:.4f}, BCE {run_metrics['bce_per_pixel']:.4f} nats/pixel, "
              f"SSIM {run_metrics['ssim']:.3f}, dead units {run_metrics['dead_units']}/"
              f"{run_metrics['latent_dim']}", flush=True)
    written = None
    if cache:
        try:
            written = _write_entry(cfg, history, run_metrics, model, root, fingerprint)
        except OSError as err:  # a full or read-only disk should not lose the trained model
            _warn(f"aecore cache: could not write entry {path} ({err}); the result is not cached")
    return Result(cfg, history, run_metrics, model, from_cache=False, path=written)


def _sweep_row(cfg: Config, *, cache: bool, progress: bool) -> dict[str, Any]:
    """One row of :func:`sweep`'s table: ``run(cfg)`` and its config, labels and metrics."""
    result = run(cfg, cache=cache, progress=progress, load_model=False, _announce=False)
    row = cfg.to_dict()
    row["model_kwargs"] = json.dumps(row["model_kwargs"], sort_keys=True)
    row.update({"label": cfg.label(), "setting": cfg.setting_label(),
                "loss_name": losses.get_loss(cfg.loss).loss_name})
    row.update(sorted(result.metrics.items()))  # in the order a cache entry stores them, trained or read
    row["from_cache"] = result.from_cache
    return row


def sweep_rows(row: Callable[[Any], dict], configs: Sequence[Any], *, cached: Callable[[Any], bool], cache: bool,
               progress: bool) -> list[dict]:
    """The rows of a sweep's table, one per config in order (shared by :func:`sweep` and
    :func:`aecore.vae_runs.sweep`): ``row(config)`` once per distinct config, one after another
    in this process, each repeat a copy of its first row marked as read from the cache, as a
    second ``run`` would have been (when ``cache`` is on). With ``progress``, each run that
    will train (``cached(config)`` false, or the cache off) is announced as
    ``run i/n: label`` first."""
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


def sweep(configs: Iterable[Config], *, cache: bool = True, progress: bool = True) -> pd.DataFrame:
    """Runs (or reads from the cache) every config; returns a tidy table.

    Args:
      configs: the experiments.
      cache: as in :func:`run`.
      progress: print ``"run 3/12: mnist conv_ae bce seed 1"`` before each run that trains,
        then its epoch lines (from a worker process, each line starts with its run). Runs read
        from the cache print nothing (the table's ``from_cache`` says which they were); one
        whose entry is unusable warns, names itself and retrains with its epoch lines.

    Returns:
      One row per config, in order: every config field (``model_kwargs`` as JSON text),
      ``label``, ``loss_name`` (``"MSE"``, ``"BCE"``, ...), every metric, and ``from_cache``.
    """
    root = cache_dir()
    return pd.DataFrame(sweep_rows(functools.partial(_sweep_row, cache=cache, progress=progress), list(configs),
                                   cached=lambda cfg: entry_path(cfg, root).exists(), cache=cache, progress=progress))
