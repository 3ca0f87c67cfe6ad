"""Check 5 of `make test`: every committed chapter carries a real top-to-bottom run.

A notebook passes when every non-empty code cell has been executed, the execution counts
run 1, 2, 3, ... (a fresh kernel, top to bottom), no output is an error, it has exactly one
``parameters`` cell that sets ``PROFILE = "full"`` (the published profile), no papermill
``injected-parameters`` cell, at least one ``# NBVAL_CHECK_OUTPUT`` cell, and the same setup
cell as every other chapter.
"""

from __future__ import annotations

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9]*.ipynb"))


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _src(cell: dict) -> str:
    s = cell["source"]
    return "".join(s) if isinstance(s, list) else s


def _load(path: pathlib.Path) -> dict:
    return json.loads(path.read_text())


def test_there_are_chapters_and_all_are_in_the_toc():
    assert CHAPTERS, "no chapter notebooks found in chapters/"
    toc = (ROOT / "_toc.yml").read_text()
    for nb in CHAPTERS:
        assert f"chapters/{nb.stem}" in toc, f"{nb.name} is not listed in _toc.yml"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_committed_notebook_was_run_top_to_bottom_without_errors(path):
    nb = _load(path)
    cells = [c for c in _code_cells(nb) if _src(c).strip()]
    counts = [c.get("execution_count") for c in cells]
    assert None not in counts, f"{path.name}: {counts.count(None)} code cell(s) never executed"
    assert counts == list(range(1, len(cells) + 1)), (
        f"{path.name}: execution counts {counts[:10]}... are not 1, 2, 3, ...: "
        "re-run it top to bottom on a fresh kernel (make book)")
    errors = [o.get("ename") for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, f"{path.name}: error outputs committed: {errors}"
    assert any(c.get("outputs") for c in cells), f"{path.name}: no outputs at all"
    stderr = [o["text"][:120] for c in cells for o in c.get("outputs", [])
              if o["output_type"] == "stream" and o["name"] == "stderr" and "Traceback" in "".join(o["text"])]
    assert not stderr, f"{path.name}: tracebacks in stderr outputs: {stderr}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_one_parameters_cell_with_published_profile(path):
    cells = _code_cells(_load(path))
    params = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, f"{path.name}: {len(params)} cells tagged 'parameters' (need exactly 1)"
    assert re.search(r'^PROFILE\s*=\s*"full"', _src(params[0]), re.M), (
        f"{path.name}: the parameters cell must set PROFILE = \"full\"")
    injected = [c for c in cells if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    assert not injected, f"{path.name}: committed with a papermill injected-parameters cell (a non-full run?)"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_has_an_nbval_checked_cell_with_output(path):
    # nbval only honours the marker as a whole comment line: "# NBVAL_CHECK_OUTPUT"
    marker = re.compile(r"^\s*#\s*NBVAL_CHECK_OUTPUT\s*$", re.M)
    checked = [c for c in _code_cells(_load(path)) if marker.search(_src(c))]
    assert checked, f"{path.name}: no cell with a '# NBVAL_CHECK_OUTPUT' line of its own"
    assert all(c.get("outputs") for c in checked), f"{path.name}: an NBVAL_CHECK_OUTPUT cell has no output"


def test_setup_cell_is_identical_everywhere():
    firsts = {p.name: _src(_code_cells(_load(p))[0]) for p in CHAPTERS}
    assert len(set(firsts.values())) == 1, f"setup cells differ: {list(firsts)}"
    assert next(iter(firsts.values())).startswith("# Setup")


def report_outcomes() -> tuple[str, ...]:
    from aecore.verdicts import OUTCOMES

    return OUTCOMES


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_verdict_table_feeds_the_claim_ledger(path):
    # tools/build_pages.py builds the intro's claim ledger from this output
    from aecore.report import VERDICTS_MIME

    tables = [o["data"][VERDICTS_MIME] for c in _code_cells(_load(path)) for o in c.get("outputs", [])
              if VERDICTS_MIME in o.get("data", {})]
    assert tables, f"{path.name}: no verdict table (report.verdict_markdown) among the outputs"
    for v in (v for t in tables for v in t):
        assert v["verdict"] in report_outcomes() and v["claim"] and v["evidence"]
        assert v["where"], f"{path.name}: verdict {v['claim']!r} links to no section"


# Chapters whose verdict cells still build report.Verdict objects in the notebook: none (every
# chapter calls its study module's verdict function). The set may only stay empty.
VERDICTS_STILL_IN_NOTEBOOK: set[str] = set()


def _builds_a_verdict(path: pathlib.Path) -> bool:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return any(re.search(r"\bVerdict\(", "".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_verdicts_come_from_the_package_not_from_the_notebook(path):
    assert _builds_a_verdict(path) == (path.stem in VERDICTS_STILL_IN_NOTEBOOK), (
        f"{path.name}: " + ("a code cell builds a report.Verdict; call the study module's verdict function"
                            if _builds_a_verdict(path) else "now builds no Verdict: drop it from the list"))


def test_the_verdict_check_sees_a_planted_verdict(tmp_path):
    nb = {"cells": [{"cell_type": "code", "source": ["v = report.Verdict('c', 's', 'Supported', 'e')\n"]}]}
    planted = tmp_path / "planted.ipynb"
    planted.write_text(json.dumps(nb))
    assert _builds_a_verdict(planted)


def test_setup_cell_installs_this_versions_package_where_it_is_missing():
    import aecore

    setup = _src(_code_cells(_load(CHAPTERS[0]))[0])
    pins = re.findall(r"^\s+%pip install -q aecore==(\S+)$", setup, re.M)
    assert pins == [aecore.__version__], f"the setup cell must pin aecore=={aecore.__version__}, found {pins}"
    assert 'importlib.util.find_spec("aecore") is None' in setup  # only where it is missing
    assert not re.search(r"tensorflow|numpy|keras", setup.split("%pip", 1)[1].splitlines()[0])


def test_no_chapter_asks_get_profile_for_a_fixed_profile():
    # aecore.get_profile("fast") returns the profile of $AECORE_PROFILE when it is set (as papermill
    # and nbval set it), so a chapter that needs the fast profile itself must use PROFILES["fast"].
    for path in CHAPTERS:
        src = "".join(_src(c) for c in _code_cells(_load(path)))
        assert not re.search(r"get_profile\(\s*[\"'](fast|full)[\"']", src), path.name


def _stray_values(path: pathlib.Path) -> list[str]:
    """Bare values a cell displays because its last line returns one (e.g. report.glue's)."""
    out = []
    for cell in _code_cells(_load(path)):
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            if o.get("output_type") == "execute_result" and not set(data) & {"image/png", "text/html", "text/markdown"}:
                text = "".join(data.get("text/plain", ""))
                if re.fullmatch(r"'[^'\n]{0,60}'|-?[\d.e+-]+", text.strip()):
                    out.append(text)
    return out


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_cell_shows_a_stray_return_value(path):
    assert _stray_values(path) == [], f"{path.name}: a cell shows a bare value (end it with `_ = ...`)"


def test_the_stray_value_check_sees_a_planted_one(tmp_path):
    nb = {"cells": [{"cell_type": "code", "source": ["report.glue('x', 0.5)"],
                     "outputs": [{"output_type": "execute_result", "data": {"text/plain": "0.03647114114481198"}}]}]}
    planted = tmp_path / "p.ipynb"
    planted.write_text(json.dumps(nb))
    assert _stray_values(planted) == ["0.03647114114481198"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_committed_outputs_show_no_machine_path(path):
    # tools/run_notebooks.py replaces the build machine's data folder, cache and checkout by
    # $AECORE_DATA_DIR, $AECORE_CACHE_DIR and "." (scrub_machine_paths).
    nb = _load(path)
    texts = [json.dumps(o) for c in _code_cells(nb) for o in c.get("outputs", [])]
    assert not [t for t in texts if re.search(r"IDX files in /|/home/|/work/|/tmp/", t)], path.name
    assert not str(nb["metadata"].get("papermill", {}).get("input_path", "")).startswith("/")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_committed_figure_has_the_alt_text_of_its_caption(path):
    # tools/run_notebooks.py writes it (set_alt_texts); without it a figure's alt text is a file path.
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "tools" / "run_notebooks.py")
    rn = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rn)
    for cell in _code_cells(_load(path)):
        if any("image/png" in o.get("data", {}) for o in cell.get("outputs", [])):
            mystnb = cell["metadata"].get("mystnb", {})
            caption = mystnb.get("figure", {}).get("caption")
            assert caption, f"{path.name}: a figure without a caption: {''.join(cell['source'])[:60]}"
            assert mystnb.get("image", {}).get("alt") == rn.alt_text(caption), path.name
