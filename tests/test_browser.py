"""The static site in a real browser (Debian Chromium + Playwright), as a reader with no network sees it.

The built book is served on 127.0.0.1 and every other request is aborted and recorded: the site is
self-contained (README, "A self-contained site"; only JupyterLite's five compiled packages come
from a CDN, tests/test_lite.py). One visit of every page (``visits``) records what the tests
below check: no request leaves the site; math is typeset by the site's own MathJax 3 (no raw TeX
left, no TeX error); axe-core (tests/browser/package.json, pinned) finds no serious or critical
accessibility violation; the console stays free of errors; every image loads, and a figure says
what it shows in its alt text. A full-page screenshot of each page goes to ``_build/screenshots/``.
Also: the pages load no script, stylesheet or font from elsewhere (read from the HTML and CSS),
the pages and their figures show when opened from ``file://``, and the review's quiz grades
answers with no kernel.
"""

import collections
import functools
import json
import re
import threading
import time
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import MEASURED, ROOT

pytestmark = pytest.mark.browser

# Every console error fails the test. (_ext/book_scripts.py works around two that the pinned
# third-party stack would otherwise log: duplicated inline scripts, the theme's missing default
# mode.) An error that comes from upstream and cannot be fixed in the book may be listed here as
# (regex, cause): it is then reported, not failed.
KNOWN_UPSTREAM: list = []
#: MathJax must have typeset a page within this long after its load event (locally: well under 1 s).
MATH_TIMEOUT_MS = 20_000
#: axe-core impacts that fail the test (the others are reported under "measured").
FAILING_IMPACTS = ("serious", "critical")
#: TeX that MathJax left as text: a delimiter or a control word (\frac, \lambda) outside code.
RAW_TEX = re.compile(r"\\[()\[\]]|\\[A-Za-z]{2,}|\$\$")
#: Waits for MathJax 3 to load and finish typesetting (at most ``ms``); returns its version, or why not.
MATHJAX_DONE = """async ms => { const t0 = performance.now();
    while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
        if (performance.now() - t0 > ms) return 'MathJax did not load';
        await new Promise(r => setTimeout(r, 25)); }
    const late = new Promise(r => setTimeout(() => r('typesetting took more than ' + ms + ' ms'), ms));
    return await Promise.race([MathJax.startup.promise.then(() => MathJax.version), late]); }"""
MATHJAX_SCRIPT = 'script[src*="mathjax"]'
#: A page that only sends the reader on (index.html, to the front page).
REDIRECT = re.compile(r'<meta http-equiv="refresh" content="0; url=([^"]+)"', re.I)
#: What the page's math looks like after typesetting.
MATH_STATE = """() => { const root = document.querySelector('main') || document.body;
    const math = [...root.querySelectorAll('.math')];
    const raw = []; const w = document.createTreeWalker(root, NodeFilter.SHOW_TEXT); let n;
    while ((n = w.nextNode())) {
        if (n.parentElement.closest('script, style, pre, code, mjx-container, .highlight')) continue;
        raw.push(n.textContent); }
    return {math: math.length, typeset: math.filter(m => m.querySelector('mjx-container')).length,
            errors: root.querySelectorAll('mjx-merror').length, text: raw.join(' ')}; }"""
AXE_RUN = """async () => (await axe.run(document, {resultTypes: ['violations']})).violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))"""


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


def site_only_route(site, blocked: list):
    """A Playwright route handler: the site itself passes, every other request is aborted and
    recorded in ``blocked``."""
    def route(r):
        if r.request.url.startswith(site):
            return r.continue_()
        blocked.append(r.request.url)
        return r.abort()
    return route


def _local_route(site, npm_packages, blocked: list, served: set):
    """tests/test_lite.py's name for ``site_only_route`` (the pages once loaded widget scripts from
    a CDN, answered here from npm; nothing is answered from elsewhere any more)."""
    return site_only_route(site, blocked)


