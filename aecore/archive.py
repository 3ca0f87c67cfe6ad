"""The published runs as one file: export the run cache to a checksummed archive, import it back.

``python -m aecore cache export FILE`` writes every verified entry of the run cache (results,
histories and weights; :mod:`aecore.experiments` and :mod:`aecore.vae_runs` entries alike) to a
``.tar.gz`` whose ``MANIFEST.json`` lists the SHA-256 of each file, the aecore version and the
fingerprint of the code that trained the runs. ``python -m aecore cache import FILE_OR_URL``
checks all of it before anything lands in the cache, then moves in the entries the cache lacks;
it never overwrites an entry that is already there and valid. A reader who imports the book's
archive runs a chapter from the published runs in about the time it takes to read them, and
trains only what they change (an entry is found by its key: same config, same code).

Safety: only regular files under ``entries/<entry>/`` are accepted (no links, no absolute or
``..`` paths, no member outside the manifest), each file's checksum must match, and each entry's
own manifest must verify; a corrupt, truncated or foreign archive is refused with the reason,
leaving the cache as it was. Entries are exported with the signature of the cache they come
from, never its key; an import signs each entry with the key of the cache it lands in (importing
an archive is vouching for it: :func:`aecore.cache.signing_key`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path, PurePosixPath
from typing import Any

import aecore
from aecore.cache import MANIFEST, CacheKeyError, EntryError, cache_dir, sign_manifest, signing_key, verify_manifest
from aecore.fingerprint import code_fingerprint

ARCHIVE_MANIFEST = "MANIFEST.json"
FORMAT = "aecore-cache-archive/1"
MAX_DOWNLOAD_BYTES = 4 * 2**30  # refuse anything larger (the book's archive is far smaller)


class ArchiveError(Exception):
    """An archive that cannot be exported or imported; the message says why and what to do."""


def _entry_files(entry: Path, key: bytes | None) -> list[str]:
    """The files an entry's own manifest lists (verified, and signed with ``key`` unless it is
    None: an archive's entries carry the signature of the cache they came from), manifest included."""
    listed = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))["files"]
    verify_manifest(entry, list(listed), key)
    return sorted(listed) + [MANIFEST]


def _key(root: Path) -> bytes:
    try:
        return signing_key(root)
    except CacheKeyError as err:
        raise ArchiveError(str(err)) from None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export(path: str | os.PathLike, *, root: Path | None = None) -> dict[str, Any]:
    """Writes every valid entry of the cache at ``root`` (default: :func:`aecore.cache.cache_dir`)
    to the archive ``path`` (atomically: a temp file renamed into place); returns its manifest.
    Entries that do not verify are skipped and counted (``skipped``)."""
    root = cache_dir() if root is None else Path(root)
    path = Path(path)
    if not root.is_dir():
        raise ArchiveError(f"there is no run cache at {root}: run the chapters (make book) first")
    key = _key(root)
    entries, skipped = [], []
    for entry in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            entries.append((entry, _entry_files(entry, key)))
        except (OSError, ValueError, KeyError, TypeError, EntryError):
            skipped.append(entry.name)
    if not entries:
        raise ArchiveError(f"the run cache at {root} holds no valid entry to export")
    manifest: dict[str, Any] = {"format": FORMAT, "aecore_version": aecore.__version__, "code": code_fingerprint(),
                                "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                "entries": len(entries), "skipped": skipped, "files": {}}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for entry, names in entries:
                for name in names:
                    data = (entry / name).read_bytes()
                    member = f"entries/{entry.name}/{name}"
                    manifest["files"][member] = _sha256(data)
                    _add(tar, member, data)
            _add(tar, ARCHIVE_MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600; an archive is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return manifest


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))


def _safe_member(name: str) -> bool:
    p = PurePosixPath(name)
    return (not p.is_absolute() and ".." not in p.parts and len(p.parts) == 3 and p.parts[0] == "entries"
            and not p.parts[1].startswith("."))


