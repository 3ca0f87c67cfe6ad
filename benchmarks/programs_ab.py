"""Wall time of a chapter's cold sweep with and without shared traced programs (aecore.programs).

    python -m benchmarks.programs_ab                       # chapters 3 and 4, fast grids, 2 rounds
    python -m benchmarks.programs_ab --grids conv-ae --rounds 3

``aecore.programs`` traces a training program once per architecture and setting and reuses it
for every model of a sweep (the weights swapped in); without it, each fit traces its own steps
on its own model, and each model its own inference function. Each trial is a fresh Python
process (as a fresh notebook kernel is) with an empty cache; it times ``experiments.sweep``
over the grid of one ``python -m aecore`` experiment. The two arms of a round run back to back,
in an order that alternates from round to round, and the speed-up is taken inside each round.
Every trial's table (without the wall-clock ``train_seconds``) must be bit-identical to the
first one's of its grid, or the benchmark fails.

Writes ``benchmarks/results/programs_ab.csv`` (one row per trial) and ``programs_ab.md``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
ARMS = ("shared", "off")


def _configs(grid: str):
    from aecore import cli
    from aecore.profiles import PROFILES

    fast = PROFILES["fast"]
    return cli.EXPERIMENTS[grid].configs(fast, fast.seeds)


def _programs_off() -> None:
    """Every fit traces its own steps on its own model; every model its own inference function."""
    from aecore import programs

    bound = programs.bound
    per_model: dict = {}

    def bound_off(model, key, build_template, make):
        return bound(model, None, build_template, make)

    def inference_off(model, key, build_template, make):
        fn = per_model.get((id(model), key))
        if fn is None:
            fn = per_model[(id(model), key)] = (model, make(model))
        return fn[1]

    programs.bound = bound_off
    programs.inference = inference_off


def trial(arm: str, grid: str, table_out: Path) -> float:
    """In a fresh process: the sweep's wall seconds (the table is pickled to ``table_out``)."""
    from aecore import experiments, vae_runs

    if arm == "off":
        _programs_off()
    configs = _configs(grid)
    sweep = vae_runs.sweep if isinstance(configs[0], vae_runs.VAEConfig) else experiments.sweep
    t0 = time.perf_counter()
    table = sweep(configs, progress=False)
    seconds = time.perf_counter() - t0
    if table["from_cache"].any():
        raise RuntimeError("a trial found runs in the cache; each trial must start from an empty cache")
    table.drop(columns="train_seconds").to_pickle(table_out)
    return seconds


def _run_trial(arm: str, grid: str, tmp: Path, tag: str) -> float:
    env = {**os.environ, "AECORE_CACHE_DIR": str(tmp / f"cache-{tag}"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "benchmarks.programs_ab", "--trial", arm, "--grids", grid,
                           "--table-out", str(tmp / f"table-{tag}.pkl")], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"trial {arm} {grid} failed:\n{done.stderr[-3000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--grids", nargs="+", default=["conv-ae", "blob"])
    ap.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    ap.add_argument("--trial", choices=ARMS, help=argparse.SUPPRESS)
    ap.add_argument("--table-out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.trial is not None:
        print(trial(args.trial, args.grids[0], args.table_out))
        return 0

    import pandas as pd

    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = []
    with tempfile.TemporaryDirectory(prefix="aecore-programs-") as tmp_name:
        tmp = Path(tmp_name)
        for grid in args.grids:
            reference = None
            for rnd in range(args.rounds):
                order = ARMS if rnd % 2 == 0 else ARMS[::-1]
                for position, arm in enumerate(order):
                    load_1m = os.getloadavg()[0]
                    tag = f"{grid}-r{rnd}-{arm}"
                    seconds = _run_trial(arm, grid, tmp, tag)
                    table = pd.read_pickle(tmp / f"table-{tag}.pkl")
                    if reference is None:
                        reference = table
                    pd.testing.assert_frame_equal(reference, table, check_exact=True)  # bit-identical or fail
                    rows.append({"run_id": run_id, "grid": grid, "round": rnd, "position": position, "arm": arm,
                                 "runs": len(table), "sweep_seconds": round(seconds, 2), "load_1m": round(load_1m, 2)})
                    print(f"{grid} round {rnd + 1}/{args.rounds}: {arm}: {seconds:.1f} s (load {load_1m:.1f})",
                          flush=True)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    with open(args.out_dir / "programs_ab.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    loads = [r["load_1m"] for r in rows]
    lines = [
        "# Cold sweep: shared traced programs (`aecore.programs`) vs one trace per fit",
        "",
        f"`python -m benchmarks.programs_ab --rounds {args.rounds} --grids {' '.join(args.grids)}`, run {run_id}: "
        "each grid is a `python -m aecore` experiment in the `fast` profile; each trial a fresh process with an "
        "empty cache.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"1-minute load before the trials {min(loads):.1f}-{max(loads):.1f}.",
        "",
        "Every trial's table was bit-identical to the first of its grid (without `train_seconds`).",
        "",
        "| grid | runs | median seconds, shared | median seconds, off | speed-up of shared (per-round range) |",
        "|---|---:|---:|---:|---|",
    ]
    for grid in args.grids:
        by = {arm: [r for r in rows if r["grid"] == grid and r["arm"] == arm] for arm in ARMS}
        sp = [off["sweep_seconds"] / on["sweep_seconds"] for on, off in zip(by["shared"], by["off"])]
        lines.append(f"| {grid} | {by['shared'][0]['runs']} | "
                     f"{statistics.median(r['sweep_seconds'] for r in by['shared']):.1f} | "
                     f"{statistics.median(r['sweep_seconds'] for r in by['off']):.1f} | "
                     f"{statistics.median(sp):.2f}x ({min(sp):.2f}-{max(sp):.2f}) |")
    (args.out_dir / "programs_ab.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
