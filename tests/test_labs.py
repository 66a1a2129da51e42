"""Widget tests without a browser: change each control, the PNG and the summary must change.

Every registered lab (``labsim.labs.LABS``) and every one of its controls is covered: the new
value is picked from the control itself (see ``other_value``) unless ``OVERRIDES`` names one.
"""

import html
import re

import matplotlib
import pytest

matplotlib.use("Agg")

from labsim import labs  # noqa: E402

#: Values to use instead of the automatic pick, where the pick would not show the change well.
OVERRIDES = {
    ("scaling_lab", "region"): "other",
    ("scaling_lab", "scaling"): "per_function",
}


def options_of(w) -> list:
    """The values a control can take: its options, or its slider extremes."""
    if hasattr(w, "options"):
        return [o[1] if isinstance(o, tuple) else o for o in w.options]
    if hasattr(w, "min"):
        return [w.min, w.max]
    if isinstance(w.value, bool):
        return [False, True]
    raise AssertionError(f"unknown control {type(w).__name__}")


def other_value(lab_name, name, w):
    """A value different from the default: an override, the next option, or 3/4 up the slider."""
    if (lab_name, name) in OVERRIDES:
        return OVERRIDES[(lab_name, name)]
    if hasattr(w, "options") or isinstance(w.value, bool):
        opts = options_of(w)
        return opts[(opts.index(w.value) + 1) % len(opts)]
    steps = round(0.75 * (w.max - w.min) / w.step)
    v = w.min + steps * w.step
    v = round(v, 10) if isinstance(w.step, float) else v
    return v if v != w.value else w.min


#: Every registered lab, built once (collection needs their controls; the tests drive them).
BUILT = {name: factory() for name, factory in labs.LABS.items()}


@pytest.fixture(scope="module")
def built():
    return BUILT




CASES = [(lab_name, c) for lab_name, lab in BUILT.items() for c in lab.controls]


def test_registry_is_not_empty_and_in_package_namespace():
    assert len(labs.LABS) >= 4
    for name, factory in labs.LABS.items():
        assert getattr(labs, name) is factory, f"labsim.labs.{name} is not exported"


@pytest.mark.parametrize("lab_name,control", CASES, ids=[f"{a}-{b}" for a, b in CASES])
def test_control_changes_figure_and_summary(built, lab_name, control):
    lab = built[lab_name]
    w = lab.controls[control]
    before_png, before_text, before_fig, runs = lab.png, lab.summary.value, lab.figure.value, lab.runs
    assert before_png[:8] == b"\x89PNG\r\n\x1a\n"
    old = w.value
    value = other_value(lab_name, control, w)
    assert old != value
    w.value = value
    try:
        assert lab.runs == runs + 1, "one model run per change"
        assert lab.png != before_png
        assert lab.figure.value != before_fig
        assert lab.summary.value != before_text
    finally:
        w.value = old


def test_figure_is_an_img_with_alt_text(built):
    for name, lab in built.items():
        m = re.fullmatch(r'<img class="labsim-figure" alt="([^"]+)" src="data:image/png;base64,[A-Za-z0-9+/=]+"[^>]*>',
                         lab.figure.value)
        assert m, name
        alt = html.unescape(m.group(1))
        assert alt.startswith(lab.alt) and len(alt) > len(lab.alt) + 20, (name, alt)
        assert "<" not in alt, "summary markup is stripped from the alt text"


