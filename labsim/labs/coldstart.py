"""Lab for chapter 3a: cold starts, the idle time before reclaim, and provisioned concurrency."""

from __future__ import annotations

import math

import numpy as np

from .. import coldstart, plots
from ..outcomes import Outcome
from .base import Lab, dropdown as _drop, int_slider as _int, register

__all__ = ["cold_start_lab"]

#: The lab's function: 2 requests per second on average (Poisson), handler about 200 ms
#: (lognormal, coefficient of variation 0.25), INIT 1 s (illustrative), one hour simulated.
RATE, MEAN_DURATION, DURATION_CV, INIT_S, HORIZON_S, SEED = 2.0, 0.2, 0.25, 1.0, 3_600.0, 1

SHAPES = [("steady (2 per second)", "steady"),
          ("daily cycle (a day in 1 h)", "daily"),
          ("spike (20x for 1 min)", "spike")]
IDLE = [("10 s", 10), ("1 min", 60), ("5 min", 300), ("15 min", 900)]
REUSE = [("most recently used", "mru"), ("least recently used", "lru")]
MAX_PROVISIONED = 40


def _label(options, value):
    return {v: k for k, v in options}[value]


def cold_start_model(traffic_shape, provisioned, idle_timeout, reuse):
    return coldstart.simulate_environments(
        rate=RATE, mean_duration=MEAN_DURATION, traffic_shape=traffic_shape, duration_kind="lognormal",
        duration_cv=DURATION_CV, init_duration=INIT_S, provisioned=provisioned, idle_timeout=idle_timeout,
        reuse=reuse, horizon=HORIZON_S, seed=SEED)


def cold_start_view(r, traffic_shape, provisioned, idle_timeout, reuse):
    p50, p95, p99 = r.latency_percentiles()
    util = r.provisioned_utilisation()
    thr = r.count(Outcome.THROTTLED)
    grid_max = int(r.environments(r.arrival).max()) if r.sent() else 0
    text = (f"Traffic {_label(SHAPES, traffic_shape)}, provisioned concurrency {provisioned}, "
            f"idle time before reclaim {_label(IDLE, idle_timeout)}, reuse: {_label(REUSE, reuse)}. "
            f"{r.sent():,} requests in 1 h: <b>{r.cold_starts:,}</b> cold starts "
            f"(<b>{100 * r.cold_fraction():.2f}%</b>); {len(r.env_created):,} environments created "
            f"({provisioned} of them provisioned), at most {grid_max:,} at once, for a peak of "
            f"{r.peak_demand():,} requests running together. Latency p50 <b>{1e3 * p50:,.0f} ms</b>, "
            f"p95 <b>{1e3 * p95:,.0f} ms</b>, p99 <b>{1e3 * p99:,.0f} ms</b> (handler about "
            f"{1e3 * MEAN_DURATION:.0f} ms, INIT {INIT_S:g} s)."
            + (f" Provisioned environments were busy {100 * util:.1f}% of the time you pay for them."
               if not math.isnan(util) else "")
            + (f" {thr:,} throttled." if thr else ""))
    return plots.coldstart_figure(r), text


@register
def cold_start_lab() -> Lab:
    """Traffic shape, provisioned concurrency, idle time before reclaim and reuse order."""
    return Lab({"traffic_shape": _drop("traffic", SHAPES, "spike"),
                "provisioned": _int("provisioned concurrency", 0, 0, MAX_PROVISIONED),
                "idle_timeout": _drop("idle time before reclaim", IDLE, 300),
                "reuse": _drop("idle environment reused", REUSE, "mru")},
               cold_start_model, cold_start_view,
               "Environments and running executions over time with cold starts marked, and the latency tail")


# --- Try this (the chapter's guided steps; labsim.labs.trythis) -----------------------------------
from .trythis import Expect, Step, steps  # noqa: E402  (after the factory: one block per module)

def _spike_cold(r):
    """Cold starts that fall in the spike's first 2 seconds."""
    lo = coldstart.SPIKE_START * r.horizon
    return int((r.cold & (r.arrival >= lo) & (r.arrival < lo + 2.0)).sum())