def _axe_source(npm_packages) -> str:
    assert "axe-core" in npm_packages, "add axe-core to tests/browser/package.json"
    return (npm_packages["axe-core"][1] / "axe.min.js").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def visits(built_book, site, browser, npm_packages, screenshots):
    """Every page once, from the local server with every other request blocked: what it requested
    from elsewhere, its console errors, images, math and axe-core's violations."""
    axe = _axe_source(npm_packages)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    out, t0, spent = {}, time.perf_counter(), collections.Counter()
    # One tab visits every page in turn (a new tab per page costs a renderer process each time).
    now = {"blocked": [], "errors": []}           # what the page being visited did
    context.route("**/*", lambda r: site_only_route(site, now["blocked"])(r))
    page = context.new_page()
    # "Failed to load resource" carries no URL: the failed request itself is recorded below.
    page.on("console", lambda msg: msg.type == "error" and not msg.text.startswith("Failed to load resource")
            and now["errors"].append(msg.text))
    page.on("pageerror", lambda exc: now["errors"].append(f"uncaught: {exc}"))
    page.on("requestfailed", lambda req: req.url.startswith(site) and now["errors"].append(f"failed request: {req.url}"))
    page.on("response", lambda resp: resp.status >= 400 and now["errors"].append(f"{resp.status} {resp.url}"))
    for rel in pages(built_book.html):
        now.update(blocked=[], errors=[])
        t = time.perf_counter()
        page.goto(site + rel, wait_until="load")
        redirect = REDIRECT.search((built_book.html / rel).read_text(encoding="utf-8"))
        if redirect:                                        # index.html: on to the front page
            page.wait_for_url(site + redirect.group(1), wait_until="load")
        mathjax = page.evaluate(MATHJAX_DONE, MATH_TIMEOUT_MS) if page.locator(MATHJAX_SCRIPT).count() else None
        spent["load"] += time.perf_counter() - t
        math = page.evaluate(MATH_STATE)
        images = page.evaluate("""() => [...document.images].map(i => ({
            src: i.currentSrc.slice(0, 120), alt: i.getAttribute('alt'), ok: i.complete && i.naturalWidth > 0}))""")
        shot = screenshots / (rel.removesuffix(".html").replace("/", "__") + ".png")
        t = time.perf_counter()
        page.screenshot(path=str(shot), full_page=True)
        spent["screenshot"] += time.perf_counter() - t
        t = time.perf_counter()
        page.add_script_tag(content=axe)
        violations = page.evaluate(AXE_RUN)
        spent["axe-core"] += time.perf_counter() - t
        out[rel] = dict(blocked=now["blocked"], errors=now["errors"], mathjax=mathjax, math=math,
                        images=images, axe=violations)
    context.close()
    MEASURED.append(f"static site: {len(out)} pages visited in {time.perf_counter() - t0:.1f} s ("
                    + ", ".join(f"{k} {v:.1f} s" for k, v in spent.items()) + ")")
    return out


def test_no_request_leaves_the_site(visits):
    leaving = [f"{rel}: {url}" for rel, v in visits.items() for url in v["blocked"]]
    assert not leaving, "requests leaving the site (serve the file from the site: see _ext/book_scripts.py):\n" \
        + "\n".join(leaving)


