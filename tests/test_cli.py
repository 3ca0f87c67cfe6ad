"""The command line ``python -m aecore`` (aecore/cli.py): usage and errors, the experiment
registry (chapter 3's settings), a real tiny run written as CSV and JSON, and the shared cache.

Subprocess tests check the real entry point (each one imports TensorFlow: ~5 s); the rest call
``cli.main`` in-process. The real runs use the ``smoke`` experiment (64 images, 1 epoch) in a
temporary cache (AECORE_CACHE_DIR).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from aecore import cli, experiments, vae_runs
from aecore.studies import vae_study
from aecore.profiles import PROFILES

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("AECORE_DATA_DIR") or ROOT.parent / "shared" / "data")


def _python_m_aecore(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run([sys.executable, "-m", "aecore", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=300)


def _main(capsys, *args: str) -> tuple[int, str, str]:
    """``cli.main(args)`` in-process: (exit code, stdout, stderr); argparse's exits included."""
    try:
        code = cli.main(list(args))
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- usage


def test_help_runs_as_a_module():
    proc = _python_m_aecore("--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: python -m aecore")
    assert "list" in proc.stdout and "run" in proc.stdout


def test_no_command_prints_usage_and_fails(capsys):
    code, out, err = _main(capsys)
    assert code == 2 and "usage: python -m aecore" in err


def test_run_help_names_every_option(capsys):
    code, out, _ = _main(capsys, "run", "--help")
    assert code == 0
    for option in ("--experiment", "--profile", "--seeds", "--out", "--metrics", "--dry-run"):
        assert option in out


