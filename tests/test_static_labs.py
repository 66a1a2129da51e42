"""The website's labs with no kernel (issue 23): precomputed states, their page script, budgets.

Served from 127.0.0.1 with every other request blocked (Playwright routing), on every chapter
with labs: the controls exist (names, ranges as the widgets); moving each control to each stop
(keyboard for sliders) shows that state's image, alt text and summary; each Try this button sets
every control and shows its state; Reset goes back; a combination outside the set shows the note
and no figure; no request leaves the site. Without a browser: the state set follows the rule,
the images fit the budgets, and a sample of states (the default and two more per lab, chosen by
their keys, so the same every run) equals, pixel for pixel, what the live lab draws.

``tests/bench_static_labs.py`` measures the state-change time (a benchmark, not a test).
"""

from __future__ import annotations

import functools
import hashlib
import html
import io
import json
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from labsim.labs import LABS, static  # noqa: E402

MANIFEST = re.compile(r'<script type="application/json" class="labsim-manifest">(.*?)</script>', re.S)
IMAGE_BUDGET = 25e6          # all labs' images together (bytes)
PAGE_OPEN_BUDGET = 3e6       # images a page loads when it opens (bytes)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(built_book):
    assert (built_book.html / "index.html").is_file(), "no built site:\n" + built_book.log
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(built_book.html)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def lab_pages(html_root: Path) -> dict:
    """page (relative path) -> its labs' manifests, in page order."""
    out = {}
    for p in sorted((html_root / "chapters").glob("*.html")):
        found = [json.loads(m.replace("<\\/", "</")) for m in MANIFEST.findall(p.read_text(encoding="utf-8"))]
        if found:
            out[p.relative_to(html_root).as_posix()] = found
    return out


@pytest.fixture(scope="module")
def pages(built_book) -> dict:
    found = lab_pages(built_book.html)
    assert found, "no page has a static lab"
    return found


# --- the state set, without a browser ----------------------------------------------------------
@pytest.mark.parametrize("name", list(LABS))
def test_state_set_follows_the_rule(name):
    lab = LABS[name]()
    ss = static.state_set(lab, name)
    d = lab.values()
    for c in ss.controls:
        w = lab.controls[c.name]
        if c.kind == "slider":
            assert len(c.stops) <= static.MAX_STOPS
            assert c.stops == sorted(set(c.stops))
            assert {w.min, w.max} <= set(c.stops) and c.stops[c.default] == d[c.name]
            for v in c.stops:      # on the widget's own grid
                assert w.min <= v <= w.max and abs((v - w.min) / w.step - round((v - w.min) / w.step)) < 1e-9
        else:
            assert c.stops == static.stops(w)
        for v in c.stops:          # each stop with the others at their defaults
            assert static.key_of(ss.controls, d | {c.name: v}) in ss.states
    for step, key in ss.steps:
        assert ss.states[key] == d | step.values
    expected = 1 + sum(len(c.stops) - 1 for c in ss.controls)
    assert len(ss.states) <= expected + len(ss.steps)
    assert len(set(ss.states)) == len(ss.states)


def test_kernel_output_carries_the_static_lab():
    """A lab's notebook output: the widget for JupyterLab, text/html with the same controls for pages."""
    lab = LABS["concurrency_lab"]()
    data = lab._repr_mimebundle_()
    data = data[0] if isinstance(data, tuple) else data
    assert "application/vnd.jupyter.widget-view+json" in data
    page = data["text/html"]
    assert page.startswith('<div class="labsim-static" data-lab="concurrency_lab"')
    for name, w in lab.controls.items():
        assert f'name="{name}"' in page and f">{w.description}</label>" in page
        if hasattr(w, "min") and hasattr(w, "max"):
            assert f'min="{w.min}" max="{w.max}" step="{w.step}"' in page
    assert 'aria-live="polite"' in page and "Reset</button>" in page


