"""Fixtures of the browser stage (``make test-browser``); kept out of ``pytest tests``.

``make test-browser`` installs Debian's Chromium and Playwright, then runs this folder with
``AECORE_REQUIRE_BROWSER=1``: there a missing browser is a failure. Run by hand without that
variable, the browser tests are skipped with a hint instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bookcheck  # noqa: E402


@pytest.fixture(scope="session")
def chromium():
    """A running headless Chromium (Playwright ``Browser``)."""
    why = bookcheck.browser_missing()
    if why:
        if os.environ.get("AECORE_REQUIRE_BROWSER") == "1":
            pytest.fail(why, pytrace=False)
        pytest.skip(f"{why}; run `make test-browser`")
    with bookcheck.launch() as browser:
        yield browser
