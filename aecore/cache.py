"""The run cache: one entry per run, written atomically, verified on every read.

Every kind of run (autoencoders, :mod:`aecore.experiments`; VAEs, :mod:`aecore.vae_runs`) is
stored and read here, by the one runner :mod:`aecore.runner`, with one set of error messages.

Location: ``$AECORE_CACHE_DIR`` if set; else ``<repo>/.aecore_cache`` when ``aecore`` is
imported from a source checkout (``pyproject.toml`` beside the package); else
``~/.cache/aecore``. One folder per run, named ``<readable slug>-<key prefix>``, where the key
is the SHA-256 of the run's config, its kind, ``aecore.__version__`` and the fingerprint of the
code that computes a run (:mod:`aecore.fingerprint`), so an entry trained by older code is never
served. Each entry holds ``config.json`` (what the key covers, the key itself, the fingerprint of
the images the run saw and, recorded only, the numerical stack it was trained with),
``metrics.json``, one CSV per table (``history.csv``, and ``steps.csv`` for VAEs),
``model.weights.h5`` and ``manifest.json`` (the SHA-256 of every other file).

- Writes are atomic: the entry is written into a hidden temporary folder (``.tmp-aecore-*``,
  with a marker file) in the cache folder and renamed into place only when complete, so an
  interrupted run leaves no entry; only such marked folders, made by this account, are ever
  cleaned up.
- Reads are verified: every checksum in the manifest, and its signature (below); ``config.json``
  must equal what the requested run would write; the images must be the ones the entry was
  trained on; the content must have the shape a run writes (named numbers, one history row per
  epoch, finite losses).
  An unusable entry raises a :class:`CacheWarning` naming the entry and the problem, is deleted
  where it can be (the warning says whether), and the run is retrained.
- Entries are signed: the manifest carries an HMAC-SHA256 made with the cache folder's key
  (:data:`KEY_FILE`, made on first use, readable only by the accounts that can write entries
  there), and an entry without this key's signature is not served. So an entry edited by anyone
  who cannot read the key (another account sharing a folder, a tool that rewrites checksums, a
  copy from another cache folder) is caught, however plausible its numbers.

What this does not protect against: the account that owns the key, editing an entry and signing
it again on purpose (as it could edit aecore's code). The content checks still catch an edit
that no run could have written (metrics that are not numbers, a history of the wrong length,
weights that do not load into the config's model); ``benchmarks/verify_cache.py`` retrains an
entry and catches any other change.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

import aecore
from aecore.fingerprint import stack_versions

CACHE_ENV_VAR = "AECORE_CACHE_DIR"
MANIFEST = "manifest.json"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
WEIGHTS_FILE = "model.weights.h5"
KEY_FILE = ".aecore-key"  # the cache folder's signing key (see signing_key)
_TMP_PREFIX = ".tmp-aecore-"
_KEY_TMP_PREFIX = f"{_TMP_PREFIX}key-"  # a key being written (see _make_key)
_TMP_MARKER = ".aecore-tmp"  # written first into every temp dir aecore makes: only those are ever removed
_STALE_TMP_SECONDS = 6 * 3600  # a temp dir this old belongs to a killed process
# Recorded in an entry's config.json, not compared with the request (see aecore.fingerprint):
# the images are compared on their own, with their own message.
_RECORDED_ONLY = ("data_fingerprint", "trained_with")


class CacheWarning(UserWarning):
    """A cache entry could not be used (corrupt, mismatched) or written."""


class EntryError(Exception):
    """Why a cache entry is unusable (raised by the readers here, caught by the runner)."""


class CacheKeyError(OSError):
    """The cache folder's signing key cannot be read or made: entries can be neither checked nor
    signed, so the cache is not used (the message says why and what to do)."""



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


def entry_files(tables: Sequence[str]) -> tuple[str, ...]:
    """The files of an entry whose run writes the CSV ``tables`` (manifest aside)."""
    return (CONFIG_FILE, METRICS_FILE, *(f"{name}.csv" for name in tables), WEIGHTS_FILE)


def fingerprint_arrays(*arrays: np.ndarray) -> str:
    """SHA-256 (hex) of the bytes of ``arrays`` in order: which images a run saw. Offline MNIST
    (5,000 training images) and online MNIST (60,000) give different subsets for one config, and
    a result trained on one must not be reported for the other."""
    h = hashlib.sha256()
    for x in arrays:
        h.update(np.ascontiguousarray(x).tobytes())
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_json(path: Path, obj: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def _remove_stale_tmp(root: Path) -> None:
    """Removes temp dirs left by killed writers: only folders that aecore provably made (its
    prefix, its marker file inside, owned by this user) and untouched for
    :data:`_STALE_TMP_SECONDS`, and files of a key being made (a name only aecore uses, owned
    by this user, as old). Anything else in the cache folder is never touched."""
    now = time.time()
    for p in root.glob(f"{_TMP_PREFIX}*"):
        try:
            st = p.lstat()
            if st.st_uid != os.getuid() or now - st.st_mtime <= _STALE_TMP_SECONDS:
                continue
            if p.is_dir() and not p.is_symlink() and (p / _TMP_MARKER).is_file():
                shutil.rmtree(p, ignore_errors=True)
            elif stat.S_ISREG(st.st_mode) and p.name.startswith(_KEY_TMP_PREFIX):  # a key half made
                p.unlink()
        except OSError:
            pass


def signing_key(root: Path) -> bytes:
    """The secret that the entries of the cache folder ``root`` are signed with: :data:`KEY_FILE`
    in it (32 random bytes, as hex), made on first use, readable by exactly those who can write
    entries there: mode 0600, or 0640 where the folder is group-writable (a cache shared by a
    group). An entry whose manifest does not carry this key's signature is not served, so an edit
    by anyone who cannot read the key (another account, a tool that rewrites checksums) is caught.

    Raises :class:`CacheKeyError` (saying what to do) when the key is unreadable (another
    account's), not aecore's (a link, a folder, not 64 hex digits) or cannot be made.
    """
    path = root / KEY_FILE
    for _ in range(2):
        try:
            st = path.lstat()
        except (FileNotFoundError, NotADirectoryError):  # none yet (or no folder: making it says why not)
            _make_key(root, path)
            continue
        except OSError as err:
            raise CacheKeyError(f"the cache's key {path} cannot be read ({err.strerror or err})") from None
        if not stat.S_ISREG(st.st_mode):
            raise CacheKeyError(f"{path} is not aecore's key (it is a link or a folder, not a file): aecore never "
                                f"touches it; set {CACHE_ENV_VAR} to a folder of your own")
        if st.st_mode & 0o026:  # readable by every account, or writable by others: it protects nothing
            raise CacheKeyError(f"the cache's key {path} is open to other accounts (mode {st.st_mode & 0o777:04o}), so "
                                f"anyone could sign an entry with it: `chmod 600 {path}` (640 to share the cache "
                                f"with a group)")
        try:
            text = path.read_bytes()[:200]
        except OSError as err:
            owner = "" if st.st_uid == os.getuid() else f" (it belongs to another account, uid {st.st_uid})"
            raise CacheKeyError(
                f"the cache's key {path} cannot be read{owner} ({err.strerror or err}): this account can "
                f"neither check nor sign entries there; set {CACHE_ENV_VAR} to a folder of your own, or, to "
                f"share the folder with a group, make it group-writable and the key group-readable") from None
        if not re.fullmatch(rb"[0-9a-f]{64}\n?", text):
            raise CacheKeyError(f"{path} is not a key aecore made (not 64 hex digits): aecore never touches it; "
                                f"delete it if it is damaged (every entry of {root} will then be retrained), "
                                f"or set {CACHE_ENV_VAR} to a folder of your own")
        return bytes.fromhex(text[:64].decode())
    raise CacheKeyError(f"the cache's key {path} vanished while it was read; run again")


def _make_key(root: Path, path: Path) -> None:
    """Makes :data:`KEY_FILE` atomically (written in full, then linked into place, so a
    concurrent reader never sees half a key; a process that loses the race uses the winner's)."""
    if root.exists() and not root.is_dir():
        raise CacheKeyError(f"the cache folder {root} is not a folder; set {CACHE_ENV_VAR} to a folder "
                            f"(aecore never touches what is there)")
    try:
        root.mkdir(parents=True, exist_ok=True)
        group = 0o040 if root.stat().st_mode & stat.S_IWGRP else 0
        fd, tmp = tempfile.mkstemp(prefix=_KEY_TMP_PREFIX, dir=root)
    except OSError as err:
        raise CacheKeyError(f"cannot make the cache's key {path} ({err.strerror or err}); set "
                            f"{CACHE_ENV_VAR} to a writable folder") from None
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
        os.chmod(tmp, 0o600 | group)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: theirs is the key
    except OSError as err:
        raise CacheKeyError(f"cannot make the cache's key {path} ({err.strerror or err}); set "
                            f"{CACHE_ENV_VAR} to a writable folder") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def _signature(manifest: Mapping[str, Any], key: bytes) -> str:
    """HMAC-SHA256 of the manifest (every field but the signature), as hex."""
    body = json.dumps({k: v for k, v in manifest.items() if k != "signature"}, sort_keys=True,
                      separators=(",", ":"))
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_manifest(folder: Path, key: bytes) -> None:
    """(Re-)signs the manifest of the entry ``folder`` with ``key``: for an entry this account
    vouches for (its own, or one of an archive it imports)."""
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    manifest["signature"] = _signature(manifest, key)
    write_json(folder / MANIFEST, manifest)


def _write_manifest(folder: Path, key: bytes) -> None:
    """The SHA-256 of every file in ``folder``, signed with ``key`` and written last: a
    directory with a manifest is complete."""
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != MANIFEST)
    manifest: dict[str, Any] = {"files": {name: sha256_file(folder / name) for name in files},
                                "aecore_version": aecore.__version__}
    manifest["signature"] = _signature(manifest, key)
    write_json(folder / MANIFEST, manifest)


def write_entry_atomically(root: Path, final: Path, write_files: Callable[[Path], None]) -> Path:
    """Writes a cache entry into a temp dir, then renames it to ``final`` (atomic on POSIX).

    ``write_files(folder)`` writes the entry's files; then :func:`_write_manifest`. On any
    exception the temp dir is removed and the exception propagates. The manifest is signed with
    the folder's :func:`signing_key` (:class:`CacheKeyError`, an ``OSError``, if there is none).
    """
    root.mkdir(parents=True, exist_ok=True)
    key = signing_key(root)
    _remove_stale_tmp(root)
    tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=root))
    try:
        (tmp / _TMP_MARKER).touch()
        write_files(tmp)
        (tmp / _TMP_MARKER).unlink()  # not part of the entry
        _write_manifest(tmp, key)
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


