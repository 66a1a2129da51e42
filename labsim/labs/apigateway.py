"""Labs for the API Gateway chapter: one token bucket, usage plans at every level, endpoint types."""

from __future__ import annotations

from .. import apigateway as ag, plots
from ..apigateway import ACCOUNT, PASSED, QUOTA, STAGE, USAGE_PLAN
from .base import Lab, dropdown as _drop, int_slider as _int, register

__all__ = ["bucket_lab", "usage_plan_lab", "endpoint_lab"]


def bucket_model(rate, burst, shape, traffic_rate):
    return ag.simulate_bucket(rate=rate, burst=burst, shape=shape, traffic_rate=traffic_rate, horizon=20.0)


def bucket_view(r, rate, burst, shape, traffic_rate):
    text = (f"{shape} traffic at a level of {traffic_rate:,} requests/s against a bucket refilled at {rate:,}/s "
            f"holding {burst:,}: <b>{r.count(PASSED):,}</b> of {r.sent():,} passed, "
            f"<b>{r.count(STAGE):,}</b> got 429 ({100 * r.throttled_fraction():.1f}%). "
            f"In the model, which applies the bucket exactly, at most {burst:,} + {rate:,} x 20 = "
            f"{burst + 20 * rate:,} can pass in the 20 s; AWS applies its limits on a best-effort basis, "
            f"as targets rather than guaranteed ceilings.")
    return plots.bucket_figure(r), text


@register
def bucket_lab() -> Lab:
    """A token bucket (rate, burst) in front of steady, spiky or ramping traffic."""
    return Lab({"rate": _int("rate (tokens/s)", 100, 10, 500, 10),
                "burst": _int("capacity (AWS: burst)", 200, 10, 1_000, 10),
                "shape": _drop("traffic", list(ag.SHAPES), "spike"),
                "traffic_rate": _int("traffic level (requests/s)", 100, 10, 400, 10)},
               bucket_model, bucket_view,
               "Requests passed and refused over time, the bucket's tokens, and where every request went")


def usage_plan_model(noisy, noisy_rate, other_apis_rate, stage_rate, free_quota_left, refund):
    return ag.simulate_usage_plans(noisy=noisy, noisy_rate=noisy_rate, other_apis_rate=other_apis_rate,
                                   stage_rate=stage_rate, free_quota_left=free_quota_left, refund=refund)


def quota_out_at(r, k: int):
    """When key ``k``'s quota ran out (its first quota 429), or None."""
    m = r.of_key(k) & (r.refused_at == QUOTA)
    return float(r.arrival[m][0]) if m.any() else None


def usage_plan_view(r, noisy, noisy_rate, other_apis_rate, stage_rate, free_quota_left, refund):
    names = r.params["names"]
    parts = []
    for k, nm in enumerate(names):
        m = r.of_key(k)
        parts.append(f"{nm} {100 * r.throttled_fraction(m):.1f}%")
    out = quota_out_at(r, names.index("free"))
    o = r.params["other_sent"]
    text = (f"Model figures (the model applies every limit exactly; AWS's throttles and quotas are best-effort "
            f"targets). Noisy client: {noisy} at {noisy_rate:,}/s; other APIs {other_apis_rate:,}/s; stage limit "
            f"{stage_rate:,}/s; tokens {'given back' if refund else 'kept'} when a later level refuses. "
            f"429s: <b>{', '.join(parts)}</b>, other APIs <b>{100 * r.params['other_refused'][ACCOUNT] / max(o, 1):.1f}%</b>. "
            f"This API: {r.count(USAGE_PLAN):,} refused by a plan's rate, {r.count(QUOTA):,} by a quota, "
            f"{r.count(STAGE):,} by the stage, {r.count(ACCOUNT):,} by the account. "
            + (f"The free key's quota ({free_quota_left:,} left of its day) ran out at <b>{out:.2f} s</b>."
               if out is not None else f"The free key's quota ({free_quota_left:,} left of its day) lasted."))
    return plots.usage_plan_figure(r), text


@register
def usage_plan_lab() -> Lab:
    """Three API keys on three plans, one noisy, behind the stage and the account limits."""
    return Lab({"noisy": _drop("noisy client", ["none", "free", "basic", "premium"], "premium"),
                "noisy_rate": _int("noisy client's requests/s", 12_000, 1_000, 30_000, 1_000),
                "other_apis_rate": _int("other APIs' requests/s", 3_000, 0, 8_000, 500),
                "stage_rate": _int("stage limit (requests/s)", 10_000, 1_000, 10_000, 500),
                "free_quota_left": _int("free key: quota left today", 100, 0, 1_000, 50),
                "refund": _drop("a token taken before a later 429 is",
                                [("kept (assumption A)", False), ("given back (assumption B)", True)], False)},
               usage_plan_model, usage_plan_view,
               "Requests passed per second by client against the account limit, each client's refusals by level, "
               "and where every request went")


