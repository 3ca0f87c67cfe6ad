"""Hostile command lines for ``python -m aecore`` (issue 24): unknown experiments, bad seeds, bad
metrics and --out paths refused before anything trains (exit 2, usage and the reason on stderr),
the results file's mode following the umask, a fast --help. In-process through ``cli.main``
unless the row needs a real process."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aecore import cli, experiments, training
from hostile_helpers import case, returns, run_case

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("AECORE_DATA_DIR") or ROOT.parent / "shared" / "data")
SEEDS = r"seeds are integers from 0 to 4294967295 \(2\*\*32 - 1\), got "


def exits(code: int, pattern: str, *, usage: bool = True):
    """The command exits ``code`` with ``pattern`` on stderr (and run's usage when ``usage``), nothing on stdout."""
    return returns(lambda r: (r[0] == code and re.search(pattern, r[2], re.S) is not None
                              and (not usage or "usage: python -m aecore" in r[2]) and r[1] == ""),
                   f"exit {code} with /{pattern}/ on stderr")


def main(*args):
    """A row's call: ``cli.main(args)`` -> (exit code, stdout, stderr); training is forbidden."""
    def call(ctx):
        capsys, tmp, monkeypatch = ctx
        monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp / "cache"))
        monkeypatch.setattr(experiments, "_train_and_evaluate", lambda *a, **k: pytest.fail("it trained"))
        argv = [a(tmp) if callable(a) else a for a in args]
        try:
            code = cli.main(argv)
        except SystemExit as exit_:
            code = exit_.code
        out, err = capsys.readouterr()
        assert not (tmp / "cache").exists() or not any((tmp / "cache").iterdir()), "a refused command wrote a cache entry"
        return code, out, err
    return call


def _read_only_folder(tmp):
    folder = tmp / "ro"
    folder.mkdir(exist_ok=True)
    folder.chmod(0o555)
    return str(folder / "results.csv")


RUN = ("run", "-e", "smoke", "--no-progress")
ROWS = [
    case("no-command", main(), exits(2, r"usage: python -m aecore")),
    case("unknown-command", main("train"), exits(2, r"invalid choice: 'train'")),
    case("unknown-experiment", main("run", "-e", "nope"), exits(2, r"unknown experiment 'nope'; valid experiments: conv-ae, .*smoke")),
    case("empty-experiment", main("run", "-e", ""), exits(2, r"unknown experiment ''; valid experiments")),
    case("experiment-case", main("run", "-e", "SMOKE"), exits(2, r"unknown experiment 'SMOKE'; valid experiments")),
    case("seeds-negative", main(*RUN, "--seeds", "-1"), exits(2, SEEDS + "'-1'")),
    case("seeds-2**32", main(*RUN, "--seeds", "4294967296"), exits(2, SEEDS + "'4294967296'")),
    case("seeds-text", main(*RUN, "--seeds", "one"), exits(2, SEEDS + "'one'")),
    case("seeds-float", main(*RUN, "--seeds", "1.5"), exits(2, SEEDS + "'1.5'")),
    case("seeds-hex", main(*RUN, "--seeds", "0x10"), exits(2, SEEDS + "'0x10'")),
    case("seeds-empty", main(*RUN, "--seeds", ""), exits(2, SEEDS + "''")),
    case("seeds-missing", main(*RUN, "--seeds"), exits(2, r"expected at least one argument")),
    case("seeds-max-and-duplicates-ok", main(*RUN, "--seeds", "0", "0", "4294967295", "--dry-run"),
         returns(lambda r: r[0] == 0 and "smoke: 2 runs; profile 'full', seeds 0 4294967295" in r[2] and "seed 4294967295" in r[1])),
    case("profile-unknown", main(*RUN, "--profile", "medium"), exits(2, r"invalid choice: 'medium' \(choose from 'fast', 'full'\)")),
    case("metrics-unknown-before-training", main(*RUN, "--seeds", "0", "-m", "nope"),
         exits(2, r"unknown metric\(s\) 'nope'; valid: mse_per_pixel", usage=False)),
    case("metrics-label-is-not-a-metric", main(*RUN, "--seeds", "0", "-m", "label"), exits(2, r"unknown metric\(s\) 'label'; valid", usage=False)),
    case("metrics-empty-name", main(*RUN, "--seeds", "0", "-m", ""), exits(2, r"unknown metric\(s\) ''; valid", usage=False)),
    case("out-under-a-file", main(*RUN, "--out", "/etc/hostname/results.csv"), exits(2, r"--out '/etc/hostname/results\.csv': /etc/hostname is not a folder")),
    case("out-existing-folder", main(*RUN, "--out", lambda tmp: (tmp / "d.csv").mkdir() or str(tmp / "d.csv")), exits(2, r"--out '.*d\.csv' is a directory")),
    case("out-bad-extension", main(*RUN, "--out", "results.txt"), exits(2, r"--out 'results\.txt': the extension must be one of \.csv, \.json")),
    case("out-no-extension", main(*RUN, "--out", "results"), exits(2, r"the extension must be one of \.csv, \.json")),
    case("out-hidden-csv-name", main(*RUN, "--out", ".csv"), exits(2, r"the extension must be one of")),
    case("bogus-option", main(*RUN, "--bogus"), exits(2, r"unrecognized arguments: --bogus")),
    case("cache-export-not-tar-gz", main("cache", "export", lambda tmp: str(tmp / "x.zip")),
         exits(2, r"error: the archive must be a \.tar\.gz file, got '.*x\.zip'", usage=False)),
    case("cache-import-missing", main("cache", "import", lambda tmp: str(tmp / "nope.tar.gz")), exits(1, r"error: no archive at .*nope\.tar\.gz", usage=False)),
    case("cache-import-not-an-archive", main("cache", "import", lambda tmp: (tmp / "bad.tar.gz").write_text("hello") and str(tmp / "bad.tar.gz")),
         exits(1, r"error: .*bad\.tar\.gz is not a readable run cache archive \(.*\); it is truncated or corrupt", usage=False)),
]


