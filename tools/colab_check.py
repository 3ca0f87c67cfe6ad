"""Runs every chapter as a Colab reader would: on Colab's stack, from the notebook file alone.

    python tools/colab_check.py                 # what `make test-colab` (and `make test`) runs
    python tools/colab_check.py --chapters 01_losses_are_likelihoods.ipynb

Colab today runs Python 3.13 with TensorFlow 2.20 (and the Keras, NumPy, pandas, SciPy and
matplotlib that come with it). This check builds that stack in its own virtual environment
(``.venv-colab``, from ``python3.13`` or ``$COLAB_PYTHON``), installs the book's package from a
wheel of this checkout, exactly as the setup cell's ``%pip install aecore==<version>`` installs it
from PyPI, and checks that installing it changed neither TensorFlow nor NumPy. Then it copies
each chapter, alone, into an empty folder outside the repository and executes it there with
papermill in the ``fast`` profile, with an empty run cache: nothing of the checkout is
importable but the installed package. Data come from ``$AECORE_DATA_DIR`` (no internet here);
on Colab they come from ``keras.datasets``.

Exit status 0 when every chapter ran; 1 when one failed (its error is printed); 2 when the stack
cannot be built (no Python 3.13, no package index), with what to do.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-colab"
# Colab's stack as of the book's release (Python 3.13, TensorFlow 2.20); pip picks the Keras,
# NumPy and ml-dtypes that TensorFlow 2.20 asks for, as Colab's image does.
PYTHON_VERSION = (3, 13)
STACK = ["tensorflow==2.20.*", "matplotlib", "pandas", "scipy", "papermill", "ipykernel"]
KEPT = ("tensorflow", "numpy", "keras")  # installing aecore must not change these


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=False, text=True, capture_output=True, **kw)


def _python() -> str | None:
    """The interpreter for the Colab stack: $COLAB_PYTHON, else a python3.13 that runs (on PATH,
    or one that pyenv installed but has not put on PATH)."""
    name = f"python{PYTHON_VERSION[0]}.{PYTHON_VERSION[1]}"
    candidates = [os.environ.get("COLAB_PYTHON"), shutil.which(name)]
    candidates += sorted(str(p) for p in pathlib.Path("~/.pyenv/versions").expanduser().glob(
        f"{PYTHON_VERSION[0]}.{PYTHON_VERSION[1]}.*/bin/{name}"))
    for c in candidates:
        try:
            if c and _run([c, "--version"]).returncode == 0:
                return c
        except OSError:  # not there, or not a program
            continue
    return None


def _versions(py: pathlib.Path, names=KEPT) -> dict[str, str]:
    code = ("import importlib.metadata as m, json, sys; "
            "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))")
    out = _run([str(py), "-c", code, *names])
    if out.returncode:
        raise RuntimeError(f"cannot read installed versions: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout)


def build_stack(venv: pathlib.Path = VENV) -> pathlib.Path:
    """The Colab-like environment (created once, reused while its stack file is unchanged)."""
    py = venv / "bin" / "python"
    stamp = venv / ".stack"
    if py.exists() and stamp.exists() and stamp.read_text() == json.dumps(STACK):
        return py
    base = _python()
    if base is None:
        raise SystemExit(f"colab_check: no python{PYTHON_VERSION[0]}.{PYTHON_VERSION[1]} on PATH; install it "
                         "(pyenv install 3.13) or set COLAB_PYTHON to its path")
    shutil.rmtree(venv, ignore_errors=True)
    for cmd in ([base, "-m", "venv", str(venv)],
                [str(py), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
                [str(py), "-m", "pip", "install", "--quiet", *STACK]):
        out = _run(cmd)
        if out.returncode:
            raise SystemExit(f"colab_check: building the Colab stack failed at `{' '.join(cmd[-3:])}`:\n"
                             f"{out.stderr.strip()[-2000:]}\n(is the package index reachable?)")
    version = _run([str(py), "-c", "import sys; print(sys.version_info[:2])"]).stdout.strip()
    if version != str(PYTHON_VERSION):
        raise SystemExit(f"colab_check: {base} is Python {version}, not {PYTHON_VERSION}")
    stamp.write_text(json.dumps(STACK))
    return py


def install_package(py: pathlib.Path) -> dict[str, str]:
    """Installs aecore from a wheel of this checkout, as `%pip install aecore==<version>` would
    (its dependencies resolved against what is installed); returns the kept packages' versions."""
    before = _versions(py)
    with tempfile.TemporaryDirectory() as tmp:
        src = pathlib.Path(tmp) / "src"  # a copy, so that no build/ folder is left in the checkout
        shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv*", "_build", "build", "dist",
                                                                  ".aecore_cache", "__pycache__", "*.egg-info"))
        out = _run([str(py), "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", tmp, str(src)])
        wheels = list(pathlib.Path(tmp).glob("aecore-*.whl"))
        if out.returncode or len(wheels) != 1:
            raise SystemExit(f"colab_check: building the wheel failed:\n{out.stderr.strip()[-2000:]}")
        out = _run([str(py), "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", str(wheels[0])])
        if out.returncode:
            raise SystemExit(f"colab_check: installing the wheel failed:\n{out.stderr.strip()[-2000:]}")
        check = _run([str(py), "-m", "pip", "check"])
    after = _versions(py)
    if after != before:
        raise SystemExit(f"colab_check: installing aecore changed Colab's stack: {before} -> {after}")
    conflicts = [line for line in check.stdout.splitlines() if line.lower().startswith("aecore")]
    if conflicts:
        raise SystemExit("colab_check: aecore's requirements conflict with Colab's stack:\n" + "\n".join(conflicts))
    return after