# --- the built site ----------------------------------------------------------------------------
def test_every_lab_call_is_a_static_lab(built_book, pages):
    """Each lab a chapter shows is on its page, with its manifest and every image on disk."""
    called = {}
    root = Path(__file__).resolve().parents[1]
    for nb in sorted((root / "chapters").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        shown = []
        for c in cells:
            if c["cell_type"] != "code" or "remove-cell" in c.get("metadata", {}).get("tags", []):
                continue
            shown += re.findall(r"labs\.(\w+_lab)\(\)", "".join(c["source"]))
        if shown and (built_book.html / "chapters" / (nb.stem + ".html")).is_file():
            called[f"chapters/{nb.stem}.html"] = shown
    assert {p: [m["lab"] for m in ms] for p, ms in pages.items()} == called
    for ms in pages.values():
        for m in ms:
            folder = built_book.html / "_static" / "labsim" / m["lab"]
            assert m == json.loads((folder / "manifest.json").read_text())
            assert {s["img"] for s in m["states"].values()} <= {f.name for f in folder.glob("*.webp")}
            lab = LABS[m["lab"]]()
            assert m["default"] == static.key_of(static.controls_of(lab, static.steps_of(m["lab"])), lab.values())
            assert [s["key"] for s in m["steps"]] == [s.key for s in static.steps_of(m["lab"])]


def test_image_budgets(built_book, pages):
    total = sum(f.stat().st_size for f in (built_book.html / "_static" / "labsim").rglob("*.webp"))
    assert total <= IMAGE_BUDGET, f"all labs' images take {total / 1e6:.1f} MB (budget 25 MB)"


def _sample(m: dict) -> list:
    """The default state and two more, the same every run: by the hash of their keys."""
    others = sorted((k for k in m["states"] if k != m["default"]),
                    key=lambda k: hashlib.sha256(f"{m['lab']}:{k}".encode()).hexdigest())
    steps = [s["state"] for s in m["steps"] if s["state"] != m["default"]]
    return [m["default"]] + (steps[:1] + [k for k in others if k not in steps[:1]])[:2]


def _pixels(data: bytes) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def test_precomputed_images_equal_the_live_lab_pixel_for_pixel(built_book, pages):
    """Per lab: the sampled states' images, decoded, equal what the live lab draws after its
    controls are set to that state (the reader's path: one change per control)."""
    for ms in pages.values():
        for m in ms:
            lab = LABS[m["lab"]]()
            for key in _sample(m):
                idx = [int(i) for i in key.split("-")]
                for c, i in zip(m["controls"], idx):
                    w = lab.controls[c["name"]]
                    if w.value != c["stops"][i]:
                        w.value = c["stops"][i]
                assert lab.values() == {c["name"]: c["stops"][i] for c, i in zip(m["controls"], idx)}
                state = m["states"][key]
                webp = (built_book.html / "_static" / "labsim" / m["lab"] / state["img"]).read_bytes()
                live, ours = _pixels(lab.png), _pixels(webp)
                assert live.shape == ours.shape and (live == ours).all(), f"{m['lab']} state {key}"
                assert lab.summary.value == f'<p role="status">{state["summary"]}</p>'
                assert f'alt="{html.escape(state["alt"], quote=True)}"' in lab.figure.value


# --- in Chromium -------------------------------------------------------------------------------
READ = """root => {
  const img = root.querySelector('img.labsim-figure');
  return {state: root.getAttribute('data-state'), src: img.getAttribute('src'), alt: img.alt,
          imgHidden: img.hidden, summary: root.querySelector('.labsim-summary').textContent,
          noteHidden: root.querySelector('.labsim-offset').hidden,
          values: Array.from(root.querySelectorAll('.labsim-control')).map(c => {
            const el = c.querySelector('input, select');
            return el.type === 'checkbox' ? el.checked : el.tagName === 'SELECT' ? el.selectedIndex : Number(el.value);
          }),
          decoded: img.hidden ? 0 : img.naturalWidth}
}"""


def _open(browser, site, page_path, blocked, image_bytes=None, **ctx):
    context = browser.new_context(**ctx)
    page = context.new_page()

    def route(r):
        if r.request.url.startswith(site):
            return r.continue_()
        blocked.append(r.request.url)
        return r.abort()
    page.route("**/*", route)
    if image_bytes is not None:
        def on_response(resp):
            if "/_static/labsim/" in resp.url and resp.url.endswith(".webp"):
                try:
                    image_bytes.append(len(resp.body()))
                except Exception:
                    pass
        page.on("response", on_response)
    page.goto(site + page_path, wait_until="load")
    page.wait_for_function("() => Array.from(document.querySelectorAll('div.labsim-static'))"
                           ".every(d => d.getAttribute('data-ready'))")
    return context, page


def _read(root):
    root.evaluate("r => { const i = r.querySelector('img.labsim-figure'); return i.hidden ? 0 : i.decode(); }")
    return root.evaluate(READ)


def _expect_state(m, got, key, where):
    s = m["states"][key]
    assert got["state"] == key, where
    assert got["src"].endswith(f"/_static/labsim/{m['lab']}/{s['img']}"), where
    assert got["alt"] == s["alt"] and got["summary"] == _text(s["summary"]), where
    assert not got["imgHidden"] and got["noteHidden"] and got["decoded"] > 0, where
    want = [int(i) for i in key.split("-")]
    for c, v, i in zip(m["controls"], got["values"], want):
        assert v == (c["stops"][i] if c["kind"] == "slider" else bool(i) if c["kind"] == "checkbox" else i), where


def _text(summary_html: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", summary_html))


def _move(page, root, c, j):
    """Move control ``c`` to stop ``j`` as a reader does (keyboard for a slider)."""
    el = root.locator(f'[name="{c["name"]}"]')
    if c["kind"] == "slider":
        el.focus()
        page.keyboard.press("Home")
        for _ in range(j):
            page.keyboard.press("ArrowRight")
    elif c["kind"] == "select":
        el.select_option(index=j)
    else:
        el.set_checked(bool(j))


def _pages(built_book):
    return list(lab_pages(built_book.html)) if built_book.html.is_dir() else []


def pytest_generate_tests(metafunc):
    if "lab_page" in metafunc.fixturenames:
        from conftest import ROOT
        chapters = sorted(p.stem for p in (ROOT / "chapters").glob("*.ipynb"))
        metafunc.parametrize("lab_page", [f"chapters/{c}.html" for c in chapters])


def test_static_labs_in_chromium(built_book, site, browser, pages, lab_page):
    if lab_page not in pages:
        # A page without labs has no static lab (a figure shown once, class labsim-static-figure, is not one).
        assert not (built_book.html / lab_page).is_file() or 'class="labsim-static"' not in \
            (built_book.html / lab_page).read_text(encoding="utf-8")
        return
    blocked, image_bytes = [], []
    context, page = _open(browser, site, lab_page, blocked, image_bytes)
    try:
        assert sum(image_bytes) <= PAGE_OPEN_BUDGET, f"{sum(image_bytes) / 1e6:.1f} MB of images on open"
        roots = page.locator("div.labsim-static")
        assert roots.count() == len(pages[lab_page])
        for n, m in enumerate(pages[lab_page]):
            root = roots.nth(n)
            lab = LABS[m["lab"]]()
            # the controls: the widgets' names, labels and ranges
            for c in m["controls"]:
                w = lab.controls[c["name"]]
                el = root.locator(f'[name="{c["name"]}"]')
                assert el.count() == 1, c["name"]
                label = root.locator(f'label[for="{el.get_attribute("id")}"]').inner_text().strip()
                assert label == w.description
                if c["kind"] == "slider":
                    assert [float(el.get_attribute(a)) for a in ("min", "max", "step")] == [w.min, w.max, w.step]
            _expect_state(m, _read(root), m["default"], f"{m['lab']} on open")
            # each control to each stop, the others at their defaults
            d = [int(i) for i in m["default"].split("-")]
            for i, c in enumerate(m["controls"]):
                for j in range(len(c["stops"])):
                    _move(page, root, c, j)
                    key = "-".join(str(j if k == i else x) for k, x in enumerate(d))
                    _expect_state(m, _read(root), key, f"{m['lab']}: {c['name']} at stop {j}")
                root.locator("button.labsim-reset").click()
                _expect_state(m, _read(root), m["default"], f"{m['lab']}: Reset")
            # Try this: every control set, the state and its question shown
            buttons = root.locator("button.labsim-try")
            assert buttons.count() == len(m["steps"])
            for k, step in enumerate(m["steps"]):
                buttons.nth(k).click()
                _expect_state(m, _read(root), step["state"], f"{m['lab']}: Try this {k + 1}")
                box = root.locator(".labsim-step")
                assert box.is_visible() and step["ask"] in box.inner_text()
                assert root.locator(".labsim-answer").text_content() == step["answer"]
            root.locator("button.labsim-reset").click()
            _expect_state(m, _read(root), m["default"], f"{m['lab']}: Reset after Try this")
            # a combination outside the set: the note, no figure
            off = _outside(m)
            if off is not None:
                for i, j in off:
                    _move(page, root, m["controls"][i], j)
                got = _read(root)
                assert got["state"] == "" and got["imgHidden"] and not got["src"] and got["summary"] == ""
                assert not got["noteHidden"]
                note = root.locator(".labsim-offset")
                assert note.is_visible() and len(note.locator("a").all()) >= 2
                root.locator("button.labsim-reset").click()
                _expect_state(m, _read(root), m["default"], f"{m['lab']}: Reset after the note")
        assert blocked == [], f"requests leaving the site: {blocked[:5]}"
    finally:
        context.close()


def _outside(m):
    """Two controls away from their defaults, in a combination the set does not hold."""
    d = [int(i) for i in m["default"].split("-")]
    moving = [i for i, c in enumerate(m["controls"]) if len(c["stops"]) > 1]
    for a in moving:
        for b in moving:
            if b <= a:
                continue
            for ja in range(len(m["controls"][a]["stops"])):
                for jb in range(len(m["controls"][b]["stops"])):
                    if ja == d[a] or jb == d[b]:
                        continue
                    key = d.copy()
                    key[a], key[b] = ja, jb
                    if "-".join(map(str, key)) not in m["states"]:
                        return [(a, ja), (b, jb)]
    return None


def test_narrow_screen_and_file_url(built_book, browser, pages):
    """On a phone-width screen the lab fits (one column of controls); from file:// the page's
    default figures show and the controls work."""
    first = next(iter(pages))
    blocked = []
    context = browser.new_context(viewport={"width": 375, "height": 800}, is_mobile=True)
    try:
        page = context.new_page()
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file://")
                   else (blocked.append(r.request.url), r.abort()))
        # (no assertion on ``blocked`` here: the chromium test above checks the requests)
        page.goto((built_book.html / first).resolve().as_uri(), wait_until="load")
        page.wait_for_function("() => Array.from(document.querySelectorAll('div.labsim-static'))"
                               ".every(d => d.getAttribute('data-ready'))")
        root = page.locator("div.labsim-static").first
        fit = root.evaluate("r => [r.scrollWidth, r.clientWidth, "
                            "new Set(Array.from(r.querySelectorAll('.labsim-control')).map(c => c.offsetLeft)).size]")
        assert fit[0] <= fit[1] and fit[2] == 1, fit
        m = pages[first][0]
        _expect_state(m, _read(root), m["default"], "file:// on open")
        c = next(i for i, c in enumerate(m["controls"]) if len(c["stops"]) > 1)
        j = (int(m["default"].split("-")[c]) + 1) % len(m["controls"][c]["stops"])
        _move(page, root, m["controls"][c], j)
        key = m["default"].split("-")
        key[c] = str(j)
        _expect_state(m, _read(root), "-".join(key), "file:// after a move")
    finally:
        context.close()
