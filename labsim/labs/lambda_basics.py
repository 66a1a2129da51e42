"""Labs for the Lambda chapters: batch jobs under the timeout, concurrency, scaling, neighbours."""

from __future__ import annotations

import math

import numpy as np

from .. import awslambda, batch, plots, traffic
from ..awslambda import FUNCTION, OTHER
from ..outcomes import Outcome
from ..theory import erlang_b
from ..validation import check_int, check_number
from .base import Lab, dropdown as _drop, float_slider as _float, int_slider as _int, register


# --- Lambda at a glance --------------------------------------------------------------------------
CURVE_CONCURRENCIES = np.unique(np.geomspace(1, 1000, 16).astype(int))


def batch_model(items, seconds_per_item, chunk_size, concurrency):
    items = check_int("items", items, 1, 100_000, why="the lab's range")
    chunk_size = check_int("chunk_size", chunk_size, 1, 100_000, why="the lab's range")
    kw = dict(items=items, seconds_per_item=seconds_per_item, chunk_size=min(chunk_size, items))
    return batch.simulate_batch(concurrency=concurrency, **kw), batch.wall_time_curve(CURVE_CONCURRENCIES, **kw)


def batch_view(result, items, seconds_per_item, chunk_size, concurrency):
    r, curve = result
    fig = plots.batch_figure(r, CURVE_CONCURRENCIES, curve)
    text = (f"{r.invocations:,} invocations of up to {min(chunk_size, items):,} items; "
            f"longest needs {r.work.max():,.0f} s of work against the {r.timeout:g} s timeout; "
            f"<b>{r.timed_out}</b> timed out ({r.items_lost:,} items to redo). "
            f"Wall time with concurrency {concurrency}: <b>{r.wall_time / 60:,.1f} min</b>.")
    return fig, text


@register
def batch_lab() -> Lab:
    """Split a batch job into invocations under the 15-minute limit."""
    return Lab({"items": _int("items", 20_000, 1_000, 100_000, 1_000),
                "seconds_per_item": _float("seconds per item", 0.5, 0.1, 2.0, 0.1),
                "chunk_size": _int("items per invocation", 1_000, 100, 5_000, 100),
                "concurrency": _int("concurrency", 10, 1, 1_000)},
               batch_model, batch_view, "Work per invocation against the timeout, and wall time against concurrency")


# --- Concurrency and throttling ------------------------------------------------------------------
#: The concurrency lab's rates (requests/s); above 5,000/s the horizon shrinks to 100,000 requests.
CONCURRENCY_LAB_MAX_RATE = 20_000


def concurrency_model(rate, mean_duration, duration_kind, concurrency_limit):
    rate = check_number("rate", rate, 0, CONCURRENCY_LAB_MAX_RATE, lo_open=True,
                        why="the lab's range: its horizon is 100,000 / rate s above 5,000/s")
    return awslambda.simulate_sync(rate=rate, mean_duration=mean_duration, duration_kind=duration_kind,
                                   concurrency_limit=concurrency_limit,
                                   horizon=20.0 if rate <= 5_000 else 1e5 / rate)


def concurrency_view(r, rate, mean_duration, duration_kind, concurrency_limit):
    est, se = r.throttled_fraction_ci()
    load = rate * mean_duration
    cap = awslambda.RPS_PER_CONCURRENCY * concurrency_limit
    text = (f"{rate:,} requests/s of {mean_duration:g} s ({duration_kind}): offered load {load:,.0f} erlangs "
            f"against a limit of {concurrency_limit:,}: "
            f"simulated throttled fraction <b>{100 * est:.2f}% ± {196 * se:.2f}%</b> (95% confidence interval), "
            f"Erlang B <b>{100 * erlang_b(concurrency_limit, load):.2f}%</b>; "
            f"{r.count(Outcome.THROTTLED):,} of {r.sent():,} requests got a 429: "
            f"<b>{r.throttled_by(awslambda.CONCURRENCY):,}</b> for concurrency (ConcurrentInvocationLimitExceeded), "
            f"<b>{r.throttled_by(awslambda.RATE):,}</b> for the rate cap of {cap:,}/s "
            f"(FunctionInvocationRateLimitExceeded).")
    return plots.concurrency_figure(r), text


@register
def concurrency_lab() -> Lab:
    """Rate, duration and concurrency limit; the simulated throttle fraction on Erlang B."""
    return Lab({"rate": _int("requests per second", 5_000, 100, 20_000, 100),
                "mean_duration": _float("mean duration (s)", 0.2, 0.05, 2.0, 0.05),
                "duration_kind": _drop("duration", list(traffic.DURATION_KINDS), "fixed"),
                "concurrency_limit": _int("concurrency limit", 1_000, 100, 3_000, 100)},
               concurrency_model, concurrency_view,
               "Concurrency over time against the limit, and throttled fraction on the Erlang B curve")


