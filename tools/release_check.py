"""The release's tag must name the version being released: ``v`` + ``aecore.__version__``.

    GITHUB_REF_NAME=v0.1.0 python tools/release_check.py      # what the release workflow runs

Exits 1, naming both, when they differ (a tag pushed before the version was raised, or the
other way round), so that PyPI never gets a package whose version is not its tag's.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def package_version() -> str:
    """``aecore.__version__``, read from the source (importing aecore is not needed)."""
    text = (ROOT / "aecore" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
    if not match:
        raise SystemExit("release_check: no __version__ = \"...\" line in aecore/__init__.py")
    return match.group(1)


def problem(tag: str, version: str) -> str | None:
    """Why ``tag`` cannot release ``version``, or None."""
    if not tag:
        return "no tag: set GITHUB_REF_NAME (the workflow runs on a pushed tag such as v0.1.0)"
    if tag != f"v{version}":
        return f"the tag {tag!r} does not name the package's version {version!r}: tag v{version}, or raise __version__"
    return None


def main() -> int:
    why = problem(os.environ.get("GITHUB_REF_NAME", "").strip(), package_version())
    if why:
        print(f"release_check: {why}", file=sys.stderr)
        return 1
    print(f"release_check: tag v{package_version()} names the package's version")
    return 0


if __name__ == "__main__":
    sys.exit(main())