def _read(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The archive's manifest and files, every check done; ArchiveError otherwise."""
    files: dict[str, bytes] = {}
    manifest = None
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            for member in tar:
                if member.name == ARCHIVE_MANIFEST and member.isfile():
                    manifest = json.loads(tar.extractfile(member).read().decode("utf-8"))
                    continue
                if not member.isfile() or not _safe_member(member.name):
                    raise ArchiveError(f"{path} holds {member.name!r}, which is not an entry file of a run cache "
                                       "archive (links and paths outside entries/ are refused)")
                files[member.name] = tar.extractfile(member).read()
    except ArchiveError:
        raise
    except (tarfile.TarError, EOFError, OSError, ValueError, UnicodeDecodeError) as err:
        raise ArchiveError(f"{path} is not a readable run cache archive ({type(err).__name__}: {err}); it is "
                           f"truncated or corrupt: download or export it again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
        raise ArchiveError(f"{path} has no {ARCHIVE_MANIFEST} of format {FORMAT!r}: not a run cache archive of aecore")
    if set(files) != set(manifest["files"]):
        missing = sorted(set(manifest["files"]) - set(files))[:3]
        extra = sorted(set(files) - set(manifest["files"]))[:3]
        raise ArchiveError(f"{path} does not match its manifest (missing {missing}, not listed {extra}): truncated "
                           f"or altered; download or export it again")
    bad = [name for name, data in files.items() if _sha256(data) != manifest["files"][name]]
    if bad:
        raise ArchiveError(f"{path}: {len(bad)} file(s) do not match their checksums (e.g. {bad[0]}): corrupt; "
                           f"download or export it again")
    return manifest, files


def import_(source: str | os.PathLike, *, root: Path | None = None) -> dict[str, int]:
    """Checks the archive at ``source`` (a file, or an ``http(s)://`` address to download) and moves
    into the cache at ``root`` every entry it lacks. Returns counts: ``added``, ``kept`` (already
    there and valid: never overwritten), ``replaced`` (there but unusable), ``entries``."""
    root = cache_dir() if root is None else Path(root)
    if str(source).startswith(("http://", "https://")):
        with tempfile.TemporaryDirectory(prefix="aecore-download-") as tmp:
            local = Path(tmp) / "archive.tar.gz"
            download(str(source), local)
            return import_(local, root=root)
    path = Path(source)
    if not path.is_file():
        raise ArchiveError(f"no archive at {path}")
    manifest, files = _read(path)
    by_entry: dict[str, dict[str, bytes]] = {}
    for name, data in files.items():
        _, entry, fname = PurePosixPath(name).parts
        by_entry.setdefault(entry, {})[fname] = data
    root.mkdir(parents=True, exist_ok=True)
    key = _key(root)
    counts = {"added": 0, "kept": 0, "replaced": 0, "entries": len(by_entry)}
    with tempfile.TemporaryDirectory(prefix=".tmp-aecore-import-", dir=root) as staging:
        staged = []
        for entry, entry_files in sorted(by_entry.items()):
            folder = Path(staging) / entry
            folder.mkdir()
            for fname, data in entry_files.items():
                (folder / fname).write_bytes(data)
            try:
                _entry_files(folder, None)  # the entry's own manifest verifies too
                sign_manifest(folder, key)  # importing it, this account vouches for it
            except (OSError, ValueError, KeyError, TypeError, EntryError) as err:
                raise ArchiveError(f"{path}: entry {entry} does not verify ({err}); nothing was imported") from None
            staged.append(folder)
        for folder in staged:  # every entry checked: now move them in
            final = root / folder.name
            if final.exists():
                try:
                    _entry_files(final, key)
                    counts["kept"] += 1
                    continue
                except (OSError, ValueError, KeyError, TypeError, EntryError):
                    shutil.rmtree(final, ignore_errors=True)
                    counts["replaced"] += 1
            umask = os.umask(0)
            os.umask(umask)
            folder.chmod(0o777 & ~umask)
            os.replace(folder, final)
            counts["added"] += 1
    return counts


def download(url: str, dest: Path, *, timeout: float = 60.0) -> None:
    """``url`` to ``dest`` (at most :data:`MAX_DOWNLOAD_BYTES`); ArchiveError naming the address."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
            total = 0
            while block := response.read(1 << 20):
                total += len(block)
                if total > MAX_DOWNLOAD_BYTES:
                    raise ArchiveError(f"{url} is larger than {MAX_DOWNLOAD_BYTES:,} bytes: not the book's archive")
                out.write(block)
    except ArchiveError:
        raise
    except (OSError, ValueError) as err:
        raise ArchiveError(f"could not download {url} ({err}); check the address and the connection, or "
                           f"download the file yourself and import it from disk") from None


# --------------------------------------------------------------------------- the published runs, on Colab

# The label of the Project-URL the release workflow writes into the package's metadata
# (tools/stamp_runs_url.py): the address of the archive of the runs the published book shows.
PUBLISHED_RUNS_LABEL = "Published runs"
# Set to 0 to train everything yourself even where published runs exist.
PUBLISHED_RUNS_ENV = "AECORE_PUBLISHED_RUNS"
_imported: set[str] = set()  # addresses imported by this process (each chapter calls once)


def published_runs_url(distribution: str = "aecore") -> str | None:
    """The address of the published runs' archive from the installed package's metadata, or None
    (a checkout or a wheel built without the release workflow's stamp)."""
    import importlib.metadata

    try:
        meta = importlib.metadata.metadata(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip() == PUBLISHED_RUNS_LABEL and url.strip():
            return url.strip()
    return None


def use_published_runs(profile: Any, *, url: str | None = None, root: Path | None = None) -> dict[str, int] | None:
    """In the ``full`` profile, imports the published runs into the run cache, so that a chapter
    reads the book's runs instead of training them (on Colab: about a minute instead of an hour),
    and trains only what the reader changes.

    Nothing happens (returns None) in another profile, where no address is known (``url`` or
    :func:`published_runs_url`), where :data:`PUBLISHED_RUNS_ENV` is ``0``, or where that address was
    already imported into this cache (a marker file in it records it: the next chapter does not
    download the archive again). Entries already in the cache are kept (:func:`import_`). A
    download or an archive that fails its checks is reported with a warning and nothing is
    imported: the chapter then trains its runs.

    Returns:
      :func:`import_`'s counts, or None.
    """
    import warnings

    name = getattr(profile, "name", profile)
    if name != "full" or os.environ.get(PUBLISHED_RUNS_ENV, "1").strip() == "0":
        return None
    url = url or published_runs_url()
    if not url or url in _imported:
        return None
    root = cache_dir() if root is None else Path(root)
    marker = root / f".published-runs-{_sha256(url.encode())[:16]}"  # imported before: no second download
    if marker.is_file():
        _imported.add(url)
        return None
    try:
        counts = import_(url, root=root)
    except ArchiveError as err:
        warnings.warn(f"the published runs were not imported ({err}); the chapter trains its runs instead",
                      stacklevel=2)
        return None
    _imported.add(url)
    with contextlib.suppress(OSError):
        marker.write_text(url + "\n")
    print(f"published runs: {counts['added']} added to the run cache, {counts['kept']} already there "
          f"(set {PUBLISHED_RUNS_ENV}=0 to train everything yourself)")
    return counts
