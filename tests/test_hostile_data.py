"""Hostile input to aecore.data (issue 24): bad names, sizes, seeds and types; corrupt,
truncated, swapped and oversized IDX files in a temporary data folder; a gzip bomb. Every row
must end in a DataError/ValueError that says what was wrong (and what to do), or the right data."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from aecore import data
from hostile_helpers import case, raises, returns, run_case

N_TRAIN, N_TEST = 20, 10
IDX_NAMES = {"train_x": "train-images-idx3-ubyte", "train_y": "train-labels-idx1-ubyte",
             "test_x": "t10k-images-idx3-ubyte", "test_y": "t10k-labels-idx1-ubyte"}


def idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.asarray(arr, np.uint8)
    return struct.pack(">I", 0x800 + arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def make_root(tmp: Path, **override: bytes | None) -> Path:
    """A data folder with mnist/ holding four small valid IDX files (.gz); ``override`` maps a key of
    IDX_NAMES (or ``"<key>:plain"`` for an uncompressed file) to other bytes, None removes the file."""
    rng = np.random.default_rng(0)
    raw = {"train_x": idx_bytes(rng.integers(0, 256, (N_TRAIN, 28, 28))),
           "train_y": idx_bytes(rng.integers(0, 10, N_TRAIN)),
           "test_x": idx_bytes(rng.integers(0, 256, (N_TEST, 28, 28))),
           "test_y": idx_bytes(rng.integers(0, 10, N_TEST))}
    root = tmp / "data"
    folder = root / "mnist"
    folder.mkdir(parents=True)
    for key, stem in IDX_NAMES.items():
        if f"{key}:plain" in override:
            if override[f"{key}:plain"] is not None:
                (folder / stem).write_bytes(override[f"{key}:plain"])
            continue
        content = override.get(key, gzip.compress(raw[key], compresslevel=1))
        if content is not None:
            (folder / f"{stem}.gz").write_bytes(content)
    return root


def gz_idx(arr) -> bytes:
    return gzip.compress(idx_bytes(arr), compresslevel=1)


def load_from(**override):
    """A row's call: load mnist from a fresh data folder with the given files replaced."""
    def call(tmp):
        return data.load("mnist", data_dir=make_root(tmp, **override))
    return call


def _images(n, h=28, w=28):
    return np.zeros((n, h, w), np.uint8)


def _labels(n, value=0):
    return np.full(n, value, np.uint8)


