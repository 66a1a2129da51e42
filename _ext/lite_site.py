"""Sphinx extension: the chapters run in the reader's browser (JupyterLite + the Pyodide kernel).

What it does, on top of ``jupyterlite_sphinx`` (which runs ``jupyter lite build`` at the end of
the book build and writes the lite site to ``_build/html/lite/``):

1. **A lite folder made per build** (``<build>/lite-src``, outside the source tree), used as
   ``jupyterlite_dir``:

   - ``static/pyodide/``: the Pyodide core from the npm package ``pyodide`` (``lite/package.json``,
     the version ``jupyterlite-pyodide-kernel`` was built for; ``dev.py build`` runs ``npm ci``),
     so the kernel starts from the site itself;
   - its ``pyodide-lock.json`` rewritten: every pure-Python package that the kernel, IPython and
     matplotlib need is served by the site (the same version's wheel from PyPI, with its hash in
     the lock, since Pyodide's own builds hash differently); the compiled ones (numpy,
     matplotlib, pillow, contourpy, kiwisolver: ``CDN_COMPILED``) and every package the labs do
     not use point at Pyodide's jsDelivr CDN, where a reader's browser fetches them;
   - ``pypi/``: labsim's wheel built from this repository plus the pure-Python wheels it needs that
     are not in Pyodide's lock (ipywidgets, jupyterlab_widgets, comm: the versions of the build
     environment), which JupyterLite's ``piplite`` installs from the site (PyPI fallback off);
   - the chapters as contents (``chapters/``, with ``chapters/quiz/``: the review's questions and
     its script), set explicitly on every build.

2. **A "Run in your browser" button** on every chapter, next to the download button (the pinned
   sphinx-book-theme has launch buttons for Binder, JupyterHub, Colab and Deepnote only). It opens
   ``_static/run-in-browser.html?path=chapters/<name>.ipynb``, which first checks that the
   compiled wheels can be reached on the CDN and either opens the notebook in JupyterLite or tells
   the reader why it cannot (without it the kernel would hang on "starting" with no error).

The chapters install labsim in the browser in one hidden cell that does nothing on CPython
(``sys.platform == "emscripten"``): ``setup_cell`` makes it from what the chapter imports (labsim;
the review imports none of them: its quiz is the book's own script), ``add_setup_cell`` puts it in a notebook (``python3 dev.py
lite-cell chapters/NN_name.ipynb``), and tests/test_notebooks.py requires it in every chapter. A
chapter that does not use labsim (the review) needs nothing from the CDN: its button opens it
directly.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # standard library only at import time: dev.py lite-cell uses this module too
    from sphinx.application import Sphinx

ROOT = Path(__file__).resolve().parents[1]
PYODIDE_NPM = ROOT / "lite" / "node_modules" / "pyodide"
#: The Pyodide build's own CDN (the same files the npm package's lock names).
CDN = "https://cdn.jsdelivr.net/pyodide/v{version}/full/"
#: The five compiled wheels the labs need: in no registry reachable here, fetched from the CDN.
CDN_COMPILED = ["numpy", "matplotlib", "pillow", "contourpy", "kiwisolver"]
#: Packages of Pyodide's lock the kernel and the labs load (with their dependencies).
LOCK_ROOTS = ["micropip", "ipython", "jedi", "matplotlib", "numpy"]
#: Pure-Python wheels outside Pyodide's lock that piplite installs from the site (build env's versions).
SITE_WHEELS = ["ipywidgets", "jupyterlab_widgets", "comm"]
#: What a chapter imports -> the package its hidden setup cell installs in the browser (labsim
#: brings numpy, matplotlib and ipywidgets; the review needs nothing: chapters/quiz/quiz.js grades it).
BROWSER_PACKAGES = {"labsim": "labsim"}
#: Packages whose install in the browser needs the compiled wheels of the CDN (CDN_COMPILED).
NEEDS_CDN = {"labsim"}
SETUP_ID = "lite-setup"


def setup_source(packages) -> str:
    """The hidden first code cell of a chapter: installs its packages in JupyterLite, nothing on CPython.

    piplite reports a wheel it could not fetch only in the browser's console, so a chapter that
    uses labsim imports it there at once: without the CDN the cell fails, not a later one."""
    check = ("\n    import labsim.labs  # fails here if numpy or matplotlib could not load from cdn.jsdelivr.net"
             ) if NEEDS_CDN & set(packages) else ""
    return (
        "import sys\n"
        "if sys.platform == \"emscripten\":  # only in the browser (JupyterLite): install from the site\n"
        "    import piplite\n"
        f"    await piplite.install({json.dumps(list(packages))})" + check
    )


#: The setup cell of a chapter that uses labsim (every chapter with a lab).
SETUP_CELL = setup_source(["labsim"])


def _code(nb: dict) -> list:
    return [c for c in nb["cells"] if c["cell_type"] == "code" and c.get("id") != SETUP_ID]


def browser_packages(nb: dict) -> list:
    """The packages a chapter's setup cell installs: those of BROWSER_PACKAGES its code imports."""
    text = "\n".join("".join(c["source"]) for c in _code(nb))
    imported = set(re.findall(r"^\s*(?:from|import)\s+([A-Za-z_]\w*)", text, re.M))
    return [pkg for mod, pkg in BROWSER_PACKAGES.items() if mod in imported]


