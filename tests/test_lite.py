"""The chapters in the reader's browser: the JupyterLite site the book build makes (_ext/lite_site.py).

Here the five compiled wheels (numpy, matplotlib, pillow, contourpy, kiwisolver) cannot be
fetched: they exist only on Pyodide's CDN. What is checked: the lite site is built with the book
and holds every chapter; Pyodide's core and every pure-Python package the kernel needs are served
by the site, with the hashes of the files served; only the five compiled wheels point at the CDN;
labsim's wheel ships with the site; and the "Run in your browser" page tells the reader when the
CDN cannot be reached (instead of a kernel "starting" forever), or opens the chapter when it can.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
from lite_site import CDN_COMPILED, LOCK_ROOTS, lock_closure, norm  # noqa: E402

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
