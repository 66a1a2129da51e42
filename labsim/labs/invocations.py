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


# --- Try this (the chapter's guided steps; labsim.labs.trythis) -----------------------------------
from .trythis import Expect, Step, steps  # noqa: E402  (after the factory: one block per module)

steps("invocation_timeline_lab",
      Step(key="defaults", title="A transient failure",
           values={},
           ask="At the start, event 2 fails only its first run (a transient error). Predict: does any event "
               "end in failure, and when is event 2 done in each model?",
           answer="No event fails for good: each model runs event 2 again and the second run succeeds. "
                  "When it is done differs: at {sync_end} s for the synchronous caller, which retried after its own backoff of a "
                  "second; at {esm_end} s in the stream, retried at once by the poller; but only at {async_end} s when "
                  "invoked asynchronously, because Lambda waits about a minute before its first retry.",
           measure=lambda res: {"failed": sum(r.books()["error_caller"] + r.books()["failure_destination"]
                                              for r in res.values()),
                                "sync_end": float(res["sync"].final_time[2]),
                                "esm_end": float(res["esm"].final_time[2]),
                                "async_end": float(res["async"].final_time[2])},
           expect={"failed": Expect(0), "sync_end": Expect(15), "esm_end": Expect(14), "async_end": Expect(74)}),
      Step(key="fail-3-runs", title="A failure that outlasts the retries",
           values={"fail_count": 3},
           ask="Raise runs that fail to 3, so that event 2 fails its first three runs. Predict where it ends "
               "in each model, and when.",
           answer="Synchronous: after its own two retries the caller gets the error ({sync_errors} event ends with "
                  "the caller). "
                  "Asynchronous: Lambda retries after about 1 and 2 minutes, then sends it to the on-failure "
                  "destination at {async_end} s. Stream: the poller retries at once and gives up at "
                  "{esm_end} s, to the on-failure destination.",
           measure=lambda res: {"sync_errors": res["sync"].books()["error_caller"],
                                "async_end": float(res["async"].final_time[2]),
                                "esm_end": float(res["esm"].final_time[2])},
           expect={"sync_errors": Expect(1), "async_end": Expect(196), "esm_end": Expect(16)}),
      Step(key="no-retries", title="No retries",
           values={"fail_count": 3, "retries": 0},
           ask="Keep three failing runs and set retries (MaximumRetryAttempts) to 0. Predict when the "
               "asynchronous event 2 is settled, and where it goes.",
           answer="At {async_end} s, right after its only run: it goes straight to the on-failure destination, "
                  "{async_runs} run in all.",
           measure=lambda res: {"async_end": float(res["async"].final_time[2]),
                                "async_runs": int(res["async"].runs[2])},
           expect={"async_end": Expect(12), "async_runs": Expect(1)}),
      Step(key="stream-batch-3", title="A bad record in a batch",
           values={"fail_count": 3, "gap": 1, "batch_size": 3},
           ask="With retries back at 2 and three failing runs, send an event every second and let the "
               "stream batch up to 3 records. Predict what happens to the good records that share a batch "
               "with the failing one.",
           answer="They run again with it on every retry and are given up with it: {skipped} good record "
                  "is sent to the on-failure destination with the bad one. The stream makes {extra} handler runs "
                  "more than one per record: the 2 retries of the bad record and the 2 of the good one beside it.",
           measure=lambda res: {"skipped": res["esm"].books()["batch_skipped"], "extra": res["esm"].extra_runs},
           expect={"skipped": Expect(1), "extra": Expect(4)}))
