"""Sphinx extension: three fixes to the scripts of the built pages (each a console error a
reader would see; tests/test_browser.py fails on console errors).

1. Sphinx 7.4 writes every inline script that an extension adds after the builder starts twice
   (sphinx-thebe's ``const THEBE_JS_URL`` then throws "already been declared"): keep one copy.
2. ipywidgets' embed manager typesets widget labels with the MathJax 2 API
   (``MathJax.Hub.Queue``) while the theme loads MathJax 3: give MathJax 3 a small ``Hub.Queue``
   that calls ``MathJax.typesetPromise``.
3. html-manager's ``embed-amd.js`` bundles several AMD modules, each of which looks for its icon
   fonts next to its own module URL, which require.js derives from the module name (relative to
   the page): map every bundled name into the pinned version's ``dist/`` folder on the CDN
   (``nb_ipywidgets_js``), where the fonts are. The modules themselves are never fetched.
4. pydata-sphinx-theme logs "Got invalid theme mode" on a reader's first page when no default
   mode is set: set it to "auto", the mode it falls back to anyway.
"""

import json
import re

from sphinx.application import Sphinx

#: The AMD modules that html-manager's embed-amd.js defines itself.
BUNDLED = ["base", "base7", "controls", "controls7", "html-manager", "html-manager/dist/libembed-amd"]

MATHJAX2_HUB = """(function () {
  var hub = {Queue: function (job) {
    var mj = window.MathJax, el = job && job[2];
    if (mj && mj.typesetPromise) { mj.typesetPromise(el ? [el] : undefined).catch(function () {}); }
  }};
  var current;
  Object.defineProperty(window, "MathJax", {configurable: true,
    get: function () { return current; },
    set: function (v) { current = v; if (v && typeof v === "object" && !v.Hub) { v.Hub = hub; } }});
})();"""


def _key(js):
    return (str(getattr(js, "filename", js) or ""), json.dumps(getattr(js, "attributes", {}), sort_keys=True))


def fix_scripts(app: Sphinx, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    from sphinx.builders.html._assets import _JavaScript
    seen, out = set(), []
    for js in scripts:
        if _key(js) not in seen:
            seen.add(_key(js))
            out.append(js)
    names = [str(getattr(js, "filename", js) or "") for js in out]
    manager = next((n for n in names if "@jupyter-widgets/html-manager@" in n), None)
    requirejs = next((i for i, n in enumerate(names) if re.search(r"require(\.min)?\.js$", n)), None)
    if manager and requirejs is not None:
        dist = manager.split("/dist/")[0] + "/dist"
        paths = json.dumps({f"@jupyter-widgets/{name}": f"{dist}/{name.split('/')[-1]}" for name in BUNDLED})
        out.insert(requirejs + 1, _JavaScript("", body=f"require.config({{paths: {paths}}});"))
        out.insert(0, _JavaScript("", body=MATHJAX2_HUB))
    context["script_files"] = out


def default_mode(app: Sphinx, config):
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "auto")    # read by pydata-sphinx-theme's layout.html
    config.html_context = context


def setup(app: Sphinx):
    app.connect("config-inited", default_mode)
    app.connect("html-page-context", fix_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
