"""The capstone's lab: one flash sale through one design at a time."""

from __future__ import annotations

from numbers import Integral

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
               "the capacity doubles to the sale's own rate. Predict: none lost, or still some?",
           answer="Still {lost}: the capacity now equals the sale's average rate, but orders arrive at "
                  "random, so at moments all 20 executions are busy and the next order becomes a 500.",
           measure=lambda r: {"lost": r.lost},
           expect={"lost": Expect(160)}),
      Step(key="reserved-50", title="Enough concurrency for the sale",
           values={"reserved_concurrency": 50},
           ask="Raise the reserved concurrency to 50. Predict the lost orders.",
           answer="{lost}: 50 executions keep up with the whole sale.",
           measure=lambda r: {"lost": r.lost},
           expect={"lost": Expect(0)}),
      Step(key="queue", title="Put a queue in front",
           values={"design": "queue"},
           ask="Back at 10, switch the design to the queue. Predict the lost orders, and the p99 latency from "
               "the backlog the sale builds.",
           answer="{lost} lost; the p99 latency is {p99:.1f} s: the queue turns the excess into waiting.",
           measure=lambda r: {"lost": r.lost, "p99": _p99(r)},
           expect={"lost": Expect(0), "p99": Expect(10.8, abs=0.05)}),
      Step(key="queue-max-5", title="Protect the database",
           values={"design": "queue", "maximum_concurrency": 5},
           ask="Keep the queue and set MaximumConcurrency to 5, as you might to protect a database: half the "
               "capacity. Predict: are orders lost now, and does the p99 double, or more?",
           answer="Still {lost} lost, but the p99 climbs to {p99:.1f} s, more than double: the backlog grows "
                  "faster during the sale and drains more slowly after it.",
           measure=lambda r: {"lost": r.lost, "p99": _p99(r), "waiting": r.books()["waiting"],
                              "more_than_double": _p99(r) > 2 * _p99(capstone_model(**{**defaults("capstone_lab"),
                                                                                      "design": "queue"}))},
           expect={"lost": Expect(0), "p99": Expect(30.6, abs=0.05), "waiting": Expect(0),
                   "more_than_double": Expect(True)}),
      Step(key="stream-50", title="A stream with enough concurrency",
           values={"design": "stream", "reserved_concurrency": 50},
           ask="Switch to the stream and raise the reserved concurrency to 50 (10 batches per shard). Predict: "
               "is its p99 below the queue's 10.8 s at a reservation of 10, or above?",
           answer="Below: it falls to {p99:.1f} s, with {lost} lost.",
           measure=lambda r: {"p99": _p99(r), "lost": r.lost},
           expect={"p99": Expect(6.1, abs=0.05), "lost": Expect(0)}),
      Step(key="stream-5-shards", title="More shards",
           values={"design": "stream", "reserved_concurrency": 50, "shards": 5},
           ask="Keep the stream at 50 and raise the shards to 5, so the customers spread over more shards. "
               "Predict: does the tail shrink?",
           answer="Yes: the p99 falls to {p99:.1f} s, with {lost} lost.",
           measure=lambda r: {"p99": _p99(r), "lost": r.lost},
           expect={"p99": Expect(2.9, abs=0.05), "lost": Expect(0)}),
      Step(key="stream-reserved-2", title="More shards than concurrency",
           values={"design": "stream", "reserved_concurrency": 2, "shards": 10},
           ask="Set the reserved concurrency to 2 and the shards to 10: the mapping asks for 10 invocations "
               "at a time. Predict: does the stream process the sale by the end of the run?",
           answer="No: the function runs 2 at a time. Lambda throttles the rest ({throttles:,} times) and the "
                  "mapping retries them, so only {processed:,} orders are processed and {waiting:,} still wait "
                  "at 70 s: shards add no work beyond the function's concurrency.",
           measure=lambda r: {"throttles": r.stage.throttles, "processed": r.books()["processed"],
                              "waiting": r.books()["waiting"], "lost": r.lost},
           expect={"throttles": Expect(457), "processed": Expect(640), "waiting": Expect(641), "lost": Expect(0)}),
      Step(key="stage-50", title="A low API stage limit",
           values={"stage_rate": 50, "stage_burst": 100},
           ask="Back to the defaults, lower the API stage rate to 50 per second and the "
               "API stage burst (the token bucket's capacity) to 100. Predict: "
               "do orders get a 429 from API Gateway, and does a queue or a stream change that?",
           answer="{rejected} orders get a 429 from API Gateway, in every design: the stage refuses them "
                  "before any design sees them.",
           measure=lambda r: {"rejected": r.books()["rejected"],
                              "same_in_every_design": len(set(_rejected_by_design(stage_rate=50,
                                                                                  stage_burst=100).values())) == 1},
           expect={"rejected": Expect(396), "same_in_every_design": Expect(True)}))