def endpoint_model(region, endpoint_type, connection, target_ms):
    return ag.simulate_endpoints(region=region, endpoint_type=endpoint_type, connection=connection,
                                 target_ms=target_ms)


def endpoint_view(r, region, endpoint_type, connection, target_ms):
    b = r.books()
    far = max(range(len(r.clients) - 1), key=lambda i: r.median["regional"][i])
    text = (f"API in {region}, {endpoint_type} endpoint, {connection} connection, target {target_ms:,} ms: "
            f"<b>{b['under target']:,}</b> of {b['sent']:,} requests under target, {b['over target']:,} over, "
            f"{b['unreachable']:,} unreachable. Farthest client ({r.clients[far]}): edge-optimized "
            f"{r.median['edge-optimized'][far]:.0f} ms, Regional {r.median['regional'][far]:.0f} ms "
            f"(illustrative model, not AWS numbers).")
    return plots.endpoint_figure(r), text


@register
def endpoint_lab() -> Lab:
    """Clients around the world call an edge-optimized, Regional or private endpoint."""
    return Lab({"region": _drop("API's Region", list(ag.REGIONS), "us-east-1"),
                "endpoint_type": _drop("endpoint type", list(ag.ENDPOINT_TYPES), "edge-optimized"),
                "connection": _drop("connection", list(ag.HANDSHAKES), "new"),
                "target_ms": _int("latency target (ms)", 200, 50, 800, 10)},
               endpoint_model, endpoint_view,
               "Median latency per client for edge-optimized and Regional endpoints, and where every request ended")


# --- Try this (the chapter's guided steps; labsim.labs.trythis) -----------------------------------
import numpy as _np  # noqa: E402

from ..apigateway import ACCOUNT as _ACCOUNT, PASSED as _PASSED, QUOTA as _QUOTA, STAGE as _STAGE  # noqa: E402
from ..tokenbucket import max_in_window as _max_in_window  # noqa: E402
from .trythis import Expect, Step, steps  # noqa: E402  (after the factories: one block per module)


def _first_429(r):
    t = r.arrival[r.refused_at == _STAGE]
    return float(t[0]) if len(t) else float("nan")


def _spike(r):
    """The spike's requests: the middle fifth of the run (ag.shaped_traffic), 8 to 12 s of 20."""
    return (r.arrival >= 0.4 * r.horizon) & (r.arrival < 0.6 * r.horizon)


def _spike_measures(r):
    lim = r.params["limit"]
    s = _spike(r)
    passed = r.count(_PASSED, s)
    return {"sent": r.sent(s), "passed": passed, "refused": r.count(_STAGE),
            "bound": lim.burst + lim.rate * 0.2 * r.horizon,
            "within_bound": bool(passed <= lim.burst + lim.rate * 0.2 * r.horizon
                                 and _max_in_window(r.arrival[r.passed], 1.0) <= lim.burst + lim.rate)}


def _at_capacity(r, capacity):
    """The same run with another capacity."""
    p = r.params
    return bucket_model(p["limit"].rate, capacity, p["shape"], p["traffic_rate"])


steps("bucket_lab",
      Step(key="defaults", title="A spike against a full bucket",
           values={},
           ask="A bucket refilled at 100 tokens per second, with a capacity of 200, is full when the spike "
               "comes: 400 requests per second for four seconds. Predict how many of the spike's requests pass.",
           answer="About {passed:,} of about {sent:,}: the full capacity of 200 at once, then the refill of 100 "
                  "per second for four seconds, just under the toolbox's bound capacity + rate x t = "
                  "{bound:,}. The other {refused:,} or so get 429.",
           measure=_spike_measures,
           expect={"passed": Expect(600, rel=0.15), "sent": Expect(1_600, rel=0.15),
                   "bound": Expect(600), "within_bound": Expect(True), "refused": Expect(1_000, rel=0.15)}),
      Step(key="capacity-1000", title="A bigger bucket",
           values={"burst": 1_000},
           ask="Raise the capacity to 1,000: 800 more tokens in the full bucket when the spike comes. How many "
               "of the spike's 429s do they save?",
           answer="About {saved}: each extra token lets one more request through, and the 429s fall to about "
                  "{refused}. The capacity decides how big a spike passes; the rate still caps what follows.",
           measure=lambda r: {"refused": r.count(_STAGE),
                              "saved": _at_capacity(r, 200).count(_STAGE) - r.count(_STAGE)},
           expect={"refused": Expect(240, rel=0.15), "saved": Expect(800, rel=0.15)}),
      Step(key="steady", title="Steady traffic",
           values={"shape": "steady"},
           ask="Back to a capacity of 200, switch the traffic to steady: 100 requests per second on average, "
               "at random, against a rate of 100. Will any request get a 429?",
           answer="No: {refused} requests get a 429. The bucket absorbs the random ups and downs around the rate.",
           measure=lambda r: {"refused": r.count(_STAGE)},
           expect={"refused": Expect(0)}),
      Step(key="ramp", title="A ramp",
           values={"shape": "ramp"},
           ask="Switch the traffic to a ramp, from 0 to 200 requests per second over the 20 seconds. When "
               "does the first 429 come?",
           answer="About {first_s:.0f} seconds in: only after the traffic has passed the rate (at 10 seconds) "
                  "and then used up the bucket.",
           measure=lambda r: {"first_s": _first_429(r)},
           expect={"first_s": Expect(16, rel=0.15)}))


