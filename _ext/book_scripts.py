"""Sphinx extension: the built pages' scripts and markup. Everything a page loads comes from the site
itself, the browser console stays free of errors, and axe-core finds no serious or critical
accessibility violation (tests/test_browser.py checks all three on every page).

Served from the site (README.md, "A self-contained site"):

1. **MathJax 3**, the major version Sphinx 7.4 loads by default (its ``mathjax_path`` default is
   ``mathjax@3/es5/tex-mml-chtml.js`` on jsDelivr), from the npm package pinned in
   ``site/package.json`` (``npm ci`` in ``site/``; ``python3 dev.py build`` runs it). On every
   build the same component, ``es5/tex-mml-chtml.js``, is copied into ``_static/mathjax/`` (where
   ``mathjax_path`` in ``_config.yml`` points) with the folders of components it loads on demand
   (``MATHJAX_PARTS``: its fonts, the TeX extensions that ``autoload`` fetches for a macro, and
   what its right-click menu offers: the SVG renderer and the accessibility tools), and its
   licence: ``_static/mathjax/LICENSE`` and ``_static/licenses/THIRD-PARTY-NOTICES.txt``.
   Sphinx adds MathJax only to the pages with equations (and to the front page, whose table of
   contents takes in those pages). There is
   no widget manager any more (``nb_ipywidgets_js`` is empty): a widget view left in a page is an
   inert ``<script type="application/vnd.jupyter.widget-view+json">``.

Console errors (each one a reader would see):

2. Sphinx 7.4 writes every inline script that an extension adds after the builder starts twice
   (sphinx-thebe's ``const THEBE_JS_URL`` then throws "already been declared"): keep one copy.
3. pydata-sphinx-theme logs "Got invalid theme mode" on a reader's first page when no default
   mode is set: set it to "auto", the mode it falls back to anyway.

Accessibility (axe-core's serious violations, all from the theme or myst-nb):

4. ``summary-name``: pydata-sphinx-theme's sidebar puts a ``<summary>`` holding only a chevron
   icon beside each chapter that has sections, so a screen reader announces an unnamed toggle:
   give each one a visually hidden name, "Sections of <chapter title>" (``label_toctree_toggles``).
5. ``label-content-name-mismatch``, myst-nb: a cell tagged ``hide-input`` (``hide-output``,
   ``hide-cell``) opens with a ``<summary aria-label="Toggle hidden content">`` that shows "Show
   code cell source": the aria-label is dropped, so the toggle is named by the text it shows
   (the hidden one of its two lines is not part of the name) (``name_hidden_cell_toggles``).
6. ``label-content-name-mismatch``: the theme's search button (visible text "Search Ctrl+K",
   accessible name "Search") and colour-mode button (icons with titles inside, name "Color
   mode"): fixed by template overrides in ``_templates/`` (``search-button-field.html``,
   ``theme-switcher.html``; see their comments), not here.
"""

import functools
import json
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parents[1]
#: npm packages installed by ``npm ci`` in site/ (package.json + lock pin them).
SITE_NPM = ROOT / "site" / "node_modules"
MATHJAX_NPM = SITE_NPM / "mathjax"
#: The MathJax component the pages load (Sphinx's default component, served locally).
MATHJAX_COMPONENT = "tex-mml-chtml.js"
#: What tex-mml-chtml.js loads on demand, relative to es5/: the CHTML fonts (every page with
#: math), TeX extensions (autoload, for a macro such as \cancel or \color), MathML extensions, and
#: what the MathJax menu offers a reader (the SVG renderer with its fonts; the accessibility
#: explorer, its speech rules and their locales).
MATHJAX_PARTS = ["output", "input/tex/extensions", "input/mml", "a11y", "sre", "ui"]
#: Where the copies go in the built site.
MATHJAX_OUT = "_static/mathjax"
NOTICES_OUT = "_static/licenses/THIRD-PARTY-NOTICES.txt"
#: Where each npm package's files are in the built site (for the notices).
SERVED_AT = {"mathjax": f"{MATHJAX_OUT}/ (its es5/{MATHJAX_COMPONENT} and the components it loads)"}


def _key(js):
    return (str(getattr(js, "filename", js) or ""), json.dumps(getattr(js, "attributes", {}), sort_keys=True))


def fix_scripts(app: Sphinx, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, out = set(), []
    for js in scripts:
        if _key(js) not in seen:
            seen.add(_key(js))
            out.append(js)
    context["script_files"] = out


def default_mode(app: Sphinx, config):
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "auto")    # read by pydata-sphinx-theme's layout.html
    config.html_context = context