#: The surge's requests run this long (s): 400 requests/s want 4,000 executions.
SURGE_DURATION = 10.0


#: The scaling lab's surge rates (requests/s; its slider stops at 800).
SCALING_LAB_MAX_RATE = 2_000


def scaling_model(region, scaling, spike_rate, concurrency_limit):
    spike_rate = check_number("spike_rate", spike_rate, 0, SCALING_LAB_MAX_RATE, why="requests per second")
    return awslambda.simulate_sync(rate=spike_rate, mean_duration=SURGE_DURATION, concurrency_limit=concurrency_limit,
                                   scaling=scaling, region=region, horizon=180.0, warmup=0.0)


def scaling_view(r, region, scaling, spike_rate, concurrency_limit):
    text = (f"{r.sent():,} requests; <b>{100 * r.throttled_fraction():.1f}%</b> throttled; "
            f"{int(r.cold_start[r.source == FUNCTION].sum()):,} environments created; "
            f"peak concurrency {r.peak_concurrency:,} (account limit {concurrency_limit:,}).")
    return plots.scaling_figure(r), text


@register
def scaling_lab() -> Lab:
    """A sudden surge under the notes' burst quotas or today's per-function scaling rate."""
    return Lab({"region": _drop("Region", [(f"{awslambda.REGION_NAMES[k]} (burst {v:,})", k)
                                           for k, v in awslambda.BURST_QUOTAS.items()], "us-east-1"),
                "scaling": _drop("scaling model", [("notes: burst quota + 500/min", "burst"),
                                                   ("today: 1,000 per 10 s per function", "per_function"),
                                                   ("instant (steady state)", "none")], "burst"),
                "spike_rate": _int("requests per second", 400, 100, 800, 50),
                "concurrency_limit": _int("account limit", 10_000, 1_000, 20_000, 1_000)},
               scaling_model, scaling_view,
               "Environments, running executions and the scaling limit during a surge")


NO_RESERVATION = -1


def neighbour_model(rate, other_rate, reserved):
    reserved = check_int("reserved", reserved, NO_RESERVATION, awslambda.DEFAULT_ACCOUNT_LIMIT - awslambda.MIN_UNRESERVED,
                         why=f"{NO_RESERVATION} means no reservation")
    return awslambda.simulate_sync(rate=rate, mean_duration=0.5, other_rate=other_rate,
                                   reserved=None if reserved == NO_RESERVATION else reserved, horizon=20.0)


def neighbour_view(r, rate, other_rate, reserved):
    limit = r.params["concurrency_limit"]
    text = (f"Your function: <b>{100 * r.throttled_fraction(FUNCTION):.1f}%</b> throttled; "
            f"other functions: <b>{100 * r.throttled_fraction(OTHER):.1f}%</b> throttled"
            + (f" (reserved {reserved} for yours, {limit - reserved} left for the rest)."
               if reserved != NO_RESERVATION else "."))
    return plots.neighbour_figure(r), text


@register
def neighbour_lab() -> Lab:
    """A noisy neighbour and reserved concurrency as floor and cap."""
    limit = awslambda.DEFAULT_ACCOUNT_LIMIT
    return Lab({"rate": _int("your requests per second", 400, 0, 2_000, 50),
                "other_rate": _int("other functions' requests/s", 1_800, 0, 4_000, 100),
                "reserved": _drop("reserved concurrency",
                                  [("none", NO_RESERVATION)]
                                  + [(f"{k:,}", k) for k in range(0, limit - awslambda.MIN_UNRESERVED + 1, 50)],
                                  NO_RESERVATION)},
               neighbour_model, neighbour_view,
               "Concurrency of your function and the other functions, and each one's throttled share")


# --- Try this (the chapters' guided steps; labsim.labs.trythis) -----------------------------------
from .trythis import Expect, Step, steps  # noqa: E402  (after the factories: one block per module)

