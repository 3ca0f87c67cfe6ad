"""Hostile cache entries and real faults, through aecore.runner.run / aecore.experiments.run (issue 24).

In-process rows damage one entry of a private copy of a real tiny run's cache, then run the config
again: the run must warn (CacheWarning) saying what is wrong and retrain, never serve the entry,
never raise, never touch a file that is not aecore's. Subprocess tests make real faults: kill -9 and
SIGTERM while an entry is written, two processes training one config at once, a read-only cache
folder and an unreadable entry (as root: with CAP_DAC_OVERRIDE dropped by setpriv, so that the
permissions hold).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from conftest import train_into_cache

from aecore import cache as store
from aecore import experiments, models, runner, training
from aecore.experiments import Config
from hostile_helpers import Raises, case, raises, returns

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("AECORE_DATA_DIR") or ROOT.parent / "shared" / "data")
pytestmark = pytest.mark.skipif(not (DATA_DIR / "mnist").is_dir(), reason=f"offline MNIST not found in {DATA_DIR}")

CFG = Config(dataset="mnist", model="dense_ae", loss="bce", n_train=32, n_test=32, n_val=0, epochs=1, batch_size=32,
             seed=0, model_kwargs={"hidden_units": 8, "latent_dim": 2})


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root, result = train_into_cache(tmp_path_factory, CFG, name="hostile_base_cache", data_dir=DATA_DIR)
    assert result.path is not None and not result.from_cache
    return root, result


@pytest.fixture
def cache(base, tmp_path, monkeypatch):
    """A private copy of the base cache as AECORE_CACHE_DIR; training replaced by the base run's outputs
    (the faults here are in the cache, not in training); returns (root, entry, calls)."""
    root = tmp_path / "cache"
    shutil.copytree(base[0], root)
    monkeypatch.setenv("AECORE_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("AECORE_CACHE_DIR", str(root))
    calls = []

    def fake(cfg, *, progress, prefix):
        calls.append(cfg)
        return training.History(base[1].history, base[1].steps), dict(base[1].metrics), base[1].model

    monkeypatch.setattr(experiments, "_train_and_evaluate", fake)
    return root, root / base[1].path.name, calls


def forge(entry: Path, name: str, content: bytes | str, *, signed: bool = True) -> None:
    """Rewrites one file of an entry and its checksum in the manifest. ``signed``: and signs the
    manifest again with the cache folder's key, as only the account that owns the key can (what
    the content checks must catch); else the edit of anyone who cannot read the key (another
    account, a tool that rewrites checksums), which the signature catches."""
    path = entry / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    manifest = json.loads((entry / store.MANIFEST).read_text())
    manifest["files"][name] = store.sha256_file(path)
    (entry / store.MANIFEST).write_text(json.dumps(manifest))
    if signed:
        store.sign_manifest(entry, store.signing_key(entry.parent))


def _plain_file(ctx):
    root, entry, _ = ctx
    shutil.rmtree(entry)
    entry.write_text("not an entry")


def _symlink_to_foreign(ctx):
    root, entry, _ = ctx
    foreign = root.parent / "someone-elses-entry"
    shutil.move(entry, foreign)
    entry.symlink_to(foreign)
    return foreign


def _manifest_is_a_folder(ctx):
    root, entry, _ = ctx
    (entry / store.MANIFEST).unlink()
    (entry / store.MANIFEST).mkdir()


def _truncate(name, matching):
    def setup(ctx):
        path = ctx[1] / name
        blob = path.read_bytes()[: path.stat().st_size // 2]
        if matching:
            forge(ctx[1], name, blob)
        else:
            path.write_bytes(blob)
    return setup


def _forge(name, text):
    return lambda ctx: forge(ctx[1], name, text)


def _other_architecture(ctx):
    other = models.build_model("dense_ae", seed=0, hidden_units=5, latent_dim=3)
    tmp = ctx[0].parent / "other.weights.h5"
    other.save_weights(tmp)
    forge(ctx[1], store.WEIGHTS_FILE, tmp.read_bytes())


def _edit_metric(ctx):
    """A plausible, better test MSE, checksums rewritten by someone who cannot read the key."""
    metrics = json.loads((ctx[1] / store.METRICS_FILE).read_text())
    metrics["mse_per_pixel"] = 0.001
    forge(ctx[1], store.METRICS_FILE, json.dumps(metrics), signed=False)


def _edit_history(ctx):
    """A plausible, lower final training loss, checksums rewritten without the key."""
    path = ctx[1] / "history.csv"
    lines = path.read_text().splitlines()
    head, last = lines[0].split(","), lines[-1].split(",")
    last[head.index("loss")] = repr(float(last[head.index("loss")]) * 0.9)
    forge(ctx[1], "history.csv", "\n".join([*lines[:-1], ",".join(last)]) + "\n", signed=False)


def _weights_of_another_seed(ctx):
    """Weights of the same architecture, another seed (they load), checksums rewritten without the key."""
    other = CFG.replace(seed=1).build_model()
    tmp = ctx[0].parent / "seed1.weights.h5"
    other.save_weights(tmp)
    forge(ctx[1], store.WEIGHTS_FILE, tmp.read_bytes(), signed=False)


def _copied_from_another_cache(ctx):
    """The same run's entry, valid and signed, but by another cache folder's key."""
    root, entry, _ = ctx
    other = root.parent / "other-cache"
    other.mkdir()
    (other / store.KEY_FILE).write_text("ab" * 32 + "\n")
    (other / store.KEY_FILE).chmod(0o600)
    store.sign_manifest(entry, store.signing_key(other))


def _manifest_lists_foreign_path(ctx):
    manifest = json.loads((ctx[1] / store.MANIFEST).read_text())
    manifest["files"]["../../etc/passwd"] = "0" * 64
    (ctx[1] / store.MANIFEST).write_text(json.dumps(manifest))


def _config_of_other_run(ctx):
    stored = json.loads((ctx[1] / store.CONFIG_FILE).read_text())
    stored["config"]["epochs"] = 99
    forge(ctx[1], store.CONFIG_FILE, json.dumps(stored))


UNUSABLE = r"aecore cache: entry .* is unusable: "
RETRAIN = r"; deleted it; retraining"
SIGNATURE = r"manifest\.json's signature does not match this cache folder's key \(\.aecore-key\): the entry was changed after aecore wrote it.*"


def _set_signature(entry, value):
    manifest = json.loads((entry / store.MANIFEST).read_text())
    manifest["signature"] = value
    (entry / store.MANIFEST).write_text(json.dumps(manifest))


def _drop_signature(entry):
    manifest = json.loads((entry / store.MANIFEST).read_text())
    del manifest["signature"]
    (entry / store.MANIFEST).write_text(json.dumps(manifest))


# Rows: (setup(ctx) -> anything, expected: raises(CacheWarning, regex) = warned and retrained; returns(...) = served)
ROWS = [
    case("entry-is-a-regular-file", _plain_file, raises(store.CacheWarning, UNUSABLE + "it is not a folder" + RETRAIN)),
    case("entry-is-a-symlink-to-a-foreign-folder", _symlink_to_foreign, raises(store.CacheWarning, UNUSABLE + "it is not a folder" + RETRAIN)),
    case("manifest-is-a-folder", _manifest_is_a_folder, raises(store.CacheWarning, UNUSABLE + r"it cannot be read \(Is a directory\)" + RETRAIN)),
    case("manifest-not-json", lambda ctx: (ctx[1] / store.MANIFEST).write_text("{"), raises(store.CacheWarning, UNUSABLE + r"manifest\.json is unreadable \(.+\)" + RETRAIN)),
    case("manifest-lists-a-foreign-path", _manifest_lists_foreign_path, raises(store.CacheWarning, UNUSABLE + r"manifest\.json lists .*etc/passwd.*, expected")),
    case("config-not-json-matching-manifest", _forge(store.CONFIG_FILE, "{not json"), raises(store.CacheWarning, UNUSABLE + r"config\.json is unreadable \(Expecting .+\)" + RETRAIN)),
    case("config-a-list-matching-manifest", _forge(store.CONFIG_FILE, "[]"), raises(store.CacheWarning, UNUSABLE + r"config\.json lacks a data fingerprint")),
    case("config-of-another-run-matching-manifest", _config_of_other_run, raises(store.CacheWarning, UNUSABLE + r"config\.json holds a different config")),
    case("config-edited-without-manifest", lambda ctx: (ctx[1] / store.CONFIG_FILE).write_text("{}") and None,
         raises(store.CacheWarning, UNUSABLE + r"config\.json does not match its checksum in manifest\.json \(modified or truncated\)")),
    case("metrics-not-a-number-matching-manifest", _forge(store.METRICS_FILE, '{"mse_per_pixel": "0.01"}'),
         raises(store.CacheWarning, UNUSABLE + r"metrics\.json: mse_per_pixel not numbers")),
    case("metrics-nan-matching-manifest", _forge(store.METRICS_FILE, "NaN"), raises(store.CacheWarning, UNUSABLE + r"metrics\.json holds a float, not an object")),
    case("metrics-plausible-edit-matching-manifest-without-the-key", _edit_metric, raises(store.CacheWarning, UNUSABLE + SIGNATURE + RETRAIN)),
    case("history-plausible-edit-matching-manifest-without-the-key", _edit_history, raises(store.CacheWarning, UNUSABLE + SIGNATURE + RETRAIN)),
    case("weights-of-another-seed-matching-manifest-without-the-key", _weights_of_another_seed, raises(store.CacheWarning, UNUSABLE + SIGNATURE + RETRAIN)),
    case("entry-copied-from-another-cache-folder", _copied_from_another_cache, raises(store.CacheWarning, UNUSABLE + SIGNATURE + r"cache import`\)" + RETRAIN)),
    case("manifest-signature-not-hex", lambda ctx: _set_signature(ctx[1], "é" * 64), raises(store.CacheWarning, UNUSABLE + r"manifest\.json is not signed \(" + r".*" + RETRAIN)),
    case("manifest-signature-a-number", lambda ctx: _set_signature(ctx[1], 7), raises(store.CacheWarning, UNUSABLE + r"manifest\.json is not signed \(" + r".*" + RETRAIN)),
    case("manifest-signature-removed", lambda ctx: _drop_signature(ctx[1]), raises(store.CacheWarning, UNUSABLE + r"manifest\.json is not signed \(aecore signs every entry it writes: this one was made by hand or by another tool\)" + RETRAIN)),
    case("history-of-another-length-matching-manifest", _forge("history.csv", "epoch,loss,val_loss,val_mse,seconds\n1,0.1,,,1\n2,0.1,,,1\n"),
         raises(store.CacheWarning, UNUSABLE + r"history\.csv has epochs \[1, 2\]\.\.\., expected 1\.\.1")),
    case("weights-truncated", _truncate(store.WEIGHTS_FILE, matching=False),
         raises(store.CacheWarning, UNUSABLE + r"model\.weights\.h5 does not match its checksum")),
    case("weights-truncated-matching-manifest", _truncate(store.WEIGHTS_FILE, matching=True),
         raises(store.CacheWarning, UNUSABLE + r"could not load it \(")),
    case("weights-of-another-architecture-matching-manifest", _other_architecture,
         raises(store.CacheWarning, UNUSABLE + r"could not load it \(")),
    case("an-intact-entry-is-served", lambda ctx: None, returns(lambda r: r.from_cache)),
]


@pytest.mark.parametrize("setup, expect", ROWS)
def test_hostile_cache_entry(setup, expect, cache):
    root, entry, calls = cache
    foreign = setup(cache)
    foreign = foreign if isinstance(foreign, Path) else None
    before = {p.name for p in root.iterdir()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = experiments.run(CFG, progress=False)
    messages = [str(w.message) for w in caught if issubclass(w.category, store.CacheWarning)]
    if isinstance(expect, Raises):  # here: the CacheWarning the run must give
        assert len(messages) == 1 and re.search(expect.pattern, messages[0]), messages
        assert not result.from_cache and len(calls) == 1
        # retrained and cached again: the next run is a verified hit
        assert experiments.run(CFG, progress=False).from_cache
    else:
        assert messages == [] and expect.check(result) and calls == []
    if foreign is not None:  # what the entry pointed at is not aecore's to delete
        assert foreign.is_dir() and (foreign / store.MANIFEST).is_file()
    assert {p.name for p in root.iterdir()} == before | {entry.name}
    assert not list(root.glob(".tmp-*"))


def test_stale_aecore_temp_folders_go_foreign_ones_stay(cache):
    root, entry, calls = cache
    old = time.time() - store._STALE_TMP_SECONDS - 60

    def folder(name, marker=True, content="x"):
        p = root / name
        p.mkdir()
        if marker:
            (p / store._TMP_MARKER).touch()
        (p / "payload.txt").write_text(content)
        os.utime(p, (old, old))
        return p

    stale = folder(f"{store._TMP_PREFIX}killed")
    keep = [folder(".tmp-someone-elses"),                       # foreign prefix, even with our marker
            folder(".tmp-aecore"),                              # not our prefix (no dash)
            folder(f"{store._TMP_PREFIX}no-marker", marker=False),
            folder(f"{store._TMP_PREFIX}fresh")]                # ours but recent: a writer may still be at it
    os.utime(keep[-1], None)
    target = folder("outside-target")
    link = root / f"{store._TMP_PREFIX}symlink"
    link.symlink_to(target)                                     # a link to a marked old folder: never followed
    os.utime(link, (old, old), follow_symlinks=False)
    plain = root / f"{store._TMP_PREFIX}plain-file"
    plain.write_text("a file")
    os.utime(plain, (old, old))
    shutil.rmtree(entry)  # so that the run writes an entry, which cleans up first
    with warnings.catch_warnings():
        warnings.simplefilter("error", store.CacheWarning)
        assert not experiments.run(CFG, progress=False).from_cache
    assert not stale.exists()
    for p in [*keep, target]:
        assert (p / "payload.txt").read_text() == "x", p
    assert link.is_symlink() and plain.read_text() == "a file"
    assert entry.is_dir()


def test_a_cache_path_that_is_a_file_warns_truthfully_and_returns_the_result(base, tmp_path, monkeypatch):
    not_a_folder = tmp_path / "cache-file"
    not_a_folder.write_text("x")
    monkeypatch.setenv("AECORE_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("AECORE_CACHE_DIR", str(not_a_folder))
    monkeypatch.setattr(experiments, "_train_and_evaluate",
                        lambda cfg, **kw: (training.History(base[1].history, base[1].steps), dict(base[1].metrics),
                                           base[1].model))
    with pytest.warns(store.CacheWarning, match=r"the cache folder .*cache-file is not a folder; set AECORE_CACHE_DIR "
                                                r"to a folder \(aecore never touches what is there\); training without the cache"):
        result = experiments.run(CFG, progress=False)
    assert result.path is None and result.metrics == base[1].metrics and not_a_folder.read_text() == "x"


# --------------------------------------------------------------------------- real faults in subprocesses

_CHILD = r"""
import json, sys, time, warnings
from aecore import cache as store, cli, experiments, training
from aecore.experiments import Config
cfg = Config(**json.loads(sys.argv[2]))
mode = sys.argv[1]
if mode in ("slow-write", "read-only", "together"):  # the faults are in the cache: an untrained model stands in for training
    import pandas as pd
    def untrained(cfg, *, progress, prefix):
        history = pd.DataFrame({"epoch": [1], "loss": [0.5], "val_loss": [float("nan")], "val_mse": [float("nan")], "seconds": [0.1]})
        steps = pd.DataFrame({"step": [0], "epoch": [1], "loss": [0.5]})
        return training.History(history, steps), {name: 0.5 for name in cfg.REQUIRED_METRICS}, cfg.build_model()
    experiments._train_and_evaluate = untrained
