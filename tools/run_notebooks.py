"""Execute the book's chapters with papermill, in one profile, and time each one.

    python tools/run_notebooks.py --profile full --inplace        # what `make book` does
    python tools/run_notebooks.py --profile fast --output-dir DIR # what `make test` does

With ``--inplace`` each executed notebook first goes to a temporary file beside the
original and replaces it only if execution succeeded, so a failing or interrupted run
never leaves a half-written notebook behind. Timings go to ``_build/execution.json``
(and, in place, to ``chapters/execution.json`` so the book can show them).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def chapters_in_toc_order() -> list[pathlib.Path]:
    """Chapter notebooks listed in _toc.yml, in reading order (falls back to a glob)."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(toc)
    found = [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").exists()]
    return found or sorted((ROOT / "chapters").glob("*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="full", choices=["fast", "full"])
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--inplace", action="store_true", help="write executed notebooks back")
    where.add_argument("--output-dir", type=pathlib.Path, help="write executed copies here")
    p.add_argument("notebooks", nargs="*", type=pathlib.Path, help="default: every chapter in _toc.yml")
    args = p.parse_args(argv)

    import papermill as pm

    notebooks = [n.resolve() for n in args.notebooks] or chapters_in_toc_order()
    if not notebooks:
        print("no notebooks found under chapters/", file=sys.stderr)
        return 2
    # The notebooks default to PROFILE = "full"; inject a parameter only to change it, so
    # committed notebooks carry no "injected-parameters" cell.
    params = {} if args.profile == "full" else {"PROFILE": args.profile}
    os.environ["AECORE_PROFILE"] = args.profile  # helpers the notebooks start see it too
    times: dict[str, float] = {}
    failed: list[str] = []
    for nb in notebooks:
        if args.inplace:
            out = nb.with_name(f".{nb.stem}.executing.ipynb")
        else:
            args.output_dir.mkdir(parents=True, exist_ok=True)
            out = args.output_dir / nb.name
        print(f"[run_notebooks] {nb.relative_to(ROOT)} (profile {args.profile}) ...", flush=True)
        t0 = time.perf_counter()
        try:
            pm.execute_notebook(str(nb), str(out), parameters=params, kernel_name="python3",
                                cwd=str(nb.parent), progress_bar=False, log_output=False)
        except Exception as exc:  # papermill raises PapermillExecutionError with the cell's traceback
            failed.append(nb.name)
            print(f"[run_notebooks] FAILED {nb.name}: {exc}", file=sys.stderr, flush=True)
            if args.inplace and out.exists():
                out.unlink()  # the committed notebook stays as it was
            continue
        dt = time.perf_counter() - t0
        times[nb.name] = round(dt, 1)
        if args.inplace:
            os.replace(out, nb)
        print(f"[run_notebooks] {nb.name}: {dt:.1f} s", flush=True)

    from importlib import metadata

    versions = {}
    for pkg in ("aecore", "tensorflow", "keras", "numpy", "scipy", "pandas", "matplotlib",
                "jupyter-book", "sphinx", "myst-nb", "papermill", "nbval"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    record = {
        "profile": args.profile,
        "seconds": times,
        "total_seconds": round(sum(times.values()), 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()}",
        "python": platform.python_version(),
        "finished_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "versions": versions,
    }
    (ROOT / "_build").mkdir(exist_ok=True)
    (ROOT / "_build" / "execution.json").write_text(json.dumps(record, indent=2))
    if args.inplace and not failed and len(notebooks) == len(chapters_in_toc_order()):
        (ROOT / "chapters" / "execution.json").write_text(json.dumps(record, indent=2) + "\n")
    if failed:
        print(f"[run_notebooks] {len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
