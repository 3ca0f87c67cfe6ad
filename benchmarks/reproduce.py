"""Does a cold retrain reproduce the published runs bit for bit?

    python -m benchmarks.reproduce --record      # after a full build: write the reference from the cache
    python -m benchmarks.reproduce               # retrain the sample cold, compare (exit 1 on a difference)

The sample is one run of every chapter that trains (3, 4, 5 and 6), in the ``full`` profile.
``--record`` reads their entries from the cache that the last ``make book`` filled (it trains
nothing: a run missing from the cache is an error) and writes
``benchmarks/results/reference_runs.json``: each run's config, cache key, training history and
test metrics at full precision. Without ``--record`` each run is retrained in a fresh process
with an empty cache and its history (all but the wall-clock ``seconds``) and metrics (all but
``train_seconds``) must equal the reference exactly. The same machine is assumed: TensorFlow
splits work by core count, which changes rounding (README, "What bit-identical needs").

Why it exists: the review found a cold rebuild whose numbers differed from the committed
notebooks; this is the check that it does not happen again.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.results import same_json

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).resolve().parent / "results" / "reference_runs.json"


def sample() -> dict[str, Any]:
    """One run per training chapter, full profile, seed 0: ``name -> config``."""
    from aecore.studies import bias, blob_runs, conv_runs, vae_study
    from aecore.profiles import PROFILES

    full = PROFILES["full"]
    ch3 = next(c for c in conv_runs.configs(full, [0]) if (c.dataset, c.model, c.loss) ==
               ("fashion_mnist", "conv_ae", "bernoulli"))
    ch4 = blob_runs.setting_configs(full, [0])["MNIST, BCE"][0]
    ch5 = next(c for c in bias.configs(full, [0]) if c.loss == "continuous_bernoulli")
    ch6 = next(iter(vae_study.article_grid(full).values())).replace(seed=0)
    return {"chapter 3": ch3, "chapter 4": ch4, "chapter 5": ch5, "chapter 6": ch6}


def _run(cfg: Any) -> Any:
    from aecore import runner

    return runner.run(cfg, progress=False, load_model=False)


def machine() -> dict[str, Any]:
    """The CPU model and core count a run was trained on: bit-identity needs the same
    (README, "What bit-identical needs"), so a reference records it and a check names a change."""
    from benchmarks.results import machine_description

    described = machine_description()
    return {"cpu": described["cpu"], "cpu_id": described["cpu id"], "cores": os.cpu_count()}


def machine_note(recorded: dict[str, Any] | None, here: dict[str, Any]) -> str | None:
    """What to say when a reference was recorded on another machine (None: the same one, or not
    recorded)."""
    if recorded is None or recorded == here:
        return None

    def named(m: dict[str, Any]) -> str:
        return f"{m['cpu']} ({m.get('cpu_id', 'CPU id not recorded')}; {m['cores']} cores)"

    return (f"the reference was trained on {named(recorded)}, this machine is {named(here)}: another CPU "
            f"rounds differently (README, \"What "
            f"bit-identical needs\"); re-record on this machine to compare like with like")


def _summary(result: Any) -> dict[str, Any]:
    history = result.history.drop(columns=[c for c in ("seconds",) if c in result.history.columns])
    metrics = {k: v for k, v in result.metrics.items() if k != "train_seconds"}
    # Python floats through json: repr round-trips every bit (pandas' to_json stops at 15 digits).
    columns = {c: [v.item() if hasattr(v, "item") else v for v in history[c].tolist()] for c in history.columns}
    return {"history": json.loads(json.dumps(columns)), "metrics": json.loads(json.dumps(metrics))}


def record() -> int:
    rows = {}
    for name, cfg in sample().items():
        result = _run_cached_only(cfg)
        rows[name] = {"label": cfg.label(), "config": cfg.to_dict(), "cache_key": cfg.cache_key(),
                      "machine": machine(), **_summary(result)}
    REFERENCE.write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n")
    print(f"wrote {REFERENCE.relative_to(ROOT)} ({len(rows)} runs)")
    return 0


def _run_cached_only(cfg: Any) -> Any:
    from aecore import runner

    path = runner.entry_path(cfg)
    if not path.exists():
        raise SystemExit(f"{cfg.label()} is not in the cache ({path}): run `make book` first")
    result = _run(cfg)
    assert result.from_cache
    return result


def differences(ref: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between a reference run and a retrain, and by how much: one line per history
    column (epochs that differ, largest relative difference) and per metric. A last-digit
    difference (relative 1e-16 in float64, 1e-7 in float32) is a rounding of another CPU; a larger
    one is another computation."""
    def rel(a: Any, b: Any) -> str:
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a == a and b == b:
            return f"relative {abs(a - b) / max(abs(a), abs(b), 1e-300):.1e}"
        return f"{a!r} -> {b!r}"

    lines = []
    for column, old in ref["history"].items():
        now = new["history"].get(column)
        if now is None or len(now) != len(old):
            lines.append(f"history {column}: {'missing' if now is None else f'{len(now)} epochs, not {len(old)}'}")
            continue
        bad = [(a, b) for a, b in zip(old, now) if not same_json(a, b)]
        if bad:
            worst = max(bad, key=lambda ab: abs(ab[0] - ab[1]) if ab[0] == ab[0] and ab[1] == ab[1] else math.inf)
            lines.append(f"history {column}: {len(bad)} of {len(old)} epochs differ, largest {rel(*worst)}")
    for key, old in ref["metrics"].items():
        if not same_json(old, new["metrics"].get(key)):
            lines.append(f"metric {key}: {rel(old, new['metrics'].get(key))}")
    return lines


def trial(name: str) -> None:
    """In a fresh process with an empty cache: retrain one sampled run, print its summary as JSON."""
    print(json.dumps(_summary(_run(sample()[name]))))


def check() -> int:
    reference = json.loads(REFERENCE.read_text())
    failed = 0
    for name, cfg in sample().items():
        ref = reference.get(name)
        if ref is None or ref["config"] != json.loads(json.dumps(cfg.to_dict())):
            print(f"{name}: the reference holds another config; re-record it after `make book`")
            failed += 1
            continue
        with tempfile.TemporaryDirectory(prefix="aecore-reproduce-") as tmp:
            env = {**os.environ, "AECORE_CACHE_DIR": tmp, "PYTHONPATH": str(ROOT)}
            done = subprocess.run([sys.executable, "-m", "benchmarks.reproduce", "--trial", name], cwd=ROOT,
                                  env=env, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{name}: the retrain failed:\n{done.stderr[-2000:]}")
            failed += 1
            continue
        new = json.loads(done.stdout.strip().splitlines()[-1])
        same_h, same_m = same_json(new["history"], ref["history"]), same_json(new["metrics"], ref["metrics"])
        differ = sorted(k for k in ref["metrics"] if not same_json(ref["metrics"][k], new["metrics"].get(k)))
        print(f"{name} ({ref['label']}): history {'identical' if same_h else 'DIFFERENT'}, metrics "
              f"{'identical' if same_m else 'DIFFERENT: ' + ', '.join(differ)}", flush=True)
        for line in differences(ref, new):
            print(f"  {line}", flush=True)
        note = machine_note(ref.get("machine"), machine())
        if note and not (same_h and same_m):
            print(f"  {note}", flush=True)
        failed += not (same_h and same_m)
    print("all reproduced bit for bit" if not failed else f"{failed} run(s) not reproduced")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--record", action="store_true", help="write the reference from the cache")
    ap.add_argument("--trial", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.trial:
        trial(args.trial)
        return 0
    return record() if args.record else check()


if __name__ == "__main__":
    sys.exit(main())
