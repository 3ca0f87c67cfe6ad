"""Shared test guards.

Every test must leave the ``AECORE_*`` environment variables as it found them (monkeypatch
restores its own changes; a direct ``os.environ`` edit that is not undone would make every later
test load other data or use another cache: once, a hostile-input case deleted
``AECORE_DATA_DIR`` and eight VAE tests then tried to download MNIST)."""

from __future__ import annotations

import os

import pytest


def _aecore_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("AECORE_")}


@pytest.fixture(autouse=True)
def _aecore_environment_is_left_as_found():
    before = _aecore_env()
    yield
    after = _aecore_env()
    if after != before:
        os.environ.update(before)  # put it back so that one leak fails one test, not every later one
        for key in set(after) - set(before):
            del os.environ[key]
        pytest.fail(f"the test changed the AECORE_* environment and did not restore it: before {before}, "
                    f"after {after}")


def train_into_cache(tmp_path_factory, cfg, *, name: str, data_dir):
    """One real run of ``cfg`` into a fresh cache folder of its own, with the offline data:
    ``(cache root, Result)``. Shared by the module-level fixtures that damage copies of a real
    entry (test_experiments, test_hostile_cache)."""
    from aecore import experiments

    root = tmp_path_factory.mktemp(name)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AECORE_DATA_DIR", str(data_dir))
        mp.setenv("AECORE_CACHE_DIR", str(root))
        result = experiments.run(cfg, progress=False)
    return root, result
