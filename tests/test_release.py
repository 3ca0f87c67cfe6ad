"""Packaging and release: the tag check, the built wheel's contents, and the generated book
configuration that gives each chapter its Colab link."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

import aecore

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_pages  # noqa: E402
import release_check  # noqa: E402


def test_the_tag_must_name_the_version():
    assert release_check.package_version() == aecore.__version__
    assert release_check.problem(f"v{aecore.__version__}", aecore.__version__) is None
    assert "does not name the package's version" in release_check.problem("v9.9.9", aecore.__version__)
    assert "does not name" in release_check.problem(aecore.__version__, aecore.__version__)  # the v is required
    assert "no tag" in release_check.problem("", aecore.__version__)


def test_release_check_exits_1_on_a_wrong_tag():
    env = {"GITHUB_REF_NAME": "v0.0.0-not-this", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "release_check.py")], env=env, capture_output=True,
                         text=True)
    assert out.returncode == 1 and "does not name the package's version" in out.stderr


def test_the_wheel_holds_the_package_its_data_license_and_command(tmp_path):
    # Built from a copy of what the sdist holds, so the checkout gets no build/ folder.
    import shutil

    src = tmp_path / "src"
    shutil.copytree(ROOT / "aecore", src / "aecore", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(src)],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("aecore-*.whl")
    assert wheel.name.startswith(f"aecore-{aecore.__version__}-")
    names = zipfile.ZipFile(wheel).namelist()
    assert "aecore/mnist_train_fingerprints.bin" in names and "aecore/cli.py" in names
    assert any(n.endswith("licenses/LICENSE") for n in names)
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "License-Expression: MIT" in meta and "Requires-Dist: tensorflow" in meta
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "aecore = aecore.cli:main" in entry
    assert not any(n.startswith(("tests/", "chapters/", "benchmarks/")) for n in names)


def test_book_config_adds_launch_buttons_only_with_a_repository():
    plain = yaml.safe_load(build_pages.book_config(None))
    assert "launch_buttons" not in plain and "repository" not in plain
    with_repo = yaml.safe_load(build_pages.book_config("some-owner/some-book"))
    assert with_repo["repository"]["url"] == "https://github.com/some-owner/some-book"
    assert with_repo["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert with_repo["sphinx"]["local_extensions"]["js_dedupe"] == "../_ext"  # resolved from _generated/
    with pytest.raises(SystemExit, match="not an owner/name"):
        build_pages.book_config("https://github.com/x/y; rm -rf /")


def test_the_build_page_says_how_the_cold_build_was_run(tmp_path, monkeypatch):
    import json

    chapters = tmp_path / "chapters"
    chapters.mkdir()
    rec = {"profile": "full", "seconds": {"a.ipynb": 1.0}, "runs_trained": {"a.ipynb": 0}, "total_seconds": 1.0,
           "wall_seconds": 60.0}
    (chapters / "execution.json").write_text(json.dumps(rec))
    (chapters / "execution-cold.json").write_text(json.dumps({**rec, "note": "Two processes at once."}))
    monkeypatch.setattr(build_pages, "ROOT", tmp_path)
    assert "Two processes at once." in build_pages.build_info_page()


def test_the_release_stamps_the_published_runs_address_into_the_metadata(tmp_path):
    import tomllib

    import stamp_runs_url

    from aecore import archive

    assert stamp_runs_url.LABEL == archive.PUBLISHED_RUNS_LABEL
    url = stamp_runs_url.runs_url("some-owner/some-book", aecore.__version__)
    assert url == (f"https://github.com/some-owner/some-book/releases/download/v{aecore.__version__}/"
                   f"aecore-runs-{aecore.__version__}.tar.gz")
    text = (ROOT / "pyproject.toml").read_text()
    assert "Published runs" not in text  # a checkout knows no published runs
    stamped = stamp_runs_url.stamp(text, url)
    assert tomllib.loads(stamped)["project"]["urls"] == {"Published runs": url}
    assert stamp_runs_url.stamp(stamped, url + "2").count("Published runs") == 1  # a second stamp replaces
    for bad in ("x; rm -rf /", "https://github.com/a/b", "a"):
        with pytest.raises(ValueError, match="not a GitHub repository"):
            stamp_runs_url.runs_url(bad, "0.1.0")
    # the command writes the file it is given and prints the address
    target = tmp_path / "pyproject.toml"
    target.write_text(text)
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "stamp_runs_url.py"), "--repository", "o/b",
                          "--version", "0.1.0", "--pyproject", str(target)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip().endswith("/v0.1.0/aecore-runs-0.1.0.tar.gz")
    assert tomllib.loads(target.read_text())["project"]["urls"]["Published runs"] == out.stdout.strip()


def test_compare_verdicts_names_every_changed_claim():
    import copy

    import compare_verdicts

    from aecore import report

    assert compare_verdicts.VERDICTS_MIME == report.VERDICTS_MIME
    table = report.VerdictTable([report.Verdict("A", "000", "Supported", "e", "ch9-a"),
                                 report.Verdict("B", "000", "Refuted", "e", "ch9-b")])
    nb = {"cells": [{"cell_type": "code", "outputs": [{"output_type": "display_data",
                                                       "data": table._repr_mimebundle_()}]}]}
    before = compare_verdicts.verdicts(nb)
    assert before == {"A": "Supported", "B": "Refuted"}  # read from what a verdict table writes
    planted = copy.deepcopy(nb)  # one verdict flipped, one claim gone
    rows = planted["cells"][0]["outputs"][0]["data"][compare_verdicts.VERDICTS_MIME]
    rows = rows if isinstance(rows, list) else rows["verdicts"]
    rows[0]["verdict"] = "Inconclusive"
    del rows[1]
    lines = compare_verdicts.differences(before, compare_verdicts.verdicts(planted))
    assert lines == ["'A': Supported -> Inconclusive", "'B': Refuted -> absent"]
    assert compare_verdicts.differences(before, before) == []


def test_the_build_page_names_a_chapter_executed_again_after_the_build(tmp_path, monkeypatch):
    import json

    chapters = tmp_path / "chapters"
    chapters.mkdir()
    rec = {"profile": "full", "seconds": {"a.ipynb": 1.0, "b.ipynb": 2.0}, "runs_trained": {}, "total_seconds": 3.0,
           "finished_utc": "2026-12-03 08:31 UTC"}
    (chapters / "execution.json").write_text(json.dumps(rec))
    for name, end in (("a.ipynb", "2026-12-03T08:30:40.6+00:00"), ("b.ipynb", "2026-12-03T08:57:02.1+00:00")):
        (chapters / name).write_text(json.dumps({"metadata": {"papermill": {"end_time": end}}, "cells": []}))
    monkeypatch.setattr(build_pages, "ROOT", tmp_path)
    page = build_pages.build_info_page()
    assert "| `a.ipynb` | 2026-12-03 08:30 UTC |" in page and "| `b.ipynb` | 2026-12-03 08:57 UTC |" in page
    assert "after that build, top to bottom on a fresh kernel: `b.ipynb`." in page
    assert "kernel: `a.ipynb`" not in page
