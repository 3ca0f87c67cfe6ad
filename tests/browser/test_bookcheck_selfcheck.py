"""The browser check can fail: a tiny synthetic site with one broken thing of each kind.

A check that never fails proves nothing; here every kind of problem the book test looks
for is planted in a throw-away site, and each must be reported, on the right page, while
the clean pages (including one that loads blocked external resources) report nothing.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

import bookcheck

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


def _page(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>t</title>{head}</head><body>{body}</body></html>"


SITE = {
    "index.html": "<html><head><meta http-equiv='Refresh' content='0; url=good.html' /></head></html>",
    "good.html": _page(
        "<main><h1 id='top'>Good page</h1><figure><img src='img/ok.png' alt='dot'><figcaption>A dot.</figcaption></figure>"
        "<a href='other.html#sec'>other</a> <a href='#top'>top</a> <a href='sub/'>sub</a> "
        "<a href='https://example.com/'>external</a> <a href='mailto:a@b.c'>mail</a>"
        "<div class='cell_output'><pre>mse 0.0123, no errors here</pre></div></main>"),
    "other.html": _page("<main><h2 id='sec'>Section</h2><a href='good.html'>back</a></main>"),
    "sub/index.html": _page("<main><p>a folder page</p><a href='../good.html#top'>up</a></main>"),
    "external.html": _page(
        "<main><p>external resources are blocked, not errors</p>"
        "<figure><img src='https://example.invalid/remote.png' alt='remote'><figcaption>Remote.</figcaption></figure></main>"
        "<script src='https://cdn.example.invalid/lib.js'></script>",
        head="<link rel='stylesheet' href='https://fonts.example.invalid/f.css'>"),
    "broken.html": _page(
        "<main><h1>Broken page</h1>"
        "<img src='img/missing.png' alt='gone'>"
        "<a href='nowhere.html'>404</a> <a href='other.html#no-such-id'>bad fragment</a> "
        "<a href='#also-missing'>bad local fragment</a>"
        "<div class='cell_output'><pre>Traceback (most recent call last):\n  File \"x\", line 1\n"
        "KeyError: 'mnist'</pre></div>"
        "<div class='output stream'><pre>ValueError: unknown loss 'l3'</pre></div>"
        "<div class='cell_output'><p>| claim | verdict | |---|---| | BCE helps | Refuted |</p></div>"
        "<p>The loss is <span class='math notranslate nohighlight'>\\(\\sigma(\\ell)\\)</span>.</p></main>"
        "<script>undefinedFunction();</script><script>console.error('boom from the page');</script>",
        head="<link rel='stylesheet' href='missing.css'>"),
    # a chapter page with what a reader needs, and one with every way of not fitting the page
    "chapters/good.html": _page(
        "<main style='width: 600px'><h1>Chapter</h1>"
        "<div class='admonition tip'><p class='admonition-title'>The short answer</p><p>Yes.</p></div>"
        "<div class='cell_input'><pre>x = 1\ny = 2\nprint(x + y)</pre></div>"
        "<details><summary>Show code</summary><div class='cell_input'><pre>"
        + "\n".join(f"line_{i} = {i}" for i in range(30)) + "</pre></div></details>"
        "<div class='cell_output'><pre style='white-space: pre-wrap'>" + "a long printed line " * 40 + "</pre></div>"
        "<figure><img src='../img/ok.png' alt='A dot, the only thing plotted.'>"
        "<figcaption>Fig. 1. A dot.</figcaption></figure>"
        "<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>"
        "<section id='key-takeaways'><h2>Key takeaways</h2><p>One.</p></section>"
        "<section id='exercises'><h2>Exercises</h2><p>Two.</p></section></main>"),
    "chapters/bad.html": _page(
        "<main style='width: 600px'><h1>Chapter</h1>"
        "<div class='admonition note'><p class='admonition-title'>Note</p><p>Not the short answer.</p></div>"
        "<div class='cell_input'><pre>" + "\n".join(f"line_{i} = {i}" for i in range(16)) + "</pre></div>"
        "<div class='cell_output'><pre style='white-space: pre; overflow-x: auto'>"
        + "a_line_that_never_ends_" * 40 + "</pre></div>"
        "<table style='width: 2000px'><tr><th>wide</th><td>table</td></tr></table>"
        "<img src='../img/ok.png' alt='A dot outside a figure.'>"
        "<figure><img src='../img/ok.png' alt='img/ok.png'><figcaption>A dot.</figcaption></figure>"
        "<section id='results'><h2>Results</h2></section></main>"),
    "empty.html": "<html><head><title>empty</title></head><body></body></html>",
    "moved.html": "<html><head><meta http-equiv='refresh' content='0; url=gone.html'></head></html>",
    "_static/macros.html": "{% macro x() %}not a page{% endmacro %}",
    ".hidden/notes.html": "<p>not part of the site</p>",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("site")
    for rel, text in SITE.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    (root / "img").mkdir()
    (root / "img" / "ok.png").write_bytes(PNG_1PX)
    return root


# --------------------------------------------------------------------------- without a browser


def test_find_pages_skips_assets_and_hidden_folders(site):
    assert [p.as_posix() for p in bookcheck.find_pages(site)] == [
        "broken.html", "chapters/bad.html", "chapters/good.html", "empty.html", "external.html", "good.html",
        "index.html", "moved.html", "other.html", "sub/index.html"]


def test_screenshot_names():
    assert bookcheck.screenshot_name(Path("chapters/03_x.html")) == "chapters__03_x.png"
    assert bookcheck.screenshot_name(Path("index.html")) == "index.png"


def test_check_link(site):
    base = "http://127.0.0.1:9/"
    page = base + "good.html"
    ok = ["other.html#sec", "#top", "sub/", "sub/index.html", "img/ok.png", "https://example.com/x",
          "mailto:a@b.c", "", "http://127.0.0.1:10/elsewhere.html"]
    for href in ok:
        assert bookcheck.check_link(href, page, base, site) is None, href
    assert "no file" in bookcheck.check_link("nowhere.html", page, base, site)
    assert "no file" in bookcheck.check_link("../../etc/passwd", page, base, site)
    assert "no id 'nope'" in bookcheck.check_link("other.html#nope", page, base, site)
    assert "no id 'x'" in bookcheck.check_link("#x", page, base, site)


@pytest.mark.parametrize("text", [
    "Traceback (most recent call last):\n  ...", "NameError: name 'x' is not defined",
    "KeyError", "ValueError: bad", "Error: something", "RuntimeException: x"])
def test_error_text_finds_errors(text):
    assert bookcheck.error_text(text)


@pytest.mark.parametrize("text", [
    "mse 0.0123 ± 0.0004", "the error bars are standard deviations", "errors: 0",
    "mean squared error (MSE) per pixel", "Reconstruction error: lower is better"])
def test_error_text_ignores_ordinary_output(text):
    assert bookcheck.error_text(text) is None


def test_raw_markdown_table_is_seen_and_rendered_tables_are_not():
    assert bookcheck.raw_markdown_table("| a | b | |---|---| | 1 | 2 |")
    assert bookcheck.raw_markdown_table("|:---:|")
    assert not bookcheck.raw_markdown_table("a\tb\n1\t2 -- a rendered table's text")
    assert not bookcheck.raw_markdown_table("x | y")


# --------------------------------------------------------------------------- in Chromium


@pytest.fixture(scope="module")
def reports(site, chromium, tmp_path_factory) -> dict[str, list[str]]:
    shots = tmp_path_factory.mktemp("shots")
    with bookcheck.serve(site) as base_url:
        out = {r.page: r for r in (bookcheck.audit_page(chromium, rel, base_url, site, shots)
                                   for rel in bookcheck.find_pages(site))}
    assert all(r.screenshot is not None and r.screenshot.is_file() for r in out.values()
               if r.page not in ("empty.html",)), {p: r.problems for p, r in out.items()}
    return {page: r.problems for page, r in out.items()}


@pytest.mark.parametrize("page", ["good.html", "other.html", "sub/index.html", "index.html", "external.html",
                                  "chapters/good.html"])
def test_clean_pages_pass(reports, page):
    assert reports[page] == []


@pytest.mark.parametrize("expected", [
    "missing image: /img/missing.png",
    "HTTP 404 for /img/missing.png",
    "HTTP 404 for /missing.css",
    "broken link 'nowhere.html': no file",
    "broken link 'other.html#no-such-id': no id 'no-such-id' on other.html",
    "broken link '#also-missing': no id 'also-missing' on broken.html",
    "error text in output #1: 'Traceback (most recent call last)'",
    "error text in output #2: 'ValueError:'",
    "JavaScript error: undefinedFunction is not defined",
    "JavaScript console error: boom from the page",
    "raw Markdown table in output #3",
    "math not rendered: 1 of 1 formula(s) show raw TeX",
])
def test_broken_page_reports_each_problem(reports, expected):
    assert any(p.startswith(expected) for p in reports["broken.html"]), reports["broken.html"]


@pytest.mark.parametrize("expected", [
    "chapter without its short answer (an admonition titled 'The short answer')",
    "chapter without its summary (a \"Key takeaways\" section)",
    "chapter without its exercises (an \"Exercises\" section)",
    "a visible code cell longer than 15 lines: 16 lines",
    "cut off at the column's edge: code or output: \"a_line_that_never_ends_",
    "cut off at the column's edge: table: ",
    "image ok.png: not in a figure with a caption",
    "image ok.png: alt text \"img/ok.png\"",
])
def test_a_chapter_that_does_not_fit_the_page_reports_each_problem(reports, expected):
    assert any(p.startswith(expected) for p in reports["chapters/bad.html"]), reports["chapters/bad.html"]


def test_each_chapter_problem_is_reported_once(reports):
    problems = reports["chapters/bad.html"]
    assert len(problems) == 8 and len(set(problems)) == 8, problems


def test_empty_page_does_not_render(reports):
    assert any("did not render" in p for p in reports["empty.html"]), reports["empty.html"]


def test_redirect_to_a_missing_page(reports):
    assert any(p.startswith("redirect: broken link 'gone.html'") for p in reports["moved.html"]), reports["moved.html"]


def test_format_reports_lists_every_problem(reports):
    text = bookcheck.format_reports([bookcheck.PageReport(p, probs) for p, probs in reports.items()])
    assert text.count("broken.html: ") == len(reports["broken.html"]) >= 10
