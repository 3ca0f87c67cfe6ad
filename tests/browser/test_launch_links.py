"""Every chapter page of the built book links to the chapter on Colab and to its source, when the
build knew the repository (``BOOK_REPOSITORY``, as ``make test`` and the publishing workflow
set it; recorded in ``_generated/_config.yml``); a build without one shows no such link. Reads
the HTML that ``make html`` wrote."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9]*.ipynb"))


def launch_links(page: str) -> set[str]:
    return set(re.findall(r'href="(https://colab\.research\.google\.com/[^"]+)"', page))


def source_links(page: str) -> set[str]:
    return set(re.findall(r'href="(https://github\.com/[^"]+/(?:blob|edit)/[^"]+\.ipynb)"', page))


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    if not (HTML / "index.html").is_file():
        pytest.fail("no built book in _build/html: run `make html` first", pytrace=False)
    return {nb.stem: (HTML / "chapters" / f"{nb.stem}.html").read_text(encoding="utf-8") for nb in CHAPTERS}


def built_for() -> str:
    """The ``owner/name`` the last ``make html`` was built for, ``""`` for none."""
    import yaml

    config = yaml.safe_load((ROOT / "_generated" / "_config.yml").read_text(encoding="utf-8"))
    url = (config.get("repository") or {}).get("url", "")
    return url.removeprefix("https://github.com/")


def test_every_chapter_opens_in_colab_from_the_repository_it_was_built_for(pages):
    repository = built_for()
    for stem, page in pages.items():
        if not repository:
            assert not launch_links(page), f"{stem}: a Colab link without a known repository"
            continue
        colab = f"https://colab.research.google.com/github/{repository}/blob/main/chapters/{stem}.ipynb"
        assert colab in launch_links(page), f"{stem}: no 'Open in Colab' link to {colab}"
        source = f"https://github.com/{repository}/edit/main/chapters/{stem}.ipynb"
        assert source in source_links(page), f"{stem}: no link to its source notebook {source}"


def test_the_link_finder_sees_a_planted_link_and_only_it():
    page = ('<a href="https://colab.research.google.com/github/o/b/blob/main/chapters/x.ipynb">'
            '<a href="https://github.com/o/b/blob/main/chapters/x.ipynb"><a href="https://example.org">')
    assert launch_links(page) == {"https://colab.research.google.com/github/o/b/blob/main/chapters/x.ipynb"}
    assert source_links(page) == {"https://github.com/o/b/blob/main/chapters/x.ipynb"}
    assert not launch_links("<a href='#'>")
