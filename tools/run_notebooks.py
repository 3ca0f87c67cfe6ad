"""Execute the book's chapters with papermill, in one profile, and time each one.

    python tools/run_notebooks.py --profile full --inplace        # what `make book` does
    python tools/run_notebooks.py --profile fast --output-dir DIR --jobs 2  # what `make test` does

With ``--inplace`` each executed notebook first goes to a temporary file beside the
original and replaces it only if execution succeeded, so a failing or interrupted run
never leaves a half-written notebook behind. Timings go to ``_build/execution.json``
(and, in place, to ``chapters/execution.json`` so the book can show them).

``--jobs N`` runs N notebooks at a time, each in its own process and kernel, the later
(longer) chapters first. Short training runs spend much of their time tracing
TensorFlow functions in one Python thread, so two notebooks on a 2-core machine finish well
before the two in a row; each notebook's own time then includes the contention, so
``make book`` keeps one at a time and its times stay comparable.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import pathlib
import platform
import signal
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


def _cache_entries() -> set[str]:
    """The names of the run cache's entries now (what ``aecore.cache.cache_dir`` holds)."""
    env = os.environ.get("AECORE_CACHE_DIR")
    root = pathlib.Path(env).expanduser() if env else ROOT / ".aecore_cache"
    return {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")} if root.is_dir() else set()


def scrub_machine_paths(notebook: dict, paths: dict[str, str]) -> int:
    """Replaces this machine's paths in a notebook's text outputs and papermill metadata by
    neutral names (``{"/work/shared/data": "$AECORE_DATA_DIR", ...}``), longest path first, so
    that committed outputs and the published book do not show where the build ran. Returns how
    many strings changed. Only paths are rewritten; no number or other text is touched."""
    order = sorted(((k, v) for k, v in paths.items() if k), key=lambda kv: -len(kv[0]))

    def fix(text: str) -> str:
        for old, new in order:
            text = text.replace(old, new)
        return text

    changed = 0
    for cell in notebook.get("cells", []):
        for out in cell.get("outputs", []):
            if "text" in out:
                text = "".join(out["text"]) if isinstance(out["text"], list) else out["text"]
                if fix(text) != text:
                    out["text"], changed = fix(text), changed + 1
            for mime, value in out.get("data", {}).items():
                if mime.startswith("text/") and isinstance(value, (str, list)):
                    text = "".join(value) if isinstance(value, list) else value
                    if fix(text) != text:
                        out["data"][mime], changed = fix(text), changed + 1
    pm_meta = notebook.get("metadata", {}).get("papermill", {})
    for key in ("input_path", "output_path"):
        if isinstance(pm_meta.get(key), str) and fix(pm_meta[key]) != pm_meta[key]:
            pm_meta[key], changed = fix(pm_meta[key]), changed + 1
    return changed


ALT_MAX_CHARS = 160


def alt_text(caption: str) -> str:
    """A figure's alt text from its caption: the caption's first sentence, with MyST roles and
    math markers removed (a screen reader reads them literally), at most :data:`ALT_MAX_CHARS`
    characters."""
    text = re.sub(r"\{[a-z:]+\}`([^`<]*?)(?:\s*<[^>]*>)?`", r"\1", caption)  # {role}`text <target>` -> text
    text = text.replace("$", "").replace("`", "").replace("*", "")
    text = " ".join(text.split())
    first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return first if len(first) <= ALT_MAX_CHARS else first[:ALT_MAX_CHARS - 1].rstrip() + "…"


def set_alt_texts(notebook: dict) -> int:
    """Gives every code cell with a figure caption (``metadata.mystnb.figure.caption``) the alt
    text of its image (``metadata.mystnb.image.alt``, what myst-nb writes into ``<img alt>``),
    from the caption; returns how many changed. Without it a figure's alt text is a file path."""
    changed = 0
    for cell in notebook.get("cells", []):
        mystnb = cell.get("metadata", {}).get("mystnb", {})
        caption = mystnb.get("figure", {}).get("caption")
        if cell.get("cell_type") == "code" and caption:
            alt = alt_text(caption)
            if mystnb.setdefault("image", {}).get("alt") != alt:
                mystnb["image"]["alt"] = alt
                changed += 1
    return changed


def _machine_paths() -> dict[str, str]:
    """This machine's paths a build can print: the data folder, the cache and the checkout."""
    paths = {str(ROOT): "."}
    for var in ("AECORE_DATA_DIR", "AECORE_CACHE_DIR"):
        if os.environ.get(var):
            paths[str(pathlib.Path(os.environ[var]).expanduser().resolve())] = f"${var}"
    return paths


def _execute(nb: pathlib.Path, out: pathlib.Path, params: dict, profile: str,
             inplace: bool) -> tuple[str, float, str | None]:
    """Executes one notebook into ``out`` (in place: then replaces ``nb``); returns its name,
    seconds and the error (None on success). Runs in a worker process with ``--jobs`` > 1."""
    import papermill as pm

    shown = nb.relative_to(ROOT) if nb.is_relative_to(ROOT) else nb
    print(f"[run_notebooks] {shown} (profile {profile}) ...", flush=True)
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(str(nb), str(out), parameters=params, kernel_name="python3",
                            cwd=str(nb.parent), progress_bar=False, log_output=False)
    except Exception as exc:  # papermill raises PapermillExecutionError with the cell's traceback
        print(f"[run_notebooks] FAILED {nb.name}: {exc}", file=sys.stderr, flush=True)
        if inplace and out.exists():
            out.unlink()  # the committed notebook stays as it was
        return nb.name, 0.0, str(exc)
    except BaseException:  # interrupted (Ctrl-C, or SIGTERM through main's handler)
        if inplace and out.exists():
            out.unlink()  # no half-written temp file is left beside the notebook
        raise
    dt = time.perf_counter() - t0
    if inplace:
        executed = json.loads(out.read_text(encoding="utf-8"))
        if scrub_machine_paths(executed, _machine_paths()) + set_alt_texts(executed):
            out.write_text(json.dumps(executed, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(out, nb)
    print(f"[run_notebooks] {nb.name}: {dt:.1f} s", flush=True)
    return nb.name, round(dt, 1), None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="full", choices=["fast", "full"])
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--inplace", action="store_true", help="write executed notebooks back")
    where.add_argument("--output-dir", type=pathlib.Path, help="write executed copies here")
    p.add_argument("--jobs", type=int, default=1, help="notebooks executed at a time (default 1)")
    p.add_argument("--record", type=pathlib.Path, default=ROOT / "_build" / "execution.json",
                   help="where to write the timings (default: _build/execution.json)")
    p.add_argument("notebooks", nargs="*", type=pathlib.Path, help="default: every chapter in _toc.yml")
    args = p.parse_args(argv)
    # A SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so the temp files are removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    if args.jobs < 1:
        p.error(f"--jobs must be at least 1, got {args.jobs}")

    notebooks = [n.resolve() for n in args.notebooks] or chapters_in_toc_order()
    if not notebooks:
        print("no notebooks found under chapters/", file=sys.stderr)
        return 2
    # The notebooks default to PROFILE = "full"; inject a parameter only to change it, so
    # committed notebooks carry no "injected-parameters" cell.
    params = {} if args.profile == "full" else {"PROFILE": args.profile}
    os.environ["AECORE_PROFILE"] = args.profile  # helpers the notebooks start see it too
    if args.output_dir:
        args.output_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(nb, nb.with_name(f".{nb.stem}.executing.ipynb") if args.inplace else args.output_dir / nb.name)
            for nb in notebooks]
    times: dict[str, float] = {}
    failed: list[str] = []
    t_start = time.perf_counter()
    trained: dict[str, int] = {}
    cold = not _cache_entries()  # an empty cache: every run the chapters show is trained in this build
    if args.jobs == 1:
        results = []
        for nb, out in jobs:  # one at a time: the entries a notebook adds to the cache are the runs it trained
            before = _cache_entries()
            results.append(_execute(nb, out, params, args.profile, args.inplace))
            trained[nb.name] = len(_cache_entries() - before)
    else:
        jobs = list(reversed(jobs))  # longest first: in this book the later chapters train more
        with concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(_execute, nb, out, params, args.profile, args.inplace) for nb, out in jobs]
            results = [f.result() for f in concurrent.futures.as_completed(futures)]
    for name, dt, error in results:
        if error:
            failed.append(name)
        else:
            times[name] = dt
    times = {nb.name: times[nb.name] for nb in notebooks if nb.name in times}  # reading order

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
        "jobs": args.jobs,
        "cold": cold,
        "seconds": times,
        "runs_trained": {name: trained[name] for name in times if name in trained},
        "total_seconds": round(sum(times.values()), 1),
        "wall_seconds": round(time.perf_counter() - t_start, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()}",
        "python": platform.python_version(),
        "finished_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "versions": versions,
    }
    args.record.parent.mkdir(parents=True, exist_ok=True)
    args.record.write_text(json.dumps(record, indent=2))
    if args.inplace and not failed and len(notebooks) == len(chapters_in_toc_order()):
        (ROOT / "chapters" / "execution.json").write_text(json.dumps(record, indent=2) + "\n")
        if cold:  # kept until the next cold build: what the whole book costs from scratch
            (ROOT / "chapters" / "execution-cold.json").write_text(json.dumps(record, indent=2) + "\n")
    if failed:
        print(f"[run_notebooks] {len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
