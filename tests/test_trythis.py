"""The "Try this" registry (CONTRIBUTING.md, section 3): its steps, the stops, check and show.

Every lab in ``labs.LABS`` has steps; every step's values name real controls and lie on their
stops; ``check`` passes for every lab and fails, naming the lab, the step and the quantity, when an
expected number is moved beyond its tolerance; ``show`` asks first and keeps the answer closed.
The labs are built once (``trythis.controls`` caches them) and each check runs only the models.
"""

import dataclasses
import functools
import html
import math
import re
import subprocess
import sys

import ipywidgets as widgets
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from labsim import labs  # noqa: E402
from labsim.labs import trythis  # noqa: E402
from labsim.labs.trythis import Expect, Step  # noqa: E402

LAB_NAMES = list(labs.LABS)
#: The largest relative tolerance the words allow ("about" is 15%).
ABOUT = 0.15


def sliders(lab_name):
    return {k: w for k, w in trythis.controls(lab_name).items() if isinstance(w, (widgets.IntSlider,
                                                                                   widgets.FloatSlider))}


def same(a, b) -> bool:
    """Equal, and not a boolean standing in for a number (True == 1)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


# --- the registry -----------------------------------------------------------------------------------
def test_every_lab_has_steps():
    assert set(trythis.REGISTRY) == set(LAB_NAMES), set(LAB_NAMES) ^ set(trythis.REGISTRY)
    for name in LAB_NAMES:
        entries = trythis.REGISTRY[name]
        assert len(entries) >= 1, name
        assert len({s.key for s in entries}) == len(entries), name          # keys unique per lab


def test_registry_is_importable_without_building_a_lab():
    code = ("import gc, labsim.labs.trythis as t, labsim.labs.base as b\n"
            "assert len(t.REGISTRY) == len(b.LABS) and not t._LABS\n"
            "assert not [o for o in gc.get_objects() if isinstance(o, b.Lab)]\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("lab_name", LAB_NAMES)
def test_step_values_name_controls_and_lie_on_stops(lab_name):
    ctl = trythis.controls(lab_name)
    trythis.validate(lab_name)
    for s in trythis.REGISTRY[lab_name]:
        assert s.values or s.key == "defaults", f"{lab_name} {s.key}: a step without values is the defaults"
        for name, v in s.values.items():
            assert name in ctl, (lab_name, s.key, name)
            assert any(same(v, x) for x in trythis.stops(ctl[name])), (lab_name, s.key, name, v)
            assert not same(v, trythis.defaults(lab_name)[name]), f"{lab_name} {s.key}: {name} is its default"
        st = trythis.state(lab_name, s.key)
        assert set(st) == set(ctl) and st == {**trythis.defaults(lab_name), **s.values}


@pytest.mark.parametrize("lab_name", LAB_NAMES)
def test_tolerances_match_the_words(lab_name):
    """No tolerance looser than "about" (15%); an absolute one narrower than the number itself."""
    for s in trythis.REGISTRY[lab_name]:
        for q, e in s.expect.items():
            assert e.rel <= ABOUT, (lab_name, s.key, q, e)
            if e.numeric and e.abs:
                assert e.value == 0 or e.abs < abs(e.value), (lab_name, s.key, q, e)


# --- stops --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lab_name", LAB_NAMES)
def test_stops_rules(lab_name):
    defaults = trythis.defaults(lab_name)
    for name, w in trythis.controls(lab_name).items():
        got = trythis.stops(w)
        assert got == trythis.stops(w, lab_name, name)                  # the tag and the names agree
        if isinstance(w, widgets.Checkbox):
            assert got == [False, True]
            continue
        if isinstance(w, widgets.Dropdown):
            assert got == [o[1] if isinstance(o, tuple) else o for o in w.options]
            continue
        used = [s.values[name] for s in trythis.REGISTRY[lab_name] if name in s.values]
        assert got[0] == w.min and got[-1] == w.max, (name, got)
        assert defaults[name] in got and all(v in got for v in used), (name, got, used)
        assert len(got) <= trythis.MAX_STOPS
        assert got == sorted(got) and len(set(got)) == len(got)
        for v in got:                                                    # on the slider's grid
            k = (v - w.min) / w.step
            assert abs(k - round(k)) < 1e-9 and w.min <= v <= w.max, (name, v)
        assert got == trythis.stops(w), "deterministic"


def test_stops_of_a_plain_slider():
    """Minimum, default, maximum and the step values, then a round spacing that fits."""
    s = widgets.IntSlider(value=37, min=0, max=100, step=1)
    assert trythis.slider_stops(s, 37) == [0, 20, 37, 40, 60, 80, 100]
    assert trythis.slider_stops(s, 37, [55]) == [0, 20, 37, 40, 55, 60, 80, 100]
    f = widgets.FloatSlider(value=0.2, min=0.05, max=2.0, step=0.05)
    assert trythis.slider_stops(f, 0.2) == [0.05, 0.2, 0.5, 1.0, 1.5, 2.0]
    small = widgets.IntSlider(value=1, min=0, max=2, step=1)
    assert trythis.slider_stops(small, 1) == [0, 1, 2]


def test_stops_refuse_too_many_step_values_and_off_grid_values():
    s = widgets.IntSlider(value=10, min=1, max=1_000, step=1)
    with pytest.raises(ValueError, match=r"lab\.x needs 10 stops .*at most 9"):
        trythis.slider_stops(s, 10, [2, 3, 4, 5, 6, 7, 8], where="lab.x")
    with pytest.raises(ValueError, match=r"lab\.x=2\.5 is not on the slider's grid"):
        trythis.slider_stops(s, 10, [2.5], where="lab.x")
    with pytest.raises(ValueError, match="say whose control it is"):
        trythis.stops(s)


def test_too_many_registered_values_name_the_lab_and_control(monkeypatch):
    base = trythis.REGISTRY["batch_lab"][0]
    many = tuple(dataclasses.replace(base, key=f"c-{c}", values={"concurrency": c}) for c in range(2, 9))
    monkeypatch.setitem(trythis.REGISTRY, "batch_lab", many)
    with pytest.raises(ValueError, match=r"batch_lab\.concurrency needs 10 stops"):
        trythis.validate("batch_lab")


def test_values_off_the_control_are_refused(monkeypatch):
    base = trythis.REGISTRY["batch_lab"][0]
    for values, words in (({"chunk_size": 150}, "chunk_size=150 is not on the control"),
                          ({"chunk": 1_000}, "'chunk' is not a control")):
        monkeypatch.setitem(trythis.REGISTRY, "batch_lab", (dataclasses.replace(base, values=values),))
        with pytest.raises(ValueError, match=re.escape(words)):
            trythis.validate("batch_lab")
    monkeypatch.setitem(trythis.REGISTRY, "concurrency_lab",
                        (dataclasses.replace(trythis.REGISTRY["concurrency_lab"][0],
                                             values={"duration_kind": "uniform"}),))
    with pytest.raises(ValueError, match="duration_kind='uniform' is not on the control"):
        trythis.validate("concurrency_lab")


# --- check ----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def measured(lab_name) -> dict:
    """``trythis.check(lab_name)``, run once: step key -> measured quantities."""
    return trythis.check(lab_name)


@pytest.mark.parametrize("lab_name", LAB_NAMES)
def test_check_passes(lab_name):
    got = measured(lab_name)
    assert set(got) == {s.key for s in trythis.REGISTRY[lab_name]}
    for s in trythis.REGISTRY[lab_name]:
        assert all(s.expect[q].holds(got[s.key][q]) for q in s.expect)


def beyond(e: Expect) -> Expect:
    """A copy of ``e`` whose value is moved beyond its tolerance of anything ``e`` accepts.

    If ``|m - v| <= t(v)`` (m passes) and ``v' = v + d`` with ``d (1 - rel) > 2 (rel |v| + abs)``,
    then ``|m - v'| > t(v')``: ``m`` fails against the moved value.
    """
    if not e.numeric:
        return dataclasses.replace(e, value=(not e.value) if isinstance(e.value, bool) else f"not {e.value}")
    d = (2 * (e.rel * abs(e.value) + e.abs) + 0.5 * max(abs(e.value), 1)) / (1 - e.rel)
    return dataclasses.replace(e, value=e.value + d)


@pytest.mark.parametrize("lab_name", LAB_NAMES)
def test_check_fails_beyond_the_tolerance(lab_name, monkeypatch):
    """Every expected number moved past its tolerance misses what the model measured; and check
    itself, given a mutated copy of the lab's first step, fails naming the lab, step and quantity
    (the model runs once here: the other steps' measurements come from the passing check)."""
    got = measured(lab_name)
    for s in trythis.REGISTRY[lab_name]:
        for q, e in s.expect.items():
            assert not beyond(e).holds(got[s.key][q]), (lab_name, s.key, q, e, got[s.key][q])
    first = trythis.REGISTRY[lab_name][0]
    q = list(first.expect)[-1]
    mutated = dataclasses.replace(first, expect={**first.expect, q: beyond(first.expect[q])})
    monkeypatch.setitem(trythis.REGISTRY, lab_name, (mutated,))
    with pytest.raises(AssertionError) as err:
        trythis.check(lab_name)
    msg = str(err.value)
    assert f"{lab_name} step {first.key!r}: quantity {q!r} measured " in msg, msg
    assert f"expected {mutated.expect[q].value!r}" in msg and msg.count("quantity") == 1, msg


def test_expect_tolerance():
    assert Expect(100, rel=0.15).holds(85) and Expect(100, rel=0.15).holds(115.0)
    assert not Expect(100, rel=0.15).holds(84.9) and not Expect(100, rel=0.15).holds(float("nan"))
    assert Expect(3).holds(3) and not Expect(3).holds(4) and Expect(0).holds(0.0)
    assert Expect(0.023, abs=0.0005).holds(0.0234) and not Expect(0.023, abs=0.0005).holds(0.0236)
    assert Expect(True).holds(True) and Expect(True).holds(np.bool_(True))
    assert not Expect(True).holds(False) and not Expect(True).holds(1.0)
    assert not Expect(5).holds(True)                                  # a boolean is not a number here
    with pytest.raises(ValueError, match="rel=-0.1"):
        Expect(1, rel=-0.1)


def test_step_is_validated_when_written():
    kw = dict(key="a-step", title="A step", values={}, ask="What?", answer="About {x:.0%}.",
              measure=lambda r: {"x": 0.5}, expect={"x": Expect(0.5, rel=0.15)})
    assert Step(**kw).text() == "About 50%."
    for bad, words in ((dict(key="Not a slug"), "not a slug"), (dict(answer="About {y}."), "does not format"),
                       (dict(expect={}), "non-empty dict"), (dict(expect={"x": 0.5}), "non-empty dict"),
                       (dict(ask=""), "ask must be")):
        with pytest.raises(ValueError, match=words):
            Step(**(kw | bad))
    with pytest.raises(ValueError, match="used twice"):
        trythis.steps("batch_lab", Step(**kw), Step(**kw))
    with pytest.raises(ValueError, match="'no_such_lab' is not a lab"):
        trythis.steps("no_such_lab", Step(**kw))


# --- show -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lab_name", LAB_NAMES)
def test_show_asks_first_and_keeps_the_answer_closed(lab_name):
    page = trythis.show(lab_name).data
    assert page == trythis.html_text(lab_name)
    entries = trythis.REGISTRY[lab_name]
    assert page.count("<details>") == page.count("</details>") == len(entries)
    assert "<details open" not in page
    for i, s in enumerate(entries, 1):
        ask, answer = html.escape(s.ask, quote=False), html.escape(s.text(), quote=False)
        assert page.index(ask) < page.index(f"<summary>Answer to Try this {i}</summary>") < page.index(answer)
        assert f"Try this {i}: {html.escape(s.title, quote=False)}" in page
        assert not re.search(r"\{[a-z_]+[:}]", s.text()), s.text()     # every template field filled in
    assert not any(math.isnan(e.value) for s in entries for e in s.expect.values() if e.numeric)