steps("batch_lab",
      Step(key="chunk-2000", title="Bigger invocations",
           values={"chunk_size": 2_000},
           ask="Raise items per invocation to 2,000. How long does each invocation need now, and how many "
               "of them finish within the timeout?",
           answer="Each needs about {work:,} s, more than the 900 s timeout: all {timed_out} are stopped at "
                  "900 s and {items_done} items are done. The whole job has to run again.",
           measure=lambda res: {"work": float(res[0].work.mean()), "timed_out": res[0].timed_out,
                                "items_done": res[0].items_done},
           expect={"work": Expect(1_000, rel=0.15), "timed_out": Expect(10), "items_done": Expect(0)}),
      Step(key="concurrency-20", title="One slot per invocation",
           values={"concurrency": 20},
           ask="Back at 1,000 items per invocation, raise concurrency from 10 to 20. What happens to the "
               "job's wall time?",
           answer="It halves, to about {wall_min} minutes: every invocation now has its own slot, so the job "
                  "takes one round, as long as its slowest invocation, about {slowest} s. That is why it is "
                  "{wall_min} minutes and not the {mean_min} minutes (500 s) of an average invocation.",
           measure=lambda res: {"wall_min": res[0].wall_time / 60, "slowest": float(res[0].work.max()),
                                "mean_min": float(res[0].work.mean()) / 60},
           expect={"wall_min": Expect(8.6, rel=0.15), "slowest": Expect(515, rel=0.05),
                   "mean_min": Expect(8.3, rel=0.05)}),
      Step(key="concurrency-1000", title="Far more concurrency",
           values={"concurrency": 1_000},
           ask="Now raise concurrency to 1,000. Does the job finish 50 times sooner?",
           answer="No: the wall time stays at about {wall_min} minutes, the time of the longest invocation. "
                  "Beyond one slot per invocation, more concurrency buys nothing.",
           measure=lambda res: {"wall_min": res[0].wall_time / 60},
           expect={"wall_min": Expect(8.6, rel=0.15)}))

def _erlang_b_of(r):
    """Erlang B for a run's own limit and offered load."""
    return float(erlang_b(r.params["concurrency_limit"], r.params["rate"] * r.params["mean_duration"]))


steps("concurrency_lab",
      Step(key="defaults", title="A load equal to the limit",
           values={},
           ask="At the defaults the load equals the limit on average (5,000 per second x 0.2 s = 1,000). What "
               "share of the requests gets a 429: none, about one in forty, or about one in four?",
           answer="About {throttled:.1%}, one in forty. Requests arrive at random, so at busy moments more than "
                  "1,000 want to run although the average equals the limit.",
           measure=lambda r: {"throttled": r.throttled_fraction()},
           expect={"throttled": Expect(0.025, rel=0.15)}),
      Step(key="rate-6000", title="Past the limit",
           values={"rate": 6_000},
           ask="Raise the rate to 6,000 per second: a load of 1,200 erlangs against a limit of 1,000. Even if "
               "all 1,000 were always busy, the share 1 - limit / load = 1 - 1,000 / 1,200, about 16.7%, would "
               "be refused. Is the simulated share above or below that floor?",
           answer="A little above: about {throttled:.1%}. Requests arrive at random, so quiet moments leave "
                  "some of the 1,000 idle while busy moments refuse more.",
           measure=lambda r: {"throttled": r.throttled_fraction(),
                              "floor": 1 - r.params["concurrency_limit"] / (r.params["rate"] * r.params["mean_duration"]),
                              "erlang_b_above_floor": bool(_erlang_b_of(r) > 1 - r.params["concurrency_limit"]
                                                           / (r.params["rate"] * r.params["mean_duration"]))},
           expect={"throttled": Expect(0.17, rel=0.15), "floor": Expect(0.167, abs=0.0005),
                   "erlang_b_above_floor": Expect(True)}),
      Step(key="rate-cap", title="Short functions, high rate",
           values={"rate": 20_000, "mean_duration": 0.05},
           ask="Set 20,000 requests per second of 0.05 s: the same 1,000 erlangs as the defaults, but a function "
               "shorter than 0.1 s. What share is throttled, and which limit refuses the requests?",
           answer="About {throttled:.0%}, against {erlang_b:.1%} from concurrency alone: {rate_cap:.0%} of the "
                  "429s come from the rate cap of 10 x 1,000 = 10,000 per second.",
           measure=lambda r: {"throttled": r.throttled_fraction(),
                              "erlang_b": _erlang_b_of(r),
                              "rate_cap": r.throttled_by(awslambda.RATE) / max(1, r.count(Outcome.THROTTLED))},
           expect={"throttled": Expect(0.5, rel=0.15), "erlang_b": Expect(0.025, abs=0.0005),
                   "rate_cap": Expect(1.0, abs=0.01)}))


def _minutes_to_reach(r, wanted=3_900):
    """Minutes until the surge runs ``wanted`` executions (inf if never within the run)."""
    grid = np.linspace(0.0, r.horizon, 721)
    above = r.concurrency(grid) >= wanted
    return float(grid[np.argmax(above)] / 60.0) if above.any() else float("inf")


