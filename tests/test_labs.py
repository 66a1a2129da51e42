"""Widget tests without a browser: change each control, the PNG and the summary must change."""

import matplotlib
import pytest

matplotlib.use("Agg")

from labsim import labs  # noqa: E402

# A value different from the default for every control of every lab.
CHANGES = {
    "batch_lab": {"items": 50_000, "seconds_per_item": 1.0, "chunk_size": 2_000, "concurrency": 3},
    "concurrency_lab": {"rate": 6_000, "mean_duration": 0.3, "duration_kind": "exponential",
                        "concurrency_limit": 1_200},
    "scaling_lab": {"region": "other", "scaling": "per_function", "spike_rate": 1_500,
                    "concurrency_limit": 3_000},
    "neighbour_lab": {"rate": 800, "other_rate": 2_500, "reserved": 300},
}
CASES = [(lab, name, value) for lab, ch in CHANGES.items() for name, value in ch.items()]


@pytest.fixture(scope="module")
def built():
    return {name: getattr(labs, name)() for name in CHANGES}


def test_every_control_is_covered(built):
    for name, lab in built.items():
        assert set(lab.controls) == set(CHANGES[name]), name


@pytest.mark.parametrize("lab_name,control,value", CASES, ids=[f"{a}-{b}" for a, b, _ in CASES])
def test_control_changes_figure_and_summary(built, lab_name, control, value):
    lab = built[lab_name]
    before_png, before_text, runs = lab.image.value, lab.summary.value, lab.runs
    assert before_png[:8] == b"\x89PNG\r\n\x1a\n"
    old = lab.controls[control].value
    assert old != value
    lab.controls[control].value = value
    try:
        assert lab.runs == runs + 1, "one model run per change"
        assert lab.image.value != before_png
        assert lab.summary.value != before_text
    finally:
        lab.controls[control].value = old


def test_widgets_cannot_produce_invalid_parameters(built):
    """Every slider's full range is a valid model input (extremes run without ValueError)."""
    for lab in built.values():
        for w in lab.controls.values():
            values = [w.min, w.max] if hasattr(w, "min") else [v for _, v in w.options] \
                if hasattr(w, "options") and isinstance(w.options[0], tuple) else list(getattr(w, "options", []))
            if values:
                for v in values:
                    old = w.value
                    w.value = v
                    w.value = old
