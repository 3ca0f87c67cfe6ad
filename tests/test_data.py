"""Tests for aecore.data: offline IDX loading, validation errors, subsampling, binarisation.

Bad files are written here with an independent IDX writer (``struct``), not with
aecore's own code, so a parser bug cannot hide behind a matching writer bug.
"""

from __future__ import annotations

import gzip
import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from aecore import data
from aecore.data import DataError

REPO_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


# ----------------------------------------------------------------------------- helpers


def idx_bytes(arr: np.ndarray, *, magic: int | None = None) -> bytes:
    """Serialise a uint8 array as IDX: 0x00 0x00 0x08 ndim, big-endian uint32 dims, payload."""
    arr = np.asarray(arr, dtype=np.uint8)
    if magic is None:
        magic = 0x0800 | arr.ndim
    return struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def write(path: Path, payload: bytes, *, gz: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)
    return path


def make_root(tmp_path: Path, *, n_train: int = 12, n_test: int = 7, gz: bool = True,
              folder: str = "mnist", seed: int = 0) -> tuple[Path, dict]:
    """A data root with one dataset folder of random (unique) images; returns (root, arrays)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, size=n, dtype=np.uint8)
        images_stem, labels_stem = STEMS[split]
        write(tmp_path / folder / images_stem, idx_bytes(x), gz=gz)
        write(tmp_path / folder / labels_stem, idx_bytes(y), gz=gz)
        arrays[split] = (x, y)
    return tmp_path, arrays


def to_uint8(x: np.ndarray) -> np.ndarray:
    return np.rint(x[..., 0] * 255).astype(np.uint8)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    """No test sees the caller's AECORE_DATA_DIR unless it sets it, nor another test's cache."""
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    yield
    data._load_online_raw.cache_clear()


@pytest.fixture(scope="module")
def offline_dir() -> Path:
    env = os.environ.get(data.ENV_VAR, "").strip()
    for candidate in ([Path(env)] if env else []) + [REPO_DATA]:
        if (candidate / "mnist").is_dir() and (candidate / "fashion-mnist").is_dir():
            return candidate
    pytest.skip(f"offline data not found: set {data.ENV_VAR} or provide {REPO_DATA} "
                f"with mnist/ and fashion-mnist/")


# ----------------------------------------------------------------------------- real offline data


def test_offline_mnist(offline_dir):
    ds = data.load("mnist", data_dir=offline_dir)
    assert ds.name == "mnist" and ds.pretty_name == "MNIST"
    assert ds.source == f"offline IDX files in {(offline_dir / 'mnist').resolve()}"
    for split, n in ((ds.train, 5000), (ds.test, 10000)):
        assert split.x.shape == (n, 28, 28, 1) and split.x.dtype == np.float32
        assert split.y.shape == (n,) and split.y.dtype == np.int64
        assert split.x.min() == 0.0 and split.x.max() == 1.0
        assert split.n_available == n
        assert set(np.unique(split.y)) == set(range(10))
    np.testing.assert_array_equal(np.bincount(ds.train.y), np.full(10, 500))
    np.testing.assert_array_equal(ds.test.y[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    assert ds.test.x.astype(np.float64).mean() == pytest.approx(0.1325, abs=1e-4)
    assert ds.describe() == (f"MNIST: 5,000 of 5,000 training and 10,000 of 10,000 test images "
                             f"(seed 0), {ds.source}; not binarised.")


def test_offline_fashion_mnist(offline_dir):
    ds = data.load("fashion-mnist", data_dir=offline_dir)
    assert ds.name == "fashion_mnist" and ds.pretty_name == "Fashion-MNIST"
    assert ds.train.x.shape == (60000, 28, 28, 1) and ds.test.x.shape == (10000, 28, 28, 1)
    assert ds.train.n_available == 60000 and ds.test.n_available == 10000
    np.testing.assert_array_equal(ds.train.y[:10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
    np.testing.assert_array_equal(np.bincount(ds.train.y), np.full(10, 6000))
    x = ds.train.x.astype(np.float64)
    assert x.mean() == pytest.approx(0.2860, abs=3e-4)
    assert x.std() == pytest.approx(0.3530, abs=3e-4)
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_env_var_is_used_and_argument_wins(offline_dir, monkeypatch, tmp_path):
    monkeypatch.setenv(data.ENV_VAR, str(offline_dir))
    ds = data.load("fashion", n_train=10, n_test=10)
    assert ds.source.startswith("offline IDX files in ") and ds.name == "fashion_mnist"
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "nowhere"))
    assert len(data.load("mnist", n_train=10, n_test=10, data_dir=offline_dir).train) == 10


def test_returned_arrays_cannot_corrupt_the_cache(offline_dir):
    first = data.load("mnist", n_train=50, n_test=50, data_dir=offline_dir)
    expected_x, expected_y = first.test.x.copy(), first.test.y.copy()
    first.test.x[:] = 0.5  # callers own their arrays ...
    first.test.y[:] = 3
    again = data.load("mnist", n_train=50, n_test=50, data_dir=offline_dir)
    np.testing.assert_array_equal(again.test.x, expected_x)  # ... and the cache is untouched
    np.testing.assert_array_equal(again.test.y, expected_y)
    assert len(np.unique(expected_y)) > 1


def test_too_many_images_names_the_real_count(offline_dir):
    with pytest.raises(DataError, match=r"n_train=5,001 .*has 5,000 training images.*at most 5,000"):
        data.load("mnist", n_train=5001, data_dir=offline_dir)
    with pytest.raises(DataError, match=r"10,000 test images"):
        data.load("mnist", n_test=20000, data_dir=offline_dir)


# ----------------------------------------------------------------------------- subsampling


def test_subsampling_is_seeded_ordered_and_described(tmp_path):
    root, arrays = make_root(tmp_path, n_train=40, n_test=30)
    a = data.load("mnist", n_train=10, n_test=5, seed=1, data_dir=root)
    b = data.load("mnist", n_train=10, n_test=5, seed=1, data_dir=root)
    c = data.load("mnist", n_train=10, n_test=5, seed=2, data_dir=root)
    np.testing.assert_array_equal(a.train.x, b.train.x)
    np.testing.assert_array_equal(a.test.y, b.test.y)
    assert not np.array_equal(a.train.x, c.train.x)
    # Every chosen image is a distinct source image, kept in the source order.
    x_src, y_src = arrays["train"]
    where = {img.tobytes(): i for i, img in enumerate(x_src)}
    idx = [where[img.tobytes()] for img in to_uint8(a.train.x)]
    assert idx == sorted(set(idx)) and len(idx) == 10
    np.testing.assert_array_equal(a.train.y, y_src[idx])
    assert (a.train.n_available, a.test.n_available) == (40, 30)
    assert a.describe().startswith("MNIST: 10 of 40 training and 5 of 30 test images (seed 1), "
                                   "offline IDX files in ")
    assert a.describe().endswith("; not binarised.")


def test_full_split_is_exact_and_in_order(tmp_path):
    root, arrays = make_root(tmp_path)
    ds = data.load("mnist", data_dir=root)
    np.testing.assert_array_equal(to_uint8(ds.train.x), arrays["train"][0])
    np.testing.assert_array_equal(ds.test.y, arrays["test"][1])
    # x is exactly uint8 / 255 rounded once to float32
    np.testing.assert_array_equal(ds.test.x[..., 0], (arrays["test"][0] / 255.0).astype(np.float32))


@pytest.mark.parametrize("kwargs, pattern", [
    ({"n_train": 13}, r"n_train=13 .*has 12 training images; ask for at most 12"),
    ({"n_test": 0}, r"n_test must be a positive int"),
    ({"n_train": -1}, r"n_train must be a positive int"),
    ({"n_train": 2.5}, r"n_train must be a positive int"),
])
def test_bad_sizes(tmp_path, kwargs, pattern):
    root, _ = make_root(tmp_path)
    with pytest.raises(DataError, match=pattern):
        data.load("mnist", data_dir=root, **kwargs)


def test_unknown_name_binarize_and_seed():
    with pytest.raises(ValueError, match=r"mnist, fashion_mnist"):
        data.load("cifar10")
    with pytest.raises(ValueError, match=r"'threshold', 'dynamic'"):
        data.load("mnist", binarize="otsu")
    with pytest.raises(ValueError, match=r"seed"):
        data.load("mnist", seed=-1)
    assert issubclass(DataError, ValueError)


# ----------------------------------------------------------------------------- IDX files


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_round_trip(tmp_path, gz):
    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=7, dtype=np.uint8)
    x_back = data.read_idx(write(tmp_path / "images", idx_bytes(x), gz=gz))
    y_back = data.read_idx(write(tmp_path / "labels", idx_bytes(y), gz=gz))
    assert x_back.dtype == np.uint8 and x_back.shape == (7, 28, 28)
    np.testing.assert_array_equal(x_back, x)
    np.testing.assert_array_equal(y_back, y)


def test_plain_and_gz_folders_load_the_same(tmp_path):
    gz_root, _ = make_root(tmp_path / "gz", gz=True, seed=3)
    plain_root, _ = make_root(tmp_path / "plain", gz=False, seed=3)
    a, b = data.load("mnist", data_dir=gz_root), data.load("mnist", data_dir=plain_root)
    np.testing.assert_array_equal(a.train.x, b.train.x)
    np.testing.assert_array_equal(a.test.y, b.test.y)


def test_cache_notices_a_rewritten_file(tmp_path):
    root, _ = make_root(tmp_path)
    path = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    before = data.load("mnist", data_dir=root).test.y
    new = (before + 1) % 10
    path.write_bytes(gzip.compress(idx_bytes(new)))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # coarse-mtime filesystems
    np.testing.assert_array_equal(data.load("mnist", data_dir=root).test.y, new)


def _expect(path: Path, pattern: str, load_root: Path | None = None) -> None:
    """read_idx (or load, when load_root is given) raises DataError naming `path`."""
    with pytest.raises(DataError) as info:
        if load_root is None:
            data.read_idx(path)
        else:
            data.load("mnist", data_dir=load_root)
    message = str(info.value)
    assert str(path) in message or str(path.resolve()) in message, message
    assert re.search(pattern, message), message


def test_wrong_magic(tmp_path):
    labels = np.zeros(5, np.uint8)
    path = write(tmp_path / "labels", idx_bytes(labels, magic=0x00000802), gz=False)
    _expect(path, r"0x00000802, expected 0x00000801 .*0x00000803")
    html = write(tmp_path / "html", b"<!DOCTYPE html><html>Not Found</html>", gz=True)
    _expect(html, r"0x3C21444F.*is this an IDX file")
    # gzip data under a plain name (e.g. a renamed download) is not silently accepted
    twice = tmp_path / "labels-plain"
    twice.write_bytes(gzip.compress(idx_bytes(labels)))
    _expect(twice, r"gzip-compressed")


def test_truncated_and_trailing_bytes(tmp_path):
    x = np.ones((3, 28, 28), np.uint8)
    payload = idx_bytes(x)
    truncated = write(tmp_path / "short", payload[:-10], gz=True)
    _expect(truncated, r"truncated.*2,352 payload bytes, found 2,342.*re-download")
    header_only = write(tmp_path / "header", payload[:10], gz=False)
    _expect(header_only, r"truncated")
    trailing = write(tmp_path / "long", payload + b"\x00\x01", gz=False)
    _expect(trailing, r"2 trailing bytes")


def test_corrupt_gzip_and_wrong_image_size(tmp_path):
    not_gzip = tmp_path / "junk.gz"
    not_gzip.write_bytes(b"this is not gzip at all")
    _expect(not_gzip, r"not a valid gzip file")
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(idx_bytes(np.ones((3, 28, 28), np.uint8)))[:-20])
    _expect(cut, r"not a valid gzip file")
    small = write(tmp_path / "small", idx_bytes(np.ones((2, 27, 28), np.uint8)), gz=False)
    _expect(small, r"27x28, expected 28x28")


def test_count_mismatch_names_both_files(tmp_path):
    root, _ = make_root(tmp_path, n_train=12)
    labels = root / "mnist" / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(idx_bytes(np.zeros(11, np.uint8))))
    images = root / "mnist" / "train-images-idx3-ubyte.gz"
    _expect(labels, r"has 12 images but .* has 11 labels", load_root=root)
    _expect(images, r"has 12 images", load_root=root)


def test_labels_out_of_range(tmp_path):
    root, _ = make_root(tmp_path)
    labels = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(idx_bytes(np.array([0, 1, 2, 3, 4, 5, 10], np.uint8))))
    _expect(labels, r"labels must be 0\.\.9.*\[10\]", load_root=root)


def test_missing_folder_subfolder_and_file(tmp_path, monkeypatch):
    nowhere = tmp_path / "nowhere"
    _expect(nowhere, r"from the data_dir argument.*does not exist.*AECORE_DATA_DIR", load_root=nowhere)
    monkeypatch.setenv(data.ENV_VAR, str(nowhere))
    with pytest.raises(DataError, match=rf"{re.escape(str(nowhere))}.*environment variable AECORE_DATA_DIR"
                                        rf".*unset it to load online"):
        data.load("mnist")

    root, _ = make_root(tmp_path / "root")
    with pytest.raises(DataError, match=re.escape(str((root / "fashion-mnist").resolve())) + r" is missing"):
        data.load("fashion_mnist", data_dir=root)
    # pointing at the dataset folder itself gets a hint
    with pytest.raises(DataError, match=r"point at its parent"):
        data.load("mnist", data_dir=root / "mnist")

    missing = root / "mnist" / "t10k-images-idx3-ubyte.gz"
    missing.unlink()
    _expect(missing, r"missing file", load_root=root)


# ----------------------------------------------------------------------------- binarisation


def test_binarize_threshold():
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    x[0, 0, 0, 0] = 0.5  # the boundary: 0.5 > 0.5 is False
    for t in (0.25, 0.5):
        b = data.binarize_threshold(x, t)
        assert b.dtype == np.float32 and b.shape == x.shape
        assert set(np.unique(b)) <= {0.0, 1.0}
        np.testing.assert_array_equal(b == 1.0, x > t)
    assert data.binarize_threshold(x)[0, 0, 0, 0] == 0.0


def test_binarize_dynamic_is_unbiased_and_seeded():
    p = np.linspace(0.0, 1.0, 11, dtype=np.float32)  # [11]
    many = np.broadcast_to(p, (20000, 11))  # [S, 11]: S samples of each probability
    b = data.binarize_dynamic(many, seed=0)
    assert b.dtype == np.float32 and set(np.unique(b)) <= {0.0, 1.0}
    # law of large numbers: 5 standard errors of a Bernoulli mean is at most 5 * 0.5 / sqrt(S)
    np.testing.assert_allclose(b.mean(axis=0), p, atol=5 * 0.5 / np.sqrt(20000))
    assert b[:, 0].max() == 0.0 and b[:, -1].min() == 1.0  # p = 0 and p = 1 are exact
    np.testing.assert_array_equal(data.binarize_dynamic(many, seed=0), b)
    assert not np.array_equal(data.binarize_dynamic(many, seed=1), b)


def test_binarize_dynamic_tf():
    tf = pytest.importorskip("tensorflow")
    x = tf.constant(np.random.default_rng(0).random((64, 28, 28, 1), dtype=np.float32))
    a = data.binarize_dynamic_tf(x, tf.constant([1, 2], tf.int64)).numpy()
    b = data.binarize_dynamic_tf(x, tf.constant([1, 2], tf.int64)).numpy()
    c = data.binarize_dynamic_tf(x, tf.constant([1, 3], tf.int64)).numpy()
    assert a.dtype == np.float32 and a.shape == (64, 28, 28, 1)
    assert set(np.unique(a)) <= {0.0, 1.0}
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert abs(a.mean() - x.numpy().mean()) < 0.01  # 50k pixels: std of the mean < 0.0023


def test_load_binarized(tmp_path):
    root, _ = make_root(tmp_path, n_train=40)
    grey = data.load("mnist", data_dir=root)
    thr = data.load("mnist", data_dir=root, binarize="threshold", threshold=0.3)
    np.testing.assert_array_equal(thr.train.x == 1.0, grey.train.x > 0.3)
    assert "thresholding at 0.3" in thr.describe()
    dyn = data.load("mnist", data_dir=root, binarize="dynamic", seed=5)
    again = data.load("mnist", data_dir=root, binarize="dynamic", seed=5)
    other = data.load("mnist", data_dir=root, binarize="dynamic", seed=6)
    np.testing.assert_array_equal(dyn.train.x, again.train.x)
    assert not np.array_equal(dyn.train.x, other.train.x)
    assert set(np.unique(dyn.test.x)) == {0.0, 1.0}
    np.testing.assert_array_equal(dyn.train.y, grey.train.y)
    # 31,360 pixels: the binary mean is within 0.01 of the grey mean (std of the mean < 0.003)
    assert abs(dyn.train.x.mean() - grey.train.x.mean()) < 0.01
    assert "Bernoulli sample per pixel (seed 5)" in dyn.describe()


# ----------------------------------------------------------------------------- online path


def test_online_failure_explains_the_offline_fix(monkeypatch):
    keras = pytest.importorskip("keras")

    def no_internet():
        raise OSError("URL fetch failure: Name or service not known")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", no_internet)
    with pytest.raises(DataError, match=r"AECORE_DATA_DIR.*\.\./shared/data.*internet") as info:
        data.load("mnist")
    assert isinstance(info.value.__cause__, OSError)


def test_online_success_is_validated_and_converted(monkeypatch):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    y_train = rng.integers(0, 10, 20, dtype=np.uint8)
    x_test, y_test = x_train[:6].copy(), y_train[:6].copy()
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data",
                        lambda: ((x_train, y_train), (x_test, y_test)))
    ds = data.load("fashion", n_train=8)
    assert ds.source == "keras.datasets (online)"
    assert (ds.train.n_available, len(ds.train), len(ds.test)) == (20, 8, 6)
    assert ds.train.x.dtype == np.float32 and ds.train.y.dtype == np.int64
    np.testing.assert_array_equal(to_uint8(ds.test.x), x_test)
    with pytest.raises(DataError, match=r"keras.datasets Fashion-MNIST has 20 training images"):
        data.load("fashion", n_train=21)
    y_test[0] = 12  # labels out of range are caught online too
    data._load_online_raw.cache_clear()
    with pytest.raises(DataError, match=r"labels must be 0\.\.9"):
        data.load("fashion")


def test_cache_notices_a_rewrite_that_keeps_size_and_mtime(tmp_path):
    root, _ = make_root(tmp_path)
    path = root / "mnist" / "t10k-labels-idx1-ubyte"
    path.write_bytes(gzip.decompress((root / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    (root / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    before = data.load("mnist", data_dir=root).test.y
    st = path.stat()
    new = (before + 1) % 10
    path.write_bytes(idx_bytes(new))  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the old mtime put back
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    np.testing.assert_array_equal(data.load("mnist", data_dir=root).test.y, new)


def test_a_gzip_bomb_is_refused_without_decompressing_it_all(tmp_path):
    import resource

    path = tmp_path / "train-images-idx3-ubyte.gz"
    header = struct.pack(">IIII", 0x00000803, 1_000_000, 28, 28)
    with gzip.open(path, "wb", compresslevel=9) as f:  # ~784 MB of zeros in ~1 MB of gzip
        f.write(header)
        block = bytes(2**24)
        for _ in range(47):
            f.write(block)
    assert path.stat().st_size < 2 * 2**20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DataError, match=r"holds more than 67,108,864 bytes \(decompressed\)"):
        data.read_idx(path)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 300  # the cap (64 MiB) and a copy, not the 784 MB the header promises


# ----------------------------------------------------------------------------- the book's MNIST images online

SHARED = Path(os.environ.get("AECORE_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")
needs_offline = pytest.mark.skipif(not (SHARED / "mnist").is_dir(), reason=f"offline MNIST not found in {SHARED}")


def _offline_train():
    folder = SHARED / "mnist"
    return (data.read_idx(data._find_file(folder, "train-images-idx3-ubyte")),
            data.read_idx(data._find_file(folder, "train-labels-idx1-ubyte")))


@needs_offline
def test_the_shipped_fingerprints_are_the_offline_training_images_in_order():
    images, labels = _offline_train()
    assert data._book_fingerprints() == data.image_fingerprints(images, labels)
    assert len(data._book_fingerprints()) == 5000 == len(set(data._book_fingerprints()))


def _fake_download(monkeypatch, images, labels, seed=0, drop=0):
    """keras.datasets.mnist as 60,000 training images with the book's 5,000 (minus ``drop``) hidden
    at random positions among random other images."""
    rng = np.random.default_rng(seed)
    n = 60_000
    x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=n).astype(np.uint8)
    slots = rng.choice(n, size=len(labels) - drop, replace=False)
    x[slots], y[slots] = images[drop:], labels[drop:]
    test_x = rng.integers(0, 256, size=(100, 28, 28), dtype=np.uint8)
    test_y = rng.integers(0, 10, size=100).astype(np.uint8)
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setattr(data, "_keras_loader", lambda name: lambda: ((x, y), (test_x, test_y)))
    data.clear_cache()


@needs_offline
def test_online_mnist_trains_on_the_books_images(monkeypatch):
    images, labels = _offline_train()
    offline = data.load("mnist", data_dir=SHARED)
    _fake_download(monkeypatch, images, labels)
    try:
        online = data.load("mnist", n_test=100)
        assert "the book's 5,000 images, matched by fingerprint" in online.source
        np.testing.assert_array_equal(online.train.x, offline.train.x)
        np.testing.assert_array_equal(online.train.y, offline.train.y)
        fast_online, fast_offline = data.load("mnist", n_train=1000, n_test=100, seed=0), \
            data.load("mnist", n_train=1000, seed=0, data_dir=SHARED)
        np.testing.assert_array_equal(fast_online.train.x, fast_offline.train.x)  # the same draws of 1,000
    finally:
        data.clear_cache()


@needs_offline
def test_a_download_without_some_of_the_books_images_falls_back_with_a_warning(monkeypatch):
    images, labels = _offline_train()
    _fake_download(monkeypatch, images, labels, drop=3)
    try:
        with pytest.warns(data.DataWarning, match=r"3 of the book's 5,000 MNIST training images are not in"):
            d = data.load("mnist", n_train=5000, n_test=100)
        assert "a random draw (3 of the book's images missing online)" in d.source
        assert d.train.n_available == 60_000
    finally:
        data.clear_cache()