if mode == "slow-write":  # stop inside the entry's temp folder, every file written but the manifest
    orig = store.write_entry_atomically
    def slow(root, final, write_files):
        def files(folder):
            write_files(folder)
            print("writing", flush=True)
            time.sleep(120)
        return orig(root, final, files)
    store.write_entry_atomically = slow
if mode == "together":  # start training at the same moment as the other process (a barrier of files)
    import pathlib
    barrier = pathlib.Path(sys.argv[3])
    (barrier / sys.argv[4]).touch()
    while len(list(barrier.iterdir())) < 2:
        time.sleep(0.01)
import os
for root in (sys.argv[3:] if mode == "read-only" else [os.environ["AECORE_CACHE_DIR"]]):  # one report per cache
    os.environ["AECORE_CACHE_DIR"] = root
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with cli.sigterm_as_interrupt():  # as `python -m aecore run` does
                results = [experiments.run(cfg, progress=False) for _ in range(2 if mode == "read-only" else 1)]
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(130)
    print(json.dumps({"from_cache": [r.from_cache for r in results], "paths": [str(r.path) for r in results],
                      "warnings": [str(w.message) for w in caught if issubclass(w.category, store.CacheWarning)]}),
          flush=True)
"""


def _child(mode: str, root: Path, *extra: str, demote: bool = False) -> subprocess.Popen:
    env = {**os.environ, "AECORE_CACHE_DIR": str(root), "AECORE_DATA_DIR": str(DATA_DIR), "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-c", _CHILD, mode, CFG.canonical_json(), *extra]
    if demote and os.geteuid() == 0:  # root ignores permissions: drop the capabilities that let it
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", *cmd]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def _entries(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if not p.name.startswith("."))


def test_a_process_killed_while_writing_leaves_no_entry(base, tmp_path, monkeypatch):
    """kill -9 and SIGTERM (two processes side by side, each in its own cache) while an entry is written."""
    roots = {sig: tmp_path / f"cache-{sig.name}" for sig in (signal.SIGKILL, signal.SIGTERM)}
    procs = {}
    for sig, root in roots.items():
        root.mkdir()
        procs[sig] = _child("slow-write", root)
    outs = {}
    try:
        for sig, proc in procs.items():
            line = proc.stdout.readline().strip()
            assert line == "writing", proc.stderr.read()[-3000:]
            assert len(list(roots[sig].glob(f"{store._TMP_PREFIX}*"))) == 1  # really writing, in a temp folder
            proc.send_signal(sig)
        for sig, proc in procs.items():
            outs[sig] = proc.communicate(timeout=60)
    finally:
        for proc in procs.values():
            proc.kill()
    monkeypatch.setenv("AECORE_DATA_DIR", str(DATA_DIR))
    monkeypatch.setattr(experiments, "_train_and_evaluate",
                        lambda cfg, **kw: (training.History(base[1].history, base[1].steps), dict(base[1].metrics),
                                           base[1].model))
    for sig, root in roots.items():
        proc, (out, err) = procs[sig], outs[sig]
        assert _entries(root) == []  # nothing a run could take for an entry
        left = list(root.glob(".tmp-*"))
        if sig == signal.SIGTERM:  # unwound: the temp folder is removed
            assert proc.returncode == 130 and "interrupted" in out and left == [], (out, err[-2000:])
        else:  # no chance to clean up: a marked temp folder stays, removed once stale
            assert proc.returncode == -signal.SIGKILL and len(left) == 1 and (left[0] / store._TMP_MARKER).is_file()
        # the next run neither reads nor trips over a leftover; it trains and writes a good entry
        monkeypatch.setenv("AECORE_CACHE_DIR", str(root))
        with warnings.catch_warnings():
            warnings.simplefilter("error", store.CacheWarning)
            assert not experiments.run(CFG, progress=False).from_cache
            assert experiments.run(CFG, progress=False).from_cache
        assert _entries(root) == [runner.entry_path(CFG, root).name]


def test_two_processes_training_one_config_at_once_both_succeed(tmp_path, monkeypatch):
    """Two real processes run one config at the same moment and race to write its entry (training is
    an untrained model standing in, to keep the test fast: the race is in the cache)."""
    root = tmp_path / "cache"
    root.mkdir()
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [_child("together", root, str(barrier), name) for name in ("a", "b")]
    outs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=240)
            assert proc.returncode == 0, err[-3000:]
            outs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            proc.kill()
    for report in outs:  # each got its result; a lost race may only say, truthfully, that it was not cached
        assert all("could not write entry" in w for w in report["warnings"]), report
    assert _entries(root) == [runner.entry_path(CFG, root).name] and not list(root.glob(".tmp-*"))
    monkeypatch.setenv("AECORE_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("AECORE_CACHE_DIR", str(root))
    with warnings.catch_warnings():
        warnings.simplefilter("error", store.CacheWarning)
        assert experiments.run(CFG, progress=False).from_cache  # one valid, verified entry


def test_read_only_cache_and_unreadable_entry_get_truthful_warnings(base, tmp_path):
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("root without setpriv: permissions cannot be made to hold")
    ro = tmp_path / "read-only"  # no entry, and none can be written
    ro.mkdir()
    (ro / "keep.txt").write_text("not aecore's")
    locked = tmp_path / "locked"  # an entry of "another account": mode 000
    shutil.copytree(base[0], locked)
    entry = locked / base[1].path.name
    published = tmp_path / "published"  # a read-only copy of a cache, its key with it: served as it is
    shutil.copytree(base[0], published)
    foreign_key = tmp_path / "foreign-key"  # a folder whose key belongs to another account (mode 0600)
    shutil.copytree(base[0], foreign_key)
    key = foreign_key / store.KEY_FILE
    key_text = key.read_text()
    if os.geteuid() == 0:  # as root the key can be given to another account
        os.chown(key, 12345, 12345)
    ro.chmod(0o555)
    published.chmod(0o555)
    entry.chmod(0o000)
    names = ("ro", "locked", "published", "foreign-key")
    try:
        proc = _child("read-only", ro, str(ro), str(locked), str(published), str(foreign_key), demote=True)  # one process
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]
        reports = dict(zip(names, (json.loads(line) for line in out.strip().splitlines()[-len(names):])))
    finally:
        ro.chmod(0o755)
        published.chmod(0o755)
        entry.chmod(0o755)
    # read-only: trained twice (no key can be made there, so nothing is read or cached), each time saying so
    report = reports["ro"]
    assert report["from_cache"] == [False, False] and report["paths"] == ["None", "None"]
    assert len(report["warnings"]) == 2 and all(
        "cannot make the cache's key" in w and "(Permission denied); set AECORE_CACHE_DIR to a writable folder; "
        "training without the cache" in w for w in report["warnings"]), report
    assert sorted(p.name for p in ro.iterdir()) == ["keep.txt"]
    # unreadable entry: reported as such, not deleted (it cannot be), never served, never a traceback
    report = reports["locked"]
    assert report["from_cache"] == [False, False], report
    assert re.search(r"entry .* is unusable: it cannot be read \(Permission denied\); could not delete it "
                     r"\(Permission denied\); retraining, and the new result may not be cached: remove the entry by "
                     r"hand or set AECORE_CACHE_DIR", report["warnings"][0]), report
    assert entry.is_dir() and (entry / store.MANIFEST).is_file()  # still there, untouched
    # read-only with its key: every read verified and served, nothing written
    assert reports["published"] == {"from_cache": [True, True], "paths": [str(published / entry.name)] * 2,
                                    "warnings": []}, reports["published"]
    # another account's key: not readable, so nothing there can be checked or signed: trained, said, untouched
    if os.geteuid() == 0:
        report = reports["foreign-key"]
        assert report["from_cache"] == [False, False] and report["paths"] == ["None", "None"], report
        assert len(report["warnings"]) == 2 and all(re.search(
            r"aecore cache: the cache's key .*foreign-key/\.aecore-key cannot be read \(it belongs to another account, "
            r"uid 12345\) \(Permission denied\): this account can neither check nor sign entries there; set "
            r"AECORE_CACHE_DIR to a folder of your own.*; training without the cache", w) for w in report["warnings"]), report
        assert key.read_text() == key_text and key.stat().st_uid == 12345
        assert _entries(foreign_key) == [entry.name]