@pytest.mark.parametrize("call, expect", ROWS)
def test_hostile_cli(call, expect, capsys, tmp_path, monkeypatch):
    run_case(call, expect, (capsys, tmp_path, monkeypatch))


def _demoted(args, env):
    cmd = [sys.executable, "-m", "aecore", *args]
    if os.geteuid() == 0:  # root ignores permissions: drop the capabilities that let it
        if shutil.which("setpriv") is None:
            pytest.skip("root without setpriv")
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", *cmd]
    return subprocess.run(cmd, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def test_out_in_a_read_only_folder_is_refused_before_training(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        t0 = time.monotonic()
        proc = _demoted(["run", "-e", "smoke", "--seeds", "0", "--no-progress", "--out", str(ro / "r.csv")],
                        {"AECORE_CACHE_DIR": str(tmp_path / "cache")})
        seconds = time.monotonic() - t0
    finally:
        ro.chmod(0o755)
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert re.search(r"--out '.*ro/r\.csv': the folder .*ro is not writable: choose another place for the results", proc.stderr)
    assert not (tmp_path / "cache").exists() and seconds < 20  # refused at once: nothing trained


def test_help_is_fast_and_imports_no_tensorflow():
    t0 = time.monotonic()
    for args in (["--help"], ["run", "--help"]):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "aecore", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0 and proc.stdout.startswith("usage: python -m aecore")
        assert " tensorflow" not in proc.stderr
    assert time.monotonic() - t0 < 6


@pytest.mark.skipif(not (DATA_DIR / "mnist").is_dir(), reason="offline MNIST needed")
def test_out_file_mode_follows_the_umask(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AECORE_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path / "cache"))

    def untrained(cfg, *, progress, prefix):  # the results file is under test, not training
        import pandas as pd
        history = pd.DataFrame({"epoch": [1], "loss": [0.5], "val_loss": [float("nan")], "seconds": [0.1]})
        steps = pd.DataFrame({"step": [0], "epoch": [1], "loss": [0.5]})
        return training.History(history, steps), {name: 0.5 for name in (*cfg.REQUIRED_METRICS, *cli.AE_METRIC_NAMES)}, cfg.build_model()

    monkeypatch.setattr(experiments, "_train_and_evaluate", untrained)
    modes = {}
    for umask, name in ((0o077, "private.csv"), (0o002, "group.json")):
        old = os.umask(umask)
        try:
            code = cli.main(["run", "-e", "smoke", "--seeds", "0", "--no-progress", "--out", str(tmp_path / name)])
        finally:
            os.umask(old)
        assert code == 0, capsys.readouterr().err
        modes[name] = (tmp_path / name).stat().st_mode & 0o777
    assert modes == {"private.csv": 0o600, "group.json": 0o664}
    assert not list(tmp_path.glob(".*.tmp"))  # no temp file of the atomic write left behind