def verify_manifest(path: Path, files: Sequence[str], key: bytes | None = None) -> None:
    """Raises :class:`EntryError` unless ``path`` holds every name in ``files`` with the
    checksum its manifest lists (and the manifest lists exactly those) and, given ``key`` (the
    cache folder's :func:`signing_key`), the manifest carries that key's signature."""
    if path.is_symlink() or not path.is_dir():
        raise EntryError("it is not a folder")
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        listed = manifest["files"]
    except FileNotFoundError:
        raise EntryError(f"{MANIFEST} is missing") from None
    except OSError as err:  # e.g. a folder of another account, mode 0700
        raise EntryError(f"it cannot be read ({err.strerror or err})") from None
    except (ValueError, KeyError, TypeError) as err:
        raise EntryError(f"{MANIFEST} is unreadable ({err})") from None
    if not isinstance(listed, dict) or set(listed) != set(files):
        raise EntryError(f"{MANIFEST} lists {sorted(listed) if isinstance(listed, dict) else listed}, "
                         f"expected {sorted(files)}")
    if key is not None:
        signature = manifest.get("signature")
        if not (isinstance(signature, str) and re.fullmatch(r"[0-9a-f]{64}", signature)):
            raise EntryError(f"{MANIFEST} is not signed (aecore signs every entry it writes: this one was made "
                             f"by hand or by another tool)")
        if not hmac.compare_digest(signature, _signature(manifest, key)):
            raise EntryError(f"{MANIFEST}'s signature does not match this cache folder's key ({KEY_FILE}): the "
                             f"entry was changed after aecore wrote it (its manifest rewritten), or copied in from "
                             f"another cache folder (bring runs in with `python -m aecore cache import`)")
    for name in files:
        if not (path / name).is_file():
            raise EntryError(f"{name} is missing")
        try:
            digest = sha256_file(path / name)
        except OSError as err:
            raise EntryError(f"{name} cannot be read ({err.strerror or err})") from None
        if digest != listed[name]:
            raise EntryError(f"{name} does not match its checksum in {MANIFEST} (modified or truncated)")