steps("cold_start_lab",
      Step(key="defaults", title="A spike, nothing provisioned",
           values={},
           ask="At the defaults (the spike, no provisioned concurrency, 5 minutes idle), at most 19 requests "
               "run at once. Does Lambda hold more or fewer than 19 environments at the spike's peak, and "
               "does p99 show the cold starts?",
           answer="More: {envs} environments for {peak} requests at once. Each new environment spends its first second "
                  "in INIT, and the requests that arrive meanwhile need environments of their own ({spike_cold} "
                  "of the {cold} cold starts come in the spike's first 2 seconds). Only {share:.2%} of requests "
                  "are cold, fewer than the 1% that p99 leaves out, so p99 stays near {p99_ms:.0f} ms, hardly "
                  "above the {handler_p99_ms:.0f} ms it would be with no cold start at all, while the slowest "
                  "requests take about {slowest:.1f} s.",
           measure=lambda r: {"envs": int(r.environments(r.arrival).max()), "peak": r.peak_demand(),
                              "spike_cold": _spike_cold(r), "cold": r.cold_starts, "share": r.cold_fraction(),
                              "p99_ms": 1e3 * float(r.latency_percentiles()[2]),
                              "handler_p99_ms": 1e3 * float(np.percentile(r.latency[~r.cold], 99)),
                              "slowest": float(r.latency.max())},
           expect={"envs": Expect(33), "peak": Expect(19), "spike_cold": Expect(29), "cold": Expect(36),
                   "share": Expect(0.0038, abs=0.00005), "p99_ms": Expect(360, rel=0.15),
                   "handler_p99_ms": Expect(340, rel=0.15),
                   "slowest": Expect(1.3, rel=0.15)}),
      Step(key="provisioned-10", title="Provision half the peak",
           values={"provisioned": 10},
           ask="Set provisioned concurrency to 10, about half the spike's peak of 19. How many of the 36 cold "
               "starts remain?",
           answer="{cold} cold starts, {fewer} times fewer: the provisioned environments take the spike's first "
                  "requests, so far fewer new environments pile up in INIT.",
           measure=lambda r: {"cold": r.cold_starts,
                              "fewer": cold_start_model("spike", 0, 300, "mru").cold_starts / r.cold_starts},
           expect={"cold": Expect(9), "fewer": Expect(4)}),
      Step(key="provisioned-19", title="Provision for the peak",
           values={"provisioned": 19},
           ask="Set provisioned concurrency to 19, the spike's peak. How many requests are cold now, and how "
               "busy are the provisioned environments you pay for?",
           answer="{cold} cold starts, but the provisioned environments are busy only about {busy:.0%} of "
                  "the hour, and you pay for all of them all hour.",
           measure=lambda r: {"cold": r.cold_starts, "busy": r.provisioned_utilisation()},
           expect={"cold": Expect(0), "busy": Expect(0.03, rel=0.15)}),
      Step(key="idle-10s", title="A short idle time",
           values={"idle_timeout": 10},
           ask="Back at 0 provisioned, set the idle time before reclaim to 10 s. Do the cold starts (36 at "
               "the defaults) rise or fall, and does p99 (about 360 ms at the defaults) come to include INIT?",
           answer="They rise, and p99 includes INIT: Lambda now reclaims an environment after 10 s "
                  "idle, so whenever requests overlap, the extra ones more often find no warm environment. In this run of the model, about {cold} cold "
                  "starts ({share:.1%} of requests, above the 1% p99 leaves out), and p99 about {p99:.1f} s.",
           measure=lambda r: {"cold": r.cold_starts, "share": r.cold_fraction(),
                              "p99": float(r.latency_percentiles()[2])},
           expect={"cold": Expect(220, rel=0.15), "share": Expect(0.023, abs=0.0005),
                   "p99": Expect(1.2, rel=0.15)}),
      Step(key="lru", title="Reuse the least recently used",
           values={"idle_timeout": 10, "reuse": "lru"},
           ask="Keep 10 s and let requests take the least recently used idle environment instead of the "
               "most recently used. AWS does not document which warm environment a request gets, so no exam "
               "answer depends on this step. Do the cold starts rise or fall?",
           answer="They fall: spreading the requests over more environments keeps more of them warm. In this "
                  "run, {cold}, about {fewer:.0f} times fewer. That an undocumented detail moves the model's count "
                  "so much is the point: read its comparisons as the lesson and its absolute numbers as "
                  "illustrations.",
           measure=lambda r: {"cold": r.cold_starts,
                              "fewer": cold_start_model("spike", 0, 10, "mru").cold_starts / r.cold_starts},
           expect={"cold": Expect(30), "fewer": Expect(7, abs=0.5)}))