def off_step_values(w) -> list:
    """Values between a slider's steps: typing into the readout clamps to the range but does
    not snap to the step (ipywidgets 8), so a lab must accept them."""
    if not hasattr(w, "step") or hasattr(w, "options"):
        return []
    if isinstance(w.step, int):
        if w.step < 2:
            return []
        return [v for v in (w.min + w.step // 2 + 1, w.max - w.step // 2 - 1) if w.min < v < w.max]
    return [w.min + w.step / 3, w.max - w.step / 3]


def test_widgets_cannot_produce_invalid_parameters(built):
    """Every control's extremes, every dropdown option and values between slider steps are
    valid model inputs: a ValueError (or any other error) from the model fails the test."""
    for name, lab in built.items():
        for control, w in lab.controls.items():
            old, runs = w.value, lab.runs
            values = options_of(w) + off_step_values(w)
            for v in values:
                w.value = v
            w.value = old
            assert lab.runs >= runs + 1, (name, control)


def test_flow_helper_draws_every_outcome_and_refuses_unbalanced_books():
    from labsim import plots
    fig, ax = plots.figure()
    plots.flow(ax, 100, [("processed", 90, "processed"), ("DLQ", 7, "dlq"), ("still queued", 3, "pending"),
                         ("lost", 0, "lost")], what="messages")
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "processed\n90" in texts and "DLQ: 7" in texts and "still queued: 3" in texts and "lost: 0" in texts
    assert "sent: 100" in texts
    with pytest.raises(ValueError, match="do not balance"):
        plots.flow(ax, 100, [("processed", 90, "processed")])


# --- issue 9: lab models refuse nonsense by name, whatever the controls could send ------------------
def test_concurrency_model_refuses_rates_that_would_shrink_its_horizon():
    """rate=1e12 silently shrank the horizon to 1e-7 s; rate=nan was reported as 'horizon=nan'."""
    from labsim.labs import lambda_basics as lb
    kw = dict(mean_duration=0.2, duration_kind="fixed", concurrency_limit=1000)
    with pytest.raises(ValueError, match=r"^rate=1,000,000,000,000 is out of range: allowed more than 0 to 20,000"):
        lb.concurrency_model(rate=1e12, **kw)
    with pytest.raises(ValueError, match=r"^rate=nan is out of range"):
        lb.concurrency_model(rate=float("nan"), **kw)
    r = lb.concurrency_model(rate=20_000, **kw)                    # the slider's top: a 5 s horizon
    assert r.horizon == 5.0


@pytest.mark.parametrize("spike_calls", [-1, float("nan"), 40_001, "abc"])
def test_storm_model_names_spike_calls(spike_calls):
    """spike_calls=-1 was reported as 'spike_rate=-2'."""
    from labsim.labs import retries as lr
    with pytest.raises(ValueError, match=r"^spike_calls="):
        lr.storm_model("exponential", 0.1, 20.0, 10, False, spike_calls)


@pytest.mark.parametrize("call,name", [
    (lambda m: m.retries.storm_model("exponential", 0.1, 20.0, 10, "yes", 100), "budget"),
    (lambda m: m.retries.contention_model(float("nan"), "jittered only"), "n_clients"),
    (lambda m: m.retries.contention_model(50, "some"), "strategies"),
    (lambda m: m.invocations.timeline_model("stream", 2, 1, 2, 5, 1), "mode"),
    (lambda m: m.async_invocation.idempotency_model(0.1, 20, 3_600, "yes"), "store"),
    (lambda m: m.async_invocation.idempotency_model(0.1, "abc", 3_600, True), "delay_mean"),
    (lambda m: m.async_invocation.async_model(0.2, 2, 21_600, [1, 2], "dlq", False), "reserved_concurrency"),
    (lambda m: m.lambda_basics.neighbour_model(400, 1_800, [1, 2]), "reserved"),
    (lambda m: m.lambda_basics.batch_model(20_000, 0.5, "abc", 10), "chunk_size"),
    (lambda m: m.lambda_basics.scaling_model("us-east-1", "burst", 1e6, 10_000), "spike_rate"),
])
def test_lab_models_check_the_values_they_use_or_ignore(call, name):
    """A control the model ignores (it only picks what the view shows) is still checked, and a
    value the model transforms is checked under its own name first."""
    import labsim.labs as m
    with pytest.raises(ValueError, match=rf"^{name}="):
        call(m)
