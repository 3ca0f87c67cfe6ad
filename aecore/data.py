"""MNIST and Fashion-MNIST as float32 images in [0, 1], online or from offline IDX files.

``load(name, ...)`` returns a :class:`Dataset` with a ``train`` and a ``test``
:class:`Split`; ``x`` is float32 ``[N, 28, 28, 1]`` in [0, 1], ``y`` is int64 ``[N]``.

Where the images come from, first match wins:

1. the ``data_dir`` argument;
2. the environment variable ``AECORE_DATA_DIR`` (ignored when empty);
3. ``keras.datasets`` (downloads once, needs the internet).

An offline data folder holds one subfolder per dataset, ``mnist/`` and
``fashion-mnist/``, each with the four standard IDX files
(``train-images-idx3-ubyte.gz`` etc., or the same names uncompressed).
Offline copies may be smaller than the online ones (the project's offline MNIST
has 5,000 training images, not 60,000), so nothing here assumes a size:
``Split.n_available`` says what the source had, and ``Dataset.describe()``
states what was actually used.

Every problem with the data raises :class:`DataError` naming the file and the
fix; there is no silent partial load and no silent clipping of ``n_train``.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aecore.validate import IMAGE_SHAPE  # [H, W, C] of every image of the book

if TYPE_CHECKING:  # TensorFlow is imported lazily: `import aecore.data` must stay cheap
    import tensorflow as tf

DATASETS: tuple[str, ...] = ("mnist", "fashion_mnist")
ENV_VAR = "AECORE_DATA_DIR"
BINARIZE_MODES: tuple[str | None, ...] = (None, "threshold", "dynamic")

_ALIASES: dict[str, str] = {
    "mnist": "mnist",
    "fashion_mnist": "fashion_mnist",
    "fashion-mnist": "fashion_mnist",
    "fashion": "fashion_mnist",
}
_FOLDERS: dict[str, str] = {"mnist": "mnist", "fashion_mnist": "fashion-mnist"}
_PRETTY: dict[str, str] = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
_FILES: dict[str, tuple[str, str]] = {  # split -> (images file, labels file)
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGE_SHAPE = IMAGE_SHAPE[:2]  # as stored in the IDX files
MAX_IDX_BYTES = 64 * 2**20  # larger than any IDX file of MNIST or Fashion-MNIST (47,040,016 bytes)
_N_CLASSES = 10
_MAGIC_LABELS = 0x00000801  # unsigned byte, 1 dimension
_MAGIC_IMAGES = 0x00000803  # unsigned byte, 3 dimensions
_FIX_OFFLINE = (f"set {ENV_VAR} (or data_dir) to a folder holding mnist/ and fashion-mnist/ "
                f"with the four IDX files each (e.g. `export {ENV_VAR}=../shared/data`), "
                f"or unset it to load online through keras.datasets")


class DataError(ValueError):
    """A data file or folder is missing, malformed, or cannot give what was asked for."""


@dataclasses.dataclass(frozen=True, eq=False)
class Split:
    """One split (train or test) of a dataset.

    Attributes:
      x: float32 images ``[N, 28, 28, 1]`` in [0, 1] (0/1 when binarised).
      y: int64 labels ``[N]`` in 0..9.
      n_available: images the source had for this split before subsampling.
    """

    x: np.ndarray  # [N, 28, 28, 1]
    y: np.ndarray  # [N]
    n_available: int

    def __post_init__(self) -> None:
        if self.x.ndim != 4 or self.x.shape[1:] != (*_IMAGE_SHAPE, 1) or self.x.dtype != np.float32:
            raise ValueError(f"Split.x must be float32 [N, 28, 28, 1], got {self.x.dtype} {self.x.shape}")
        if self.y.shape != (self.x.shape[0],) or self.y.dtype != np.int64:
            raise ValueError(f"Split.y must be int64 [{self.x.shape[0]}], got {self.y.dtype} {self.y.shape}")
        if not 0 < self.x.shape[0] <= self.n_available:
            raise ValueError(f"Split has {self.x.shape[0]} images but n_available={self.n_available}")

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset as loaded: both splits plus where they came from and how they were processed.

    Attributes:
      name: canonical name, ``"mnist"`` or ``"fashion_mnist"``.
      train: the training split.
      test: the test split.
      source: where the images came from, e.g. ``"offline IDX files in /abs/data/mnist"``
        or ``"keras.datasets (online)"``.
      binarize: ``None``, ``"threshold"`` or ``"dynamic"``.
      seed: the seed used for subsampling and dynamic binarisation.
      threshold: the threshold used when ``binarize == "threshold"``.
    """

    name: str
    train: Split
    test: Split
    source: str
    binarize: str | None
    seed: int
    threshold: float = 0.5

    @property
    def pretty_name(self) -> str:
        """``"MNIST"`` or ``"Fashion-MNIST"``."""
        return _PRETTY[self.name]

    def describe(self) -> str:
        """One sentence stating the images actually used, for captions and prose.

        Example: ``"MNIST: 5,000 of 5,000 training and 1,000 of 10,000 test images (seed 0),
        offline IDX files in /data/mnist; not binarised."``
        """
        if self.binarize is None:
            processing = "not binarised"
        elif self.binarize == "threshold":
            processing = f"binarised by thresholding at {self.threshold:g} (x > {self.threshold:g})"
        else:
            processing = f"binarised by one fixed Bernoulli sample per pixel (seed {self.seed})"
        return (f"{self.pretty_name}: {len(self.train):,} of {self.train.n_available:,} training and "
                f"{len(self.test):,} of {self.test.n_available:,} test images (seed {self.seed}), "
                f"{self.source}; {processing}.")


