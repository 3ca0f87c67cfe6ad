"""tools/build_pages.py's table of a build's times: runs per chapter where the build recorded
them, else the total it recorded (a build two chapters at a time counts only the total)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("build_pages", ROOT / "tools" / "build_pages.py")
build_pages = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_pages)


def test_times_table_per_chapter_runs_or_the_recorded_total():
    one_at_a_time = {"seconds": {"a.ipynb": 1.0, "b.ipynb": 2.5}, "runs_trained": {"a.ipynb": 3, "b.ipynb": 4},
                     "total_seconds": 3.5}
    assert build_pages._times_table(one_at_a_time) == [
        "| notebook | seconds | runs trained in this build |", "|---|---|---|",
        "| `a.ipynb` | 1.0 | 3 |", "| `b.ipynb` | 2.5 | 4 |", "| **total** | **3.5** | **7** |", ""]
    two_at_a_time = {"seconds": {"a.ipynb": 1.0}, "runs_trained_total": 569, "total_seconds": 1.0}
    assert build_pages._times_table(two_at_a_time)[-2:] == ["| **total** | **1.0** | **569** |", ""]
    assert build_pages._times_table({"seconds": {}})[-2] == "| **total** | **0.0** | **not recorded** |"
    assert "| `a.ipynb` | 1.0 | counted in the total only |" in build_pages._times_table(two_at_a_time)
    assert "| `a.ipynb` | 1.0 | not recorded |" in build_pages._times_table({"seconds": {"a.ipynb": 1.0}})
