"""Live notebooks: each chapter in JupyterLab (Debian Chromium + Playwright), the way a reader uses it.

JupyterLab runs on 127.0.0.1 on a fixed free port (``--ServerApp.port_retries=0``) over a temporary
copy of chapters/ (autosave never touches the committed notebooks), with its own settings folder.
One browser context serves every chapter (JupyterLab's scripts are fetched and compiled once); each
chapter opens in a new page with a fresh workspace.
For every chapter: open it, Run All (``runmenu:run-all``), wait for every cell, no error output.
For every lab: type a value 3/4 up the first slider's range into its readout (a dropdown when a
lab has no slider), press Enter and check that the figure changes; then type the old value back
and check it changes again. The time from the Enter key to the new figure in the page is
measured for every change and reported (median, p95).

Before Run All, each chapter must also look like the book: its MyST renders (jupyterlab-myst,
from requirements.txt): every admonition directive is an admonition box, no raw ``:::``
directive text shows, and the ``{dropdown}`` answers stay closed until clicked; and its hidden
assertion cells (tag ``remove-cell``) and the code the site collapses (``hide-input``, ``hide-cell``)
open collapsed (metadata ``jupyter.source_hidden``). After
Run All they are still collapsed and have run.
"""

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import MEASURED

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
TOKEN = "labsim-live-test"
RUN_ALL_TIMEOUT_MS = 240_000     # a whole chapter, cold kernel included
CHANGE_TIMEOUT_MS = 15_000       # one lab update seen in the page (a few hundred ms expected)
SHOTS = ROOT / "_build" / "screenshots"
LATENCIES: list[float] = []      # seconds, Enter key -> new figure in the DOM, every change