steps("scaling_lab",
      Step(key="defaults", title="The notes' burst in US East (N. Virginia)",
           values={},
           ask="Under the notes' rule in US East (N. Virginia), how long until all 4,000 executions run?",
           answer="About {minutes} minutes: 3,000 at once, then 500 after one minute and 500 after two. "
                  "Meanwhile about {throttled:.0%} of the requests are throttled.",
           measure=lambda r: {"minutes": _minutes_to_reach(r), "throttled": r.throttled_fraction()},
           expect={"minutes": Expect(2, rel=0.15), "throttled": Expect(0.13, rel=0.15)}),
      Step(key="other-region", title="A 500-burst Region",
           values={"region": "other"},
           ask="Switch to another Region (a burst of 500), still under the notes' rule. A little worse, or "
               "most of the surge throttled?",
           answer="Most of it, about {throttled:.0%}: starting at 500 and adding 500 a minute, the function "
                  "never reaches 4,000 in the three minutes shown.",
           measure=lambda r: {"throttled": r.throttled_fraction(),
                              "reaches_4000": math.isfinite(_minutes_to_reach(r))},
           expect={"throttled": Expect(0.75, rel=0.15), "reaches_4000": Expect(False)}),
      Step(key="today", title="Today's scaling rate",
           values={"region": "other", "scaling": "per_function"},
           ask="Keep that Region and switch to today's rule. How long until all 4,000 run? Does the Region "
               "still matter?",
           answer="About {seconds} seconds: 1,000 at once, then 1,000 more every 10 seconds, which is 100 per "
                  "second on average (the model adds them at that pace). The Region no longer matters: the run "
                  "is the same as in US East (N. Virginia). About {throttled:.0%} of the three minutes' "
                  "requests are throttled, about {first_30_s:.0%} of the first 30 seconds'.",
           measure=lambda r: {"seconds": 60 * _minutes_to_reach(r), "throttled": r.throttled_fraction(),
                              "n_throttled": r.count(Outcome.THROTTLED), "sent": r.sent(),
                              "last_s": float(r.arrival[r.outcome == Outcome.THROTTLED].max()),
                              "first_30_s": r.count(Outcome.THROTTLED) / int((r.arrival < 30).sum()),
                              "same_in_us_east_1": r.throttled_fraction() == scaling_model(
                                  "us-east-1", "per_function", r.params["rate"],
                                  r.params["concurrency_limit"]).throttled_fraction()},
           expect={"seconds": Expect(30, rel=0.15), "throttled": Expect(0.044, rel=0.15),
                   "n_throttled": Expect(3_100, rel=0.15), "sent": Expect(72_000, rel=0.02),
                   "last_s": Expect(20, rel=0.1), "first_30_s": Expect(0.26, rel=0.15),
                   "same_in_us_east_1": Expect(True)}))

steps("neighbour_lab",
      Step(key="defaults", title="Two functions, one pool",
           values={},
           ask="No reservation: who is throttled, your function, the others, or both?",
           answer="Both, about equally: about {yours:.0%} of your requests and {others:.0%} of theirs. A full "
                  "shared pool refuses whoever arrives.",
           measure=lambda r: {"yours": r.throttled_fraction(FUNCTION), "others": r.throttled_fraction(OTHER)},
           expect={"yours": Expect(0.10, rel=0.15), "others": Expect(0.10, rel=0.15)}),
      Step(key="reserve-300", title="Reserve 300 for your function",
           values={"reserved": 300},
           ask="What happens to your function's throttles, and to the other functions'?",
           answer="Yours vanish ({yours:.0%}); the others, squeezed into the 700 left, see about {others:.0%} "
                  "throttled.",
           measure=lambda r: {"yours": r.throttled_fraction(FUNCTION), "others": r.throttled_fraction(OTHER)},
           expect={"yours": Expect(0.0), "others": Expect(0.23, rel=0.15)}),
      Step(key="reserve-150", title="Reserve too little",
           values={"reserved": 150},
           ask="Lower the reservation to 150, below the 200 your function needs. Now who is throttled?",
           answer="Your function: about {yours:.0%} of its requests, because the reservation is also a cap. "
                  "The others, with 850, fall to about {others:.0%}.",
           measure=lambda r: {"yours": r.throttled_fraction(FUNCTION), "others": r.throttled_fraction(OTHER)},
           expect={"yours": Expect(0.26, rel=0.15), "others": Expect(0.074, rel=0.15)}))
