"""Re-trains cached experiments with the current ``aecore.training.fit`` and compares bit for bit.

The cached runs in ``.aecore_cache/`` (and the committed chapters) were made by the
one-call-per-step loop; ``fit``'s faster default must reproduce them exactly. For each entry
named on the command line (a directory name under the cache), this re-runs its config into a
fresh temporary cache and compares ``history.csv`` (every column but the wall-clock
``seconds``) and every array of ``model.weights.h5``::

    python -m benchmarks.verify_cache mnist-conv_ae-bernoulli-s0-f17c09b72fefe1eac1d4 ...

Exits 1 if anything differs. (Metrics computed from the data alone, such as the PCA
baseline, may differ when the cache entry predates a change to them; they are listed, not
failed.)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np


def _arrays(path: Path) -> dict[str, np.ndarray]:
    import h5py

    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda k, v: out.__setitem__(k, v[()]) if isinstance(v, h5py.Dataset) else None)
    return out


def verify(entry: Path, scratch: Path) -> bool:
    """Re-runs one cache entry into ``scratch``; prints and returns whether it is bit-identical."""
    import pandas as pd

    from aecore import cache as cache_mod
    from aecore import experiments

    cfg = experiments.Config(**json.loads((entry / "config.json").read_text())["config"])
    os.environ[cache_mod.CACHE_ENV_VAR] = str(scratch)
    experiments.run(cfg, progress=False)
    new = experiments.entry_path(cfg, scratch)
    old_h = pd.read_csv(entry / "history.csv").drop(columns="seconds")
    new_h = pd.read_csv(new / "history.csv").drop(columns="seconds")
    same_history = old_h.shape == new_h.shape and bool((old_h.to_numpy() == new_h.to_numpy())[
        ~(old_h.isna().to_numpy() & new_h.isna().to_numpy())].all())
    old_w, new_w = _arrays(entry / "model.weights.h5"), _arrays(new / "model.weights.h5")
    same_weights = old_w.keys() == new_w.keys() and all(np.array_equal(old_w[k], new_w[k]) for k in old_w)
    old_m = json.loads((entry / "metrics.json").read_text())
    new_m = json.loads((new / "metrics.json").read_text())
    other = [k for k in old_m if k != "train_seconds" and old_m[k] != new_m.get(k)]
    print(f"{entry.name}: history {'identical' if same_history else 'DIFFERENT'} ({len(old_h)} epochs, "
          f"{old_h.shape[1]} columns), weights {'identical' if same_weights else 'DIFFERENT'} "
          f"({len(old_w)} arrays); other metrics that differ: {other or 'none'}", flush=True)
    return same_history and same_weights


def main(argv: Sequence[str] | None = None) -> int:
    from aecore import cache as cache_mod

    names = list(sys.argv[1:] if argv is None else argv)
    if not names:
        print(__doc__)
        return 2
    cache = cache_mod.cache_dir()
    ok = True
    for name in names:
        with tempfile.TemporaryDirectory() as scratch:
            ok &= verify(Path(cache) / name, Path(scratch))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