def test_math_is_typeset_on_every_page_with_math(visits):
    """The site's own MathJax 3 (site/package-lock.json's version) typesets every formula: no
    formula left as raw TeX, no TeX error."""
    lock = json.loads((ROOT / "site" / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/mathjax"]["version"]
    assert pinned.startswith("3."), f"MathJax {pinned}: Jupyter Book 1 (Sphinx 7.4) uses MathJax 3"
    with_math = {rel: v for rel, v in visits.items() if v["math"]["math"]}
    assert len(with_math) >= 5, f"only {sorted(with_math)} have math: is the math still marked up as .math?"
    problems = []
    for rel, v in visits.items():
        m = v["math"]
        if m["math"] and v["mathjax"] != pinned:
            problems.append(f"{rel}: {m['math']} formulas, MathJax: {v['mathjax']} (expected the site's {pinned})")
        if m["typeset"] != m["math"]:
            problems.append(f"{rel}: {m['math'] - m['typeset']} of {m['math']} formulas not typeset")
        if m["errors"]:
            problems.append(f"{rel}: {m['errors']} TeX errors (mjx-merror)")
        raw = sorted(set(RAW_TEX.findall(m["text"])))
        if raw:
            problems.append(f"{rel}: raw TeX in the text: {raw[:5]}")
    MEASURED.append(f"math: {sum(v['math']['math'] for v in with_math.values())} formulas typeset on "
                    f"{len(with_math)} pages by the site's MathJax {pinned}")
    assert not problems, "\n".join(problems)


def test_axe_finds_no_serious_or_critical_violation(visits, npm_packages):
    """axe-core's default rules (WCAG 2 A/AA and best practices) on every page, at 1280 px."""
    per_rule, pages_per_rule, failing = collections.Counter(), collections.defaultdict(set), []
    for rel, v in visits.items():
        for violation in v["axe"]:
            key = (violation["id"], violation["impact"])
            per_rule[key] += len(violation["nodes"])
            pages_per_rule[key].add(rel)
            if violation["impact"] in FAILING_IMPACTS:
                failing.append(f"{rel}: {violation['id']} ({violation['impact']}): {violation['help']}: "
                               f"{violation['nodes'][:3]}")
    MEASURED.append(f"axe-core {npm_packages['axe-core'][0]} over {len(visits)} pages: "
                    + ("; ".join(f"{rule} ({impact}) {n} nodes on {len(pages_per_rule[rule, impact])} pages"
                                 for (rule, impact), n in sorted(per_rule.items())) or "no violation"))
    assert not failing, "\n".join(failing)


def test_no_console_errors_and_every_image_shows(visits):
    problems, known = [], {}
    for rel, v in visits.items():
        for img in v["images"]:
            if not img["ok"]:
                problems.append(f"{rel}: image does not load: {img['src']}")
            alt = (img["alt"] or "").strip()
            if "/_images/" in img["src"] and (len(alt) < 20 or re.search(r"\.(png|svg|jpe?g|webp)$", alt)):
                problems.append(f"{rel}: figure without alt text saying what it shows: alt={alt!r} src={img['src']}")
        for e in v["errors"]:
            why = next((why for rx, why in KNOWN_UPSTREAM if rx.search(e)), None)
            if why:
                known.setdefault(why, set()).add(rel)
            else:
                problems.append(f"{rel}: console/HTTP: {e}")
    MEASURED.extend(f"KNOWN upstream console error on {len(v)} page(s): {k}" for k, v in known.items())
    assert not problems, "\n".join(problems)


class _Resources(HTMLParser):
    """The URLs an HTML page makes the browser fetch by itself (not the links a reader follows)."""
    FETCHING_LINKS = {"stylesheet", "preload", "modulepreload", "prefetch", "icon", "shortcut", "apple-touch-icon", "manifest"}

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "audio", "video", "embed", "track", "input") and a.get("src"):
            self.urls.append(a["src"])
        if tag == "link" and a.get("href") and self.FETCHING_LINKS & set((a.get("rel") or "").lower().split()):
            self.urls.append(a["href"])
        if tag == "object" and a.get("data"):
            self.urls.append(a["data"])
        if a.get("srcset"):
            self.urls += [part.split()[0] for part in a["srcset"].split(",") if part.strip()]
        if a.get("style"):
            self.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", a["style"])


EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.I)


