"""The static site in a real browser (Debian Chromium + Playwright), as a reader with internet sees it.

The built book is served on 127.0.0.1. The scripts the pages load from jsDelivr (require.js,
``@jupyter-widgets/html-manager``, MathJax) are answered from the same versions installed from
the npm registry into tests/browser/node_modules (``npm ci``); any other request leaving
127.0.0.1 is blocked and fails the test. On every page: no console errors, every image loads,
every lab's figure is rendered from the embedded widget state with alt text that says what it
shows. A full-page screenshot of each page goes to ``_build/screenshots/``.
"""

import functools
import html as htmlmod
import json
import mimetypes
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import MEASURED

pytestmark = pytest.mark.browser

CDN = re.compile(r"^https://cdn\.jsdelivr\.net/npm/((?:@[^/@]+/)?[^/@]+)@([^/]+)/(.+?)(?:\?.*)?$")
WIDGET_VIEW = re.compile(r'<script type="application/vnd.jupyter.widget-view\+json">(.*?)</script>', re.S)
WIDGET_STATE = re.compile(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', re.S)
FIGURE_ALT = re.compile(r'<img class="labsim-figure" alt="([^"]*)"')
# Figures must be drawn within this long after the page's load event (html-manager renders the
# embedded state asynchronously; locally it takes well under a second).
RENDER_TIMEOUT_MS = 20_000
# Every console error fails the test. (_ext/book_scripts.py works around four that the pinned
# third-party stack would otherwise log: duplicated inline scripts, ipywidgets' MathJax 2 calls,
# html-manager's font path, the theme's missing default mode.) An error that comes from upstream
# and cannot be fixed in the book may be listed here as (regex, cause): it is then reported, not failed.
KNOWN_UPSTREAM: list = []


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(built_book):
    """Serve the built site on 127.0.0.1 (a free port); yields the base URL."""
    assert (built_book.html / "index.html").is_file(), "no built site:\n" + built_book.log
    handler = functools.partial(_QuietHandler, directory=str(built_book.html))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def pages(html_root: Path):
    """The book's pages (not _static/ and the like, nor the JupyterLite app in lite/: test_lite.py)."""
    return sorted(p.relative_to(html_root).as_posix() for p in html_root.rglob("*.html")
                  if not p.relative_to(html_root).parts[0].startswith("_")
                  and p.relative_to(html_root).parts[0] != "lite")


def _version_matches(wanted: str, installed: str) -> bool:
    """jsDelivr resolves ``pkg@3`` or ``pkg@3.2`` to the newest matching release; exact pins must match."""
    return installed == wanted or installed.startswith(wanted + ".")


def lab_figures(page_html: str) -> list[str]:
    """Alt texts of the lab figures the page displays (reachable from a displayed widget view)."""
    state_m = WIDGET_STATE.search(page_html)
    if not state_m:
        return []
    state = json.loads(htmlmod.unescape(state_m.group(1)))["state"]
    roots = [json.loads(htmlmod.unescape(v))["model_id"] for v in WIDGET_VIEW.findall(page_html)]
    alts, seen = [], set()

    def walk(mid):
        if mid in seen or mid not in state:
            return
        seen.add(mid)
        m = state[mid]["state"]
        alts.extend(htmlmod.unescape(a) for a in FIGURE_ALT.findall(str(m.get("value", ""))))
        for child in m.get("children", []):
            walk(child.removeprefix("IPY_MODEL_"))

    for r in roots:
        walk(r)
    return alts


def _local_route(site, npm_packages, blocked: list, served: set):
    """A Playwright route handler: the site itself passes, the pinned CDN scripts are answered from
    tests/browser/node_modules, and every other request is aborted and recorded in ``blocked``."""
    def route(r):
        url = r.request.url
        if url.startswith(site):
            return r.continue_()
        m = CDN.match(url)
        if m and m.group(1) in npm_packages and _version_matches(m.group(2), npm_packages[m.group(1)][0]):
            f = npm_packages[m.group(1)][1] / m.group(3)
            if f.is_file():
                served.add(f"{m.group(1)}@{m.group(2)}")
                ctype = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
                return r.fulfill(status=200, body=f.read_bytes(), content_type=ctype,
                                 headers={"Access-Control-Allow-Origin": "*"})
        blocked.append(url)
        return r.abort()
    return route


def test_pages_reference_the_pinned_cdn_scripts(built_book, npm_packages):
    """The widget scripts the pages load are the versions tests/browser/package-lock.json pins."""
    refs = set()
    for page in pages(built_book.html):
        refs |= set(re.findall(r'src="(https://cdn\.jsdelivr\.net/npm/[^"]+)"', (built_book.html / page).read_text()))
    names = {CDN.match(u).group(1) for u in refs}
    assert {"requirejs", "@jupyter-widgets/html-manager"} <= names, refs
    for url in refs:
        name, version, _ = CDN.match(url).groups()
        assert name in npm_packages, f"{url}: add {name} to tests/browser/package.json"
        assert _version_matches(version, npm_packages[name][0]), (url, npm_packages[name][0])


def test_every_page_in_chromium(built_book, site, browser, npm_packages, screenshots):
    html_root = built_book.html
    all_pages = pages(html_root)
    assert "intro.html" in all_pages and any(p.startswith("chapters/") for p in all_pages)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    blocked, served = [], set()
    context.route("**/*", _local_route(site, npm_packages, blocked, served))
    problems, report, known = [], [], {}
    for rel in all_pages:
        page = context.new_page()
        errors = []
        # "Failed to load resource" carries no URL: the failed response itself is checked below.
        page.on("console", lambda msg, errors=errors: msg.type == "error"
                and not msg.text.startswith("Failed to load resource") and errors.append(msg.text))
        page.on("pageerror", lambda exc, errors=errors: errors.append(f"uncaught: {exc}"))
        page.on("requestfailed", lambda req, errors=errors: errors.append(f"failed request: {req.url}"))
        bad_status = []
        page.on("response", lambda resp, bad=bad_status: resp.status >= 400 and bad.append(f"{resp.status} {resp.url}"))
        page.goto(site + rel, wait_until="load")
        want = lab_figures((html_root / rel).read_text())
        if want:
            try:
                page.wait_for_function(
                    """n => { const imgs = [...document.querySelectorAll('img.labsim-figure')];
                               return imgs.length >= n && imgs.every(i => i.complete && i.naturalWidth > 0); }""",
                    arg=len(want), timeout=RENDER_TIMEOUT_MS)
            except Exception:
                problems.append(f"{rel}: {len(want)} lab figure(s) expected, rendered: "
                                f"{page.locator('img.labsim-figure').count()}")
        page.wait_for_load_state("networkidle")
        images = page.evaluate("""() => [...document.images].map(i => ({
            src: i.currentSrc.slice(0, 120), alt: i.getAttribute('alt'), ok: i.complete && i.naturalWidth > 0,
            lab: i.classList.contains('labsim-figure'), w: i.getBoundingClientRect().width,
            h: i.getBoundingClientRect().height}))""")
        for img in images:
            if not img["ok"]:
                problems.append(f"{rel}: image does not load: {img['src']}")
            if img["lab"] and not (img["w"] > 200 and img["h"] > 100):
                problems.append(f"{rel}: lab figure is not visible ({img['w']:.0f}x{img['h']:.0f} px)")
            alt = (img["alt"] or "").strip()
            if (img["lab"] or "/_images/" in img["src"]) and (len(alt) < 20 or re.search(r"\.(png|svg|jpe?g)$", alt)):
                problems.append(f"{rel}: figure without alt text saying what it shows: alt={alt!r} src={img['src']}")
        shown = [i["alt"] for i in images if i["lab"]]
        for alt in want:
            if alt not in shown:
                problems.append(f"{rel}: lab figure with alt {alt[:60]!r}... is not shown")
        for e in errors + bad_status:
            why = next((why for rx, why in KNOWN_UPSTREAM if rx.search(e)), None)
            if why:
                known.setdefault(why, set()).add(rel)
            else:
                problems.append(f"{rel}: console/HTTP: {e}")
        shot = screenshots / (rel.removesuffix(".html").replace("/", "__") + ".png")
        page.screenshot(path=str(shot), full_page=True)
        report.append(f"{rel}: {len(images)} images, {len(shown)} lab figures")
        page.close()
    context.close()
    MEASURED.extend(["static site:"] + report + [f"served from npm: {sorted(served)}"]
                    + [f"KNOWN upstream console error on {len(v)} page(s): {k}" for k, v in known.items()])
    problems += [f"request leaving 127.0.0.1 that no npm package answers: {u}" for u in blocked]
    assert not problems, "\n".join(problems)
    assert any(s.startswith("@jupyter-widgets/html-manager@") for s in served)


def test_internal_links_and_images_resolve(built_book):
    """Every relative href/src on every page points at a file of the built site."""
    root = built_book.html
    broken = []
    for rel in pages(root):
        page = root / rel
        # Script bodies hold code, not links (jupyterquiz's embedded script builds its own links
        # from strings such as href="$2"; the review test checks those links in the browser).
        text = re.sub(r"(<script\b[^>]*>).*?(</script>)", r"\1\2", page.read_text(), flags=re.S)
        for target in re.findall(r'(?:href|src)="([^"#?]+)(?:[#?][^"]*)?"', text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("//"):
                continue
            dest = (root / target.lstrip("/")) if target.startswith("/") else (page.parent / target)
            if not dest.resolve().exists():
                broken.append(f"{rel}: {target}")
    assert not broken, "\n".join(broken)


LIVE_HINT = re.compile(r"live notebook|run (it|them|this|the labs?) live|\bBinder\b|JupyterLab|Jupyter Notebook", re.I)


def test_every_lab_page_says_how_to_run_it_live(built_book):
    """The static page shows the default state only: a page with a lab must tell the reader how
    to make the controls move (a live notebook: download, Binder or JupyterLab)."""
    missing = []
    for rel in pages(built_book.html):
        page = (built_book.html / rel).read_text()
        if not lab_figures(page):
            continue
        main = page[page.find("<main"):] if "<main" in page else page
        text = re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", " ", main, flags=re.S))
        if not LIVE_HINT.search(text):
            missing.append(rel)
    assert not missing, ("pages with labs that do not say how to run them live (add a sentence such as "
                         "chapter 1's 'The controls move only in a live notebook ...'): " + ", ".join(missing))


REVIEW = "chapters/12_review.html"


def test_review_quiz_grades_answers_in_the_browser(built_book, site, browser, npm_packages, screenshots):
    """The review page's quiz (jupyterquiz, its script embedded in the page) grades an answer with no
    kernel: one right and one wrong answer show the verdict, the explanation and a link to the section
    that teaches it. Every question's link points at a page and section of the built site. No request
    leaves 127.0.0.1 and the console stays free of errors."""
    assert (built_book.html / REVIEW).is_file(), f"{REVIEW} is not in the built book"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    blocked, served = [], set()
    context.route("**/*", _local_route(site, npm_packages, blocked, served))
    page = context.new_page()
    errors = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    try:
        page.goto(site + REVIEW, wait_until="load")
        page.wait_for_function("() => document.querySelectorAll('.Quiz label.MCButton').length >= 100",
                               timeout=RENDER_TIMEOUT_MS)
        questions = page.locator("div.Quiz[data-qnum]")  # (the feedback links are class "Quiz" too)
        n = questions.count()
        assert n >= 25, f"{n} questions rendered"

        # Question 1, the right answer: marked correct, with the explanation and its link.
        q1 = questions.nth(0)
        assert "40 minutes" in q1.inner_text()
        q1.locator('label[data-correct="true"]').click()
        fb1 = q1.locator(".Feedback")
        assert "correct" in fb1.get_attribute("class").split(), fb1.get_attribute("class")
        assert "correctButton" in q1.locator('label[data-correct="true"]').get_attribute("class")
        text1 = fb1.inner_text()
        assert text1.startswith("Right.") and "at most 900 seconds (15 minutes)" in text1, text1
        assert fb1.locator("a").get_attribute("href") == "01_lambda_at_a_glance.html#lambda-timeout"

        # Question 2, a wrong answer: marked incorrect, with the same explanation and link.
        q2 = questions.nth(1)
        wrong = q2.locator('label[data-correct="false"]').first
        wrong.click()
        fb2 = q2.locator(".Feedback")
        assert "incorrect" in fb2.get_attribute("class").split(), fb2.get_attribute("class")
        assert "incorrectButton" in wrong.get_attribute("class")
        text2 = fb2.inner_text()
        assert text2.startswith("Not this one.") and "6 MB for a synchronous invocation" in text2, text2
        assert fb2.locator("a").get_attribute("href") == "01_lambda_at_a_glance.html#passing-the-items-payload-limits"
        # The other questions are untouched.
        assert questions.nth(2).locator(".Feedback").inner_text().strip() == ""
        page.screenshot(path=str(screenshots / "review__answered.png"), full_page=True)

        # Every answer's feedback links to an existing page of the book and, where it names one,
        # a section of that page.
        feedback = page.evaluate("() => [...document.querySelectorAll('.Quiz label.MCButton')].map(l => l.dataset.feedback)")
        assert len(feedback) == 4 * n and all(feedback)
        bad = []
        for fb in feedback:
            md = re.findall(r"\]\(([^)#]+)(?:#([^)]*))?\)", fb)
            if len(md) != 1:
                bad.append(f"not one link: {fb[:80]}")
                continue
            target, anchor = md[0]
            dest = (built_book.html / REVIEW).parent / target
            if not dest.is_file():
                bad.append(f"no page {target}")
            elif anchor and f'id="{anchor}"' not in dest.read_text():
                bad.append(f"no section #{anchor} in {target}")
        assert not bad, "\n".join(sorted(set(bad)))
    finally:
        context.close()
    assert not blocked, f"requests leaving 127.0.0.1: {blocked}"
    assert not errors, errors
    MEASURED.append(f"review quiz: {n} questions; one right and one wrong answer graded in the browser")
