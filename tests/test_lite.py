"""The chapters in the reader's browser: the JupyterLite site the book build makes (_ext/lite_site.py).

Here the five compiled wheels (numpy, matplotlib, pillow, contourpy, kiwisolver) cannot be
fetched: they exist only on Pyodide's CDN, and every request leaving 127.0.0.1 is aborted. What is
checked: the lite site is built with the book and holds every chapter; Pyodide's core and every
pure-Python package the kernel needs are served by the site, with the hashes of the files served;
only the five compiled wheels point at the CDN; labsim's wheel ships with the site; the "Run in
your browser" page tells the reader when the CDN cannot be reached (instead of a kernel "starting"
forever), or opens the chapter when it can. In headless Chromium: a lab chapter opens in
JupyterLite and its kernel reaches idle from the site alone; its setup cell asks the CDN for
exactly the five compiled wheels and fails at once, in the notebook, when they do not come;
piplite finds labsim's wheel (and ipywidgets with its dependencies) on the site; the review, which
needs no compiled package, runs end to end from the site (Run All, the quiz grades an answer).

NOT testable here: a lab chapter running in the browser (its labs need numpy and matplotlib from
the CDN), hence the labs' figures and widgets under Pyodide, and the time to fetch the five wheels.
"""

import functools
import hashlib
import json
import re
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import MEASURED
from test_browser import _local_route  # the pinned CDN scripts (MathJax for the quiz) answered from npm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
from lite_site import CDN_COMPILED, LOCK_ROOTS, SETUP_CELL, lock_closure, norm  # noqa: E402

CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
PYODIDE_CDN = re.compile(r"^https://cdn\.jsdelivr\.net/pyodide/v[\d.]+/full/")


def lite(built_book) -> Path:
    assert built_book.returncode == 0, built_book.log
    return built_book.html / "lite"