def test_pages_and_stylesheets_name_nothing_from_elsewhere(built_book):
    """What the pages and the site's stylesheets make a browser fetch (scripts, stylesheets, fonts,
    images) is on the site: no absolute URL (the browser test above sees only what one visit
    loads; this reads every page and stylesheet). The MathJax licence ships with it."""
    root, found = built_book.html, []
    for rel in pages(root):
        parser = _Resources()
        parser.feed((root / rel).read_text(encoding="utf-8"))
        found += [f"{rel}: {u}" for u in parser.urls if EXTERNAL.match(u.strip())]
    for css in sorted((root / "_static").rglob("*.css")):
        text = css.read_text(encoding="utf-8", errors="replace")
        urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", text) + re.findall(r"@import\s+['\"]([^'\"]+)", text)
        found += [f"{css.relative_to(root)}: {u}" for u in urls if EXTERNAL.match(u.strip())]
    assert not found, "\n".join(found)
    assert "Apache License" in (root / "_static" / "mathjax" / "LICENSE").read_text()
    notices = (root / "_static" / "licenses" / "THIRD-PARTY-NOTICES.txt").read_text()
    assert "mathjax 3." in notices and "Apache License" in notices


def test_pages_and_figures_show_from_file_urls(built_book, browser):
    """Opened from the disk (file://, no server): a page with math and the page with the most
    figures, and the front page, show with their stylesheets, figures and typeset math, and no
    console error."""
    root = built_book.html
    all_pages = pages(root)
    # A page with math in view: math only inside closed dropdowns (<details>) is typeset, but the
    # browser loads no font for glyphs it does not draw.
    in_view = {p: re.sub(r"<details.*?</details>", "", (root / p).read_text(), flags=re.S)
               .count('class="math notranslate') for p in all_pages}
    with_math = [max(all_pages, key=in_view.get)]         # the page with the most math in view
    most_images = max(all_pages, key=lambda p: (root / p).read_text().count("<img "))
    sample = sorted({"intro.html", with_math[0], most_images})
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    problems, report = [], []
    try:
        for rel in sample:
            page = context.new_page()
            errors = []
            page.on("console", lambda msg, errors=errors: msg.type == "error" and errors.append(msg.text))
            page.on("pageerror", lambda exc, errors=errors: errors.append(f"uncaught: {exc}"))
            page.goto((root / rel).resolve().as_uri(), wait_until="load")
            mathjax = page.evaluate(MATHJAX_DONE, MATH_TIMEOUT_MS) if page.locator(MATHJAX_SCRIPT).count() else None
            state = page.evaluate("""async () => { await document.fonts.ready; return {
                sheets: [...document.querySelectorAll('link[rel=stylesheet]')].filter(l => !l.sheet).map(l => l.href),
                images: [...document.images].map(i => ({src: i.currentSrc.slice(-80), ok: i.complete && i.naturalWidth > 0})),
                math: document.querySelectorAll('main .math').length,
                shown: [...document.querySelectorAll('main .math')].filter(e => !e.closest('details:not([open])') && e.getClientRects().length).length,
                typeset: document.querySelectorAll('main .math mjx-container').length,
                mjxFonts: [...document.fonts].filter(f => f.family.startsWith('MJX') && f.status === 'loaded').length,
                themed: getComputedStyle(document.documentElement).getPropertyValue('--pst-color-primary').trim()}; }""")
            problems += [f"{rel}: stylesheet not applied: {s}" for s in state["sheets"]]
            problems += [f"{rel}: image does not show: {i['src']}" for i in state["images"] if not i["ok"]]
            if not state["themed"]:
                problems.append(f"{rel}: the theme's stylesheet is not applied")
            if state["typeset"] != state["math"]:
                problems.append(f"{rel}: {state['math'] - state['typeset']} of {state['math']} formulas not typeset "
                                f"(MathJax: {mathjax})")
            if state["shown"] and not state["mjxFonts"]:        # fonts load for drawn glyphs only
                problems.append(f"{rel}: MathJax's fonts did not load from file://")
            problems += [f"{rel}: console: {e}" for e in errors]
            report.append(f"{rel} ({len(state['images'])} images, {state['math']} formulas)")
            page.close()
    finally:
        context.close()
    MEASURED.append("from file://: " + ", ".join(report))
    assert not problems, "\n".join(problems)


