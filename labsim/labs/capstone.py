"""The capstone's lab: one flash sale through one design at a time."""

from __future__ import annotations

from numbers import Integral

import numpy as np

from .. import capstone as C, plots
from .base import Lab, dropdown as _drop, int_slider as _int, register

__all__ = ["capstone_lab"]

#: The MaximumConcurrency dropdown's "not set".
NO_MAX = 0
#: Which design each control acts on (the figure says when a control does nothing to this one).
USED_BY = {"stage_rate": C.DESIGNS, "stage_burst": C.DESIGNS, "reserved_concurrency": C.DESIGNS,
           "spike_multiplier": C.DESIGNS, "spike_length": C.DESIGNS,
           "batch_size": ("queue", "stream"), "maximum_concurrency": ("queue",), "shards": ("stream",)}


def _max_conc(maximum_concurrency):
    """The dropdown's value as the model's: 0 is "not set" (None); None itself is not a choice here."""
    if maximum_concurrency is None:
        raise ValueError("maximum_concurrency=None is not allowed: choose 0 (not set) or 2 to 1,000")
    is_zero = (isinstance(maximum_concurrency, Integral) and not isinstance(maximum_concurrency, bool)
               and maximum_concurrency == NO_MAX)
    return None if is_zero else maximum_concurrency


def capstone_model(design, spike_multiplier, spike_length, stage_rate, stage_burst, reserved_concurrency,
                   batch_size, maximum_concurrency, shards):
    return C.simulate_pipeline(design, spike_multiplier=spike_multiplier, spike_length=spike_length,
                               stage_rate=stage_rate, stage_burst=stage_burst,
                               reserved_concurrency=reserved_concurrency, batch_size=batch_size,
                               maximum_concurrency=_max_conc(maximum_concurrency), shards=shards)


def settings_line(design, **v) -> str:
    """The run's settings, each marked when the chosen design does not use it."""
    mc = "none" if v["maximum_concurrency"] == NO_MAX else v["maximum_concurrency"]
    parts = [("spike_multiplier", f"sale x{v['spike_multiplier']}"), ("spike_length", f"for {v['spike_length']} s"),
             ("stage_rate", f"stage {v['stage_rate']:,}/s"), ("stage_burst", f"burst {v['stage_burst']:,}"),
             ("reserved_concurrency", f"reserved concurrency {v['reserved_concurrency']}"),
             ("batch_size", f"batch {v['batch_size']}"), ("maximum_concurrency", f"MaximumConcurrency {mc}"),
             ("shards", f"shards {v['shards']}")]
    return "Settings: " + "; ".join(txt if design in USED_BY[k] else f"{txt} (not used here)" for k, txt in parts)


def _fmt_bill(billing) -> str:
    out = []
    for service, units in billing.items():
        vals = [f"{u} {x:,.2f}" if isinstance(x, float) else f"{u} {x:,}" for u, x in units.items()]
        out.append(f"{service}: " + ", ".join(vals))
    return "; ".join(out)


def _throttles(r) -> str:
    """The stream design: how many of the mapping's invocations the function's concurrency refused."""
    if r.design != "stream":
        return ""
    return (f" Lambda throttled <b>{r.stage.throttles:,}</b> of the mapping's invocations "
            f"(reserved concurrency {r.params['reserved_concurrency']}, {r.params['shards']} shards x "
            f"parallelization factor {r.params['parallelization_factor']}); each throttled batch was retried.")


def capstone_view(r, design, **values):
    b = r.books()
    pct = r.percentiles()
    lat = (f"p50 <b>{pct[50]:.1f} s</b>, p95 {pct[95]:.1f} s, p99 <b>{pct[99]:.1f} s</b>" if pct[50] == pct[50]
           else "no order processed")
    text = (f"{C.DESIGN_NAMES[design]}: {b['orders']:,} orders. <b>Lost: {r.lost:,}</b> "
            f"({b['rejected']:,} got 429 from API Gateway, {b['failed']:,} failed with a 5xx, {b['dlq']:,} in a DLQ, "
            f"{b['expired']:,} expired); <b>{b['waiting']:,}</b> still waiting after {r.horizon:.0f} s; "
            f"<b>{b['processed']:,}</b> processed, {r.delayed():,} of them more than 1 s after they arrived. "
            f"End-to-end latency {lat}.{_throttles(r)} Billing units (no prices): {_fmt_bill(r.billing)}.")
    settings = settings_line(design, **values)
    return plots.pipeline_figure(r, settings), f"{text} {settings}."


@register
def capstone_lab() -> Lab:
    """One flash sale, one design at a time: where every order went, latency, billing units."""
    return Lab({"design": _drop("design", [(C.DESIGN_NAMES[d], d) for d in C.DESIGNS], "sync"),
                "spike_multiplier": _int("sale traffic (x normal)", 10, 1, 30),
                "spike_length": _int("sale length (s)", 10, 2, 30, 2),
                "stage_rate": _int("API stage rate (per s)", 1_000, 10, 1_000, 10),
                "stage_burst": _int("API stage burst", 500, 10, 1_000, 10),
                "reserved_concurrency": _int("reserved concurrency", 10, 2, 50),
                "batch_size": _drop("batch size", [1, 10, 100], 10),
                "maximum_concurrency": _drop("MaximumConcurrency", [("none", NO_MAX), ("2", 2), ("5", 5), ("20", 20)],
                                             NO_MAX),
                "shards": _int("shards", 2, 1, 10)},
               capstone_model, capstone_view,
               "Where every order went, stage by stage, and each processed order's end-to-end latency")


