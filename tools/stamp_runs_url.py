"""Exports the published runs and writes their address into pyproject.toml before a release build.

    python tools/stamp_runs_url.py --export CACHE_DIR    # what `make published-runs` runs in release.yml

The release workflow attaches the archive of the book's runs (``python -m aecore cache export``) to
the GitHub release of the tag, under :func:`asset_name`. This script adds its address to
``[project.urls]`` as ``"Published runs"``, so the wheel's metadata carries it and
``aecore.archive.published_runs_url()`` finds it on Colab; no notebook types an address.
A checkout's pyproject.toml has no such line: a local build knows no published runs.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from release_check import package_version  # noqa: E402

LABEL = "Published runs"  # aecore.archive.PUBLISHED_RUNS_LABEL
_REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_VERSION = re.compile(r"^[0-9][0-9A-Za-z.+-]*$")


def asset_name(version: str) -> str:
    """The archive's file name on the release."""
    return f"aecore-runs-{version}.tar.gz"


def runs_url(repository: str, version: str) -> str:
    """The download address of the archive attached to the release ``v<version>`` of ``repository``."""
    if not _REPOSITORY.match(repository):
        raise ValueError(f"not a GitHub repository name (OWNER/REPO): {repository!r}")
    if not _VERSION.match(version):
        raise ValueError(f"not a version: {version!r}")
    return f"https://github.com/{repository}/releases/download/v{version}/{asset_name(version)}"


def stamp(pyproject: str, url: str) -> str:
    """``pyproject``'s text with ``"Published runs" = url`` in ``[project.urls]`` (the table is made
    where the checkout leaves it out; an earlier stamp is replaced)."""
    line = f'"{LABEL}" = "{url}"'
    if re.search(r"^\[project\.urls\]\s*$", pyproject, re.M):
        without = re.sub(rf'^"{re.escape(LABEL)}" = .*\n', "", pyproject, flags=re.M)
        return re.sub(r"^\[project\.urls\]\s*\n", f"[project.urls]\n{line}\n", without, count=1, flags=re.M)
    marker = re.search(r"^\[project\.scripts\]", pyproject, re.M)
    if not marker:
        raise ValueError("pyproject.toml has no [project.scripts] table to put [project.urls] before")
    return pyproject[:marker.start()] + f"[project.urls]\n{line}\n\n" + pyproject[marker.start():]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repository", default=os.environ.get("GITHUB_REPOSITORY", ""),
                        help="OWNER/REPO (default: $GITHUB_REPOSITORY, set by GitHub Actions)")
    parser.add_argument("--version", default=None, help="the version released (default: aecore.__version__)")
    parser.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    parser.add_argument("--export", type=Path, metavar="CACHE_DIR",
                        help="also export the run cache CACHE_DIR to OUT_DIR under the release's asset name")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "dist-runs", help="default: dist-runs/")
    args = parser.parse_args(argv)
    version = args.version or package_version()
    try:
        url = runs_url(args.repository, version)
        if args.export is not None:
            sys.path.insert(0, str(ROOT))
            from aecore import archive

            manifest = archive.export(args.out_dir / asset_name(version), root=args.export)
            print(f"exported {manifest['entries']} runs to {args.out_dir / asset_name(version)}", file=sys.stderr)
        args.pyproject.write_text(stamp(args.pyproject.read_text(encoding="utf-8"), url), encoding="utf-8")
    except Exception as err:  # noqa: BLE001 (one line for the workflow's log, exit 1)
        print(f"stamp_runs_url: {err}", file=sys.stderr)
        return 1
    print(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
