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