def _cut_gzip() -> bytes:
    blob = gz_idx(np.random.default_rng(1).integers(0, 256, (N_TRAIN, 28, 28)))
    return blob[:len(blob) // 2]


def _bomb() -> bytes:
    # a valid IDX header announcing 90,000 images, then 70 MB of zeros: ~70 KB compressed
    n = 90_000
    head = struct.pack(">IIII", 0x803, n, 28, 28)
    return gzip.compress(head + bytes(n * 784), compresslevel=1)


def _sparse_huge(tmp):
    root = make_root(tmp, **{"train_x": None})
    path = root / "mnist" / IDX_NAMES["train_x"]
    with open(path, "wb") as f:
        f.write(struct.pack(">IIII", 0x803, 100_000, 28, 28))
        f.truncate(data.MAX_IDX_BYTES + 100)  # sparse: no disk used
    return data.load("mnist", data_dir=root)


def _online_env(tmp):  # AECORE_DATA_DIR pointing at nothing: must not fall back to a download silently
    before = os.environ.get(data.ENV_VAR)
    os.environ[data.ENV_VAR] = str(tmp / "no-such-folder")
    try:
        return data.load("mnist")
    finally:  # the caller's setting back, as it was (a later test needs the offline data)
        if before is None:
            del os.environ[data.ENV_VAR]
        else:
            os.environ[data.ENV_VAR] = before


def _dir_as_file(tmp):
    root = make_root(tmp, train_x=None)
    (root / "mnist" / f"{IDX_NAMES['train_x']}.gz").mkdir()
    return data.load("mnist", data_dir=root)


def _ok(n_train=N_TRAIN, n_test=N_TEST):
    return lambda ds: (ds.train.x.shape == (n_train, 28, 28, 1) and ds.test.x.shape == (n_test, 28, 28, 1)
                       and ds.train.x.dtype == np.float32 and 0 <= ds.train.x.min() and ds.train.x.max() <= 1
                       and f"{n_train:,} of {N_TRAIN:,} training" in ds.describe())


_FIX = r"re-download"
MNIST = lambda **kw: (lambda tmp: data.load("mnist", data_dir=make_root(tmp), **kw))  # noqa: E731

ROWS = [
    # --- names
    case("unknown-dataset", lambda tmp: data.load("kmnist"), raises(ValueError, r"unknown dataset 'kmnist'; valid names: mnist, fashion_mnist")),
    case("empty-name", lambda tmp: data.load(""), raises(ValueError, r"unknown dataset ''; valid names")),
    case("name-none", lambda tmp: data.load(None), raises(ValueError, r"unknown dataset None; valid names")),
    case("name-int", lambda tmp: data.load(784), raises(ValueError, r"unknown dataset 784; valid names")),
    case("name-path-traversal", lambda tmp: data.load("../mnist"), raises(ValueError, r"unknown dataset '\.\./mnist'")),
    case("alias-with-spaces-is-fine", MNIST(), returns(_ok())),
    case("alias-case-insensitive", lambda tmp: data.load(" MNIST ", data_dir=make_root(tmp)), returns(_ok())),
    # --- sizes
    case("n_train-0", MNIST(n_train=0), raises(data.DataError, r"n_train must be a positive int or None, got 0")),
    case("n_train-negative", MNIST(n_train=-5), raises(data.DataError, r"n_train must be a positive int or None, got -5")),
    case("n_test-float", MNIST(n_test=5.0), raises(data.DataError, r"n_test must be a positive int or None, got 5\.0")),
    case("n_train-str", MNIST(n_train="10"), raises(data.DataError, r"n_train must be a positive int or None, got '10'")),
    case("n_train-bool", MNIST(n_train=True), raises(data.DataError, r"n_train must be a positive int or None, got True")),
    case("n_train-too-many", MNIST(n_train=10**9),
         raises(data.DataError, r"n_train=1,000,000,000 but offline MNIST in .* has 20 training images; ask for at most 20")),
    case("n_train-numpy-int", MNIST(n_train=np.int64(5), n_test=np.int32(3)), returns(_ok(5, 3))),
    case("n_train-all-exactly", MNIST(n_train=N_TRAIN), returns(_ok())),
    # --- seeds and binarisation
    case("seed-negative", MNIST(seed=-1), raises(ValueError, r"seed must be a non-negative integer, got -1")),
    case("seed-float", MNIST(seed=1.5), raises(ValueError, r"seed must be a non-negative integer, got 1\.5")),
    case("seed-str", MNIST(seed="0"), raises(ValueError, r"seed must be a non-negative integer, got '0'")),
    case("seed-bool", MNIST(seed=True), raises(ValueError, r"seed must be a non-negative integer, got True")),
    case("seed-huge-is-fine", MNIST(n_train=5, seed=2**40), returns(lambda ds: ds.seed == 2**40 and len(ds.train) == 5)),
    case("binarize-unknown", MNIST(binarize="yes"), raises(ValueError, r"unknown binarize='yes'; valid options: None, 'threshold', 'dynamic'")),
    case("binarize-true", MNIST(binarize=True), raises(ValueError, r"unknown binarize=True; valid options")),
    case("threshold-out-of-range", MNIST(binarize="threshold", threshold=1.5), raises(ValueError, r"threshold must be in \[0, 1\], got 1\.5")),
    case("threshold-nan", MNIST(binarize="threshold", threshold=float("nan")), raises(ValueError, r"threshold must be in \[0, 1\], got nan")),
    case("threshold-str", MNIST(binarize="threshold", threshold="0.5"), raises(ValueError, r"threshold must be a number in \[0, 1\], got '0\.5'")),
    case("threshold-str-unused", MNIST(threshold="abc"), raises(ValueError, r"threshold must be a number in \[0, 1\], got 'abc'")),
    # --- folders
    case("data_dir-empty", lambda tmp: data.load("mnist", data_dir=""), raises(data.DataError, r"data_dir is an empty string; pass a folder or None")),
    case("data_dir-missing", lambda tmp: data.load("mnist", data_dir=tmp / "nope"),
         raises(data.DataError, r"data folder .*nope .*does not exist or is not a folder; set AECORE_DATA_DIR")),
    case("data_dir-is-a-file", lambda tmp: (tmp / "f").write_text("x") and data.load("mnist", data_dir=tmp / "f"),
         raises(data.DataError, r"does not exist or is not a folder")),
    case("data_dir-is-the-mnist-folder", lambda tmp: data.load("mnist", data_dir=make_root(tmp) / "mnist"),
         raises(data.DataError, r"dataset folder .*mnist/mnist is missing \(that folder holds IDX files itself: point at its parent instead\)")),
    case("env-var-points-nowhere", _online_env, raises(data.DataError, r"from the environment variable AECORE_DATA_DIR=.*does not exist or is not a folder")),
    case("fashion-missing-in-offline-root", lambda tmp: data.load("fashion", data_dir=make_root(tmp)),
         raises(data.DataError, r"dataset folder .*fashion-mnist is missing; .* must hold mnist/ and fashion-mnist/")),
    # --- corrupt files
    case("file-missing", load_from(test_y=None), raises(data.DataError, r"missing file .*t10k-labels-idx1-ubyte\.gz \(nor an uncompressed")),
    case("file-is-a-folder", _dir_as_file, raises(data.DataError, r"missing file .*train-images-idx3-ubyte\.gz")),
    case("empty-file", load_from(**{"train_y:plain": b"", "train_y": None}), raises(data.DataError, r"has only 0 bytes, too short for an IDX header; " + _FIX)),
    case("empty-gz", load_from(train_y=b""), raises(data.DataError, r"(only 0 bytes|not a valid gzip)")),
    case("not-gzip-but-named-gz", load_from(train_x=b"hello, not gzip"), raises(data.DataError, r"is not a valid gzip file .*drop the \.gz suffix")),
    case("gzip-truncated", load_from(train_x=_cut_gzip()), raises(data.DataError, r"is not a valid gzip file .*re-download")),
    case("gzip-not-named-gz", load_from(**{"train_x": None, "train_x:plain": gz_idx(_images(N_TRAIN))}),
         raises(data.DataError, r"it is gzip-compressed: name it \*\.gz")),
    case("html-instead-of-idx", load_from(train_x=gzip.compress(b"<!DOCTYPE html><html>404</html>")),
         raises(data.DataError, r"magic number 0x3C21444F, expected 0x00000801 \(labels\) or 0x00000803 \(images\);.*HTML")),
    case("header-cut", load_from(train_x=gzip.compress(struct.pack(">II", 0x803, 5))),
         raises(data.DataError, r"header needs 16 bytes, the file has 8; the file is truncated, re-download")),
    case("payload-truncated", load_from(train_x=gzip.compress(idx_bytes(_images(N_TRAIN))[:-10])),
         raises(data.DataError, r"is truncated: header says \(20, 28, 28\) -> 15,680 payload bytes, found 15,670; " + _FIX)),
    case("trailing-bytes", load_from(train_y=gzip.compress(idx_bytes(_labels(N_TRAIN)) + b"junk")),
         raises(data.DataError, r"has 4 trailing bytes after the 20 payload bytes")),
    case("header-claims-2**32-images", load_from(train_y=gzip.compress(struct.pack(">II", 0x801, 2**32 - 1))),
         raises(data.DataError, r"is truncated: header says \(4294967295,\)")),
    case("images-32x32", load_from(train_x=gz_idx(_images(N_TRAIN, 32, 32))), raises(data.DataError, r"images are 32x32, expected 28x28")),
    case("labels-out-of-range", load_from(train_y=gz_idx(_labels(N_TRAIN, 10))),
         raises(data.DataError, r"labels must be 0\.\.9 .*20 out of range, e\.g\. \[10\]; " + _FIX)),
    case("count-mismatch", load_from(train_y=gz_idx(_labels(N_TRAIN - 1))),
         raises(data.DataError, r"train split: .* has 20 images but .* has 19 labels; .*re-download them together")),
    case("images-and-labels-swapped", load_from(train_x=gz_idx(_labels(N_TRAIN)), train_y=gz_idx(_images(N_TRAIN))),
         raises(data.DataError, r"holds a 1-D array, expected 3-D images \(are the images and labels files swapped\?\)")),
    case("zero-images", load_from(train_x=gz_idx(_images(0)), train_y=gz_idx(_labels(0))),
         raises(data.DataError, r"labels must be 0\.\.9 \(and at least one\), found 0 labels")),
    case("gzip-bomb-capped", load_from(train_x=_bomb()),
         raises(data.DataError, r"holds more than 67,108,864 bytes \(decompressed\), more than any IDX file.*re-download")),
    case("huge-plain-file", _sparse_huge, raises(data.DataError, r"holds more than 67,108,864 bytes")),
    case("plain-files-are-fine", lambda tmp: data.load("mnist", data_dir=make_root(
        tmp, **{f"{k}:plain": v for k, v in {"train_x": idx_bytes(_images(N_TRAIN)), "train_y": idx_bytes(_labels(N_TRAIN)),
                                               "test_x": idx_bytes(_images(N_TEST)), "test_y": idx_bytes(_labels(N_TEST))}.items()},
        **{k: None for k in IDX_NAMES})), returns(_ok())),
    # --- lower-level entry points
    case("read_idx-folder", lambda tmp: data.read_idx(tmp), raises(data.DataError, r"does not exist \(or is not a file\)")),
    case("binarize_threshold-bad", lambda tmp: data.binarize_threshold(np.zeros(3), threshold=-0.1), raises(ValueError, r"threshold must be in \[0, 1\], got -0\.1")),
]


@pytest.mark.parametrize("call, expect", ROWS)
def test_hostile_data(call, expect, tmp_path):
    data.clear_cache()
    run_case(call, expect, tmp_path)


def test_a_rewritten_file_is_reread_not_served_from_memory(tmp_path):
    """A file replaced by a corrupt one between two loads (same size, same mtime) is caught."""
    root = make_root(tmp_path)
    assert len(data.load("mnist", data_dir=root).train) == N_TRAIN
    path = root / "mnist" / f"{IDX_NAMES['train_y']}.gz"
    st = path.stat()
    good = path.read_bytes()
    bad = gzip.compress(idx_bytes(_labels(N_TRAIN, 10)), compresslevel=1)
    path.write_bytes(bad[:len(good)].ljust(len(good), b"\0") if len(bad) <= len(good) else bad)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(data.DataError):
        data.load("mnist", data_dir=root)