def test_internal_links_and_images_resolve(built_book):
    """Every relative href/src on every page points at a file of the built site."""
    root = built_book.html
    broken = []
    for rel in pages(root):
        page = root / rel
        # Script bodies hold code and data, not links (the review's quiz script builds its links
        # from its JSON data; the review test checks those links).
        text = re.sub(r"(<script\b[^>]*>).*?(</script>)", r"\1\2", page.read_text(), flags=re.S)
        for target in re.findall(r'(?:href|src)="([^"#?]+)(?:[#?][^"]*)?"', text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("//"):
                continue
            dest = (root / target.lstrip("/")) if target.startswith("/") else (page.parent / target)
            if not dest.resolve().exists():
                broken.append(f"{rel}: {target}")
    assert not broken, "\n".join(broken)


LIVE_HINT = re.compile(r"live notebook|run (it|them|this|the labs?) live|\bBinder\b|JupyterLab|Jupyter Notebook", re.I)
LAB_CALL = re.compile(r"\blabs\.\w+_lab\(")


def lab_chapters() -> list[str]:
    """The built pages of the chapters whose notebook shows a lab (a call of ``labs.<name>_lab()``)."""
    out = []
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        if any(c["cell_type"] == "code" and LAB_CALL.search("".join(c["source"])) for c in cells):
            out.append(f"chapters/{path.stem}.html")
    return out


def test_every_lab_page_says_how_to_run_it_live(built_book):
    """A page with a lab must tell the reader how to run it live (a live notebook: download,
    Binder or JupyterLab), where the model runs for any combination of settings."""
    labs = lab_chapters()
    assert len(labs) >= 10, labs
    missing = []
    for rel in labs:
        page = (built_book.html / rel).read_text()
        main = page[page.find("<main"):] if "<main" in page else page
        text = re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", " ", main, flags=re.S))
        if not LIVE_HINT.search(text):
            missing.append(rel)
    assert not missing, ("pages with labs that do not say how to run them live (add a sentence such as "
                         "chapter 1's 'The controls move only in a live notebook ...'): " + ", ".join(missing))


REVIEW = "chapters/12_review.html"
RENDER_TIMEOUT_MS = 20_000


def _quiz_data(built_book) -> list:
    """The questions the review page carries (its <script type="application/json"> block)."""
    html = (built_book.html / REVIEW).read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" class="slq-data">(.*?)</script>', html, re.S)
    assert m, "the review page holds no quiz data"
    return json.loads(m.group(1).replace("<\\/", "</"))["questions"]


def test_review_quiz_grades_answers_in_the_browser(built_book, site, browser, npm_packages, screenshots):
    """The review page's quiz (the book's own script, chapters/quiz/quiz.js, inline in the page)
    works with no kernel: one right and one wrong answer show the verdict, the chosen option's why
    and the link to the section; the running score (per chapter and overall) counts them and
    survives a reload (localStorage), and the reset clears it; a "choose two" question is checked
    with its button; the exam shows 20 questions, grades them only at the end, and links every
    miss to its section; keyboard alone answers a question. Every question's link points at a page
    and section of the built site; axe-core finds no serious violation in the answered page nor in
    the graded exam. No request leaves 127.0.0.1 and the console stays free of errors."""
    assert (built_book.html / REVIEW).is_file(), f"{REVIEW} is not in the built book"
    data = _quiz_data(built_book)
    axe = _axe_source(npm_packages)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    blocked = []
    context.route("**/*", site_only_route(site, blocked))
    page = context.new_page()
    errors = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    serious = []

    def axe_check(when):
        page.add_script_tag(content=axe)
        serious.extend(f"{when}: {v['id']} ({v['impact']}): {v['help']} {v['nodes'][:3]}"
                       for v in page.evaluate(AXE_RUN) if v["impact"] in FAILING_IMPACTS)

    def score():
        return page.locator(".slq-overall").inner_text()

    try:
        page.goto(site + REVIEW, wait_until="load")
        page.wait_for_function("() => document.querySelectorAll('.slq fieldset.slq-q').length >= 75",
                               timeout=RENDER_TIMEOUT_MS)
        questions = page.locator(".slq-practice fieldset.slq-q")
        n = questions.count()
        assert n == len(data) >= 75, (n, len(data))
        assert score().startswith("Your score: 0 right of 0 answered"), score()
        # Grouped by chapter in the book's order, each group's questions together.
        order = page.evaluate("() => [...document.querySelectorAll('.slq-practice h3.slq-chapter')].map(h => h.dataset.chapter)")
        assert order[:3] == ["01_lambda_at_a_glance", "02_invocation_models", "03_concurrency_and_throttling"], order
        assert order.index("04a_async_invocation_and_idempotency") < order.index("04_retries_backoff_idempotency"), order

        # The first "one" question, its right answer: marked right, its why, the section's link.
        ones = page.locator('.slq-practice fieldset.slq-q[data-kind="one"]')
        q1 = ones.nth(0)
        qid = q1.get_attribute("data-id")
        q = next(q for q in data if q["id"] == qid)
        q1.locator('input[data-correct="true"]').check()
        right_opt = next(o for o in q["options"] if o["correct"])
        assert "Right." in q1.locator(".slq-status").inner_text()
        assert q1.locator(".slq-opt.slq-right").count() == 1 and q1.locator(".slq-opt.slq-wrong").count() == 0
        assert right_opt["why"].replace("`", "")[:40] in q1.locator(".slq-why:not(.slq-hide)").inner_text()
        assert q1.locator(".slq-section a").get_attribute("href") == f"{q['chapter']}.html#{q['ref']}"
        # The second, a wrong answer: marked wrong with that option's own why.
        q2 = ones.nth(1)
        q2data = next(q for q in data if q["id"] == q2.get_attribute("data-id"))
        wrong = q2.locator('input[data-correct="false"]').first
        wrong_text = q2.locator(f'label[for="{wrong.get_attribute("id")}"]').inner_text().strip()
        wrong_opt = next(o for o in q2data["options"] if o["text"].replace("`", "").replace("*", "") == wrong_text)
        wrong.check()
        assert "Not this one" in q2.locator(".slq-status").inner_text()
        assert q2.locator(".slq-opt.slq-wrong").count() == 1
        assert wrong_opt["why"].replace("`", "")[:40] in q2.locator(".slq-why:not(.slq-hide)").inner_text()
        # The other questions are untouched.
        assert ones.nth(2).locator(".slq-status").inner_text().strip() == ""
        assert score().startswith("Your score: 1 right of 2 answered"), score()
        chapter = page.locator(f'h3.slq-chapter[data-chapter="{q["chapter"]}"] .slq-chapter-score').inner_text()
        assert "right of" in chapter and "answered" in chapter, chapter
        # A second try does not change the score: the first answer counts.
        q2.locator('input[data-correct="true"]').check()
        assert "Right." in q2.locator(".slq-status").inner_text()
        assert score().startswith("Your score: 1 right of 2 answered"), score()

        # A "choose two" question: checkboxes and a Check button.
        many = page.locator('.slq-practice fieldset.slq-q[data-kind="many"]').first
        assert many.locator('input[type="checkbox"]').count() >= 4
        correct = many.locator('input[data-correct="true"]')
        for i in range(correct.count()):
            correct.nth(i).check()
        many.get_by_role("button", name="Check").click()
        assert many.locator(".slq-status").inner_text().startswith("Right."), many.locator(".slq-status").inner_text()
        assert score().startswith("Your score: 2 right of 3 answered"), score()
        page.screenshot(path=str(screenshots / "review__answered.png"), full_page=False)
        axe_check("answered")

        # The score lives in localStorage: a reload keeps it, the reset clears it.
        page.reload(wait_until="load")
        page.wait_for_selector(".slq-overall")
        assert score().startswith("Your score: 2 right of 3 answered"), score()
        page.get_by_role("button", name="Reset my score").click()
        assert score().startswith("Your score: 0 right of 0 answered"), score()
        assert page.evaluate("() => window.localStorage.getItem('serverless-lab-quiz-v1')") is None
        page.reload(wait_until="load")
        page.wait_for_selector(".slq-overall")
        assert score().startswith("Your score: 0 right of 0 answered"), score()

        # Keyboard only: Tab from the reset button to the first question's answers, an arrow key
        # moves the choice (and does not answer), Enter answers.
        first = page.locator(".slq-practice fieldset.slq-q").first
        assert first.get_attribute("data-kind") == "one"
        page.get_by_role("button", name="Reset my score").focus()
        for _ in range(6):
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.closest('fieldset.slq-q') !== null"):
                break
        assert page.evaluate("""() => document.activeElement.type === 'radio'
            && document.activeElement.closest('fieldset.slq-q') === document.querySelector('.slq-practice fieldset.slq-q')""")
        assert page.evaluate("""() => document.activeElement.matches(':focus-visible')
            && getComputedStyle(document.activeElement).outlineStyle !== 'none'"""), "no visible focus"
        page.keyboard.press("ArrowDown")
        assert first.locator(".slq-status").inner_text().strip() in ("", "Press Enter to answer.")
        assert score().startswith("Your score: 0 right of 0 answered"), "an arrow key alone answered"
        page.keyboard.press("Enter")
        assert first.locator(".slq-status").inner_text().startswith(("Right.", "Not this one")), first.locator(".slq-status").inner_text()
        assert " of 1 answered" in score(), score()
        page.get_by_role("button", name="Reset my score").focus()
        page.keyboard.press("Enter")
        assert score().startswith("Your score: 0 right of 0 answered"), score()

        # Exam mode: 20 random questions, nothing graded until the end, misses linked.
        page.get_by_role("button", name=re.compile("Start an exam")).click()
        exam = page.locator(".slq-exam fieldset.slq-q")
        assert exam.count() == 20
        assert page.locator(".slq-practice").is_hidden()
        ids = [exam.nth(i).get_attribute("data-id") for i in range(20)]
        assert len(set(ids)) == 20
        for i in range(20):     # the first 10 right, the next 5 wrong, the last 5 blank
            card, kind = exam.nth(i), exam.nth(i).get_attribute("data-kind")
            if i < 15:
                pick = card.locator(f'input[data-correct="{"true" if i < 10 else "false"}"]')
                for k in range(pick.count() if kind == "many" and i < 10 else 1):
                    pick.nth(k).check()
                if kind == "many":
                    card.get_by_role("button", name="Record answer").click()
            assert card.locator(".slq-opt.slq-right, .slq-opt.slq-wrong").count() == 0, "graded before the end"
        page.get_by_role("button", name="Finish and grade").click()
        assert page.locator(".slq-exam-score").inner_text() == "Exam score: 10 of 20."
        misses = page.locator(".slq-misses a")
        assert misses.count() == 10
        by_id = {q["id"]: q for q in data}
        expected = {f"{by_id[i]['chapter']}.html#{by_id[i]['ref']}" for i in ids[10:]}
        assert {misses.nth(k).get_attribute("href") for k in range(10)} == expected
        page.screenshot(path=str(screenshots / "review__exam.png"), full_page=False)
        axe_check("exam graded")
        assert score().startswith("Your score: 0 right of 0 answered"), "the exam changed the practice score"
        page.get_by_role("button", name="Leave the exam").click()
        assert page.locator(".slq-practice").is_visible()

        # Every question's link points at an existing page and section of the built book.
        bad = []
        for q in data:
            dest = (built_book.html / REVIEW).parent / f"{q['chapter']}.html"
            if not dest.is_file():
                bad.append(f"no page {dest.name}")
            elif f'id="{q["ref"]}"' not in dest.read_text(encoding="utf-8"):
                bad.append(f"no section #{q['ref']} in {dest.name}")
        assert not bad, "\n".join(sorted(set(bad)))
    finally:
        context.close()
    assert not blocked, f"requests leaving 127.0.0.1: {blocked}"
    assert not errors, errors
    assert not serious, "\n".join(serious)
    MEASURED.append(f"review quiz: {n} questions; right, wrong, choose-two, score, reset, keyboard and a 20-question exam checked in the browser")