# ----------------------------------------------------------------------------- IDX files


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse one IDX file (gzip-compressed when the name ends in ``.gz``), fully validated.

    Only the two layouts MNIST-style datasets use are accepted: unsigned-byte labels
    (magic ``0x00000801``, 1-D) and unsigned-byte images (magic ``0x00000803``, 3-D,
    each 28 x 28). The payload must have exactly the size the header announces.

    Args:
      path: the file to read.

    Returns:
      A fresh, writable uint8 array: ``[N]`` for labels, ``[N, 28, 28]`` for images.

    Raises:
      DataError: missing or unreadable file, corrupt gzip stream, wrong magic number,
        truncated payload, trailing bytes, or images that are not 28 x 28.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"IDX file {path} does not exist (or is not a file); {_FIX_OFFLINE}")
    too_big = (f"{path} holds more than {MAX_IDX_BYTES:,} bytes (decompressed), more than any IDX file of "
               f"these datasets (the largest, 60,000 training images, has 47,040,016): not an MNIST-style "
               f"file, or a damaged one; re-download it")
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                data = f.read(MAX_IDX_BYTES + 1)  # never more: a small gzip can expand to gigabytes
        else:
            if path.stat().st_size > MAX_IDX_BYTES:
                raise DataError(too_big)
            data = path.read_bytes()
        if len(data) > MAX_IDX_BYTES:
            raise DataError(too_big)
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise DataError(f"{path} is not a valid gzip file ({err}); if it is already decompressed, "
                        f"drop the .gz suffix, otherwise re-download the file") from err
    except OSError as err:
        raise DataError(f"cannot read {path}: {err}") from err

    if len(data) < 4:
        raise DataError(f"{path} has only {len(data)} bytes, too short for an IDX header; "
                        f"re-download the file")
    (magic,) = struct.unpack(">I", data[:4])
    if magic not in (_MAGIC_LABELS, _MAGIC_IMAGES):
        hint = "is this an IDX file? was it decompressed twice / is it HTML from a failed download?"
        if data[:2] == b"\x1f\x8b":
            hint = "it is gzip-compressed: name it *.gz so it is decompressed"
        raise DataError(f"{path}: magic number 0x{magic:08X}, expected 0x{_MAGIC_LABELS:08X} (labels) "
                        f"or 0x{_MAGIC_IMAGES:08X} (images); {hint}")

    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: header needs {header} bytes, the file has {len(data)}; "
                        f"the file is truncated, re-download the file")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims, dtype=np.int64))
    actual = len(data) - header
    if actual < expected:
        raise DataError(f"{path} is truncated: header says {dims} -> {expected:,} payload bytes, "
                        f"found {actual:,}; re-download the file")
    if actual > expected:
        raise DataError(f"{path} has {actual - expected:,} trailing bytes after the {expected:,} "
                        f"payload bytes its header {dims} announces; re-download the file")
    if ndim == 3 and tuple(dims[1:]) != _IMAGE_SHAPE:
        raise DataError(f"{path}: images are {dims[1]}x{dims[2]}, expected 28x28")
    # np.frombuffer on bytes is read-only and borrows `data`; copy to hand out an owned array.
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


