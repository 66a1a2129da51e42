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
            f"Over the 20 s at most {burst:,} + {rate:,} x 20 = {burst + 20 * rate:,} can pass.")
    return plots.bucket_figure(r), text


@register
def bucket_lab() -> Lab:
    """A token bucket (rate, burst) in front of steady, spiky or ramping traffic."""
    return Lab({"rate": _int("rate (tokens/s)", 100, 10, 500, 10),
                "burst": _int("burst (bucket size)", 200, 10, 1_000, 10),
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
    text = (f"Noisy client: {noisy} at {noisy_rate:,}/s; other APIs {other_apis_rate:,}/s; stage limit "
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
