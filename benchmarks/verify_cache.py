"""Is a cache entry what its config trains? Retrains it and compares bit for bit.

For each entry named on the command line (a folder name under the cache; an autoencoder's or a
VAE's), this re-runs its config into a fresh temporary cache with the current code and compares
``history.csv`` (every column but the wall-clock ``seconds``), every array of
``model.weights.h5`` and every test metric of ``metrics.json`` (but ``train_seconds``; NaN
equals NaN)::

    python -m benchmarks.verify_cache mnist-conv_ae-bernoulli-s0-f17c09b72fefe1eac1d4 ...

Exits 1 if anything differs. This is the check for what a read cannot see (README, the cache
section): a file edited by the account that owns the cache's key, with the manifest rewritten
and signed again. The same machine is assumed (README, "What bit-identical needs").
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from benchmarks.results import same_json


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
    from aecore import experiments, runner, vae_runs

    stored = json.loads((entry / "config.json").read_text())
    kinds = {experiments.Config.KIND: experiments.Config, vae_runs.VAEConfig.KIND: vae_runs.VAEConfig}
    cfg = kinds[stored["kind"]](**stored["config"])
    before = os.environ.get(cache_mod.CACHE_ENV_VAR)
    os.environ[cache_mod.CACHE_ENV_VAR] = str(scratch)
    try:
        runner.run(cfg, progress=False)
    finally:  # the caller's cache folder, as it was
        if before is None:
            del os.environ[cache_mod.CACHE_ENV_VAR]
        else:
            os.environ[cache_mod.CACHE_ENV_VAR] = before
    new = runner.entry_path(cfg, scratch)
    old_h = pd.read_csv(entry / "history.csv").drop(columns="seconds")
    new_h = pd.read_csv(new / "history.csv").drop(columns="seconds")
    same_history = old_h.shape == new_h.shape and bool((old_h.to_numpy() == new_h.to_numpy())[
        ~(old_h.isna().to_numpy() & new_h.isna().to_numpy())].all())
    old_w, new_w = _arrays(entry / "model.weights.h5"), _arrays(new / "model.weights.h5")
    same_weights = old_w.keys() == new_w.keys() and all(np.array_equal(old_w[k], new_w[k]) for k in old_w)
    old_m = json.loads((entry / "metrics.json").read_text())
    new_m = json.loads((new / "metrics.json").read_text())
    differ = sorted(k for k in set(old_m) | set(new_m) if k != "train_seconds"
                    and not same_json(old_m.get(k, "missing"), new_m.get(k, "missing"), exact_types=True))
    print(f"{entry.name}: history {'identical' if same_history else 'DIFFERENT'} ({len(old_h)} epochs, "
          f"{old_h.shape[1]} columns), weights {'identical' if same_weights else 'DIFFERENT'} "
          f"({len(old_w)} arrays), metrics {'identical' if not differ else 'DIFFERENT: ' + ', '.join(differ)}",
          flush=True)
    return same_history and same_weights and not differ


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