@functools.lru_cache(maxsize=8)  # 4 files x 2 datasets
def _read_idx_cached(path: str, stamp: tuple[int, ...]) -> np.ndarray:
    """``read_idx`` memoised on the path and the file's stamp; the array is read-only so callers
    cannot corrupt the cache. ``stamp`` is only part of the key."""
    del stamp
    arr = read_idx(path)
    arr.flags.writeable = False
    return arr


def _read_idx_memo(path: Path) -> np.ndarray:
    # The stamp changes with any rewrite of the file: mtime and size can be put back by hand
    # (touch -d, a copy that keeps times), the inode-change time and the inode cannot.
    st = path.stat()
    return _read_idx_cached(str(path.resolve()), (st.st_mtime_ns, st.st_size, st.st_ctime_ns, st.st_ino, st.st_dev))


def clear_cache() -> None:
    """Forget the parsed files and online downloads held in memory (the next ``load`` re-reads)."""
    _read_idx_cached.cache_clear()
    _load_online_raw.cache_clear()
    _ONLINE_SELECTION.clear()


# ----------------------------------------------------------------------------- sources

_Raw = dict[str, tuple[np.ndarray, np.ndarray]]  # split -> (uint8 [N, 28, 28], uint8 [N])


def _find_file(folder: Path, stem: str) -> Path:
    """``folder/stem.gz`` if it exists, else ``folder/stem``; DataError naming both if neither."""
    gz, plain = folder / f"{stem}.gz", folder / stem
    if gz.is_file():
        return gz
    if plain.is_file():
        return plain
    raise DataError(f"missing file {gz} (nor an uncompressed {plain.name} beside it); "
                    f"the folder must hold all four IDX files; {_FIX_OFFLINE}")


def _resolve_data_dir(data_dir: str | os.PathLike | None) -> tuple[Path, str] | None:
    """The offline root folder and where it came from, or None to load online."""
    if data_dir is not None:
        if os.fspath(data_dir) == "":
            raise DataError("data_dir is an empty string; pass a folder or None")
        return Path(data_dir), "the data_dir argument"
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env), f"the environment variable {ENV_VAR}"
    return None


def _load_offline_raw(name: str, root: Path, origin: str) -> tuple[_Raw, Path]:
    if not root.is_dir():
        raise DataError(f"data folder {root.resolve()} (from {origin}={os.fspath(root)!r}) does not "
                        f"exist or is not a folder; {_FIX_OFFLINE}")
    folder = root / _FOLDERS[name]
    if not folder.is_dir():
        hint = ""
        if any((root / f"{stem}.gz").exists() or (root / stem).exists()
               for stems in _FILES.values() for stem in stems):
            hint = " (that folder holds IDX files itself: point at its parent instead)"
        raise DataError(f"dataset folder {folder.resolve()} is missing{hint}; the data folder "
                        f"{root.resolve()} (from {origin}) must hold mnist/ and fashion-mnist/ "
                        f"subfolders; {_FIX_OFFLINE}")
    paths = {split: tuple(_find_file(folder, stem) for stem in stems) for split, stems in _FILES.items()}
    raw: _Raw = {}
    for split, (images_path, labels_path) in paths.items():
        images, labels = _read_idx_memo(images_path), _read_idx_memo(labels_path)
        if images.ndim != 3:
            raise DataError(f"{images_path} holds a {images.ndim}-D array, expected 3-D images "
                            f"(are the images and labels files swapped?)")
        if labels.ndim != 1:
            raise DataError(f"{labels_path} holds a {labels.ndim}-D array, expected 1-D labels "
                            f"(are the images and labels files swapped?)")
        if images.shape[0] != labels.shape[0]:
            raise DataError(f"{split} split: {images_path} has {images.shape[0]:,} images but "
                            f"{labels_path} has {labels.shape[0]:,} labels; the two files must come "
                            f"from the same release, re-download them together")
        _check_labels(labels, str(labels_path))
        raw[split] = (images, labels)
    return raw, folder.resolve()


def _keras_loader(name: str) -> Callable[[], tuple]:
    from aecore._tf import keras  # lazy (seconds), and quiet

    return getattr(keras.datasets, name).load_data


