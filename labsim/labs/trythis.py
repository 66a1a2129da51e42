"""The "Try this" registry: each lab's guided steps, in one place (CONTRIBUTING.md, section 3).

A lab module registers its steps next to its lab factory::

    from .trythis import Expect, Step, steps

    steps("neighbour_lab",
          Step(key="reserve-150", title="Reserve too little",
               values={"reserved": 150},             # only the controls that differ from the defaults
               ask="Lower the reservation to 150, below the 200 executions your function needs. "
                   "Now who is throttled?",
               answer="Your function: about {yours:.0%} of its requests.",
               measure=lambda r: {"yours": r.throttled_fraction(FUNCTION)},
               expect={"yours": Expect(0.26, rel=0.15)}))   # the words' number and tolerance

Three readers use the same entries: the chapter shows them (:func:`show`), the chapter's hidden
cell checks them (:func:`check`), and the static site turns each into a one-click state.
:data:`REGISTRY` maps each lab factory's name (a key of ``labs.LABS``) to its steps in order;
:func:`state` gives a step's full control values, :func:`defaults` the lab's, :func:`stops` the
values of one control the site precomputes.

Registering costs nothing: no lab is built until a function here needs its controls
(:func:`controls`, which builds the lab once and keeps it). Whether a step's values name real
controls and lie on their stops is therefore checked lazily, by :func:`validate` (which
:func:`state` and :func:`check` call); :func:`stops` refuses a value off a slider's grid.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, Callable

import ipywidgets as widgets
import numpy as np

from .base import LABS

__all__ = ["Expect", "Step", "REGISTRY", "MAX_STOPS", "steps", "controls", "defaults", "state", "stops",
           "slider_stops", "validate", "measure", "check", "html_text", "show"]

#: At most this many stops per slider (issue 23: the static site precomputes every stop).
MAX_STOPS = 9

#: lab factory name -> its steps, in the order the chapter shows them ("Try this 1, 2, 3...").
REGISTRY: dict[str, tuple["Step", ...]] = {}

_KEY = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Expect:
    """The number the words state, and the tolerance the words allow.

    A measured ``x`` passes when ``|x - value| <= max(rel * |value|, abs)``: "about" is
    ``rel=0.15``; a bare count is exact (the default, ``rel=0, abs=0``). A string must be equal;
    a boolean must be a boolean (Python's or NumPy's) and equal.
    """
    value: Any
    rel: float = 0.0
    abs: float = 0.0

    def __post_init__(self):
        for name in ("rel", "abs"):
            t = getattr(self, name)
            if isinstance(t, bool) or not isinstance(t, Real) or not math.isfinite(t) or t < 0:
                raise ValueError(f"Expect {name}={t!r} is out of range: allowed a finite number, 0 or more")

    @property
    def numeric(self) -> bool:
        return isinstance(self.value, Real) and not isinstance(self.value, bool)

    def holds(self, measured) -> bool:
        if isinstance(self.value, bool):
            return isinstance(measured, (bool, np.bool_)) and bool(measured) == self.value
        if not self.numeric:
            return measured == self.value
        if isinstance(measured, bool) or not isinstance(measured, Real):
            try:
                measured = float(measured)               # numpy scalars
            except (TypeError, ValueError):
                return False
        if not math.isfinite(measured):
            return False
        return abs(measured - self.value) <= max(self.rel * abs(self.value), self.abs)

    def describe(self) -> str:
        if not self.numeric or (self.rel == 0 and self.abs == 0):
            return f"{self.value!r} exactly"
        parts = ([f"rel {self.rel:g}"] if self.rel else []) + ([f"abs {self.abs:g}"] if self.abs else [])
        return f"{self.value!r} ({', '.join(parts)})"


@dataclass(frozen=True)
class Step:
    """One guided step: a state of the lab, a prediction question and its checked answer.

    ``values``: only the controls that differ from the defaults, each on its control's stops.
    ``ask``: the prediction question, shown first. ``answer``: a ``str.format`` template over
    ``expect``'s values (the rounded numbers the words state), revealed on demand.
    ``measure``: the model's result -> ``{quantity: number}``; ``expect``: quantity -> :class:`Expect`.
    """
    key: str
    title: str
    values: dict
    ask: str
    answer: str
    measure: Callable[[Any], dict] = field(compare=False)
    expect: dict

    def __post_init__(self):
        if not isinstance(self.key, str) or not _KEY.match(self.key):
            raise ValueError(f"Step key={self.key!r} is not a slug: allowed lower-case words and digits "
                             f"joined by '-'")
        for name in ("title", "ask", "answer"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"Step {self.key!r}: {name} must be a non-empty string")
        if not isinstance(self.values, dict) or not all(isinstance(k, str) for k in self.values):
            raise ValueError(f"Step {self.key!r}: values must be a dict of control name -> value")
        if not callable(self.measure):
            raise ValueError(f"Step {self.key!r}: measure must be a function of the model's result")
        if (not isinstance(self.expect, dict) or not self.expect
                or not all(isinstance(e, Expect) for e in self.expect.values())):
            raise ValueError(f"Step {self.key!r}: expect must be a non-empty dict of quantity -> Expect")
        try:
            self.text()
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise ValueError(f"Step {self.key!r}: answer template does not format over expect's values "
                             f"({type(e).__name__}: {e})") from None

    def text(self) -> str:
        """The answer with the numbers filled in."""
        return self.answer.format(**{k: e.value for k, e in self.expect.items()})


def steps(lab_name: str, *entries: Step) -> tuple[Step, ...]:
    """Register ``lab_name``'s steps (all of them, in the order shown), replacing any before.

    One call per lab: a second call for the same lab replaces the first, so that re-importing a
    lab module is harmless.
    """
    if lab_name not in LABS:
        raise ValueError(f"steps: lab_name={lab_name!r} is not a lab: allowed {', '.join(LABS)}")
    if not entries:
        raise ValueError(f"steps: {lab_name!r} needs at least one Step")
    seen = set()
    for s in entries:
        if not isinstance(s, Step):
            raise ValueError(f"steps: {lab_name!r}: {s!r} is not a Step")
        if s.key in seen:
            raise ValueError(f"steps: {lab_name!r}: key {s.key!r} is used twice (keys are unique per lab)")
        seen.add(s.key)
    REGISTRY[lab_name] = tuple(entries)
    return REGISTRY[lab_name]


def _steps(lab_name: str) -> tuple[Step, ...]:
    if lab_name not in REGISTRY:
        raise ValueError(f"lab_name={lab_name!r} has no Try-this steps: allowed {', '.join(REGISTRY)}")
    return REGISTRY[lab_name]


def _step(lab_name: str, key: str) -> Step:
    for s in _steps(lab_name):
        if s.key == key:
            return s
    raise ValueError(f"{lab_name!r} has no step key={key!r}: allowed {', '.join(s.key for s in _steps(lab_name))}")


# --- the controls ---------------------------------------------------------------------------------
_LABS: dict = {}


def _lab(lab_name: str):
    """The lab, built once (building runs its model at the defaults)."""
    if lab_name not in _LABS:
        if lab_name not in LABS:
            raise ValueError(f"lab_name={lab_name!r} is not a lab: allowed {', '.join(LABS)}")
        lab = LABS[lab_name]()
        for name, w in lab.controls.items():
            w._trythis = (lab_name, name)           # so that stops(w) knows whose control it is
        _LABS[lab_name] = (lab, {k: w.value for k, w in lab.controls.items()})
    return _LABS[lab_name]


def controls(lab_name: str) -> dict:
    """The lab's controls (ipywidgets, from one shared build of the lab; do not move them)."""
    return dict(_lab(lab_name)[0].controls)


