"""The website's labs without a kernel: each lab's precomputed states and their HTML.

A lab on the static site shows its own controls (same names, same ranges). Its *state set* is:

- the defaults;
- every control at each of its stops, the others at their defaults;
- every state a "Try this" step names (one-click buttons "Try this 1, 2, ...").

Each state is drawn by :meth:`labsim.labs.base.Lab.draw`, the path the live lab takes on every
change (same model call, same figure recycling, same ``plots.to_png``), and saved as a lossless
WebP (same pixels as the PNG, about 3x smaller), one file per distinct image, named by its
content. A JSON manifest per lab maps each state's key to its image, summary and alt text.
``_ext/static_labs.py`` runs this at build time and puts :func:`lab_html` on the page;
``_ext/static_labs/labsim-static.js`` moves it.

A state's *key* is the stop index of every control, in the lab's control order, joined by
``-`` (``"2-0-1"``): the page script computes the same key from its controls.

The Try-this registry (``labsim.labs.trythis``, CONTRIBUTING.md section 3) gives the steps and
the slider stops.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import trythis

#: At most this many stops per slider (CONTRIBUTING.md, section 3).
MAX_STOPS = trythis.MAX_STOPS

#: The image format of the precomputed states (lossless: decoded, the same pixels as the PNG).
IMAGE_SUFFIX = ".webp"


# --- controls and their stops ------------------------------------------------------------------
def kind_of(w) -> str:
    """``"slider"``, ``"select"`` or ``"checkbox"``: the three kinds of control the labs use."""
    if hasattr(w, "options"):
        return "select"
    if hasattr(w, "min") and hasattr(w, "max"):
        return "slider"
    if isinstance(w.value, bool):
        return "checkbox"
    raise ValueError(f"control {type(w).__name__} is not a slider, a dropdown or a checkbox")


def options_of(w) -> list:
    """A dropdown's ``(label, value)`` pairs, in its order."""
    return [o if isinstance(o, tuple) else (str(o), o) for o in w.options]


def stops(w, extra=()) -> list:
    """A control's stops (``w`` at its default; ``extra``: the values "Try this" steps set on it).

    A slider: its minimum, default and maximum, the values in ``extra``, then evenly spaced
    values, at most :data:`MAX_STOPS` in all, ascending: the registry's rule,
    ``trythis.slider_stops``. A dropdown: all its values, in its order. A checkbox: ``False, True``.
    """
    kind = kind_of(w)
    if kind == "select":
        return [v for _, v in options_of(w)]
    if kind == "checkbox":
        return [False, True]
    return list(trythis.slider_stops(w, w.value, list(extra), where=w.description))


# --- the Try-this steps ------------------------------------------------------------------------
@dataclass
class Step:
    """What the site needs of a "Try this" step: the registry's entry, reduced."""
    key: str
    title: str
    values: dict
    ask: str
    answer: str


def _answer_text(step) -> str:
    """The step's answer, its template filled with the rounded numbers its check holds."""
    if hasattr(step, "text"):
        return step.text()
    expect = getattr(step, "expect", None) or {}
    return step.answer.format(**{k: getattr(e, "value", e) for k, e in expect.items()})


def steps_of(name: str) -> list[Step]:
    """The "Try this" steps of lab ``name``, from the registry (``trythis.REGISTRY``), in order.

    No steps while the registry does not exist."""
    entries = trythis.REGISTRY.get(name, ())
    return [Step(key=s.key, title=s.title, values=dict(s.values), ask=s.ask, answer=_answer_text(s))
            for s in entries]


# --- the state set -----------------------------------------------------------------------------
@dataclass
class Control:
    name: str
    kind: str                 # slider, select, checkbox
    label: str                # the widget's description
    stops: list               # the values, in order
    labels: list              # what each stop reads as
    default: int              # the default's stop index
    min: float | None = None  # a slider's range and step (the widget's)
    max: float | None = None
    step: float | None = None

    def index(self, value) -> int:
        for i, s in enumerate(self.stops):
            if s == value or (self.kind == "slider" and math.isclose(s, value, rel_tol=1e-9, abs_tol=1e-12)):
                return i
        raise ValueError(f"{self.name} = {value!r} is not one of its stops {self.stops}")

    def spec(self) -> dict:
        d = {"name": self.name, "kind": self.kind, "label": self.label,
             "stops": [_jsonable(s) for s in self.stops], "labels": self.labels, "default": self.default}
        if self.kind == "slider":
            d |= {"min": self.min, "max": self.max, "step": self.step}
        return d


def _jsonable(v):
    return v if isinstance(v, (bool, int, float, str)) or v is None else repr(v)


def _readout(w, v) -> str:
    fmt = getattr(w, "readout_format", "d") or "d"
    try:
        return format(v, fmt) if fmt != "d" else f"{int(v)}"
    except (TypeError, ValueError):
        return str(v)


