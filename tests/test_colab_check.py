"""tools/colab_check.py (the `make test-colab` stage): what it pins and how it refuses bad input.
The stage itself runs every chapter on the Colab stack in `make test`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("colab_check", ROOT / "tools" / "colab_check.py")
colab_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(colab_check)


def test_the_stack_is_colabs_and_keeps_what_colab_has():
    assert colab_check.PYTHON_VERSION == (3, 13)
    assert "tensorflow==2.20.*" in colab_check.STACK
    assert set(colab_check.KEPT) == {"tensorflow", "numpy", "keras"}


def test_an_unknown_chapter_is_refused_before_anything_is_built(capsys):
    with pytest.raises(SystemExit) as exc:
        colab_check.main(["--chapters", "07_no_such_chapter.ipynb"])
    assert exc.value.code == 2 and "no such chapter: 07_no_such_chapter.ipynb" in capsys.readouterr().err


def test_a_python_that_does_not_run_is_skipped(monkeypatch):
    monkeypatch.setenv("COLAB_PYTHON", "/nonexistent/python3.13")
    found = colab_check._python()
    assert found != "/nonexistent/python3.13"
    monkeypatch.setenv("COLAB_PYTHON", sys.executable)  # one that runs is taken as given
    assert colab_check._python() == sys.executable
