"""aecore.archive and `python -m aecore cache`: export -> import reproduces the runs without
training; corrupt, truncated or foreign archives are refused and leave the cache as it was; an
entry already in the cache is never overwritten; an archive downloads from an http address."""

from __future__ import annotations

import functools
import http.server
import os
import tarfile
import threading
from pathlib import Path

import pytest

from aecore import cache as cache_mod
from aecore import archive, cli, experiments

DATA = Path(os.environ.get("AECORE_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")
pytestmark = pytest.mark.skipif(not (DATA / "mnist").is_dir(), reason=f"offline MNIST not found in {DATA}")


def _configs():
    base = experiments.Config(dataset="mnist", model="dense_ae", loss="bce", n_train=64, n_test=64, n_val=0,
                              epochs=1, batch_size=32, model_kwargs={})
    return [base.replace(seed=s) for s in (0, 1)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A cache with two trained runs, and its archive."""
    mp = pytest.MonkeyPatch()
    src = tmp_path_factory.mktemp("src")
    mp.setenv("AECORE_DATA_DIR", str(DATA))
    mp.setenv(cache_mod.CACHE_ENV_VAR, str(src))
    table = experiments.sweep(_configs(), progress=False)
    path = tmp_path_factory.mktemp("out") / "runs.tar.gz"
    manifest = archive.export(path)
    mp.undo()
    return src, path, manifest, table


def _entries(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")} if root.is_dir() else set()


def test_export_then_import_reads_every_run_back_without_training(exported, tmp_path, monkeypatch):
    src, path, manifest, table = exported
    assert manifest["entries"] == 2 and manifest["skipped"] == []
    assert not [name for name in manifest["files"] if cache_mod.KEY_FILE in name]  # the key never leaves its cache
    monkeypatch.setenv("AECORE_DATA_DIR", str(DATA))
    monkeypatch.setenv(cache_mod.CACHE_ENV_VAR, str(tmp_path))
    assert archive.import_(path) == {"added": 2, "kept": 0, "replaced": 0, "entries": 2}
    # signed with another key here: importing re-signs each entry (else every read below would retrain)
    assert cache_mod.signing_key(tmp_path) != cache_mod.signing_key(src)
    assert _entries(tmp_path) == _entries(src)
    monkeypatch.setattr(experiments, "_train_and_evaluate", lambda *a, **k: pytest.fail("it trained"))
    again = experiments.sweep(_configs(), progress=False)
    assert again["from_cache"].all()
    assert again["mse_per_pixel"].tolist() == table["mse_per_pixel"].tolist()


def test_an_entry_already_there_is_never_overwritten(exported, tmp_path):
    _, path, _, _ = exported
    archive.import_(path, root=tmp_path)
    entry = sorted(_entries(tmp_path))[0]
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / entry).iterdir()}
    assert archive.import_(path, root=tmp_path) == {"added": 0, "kept": 2, "replaced": 0, "entries": 2}
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / entry).iterdir()} == before


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_a_corrupt_or_truncated_archive_is_refused_and_the_cache_untouched(exported, tmp_path, damage):
    _, path, _, _ = exported
    bad = tmp_path / "bad.tar.gz"
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0xFF
    else:
        data = bytearray(b"<html>not found</html>")
    bad.write_bytes(bytes(data))
    cache = tmp_path / "cache"
    with pytest.raises(archive.ArchiveError, match=r"truncated|corrupt|checksums"):
        archive.import_(bad, root=cache)
    assert _entries(cache) == set() and not any(cache.glob(".tmp-*"))


def test_a_foreign_archive_is_refused(tmp_path):
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        (tmp_path / "x").write_text("x")
        tar.add(tmp_path / "x", arcname="../../outside.txt")
    with pytest.raises(archive.ArchiveError, match="not an entry file of a run cache archive"):
        archive.import_(evil, root=tmp_path / "cache")
    assert not (tmp_path.parent / "outside.txt").exists()
    plain = tmp_path / "plain.tar.gz"
    with tarfile.open(plain, "w:gz") as tar:
        tar.add(tmp_path / "x", arcname="entries/e/metrics.json")
    with pytest.raises(archive.ArchiveError, match="no MANIFEST.json"):
        archive.import_(plain, root=tmp_path / "cache")


def test_import_downloads_from_a_local_http_server(exported, tmp_path):
    _, path, _, _ = exported
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(path.parent))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{path.name}"
        assert archive.import_(url, root=tmp_path)["added"] == 2
        with pytest.raises(archive.ArchiveError, match="could not download .*/missing.tar.gz"):
            archive.import_(url.replace(path.name, "missing.tar.gz"), root=tmp_path)
    finally:
        server.shutdown()


def test_the_command_line(exported, tmp_path, monkeypatch, capsys):
    src, path, _, _ = exported
    monkeypatch.setenv(cache_mod.CACHE_ENV_VAR, str(src))
    assert cli.main(["cache", "export", str(tmp_path / "runs.zip")]) == 2
    assert "must be a .tar.gz" in capsys.readouterr().err
    assert cli.main(["cache", "export", str(tmp_path / "again.tar.gz")]) == 0
    assert "exported 2 runs" in capsys.readouterr().err
    monkeypatch.setenv(cache_mod.CACHE_ENV_VAR, str(tmp_path / "dest"))
    assert cli.main(["cache", "import", str(tmp_path / "again.tar.gz")]) == 0
    assert "2 runs added" in capsys.readouterr().err
    (tmp_path / "broken.tar.gz").write_bytes(b"\x1f\x8b broken")
    assert cli.main(["cache", "import", str(tmp_path / "broken.tar.gz")]) == 1
    assert "error: " in capsys.readouterr().err


# --------------------------------------------------------------------------- the published runs, on Colab


class _Meta:
    def __init__(self, urls):
        self.urls = urls

    def get_all(self, key):
        return self.urls if key == "Project-URL" else None


def test_the_published_runs_address_comes_from_the_package_metadata(monkeypatch):
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "metadata",
                        lambda name: _Meta(["Source, https://x/y", "Published runs, https://x/y/runs.tar.gz"]))
    assert archive.published_runs_url() == "https://x/y/runs.tar.gz"
    monkeypatch.setattr(importlib.metadata, "metadata", lambda name: _Meta(["Source, https://x/y"]))
    assert archive.published_runs_url() is None

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "metadata", missing)
    assert archive.published_runs_url() is None


def test_use_published_runs_imports_once_in_full_only_and_survives_a_failed_download(exported, tmp_path,
                                                                                       monkeypatch, capsys):
    from aecore.profiles import PROFILES

    _, path, _, _ = exported
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(path.parent))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(archive, "_imported", set())
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{path.name}"
        assert archive.use_published_runs(PROFILES["fast"], url=url, root=tmp_path) is None
        assert not tmp_path.exists() or not _entries(tmp_path)
        monkeypatch.setenv(archive.PUBLISHED_RUNS_ENV, "0")
        assert archive.use_published_runs(PROFILES["full"], url=url, root=tmp_path) is None
        monkeypatch.delenv(archive.PUBLISHED_RUNS_ENV)
        assert archive.use_published_runs(PROFILES["full"], url=url, root=tmp_path)["added"] == 2
        assert "2 added to the run cache" in capsys.readouterr().out
        assert archive.use_published_runs(PROFILES["full"], url=url, root=tmp_path) is None  # once per process
        monkeypatch.setattr(archive, "_imported", set())  # a new kernel (the next chapter), the same cache:
        monkeypatch.setattr(archive, "import_", lambda *a, **k: pytest.fail("downloaded again"))
        assert archive.use_published_runs(PROFILES["full"], url=url, root=tmp_path) is None
        monkeypatch.undo()
        monkeypatch.setattr(archive, "_imported", set())
        other = tmp_path / "other"
        with pytest.warns(UserWarning, match="not imported .*could not download.*trains its runs instead"):
            assert archive.use_published_runs("full", url=url.replace(path.name, "gone.tar.gz"), root=other) is None
        assert not _entries(other)
    finally:
        server.shutdown()
    monkeypatch.setattr(archive, "published_runs_url", lambda: None)
    assert archive.use_published_runs("full", root=tmp_path / "none") is None  # no address known: nothing


def test_the_release_exports_the_runs_under_the_address_it_stamps(exported, tmp_path):
    import sys
    import tomllib

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    import stamp_runs_url

    src, _, _, _ = exported
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert stamp_runs_url.main(["--repository", "o/b", "--version", "9.9", "--pyproject", str(pyproject),
                                "--export", str(src), "--out-dir", str(tmp_path / "dist-runs")]) == 0
    url = tomllib.loads(pyproject.read_text())["project"]["urls"]["Published runs"]
    asset = tmp_path / "dist-runs" / stamp_runs_url.asset_name("9.9")
    assert url.endswith("/v9.9/" + asset.name) and asset.is_file()
    assert archive.import_(asset, root=tmp_path / "cache")["added"] == 2  # the asset is a valid archive
    assert stamp_runs_url.main(["--repository", "o/b", "--pyproject", str(pyproject),
                                "--export", str(tmp_path / "no-cache"), "--out-dir", str(tmp_path / "x")]) == 1