# --- Try this (the chapter's guided steps; labsim.labs.trythis) -----------------------------------
from .trythis import Expect, Step, defaults, steps  # noqa: E402  (after the factory: one block per module)


def _p99(r):
    return float(r.percentiles()[99])


def _rejected_by_design(**values):
    """API Gateway's 429s for every design at the lab's defaults with ``values`` on top."""
    return {d: capstone_model(**{**defaults("capstone_lab"), **values, "design": d}).books()["rejected"]
            for d in C.DESIGNS}


steps("capstone_lab",
      Step(key="reserved-20", title="More concurrency for the synchronous design",
           values={"reserved_concurrency": 20},
           ask="The synchronous design loses 534 orders at the defaults. Raise the reserved concurrency to 20: "
               "the capacity becomes 20 / 0.2 s = 100 orders per second, the sale's own rate. Predict: none "
               "lost, or still some?",
           answer="Still {lost}: the capacity equals the sale's average rate, but orders arrive at random, so "
                  "at moments all 20 executions are busy and the next order becomes a 500. A synchronous "
                  "design needs capacity above the spike, not equal to it.",
           measure=lambda r: {"lost": r.lost},
           expect={"lost": Expect(160)}),
      Step(key="queue", title="Put a queue in front",
           values={"design": "queue"},
           ask="Back at 10, switch the design to the queue. The sale leaves a backlog of about "
               "(100 - 50) x 10 = 500 orders, drained at 50 per second. Predict the lost orders and the "
               "p99 latency.",
           answer="{lost} lost; the p99 latency is {p99:.1f} s, close to 500 / 50 = 10 s: the queue turns "
                  "the excess into waiting.",
           measure=lambda r: {"lost": r.lost, "p99": _p99(r)},
           expect={"lost": Expect(0), "p99": Expect(10.8, abs=0.05)}),
      Step(key="queue-max-5", title="Protect the database",
           values={"design": "queue", "maximum_concurrency": 5},
           ask="Keep the queue and set MaximumConcurrency to 5, as you might to protect a database. Use the "
               "capacity formula: how fast does the function drain the queue now, and how long do the last "
               "orders of the sale wait? Are any lost?",
           answer="{lost} lost, but the p99 climbs to {p99:.1f} s. The capacity is 5 / 0.2 s = 25 orders per "
                  "second, so the backlog grows to about (100 - 25) x 10 = 750 and takes about 750 / 25 = "
                  "30 s to reach its last order: a limit that protects the database is paid for in waiting.",
           measure=lambda r: {"lost": r.lost, "p99": _p99(r), "waiting": r.books()["waiting"],
                              "backlog": float(r.in_system(np.linspace(0.0, 70.0, 7_001)).max())},
           expect={"lost": Expect(0), "p99": Expect(30.6, abs=0.05), "waiting": Expect(0),
                   "backlog": Expect(750, rel=0.1)}),
      Step(key="stream-reserved-2", title="More shards than concurrency",
           values={"design": "stream", "reserved_concurrency": 2, "shards": 10},
           ask="Switch to the stream, set the reserved concurrency to 2 and the shards to 10: the mapping asks "
               "for 10 invocations at a time. Predict: does the stream process the sale by the end of the run?",
           answer="No: the function still runs only 2 at a time, 2 / 0.2 s = 10 orders per second, no more "
                  "than the normal rate. Lambda throttles the other invocations ({throttles:,} times) and the "
                  "mapping retries them, so only {processed:,} orders are processed and {waiting:,} still wait "
                  "at 70 s: shards add no work beyond the function's concurrency.",
           measure=lambda r: {"throttles": r.stage.throttles, "processed": r.books()["processed"],
                              "waiting": r.books()["waiting"], "lost": r.lost},
           expect={"throttles": Expect(457), "processed": Expect(640), "waiting": Expect(641), "lost": Expect(0)}),
      Step(key="stage-50", title="A low API stage limit",
           values={"stage_rate": 50, "stage_burst": 100},
           ask="Back to the defaults, lower the API stage rate to 50 per second and the API stage burst (the "
               "token bucket's capacity) to 100. During the sale the bucket lets through its 100 tokens plus "
               "50 per second. Predict how many of the sale's 995 orders get a 429, and whether a queue or a "
               "stream changes that.",
           answer="{rejected}, close to 995 - (100 + 50 x 10) = 395, in every design: the stage refuses "
                  "them before any design sees them.",
           measure=lambda r: {"rejected": r.books()["rejected"],
                              "same_in_every_design": len(set(_rejected_by_design(stage_rate=50,
                                                                                  stage_burst=100).values())) == 1},
           expect={"rejected": Expect(396), "same_in_every_design": Expect(True)}))