SETTINGS = {
    # Every cell in the DOM (no virtual scrolling), no news/update pop-ups.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    work = tmp_path_factory.mktemp("live")
    nbdir = work / "chapters"
    shutil.copytree(ROOT / "chapters", nbdir, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = work / "settings"
    for rel, value in SETTINGS.items():
        (settings / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings / rel).write_text(json.dumps(value))
    port = _free_port()
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(work / "ws"),
               JUPYTER_RUNTIME_DIR=str(work / "runtime"), MPLBACKEND="Agg")
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={nbdir}",
           "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(work / "jupyterlab.log", "w")
    proc = subprocess.Popen(cmd, cwd=nbdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("JupyterLab did not start:\n" + (work / "jupyterlab.log").read_text()[-3000:])
            time.sleep(0.3)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


#: MyST directives that render as an admonition box (the book's sphinx-book-theme and jupyterlab-myst alike).
ADMONITIONS = ("admonition", "note", "tip", "important", "hint", "seealso", "warning", "caution", "attention",
               "danger", "error")
DIRECTIVE = re.compile(r"^:{3,}\{([\w-]+)\}[ \t]*(.*)$", re.M)
#: Directive syntax that must not be visible in a rendered cell.
# A directive fence starts its line (":::" inside an ARN such as arn:aws:states:::lambda:invoke is text).
RAW_MYST = re.compile(r"(?m)^\s*:::|\{(?:dropdown|" + "|".join(ADMONITIONS) + r")\}")
MYST_RENDER_TIMEOUT_MS = 20_000


def _myst_directives(nb: dict) -> list[tuple[str, str]]:
    """(directive, title) of every colon-fence directive in the notebook's markdown cells."""
    return [(m.group(1), m.group(2).strip()) for c in nb["cells"] if c["cell_type"] == "markdown"
            for m in DIRECTIVE.finditer("".join(c["source"]))]


def _hidden_cells(nb: dict) -> list[int]:
    """Indexes of the cells a reader should find collapsed: the remove-cell assertion cells, and the
    code the site collapses (hide-input, hide-cell: Going deeper's code, the imports, the labs' code)."""
    return [i for i, c in enumerate(nb["cells"])
            if {"remove-cell", "hide-input", "hide-cell"} & set(c.get("metadata", {}).get("tags", []))]


def _check_hidden_collapsed(page, nb: dict, when: str):
    cells = page.locator(".jp-Notebook .jp-Cell")
    assert cells.count() == len(nb["cells"]), "every cell should be in the DOM (windowingMode none)"
    for i in _hidden_cells(nb):
        cell = cells.nth(i)
        source = "".join(nb["cells"][i]["source"])
        # Collapsed: JupyterLab shows a one-line placeholder in place of the editor.
        assert cell.locator(".jp-InputPlaceholder").is_visible() and not cell.locator(".cm-editor").is_visible(), \
            f"{when}: hidden cell {i} ({source.splitlines()[0][:60]!r}) shows its input; its metadata needs " \
            f"jupyter.source_hidden = true"


def _check_looks_like_the_book(page, nb: dict, stem: str):
    """MyST rendered, answers closed until clicked, hidden cells collapsed (right after opening)."""
    directives = _myst_directives(nb)
    admonitions = [title for name, title in directives if name in ADMONITIONS]
    dropdowns = [title for name, title in directives if name == "dropdown"]
    md = page.locator(".jp-Notebook .jp-MarkdownCell")
    try:
        page.wait_for_function(
            """([a, d]) => document.querySelectorAll('.jp-Notebook .jp-MarkdownCell aside').length >= a &&
                           document.querySelectorAll('.jp-Notebook .jp-MarkdownCell details').length >= d""",
            arg=[len(admonitions), len(dropdowns)], timeout=MYST_RENDER_TIMEOUT_MS)
    except Exception:
        pass                        # the assertions below say what is missing
    raw = [t for t in md.all_inner_texts() if RAW_MYST.search(t)]
    assert not raw, ("MyST shows as raw text in JupyterLab (is jupyterlab-myst installed and enabled? "
                     f"`jupyter labextension list`): {RAW_MYST.search(raw[0]).group(0)!r} in {raw[0][:300]!r}")
    boxes = md.locator("aside")
    box_texts = boxes.all_inner_texts()
    assert len(box_texts) == len(admonitions), f"{len(admonitions)} admonitions in the source, {len(box_texts)} rendered"
    straight = [t.replace("\u2019", "'") for t in box_texts]      # MyST curls apostrophes
    for title in admonitions:
        assert any(t.strip().startswith(title.replace("\u2019", "'")) for t in straight), \
            f"no admonition box titled {title!r}"
    page.screenshot(path=str(SHOTS / f"live__{stem}__opened.png"))

    details = md.locator("details")
    assert details.count() == len(dropdowns), f"{len(dropdowns)} dropdowns in the source, {details.count()} rendered"
    for k, title in enumerate(dropdowns):
        d = details.nth(k)
        summary, body = d.locator("summary"), d.locator(":scope > :not(summary)").first
        # MyST's typographer renders ' as a curly apostrophe, and `code` without its backticks:
        # compare the titles with straight quotes and no backticks
        assert title.replace("\u2019", "'").replace("`", "") in summary.inner_text().replace("\u2019", "'"), \
            f"dropdown {k} is not titled {title!r}"
        assert not d.evaluate("d => d.open") and not body.is_visible(), f"the {title!r} dropdown is open before a click"
        summary.scroll_into_view_if_needed()
        if k == 0:
            page.screenshot(path=str(SHOTS / f"live__{stem}__answers_closed.png"))
        summary.click()
        page.wait_for_function("b => b.checkVisibility() && b.getBoundingClientRect().height > 0",
                               arg=body.element_handle(), timeout=5_000)
        assert len(body.inner_text().strip()) > 20, f"the {title!r} dropdown opened on no text"
    _check_hidden_collapsed(page, nb, "opened")


def _has_labs(path: Path) -> bool:
    nb = json.loads(path.read_text())
    return any(re.search(r"\w_lab\(", "".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "code")


WATCH = """([out, old]) => {
    const s = {t0: null, t1: null};
    window.__labsimChange = s;
    const onKey = e => { if (e.key === 'Enter' && s.t0 === null) s.t0 = performance.now(); };
    document.addEventListener('keydown', onKey, {capture: true});
    const obs = new MutationObserver(() => {
        const img = out.querySelector('img.labsim-figure');
        if (img && img.getAttribute('src') !== old && s.t1 === null) {
            s.t1 = performance.now(); obs.disconnect();
            document.removeEventListener('keydown', onKey, {capture: true});
        }
    });
    obs.observe(out, {subtree: true, childList: true, attributes: true, characterData: true});
}"""


def _change(page, out, do_change) -> float:
    """Run do_change() (which ends with Enter or a selection) and wait for a new, loaded figure."""
    old = out.locator("img.labsim-figure").get_attribute("src")
    page.evaluate(WATCH, [out.element_handle(), old])
    t_py = time.perf_counter()
    do_change()
    page.wait_for_function(
        """([out, old]) => { const i = out.querySelector('img.labsim-figure');
                             return i && i.getAttribute('src') !== old && i.complete && i.naturalWidth > 0; }""",
        arg=[out.element_handle(), old], timeout=CHANGE_TIMEOUT_MS)
    s = page.evaluate("() => window.__labsimChange")
    if s["t0"] is not None and s["t1"] is not None:
        return (s["t1"] - s["t0"]) / 1000
    return time.perf_counter() - t_py


def _type_into_readout(page, readout, text):
    """Type into the slider's editable readout, as a reader does. The key presses go only to the
    readout (checked): in JupyterLab's command mode digits and Enter are notebook shortcuts."""
    readout.click()
    assert readout.evaluate("r => document.activeElement === r"), "the slider readout did not take focus"
    readout.press("Control+A")
    readout.type(text)
    readout.press("Enter")


def test_jupyterlab_myst_is_enabled_and_compatible():
    """The MyST renderer is installed and JupyterLab accepts it. An extension built against other
    versions of JupyterLab's shared packages (jupyterlab-myst 2.7.0 wants @jupyter/ydoc 3, JupyterLab
    4.6 ships 4) is listed as enabled but marked X, "not compatible": not a pair to ship."""
    proc = subprocess.run([sys.executable, "-m", "jupyterlab.labextensions", "list"],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ, NO_COLOR="1"))
    text = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    line = next((ln for ln in text.splitlines() if ln.strip().startswith("jupyterlab-myst ")), None)
    assert line, f"jupyterlab-myst is not installed (requirements.txt):\n{text}"
    assert re.search(r"\benabled\s+OK\b", line) and "not compatible" not in text, text


@pytest.fixture(scope="module")
def lab_context(browser):
    """One browser context for every chapter: JupyterLab's scripts are fetched and compiled once
    (HTTP and code cache), not once per chapter; each chapter still gets a new page and a fresh
    workspace (``?reset``), so only its notebook is open."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context
    context.close()


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_runs_in_jupyterlab_and_labs_respond(lab_server, lab_context, path):
    page = lab_context.new_page()
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        _run_chapter(page, lab_server, path)
    finally:
        page.screenshot(path=str(SHOTS / f"live__{path.stem}.png"))
        page.close()


def _run_chapter(page, lab_server, path):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # A fresh workspace per chapter, so only this notebook is open and current.
    page.goto(f"{lab_server}lab/workspaces/{path.stem}/tree/{path.name}?reset&token={TOKEN}")
    # Wait until this notebook is the current widget and its kernel is idle: Run All then runs
    # it, and the timings below are about the labs, not about the kernel start.
    page.wait_for_function("""name => { const app = window.jupyterapp; const w = app && app.shell.currentWidget;
        return w && w.context && w.context.path === name && w.content && w.content.widgets.length > 0 &&
               w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel &&
               w.sessionContext.session.kernel.status === 'idle'; }""", arg=path.name, timeout=90_000)
    nb = json.loads(path.read_text())
    t_look = time.perf_counter()
    _check_looks_like_the_book(page, nb, path.stem)
    t_look = time.perf_counter() - t_look
    t0 = time.perf_counter()
    page.evaluate("() => window.jupyterapp.commands.execute('runmenu:run-all')")
    n_code = page.locator(".jp-Notebook .jp-CodeCell").count()
    # Every code cell ran: its model has an execution count, and the prompt a reader sees beside
    # an expanded cell shows it (a collapsed cell shows no number).
    page.wait_for_function(
        """n => { const cells = window.jupyterapp.shell.currentWidget.content.widgets.filter(c => c.model.type === 'code');
                  return cells.length === n && cells.every(c => c.model.executionCount !== null && (c.inputHidden ||
                         /\\[\\d+\\]/.test(c.node.querySelector('.jp-InputPrompt').textContent))); }""",
        arg=n_code, timeout=RUN_ALL_TIMEOUT_MS)
    run_all = time.perf_counter() - t0
    _check_hidden_collapsed(page, nb, "after Run All")
    # JupyterLab shows errors (and warnings) as stderr outputs: any error or traceback fails.
    stderr = page.locator(".jp-Notebook .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    failures = [t for t in stderr.all_inner_texts() if re.search(r"Error|Traceback", t)]
    assert not failures, failures[0][:3000]
    page.wait_for_function("""() => [...document.querySelectorAll('.jp-Notebook img.labsim-figure')]
                                    .every(i => i.complete && i.naturalWidth > 0)""", timeout=CHANGE_TIMEOUT_MS)

    outputs = page.locator(".jp-Notebook .jp-OutputArea-output:has(img.labsim-figure)")
    n_labs = outputs.count()
    if _has_labs(path):
        assert n_labs >= 1, "the chapter calls a lab but no lab figure appeared"
    times = []
    for i in range(n_labs):
        out = outputs.nth(i)
        out.scroll_into_view_if_needed()
        alt = out.locator("img.labsim-figure").get_attribute("alt")
        assert alt and len(alt) > 20, "lab figure without alt text"
        # the first slider a reader can see and type into (a lab may hide controls)
        sliders = out.locator(".widget-slider:visible:has(.widget-readout:visible)")
        if sliders.count():
            slider = sliders.first
            handle = slider.locator(".noUi-handle").first
            lo, hi = float(handle.get_attribute("aria-valuemin")), float(handle.get_attribute("aria-valuemax"))
            readout = slider.locator(".widget-readout").first
            before = readout.inner_text().strip()
            target = lo + 0.75 * (hi - lo)
            text = f"{target:.0f}" if float(lo).is_integer() and float(hi).is_integer() and hi - lo >= 4 else f"{target:g}"
            label = slider.locator(".widget-label").first.inner_text().strip()
            try:
                times.append(_change(page, out, lambda: _type_into_readout(page, readout, text)))
            except Exception as exc:
                pytest.fail(f"lab {i} ({alt[:50]}...): the figure did not change after typing {text!r} into "
                            f"the readout of {label!r} (range {lo:g}..{hi:g}, was {before}). A reader's typed "
                            f"value is clamped to the range but NOT snapped to the step: the lab must accept "
                            f"it (its callback probably raised; see the kernel log). {type(exc).__name__}")
            after = readout.inner_text().strip()
            assert after != before, f"lab {i}: readout stayed at {before!r} after typing {text!r}"
            times.append(_change(page, out, lambda: _type_into_readout(page, readout, before)))
            assert readout.inner_text().strip() == before
        else:
            select = out.locator("select").first
            assert select.count(), f"lab {i} has neither a slider nor a dropdown"
            options = select.locator("option").all_inner_texts()
            current = select.evaluate("s => s.options[s.selectedIndex].text")
            nxt = options[(options.index(current) + 1) % len(options)]
            times.append(_change(page, out, lambda: select.select_option(label=nxt)))
            times.append(_change(page, out, lambda: select.select_option(label=current)))
        new_alt = out.locator("img.labsim-figure").get_attribute("alt")
        assert new_alt and len(new_alt) > 20
    LATENCIES.extend(times)
    page.evaluate("() => window.jupyterapp.serviceManager.sessions.shutdownAll()")
    assert not [e for e in errors if "labsim" in e.lower()], errors
    MEASURED.append(f"live {path.name}: MyST + hidden-cell checks {t_look:.1f} s, run all {run_all:.1f} s, {n_labs} labs, "
                    "change -> new figure "
                    + ", ".join(f"{1e3 * t:.0f}" for t in times) + " ms")


def test_report_live_latency():
    """Report line: median and p95 of every change -> new figure time measured above."""
    if not LATENCIES:
        pytest.skip("no live lab was changed in this run")
    xs = sorted(LATENCIES)
    p95 = xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]
    MEASURED.append(f"LIVE LAB LATENCY (JupyterLab, Enter -> new figure): n={len(xs)} "
                    f"median={1e3 * statistics.median(xs):.0f} ms p95={1e3 * p95:.0f} ms max={1e3 * xs[-1]:.0f} ms")
    assert statistics.median(xs) < 5.0, "a lab takes seconds to answer in JupyterLab"