def _of(r, name):
    return r.of_key(r.params["names"].index(name))


def _quota_out(r):
    out = quota_out_at(r, r.params["names"].index("free"))
    return float("nan") if out is None else out


def _reaching_stage(r, mask):
    """Requests in ``mask`` that got past their usage plan and quota, so reached the stage."""
    return r.sent(mask) - r.count(USAGE_PLAN, mask) - r.count(_QUOTA, mask)


def _stage_share(r, mask):
    """Share of the requests in ``mask`` reaching the stage that the stage refused."""
    return r.count(_STAGE, mask) / _reaching_stage(r, mask)


steps("usage_plan_lab",
      Step(key="defaults", title="A noisy premium key",
           values={},
           ask="The premium key turns noisy at 12,000 requests per second, and its plan holds it to 8,000. "
               "Will the quiet basic key, at 800 per second, far under its own plan's 1,000, get any 429s? "
               "If so, roughly what share?",
           answer="Yes, about {basic:.0%} of its requests, all from the account. 8,000 from premium plus "
                  "{others:,} from everyone else (50 + 800 + 3,000) is {offered:,} per second, {excess:,} more "
                  "than the account's 10,000; once the account bucket is empty it refuses every client alike, "
                  "about {excess:,} / {offered:,} of each one's requests. (The free key's quota also runs out: 100 requests at "
                  "50 per second last about {free_out:.0f} seconds, and from then on every request with that "
                  "key gets 429.)",
           measure=lambda r: {"basic": r.throttled_fraction(_of(r, "basic")),
                              "basic_at_account": r.count(_ACCOUNT, _of(r, "basic"))
                              == r.sent(_of(r, "basic")) - r.count(_PASSED, _of(r, "basic")),
                              "others": int(r.params["other_apis_rate"] + sum(
                                  v for k, v in ag.QUIET_RATE.items() if k != r.params["noisy"])),
                              "offered": int(ag.CLIENT_PLANS[r.params["noisy"]][0] + r.params["other_apis_rate"]
                                             + sum(v for k, v in ag.QUIET_RATE.items() if k != r.params["noisy"])),
                              "excess": int(ag.CLIENT_PLANS[r.params["noisy"]][0] + r.params["other_apis_rate"]
                                            + sum(v for k, v in ag.QUIET_RATE.items() if k != r.params["noisy"])
                                            - ag.ACCOUNT_RATE),
                              "quiet": (ag.QUIET_RATE["free"], ag.QUIET_RATE["basic"], r.params["other_apis_rate"]),
                              "free_out": _quota_out(r)},
           expect={"basic": Expect(0.16, rel=0.15), "basic_at_account": Expect(True), "others": Expect(3_850),
                   "offered": Expect(11_850), "excess": Expect(1_850), "quiet": Expect((50.0, 800.0, 3_000)),
                   "free_out": Expect(2, rel=0.15)}),
      Step(key="basic-noisy", title="A noisy basic key",
           values={"noisy": "basic"},
           ask="Make basic the noisy client instead of premium. Its plan holds it to 1,000 per second. Does "
               "anyone get a 429 from the account?",
           answer="No: {account} requests of this API and {other_apis} of the other APIs are refused by the "
                  "account, which the traffic never empties. The plan refuses basic's excess before it "
                  "reaches the shared bucket.",
           measure=lambda r: {"account": r.count(_ACCOUNT), "other_apis": r.params["other_refused"][_ACCOUNT]},
           expect={"account": Expect(0), "other_apis": Expect(0)}),
      Step(key="stage-5000", title="A lower stage limit",
           values={"stage_rate": 5_000},
           ask="Back to premium, lower this API's stage limit to 5,000 per second. Who gets the 429s now, "
               "and from which level?",
           answer="This API's stage, from every key. Once premium's plan bucket is empty (its 5,000 tokens "
                  "last 5,000 / (12,000 - 8,000) = 1.25 s), the stage receives about {reach_rate:,.0f} per second "
                  "(premium's 8,000, basic's 800, free's 50) against 5,000, and over the run it refuses about "
                  "{stage_all:.0%} of what reaches it. The basic key loses more than that, about "
                  "{basic_stage:.0%}, and premium about {premium_stage:.0%}: premium's requests, already spaced "
                  "evenly by its own plan's bucket, usually arrive first when a stage token comes back. The "
                  "account refuses nothing ({account} here, {other_apis} for the other APIs).",
           measure=lambda r: {"basic_stage": r.count(_STAGE, _of(r, "basic")) / r.sent(_of(r, "basic")),
                              "premium_stage": _stage_share(r, _of(r, "premium")),
                              "stage_all": _stage_share(r, _np.ones(len(r.arrival), bool)),
                              "reach_rate": _reaching_stage(r, r.arrival >= 1.25) / (r.horizon - 1.25),
                              "basic_more": r.count(_STAGE, _of(r, "basic")) / r.sent(_of(r, "basic"))
                              > _stage_share(r, _of(r, "premium")) + 0.03,
                              "account": r.count(_ACCOUNT), "other_apis": r.params["other_refused"][_ACCOUNT]},
           expect={"basic_stage": Expect(0.5, rel=0.15), "premium_stage": Expect(0.44, rel=0.15),
                   "stage_all": Expect(0.44, rel=0.15), "reach_rate": Expect(8_850, rel=0.05),
                   "basic_more": Expect(True), "account": Expect(0), "other_apis": Expect(0)}),
      Step(key="quota-0", title="A used-up quota",
           values={"free_quota_left": 0},
           ask="Back to a stage limit of 10,000, give the free key 0 requests left of its day's quota. What "
               "share of its requests pass?",
           answer="None ({passed}): every one gets a 429 from the quota ({quota:.0%} of them), whatever room "
                  "the account has, until the quota's day ends.",
           measure=lambda r: {"passed": r.count(_PASSED, _of(r, "free")),
                              "quota": r.count(_QUOTA, _of(r, "free")) / r.sent(_of(r, "free"))},
           expect={"passed": Expect(0), "quota": Expect(1.0)}))