def _copy_if_changed(src: Path, dest: Path) -> None:
    if dest.is_file() and dest.stat().st_size == src.stat().st_size and dest.read_bytes() == src.read_bytes():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


def copy_site_assets(app: Sphinx):
    """Copy MathJax (the pinned npm package) into the output's _static/ before any page is written
    (Sphinx then appends the file's checksum to the page's script URL)."""
    if app.builder.format != "html":
        return
    meta = MATHJAX_NPM / "package.json"
    if not meta.is_file():
        raise ExtensionError(f"{MATHJAX_NPM} is missing: run `npm ci` in site/ (python3 dev.py build does)")
    version = json.loads(meta.read_text())["version"]
    if not version.startswith("3."):
        raise ExtensionError(f"site/package.json: mathjax {version}, expected 3.x (the major version Sphinx 7.4 uses)")
    es5, out = MATHJAX_NPM / "es5", Path(app.outdir) / MATHJAX_OUT
    files = [es5 / MATHJAX_COMPONENT] + [f for part in MATHJAX_PARTS for f in sorted((es5 / part).rglob("*")) if f.is_file()]
    for f in files:
        _copy_if_changed(f, out / f.relative_to(es5))
    _copy_if_changed(MATHJAX_NPM / "LICENSE", out / "LICENSE")
    notices = Path(app.outdir) / NOTICES_OUT
    notices.parent.mkdir(parents=True, exist_ok=True)
    notices.write_text(third_party_notices(), encoding="utf-8")


def third_party_notices() -> str:
    """The licence notice of every npm package the site serves files of (site/package-lock.json)."""
    lock = json.loads((ROOT / "site" / "package-lock.json").read_text())
    parts = ["Third-party files this site serves, installed from the npm registry at build time",
             "(site/package.json and its lock pin them). The theme's bundled libraries (Bootstrap,",
             "Font Awesome) carry their licences in _static/scripts/*.LICENSE.txt and in their files.", ""]
    for key, meta in sorted(lock["packages"].items()):
        if not key:
            continue
        name = key.split("node_modules/")[-1]
        folder = SITE_NPM / name
        pkg = json.loads((folder / "package.json").read_text())
        licence = next((folder / n for n in ("LICENSE", "LICENSE.txt", "LICENSE.md") if (folder / n).is_file()), None)
        parts += ["=" * 78,
                  f"{name} {meta['version']}, licence {meta.get('license') or pkg.get('license', '?')}: "
                  f"{pkg.get('homepage') or pkg.get('repository', {}).get('url', '')}",
                  f"In this site: {SERVED_AT.get(name, '?')}",
                  "=" * 78, licence.read_text(encoding="utf-8") if licence else "(no licence file in the package)", ""]
    return "\n".join(parts)


def label_toctree_toggles(app: Sphinx, pagename, templatename, context, doctree):
    """Name the sidebar's section toggles (see 4. above): wraps pydata-sphinx-theme's
    ``generate_toctree_html`` (set by the theme on this event at the default priority)."""
    generate = context.get("generate_toctree_html")
    if generate is None or getattr(generate, "labelled", False):
        return

    @functools.wraps(generate)
    def labelled(kind, *args, **kwargs):
        soup = generate(kind, *args, **kwargs)
        if kind != "sidebar" or not hasattr(soup, "select"):
            return soup
        for summary in soup.select("li > details > summary"):
            if summary.get_text(strip=True):            # a caption or a name already (the theme caches the soup)
                continue
            link = summary.find_parent("li").find("a", recursive=False)
            name = soup.new_tag("span", attrs={"class": "visually-hidden"})
            name.string = f"Sections of {link.get_text(' ', strip=True)}" if link else "Sections"
            summary.append(name)
        return soup

    labelled.labelled = True
    context["generate_toctree_html"] = labelled


#: myst-nb 1.4's summary of a hidden cell (sphinx_.visit_HideCellInput).
HIDDEN_CELL_SUMMARY = '<summary aria-label="Toggle hidden content">'


def name_hidden_cell_toggles(app: Sphinx, pagename, templatename, context, doctree):
    """Name a hidden cell's toggle by the text it shows (see 5. above)."""
    body = context.get("body")
    if body and HIDDEN_CELL_SUMMARY in body:
        context["body"] = body.replace(HIDDEN_CELL_SUMMARY, "<summary>")


def setup(app: Sphinx):
    app.connect("config-inited", default_mode)
    app.connect("builder-inited", copy_site_assets)
    app.connect("html-page-context", fix_scripts, priority=900)
    app.connect("html-page-context", label_toctree_toggles, priority=900)
    app.connect("html-page-context", name_hidden_cell_toggles, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
