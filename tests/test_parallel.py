"""aecore.parallel: runs trained in worker processes give the same table as one after another,
and the workers' output, warnings and errors reach the caller.

The map_runs tests use builtins as the run function (``abs``, ``print``, ``int``,
``warnings.warn``): they pickle by name and need no TensorFlow in the workers, so each costs
only the start of two Python processes. One test trains real (tiny) runs.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

from aecore import experiments, parallel
from aecore.experiments import Config

DATA_DIR = Path(os.environ.get("AECORE_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")
REPO = Path(__file__).resolve().parents[1]


def test_map_runs_keeps_order_and_runs_cached_items_here():
    items = [-1, -2, -3, -4]
    out = parallel.map_runs(abs, items, to_train=[True, False, True, True], labels=list("abcd"), workers=2,
                            progress=False)
    assert out == [1, 2, 3, 4]


def test_worker_lines_come_back_tagged_with_their_run(capsys):
    parallel.map_runs(print, ["first line\nsecond line", "other"], to_train=[True, True], labels=["A", "B"],
                      workers=2)
    out = capsys.readouterr().out.splitlines()
    assert "run 1/2: first line" in out and "run 1/2: second line" in out and "run 2/2: other" in out
    assert "run 1/2: A" in out and "run 2/2: B" in out  # the headers, once each
    assert sum(line.startswith("run 1/2: A") for line in out) == 1


def test_no_worker_line_is_lost_when_the_result_arrives_first(capsys, monkeypatch):
    # A worker's lines travel on a queue, its result on the pool's own channel, so a run's
    # result can arrive before its last lines (seen on a loaded machine). Here the parent reads
    # one line per 20 ms, far slower than the workers print: every line must still come out.
    def one_line_at_a_time(q, block_seconds):
        time.sleep(0.02)
        try:
            line = q.get(timeout=block_seconds) if block_seconds > 0 else q.get_nowait()
        except queue.Empty:
            return 0
        if line == getattr(parallel, "_ITEM_DONE", None):
            return 1
        print(line, flush=True)
        return 0

    monkeypatch.setattr(parallel, "_drain", one_line_at_a_time)
    many = "\n".join(f"line {k}" for k in range(60))
    parallel.map_runs(print, [many, many], to_train=[True, True], labels=["A", "B"], workers=2)
    out = capsys.readouterr().out.splitlines()
    for tag in ("run 1/2:", "run 2/2:"):
        assert [line for line in out if line.startswith(tag + " line ")] == [f"{tag} line {k}" for k in range(60)]


def test_worker_warnings_are_raised_again_here():
    with pytest.warns(UserWarning) as caught:
        parallel.map_runs(warnings.warn, ["careful, from a worker", "and another"], to_train=[True, True],
                          labels=["a", "b"], workers=2, progress=False)
    assert sorted(str(w.message) for w in caught) == ["and another", "careful, from a worker"]


def test_worker_errors_reach_the_caller():
    with pytest.raises(ValueError, match="invalid literal for int"):
        parallel.map_runs(int, ["1", "not a number"], to_train=[True, True], labels=["a", "b"], workers=2,
                          progress=False)


def test_one_worker_or_one_run_to_train_starts_no_process(monkeypatch):
    def no_pool(*args, **kwargs):
        raise AssertionError("a process pool was started")

    monkeypatch.setattr(parallel.cf, "ProcessPoolExecutor", no_pool)
    assert parallel.map_runs(abs, [-1, -2], to_train=[True, True], labels=["a", "b"], workers=1,
                             progress=False) == [1, 2]
    assert parallel.map_runs(abs, [-1, -2], to_train=[False, True], labels=["a", "b"], workers=4,
                             progress=False) == [1, 2]


def test_resolve_workers(monkeypatch):
    monkeypatch.delenv(parallel.ENV_VAR, raising=False)
    assert parallel.resolve_workers(None) == 1  # opt-in: each worker costs a process's memory
    assert parallel.resolve_workers(3) == 3
    monkeypatch.setenv(parallel.ENV_VAR, "2")
    assert parallel.resolve_workers(None) == 2 and parallel.resolve_workers(1) == 1
    for bad in ("0", "-1"):
        monkeypatch.setenv(parallel.ENV_VAR, bad)
        with pytest.raises(ValueError, match="at least 1"):
            parallel.resolve_workers(None)
    monkeypatch.setenv(parallel.ENV_VAR, "two")
    with pytest.raises(ValueError, match="AECORE_WORKERS='two' is not a whole number"):
        parallel.resolve_workers(None)
    for bad in (0, 1.5, True, "2"):
        with pytest.raises(ValueError, match="workers must be a positive integer"):
            parallel.resolve_workers(bad)


def test_a_script_without_a_main_guard_can_use_workers(tmp_path):
    """``spawn`` would re-run an unguarded script in each worker, which would start workers of its
    own; aecore starts them with the script hidden."""
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent("""
        from aecore import parallel
        print("result", parallel.map_runs(abs, [-5, -6], to_train=[True, True], labels=["a", "b"],
                                          workers=2, progress=False))
    """))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("result [5, 6]") == 1


@pytest.mark.skipif(not (DATA_DIR / "mnist").is_dir(), reason=f"offline MNIST not found in {DATA_DIR}")
def test_sweep_with_workers_is_the_serial_sweep(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AECORE_DATA_DIR", str(DATA_DIR))
    base = Config(dataset="mnist", model="conv_ae", loss="mse", n_train=128, n_test=64, epochs=2, batch_size=32,
                  n_val=64)
    configs = [base, base.replace(seed=1), base.replace(dataset="fashion_mnist", loss="bce"), base]

    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path / "serial"))
    serial = experiments.sweep(configs, workers=1, progress=False)
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path / "workers"))
    capsys.readouterr()
    in_workers = experiments.sweep(configs, workers=2)
    out = capsys.readouterr().out

    assert "training 3 run(s) in 2 worker processes" in out
    assert "run 3/3: epoch 2/2: loss" in out  # a worker's epoch line, tagged with its run
    pd.testing.assert_frame_equal(serial.drop(columns="train_seconds"), in_workers.drop(columns="train_seconds"),
                                  check_exact=True)
    assert in_workers["from_cache"].tolist() == [False, False, False, True]  # the repeat: as if read back

    again = experiments.sweep(configs, workers=2, progress=False)  # the workers wrote the cache
    assert again["from_cache"].all()
    pd.testing.assert_frame_equal(again.drop(columns="from_cache"), in_workers.drop(columns="from_cache"),
                                  check_exact=True)


@pytest.mark.skipif(not (DATA_DIR / "mnist").is_dir(), reason=f"offline MNIST not found in {DATA_DIR}")
def test_a_failing_run_in_a_worker_raises_its_error(tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path))
    ok = Config(dataset="mnist", model="dense_ae", loss="mse", n_train=64, n_test=32, epochs=1, batch_size=32,
                n_val=0)
    too_many = ok.replace(n_test=10_001)  # MNIST's test set has 10,000 images
    with pytest.raises(ValueError, match="10,?001"):
        experiments.sweep([ok, too_many], workers=2, progress=False)


@pytest.mark.skipif(not (DATA_DIR / "mnist").is_dir(), reason=f"offline MNIST not found in {DATA_DIR}")
def test_vae_sweep_with_workers_is_the_serial_sweep(tmp_path, monkeypatch):
    from aecore import vae_runs as vr

    monkeypatch.setenv("AECORE_DATA_DIR", str(DATA_DIR))
    base = vr.VAEConfig(encoder_hidden=(16,), latent_dim=2, n_train=64, n_test=40, n_val=20, epochs=2,
                        batch_size=32)
    configs = vr.runs([base, base.replace(recon_reduction="mean")], seeds=[0, 1])
    tables = {}
    for workers in (1, 2):
        monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path / str(workers)))
        tables[workers] = vr.sweep(configs, workers=workers, progress=False).drop(columns="train_seconds")
    assert not tables[2]["from_cache"].any()
    pd.testing.assert_frame_equal(tables[1], tables[2], check_exact=True)


def test_workers_start_with_tensorflow_logging_off_and_the_caller_keeps_its_environment(monkeypatch):
    """A worker's stderr shows under the notebook's cell, so TensorFlow's C++ log is off there."""
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    seen = parallel.map_runs(os.getenv, ["TF_CPP_MIN_LOG_LEVEL", "TF_CPP_MIN_LOG_LEVEL"], to_train=[True, True],
                             labels=["a", "b"], workers=2, progress=False)
    assert seen == ["3", "3"]
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"