def defaults(lab_name: str) -> dict:
    """Every control's default value."""
    return dict(_lab(lab_name)[1])


def state(lab_name: str, key: str) -> dict:
    """Every control's value in step ``key``: the defaults, with the step's values on top."""
    s = _step(lab_name, key)
    validate(lab_name)
    return {**defaults(lab_name), **s.values}


def _is_slider(w) -> bool:
    return isinstance(w, (widgets.IntSlider, widgets.FloatSlider))


def _options(w) -> list:
    if isinstance(w, widgets.Checkbox):
        return [False, True]
    if isinstance(w, widgets.Dropdown):
        return [o[1] if isinstance(o, tuple) else o for o in w.options]
    raise TypeError(f"a {type(w).__name__} has no stops: allowed IntSlider, FloatSlider, Dropdown, Checkbox")


def _decimals(x) -> int:
    """Decimal places of a grid step (0.05 -> 2); the grid's values are rounded to them."""
    s = f"{x:.12f}".rstrip("0")
    return len(s.split(".")[1]) if "." in s else 0


def _grid(w, k: int):
    """The k-th value of a slider's step grid, exact for an IntSlider, rounded for a FloatSlider."""
    if isinstance(w, widgets.IntSlider):
        return int(w.min + k * w.step)
    return round(w.min + k * w.step, max(_decimals(w.step), _decimals(w.min)))