@pytest.mark.book
def test_lite_site_is_built_with_the_book(built_book):
    root = lite(built_book)
    for path in CHAPTERS:
        assert (root / "files" / "chapters" / path.name).read_bytes() == path.read_bytes(), path.name
    # The review's questions and its script (chapters/quiz/) come with the chapters.
    quiz = sorted((ROOT / "chapters" / "quiz").iterdir())
    assert any(p.name == "quiz.js" for p in quiz) and sum(p.suffix == ".json" for p in quiz) >= 15
    for path in quiz:
        assert (root / "files" / "chapters" / "quiz" / path.name).read_bytes() == path.read_bytes(), path.name
    config = json.loads((root / "jupyter-lite.json").read_text())["jupyter-config-data"]
    kernel = config["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    assert kernel["pyodideUrl"] == "./static/pyodide/pyodide.mjs", "the kernel starts from the site's own core"
    assert kernel["disablePyPIFallback"] is True, "piplite must not reach PyPI"
    for f in ["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip"]:
        assert (root / "static" / "pyodide" / f).is_file(), f
    wheels = json.loads((root / "pypi" / "all.json").read_text())
    assert {"labsim", "ipywidgets", "jupyterlab-widgets", "comm"} <= {norm(n) for n in wheels}, sorted(wheels)
    url = wheels["labsim"]["releases"]["0.1.0"][0]["url"]
    assert (root / "pypi" / url.split("?")[0].lstrip("./")).is_file(), url
    size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    book = sum(f.stat().st_size for f in built_book.html.rglob("*") if f.is_file()) - size
    MEASURED.append(f"lite site: {size / 1e6:.1f} MB added to the {book / 1e6:.1f} MB book")


@pytest.mark.book
def test_only_the_five_compiled_wheels_come_from_the_cdn(built_book):
    pyodide = lite(built_book) / "static" / "pyodide"
    packages = json.loads((pyodide / "pyodide-lock.json").read_text())["packages"]
    needed = lock_closure(packages, LOCK_ROOTS)
    remote = sorted(norm(n) for n in needed if PYODIDE_CDN.match(packages[n]["file_name"]))
    assert remote == sorted(CDN_COMPILED)
    for name in needed:
        pkg = packages[name]
        if norm(name) in CDN_COMPILED:
            continue
        f = pyodide / pkg["file_name"]
        assert f.is_file(), f"{name}: {pkg['file_name']} is not served by the site"
        assert hashlib.sha256(f.read_bytes()).hexdigest() == pkg["sha256"], f"{name}: hash of the served file"
    others = [n for n in packages if n not in needed]
    assert all(PYODIDE_CDN.match(packages[n]["file_name"]) for n in others), "unused packages: the CDN"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture(scope="module")
def lite_site(built_book):
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(built_book.html)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.mark.browser
@pytest.mark.parametrize("cdn_up", [False, True], ids=["cdn-unreachable", "cdn-reachable"])
def test_run_in_your_browser_checks_the_cdn_first(built_book, lite_site, browser, cdn_up):
    """The button's page: with the CDN unreachable it says which packages cannot load (within
    the page's 20 s timeout); with the CDN answering it opens the chapter in JupyterLite."""
    context = browser.new_context()
    asked, outside = [], []

    def route(r):
        url = r.request.url
        if url.startswith(lite_site):
            return r.continue_()
        if PYODIDE_CDN.match(url):
            asked.append(url)
            if cdn_up:
                return r.fulfill(status=200, body=b"", headers={"Access-Control-Allow-Origin": "*"})
        else:
            outside.append(url)
        return r.abort()

    context.route("**/*", route)
    page = context.new_page()
    chapter = CHAPTERS[0].name
    t0 = time.perf_counter()
    page.goto(f"{lite_site}_static/run-in-browser.html?path=chapters/{chapter}")
    if cdn_up:
        page.wait_for_url(re.compile(r"/lite/lab/index\.html\?path=chapters%2F" + re.escape(chapter)), timeout=30_000)
    else:
        page.wait_for_function("() => window.labsimLiteCheck", timeout=30_000)
        text = page.inner_text("body")
        assert "cannot load numpy, matplotlib, pillow, contourpy, kiwisolver" in text, text
        assert "cdn.jsdelivr.net" in text and page.is_visible("#alternatives")
        assert page.get_attribute("#download", "href") == f"../_sources/chapters/{chapter}"
        MEASURED.append(f"lite: the CDN check told the reader in {time.perf_counter() - t0:.1f} s")
    context.close()
    assert len({u for u in asked}) == len(CDN_COMPILED), asked
    assert not [u for u in outside if "/lite/" not in u], outside


#: JupyterLite hides its application object unless the page config asks for it: the tests' route
#: adds the option to the site's jupyter-lite.json as it is served (the published site keeps it off).
EXPOSE_APP = "exposeAppInBrowser"
APP_TIMEOUT_MS = 180_000          # the JupyterLab app (20 MB of scripts) and Pyodide, on a shared 2-core machine
NOTEBOOK_READY = """name => { const app = window.jupyterapp; const w = app && app.shell.currentWidget;
    return !!(w && w.context && w.context.path === 'chapters/' + name && w.sessionContext &&
              w.sessionContext.session && w.sessionContext.session.kernel); }"""
KERNEL_IDLE = """() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'"""
#: Runs code in the current notebook's kernel; returns the reply's status and what the cell printed.
EXECUTE = """async code => { const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const out = []; const f = k.requestExecute({code, store_history: false});
    f.onIOPub = m => { const c = m.content; if (c.text) out.push(c.text); if (c.ename) out.push(c.ename + ': ' + c.evalue); };
    const r = await f.done; return {status: r.content.status, out: out.join('')}; }"""


def _lite_route(lite_site, npm_packages, cdn: list, blocked: list, served: set, from_site: list):
    """The site passes (its jupyter-lite.json with EXPOSE_APP), Pyodide's CDN is recorded in cdn and
    aborted (unreachable), the pinned npm scripts are answered locally, anything else is blocked."""
    others = _local_route(lite_site, npm_packages, blocked, served)

    def route(r):
        url = r.request.url
        if url.startswith(lite_site):
            from_site.append(url[len(lite_site):].split("?")[0])
            if url.split("?")[0].endswith("lite/jupyter-lite.json"):
                resp = r.fetch()
                cfg = resp.json()
                cfg["jupyter-config-data"][EXPOSE_APP] = True
                return r.fulfill(response=resp, json=cfg)
            return r.continue_()
        if PYODIDE_CDN.match(url):
            cdn.append(url)
            return r.abort()
        return others(r)
    return route


@pytest.mark.browser
def test_chapter_kernel_starts_from_the_site_and_finds_labsim(built_book, lite_site, browser, npm_packages,
                                                               screenshots):
    """A lab chapter in JupyterLite with the CDN unreachable: the kernel reaches idle from the
    site's own Pyodide core and packages; the chapter's setup cell asks the CDN for exactly the
    five compiled wheels and fails in the notebook (no silent hang); piplite installs labsim's
    wheel and ipywidgets (with its pure-Python dependencies) from the site."""
    chapter = CHAPTERS[0]
    assert "labsim" in chapter.read_text()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    cdn, blocked, served, from_site = [], [], set(), []
    context.route("**/*", _lite_route(lite_site, npm_packages, cdn, blocked, served, from_site))
    page = context.new_page()
    try:
        t0 = time.perf_counter()
        page.goto(f"{lite_site}lite/lab/index.html?path=chapters/{chapter.name}")
        page.wait_for_function(NOTEBOOK_READY, arg=chapter.name, timeout=APP_TIMEOUT_MS)
        t_app = time.perf_counter()
        page.wait_for_function(KERNEL_IDLE, timeout=APP_TIMEOUT_MS)
        t_idle = time.perf_counter()
        assert not cdn and not blocked, f"the kernel's start left the site: {cdn + blocked}"
        assert "lite/static/pyodide/pyodide.asm.wasm" in from_site, "Pyodide's core from the site"
        MEASURED.append(f"lite kernel start (Chromium, CDN unreachable): {t_idle - t0:.1f} s from opening the "
                        f"chapter to an idle kernel ({t_app - t0:.1f} s JupyterLite's app, {t_idle - t_app:.1f} s "
                        f"Pyodide and the kernel)")

        # The reader's first cell: the hidden setup cell, as the notebook in the lite site holds it.
        source = page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets
            .find(c => c.model.id === 'lite-setup').model.sharedModel.getSource()""")
        assert source == SETUP_CELL
        t = time.perf_counter()
        reply = page.evaluate(EXECUTE, source)
        took = time.perf_counter() - t
        assert reply["status"] == "error" and "ModuleNotFoundError" in reply["out"], reply
        names = sorted(norm(u.rsplit("/", 1)[1].split("-")[0]) for u in cdn)
        assert names == sorted(CDN_COMPILED), cdn
        assert "lite/pypi/labsim-0.1.0-py3-none-any.whl" in from_site, "labsim's wheel from the site"
        MEASURED.append(f"lite: without the CDN the setup cell failed in {took:.1f} s ({reply['out'].strip()[:80]})")

        # piplite finds labsim in the site's index, and ipywidgets with its dependencies.
        reply = page.evaluate(EXECUTE, "import piplite\nawait piplite.install(['labsim'], deps=False)\n"
                                       "import importlib.metadata as m\nprint(m.version('labsim'), m.requires('labsim'))")
        assert reply["status"] == "ok" and reply["out"].startswith("0.1.0 ['numpy"), reply
        import ipywidgets
        reply = page.evaluate(EXECUTE, "await piplite.install(['ipywidgets'])\nimport ipywidgets, comm, traitlets\n"
                                       "print(ipywidgets.__version__)")
        assert reply == {"status": "ok", "out": f"{ipywidgets.__version__}\n"}, reply
        assert names == sorted(norm(u.rsplit("/", 1)[1].split("-")[0]) for u in cdn), "nothing more from the CDN"
    finally:
        page.screenshot(path=str(screenshots / "lite__chapter.png"))
        context.close()
    assert not blocked, blocked


@pytest.mark.browser
def test_review_runs_in_jupyterlite_from_the_site_alone(built_book, lite_site, browser, npm_packages, screenshots):
    """The review needs no compiled package: its button opens it in JupyterLite at once (no CDN
    check), Run All installs nothing, runs every cell (the quiz cell and the hidden check read
    chapters/quiz/ and the other chapters from the lite site's files) and the quiz, the book's own
    script, grades an answer and counts it in the score."""
    review = next(p for p in CHAPTERS if p.name.startswith("12_review"))
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    cdn, blocked, served, from_site = [], [], set(), []
    context.route("**/*", _lite_route(lite_site, npm_packages, cdn, blocked, served, from_site))
    page = context.new_page()
    try:
        page.goto(f"{lite_site}_static/run-in-browser.html?path=chapters/{review.name}")
        page.wait_for_function(NOTEBOOK_READY, arg=review.name, timeout=APP_TIMEOUT_MS)
        page.wait_for_function(KERNEL_IDLE, timeout=APP_TIMEOUT_MS)
        t0 = time.perf_counter()
        page.evaluate("() => window.jupyterapp.commands.execute('runmenu:run-all')")
        page.wait_for_function("""() => window.jupyterapp.shell.currentWidget.content.widgets
            .filter(c => c.model.type === 'code').every(c => c.model.executionCount !== null)""", timeout=APP_TIMEOUT_MS)
        run_all = time.perf_counter() - t0
        outputs = page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets
            .filter(c => c.model.type === 'code').map(c => c.model.outputs.toJSON())""")
        errors = [o for cell in outputs for o in cell if o["output_type"] == "error"
                  or (o["output_type"] == "stream" and o["name"] == "stderr")]
        assert not errors, errors
        assert any("questions" in o.get("text", "") for cell in outputs for o in cell), "the hidden check ran"
        page.wait_for_function("() => document.querySelectorAll('.jp-Notebook .slq fieldset.slq-q').length >= 75",
                               timeout=30_000)
        first = page.locator('.jp-Notebook .slq-practice fieldset.slq-q[data-kind="one"]').first
        first.locator('input[data-correct="true"]').check()
        assert first.locator(".slq-status").inner_text().startswith("Right."), first.locator(".slq-status").inner_text()
        assert page.locator(".jp-Notebook .slq-overall").inner_text().startswith("Your score: 1 right of 1 answered")
        # Only the kernel's own wheels (piplite, ipykernel, comm...): the review installs nothing.
        wheels = [u for u in from_site if u.endswith(".whl") and ("labsim" in u or "quiz" in u)]
        assert not wheels, f"the review installed packages: {wheels}"
        MEASURED.append(f"lite: the review ran in JupyterLite from the site alone (Run All {run_all:.1f} s)")
    finally:
        page.screenshot(path=str(screenshots / "lite__review.png"))
        context.close()
    assert not cdn, f"the review asked Pyodide's CDN: {cdn}"
    assert not blocked, blocked
