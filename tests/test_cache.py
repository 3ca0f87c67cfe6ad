"""aecore.cache: where entries live, atomic writes, what is cleaned up (only what aecore made),
exact float round trips, the mode of a shared entry; and the one read path with its messages.
(The runner's use of it, train-then-read and retrain-on-damage, is tested in test_runner.py
with a fake run kind and in test_experiments.py / test_vae.py with real runs.)"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aecore import cache as store


def test_cache_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path / "c"))
    assert store.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("AECORE_CACHE_DIR")
    repo = Path(store.__file__).resolve().parent.parent
    if (repo / "pyproject.toml").is_file():  # imported from the source checkout
        assert store.cache_dir() == repo / ".aecore_cache"
    else:  # an installed copy
        assert store.cache_dir() == Path.home() / ".cache" / "aecore"

def test_stale_temp_dirs_are_removed_only_when_aecore_made_them(tmp_path):
    old = time.time() - store._STALE_TMP_SECONDS - 60
    ours = tmp_path / f"{store._TMP_PREFIX}killed"
    ours.mkdir()
    (ours / store._TMP_MARKER).touch()
    (ours / "metrics.json").write_text("{}")
    foreign = [tmp_path / ".tmp-someone-elses", tmp_path / f"{store._TMP_PREFIX}no-marker"]
    for folder in foreign:
        folder.mkdir()
        (folder / "keep.txt").write_text("not aecore's")
    fresh = tmp_path / f"{store._TMP_PREFIX}still-writing"
    fresh.mkdir()
    (fresh / store._TMP_MARKER).touch()
    for folder in [ours, *foreign]:
        os.utime(folder, (old, old))
    key_old, key_new, other = (tmp_path / f"{store._KEY_TMP_PREFIX}a", tmp_path / f"{store._KEY_TMP_PREFIX}b",
                               tmp_path / f"{store._TMP_PREFIX}file")
    for path in (key_old, key_new, other):
        path.write_text("x")
    os.utime(key_old, (old, old))
    os.utime(other, (old, old))
    store._remove_stale_tmp(tmp_path)
    assert not key_old.exists() and key_new.exists() and other.exists()  # only a key half made by a killed process
    assert not ours.exists()  # a killed writer's leftover
    assert all((folder / "keep.txt").read_text() == "not aecore's" for folder in foreign)
    assert fresh.exists()  # too recent: may belong to a run still writing


def test_a_finished_entry_holds_no_temp_marker(tmp_path):
    final = tmp_path / "entry"
    store.write_entry_atomically(tmp_path, final, lambda d: (d / "a.txt").write_text("x"))
    assert sorted(p.name for p in final.iterdir()) == ["a.txt", store.MANIFEST]
    assert json.loads((final / store.MANIFEST).read_text())["files"].keys() == {"a.txt"}


def test_cache_reads_every_float_back_exactly_and_quietly(tmp_path):
    import warnings as _warnings

    values = np.random.default_rng(0).random(2000) * np.exp(np.random.default_rng(1).normal(0, 10, 2000))
    pd.DataFrame({"loss": values}).to_csv(tmp_path / "h.csv", index=False)
    with _warnings.catch_warnings():
        _warnings.simplefilter("error")  # pandas 3 deprecates float_precision: no warning may be raised
        back = store.read_csv_exact(tmp_path / "h.csv")
    assert np.array_equal(back["loss"].to_numpy(), values)

def test_an_entry_folder_gets_the_umask_mode_not_mkdtemps_0700(tmp_path):
    old = os.umask(0o022)
    try:
        final = store.write_entry_atomically(tmp_path, tmp_path / "entry", lambda d: (d / "a").write_text("x"))
    finally:
        os.umask(old)
    assert final.stat().st_mode & 0o777 == 0o755  # readable by another account sharing the cache


class _Model:
    def __init__(self, text: str = "w"):
        self.text = text

    def save_weights(self, path):
        Path(path).write_text(self.text)

    def load_weights(self, path):
        self.text = Path(path).read_text()


def _write(root: Path, stored: dict, history: pd.DataFrame | None = None) -> Path:
    history = pd.DataFrame({"epoch": [1], "loss": [0.5]}) if history is None else history
    return store.write_entry(root, root / "entry", stored_config=stored, run_metrics={"m": 1.0},
                             tables={"history": history}, model=_Model())


def _read(path: Path, stored: dict, **kw):
    args = dict(key=store.signing_key(path.parent), stored_config=stored, tables=("history",), epochs=1, metrics_required=("m",),
                history_columns=("epoch", "loss"), build_model=_Model)
    return store.read_entry(path, **{**args, **kw})


STORED = {"kind": "fake", "config": {"a": 1}, "data_fingerprint": "f" * 64}


def test_an_entry_round_trips_and_records_the_stack_it_was_trained_with(tmp_path):
    path = _write(tmp_path, STORED)
    metrics, frames, model = _read(path, STORED)
    assert metrics == {"m": 1.0} and frames["history"]["loss"].tolist() == [0.5] and model.text == "w"
    recorded = json.loads((path / store.CONFIG_FILE).read_text())
    assert set(recorded["trained_with"]) == {"tensorflow", "keras", "numpy"}


@pytest.mark.parametrize("change, message", [
    ({"config": {"a": 2}}, "holds a different config"),
    ({"kind": "other"}, "holds a different config"),
    ({"data_fingerprint": "0" * 64}, "trained on other images"),
])
def test_a_mismatched_request_is_named(tmp_path, change, message):
    path = _write(tmp_path, STORED)
    with pytest.raises(store.EntryError, match=message):
        _read(path, {**STORED, **change})


@pytest.mark.parametrize("history, message", [
    (pd.DataFrame({"epoch": [1, 2], "loss": [0.5, 0.4]}), r"epochs \[1, 2\]"),
    (pd.DataFrame({"epoch": [1], "loss": [float("nan")]}), "non-finite training loss"),
    (pd.DataFrame({"epoch": [1]}), "lacks the column"),
])
def test_content_no_run_could_write_is_caught(tmp_path, history, message):
    path = _write(tmp_path, STORED, history)
    with pytest.raises(store.EntryError, match=message):
        _read(path, STORED)


def test_a_model_that_does_not_load_is_an_entry_error(tmp_path):
    class Broken(_Model):
        def load_weights(self, path):
            raise ValueError("layer count mismatch")

    path = _write(tmp_path, STORED)
    with pytest.raises(store.EntryError, match="could not load it.*layer count mismatch"):
        _read(path, STORED, build_model=Broken)
    assert _read(path, STORED, build_model=None)[2] is None  # verified without loading a model


def test_the_images_fingerprint_depends_on_every_byte_and_the_order():
    a, b = np.zeros(4, np.float32), np.ones(4, np.float32)
    assert store.fingerprint_arrays(a, b) != store.fingerprint_arrays(b, a)
    c = a.copy()
    c[3] = np.nextafter(np.float32(0), np.float32(1))
    assert store.fingerprint_arrays(a, b) != store.fingerprint_arrays(c, b)


# --- signed entries: an edit by anyone who cannot read the cache folder's key is caught ---


def _rewrite_checksums(entry: Path, name: str, text: str) -> None:
    """An edit with a matching manifest, by someone without the key (another account, a tool)."""
    (entry / name).write_text(text)
    manifest = json.loads((entry / store.MANIFEST).read_text())
    manifest["files"][name] = store.sha256_file(entry / name)
    (entry / store.MANIFEST).write_text(json.dumps(manifest))


def test_the_key_is_made_once_private_and_kept(tmp_path):
    root = tmp_path / "cache"
    root.mkdir(mode=0o755)
    key = store.signing_key(root)
    path = root / store.KEY_FILE
    assert len(key) == 32 and path.stat().st_mode & 0o777 == 0o600
    store._make_key(root, path)  # a second maker (another process that lost the race) changes nothing
    assert store.signing_key(root) == key
    assert sorted(p.name for p in root.iterdir()) == [store.KEY_FILE]  # no temp file left
    assert store.signing_key(tmp_path / "other") != key  # every cache folder has its own


def test_a_group_writable_cache_gets_a_group_readable_key(tmp_path):
    root = tmp_path / "shared"
    root.mkdir()
    root.chmod(0o2775)
    store.signing_key(root)
    assert (root / store.KEY_FILE).stat().st_mode & 0o777 == 0o640


def test_an_edit_with_rewritten_checksums_is_caught_by_the_signature(tmp_path):
    path = _write(tmp_path, STORED)
    _rewrite_checksums(path, store.METRICS_FILE, '{"m": 0.5}')  # plausible: every content check passes
    with pytest.raises(store.EntryError, match=r"manifest\.json's signature does not match this cache folder's "
                                               r"key \(\.aecore-key\): the entry was changed after aecore wrote it"):
        _read(path, STORED)


def test_a_planted_reader_that_skips_the_signature_serves_that_edit(tmp_path, monkeypatch):
    path = _write(tmp_path, STORED)
    _rewrite_checksums(path, store.METRICS_FILE, '{"m": 0.5}')
    monkeypatch.setattr(store.hmac, "compare_digest", lambda a, b: True)  # the planted fault
    assert _read(path, STORED)[0] == {"m": 0.5}  # served: so the test above rests on the signature


def test_an_unsigned_manifest_and_a_copy_from_another_cache_are_caught(tmp_path):
    path = _write(tmp_path, STORED)
    manifest = json.loads((path / store.MANIFEST).read_text())
    del manifest["signature"]
    (path / store.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(store.EntryError, match=r"manifest\.json is not signed"):
        _read(path, STORED)
    other = tmp_path / "other"
    other.mkdir()
    copied = _write(other, STORED)
    copied.rename(tmp_path / "copied")
    with pytest.raises(store.EntryError, match=r"or copied in from another cache folder \(bring runs in with "
                                               r"`python -m aecore cache import`\)"):
        _read(tmp_path / "copied", STORED)


def test_the_owner_re_signing_an_edit_is_the_documented_limit(tmp_path):
    path = _write(tmp_path, STORED)
    _rewrite_checksums(path, store.METRICS_FILE, '{"m": 0.5}')
    store.sign_manifest(path, store.signing_key(tmp_path))  # only an account that can read the key can do this
    assert _read(path, STORED)[0] == {"m": 0.5}


@pytest.mark.parametrize("plant, message", [
    (lambda p: (p.write_text("not a key\n"), p.chmod(0o600)), r"is not a key aecore made \(not 64 hex digits\): aecore never touches it"),
    (lambda p: p.mkdir(), r"is not aecore's key \(it is a link or a folder, not a file\)"),
    (lambda p: p.symlink_to("/etc/hostname"), r"is not aecore's key \(it is a link or a folder, not a file\)"),
    (lambda p: (p.write_text("ab" * 32 + "\n"), p.chmod(0o644)),
     r"is open to other accounts \(mode 0644\), so anyone could sign an entry with it: `chmod 600 .*` \(640 to share"),
    (lambda p: (p.write_text("ab" * 32 + "\n"), p.chmod(0o660)), r"is open to other accounts \(mode 0660\)"),
])
def test_a_key_aecore_did_not_make_is_refused_and_left_alone(tmp_path, plant, message):
    path = tmp_path / store.KEY_FILE
    plant(path)
    before = path.read_text() if path.is_file() and not path.is_symlink() else None
    with pytest.raises(store.CacheKeyError, match=message):
        store.signing_key(tmp_path)
    assert path.exists() and (before is None or path.read_text() == before)


def test_a_key_that_cannot_be_made_says_where_to_cache_instead(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(store.CacheKeyError, match=r"cannot make the cache's key .* set AECORE_CACHE_DIR to a "
                                                  r"writable folder"):
        store.signing_key(blocker / "cache")