def setup_cell(nb: dict) -> dict:
    """The whole setup cell for a notebook (hidden on the site and collapsed in JupyterLab)."""
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": SETUP_ID,
        "metadata": {"jupyter": {"source_hidden": True}, "tags": ["remove-cell", SETUP_ID]},
        "outputs": [],
        "source": setup_source(browser_packages(nb)).splitlines(keepends=True),
    }


def add_setup_cell(path: Path) -> bool:
    """Put the setup cell before the first code cell of a chapter notebook (replacing an existing
    one); returns whether the file changed. ``python3 dev.py lite-cell chapters/NN_name.ipynb``."""
    text = Path(path).read_text(encoding="utf-8")
    nb = json.loads(text)
    cells = [c for c in nb["cells"] if c.get("id") != SETUP_ID]
    first = next(i for i, c in enumerate(cells) if c["cell_type"] == "code")
    cells.insert(first, setup_cell(nb))
    nb["cells"] = cells
    new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if new != text:
        Path(path).write_text(new, encoding="utf-8")
    return new != text


def needs_cdn(nb: dict) -> bool:
    return bool(NEEDS_CDN & set(browser_packages(nb)))


KERNEL_PLUGIN = "@jupyterlite/pyodide-kernel-extension:kernel"
LAUNCHER = "_static/run-in-browser.html"


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pip(*args, cwd=None):
    subprocess.run([sys.executable, "-m", "pip", *args, "-q", "--disable-pip-version-check"],
                   check=True, cwd=cwd, stdout=subprocess.DEVNULL)


def lock_closure(packages: dict, roots) -> set:
    by_norm = {norm(k): k for k in packages}
    seen: set = set()
    todo = [norm(r) for r in roots]
    while todo:
        n = todo.pop()
        if n in seen or n not in by_norm:
            continue
        seen.add(n)
        todo += [norm(d) for d in packages[by_norm[n]]["depends"]]
    return {by_norm[n] for n in seen}


def rewrite_lock(lock: dict, version: str, wheel_dir: Path, cache: Path) -> dict:
    """Self-host the pure-Python packages of LOCK_ROOTS' closure (PyPI's wheel of the same
    version, hash rewritten); every other package points at the CDN by absolute URL."""
    packages = lock["packages"]
    needed = lock_closure(packages, LOCK_ROOTS)
    compiled = {n for n in needed if not packages[n]["file_name"].endswith("-none-any.whl")}
    if {norm(n) for n in compiled} != set(CDN_COMPILED):
        raise RuntimeError(f"lite site: compiled packages needed {sorted(compiled)}, expected {CDN_COMPILED}")
    pure = sorted(needed - compiled)
    missing = [n for n in pure if not any(cache.glob(packages[n]["file_name"]))]
    if missing:
        _pip("download", "--no-deps", "--only-binary=:all:", "--python-version", "3.14", "--implementation", "py",
             "-d", str(cache), *[f"{packages[n]['name']}=={packages[n]['version']}" for n in missing])
    base = CDN.format(version=version)
    for name, pkg in packages.items():
        if name in pure:
            whl = cache / pkg["file_name"]
            if not whl.is_file():      # PyPI names the wheel differently (case, separators)
                whl = next(p for p in cache.glob("*.whl")
                           if norm(p.name.split("-")[0]) == norm(name) and p.name.split("-")[1] == pkg["version"])
            shutil.copy2(whl, wheel_dir / whl.name)
            pkg["file_name"] = whl.name
            pkg["sha256"] = hashlib.sha256(whl.read_bytes()).hexdigest()
        else:
            pkg["file_name"] = base + pkg["file_name"]
    return lock