def warn(message: str, stacklevel: int = 3) -> None:
    warnings.warn(message, CacheWarning, stacklevel=stacklevel)


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
    warn(f"aecore cache: entry {path} is unusable: {problem}; {outcome}", stacklevel=4)


def check_entry_content(run_metrics: Any, history: pd.DataFrame, *, epochs: int,
                        metrics_required: Sequence[str], history_columns: Sequence[str]) -> None:
    """Raises :class:`EntryError` unless an entry's content has the shape a run writes:
    ``metrics.json`` an object of named numbers (lists of numbers allowed) holding
    ``metrics_required``; ``history.csv`` one row per epoch ``1..epochs`` with
    ``history_columns`` (``epoch`` and ``loss`` among them), the training losses finite. (The
    manifest's checksums catch damage, not an edit made with a matching manifest; this catches
    an edited entry that no run could have written.)"""
    if not isinstance(run_metrics, dict):
        raise EntryError(f"metrics.json holds a {type(run_metrics).__name__}, not an object of metrics")

    def numeric(v: Any) -> bool:
        if isinstance(v, list):
            return all(numeric(u) for u in v)
        return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))

    bad = sorted(k for k, v in run_metrics.items() if not numeric(v))
    if bad:
        raise EntryError(f"metrics.json: {', '.join(bad)} not numbers")
    missing = [k for k in metrics_required if k not in run_metrics]
    if missing:
        raise EntryError(f"metrics.json lacks {', '.join(missing)}")
    missing = [c for c in history_columns if c not in history.columns]
    if missing:
        raise EntryError(f"history.csv lacks the column(s) {', '.join(missing)}")
    if history["epoch"].tolist() != list(range(1, epochs + 1)):
        raise EntryError(f"history.csv has epochs {history['epoch'].tolist()[:5]}..., expected 1..{epochs}")
    if not np.isfinite(history["loss"].to_numpy(np.float64)).all():
        raise EntryError("history.csv holds a non-finite training loss (a run that diverged is never cached)")