def controls_of(lab, steps=()) -> list[Control]:
    """The lab's controls with their stops; a slider's stops include the steps' values."""
    out = []
    for name, w in lab.controls.items():
        kind = kind_of(w)
        extra = [s.values[name] for s in steps if name in s.values]
        st = stops(w, extra)
        if kind == "select":
            labels = {repr(v): lab_ for lab_, v in options_of(w)}
            names = [labels[repr(v)] for v in st]
        elif kind == "checkbox":
            names = ["off", "on"]
        else:
            names = [_readout(w, v) for v in st]
        c = Control(name, kind, w.description, st, names, 0)
        if kind == "slider":
            c.min, c.max, c.step = w.min, w.max, w.step
        c.default = c.index(w.value)
        out.append(c)
    return out


def key_of(controls: list[Control], values: dict) -> str:
    """A state's key: every control's stop index, in control order, joined by ``-``."""
    return "-".join(str(c.index(values[c.name])) for c in controls)


@dataclass
class StateSet:
    name: str
    controls: list
    defaults: dict
    states: dict = field(default_factory=dict)       # key -> values
    steps: list = field(default_factory=list)        # (Step, key)


def state_set(lab, name: str | None = None, steps=None) -> StateSet:
    """The lab's state set: defaults, each control at each stop (others at defaults), each step.

    ``lab`` is a freshly built lab (at its defaults). Identical states appear once."""
    name = name or lab.factory
    steps = steps_of(name) if steps is None else steps
    controls = controls_of(lab, steps)
    d = lab.values()
    out = StateSet(name, controls, d)
    out.states[key_of(controls, d)] = d
    for c in controls:
        for v in c.stops:
            values = d | {c.name: v}
            out.states.setdefault(key_of(controls, values), values)
    for s in steps:
        unknown = set(s.values) - set(d)
        if unknown:
            raise ValueError(f"{name}: Try this step {s.key!r} sets unknown controls {sorted(unknown)}")
        values = d | s.values
        k = key_of(controls, values)
        out.states.setdefault(k, values)
        out.steps.append((s, k))
    return out


# --- rendering ---------------------------------------------------------------------------------
def webp_bytes(png: bytes) -> bytes:
    """The PNG's pixels as a lossless WebP (decoded, the same RGBA pixels)."""
    from PIL import Image
    im = Image.open(io.BytesIO(png))
    buf = io.BytesIO()
    im.save(buf, format="WEBP", lossless=True, quality=QUALITY, method=METHOD, exact=True)
    return buf.getvalue()


#: libwebp's lossless effort (``method`` 0 to 6, ``quality`` 0 to 100: more is smaller and
#: slower). Measured on the concurrency lab's figures (PNG 34 kB): method 1, quality 10 gives
#: 13 kB in about 30 ms; method 4 11 kB in 270 ms; method 6 11 kB in 5.8 s.
METHOD = 1
QUALITY = 10


