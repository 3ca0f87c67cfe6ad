"""Open every page of a built HTML book in headless Chromium and say what is wrong with it.

Used by ``test_book_pages.py`` (the real book in ``_build/html``) and
``test_bookcheck_selfcheck.py`` (a tiny broken site, to show the checks can fail).

A page fails when:

- it does not render: the HTTP status is not 2xx, or its content (the theme's
  ``article.bd-article``, else ``article``, ``[role=main]``, ``<main>``, ``<body>``) has no text;
- an image is missing: an ``<img>`` whose same-origin source did not load
  (``naturalWidth == 0``), or any same-origin request (image, CSS, script, font) that got
  an HTTP error or failed;
- an internal link is broken: a same-origin ``<a href>`` (or ``<meta http-equiv=refresh>``)
  whose file does not exist under the served folder, or whose ``#fragment`` is not an
  ``id`` (or ``<a name>``) on the target page;
- an output area (``.cell_output``, ``.output``) shows a traceback or error text
  (``Traceback (most recent call last)``, ``NameError``, ``SomethingError:``, ...);
- JavaScript reports an error: an uncaught exception (``pageerror``) or a console error;
- on ``search.html``: a search (``?q=autoencoder``) shows no results;
- what a reader sees does not fit: a shown block of code or output (``<pre>``) wider than its
  box (a line cut off behind a scroll bar), a shown table wider than the page's content column,
  or a shown code cell (not folded away by ``hide-input``) longer than
  :data:`MAX_VISIBLE_CODE_LINES` lines;
- an image in the content is not a figure: not inside a ``<figure>`` with a caption, or without
  alt text (or with a file name for alt text);
- a chapter page (``chapters/...``) lacks its short answer (an admonition titled "The short
  answer"), its summary (a "Key takeaways" section) or its exercises (an "Exercises" section).

Requests to other hosts are aborted before they leave the browser (the book is checked
offline, the same way on every machine); console errors that come from those blocked
requests are ignored. Everything found on a page is collected, not just the first problem.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import html.parser
import http.server
import os
import re
import socketserver
import threading
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote, urljoin, urlsplit

# Debian's chromium (``make test-browser`` installs it); AECORE_CHROMIUM points elsewhere.
CHROMIUM = os.environ.get("AECORE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Folders of a Sphinx build that hold assets, not pages (``_static`` has Jinja macro
# files named *.html); hidden folders (``.pytest_cache``, ...) are not part of the book.
NON_PAGE_DIRS = {"_static", "_sources", "_images", "_downloads"}
OUTPUT_SELECTOR = ".cell_output, .output"
# Where a page's own content is, most specific first (the theme's article, not its sidebars).
MAIN_SELECTORS = ["article.bd-article", "article", "[role=main]", "main"]
ERROR_PATTERNS = [
    re.compile(r"Traceback \(most recent call last\)"),
    re.compile(r"\b(?:NameError|KeyError|AttributeError|ModuleNotFoundError|ImportError)\b"),
    re.compile(r"\b[A-Z]?\w*(?:Error|Exception)\s*:"),  # "ValueError: ...", "Error: ..."
]
NAV_TIMEOUT_MS = 30_000
MAX_VISIBLE_CODE_LINES = 15
# A chapter's reader-facing parts, by the ids MyST gives their headings and the admonition's title.
CHAPTER_SECTIONS = {"key-takeaways": "its summary (a \"Key takeaways\" section)",
                    "exercises": "its exercises (an \"Exercises\" section)"}
SHORT_ANSWER_TITLE = "The short answer"


# --------------------------------------------------------------------------- pure helpers


def find_pages(root: Path) -> list[Path]:
    """Every ``*.html`` under ``root`` (relative paths, sorted), asset and hidden folders excepted."""
    root = Path(root)
    pages = []
    for path in root.rglob("*.html"):
        rel = path.relative_to(root)
        if any(part.startswith(".") or part in NON_PAGE_DIRS for part in rel.parts[:-1]):
            continue
        pages.append(rel)
    return sorted(pages, key=lambda p: p.as_posix())


def screenshot_name(rel: Path) -> str:
    """``chapters/03_x.html`` -> ``chapters__03_x.png``."""
    return rel.with_suffix("").as_posix().replace("/", "__") + ".png"


RAW_TABLE = re.compile(r"\|\s*:?-{3,}:?\s*\|")  # a Markdown table's delimiter row, "|---|"


def raw_markdown_table(text: str) -> bool:
    """Whether ``text`` (what a reader sees) holds Markdown table syntax that was not rendered."""
    return bool(RAW_TABLE.search(text))


def error_text(text: str) -> str | None:
    """The first error pattern found in output text, as a short quote; None when clean."""
    for pattern in ERROR_PATTERNS:
        m = pattern.search(text)
        if m:
            start = max(0, m.start() - 40)
            snippet = " ".join(text[start:m.end() + 80].split())
            return f"{m.group(0)!r} in: ...{snippet}..."
    return None


class _Anchors(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refresh: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        if tag == "meta" and a.get("http-equiv", "").lower() == "refresh":
            m = re.search(r"url\s*=\s*['\"]?([^'\"\s;]+)", a.get("content", ""), re.I)
            if m:
                self.refresh.append(m.group(1))


@functools.lru_cache(maxsize=None)
def _parse(path: Path) -> _Anchors:
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def anchor_ids(path: Path) -> set[str]:
    """The fragment targets of an HTML file: every ``id`` and every ``<a name>``."""
    return _parse(Path(path)).ids


def refresh_targets(path: Path) -> list[str]:
    """The ``url=`` of every ``<meta http-equiv="refresh">`` in an HTML file."""
    return _parse(Path(path)).refresh


def url_to_file(url: str, base_url: str, root: Path) -> Path | None:
    """The file under ``root`` a same-origin URL serves; None when it is not same-origin.

    Raises:
      FileNotFoundError: same-origin, but there is no such file (or it is outside ``root``).
    """
    u, b = urlsplit(url), urlsplit(base_url)
    if (u.scheme, u.netloc) != (b.scheme, b.netloc):
        return None
    root = Path(root).resolve()
    rel = unquote(u.path).lstrip("/")
    target = (root / rel).resolve()
    if target != root and root not in target.parents:
        raise FileNotFoundError(f"{u.path} is outside the site")
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        raise FileNotFoundError(u.path)
    return target


def check_link(href: str, page_url: str, base_url: str, root: Path) -> str | None:
    """Why a link on ``page_url`` is broken, or None when it is fine (or not internal)."""
    if not href or href.startswith(("mailto:", "javascript:", "tel:", "data:")):
        return None
    url = urljoin(page_url, href)
    try:
        target = url_to_file(url, base_url, root)
    except FileNotFoundError as err:
        return f"broken link {href!r}: no file {err}"
    if target is None:
        return None
    fragment = unquote(urlsplit(url).fragment)
    if fragment and target.suffix == ".html" and fragment not in anchor_ids(target):
        return f"broken link {href!r}: no id {fragment!r} on {target.relative_to(Path(root).resolve()).as_posix()}"
    return None


def _is_local(url: str, base_url: str) -> bool:
    u = urlsplit(url)
    if u.scheme in ("data", "blob", "about", "chrome", "chrome-error", "devtools"):
        return True
    return (u.scheme, u.netloc) == tuple(urlsplit(base_url)[:2])


# --------------------------------------------------------------------------- server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1 at a free port in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------- browser


def browser_missing() -> str | None:
    """Why the browser check cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package 'playwright' is not installed (make test-browser installs it)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (make test-browser installs Debian's chromium)"
    return None


@contextlib.contextmanager
def launch() -> Iterator[object]:
    """Headless Debian Chromium under Playwright.

    Playwright starts Chromium with a fresh temporary ``--user-data-dir`` of its own (and
    deletes it on close); every page is then opened in a new browser context, so each page
    is seen as by a first-time reader (empty cookies and localStorage) whatever the order.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


_COLLECT_JS = """
async (sel) => {
  const imgs = Array.from(document.images);
  imgs.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null :
      new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r);
                         setTimeout(r, 10000); })));
  const main = sel.main.map(s => document.querySelector(s)).find(e => e) || document.body;
  // MathJax typesets after load: wait for it (served with the book, so no network is needed).
  if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
    await Promise.race([window.MathJax.startup.promise, new Promise(r => setTimeout(r, 10000))]);
  }
  const maths = Array.from(document.querySelectorAll('span.math, div.math'));
  return {
    mathTotal: maths.length,
    mathRaw: maths.filter(m => !m.querySelector('mjx-container')).length,
    mainText: main ? main.innerText.trim().length : 0,
    bodyText: document.body ? document.body.innerText.trim().length : 0,
    images: imgs.map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0})),
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href')),
    outputs: Array.from(document.querySelectorAll(sel.outputs)).map(o => o.textContent),
    tracebacks: document.querySelectorAll(sel.tracebacks).length,
    // what a reader sees: only what is rendered (not folded away in a closed <details>)
    ...(() => {
      const shown = e => e.getClientRects().length > 0 && e.innerText.trim().length > 0;
      const mainRight = main.getBoundingClientRect().right;
      const longest = e => e.innerText.split('\\n').reduce((a, b) => b.length > a.length ? b : a, '').trim().slice(0, 80);
      const cutOff = [];
      for (const pre of main.querySelectorAll('pre')) {
        if (shown(pre) && pre.scrollWidth > pre.clientWidth + 1) cutOff.push(`code or output: "${longest(pre)}"`);
      }
      for (const t of main.querySelectorAll('table')) {
        if (shown(t) && t.getBoundingClientRect().right > mainRight + 1) {
          cutOff.push(`table: ${Math.round(t.getBoundingClientRect().right - mainRight)} px past the column, row "${longest(t)}"`);
        }
      }
      const longCells = [];
      for (const cell of main.querySelectorAll('div.cell_input')) {
        const pre = cell.querySelector('pre');
        if (pre && shown(pre) && !pre.closest('details:not([open])')) {
          const n = pre.innerText.replace(/\\n+$/, '').split('\\n').filter(l => l.trim()).length;
          if (n > sel.maxCodeLines) longCells.push(`${n} lines: "${longest(pre)}"`);
        }
      }
      const badImages = [];
      for (const img of main.querySelectorAll('img')) {
        const fig = img.closest('figure');
        const cap = fig && fig.querySelector('figcaption');
        const alt = (img.getAttribute('alt') || '').trim();
        const name = (img.getAttribute('src') || '').split('/').pop();
        if (!cap || !cap.innerText.trim()) badImages.push(`${name}: not in a figure with a caption`);
        if (!alt || /^\\S+\\.(png|jpe?g|svg|gif)$/i.test(alt) || /^\\S*[\\\\/]\\S*$/.test(alt)) badImages.push(`${name}: alt text ${JSON.stringify(alt)}`);
      }
      const titles = Array.from(main.querySelectorAll('.admonition .admonition-title')).map(t => t.innerText.trim());
      return {cutOff, longCells, badImages, admonitions: titles,
              sectionIds: Array.from(main.querySelectorAll('section[id]')).map(x => x.id)};
    })(),
  };
}
"""
# myst-nb renders an error output as ``<div class="output traceback highlight-ipythontb">``
TRACEBACK_SELECTOR = ".output.traceback, .output.error, .highlight-ipythontb"
SEARCH_QUERY = "autoencoder"


@dataclasses.dataclass
class PageReport:
    page: str
    problems: list[str]
    screenshot: Path | None = None


class _PageWatch:
    """Collects what the browser reports about one page: JS errors, failed requests."""

    def __init__(self, page: object, base_url: str) -> None:
        self.base_url = base_url
        self.problems: list[str] = []
        self.http_errors: set[str] = set()
        page.route("**/*", self.on_route)
        page.on("pageerror", lambda err: self.problems.append(f"JavaScript error: {err}"))
        page.on("console", self.on_console)
        page.on("response", self.on_response)
        page.on("requestfailed", self.on_failed)

    def short(self, url: str) -> str:
        return "/" + url[len(self.base_url):] if url.startswith(self.base_url) else url

    def on_route(self, route: object) -> None:  # offline and deterministic: no other host
        if _is_local(route.request.url, self.base_url):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    def on_console(self, msg: object) -> None:
        if msg.type != "error":
            return
        where = (msg.location or {}).get("url", "")
        if where and not _is_local(where, self.base_url):
            return  # raised by (or about) a blocked external resource
        if "ERR_BLOCKED_BY_CLIENT" in msg.text:
            return  # the console's line about a request we aborted
        if msg.text.startswith("Failed to load resource"):
            return  # a same-origin one is reported by on_response / on_failed, with its URL
        self.problems.append(f"JavaScript console error: {msg.text} (at {self.short(where) or '?'})")

    def on_response(self, resp: object) -> None:
        if resp.status >= 400 and _is_local(resp.url, self.base_url):
            self.http_errors.add(resp.url)
            self.problems.append(f"HTTP {resp.status} for {self.short(resp.url)}")

    def on_failed(self, req: object) -> None:
        if req.url in self.http_errors:
            return  # already reported with its HTTP status
        if _is_local(req.url, self.base_url) and urlsplit(req.url).scheme.startswith("http"):
            self.problems.append(f"request failed: {self.short(req.url)} ({req.failure})")


def audit_page(browser: object, rel: Path, base_url: str, root: Path,
               screenshot_dir: Path | None) -> PageReport:
    """Open one page in a fresh context and collect every problem with it (module docstring)."""
    root = Path(root)
    url = urljoin(base_url, rel.as_posix())
    problems: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    page = context.new_page()
    watch = _PageWatch(page, base_url)
    shot = None
    try:
        response = page.goto(url, wait_until="load", timeout=NAV_TIMEOUT_MS)
        if response is None or not response.ok:
            problems.append(f"page did not load: HTTP {response.status if response else 'no response'}")
        redirects = refresh_targets(root / rel)
        for target in redirects:  # e.g. index.html -> intro.html: the target must exist
            why = check_link(target, url, base_url, root)
            if why:
                problems.append(f"redirect: {why}")
        if redirects and not any(problems):
            page.wait_for_url(lambda u: u != url, timeout=NAV_TIMEOUT_MS)
            page.wait_for_load_state("load")
        page.wait_for_load_state("networkidle", timeout=NAV_TIMEOUT_MS)
        info = page.evaluate(_COLLECT_JS, {"main": MAIN_SELECTORS, "outputs": OUTPUT_SELECTOR,
                                           "tracebacks": TRACEBACK_SELECTOR,
                                           "maxCodeLines": MAX_VISIBLE_CODE_LINES})
        if info["bodyText"] == 0 or info["mainText"] == 0:
            problems.append("page did not render: its main content is empty")
        for img in info["images"]:
            if not img["ok"] and _is_local(img["src"], base_url):
                problems.append(f"missing image: {watch.short(img['src'])}")
        for href in info["links"]:
            why = check_link(href, page.url, base_url, root)
            if why:
                problems.append(why)
        if info["mathRaw"]:
            problems.append(f"math not rendered: {info['mathRaw']} of {info['mathTotal']} formula(s) show raw TeX")
        if info["tracebacks"]:
            problems.append(f"{info['tracebacks']} error/traceback output(s) ({TRACEBACK_SELECTOR})")
        for i, text in enumerate(info["outputs"]):
            why = error_text(text)
            if why:
                problems.append(f"error text in output #{i + 1}: {why}")
            if raw_markdown_table(text):
                problems.append(f"raw Markdown table in output #{i + 1}: rendered as text, not as a table")
        problems += [f"cut off at the column's edge: {what}" for what in info["cutOff"]]
        problems += [f"a visible code cell longer than {MAX_VISIBLE_CODE_LINES} lines: {what}"
                     for what in info["longCells"]]
        problems += [f"image {what}" for what in info["badImages"]]
        if rel.as_posix().startswith("chapters/"):
            if SHORT_ANSWER_TITLE not in info["admonitions"]:
                problems.append(f"chapter without its short answer (an admonition titled {SHORT_ANSWER_TITLE!r})")
            problems += [f"chapter without {what}" for sid, what in CHAPTER_SECTIONS.items()
                         if sid not in info["sectionIds"]]
        if screenshot_dir is not None:
            Path(screenshot_dir).mkdir(parents=True, exist_ok=True)
            shot = Path(screenshot_dir) / screenshot_name(rel)
            page.screenshot(path=str(shot), full_page=True)
        if rel.as_posix() == "search.html" and (root / "searchindex.js").is_file():
            # the search page must also search: Sphinx's JS loads searchindex.js
            page.goto(f"{url}?q={SEARCH_QUERY}", wait_until="load", timeout=NAV_TIMEOUT_MS)
            try:
                page.wait_for_selector("#search-results li", timeout=15_000)
            except Exception:
                problems.append(f"search for {SEARCH_QUERY!r} shows no results")
    except Exception as err:  # a timeout or a crashed page is a failure of this page
        problems.append(f"could not check the page: {type(err).__name__}: {err}".splitlines()[0])
    finally:
        context.close()
    # the same resource can fail on several events; keep each message once, in order
    return PageReport(rel.as_posix(), list(dict.fromkeys(problems + watch.problems)), shot)


def audit_site(root: Path, screenshot_dir: Path | None = None,
               pages: list[Path] | None = None) -> list[PageReport]:
    """Serve ``root``, open every page (or ``pages``) in Chromium; one report per page."""
    root = Path(root)
    pages = find_pages(root) if pages is None else pages
    with serve(root) as base_url, launch() as browser:
        return [audit_page(browser, rel, base_url, root, screenshot_dir) for rel in pages]


def format_reports(reports: list[PageReport]) -> str:
    """Every problem of every failing page, one per line, grouped by page."""
    lines = []
    for r in reports:
        for p in r.problems:
            lines.append(f"{r.page}: {p}")
    return "\n".join(lines)