def _grid_index(w, v):
    """The grid index of ``v`` on slider ``w``, or None if ``v`` is off the grid or out of range."""
    if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v):
        return None
    k = round((v - w.min) / w.step)
    g = _grid(w, k)
    if k < 0 or abs(g - v) > 1e-9 * max(1.0, abs(v)) or g > w.max + 1e-9 * max(1.0, abs(w.max)):
        return None
    return k


def _on_control(w, v) -> bool:
    if _is_slider(w):
        return _grid_index(w, v) is not None
    return any(v == o and isinstance(v, bool) == isinstance(o, bool) for o in _options(w))


def _round_multiples(step, last):
    """Round spacings (1, 2, 2.5, 5 times a power of ten) that are whole numbers of grid steps,
    smallest first, up to the slider's whole span."""
    out = []
    for e in range(-6, 10):
        for m in (1, 2, 2.5, 5):
            sp = m * 10.0 ** e
            n = sp / step
            if abs(n - round(n)) < 1e-9 * n and 1 <= round(n) <= last:
                out.append(sp)
    return sorted(set(out))


def _is_multiple(v, spacing) -> bool:
    q = v / spacing
    return abs(q - round(q)) < 1e-9 * max(1.0, abs(q))


def _used(lab_name: str, name: str) -> list:
    return [s.values[name] for s in REGISTRY.get(lab_name, ()) if name in s.values]


def stops(control, lab_name: str | None = None, name: str | None = None) -> list:
    """The values the static site precomputes for one control, deterministic.

    A slider: see :func:`slider_stops`, with the lab's default and the values its registered
    steps set on the control. A dropdown: all its values, in its order. A checkbox:
    ``[False, True]``.

    A slider's stops need to know whose control it is: pass ``lab_name`` and ``name`` (its key in
    ``lab.controls``), or pass a control from :func:`controls`, which knows.
    """
    if not _is_slider(control):
        return _options(control)
    if lab_name is None or name is None:
        tag = getattr(control, "_trythis", None)
        if tag is None:
            raise ValueError("stops: a slider's stops include the Try-this values set on it, so say whose "
                             "control it is: stops(control, lab_name, name), or take it from "
                             "trythis.controls(lab_name)")
        lab_name, name = tag
    return slider_stops(control, defaults(lab_name)[name], _used(lab_name, name), where=f"{lab_name}.{name}")


