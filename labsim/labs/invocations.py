"""Labs for chapter 2: one workload through the synchronous, asynchronous and event source
mapping invocation models, on one timeline."""

from __future__ import annotations

from .. import invocations, plots
from ..invocations import MODE_NAMES, PLACE_NAMES, RETRIED_BY
from ..validation import check_choice
from .base import Lab, dropdown as _drop, int_slider as _int, register

__all__ = ["invocation_timeline_lab"]

NO_FAILURE = -1


def timeline_model(mode, fail_index, fail_count, retries, gap, batch_size):
    check_choice("mode", mode, invocations.MODES)     # every mode is simulated; this one is shown
    return invocations.simulate_all(events=5, gap=gap, duration=2.0, fail_index=fail_index,
                                    fail_count=fail_count, retries=retries, batch_size=batch_size)


def timeline_view(results, mode, fail_index, fail_count, retries, gap, batch_size):
    r = results[mode]
    fig = plots.timeline_figure(results, highlight=mode)
    for ax in fig.axes:                      # say the batch size on the figure (ESM only uses it)
        ax.set_xlabel(f"time (s)    [events every {gap} s, 2 s each; stream batches of up to {batch_size}]")
    failing = "no event fails" if fail_index == NO_FAILURE else (
        f"event {fail_index} fails its first {fail_count} run{'s' if fail_count > 1 else ''}")
    books = r.books()
    ends = "; ".join(f"{PLACE_NAMES[k]}: {v}" for k, v in
                     zip(range(5), list(books.values())[1:]) if v)
    text = (f"<b>{MODE_NAMES[mode]}</b>, {failing}, up to {retries} retr{'y' if retries == 1 else 'ies'}, "
            f"events every {gap} s, stream batch size {batch_size}. "
            f"The caller sees: {invocations.CALLER_SEES[mode]}; retried by {RETRIED_BY[mode]}. "
            f"Where the 5 events ended: {ends}. Last event settled at <b>{r.final_time.max():.0f} s</b>; "
            f"{r.extra_runs} extra handler run{'s' if r.extra_runs != 1 else ''}.")
    return fig, text


@register
def invocation_timeline_lab() -> Lab:
    """Mode, which event fails and how often, retries: what the caller sees, who retries, where
    a failure ends."""
    return Lab({"mode": _drop("highlight mode", [(v, k) for k, v in MODE_NAMES.items()], "async"),
                "fail_index": _drop("failing event", [("none", NO_FAILURE)] + [(f"event {i}", i) for i in range(5)], 2),
                "fail_count": _int("runs that fail", 1, 1, 4),
                "retries": _int("retries (MaximumRetryAttempts)", 2, 0, 2),
                "gap": _int("seconds between events", 5, 1, 20),
                "batch_size": _int("stream batch size", 1, 1, 5)},
               timeline_model, timeline_view,
               "Timeline of five events through synchronous, asynchronous and event source mapping invocation")
