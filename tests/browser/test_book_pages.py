"""Every page of the built book (``_build/html``) in headless Chromium: it renders, its images
load, its internal links and #fragments resolve, no output shows a traceback or error text, and
JavaScript reports no error (requests to other hosts are blocked and their errors ignored).
One test per page, each listing every problem found on it; a full-page screenshot of every
page goes to ``_build/screenshots/``. The checks themselves are in ``bookcheck.py``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import bookcheck

ROOT = Path(__file__).resolve().parents[2]
# The built book; AECORE_BOOK_HTML checks another build (e.g. one made with --path-output).
BOOK = Path(os.environ.get("AECORE_BOOK_HTML") or ROOT / "_build" / "html").resolve()
SCREENSHOTS = ROOT / "_build" / "screenshots"
PAGES = bookcheck.find_pages(BOOK) if BOOK.is_dir() else []


@pytest.fixture(scope="module")
def book(chromium):
    """(browser, base URL) with ``_build/html`` served on localhost; old screenshots removed."""
    if not (BOOK / "index.html").is_file():
        pytest.fail(f"{BOOK} has no index.html: build the book first (make html)", pytrace=False)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    with bookcheck.serve(BOOK) as base_url:
        yield chromium, base_url


def test_the_book_has_pages():
    assert (BOOK / "index.html").is_file(), f"{BOOK} has no index.html: build the book first (make html)"
    names = {p.as_posix() for p in PAGES}
    assert {"index.html", "intro.html", "search.html", "genindex.html"} <= names, sorted(names)
    assert any(n.startswith("chapters/") for n in names), sorted(names)


@pytest.mark.parametrize("rel", PAGES, ids=lambda p: p.as_posix())
def test_page(book, rel):
    browser, base_url = book
    report = bookcheck.audit_page(browser, rel, base_url, BOOK, SCREENSHOTS)
    problems = list(report.problems)
    if report.screenshot is None or not report.screenshot.is_file():
        problems.append("no screenshot was saved")
    assert not problems, f"{len(problems)} problem(s) on {rel}:\n" + "\n".join(f"  - {p}" for p in problems)
