"""benchmarks/verify_cache.py: the check for what a manifest cannot see. It retrains an entry of
either kind and fails on any edited training curve, weight or metric, even one whose manifest was
rewritten to match (the hostile cache case the read path serves: tests/test_hostile_cache.py)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import train_into_cache

from aecore import vae_runs
from aecore.experiments import Config
from benchmarks import verify_cache
from test_hostile_cache import forge

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("AECORE_DATA_DIR") or ROOT.parent / "shared" / "data")
pytestmark = pytest.mark.skipif(not (DATA_DIR / "mnist").is_dir(), reason=f"offline MNIST not found in {DATA_DIR}")

CONFIGS = {
    "autoencoder": Config(dataset="mnist", model="dense_ae", loss="bce", n_train=32, n_test=32, n_val=0, epochs=1,
                          batch_size=32, seed=0, model_kwargs={"hidden_units": 8, "latent_dim": 2}),
    "vae": vae_runs.VAEConfig(encoder_hidden=(8,), latent_dim=2, n_train=32, n_test=32, n_val=8, epochs=1,
                              batch_size=32),
}


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def entry(request, tmp_path_factory):
    root, result = train_into_cache(tmp_path_factory, CONFIGS[request.param], name=f"verify_{request.param}",
                                    data_dir=DATA_DIR)
    return result.path


def _copy_entry(entry: Path, tmp_path: Path, monkeypatch) -> Path:
    """A copy of ``entry`` to damage (the module's entries stay intact), with the offline data set."""
    monkeypatch.setenv("AECORE_DATA_DIR", str(DATA_DIR))
    copy = tmp_path / "entry" / entry.name
    shutil.copytree(entry, copy)
    return copy


def test_an_intact_entry_is_verified(entry, tmp_path, monkeypatch, capsys):
    copy = _copy_entry(entry, tmp_path, monkeypatch)
    assert verify_cache.verify(copy, tmp_path / "scratch")
    assert "metrics identical" in capsys.readouterr().out


def test_a_plausible_metric_with_a_matching_manifest_is_caught(entry, tmp_path, monkeypatch, capsys):
    copy = _copy_entry(entry, tmp_path, monkeypatch)
    metrics = json.loads((copy / "metrics.json").read_text())
    name = "mse_per_pixel"
    metrics[name] = metrics[name] * 0.5  # better than the run was, and re-signed with the folder's key as
    forge(copy, "metrics.json", json.dumps(metrics), signed=True)  # only its owner can: what a read serves
    assert not verify_cache.verify(copy, tmp_path / "scratch")
    assert f"metrics DIFFERENT: {name}" in capsys.readouterr().out


def test_equal_means_equal_with_nan_equal_to_nan():
    from benchmarks.results import same_json

    assert same_json([1.0, float("nan")], [1.0, float("nan")], exact_types=True)
    assert same_json({"a": [float("nan")]}, {"a": [float("nan")]}) and not same_json({"a": 1}, {"b": 1})
    assert not same_json(0.1, 0.1000000000000001)
    assert not same_json(1, 1.0, exact_types=True) and same_json(1, 1.0)  # a file's 1.0 become 1 has changed
    assert not same_json([1.0], [1.0, 2.0])