@pytest.mark.parametrize("args, message", [
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["run"], "the following arguments are required: -e/--experiment"),
    (["run", "-e", "nope"], "unknown experiment 'nope'; valid experiments: conv-ae, "),
    (["run", "-e", "smoke", "--profile", "medium"], "invalid choice: 'medium' (choose from 'fast', 'full')"),
    (["run", "-e", "smoke", "--seeds", "-1"], "seeds are integers from 0 to 4294967295 (2**32 - 1), got '-1'"),
    (["run", "-e", "smoke", "--seeds", "x"], "seeds are integers from 0 to 4294967295 (2**32 - 1), got 'x'"),
    (["run", "-e", "smoke", "--seeds", "4294967296"], "got '4294967296'"),
    (["run", "-e", "smoke", "--out", "/etc/hostname/results.csv"],
     "--out '/etc/hostname/results.csv': /etc/hostname is not a folder"),
    (["run", "-e", "smoke", "--seeds"], "expected at least one argument"),
    (["run", "-e", "smoke", "--out", "results.txt"], "the extension must be one of .csv, .json"),
    (["run", "-e", "smoke", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_arguments_exit_2_with_usage(capsys, args, message):
    code, out, err = _main(capsys, *args)
    assert code == 2
    assert "usage: python -m aecore" in err
    assert message in err
    assert out == ""


def test_unknown_experiment_lists_every_valid_one(capsys):
    code, _, err = _main(capsys, "run", "-e", "nope")
    assert code == 2 and all(name in err for name in cli.EXPERIMENTS)


def test_bad_profile_from_the_environment_exits_2(capsys, monkeypatch):
    monkeypatch.setenv("AECORE_PROFILE", "medium")
    code, _, err = _main(capsys, "run", "-e", "smoke", "--dry-run")
    assert code == 2 and "valid profiles: fast, full" in err


def test_explicit_profile_wins_over_the_environment(capsys, monkeypatch):
    monkeypatch.setenv("AECORE_PROFILE", "full")
    code, out, _ = _main(capsys, "run", "-e", "conv-ae", "--profile", "fast", "--seeds", "4", "--dry-run")
    assert code == 0
    assert "1,000 images, 10 epochs, batch 32" in out and "seed 4" in out


def test_list_shows_every_experiment(capsys):
    code, out, _ = _main(capsys, "list")
    assert code == 0
    for name in cli.EXPERIMENTS:
        assert any(line.startswith(name + " ") for line in out.splitlines()), name
    from aecore.studies import conv_runs

    assert f"{len(conv_runs.SETTINGS) * 3} runs" in out  # conv-ae: chapter 3's settings x 3 seeds


# --------------------------------------------------------------------------- registry


def test_conv_ae_is_chapter_3s_sweep():
    from aecore.studies import conv_runs

    nb = json.loads((ROOT / "chapters" / "03_conv_autoencoder_mse_bce.ipynb").read_text())
    src = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "conv_runs.configs(profile)" in src and "conv_runs.bn_short_configs(conv_runs.seeds(profile))" in src
    for profile in PROFILES.values():
        assert cli.EXPERIMENTS["conv-ae"].configs(profile, [0, 4]) == conv_runs.configs(profile, [0, 4])
        assert cli.EXPERIMENTS["conv-ae-batchnorm-short"].configs(profile, [1]) == conv_runs.bn_short_configs([1])
    # The question's recipe (source 000): batch 32; the full profile keeps its 20 epochs.
    full = conv_runs.configs(PROFILES["full"])
    assert {(c.batch_size, c.epochs, c.n_train) for c in full} == {(32, 20, 5000)}
    assert len(full) == len(conv_runs.SETTINGS) * 5 and len(set(full)) == len(full)  # five seeds (paired verdicts)
    assert len(conv_runs.SETTINGS) == 8  # seven of the question's settings and the resampled binary one
    assert cli.EXPERIMENTS["conv-ae"].default_seeds(PROFILES["full"]) == [0, 1, 2, 3, 4]
    assert cli.EXPERIMENTS["conv-ae"].default_seeds(PROFILES["fast"]) == [0, 1, 2]
    # Every chapter whose verdicts compare runs trains five seeds in full (aecore.profiles).
    for name in ("blob", "bce-bias", "vae-article", "vae-quality"):
        assert cli.EXPERIMENTS[name].default_seeds(PROFILES["full"]) == [0, 1, 2, 3, 4]
        assert cli.EXPERIMENTS[name].default_seeds(PROFILES["fast"]) == [0, 1, 2]
    # The short BatchNorm check is the fast grid's own runs (one cache entry each).
    assert set(conv_runs.bn_short_configs([0, 1, 2])) <= set(conv_runs.configs(PROFILES["fast"]))


def test_bce_bias_is_chapter_5s_sweep():
    from aecore.studies import bias

    nb = json.loads((ROOT / "chapters" / "05_bce_bias_toward_half.ipynb").read_text())
    src = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "bias.configs(profile, bias.seeds(profile))" in src  # the chapter runs aecore.studies.bias's grid
    for profile in PROFILES.values():
        assert cli.EXPERIMENTS["bce-bias"].configs(profile, [0, 4]) == bias.configs(profile, [0, 4])


def test_grid_fixed_profile_and_bad_settings():
    fn = cli.grid([("mnist", "conv_ae", "mse", None)], profile="fast", batch_size=32)
    cfgs = fn(PROFILES["full"], [5, 6])
    assert [c.seed for c in cfgs] == [5, 6]
    assert {(c.n_train, c.epochs, c.batch_size) for c in cfgs} == {(1000, 10, 32)}
    with pytest.raises(ValueError, match="has 2 values"):
        cli.grid([("mnist", "conv_ae")])


def test_every_experiment_builds_valid_configs():
    for name, exp in cli.EXPERIMENTS.items():
        for profile in PROFILES.values():
            cfgs = exp.configs(profile, [0, 1])
            assert cfgs and all(isinstance(c, (experiments.Config, vae_runs.VAEConfig)) for c in cfgs), name
            assert len(set(cfgs)) == len(cfgs), f"{name}: duplicate runs"


# --------------------------------------------------------------------------- writing


def test_write_results_is_atomic(tmp_path, monkeypatch):
    table = pd.DataFrame({"label": ["a", "b"], "mse_per_pixel": [0.1, float("nan")]})
    out = tmp_path / "sub" / "r.json"
    cli.write_results(table, out)
    assert json.loads(out.read_text()) == [{"label": "a", "mse_per_pixel": 0.1},
                                           {"label": "b", "mse_per_pixel": None}]
    before = out.read_text()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(json, "dump", boom)
    with pytest.raises(RuntimeError):
        cli.write_results(table.iloc[:1], out)
    assert out.read_text() == before  # the old file is intact
    assert [p.name for p in out.parent.iterdir()] == ["r.json"]  # no temp file left
    with pytest.raises(ValueError, match="unknown results format"):
        cli.write_results(table, tmp_path / "r.xlsx")


# --------------------------------------------------------------------------- real runs


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """``python -m aecore run -e smoke --seeds 0 1 --out .../results.csv`` into an empty cache:
    (environment, cache dir, csv path, finished process)."""
    if not (DATA_DIR / "mnist").is_dir():
        pytest.skip(f"offline MNIST not found in {DATA_DIR}")
    tmp = tmp_path_factory.mktemp("smoke")
    env = {"AECORE_DATA_DIR": str(DATA_DIR), "AECORE_CACHE_DIR": str(tmp / "cache")}
    csv_path = tmp / "out" / "results.csv"
    proc = _python_m_aecore("run", "-e", "smoke", "--seeds", "0", "1", "--out", str(csv_path), env=env)
    return env, tmp / "cache", csv_path, proc


def test_run_trains_prints_a_table_and_writes_csv(smoke):
    env, cache, csv_path, proc = smoke
    assert proc.returncode == 0, proc.stderr
    assert "mnist dense_ae bce" in proc.stdout and "±" in proc.stdout  # the results table
    assert "run/s" in proc.stderr or "s/run" in proc.stderr  # the progress bar
    assert "2 trained, 0 from the cache" in proc.stderr
    csv = pd.read_csv(csv_path)
    assert len(csv) == 2 and list(csv["seed"]) == [0, 1]
    assert {"experiment", "profile", "label", "mse_per_pixel", "from_cache"} <= set(csv.columns)
    assert not csv["from_cache"].any()
    assert len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 2
    assert [p.name for p in csv_path.parent.iterdir()] == ["results.csv"]  # no temp file left


def test_second_run_reads_the_cache_and_writes_json(smoke, capsys, monkeypatch):
    env, cache, csv_path, proc = smoke
    assert proc.returncode == 0, proc.stderr
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    json_path = csv_path.with_suffix(".json")
    code, out, err = _main(capsys, "run", "-e", "smoke", "--seeds", "0", "1", "--out", str(json_path))
    assert code == 0, err
    assert "0 trained, 2 from the cache" in err
    records = json.loads(json_path.read_text())
    assert isinstance(records, list) and len(records) == 2
    assert all(r["from_cache"] for r in records)
    csv = pd.read_csv(csv_path)
    assert [r["mse_per_pixel"] for r in records] == pytest.approx(list(csv["mse_per_pixel"]), rel=1e-12)


def test_unknown_metric_exits_2_and_lists_the_valid_ones(smoke, capsys, monkeypatch):
    env, *_ = smoke
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code, _, err = _main(capsys, "run", "-e", "smoke", "--seeds", "0", "--no-progress", "-m", "nope")
    assert code == 2 and "unknown metric(s) 'nope'; valid:" in err and "mse_per_pixel" in err
    code, _, err = _main(capsys, "run", "-e", "smoke", "--seeds", "0", "--no-progress", "-m", "label")
    assert code == 2 and "unknown metric(s) 'label'" in err


def test_unknown_metric_is_refused_before_anything_trains(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(experiments, "_train_and_evaluate", lambda *a, **k: pytest.fail("it trained"))
    code, _, err = _main(capsys, "run", "-e", "smoke", "--seeds", "0", "--no-progress", "-m", "nope")
    assert code == 2 and "unknown metric(s) 'nope'" in err


def test_the_known_metric_names_are_the_columns_real_runs_give(smoke, capsys, monkeypatch, tmp_path):
    env, *_ = smoke
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "r.json"
    assert _main(capsys, "run", "-e", "smoke", "--seeds", "0", "--no-progress", "--out", str(out))[0] == 0
    row = json.loads(out.read_text())[0]
    fields = {f.name for f in dataclasses.fields(experiments.Config)} | {"experiment", "profile", "label", "setting",
                                                                        "loss_name", "from_cache", "model_kwargs",
                                                                        "train_subset_seed", "test_subset_seed"}
    reported = {k for k, v in row.items() if k not in fields and isinstance(v, (int, float)) and not isinstance(v, bool)}
    assert reported <= set(cli.AE_METRIC_NAMES), sorted(reported - set(cli.AE_METRIC_NAMES))


def test_a_vae_experiment_runs_and_prints_vae_metrics(capsys, monkeypatch, tmp_path):
    if not (DATA_DIR / "mnist").is_dir():
        pytest.skip(f"offline MNIST not found in {DATA_DIR}")
    monkeypatch.setenv("AECORE_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path / "cache"))
    tiny = vae_runs.VAEConfig(encoder_hidden=(16,), latent_dim=2, n_train=64, n_test=32, n_val=0, epochs=1,
                              batch_size=32)
    monkeypatch.setitem(cli.EXPERIMENTS, "vae-tiny", cli.Experiment(
        "tiny", lambda profile, seeds: vae_runs.runs([tiny, tiny.replace(recon_reduction="mean")], seeds=seeds)))
    out_path = tmp_path / "vae.csv"
    code, out, err = _main(capsys, "run", "-e", "vae-tiny", "--seeds", "0", "--no-progress", "--out", str(out_path))
    assert code == 0, err
    assert "neg_elbo" in out and "active_units" in out and "recon mean (Keras)" in out
    csv = pd.read_csv(out_path)
    assert list(csv["effective_beta"]) == [1.0, 784.0]
    assert vae_study.article_grid(PROFILES["fast"]).keys() == {
        (n, r) for n in vae_study.article_examples(PROFILES["fast"]) for r in ("sum", "mean")} - {
        ("ex. 2b: encoder 32 only", "mean")}


def test_results_file_gets_the_usual_mode_not_mkstemps_0600(tmp_path):
    import pandas as pd

    old = os.umask(0o022)
    try:
        cli.write_results(pd.DataFrame({"a": [1]}), tmp_path / "r.csv")
    finally:
        os.umask(old)
    assert (tmp_path / "r.csv").stat().st_mode & 0o777 == 0o644


_SLOW_WRITE = """
import pathlib, sys, time
from aecore import cache as cache_mod
from aecore import cli, experiments
root = pathlib.Path(sys.argv[1])
def slow(folder):
    (folder / "a.txt").write_text("x")
    print("writing", flush=True)
    time.sleep(60)
guard = cli.sigterm_as_interrupt() if sys.argv[2] == "guarded" else __import__("contextlib").nullcontext()
with guard:
    try:
        cache_mod.write_entry_atomically(root, root / "entry", slow)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
"""


@pytest.mark.parametrize("mode", ["guarded", "unguarded"])
def test_sigterm_while_an_entry_is_written_leaves_no_temp_folder(tmp_path, mode):
    # Real processes and a real SIGTERM. "unguarded" is the planted fault (the default action):
    # it shows the check can fail, since its temp folder stays behind.
    import signal

    env = {**os.environ, "PYTHONPATH": str(Path(cli.__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITE, str(tmp_path), mode], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=60)[0]
    finally:
        proc.kill()
    left = list(tmp_path.glob(".tmp-*"))
    if mode == "guarded":
        assert proc.returncode == 130 and "interrupted" in out
        assert left == [] and not (tmp_path / "entry").exists()
    else:
        assert proc.returncode == -signal.SIGTERM and len(left) == 1
