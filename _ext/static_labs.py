"""Sphinx extension: the website's labs move with no kernel (precomputed states).

Every lab's notebook output carries a ``text/html`` version (``Lab._repr_mimebundle_``), which
the HTML builder prefers to the widget view (``nb_mime_priority_overrides`` in ``_config.yml``).
It is a ``<div class="labsim-static" data-lab="NAME">``; this extension replaces each one with
the precomputed lab (``labsim.labs.static.lab_html``): its controls, the Try-this and Reset
buttons, the default figure and the manifest of its states, whose images it writes to
``_static/labsim/<lab>/<hash>.webp`` (``labsim.labs.static.render``). The page script
``static_labs/labsim-static.js`` (with its stylesheet) is added to the pages that have labs.

The precompute starts when the builder starts, in one worker process, so that it runs while the
notebooks execute (the kernel and the worker each take a core); a page waits for its labs when
it is written. ``LABSIM_STATIC_WORKERS=0`` draws in the build's own process instead (slower:
after the notebooks), ``=2`` uses two workers.

With the widget view gone, a page no longer needs the notebook's widget state: it is dropped
from the page (it held every lab's default PNG again, inline).
"""

from __future__ import annotations

import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
ASSETS = Path(__file__).with_name("static_labs")
IMAGES = "_static/labsim"
LAB_DIV = re.compile(r'<div class="labsim-static" data-lab="([A-Za-z0-9_]+)"')


def _render(name: str, outdir: str) -> tuple[dict, float]:
    """In a worker: draw every state of lab ``name`` into ``outdir`` (seconds taken)."""
    import matplotlib
    matplotlib.use("Agg")
    from labsim.labs import static
    t0 = time.perf_counter()
    return static.render(name, Path(outdir)), time.perf_counter() - t0


class Precompute:
    """The labs' manifests: drawn in worker processes from the start of the build."""

    def __init__(self, outdir: Path, workers: int):
        self.outdir = outdir
        self.workers = workers
        self.futures: dict = {}
        self.done: dict = {}
        self.seconds: dict = {}
        self.waited = 0.0              # seconds the build waited for the workers
        self.pool = None

    def start(self, names):
        if self.workers > 0:
            # spawn: a fresh interpreter imports labsim from the project (not the build's state)
            import multiprocessing
            ctx = multiprocessing.get_context("spawn")
            env_path = os.environ.get("PYTHONPATH", "")
            if str(ROOT) not in env_path.split(os.pathsep):
                os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env_path) if p)
            self.pool = ProcessPoolExecutor(self.workers, mp_context=ctx)
            for name in names:
                self.futures[name] = self.pool.submit(_render, name, str(self.outdir))

    def manifest(self, name: str) -> dict:
        if name not in self.done:
            fut = self.futures.pop(name, None)
            t0 = time.perf_counter()
            if fut is not None:
                self.done[name], self.seconds[name] = fut.result()
            else:
                self.done[name], self.seconds[name] = _render(name, str(self.outdir))
            self.waited += time.perf_counter() - t0
        return self.done[name]

    def close(self):
        if self.pool is not None:
            for fut in self.futures.values():
                fut.cancel()
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


def _lab_names() -> list:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from labsim.labs import LABS
    return list(LABS)


def start(app: Sphinx):
    if app.builder.format != "html":
        return
    workers = int(os.environ.get("LABSIM_STATIC_WORKERS", "1"))
    app.labsim_precompute = Precompute(Path(app.outdir) / IMAGES, workers)
    app.labsim_precompute.start(_lab_names())


def drop_widget_state(app: Sphinx, doctree):
    """No widget view on the page: no widget state and no widget scripts either."""
    meta = getattr(app.env, "nb_metadata", {}).get(app.env.docname, {})
    js = meta.get("js_files")
    if js and any(LAB_DIV.search(n.astext()) for n in doctree.findall(nodes.raw)):
        for key in [k for k in js if k.startswith("ipywidgets_")]:
            del js[key]


def _links(app: Sphinx, docname: str, root: str) -> dict:
    links = {"download": f"{root}_sources/{docname}.ipynb",
             "browser": f"{root}_static/run-in-browser.html?path={docname}.ipynb"}
    cfg = app.config.html_theme_options or {}
    binder = (cfg.get("launch_buttons") or {}).get("binderhub_url")
    repo = cfg.get("repository_url")
    if binder and repo:
        m = re.match(r"https?://github\.com/([^/]+/[^/]+)", repo)
        if m:
            branch = cfg.get("repository_branch") or "main"
            links["binder"] = (f"{binder.rstrip('/')}/v2/gh/{m.group(1)}/{branch}"
                               f"?urlpath=lab/tree/{docname}.ipynb")
    return links


def replace_labs(app: Sphinx, doctree, docname: str):
    pre = getattr(app, "labsim_precompute", None)
    if pre is None:
        return
    from labsim.labs import static
    root = "../" * docname.count("/")
    seen: dict = {}
    for node in list(doctree.findall(nodes.raw)):
        if "html" not in node.get("format", ""):
            continue
        m = LAB_DIV.search(node.astext())
        if not m:
            continue
        name = m.group(1)
        manifest = pre.manifest(name)
        seen[name] = seen.get(name, 0) + 1
        uid = f"labsim-{name}" + (f"-{seen[name]}" if seen[name] > 1 else "")
        html = static.lab_html(manifest, uid, f"{root}{IMAGES}/{name}", _links(app, docname, root))
        node.replace_self(nodes.raw("", html, format="html", classes=node.get("classes", [])))
    if seen:
        app.env.labsim_pages = getattr(app.env, "labsim_pages", set()) | {docname}


def add_assets(app: Sphinx, pagename, templatename, context, doctree):
    if doctree is not None and any(
            LAB_DIV.search(n.astext()) for n in doctree.findall(nodes.raw)):
        app.add_css_file("labsim-static.css")
        app.add_js_file("labsim-static.js", loading_method="defer")


def finish(app: Sphinx, exception):
    pre = getattr(app, "labsim_precompute", None)
    if pre is None:
        return
    pre.close()
    if exception is None and pre.seconds:
        n = sum(len(m["states"]) for m in pre.done.values())
        size = sum(f.stat().st_size for f in pre.outdir.rglob("*.webp"))
        logger.info(f"static labs: {len(pre.done)} labs, {n} states, {size / 1e6:.1f} MB of images, "
                    f"{sum(pre.seconds.values()):.0f} s of drawing, of which the build waited "
                    f"{pre.waited:.0f} s")


def add_static_path(app: Sphinx, config):
    config.html_static_path = list(config.html_static_path or []) + [str(ASSETS)]


def setup(app: Sphinx):
    app.connect("config-inited", add_static_path)
    app.connect("builder-inited", start)
    app.connect("doctree-read", drop_widget_state)
    app.connect("doctree-resolved", replace_labs)
    app.connect("html-page-context", add_assets)
    app.connect("build-finished", finish)
    return {"parallel_read_safe": True, "parallel_write_safe": False}