# ----------------------------------------------------------------------------- the book's MNIST images online

# One fingerprint per image of the offline MNIST training file (the book's 5,000 of the official
# 60,000), in its order: written by tools/mnist_fingerprints.py, checked by tests/test_data.py.
MNIST_FINGERPRINTS = Path(__file__).resolve().parent / "mnist_train_fingerprints.bin"
FINGERPRINT_BYTES = 8


class DataWarning(UserWarning):
    """The data differ from what the book used (its numbers will differ too)."""


def image_fingerprints(images: np.ndarray, labels: np.ndarray) -> list[bytes]:
    """Per image, the first :data:`FINGERPRINT_BYTES` bytes of SHA-256 over its label byte and
    its 784 pixel bytes (uint8 ``[N, 28, 28]`` images, ``[N]`` labels)."""
    import hashlib

    images = np.ascontiguousarray(images, dtype=np.uint8)
    labels = np.asarray(labels).astype(np.uint8)
    return [hashlib.sha256(bytes([int(y)]) + x.tobytes()).digest()[:FINGERPRINT_BYTES]
            for x, y in zip(images, labels)]


def _book_fingerprints() -> list[bytes] | None:
    try:
        blob = MNIST_FINGERPRINTS.read_bytes()
    except OSError:
        return None
    if not blob or len(blob) % FINGERPRINT_BYTES:
        return None
    return [blob[i:i + FINGERPRINT_BYTES] for i in range(0, len(blob), FINGERPRINT_BYTES)]