def _edge_over(r):
    """The share over target had the same clients used the edge-optimized endpoint."""
    p = r.params
    e = endpoint_model(p["region"], "edge-optimized", p["connection"], p["target_ms"]).books()
    return e["over target"] / e["sent"]


def _regional_reach_km(r):
    """The farthest distance at which a new connection's three internet round trips meet the target."""
    p = r.params
    per_trip = p["target_ms"] / (ag.HANDSHAKES[p["connection"]] + 1) - ag.HOP_MS
    return per_trip * ag.FIBRE_KM_PER_MS / (2 * ag.INTERNET_STRETCH)


def _sydney(r, endpoint_type):
    return float(r.median[endpoint_type][r.clients.index("Sydney")])


steps("endpoint_lab",
      Step(key="defaults", title="A client in Sydney",
           values={},
           ask="The API is in US East (N. Virginia), edge-optimized, and every request opens a new "
               "connection. From the round trips above the lab, estimate how long a client in Sydney "
               "waits, and whether a Regional endpoint would be faster or slower.",
           answer="About {edge:.0f} ms through the edge: one round trip over the backbone (about {backbone_ms:.0f} "
                  "ms) plus three short ones to the point of presence and a few milliseconds per hop. Slower "
                  "through a Regional endpoint, about {regional:.0f} ms (the lab plots both): all three round "
                  "trips cross the ocean on the internet, about {internet_ms:.0f} ms each.",
           measure=lambda r: {"edge": _sydney(r, "edge-optimized"), "regional": _sydney(r, "regional"),
                              "backbone_ms": ag.round_trip_ms(ag.distance_km("Sydney", "N. Virginia"),
                                                              ag.BACKBONE_STRETCH),
                              "internet_ms": ag.round_trip_ms(ag.distance_km("Sydney", "N. Virginia"),
                                                              ag.INTERNET_STRETCH)},
           expect={"edge": Expect(190, rel=0.15), "regional": Expect(620, rel=0.15), "backbone_ms": Expect(175, abs=3), "internet_ms": Expect(205, abs=3)}),
      Step(key="reused", title="Reused connections",
           values={"endpoint_type": "regional", "connection": "reused"},
           ask="Switch the endpoint type to regional and set the connection to reused: no handshakes, only the request's own round "
               "trip. Is the gap between Regional and edge now larger or smaller than before?",
           answer="Much smaller: a few tens of milliseconds at most (about {gap_ms:.0f} ms for the farthest "
                  "client: one internet round trip against one over the backbone). With no handshakes to "
                  "repeat, the edge saves little.",
           measure=lambda r: {"gap_ms": float(_np.nanmax(_np.abs(r.median["regional"] - r.median["edge-optimized"])))},
           expect={"gap_ms": Expect(25, rel=0.15)}))