def read_csv_exact(path: Path) -> pd.DataFrame:
    """A CSV that the cache wrote, every float read back to the bit: pandas 3 parses floats
    exactly by default (and deprecates ``float_precision``); pandas 2 needs ``"round_trip"``."""
    if int(pd.__version__.split(".")[0]) >= 3:
        return pd.read_csv(path)
    return pd.read_csv(path, float_precision="round_trip")


def write_entry(root: Path, final: Path, *, stored_config: Mapping[str, Any], run_metrics: Mapping[str, Any],
                tables: Mapping[str, pd.DataFrame], model: Any) -> Path:
    """Writes one run's entry at ``final`` (atomically): ``config.json`` (``stored_config`` and the
    numerical stack it was trained with), ``metrics.json``, ``<name>.csv`` for each of
    ``tables`` and the model's weights."""
    def write_files(folder: Path) -> None:
        write_json(folder / CONFIG_FILE, {**stored_config, "trained_with": stack_versions()})
        write_json(folder / METRICS_FILE, dict(run_metrics))
        for name, table in tables.items():
            table.to_csv(folder / f"{name}.csv", index=False)
        model.save_weights(folder / WEIGHTS_FILE)

    return write_entry_atomically(root, final, write_files)


def read_entry(path: Path, *, key: bytes, stored_config: Mapping[str, Any], tables: Sequence[str], epochs: int,
               metrics_required: Sequence[str], history_columns: Sequence[str],
               build_model: Callable[[], Any] | None) -> tuple[dict[str, Any], dict[str, pd.DataFrame], Any]:
    """Verifies and reads one entry: ``(metrics, {table name: DataFrame}, model or None)``.

    ``key`` is the cache folder's :func:`signing_key`; ``stored_config`` is what the requested
    run would write into ``config.json`` (its
    ``data_fingerprint`` included); ``build_model`` (None: do not load the model) makes the
    untrained model the weights are loaded into. Every file's checksum is verified whether or
    not the model is loaded. Raises :class:`EntryError` saying what is wrong.
    """
    verify_manifest(path, entry_files(tables), key)
    try:
        stored = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except (ValueError, OSError) as err:
        raise EntryError(f"{CONFIG_FILE} is unreadable ({err})") from None
    if not isinstance(stored, dict) or stored.get("data_fingerprint") is None:
        raise EntryError(f"{CONFIG_FILE} lacks a data fingerprint")
    expected = {k: v for k, v in stored_config.items() if k not in _RECORDED_ONLY}
    if {k: v for k, v in stored.items() if k not in _RECORDED_ONLY} != expected:
        raise EntryError(f"{CONFIG_FILE} holds a different config ({json.dumps(stored, sort_keys=True)}), "
                         f"expected {json.dumps(expected, sort_keys=True)}")
    fingerprint = stored_config["data_fingerprint"]
    if stored["data_fingerprint"] != fingerprint:
        raise EntryError(f"it was trained on other images (data fingerprint "
                         f"{str(stored['data_fingerprint'])[:12]}..., now {fingerprint[:12]}...: "
                         f"offline and online data differ; is AECORE_DATA_DIR set the same way?)")
    try:
        run_metrics = json.loads((path / METRICS_FILE).read_text(encoding="utf-8"))
        frames = {name: read_csv_exact(path / f"{name}.csv") for name in tables}
        model = None
        if build_model is not None:
            model = build_model()
            model.load_weights(path / WEIGHTS_FILE)
    except Exception as err:  # checksums matched, so this is a format/version problem
        raise EntryError(f"could not load it ({type(err).__name__}: {err})") from None
    check_entry_content(run_metrics, frames["history"], epochs=epochs, metrics_required=metrics_required,
                        history_columns=history_columns)
    return run_metrics, frames, model
