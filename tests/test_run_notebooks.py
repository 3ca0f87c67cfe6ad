"""tools/run_notebooks.py, the papermill runner of `make book` and `make test`: one or two
notebooks at a time, the profile injected only when it is not "full", timings recorded, and a
failing notebook left as it was (in place) with a non-zero exit.

Real kernels on tiny notebooks written here (a few seconds each).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def _notebook(path: Path, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('PROFILE = "full"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "run_notebooks.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def _outputs(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_two_at_a_time_into_a_folder(tmp_path):
    a = _notebook(tmp_path / "a.ipynb", "print('a ran with', PROFILE)")
    b = _notebook(tmp_path / "b.ipynb", "import time; time.sleep(0.5); print('b ran with', PROFILE)")
    record = tmp_path / "record.json"
    proc = _run("--profile", "fast", "--output-dir", str(tmp_path / "out"), "--jobs", "2",
                "--record", str(record), str(a), str(b))
    assert proc.returncode == 0, proc.stderr
    assert "a ran with fast" in _outputs(tmp_path / "out" / "a.ipynb")
    assert "b ran with fast" in _outputs(tmp_path / "out" / "b.ipynb")
    assert _outputs(a) == ""  # the sources are untouched
    rec = json.loads(record.read_text())
    assert rec["profile"] == "fast" and rec["jobs"] == 2
    assert list(rec["seconds"]) == ["a.ipynb", "b.ipynb"]  # reading order, whatever finished first
    assert rec["seconds"]["b.ipynb"] >= 0.5
    # Two at a time: the wall time is less than the notebooks' times added up.
    assert rec["wall_seconds"] < rec["total_seconds"]


def test_in_place_a_failure_leaves_its_notebook_as_it_was(tmp_path):
    good = _notebook(tmp_path / "good.ipynb", "print('good', PROFILE)")
    bad = _notebook(tmp_path / "bad.ipynb", "raise ValueError('broken on purpose')")
    before = bad.read_bytes()
    proc = _run("--profile", "full", "--inplace", "--jobs", "2", "--record", str(tmp_path / "r.json"),
                str(good), str(bad))
    assert proc.returncode == 1
    assert "FAILED bad.ipynb" in proc.stderr and "broken on purpose" in proc.stderr
    assert bad.read_bytes() == before
    assert "good full" in _outputs(good)  # "full": no parameter injected
    assert not any("injected-parameters" in c.metadata.get("tags", [])
                   for c in nbformat.read(good, as_version=4).cells)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.ipynb", "good.ipynb", "r.json"]


def test_jobs_must_be_positive(tmp_path):
    proc = _run("--profile", "fast", "--output-dir", str(tmp_path), "--jobs", "0")
    assert proc.returncode == 2 and "--jobs must be at least 1" in proc.stderr


def test_in_place_a_terminated_run_leaves_no_temp_file(tmp_path):
    slow = _notebook(tmp_path / "slow.ipynb", "import time; time.sleep(60)")
    before = slow.read_bytes()
    proc = subprocess.Popen([sys.executable, str(ROOT / "tools" / "run_notebooks.py"), "--profile", "full",
                             "--inplace", "--record", str(tmp_path / "r.json"), str(slow)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    temp = tmp_path / ".slow.executing.ipynb"
    deadline = time.monotonic() + 60
    while not temp.exists() and time.monotonic() < deadline:  # papermill has started the notebook
        time.sleep(0.2)
    assert temp.exists()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) != 0
    assert not temp.exists()
    assert slow.read_bytes() == before


def test_machine_paths_are_scrubbed_from_outputs_and_nothing_else():
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "tools" / "run_notebooks.py")
    run_notebooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_notebooks)
    nb = {"cells": [{"cell_type": "code", "source": ["print(d.describe())"], "outputs": [
              {"output_type": "stream", "name": "stdout",
               "text": ["MNIST: 5,000 images, offline IDX files in /srv/data/mnist; not binarised.\n"]},
              {"output_type": "execute_result", "data": {"text/plain": ["'/srv/book/chapters' 0.0137"],
                                                         "image/png": "/srv/data"}}]}],
          "metadata": {"papermill": {"input_path": "/srv/book/chapters/x.ipynb"}}}
    n = run_notebooks.scrub_machine_paths(nb, {"/srv/data": "$AECORE_DATA_DIR", "/srv/book": "."})
    outs = nb["cells"][0]["outputs"]
    assert n == 3
    assert outs[0]["text"] == "MNIST: 5,000 images, offline IDX files in $AECORE_DATA_DIR/mnist; not binarised.\n"
    assert outs[1]["data"]["text/plain"] == "'./chapters' 0.0137"  # the number is untouched
    assert outs[1]["data"]["image/png"] == "/srv/data"  # binary data is never rewritten
    assert nb["metadata"]["papermill"]["input_path"] == "./chapters/x.ipynb"
    assert nb["cells"][0]["source"] == ["print(d.describe())"]


def _module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "tools" / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_alt_text_is_the_captions_first_sentence_without_markup():
    rn = _module()
    assert rn.alt_text("Histogram of pixels (log scale). Most are 0.") == "Histogram of pixels (log scale)."
    assert rn.alt_text("See {ref}`the BatchNorm section <ch3-bn>` for $\\beta$.") == "See the BatchNorm section for \\beta."
    long = rn.alt_text("word " * 100)
    assert len(long) == rn.ALT_MAX_CHARS and long.endswith("…")


def test_every_captioned_figure_gets_its_alt_text_and_nothing_else_changes():
    rn = _module()
    nb = {"cells": [{"cell_type": "code", "metadata": {"mystnb": {"figure": {"caption": "A curve. Details."}}}},
                    {"cell_type": "code", "metadata": {"tags": ["hide-input"]}},
                    {"cell_type": "markdown", "metadata": {}}]}
    assert rn.set_alt_texts(nb) == 1
    assert nb["cells"][0]["metadata"]["mystnb"]["image"] == {"alt": "A curve."}
    assert nb["cells"][1]["metadata"] == {"tags": ["hide-input"]}
    assert rn.set_alt_texts(nb) == 0  # already in step with the caption