def render(name: str, outdir: Path | None = None, steps=None) -> dict:
    """Draw every state of lab ``name`` and return its manifest; with ``outdir``, write the images
    (``<outdir>/<name>/<hash>.webp``) and ``<outdir>/<name>/manifest.json``.

    One lab object draws every state in turn through :meth:`Lab.draw`, as a reader moving its
    controls would. Images are named by the hash of their pixels: states that draw the same
    figure share a file."""
    from .base import LABS
    lab = LABS[name]()
    ss = state_set(lab, name, steps)
    images: dict = {}                              # png hash -> file name
    states = {}
    for key, values in ss.states.items():
        _, png, text, alt = lab.draw(values)
        h = hashlib.sha256(png).hexdigest()[:16]
        if h not in images:
            images[h] = h + IMAGE_SUFFIX
            if outdir is not None:
                d = Path(outdir) / name
                d.mkdir(parents=True, exist_ok=True)
                (d / images[h]).write_bytes(webp_bytes(png))
        states[key] = {"img": images[h], "summary": text, "alt": alt}
    manifest = {
        "lab": name,
        "controls": [c.spec() for c in ss.controls],
        "default": key_of(ss.controls, ss.defaults),
        "states": states,
        "steps": [{"key": s.key, "title": s.title, "ask": s.ask, "answer": s.answer, "state": k,
                   "values": {n: _jsonable(v) for n, v in s.values.items()}} for s, k in ss.steps],
    }
    if outdir is not None:
        (Path(outdir) / name / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


# --- HTML --------------------------------------------------------------------------------------
def _e(s) -> str:
    return html.escape(str(s), quote=True)


def _ident(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", s)


def controls_html(controls: list[Control], uid: str) -> str:
    rows = []
    for c in controls:
        cid = f"{uid}-{_ident(c.name)}"
        if c.kind == "slider":
            ticks = "".join(f'<option value="{_e(v)}"></option>' for v in c.stops)
            rows.append(
                f'<div class="labsim-control" data-name="{_e(c.name)}" data-kind="slider">'
                f'<label for="{cid}">{_e(c.label)}</label>'
                f'<input type="range" id="{cid}" name="{_e(c.name)}" min="{_e(c.min)}" max="{_e(c.max)}" '
                f'step="{_e(c.step)}" value="{_e(c.stops[c.default])}" list="{cid}-stops" '
                f'aria-valuetext="{_e(c.labels[c.default])}">'
                f'<output for="{cid}" aria-hidden="true">{_e(c.labels[c.default])}</output>'
                f'<datalist id="{cid}-stops">{ticks}</datalist></div>')
        elif c.kind == "select":
            opts = "".join(f'<option value="{i}"{" selected" if i == c.default else ""}>{_e(lbl)}</option>'
                           for i, lbl in enumerate(c.labels))
            rows.append(
                f'<div class="labsim-control" data-name="{_e(c.name)}" data-kind="select">'
                f'<label for="{cid}">{_e(c.label)}</label>'
                f'<select id="{cid}" name="{_e(c.name)}">{opts}</select></div>')
        else:
            checked = " checked" if c.stops[c.default] else ""
            rows.append(
                f'<div class="labsim-control" data-name="{_e(c.name)}" data-kind="checkbox">'
                f'<input type="checkbox" id="{cid}" name="{_e(c.name)}"{checked}>'
                f'<label for="{cid}">{_e(c.label)}</label></div>')
    return "".join(rows)


LIVE_NOTE = ("The website has one control moved at a time from the defaults, and the Try this steps. "
             "For any other combination, run the lab live: ")


def live_links(links: dict) -> str:
    """The three live ways, as links where the page has them (download, Binder, in the browser)."""
    parts = []
    for what, text in (("download", "download the notebook"), ("binder", "open it on Binder"),
                       ("browser", "run it in your browser")):
        url = links.get(what)
        parts.append(f'<a href="{_e(url)}">{text}</a>' if url else
                     (f"{text} (once the book is published)" if what == "binder" else text))
    return ", ".join(parts[:-1]) + " or " + parts[-1]


def lab_html(manifest: dict, uid: str, image_base: str | None, links: dict | None = None,
             default_src: str | None = None) -> str:
    """The static lab: its controls, the Try-this and Reset buttons, the figure and the summary.

    ``image_base`` is the URL folder of the lab's images (relative to the page); the manifest goes
    inline (a page opened from ``file://`` cannot fetch it). ``default_src`` replaces the default
    image's URL (the kernel's version carries it inline)."""
    links = links or {}
    controls = [Control(c["name"], c["kind"], c["label"], c["stops"], c["labels"], c["default"],
                        c.get("min"), c.get("max"), c.get("step")) for c in manifest["controls"]]
    name = manifest["lab"]
    state = manifest["states"][manifest["default"]]
    src = default_src or f"{image_base}/{state['img']}"
    buttons = "".join(
        f'<button type="button" class="labsim-try" data-step="{i}" data-state="{_e(s["state"])}" '
        f'title="{_e(s["title"])}">Try this {i + 1}</button>' for i, s in enumerate(manifest["steps"]))
    inline = json.dumps(manifest, separators=(",", ":")).replace("</", "<\\/")
    data = "" if image_base is None else f'<script type="application/json" class="labsim-manifest">{inline}</script>'
    base = "" if image_base is None else f' data-images="{_e(image_base)}"'
    return (
        f'<div class="labsim-static" data-lab="{_e(name)}" data-state="{_e(manifest["default"])}"{base} '
        f'id="{uid}">{data}'
        f'<div class="labsim-controls" role="group" aria-label="Controls of the lab">'
        f'{controls_html(controls, uid)}</div>'
        f'<div class="labsim-buttons">{buttons}'
        f'<button type="button" class="labsim-reset">Reset</button></div>'
        f'<div class="labsim-step" hidden><p class="labsim-ask"></p>'
        f'<details><summary>Show the answer</summary><p class="labsim-answer"></p></details></div>'
        f'<img class="labsim-figure" src="{_e(src)}" alt="{_e(state["alt"])}" '
        f'style="max-width:100%;height:auto">'
        f'<p class="labsim-offset" role="note" hidden>{LIVE_NOTE}{live_links(links)}.</p>'
        f'<p class="labsim-summary" aria-live="polite">{state["summary"]}</p>'
        f'<p class="labsim-about">Precomputed figures, one control moved at a time and the Try this '
        f'steps. Running live in your browser uses Pyodide\'s matplotlib, which may draw a few '
        f'pixels differently.</p>'
        f'</div>')


def kernel_html(lab) -> str:
    """The lab's ``text/html`` for its notebook output: its current state, no other states.

    The book's build replaces it with the precomputed version (``_ext/static_labs.py``); this
    one shows the controls and the figure (inline) wherever only HTML is rendered."""
    import base64
    name = lab.factory
    steps = steps_of(name)
    controls = controls_of(lab, steps)
    try:
        key = key_of(controls, lab.values())
    except ValueError:            # a value between stops: show it, with no state key
        key = ""
    summary = re.sub(r'^<p role="status">|</p>$', "", lab.summary.value)
    manifest = {"lab": name, "controls": [c.spec() for c in controls], "default": key,
                "states": {key: {"img": "", "summary": summary, "alt": lab.alt_text(summary)}},
                "steps": [{"key": s.key, "title": s.title, "ask": s.ask, "answer": s.answer, "state": ""}
                          for s in steps]}
    src = "data:image/png;base64," + base64.b64encode(lab.png).decode("ascii")
    return lab_html(manifest, f"labsim-{_ident(name)}", None, default_src=src)
