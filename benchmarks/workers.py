"""Wall time of a cold sweep with its runs trained one after another vs in worker processes.

    python -m benchmarks.workers                 # chapter 3's fast grid, 3 rounds
    python -m benchmarks.workers --rounds 5 --workers 1 2 3

Each trial is a fresh Python process (as a fresh notebook kernel is) with an empty cache
directory; it imports ``aecore``, then times ``experiments.sweep`` over the grid with
``workers=W``: with workers, their start (importing TensorFlow) and their tracing are inside
the time, as they are for a reader. The contenders of a round run back to back, in an order
that rotates from round to round, and the speed-up is taken inside each round, so that a slow
phase of a shared machine moves both sides of a ratio. Every trial's table (without the
wall-clock ``train_seconds``) must be bit-identical to the first one's, or the benchmark fails.

Writes ``benchmarks/results/workers.csv`` (one row per trial) and ``workers.md`` (medians).
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


def _grid(profile: str):
    from aecore import conv_runs
    from aecore.profiles import PROFILES

    return conv_runs.configs(PROFILES[profile])


def trial(workers: int, profile: str, table_out: Path) -> float:
    """In a fresh process: the sweep's wall seconds (the table is pickled to ``table_out``)."""
    from aecore import experiments

    configs = _grid(profile)
    t0 = time.perf_counter()
    table = experiments.sweep(configs, workers=workers, progress=False)
    seconds = time.perf_counter() - t0
    if table["from_cache"].any():
        raise RuntimeError("a trial found runs in the cache; each trial must start from an empty cache")
    table.drop(columns="train_seconds").to_pickle(table_out)
    return seconds


def _run_trial(workers: int, profile: str, tmp: Path, tag: str) -> float:
    cache = tmp / f"cache-{tag}"
    table = tmp / f"table-{tag}.pkl"
    env = {**os.environ, "AECORE_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    env.pop("AECORE_WORKERS", None)
    done = subprocess.run([sys.executable, "-m", "benchmarks.workers", "--trial", str(workers), "--profile", profile,
                           "--table-out", str(table)], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"trial workers={workers} failed:\n{done.stderr[-3000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--profile", default="fast", choices=["fast", "full"])
    ap.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    ap.add_argument("--trial", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--table-out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.trial is not None:
        print(trial(args.trial, args.profile, args.table_out))
        return 0

    import pandas as pd

    if 1 not in args.workers:
        ap.error("--workers must include 1, the reference")
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    n_runs = len(_grid(args.profile))
    rows = []
    reference = None
    with tempfile.TemporaryDirectory(prefix="aecore-workers-") as tmp_name:
        tmp = Path(tmp_name)
        for rnd in range(args.rounds):
            shift = rnd % len(args.workers)
            for position, workers in enumerate(args.workers[shift:] + args.workers[:shift]):
                load_1m = os.getloadavg()[0]
                tag = f"r{rnd}-w{workers}"
                seconds = _run_trial(workers, args.profile, tmp, tag)
                table = pd.read_pickle(tmp / f"table-{tag}.pkl")
                if reference is None:
                    reference = table
                pd.testing.assert_frame_equal(reference, table, check_exact=True)  # bit-identical or fail
                rows.append({"run_id": run_id, "round": rnd, "position": position, "workers": workers,
                             "profile": args.profile, "runs": n_runs, "sweep_seconds": round(seconds, 2),
                             "load_1m": round(load_1m, 2)})
                print(f"round {rnd + 1}/{args.rounds}: workers={workers}: {seconds:.1f} s (load {load_1m:.1f})",
                      flush=True)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    with open(args.out_dir / "workers.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    by = {w: [r for r in rows if r["workers"] == w] for w in args.workers}
    speedups = {w: [ref["sweep_seconds"] / r["sweep_seconds"] for ref, r in zip(by[1], by[w])] for w in args.workers}
    loads = [r["load_1m"] for r in rows]
    lines = [
        "# Cold sweep: runs one after another vs in worker processes",
        "",
        f"`python -m benchmarks.workers --rounds {args.rounds} --workers {' '.join(map(str, args.workers))} "
        f"--profile {args.profile}`, run {run_id}: chapter 3's grid ({n_runs} runs, `{args.profile}` profile), "
        f"each trial a fresh process with an empty cache.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"1-minute load before the trials {min(loads):.1f}-{max(loads):.1f}.",
        "",
        "Every trial's table was bit-identical to the first (without `train_seconds`).",
        "",
        "| workers | median sweep seconds | per-round seconds | median speed-up (per-round range) |",
        "|---:|---:|---|---|",
    ]
    for w in args.workers:
        secs = [r["sweep_seconds"] for r in by[w]]
        sp = speedups[w]
        lines.append(f"| {w} | {statistics.median(secs):.1f} | {', '.join(f'{s:.1f}' for s in secs)} | "
                     f"{statistics.median(sp):.2f}x ({min(sp):.2f}-{max(sp):.2f}) |")
    (args.out_dir / "workers.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