def prepare_lite_dir(app: Sphinx, config) -> None:
    out = Path(app.outdir).parent                     # <build>/_build
    lite_dir = out / "lite-src"
    cache = ROOT / "_build" / "lite-cache"            # downloaded wheels, kept between builds
    cache.mkdir(parents=True, exist_ok=True)
    if lite_dir.exists():
        shutil.rmtree(lite_dir)
    pyodide_dir = lite_dir / "static" / "pyodide"
    if not (PYODIDE_NPM / "pyodide.mjs").is_file():
        raise RuntimeError(f"{PYODIDE_NPM} is missing: run `npm ci` in lite/ (python3 dev.py build does)")
    version = json.loads((PYODIDE_NPM / "package.json").read_text())["version"]
    pyodide_dir.mkdir(parents=True)
    for f in ["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide.js"]:
        shutil.copy2(PYODIDE_NPM / f, pyodide_dir / f)
    lock = json.loads((PYODIDE_NPM / "pyodide-lock.json").read_text())
    (pyodide_dir / "pyodide-lock.json").write_text(json.dumps(rewrite_lock(lock, version, pyodide_dir, cache)))

    pypi = lite_dir / "pypi"
    pypi.mkdir()
    site_cache = cache / "site"
    site_cache.mkdir(exist_ok=True)
    specs = [f"{n}=={importlib.metadata.version(n)}" for n in SITE_WHEELS]

    def cached(spec):
        name, ver = spec.split("==")
        return [p for p in site_cache.glob("*.whl") if norm(p.name.split("-")[0]) == norm(name)
                and p.name.split("-")[1] == ver]

    missing = [s for s in specs if not cached(s)]
    if missing:                                       # PyPI only for a version not downloaded yet
        _pip("download", "--no-deps", "--only-binary=:all:", "-d", str(site_cache), *missing)
    for spec in specs:
        (whl,) = cached(spec)
        shutil.copy2(whl, pypi / whl.name)
    _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(pypi), str(ROOT), cwd=out)
    for junk in ROOT.glob("build"):                    # setuptools' build/ from the in-tree wheel build
        if junk.is_dir() and (junk / "lib").exists():
            shutil.rmtree(junk, ignore_errors=True)

    (lite_dir / "jupyter-lite.json").write_text(json.dumps({
        "jupyter-lite-schema-version": 0,
        "jupyter-config-data": {"litePluginSettings": {KERNEL_PLUGIN: {"disablePyPIFallback": True}}},
    }, indent=2))
    # No source maps (most of the lite app's size) and no shared packages no extension uses.
    (lite_dir / "jupyter_lite_config.json").write_text(json.dumps(
        {"LiteBuildConfig": {"no_sourcemaps": True, "no_unused_shared_packages": True}}, indent=2))
    config.jupyterlite_dir = str(lite_dir)
    config.jupyterlite_contents = [str(ROOT / "chapters")]


#: What jupyterlite_sphinx adds to every page for its own directives, which the book does not use:
#: a Google Fonts stylesheet (a request to a third party on every page) and its CSS/JS.
UNUSED_ASSETS = ("fonts.googleapis.com", "jupyterlite_sphinx.css", "jupyterlite_sphinx.js")


def drop_unused_assets(app: Sphinx, pagename, templatename, context, doctree):
    for key in ("css_files", "script_files"):
        if context.get(key):
            context[key] = [a for a in context[key]
                            if not any(u in str(getattr(a, "filename", a) or "") for u in UNUSED_ASSETS)]


def launch_button(app: Sphinx, pagename, templatename, context, doctree):
    """Add "Run in your browser" beside the download button of every chapter page."""
    if not pagename.startswith("chapters/") or context.get("page_source_suffix") != ".ipynb":
        return
    buttons = context.get("header_buttons")
    if buttons is None:
        return
    root = "../" * pagename.count("/")
    buttons.append({
        "type": "link",
        "url": f"{root}{LAUNCHER}?path={pagename}.ipynb",
        "tooltip": "Run this chapter in your browser (JupyterLite: no server, no install)",
        "icon": "fas fa-play",
        "label": "run-in-browser-button",
    })


def copy_launcher(app: Sphinx, exception):
    if exception is None and app.builder.format == "html":
        dest = Path(app.outdir) / LAUNCHER
        dest.parent.mkdir(parents=True, exist_ok=True)
        text = (Path(__file__).with_name("run-in-browser.html")).read_text()
        local = [f"chapters/{p.name}" for p in sorted((ROOT / "chapters").glob("*.ipynb"))
                 if not needs_cdn(json.loads(p.read_text(encoding="utf-8")))]
        dest.write_text(text.replace("@COMPILED@", json.dumps(CDN_COMPILED)).replace("@LOCAL@", json.dumps(local)))


def setup(app: Sphinx):
    app.connect("config-inited", prepare_lite_dir, priority=400)
    app.connect("html-page-context", launch_button, priority=600)
    app.connect("html-page-context", drop_unused_assets, priority=950)
    app.connect("build-finished", copy_launcher)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