def slider_stops(slider, default, used=(), where: str = "slider") -> list:
    """A slider's stops: its minimum, ``default`` and maximum, every value in ``used``, then evenly
    spaced values on its step grid, at most :data:`MAX_STOPS` in all, sorted.

    Evenly spaced: the multiples of the smallest round spacing (1, 2, 2.5 or 5 times a power of
    ten, a whole number of grid steps) that still fit with the values above; if none fits, eighths
    of the range rounded to the grid, each the farthest from those already chosen. Raises
    ``ValueError`` if a value is off the grid, or if the required values alone exceed the limit.
    """
    w = slider
    idx = set()
    for v in [w.min, default, w.max, *used]:
        k = _grid_index(w, v)
        if k is None:
            raise ValueError(f"stops: {where}={v!r} is not on the slider's grid: allowed "
                             f"{w.min:g} to {w.max:g} in steps of {w.step:g}")
        idx.add(k)
    if len(idx) > MAX_STOPS:
        raise ValueError(f"stops: {where} needs {len(idx)} stops (minimum, default, maximum and the Try-this "
                         f"values {sorted(set(used))}): allowed at most {MAX_STOPS}; let steps share values")
    last = _grid_index(w, w.max)
    for spacing in _round_multiples(w.step, last):
        even = {k for k in range(last + 1) if _is_multiple(_grid(w, k), spacing)}
        if len(idx | even) <= MAX_STOPS:
            idx |= even
            break
    else:
        even = sorted({round(i * last / (MAX_STOPS - 1)) for i in range(MAX_STOPS)})
        while len(idx) < MAX_STOPS and (free := [k for k in even if k not in idx]):
            idx.add(max(free, key=lambda k: (min(abs(k - j) for j in idx), -k)))
    return [_grid(w, k) for k in sorted(idx)]


def validate(lab_name: str) -> None:
    """Every step's values name the lab's controls and lie on their stops (builds the lab)."""
    lab, _ = _lab(lab_name)
    for s in _steps(lab_name):
        for name, v in s.values.items():
            if name not in lab.controls:
                raise ValueError(f"{lab_name} step {s.key!r}: {name!r} is not a control: allowed "
                                 f"{', '.join(lab.controls)}")
            w = lab.controls[name]
            if not _on_control(w, v):
                allowed = (f"{w.min:g} to {w.max:g} in steps of {w.step:g}" if _is_slider(w)
                           else ", ".join(map(repr, _options(w))))
                raise ValueError(f"{lab_name} step {s.key!r}: {name}={v!r} is not on the control: allowed {allowed}")
    for name, w in lab.controls.items():
        if _is_slider(w):
            stops(w, lab_name, name)                 # raises if more than MAX_STOPS are needed


def measure(lab_name: str, key: str) -> dict:
    """Step ``key``'s quantities, measured by the lab's own model in the step's state."""
    s = _step(lab_name, key)
    got = s.measure(_lab(lab_name)[0].model(**state(lab_name, key)))
    if not isinstance(got, dict):
        raise TypeError(f"{lab_name} step {s.key!r}: measure returned {type(got).__name__}, not a dict")
    return got


def check(lab_name: str) -> dict:
    """Run every step of one lab through its model; every measured quantity must meet its expect.

    Raises ``AssertionError`` naming the lab, the step, the quantity, the measured and the
    expected value, for every quantity that misses (all of them, not only the first). Returns
    what was measured: step key -> ``{quantity: value}``.
    """
    validate(lab_name)
    misses, measured = [], {}
    for s in _steps(lab_name):
        got = measured[s.key] = measure(lab_name, s.key)
        for q, e in s.expect.items():
            if q not in got:
                misses.append(f"{lab_name} step {s.key!r}: quantity {q!r} was not measured "
                              f"(measure gave {', '.join(got) or 'nothing'})")
            elif not e.holds(got[q]):
                misses.append(f"{lab_name} step {s.key!r}: quantity {q!r} measured {got[q]!r}, "
                              f"expected {e.describe()}")
    if misses:
        raise AssertionError("Try this check failed: " + "; ".join(misses))
    return measured


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def html_text(lab_name: str) -> str:
    """The HTML that :func:`show` displays: each step's title and question, then a closed answer."""
    parts = []
    for i, s in enumerate(_steps(lab_name), 1):
        parts.append(
            f'<div class="labsim-trythis" data-lab="{html.escape(lab_name)}" data-step="{html.escape(s.key)}">'
            f"<p><strong>Try this {i}: {_esc(s.title)}.</strong> {_esc(s.ask)}</p>"
            f"<details><summary>Answer to Try this {i}</summary><p>{_esc(s.text())}</p></details>"
            f"</div>")
    return "\n".join(parts)


def show(lab_name: str):
    """Display one lab's steps in a chapter: for each, its question, then its answer, closed."""
    from IPython.display import HTML
    return HTML(html_text(lab_name))