def select_book_images(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The book's MNIST training images out of a download of the official ones, in the book's order.

    Returns:
      ``(images, labels, missing)``: when every fingerprint of :data:`MNIST_FINGERPRINTS` is
      found (``missing == 0``), exactly the offline copy's images and labels, in its order;
      otherwise the download unchanged and how many of the book's images it lacks.
    """
    book = _book_fingerprints()
    if book is None:
        return images, labels, -1
    where = {fp: i for i, fp in enumerate(image_fingerprints(images, labels))}
    idx = [where.get(fp) for fp in book]
    missing = sum(i is None for i in idx)
    if missing:
        return images, labels, missing
    order = np.asarray(idx, dtype=np.int64)
    return images[order], labels[order], 0


@functools.lru_cache(maxsize=2)
def _load_online_raw(name: str) -> _Raw:
    """Both splits from ``keras.datasets``, validated and read-only (memoised; failures are not)."""
    try:
        (x_train, y_train), (x_test, y_test) = _keras_loader(name)()
    except Exception as err:  # no internet, a proxy, a broken download: all mean the same fix
        raise DataError(
            f"could not load {_PRETTY[name]} online through keras.datasets ({type(err).__name__}: "
            f"{err}); without internet access set {ENV_VAR} to a folder holding mnist/ and "
            f"fashion-mnist/ IDX files (e.g. `export {ENV_VAR}=../shared/data`), "
            f"or connect to the internet") from err
    raw: _Raw = {}
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        x, y = np.array(x, dtype=np.uint8), np.array(y).reshape(-1)  # owned copies
        what = f"keras.datasets.{name} ({split})"
        if x.ndim != 3 or x.shape[1:] != _IMAGE_SHAPE or x.shape[0] != y.shape[0] or x.shape[0] == 0:
            raise DataError(f"{what} returned images {x.shape} and labels {y.shape}, expected "
                            f"[N, 28, 28] and [N] with N > 0; delete the cached download in "
                            f"~/.keras/datasets and retry")
        _check_labels(y, what)
        if name == "mnist" and split == "train":
            x, y, missing = select_book_images(x, y)
            if missing:
                import warnings

                warnings.warn(f"{missing:,} of the book's {len(_book_fingerprints() or ()):,} MNIST training images "
                              f"are not in this keras.datasets download ({x.shape[0]:,} images): training on a "
                              f"random draw from the download instead, so MNIST numbers will differ from the book's",
                              DataWarning, stacklevel=4)
                _ONLINE_SELECTION[name] = f"a random draw ({missing:,} of the book's images missing online)"
            else:
                _ONLINE_SELECTION[name] = f"the book's {x.shape[0]:,} images, matched by fingerprint"
        x.flags.writeable = False
        y.flags.writeable = False
        raw[split] = (x, y)
    return raw


_ONLINE_SELECTION: dict[str, str] = {}  # how the online MNIST training images were chosen


def _check_labels(labels: np.ndarray, what: str) -> None:
    bad = (labels < 0) | (labels >= _N_CLASSES)
    if labels.size == 0 or bad.any():
        values = np.unique(labels[bad])[:5].tolist()
        raise DataError(f"{what}: labels must be 0..{_N_CLASSES - 1} (and at least one), found "
                        f"{labels.size} labels with {int(bad.sum()):,} out of range, e.g. {values}; "
                        f"re-download the file")


# ----------------------------------------------------------------------------- binarisation


def binarize_threshold(x: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Deterministic binarisation: 1 where ``x > threshold``, else 0.

    Args:
      x: intensities in [0, 1], any shape, e.g. ``[N, 28, 28, 1]``.
      threshold: in [0, 1].

    Returns:
      float32 array of 0s and 1s, same shape as ``x``.

    Raises:
      ValueError: threshold outside [0, 1].
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
    return (np.asarray(x) > threshold).astype(np.float32)


def binarize_dynamic(x: np.ndarray, seed: int | np.random.SeedSequence) -> np.ndarray:
    """One Bernoulli sample per pixel with success probability ``x`` (Salakhutdinov & Murray's
    "dynamically binarised" MNIST, drawn once).

    Args:
      x: probabilities in [0, 1], any shape, e.g. ``[N, 28, 28, 1]``.
      seed: seed for ``np.random.default_rng`` (an int, or a ``SeedSequence``).

    Returns:
      float32 array of 0s and 1s, same shape as ``x``; ``E[result] = x``.
    """
    x = np.asarray(x)
    u = np.random.default_rng(seed).random(x.shape, dtype=np.float32)  # U[0, 1)
    return (u < x).astype(np.float32)  # P(u < p) = p for p in [0, 1]


def binarize_dynamic_tf(x: "tf.Tensor", seed: "tf.Tensor") -> "tf.Tensor":
    """Stateless Bernoulli sample per pixel with probability ``x``, for ``tf.data`` pipelines.

    Stateless, so the sample is a pure function of ``(x, seed)``: pass a different seed
    per epoch/batch (e.g. ``tf.stack([epoch, batch_index])``) to resample every epoch and
    still reproduce a run exactly.

    Args:
      x: float tensor of probabilities in [0, 1], any shape, e.g. ``[B, 28, 28, 1]``.
      seed: int32/int64 tensor of shape ``[2]`` for ``tf.random.stateless_uniform``.

    Returns:
      Tensor of 0s and 1s with the shape and (float) dtype of ``x``.
    """
    from aecore._tf import tf  # lazy: keeps `import aecore.data` cheap

    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        x = tf.cast(x, tf.float32)
    u = tf.random.stateless_uniform(tf.shape(x), seed=seed, dtype=x.dtype)  # U[0, 1)
    return tf.cast(u < x, x.dtype)


# ----------------------------------------------------------------------------- load


def _canonical_name(name: str) -> str:
    key = str(name).strip().lower()
    if key not in _ALIASES:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)} "
                         f"(aliases: {', '.join(k for k in _ALIASES if k not in DATASETS)})")
    return _ALIASES[key]


def _subsample(images: np.ndarray, labels: np.ndarray, n: int | None, seed: int, *,
               split: str, arg: str, source_phrase: str) -> tuple[np.ndarray, np.ndarray]:
    """Uniform subset without replacement, kept in the source's order (read-only views)."""
    n_available = labels.shape[0]
    if n is None:
        return images, labels
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise DataError(f"{arg} must be a positive int or None, got {n!r}")
    if n == n_available:
        return images, labels
    if n <= 0:
        raise DataError(f"{arg} must be a positive int or None, got {n}")
    if n > n_available:
        raise DataError(f"{arg}={n:,} but {source_phrase} has {n_available:,} {split} images; "
                        f"ask for at most {n_available:,} or pass None")
    # A split's subset depends only on (seed, n, n_available), not on the other split's n.
    # Sorted so the chosen images keep the source order (no hidden shuffle).
    idx = np.sort(np.random.default_rng(seed).choice(n_available, size=int(n), replace=False))
    return images[idx], labels[idx]


def load(name: str, *, n_train: int | None = None, n_test: int | None = None, seed: int = 0,
         binarize: str | None = None, threshold: float = 0.5,
         data_dir: str | os.PathLike | None = None) -> Dataset:
    """Load MNIST or Fashion-MNIST as float32 images in [0, 1].

    Subsampling: with ``n_train``/``n_test`` smaller than what the source has, a uniform
    random subset is drawn without replacement with ``np.random.default_rng(seed)``
    (independently per split) and kept in the source's original order. ``None`` (or the
    full count) means every image, in the original order.

    Binarisation: ``"threshold"`` sets ``x = (x > threshold)``; ``"dynamic"`` draws one fixed
    Bernoulli sample per pixel with ``p = x`` (train and test from two independent streams
    spawned from ``seed``), meant for evaluation; training code resamples every epoch
    with :func:`binarize_dynamic_tf` on the non-binarised images instead.

    Parsed files are memoised in memory (keyed by path, mtime and size), so repeated calls
    in a notebook are fast; every call returns fresh arrays that callers may modify.

    Args:
      name: ``"mnist"`` or ``"fashion_mnist"`` (also ``"fashion-mnist"``, ``"fashion"``).
      n_train: training images to use, or None for all.
      n_test: test images to use, or None for all.
      seed: non-negative int for subsampling and dynamic binarisation.
      binarize: None, ``"threshold"`` or ``"dynamic"``.
      threshold: threshold for ``binarize="threshold"``.
      data_dir: offline folder holding ``mnist/`` and ``fashion-mnist/``; default: the
        ``AECORE_DATA_DIR`` environment variable, and online ``keras.datasets`` if unset.

    Returns:
      A :class:`Dataset`; ``x`` is float32 ``[N, 28, 28, 1]``, ``y`` int64 ``[N]``.

    Raises:
      ValueError: unknown dataset name, binarize mode or bad seed (the message lists valid values).
      DataError: missing folder or file, malformed file, image/label count mismatch,
        labels outside 0..9, online download failure, or ``n_train``/``n_test`` not in
        ``1..available``.
    """
    canonical = _canonical_name(name)
    if binarize not in BINARIZE_MODES:
        raise ValueError(f"unknown binarize={binarize!r}; valid options: "
                         f"{', '.join(repr(m) for m in BINARIZE_MODES)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    if isinstance(threshold, (bool, np.bool_)) or not isinstance(threshold, (int, float, np.integer, np.floating)):
        # Checked even when unused: it is stored in the Dataset (and its description).
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")
    if binarize == "threshold" and not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")

    offline = _resolve_data_dir(data_dir)
    if offline is None:
        raw = _load_online_raw(canonical)
        source = "keras.datasets (online)"
        if canonical in _ONLINE_SELECTION:
            source += f"; training images: {_ONLINE_SELECTION[canonical]}"
        source_phrase = f"keras.datasets {_PRETTY[canonical]}"
    else:
        root, origin = offline
        raw, folder = _load_offline_raw(canonical, root, origin)
        source = f"offline IDX files in {folder}"
        source_phrase = f"offline {_PRETTY[canonical]} in {folder}"
        readme = folder.parent / "README.md"
        if readme.is_file():
            source_phrase += f" (see {readme})"

    # Independent streams for dynamic binarisation, distinct from the subsampling stream.
    bin_streams = dict(zip(("train", "test"), np.random.SeedSequence(seed).spawn(2)))
    splits: dict[str, Split] = {}
    for split, n, arg, word in (("train", n_train, "n_train", "training"),
                                ("test", n_test, "n_test", "test")):
        images, labels = raw[split]  # uint8 [M, 28, 28], uint8 [M] (read-only, cached)
        images, labels = _subsample(images, labels, n, seed, split=word, arg=arg,
                                    source_phrase=source_phrase)
        # float32 division of exact integers: one correctly rounded result per pixel.
        x = np.divide(images[..., None], np.float32(255.0), dtype=np.float32)  # [N, 28, 28, 1], fresh
        if binarize == "threshold":
            x = binarize_threshold(x, threshold)
        elif binarize == "dynamic":
            x = binarize_dynamic(x, bin_streams[split])
        splits[split] = Split(x=x, y=labels.astype(np.int64), n_available=int(raw[split][1].shape[0]))

    return Dataset(name=canonical, train=splits["train"], test=splits["test"], source=source,
                   binarize=binarize, seed=seed, threshold=float(threshold))
