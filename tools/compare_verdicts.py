"""Did a re-execution change any verdict? Compares the chapters' verdicts with the committed ones.

    make book PROFILE=full && python tools/compare_verdicts.py    # what weekly-full.yml runs

Each chapter's verdict table carries its verdicts as JSON (``aecore.report.VERDICTS_MIME``). This
reads them from every chapter in the working tree (just executed) and from the same file at
``git``'s HEAD (what the published book shows), and exits 1 naming every claim whose outcome
changed, appeared or disappeared.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERDICTS_MIME = "application/vnd.aecore.verdicts+json"  # aecore.report.VERDICTS_MIME


def verdicts(notebook: dict) -> dict[str, str]:
    """``{claim: verdict}`` from every verdict table output of a notebook (its JSON)."""
    out: dict[str, str] = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            rows = output.get("data", {}).get(VERDICTS_MIME)
            if rows is None:
                continue
            for row in rows if isinstance(rows, list) else rows.get("verdicts", []):
                out[row["claim"]] = row["verdict"]
    return out


def differences(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """One line per claim whose verdict changed, appeared or disappeared."""
    lines = []
    for claim in sorted(set(before) | set(after)):
        old, new = before.get(claim), after.get(claim)
        if old != new:
            lines.append(f"{claim!r}: {old or 'absent'} -> {new or 'absent'}")
    return lines


def committed(path: Path) -> dict:
    """The notebook at ``path`` as committed at HEAD."""
    rel = path.resolve().relative_to(ROOT)
    text = subprocess.run(["git", "show", f"HEAD:{rel.as_posix()}"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout
    return json.loads(text)


def main(argv: list[str] | None = None) -> int:
    paths = [Path(p) for p in (argv or [])] or sorted((ROOT / "chapters").glob("*.ipynb"))
    changed = 0
    for path in paths:
        lines = differences(verdicts(committed(path)), verdicts(json.loads(path.read_text(encoding="utf-8"))))
        for line in lines:
            print(f"{path.name}: {line}", file=sys.stderr)
        changed += len(lines)
    if changed:
        print(f"compare_verdicts: {changed} verdict(s) differ from the committed chapters", file=sys.stderr)
        return 1
    print(f"compare_verdicts: every verdict of {len(paths)} chapter(s) equals the committed one")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
