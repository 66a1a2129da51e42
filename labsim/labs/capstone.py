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


def capstone_view(r, design, **values):
    b = r.books()
    pct = r.percentiles()
    lat = (f"p50 <b>{pct[50]:.1f} s</b>, p95 {pct[95]:.1f} s, p99 <b>{pct[99]:.1f} s</b>" if pct[50] == pct[50]
           else "no order processed")
    text = (f"{C.DESIGN_NAMES[design]}: {b['orders']:,} orders. <b>Lost: {r.lost:,}</b> "
            f"({b['rejected']:,} got 429 from API Gateway, {b['failed']:,} failed with a 5xx, {b['dlq']:,} in a DLQ, "
            f"{b['expired']:,} expired); <b>{b['waiting']:,}</b> still waiting after {r.horizon:.0f} s; "
            f"<b>{b['processed']:,}</b> processed, {r.delayed():,} of them more than 1 s after they arrived. "
            f"End-to-end latency {lat}. Billing units (no prices): {_fmt_bill(r.billing)}.")
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