def run_chapter(py: pathlib.Path, notebook: pathlib.Path, workdir: pathlib.Path, env: dict) -> tuple[bool, float, str]:
    """Executes one chapter, copied alone into ``workdir``, with papermill in the fast profile."""
    copy = workdir / notebook.name
    shutil.copy2(notebook, copy)
    code = ("import papermill as pm, sys; pm.execute_notebook(sys.argv[1], sys.argv[2], "
            "parameters={'PROFILE': 'fast'}, kernel_name='python3', progress_bar=False, cwd=sys.argv[3])")
    executed = workdir / f"executed-{notebook.name}"
    t0 = time.perf_counter()
    out = _run([str(py), "-c", code, str(copy), str(executed), str(workdir)], cwd=workdir, env=env)
    seconds = time.perf_counter() - t0
    if out.returncode:
        return False, seconds, (out.stderr or out.stdout).strip()[-3000:]
    kernel = json.loads(executed.read_text())["metadata"].get("language_info", {}).get("version", "")
    if tuple(int(x) for x in kernel.split(".")[:2]) != PYTHON_VERSION:  # the kernel was Colab's Python
        return False, seconds, f"the notebook ran on Python {kernel!r}, not on the Colab stack's"
    return True, seconds, ""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chapters", nargs="*", help="notebook file names (default: every chapter)")
    p.add_argument("--record", type=pathlib.Path, default=ROOT / "_build" / "colab.json")
    p.add_argument("--jobs", type=int, default=2, help="chapters at a time (default 2, as make test's papermill stage)")
    args = p.parse_args(argv)
    chapters = sorted((ROOT / "chapters").glob("[0-9]*.ipynb"))
    if args.chapters:
        unknown = set(args.chapters) - {c.name for c in chapters}
        if unknown:
            p.error(f"no such chapter: {', '.join(sorted(unknown))}")
        chapters = [c for c in chapters if c.name in args.chapters]
    try:
        py = build_stack()
        stack = install_package(py)
    except RuntimeError as exc:
        print(f"colab_check: {exc}", file=sys.stderr)
        return 2
    print(f"[colab] Python {'.'.join(map(str, PYTHON_VERSION))}, " + ", ".join(f"{k} {v}" for k, v in stack.items()),
          flush=True)
    results = {}
    with tempfile.TemporaryDirectory(prefix="aecore-colab-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env.update({"AECORE_PROFILE": "fast", "AECORE_CACHE_DIR": str(pathlib.Path(tmp) / "cache"),
                    "PATH": f"{py.parent}{os.pathsep}{env.get('PATH', '')}"})
        def one(nb: pathlib.Path):
            work = pathlib.Path(tmp) / nb.stem
            work.mkdir()
            ok, seconds, error = run_chapter(py, nb, work, env)
            print(f"[colab] {nb.name}: {'ok' if ok else 'FAILED'} ({seconds:.0f} s)", flush=True)
            if not ok:
                print(error, file=sys.stderr, flush=True)
            return nb.name, {"ok": ok, "seconds": round(seconds, 1)}

        # Each chapter is its own process (a kernel); the later chapters train most, so they go first.
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            done = dict(pool.map(one, list(reversed(chapters))))
        results = {nb.name: done[nb.name] for nb in chapters}
    args.record.parent.mkdir(parents=True, exist_ok=True)
    args.record.write_text(json.dumps({"stack": stack, "python": list(PYTHON_VERSION), "chapters": results},
                                      indent=2) + "\n")
    return 0 if all(r["ok"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
