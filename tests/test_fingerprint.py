"""The code fingerprint in every cache key: code changes change it, comments and docstrings do not."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import aecore
from aecore import cache as cache_mod
from aecore import experiments, fingerprint

PACKAGE = Path(aecore.__file__).resolve().parent


def _copy(tmp_path: Path) -> Path:
    dest = tmp_path / "pkg"
    dest.mkdir()
    for name in fingerprint.RUN_MODULES:
        shutil.copy(PACKAGE / f"{name}.py", dest / f"{name}.py")
    return dest


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_a_copy_of_the_package_has_the_same_fingerprint(tmp_path):
    assert fingerprint.fingerprint_of(_copy(tmp_path)) == fingerprint.code_fingerprint()


@pytest.mark.parametrize("module", fingerprint.RUN_MODULES)
def test_a_changed_line_of_code_changes_the_fingerprint(tmp_path, module):
    pkg = _copy(tmp_path)
    before = fingerprint.fingerprint_of(pkg)
    _append(pkg / f"{module}.py", "\n_PLANTED = 1\n")
    assert fingerprint.fingerprint_of(pkg) != before


def test_a_changed_constant_inside_a_function_changes_it(tmp_path):
    # The planted fault of the review: a computation changed while the key stayed the same.
    pkg = _copy(tmp_path)
    before = fingerprint.fingerprint_of(pkg)
    src = (pkg / "training.py").read_text(encoding="utf-8")
    assert ".sum(axis=0) / n" in src
    (pkg / "training.py").write_text(src.replace(".sum(axis=0) / n", ".sum(axis=0) / (n + 1)", 1), encoding="utf-8")
    assert fingerprint.fingerprint_of(pkg) != before


def test_comments_docstrings_and_layout_do_not_change_it(tmp_path):
    pkg = _copy(tmp_path)
    before = fingerprint.fingerprint_of(pkg)
    path = pkg / "losses.py"
    src = path.read_text(encoding="utf-8")
    src = src.replace('"""', '"""A reworded docstring. ', 1)  # the module docstring
    src = src.replace("\nfrom __future__", "\n# a new comment\n\n\nfrom __future__", 1)
    path.write_text(src, encoding="utf-8")
    _append(pkg / "metrics.py", "\n# trailing comment\n")
    assert fingerprint.fingerprint_of(pkg) == before


def test_normalised_source_keeps_strings_that_are_not_docstrings():
    a = fingerprint.normalised_source('def f():\n    """doc"""\n    return "x"\n')
    b = fingerprint.normalised_source('def f():\n    return "x"  # why\n')
    c = fingerprint.normalised_source('def f():\n    return "y"\n')
    assert a == b != c


def test_every_module_that_trains_or_scores_a_run_is_fingerprinted():
    # The runners and everything they import from aecore to compute a stored result.
    for name in ("experiments", "vae_runs", "training", "vae", "models", "losses", "data", "metrics",
                 "programs", "adam", "optim", "collapse", "seeding"):
        assert name in fingerprint.RUN_MODULES


def test_entries_record_the_stack_but_are_keyed_without_it(tmp_path, monkeypatch):
    monkeypatch.setenv(cache_mod.CACHE_ENV_VAR, str(tmp_path))
    cfg = experiments.Config(dataset="mnist", model="dense_ae", loss="bce", n_train=32, n_test=32, n_val=0,
                             epochs=1, batch_size=32, seed=0, model_kwargs={})
    experiments.run(cfg, progress=False)
    stored = json.loads((experiments.entry_path(cfg) / "config.json").read_text())
    assert stored["code"] == fingerprint.code_fingerprint()
    assert stored["trained_with"] == fingerprint.stack_versions()
    assert set(stored["trained_with"]) == {"tensorflow", "keras", "numpy"}
    # another TensorFlow reads the same entry back (the key does not hold the stack)
    monkeypatch.setattr(fingerprint, "stack_versions", lambda: {"tensorflow": "0.0", "keras": "0.0", "numpy": "0.0"})
    assert experiments.run(cfg, progress=False).from_cache
