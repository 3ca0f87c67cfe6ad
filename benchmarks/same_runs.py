"""Did a change of code that was meant to leave the training computation alone leave every run's
numbers alone? Compare two caches entry by entry.

    python -m benchmarks.same_runs OLD_CACHE NEW_CACHE [--translate policy-off-models]

A change to a module of :data:`aecore.fingerprint.RUN_MODULES` changes every cache key, so every
run retrains; when the change was a refactor, the retrained runs must equal the old ones bit for
bit. This pairs each entry of ``NEW_CACHE`` with the entry of ``OLD_CACHE`` that holds the same
run (same kind and config, after ``--translate`` maps an old config to the new fields) and
compares, exactly: every CSV table both entries hold (``history.csv``, a VAE's ``steps.csv``; all
columns both have except the wall-clock ``seconds``) and ``metrics.json`` (every key both have
except the timing ``train_seconds``). Columns or metrics only one side has are listed, not
compared (a refactor may add a logged quantity). Exit status 1 if any pair differs.

Translations (an old config's fields as the new code spells them):

- ``policy-off-models``: before, ``dense_ae`` carried its optimizer and XLA switch as model
  options (``model_kwargs``: ``optimizer``, default ``"adam"``; ``jit_compile``, default on);
  now they are the run's ``optimizer`` and ``jit_compile`` (default off).
- ``no-checkpoints``: autoencoder runs may log held-out evaluations inside an epoch
  (``checkpoints``), which changes nothing that is trained; runs are paired without that field.

A translation is applied to both caches' configs (each is a no-op on configs already in the new
form). For the pairs that differ, the report also says how far each metric moved (median and
largest relative change), which is what to state when a change alters the computation on purpose.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from benchmarks.results import same_json

TIMING_COLUMNS = {"seconds"}
TIMING_METRICS = {"train_seconds"}


def policy_off_models(kind: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """An autoencoder config of the code before the training policy left the models, as now."""
    if kind != "autoencoder" or "optimizer" in cfg:
        return cfg
    cfg = dict(cfg)
    kwargs = dict(cfg.get("model_kwargs") or {})
    cfg["optimizer"] = kwargs.pop("optimizer", "adam")
    jit = kwargs.pop("jit_compile", cfg["model"] == "dense_ae")
    cfg["jit_compile"] = bool(jit)
    cfg["model_kwargs"] = kwargs
    return cfg


def no_checkpoints(kind: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """A config without its ``checkpoints`` (evaluations inside an epoch train nothing)."""
    return {k: v for k, v in cfg.items() if k != "checkpoints"}


TRANSLATIONS: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
    "none": lambda kind, cfg: cfg,
    "policy-off-models": policy_off_models,
    "no-checkpoints": no_checkpoints,
}


def metric_moves(pairs: list[tuple[Path, Path]]) -> dict[str, dict[str, float]]:
    """For pairs of entries of the same run: per numeric metric both have (timings aside), the
    median and the largest relative change ``|new - old| / |old|`` over the pairs, and how many."""
    rel: dict[str, list[float]] = {}
    for old, new in pairs:
        ma = json.loads((old / "metrics.json").read_text())
        mb = json.loads((new / "metrics.json").read_text())
        for k in set(ma) & set(mb) - TIMING_METRICS:
            a, b = ma[k], mb[k]
            if isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isfinite(a) and a != 0:
                rel.setdefault(k, []).append(abs(b - a) / abs(a))
    out = {}
    for k, values in sorted(rel.items()):
        out[k] = {"median": statistics.median(values), "max": max(values), "n": len(values)}
    return out


def _entries(root: Path) -> dict[str, Path]:
    """``canonical (kind, config) JSON -> entry folder`` of every readable entry of a cache."""
    out = {}
    for entry in sorted(Path(root).iterdir()):
        meta = entry / "config.json"
        if entry.name.startswith(".") or not meta.is_file():
            continue
        d = json.loads(meta.read_text())
        out[json.dumps([d["kind"], d["config"]], sort_keys=True)] = entry
    return out


def compare_entries(old: Path, new: Path) -> tuple[list[str], list[str]]:
    """``(differences, only on one side)`` of two entries of the same run, as readable lines."""
    diffs, one_side = [], []
    for table in sorted({p.name for p in old.glob("*.csv")} | {p.name for p in new.glob("*.csv")}):
        if not ((old / table).is_file() and (new / table).is_file()):
            one_side.append(f"{table} only in {'old' if (old / table).is_file() else 'new'}")
            continue
        a, b = pd.read_csv(old / table), pd.read_csv(new / table)
        common = [c for c in a.columns if c in b.columns and c not in TIMING_COLUMNS]
        one_side += [f"{table}: column {c} only in old" for c in a.columns if c not in b.columns]
        one_side += [f"{table}: column {c} only in new" for c in b.columns if c not in a.columns]
        if len(a) != len(b):
            diffs.append(f"{table}: {len(a)} rows vs {len(b)}")
            continue
        for c in common:
            if not a[c].equals(b[c]):
                diffs.append(f"{table}: column {c} differs (first at row {int((a[c] != b[c]).to_numpy().argmax())})")
    ma = json.loads((old / "metrics.json").read_text())
    mb = json.loads((new / "metrics.json").read_text())
    for k in sorted(set(ma) | set(mb)):
        if k in TIMING_METRICS:
            continue
        if k not in ma or k not in mb:
            one_side.append(f"metric {k} only in {'old' if k in ma else 'new'}")
        elif not same_json(ma[k], mb[k]):
            diffs.append(f"metric {k}: {ma[k]!r} vs {mb[k]!r}")
    return diffs, one_side


def compare_caches(old_root: Path, new_root: Path, translate: str = "none") -> dict[str, Any]:
    """Every pair of entries holding the same run: counts, the differing pairs, the unpaired."""
    fix = TRANSLATIONS[translate]
    old = {}
    for key, entry in _entries(old_root).items():
        kind, cfg = json.loads(key)
        old[json.dumps([kind, fix(kind, cfg)], sort_keys=True)] = entry
    new = {}
    for key, entry in _entries(new_root).items():
        kind, cfg = json.loads(key)
        new[json.dumps([kind, fix(kind, cfg)], sort_keys=True)] = entry
    report: dict[str, Any] = {"pairs": 0, "identical": 0, "differ": {}, "one_side": set(),
                              "only_new": sorted(new[k].name for k in new if k not in old),
                              "only_old": sorted(old[k].name for k in old if k not in new)}
    for key in sorted(set(new) & set(old)):
        diffs, one_side = compare_entries(old[key], new[key])
        report["pairs"] += 1
        report["one_side"].update(one_side)
        if diffs:
            report["differ"][new[key].name] = diffs
        else:
            report["identical"] += 1
    report["one_side"] = sorted(report["one_side"])
    names = set(report["differ"])
    report["moves"] = metric_moves([(old[k], new[k]) for k in set(new) & set(old) if new[k].name in names])
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument("--translate", choices=sorted(TRANSLATIONS), default="none")
    args = p.parse_args(argv)
    r = compare_caches(args.old, args.new, args.translate)
    print(f"{r['pairs']} runs in both caches: {r['identical']} identical (histories and metrics, bit for bit, "
          f"timings left out), {len(r['differ'])} differ")
    for name, diffs in r["differ"].items():
        print(f"  DIFFERS {name}: " + "; ".join(diffs[:5]))
    print(f"{len(r['only_new'])} runs only in the new cache, {len(r['only_old'])} only in the old one")
    for line in r["one_side"]:
        print(f"  not compared: {line}")
    if r["moves"]:
        print("How far the metrics of the differing runs moved (relative change, median / largest):")
        for k, m in r["moves"].items():
            print(f"  {k}: {m['median']:.2e} / {m['max']:.2e} over {m['n']} runs")
    return 1 if r["differ"] else 0


if __name__ == "__main__":
    sys.exit(main())
