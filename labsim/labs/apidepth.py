"""Labs for API Gateway in depth: the integration timeout (504s, a retrying caller) and the
response cache (TTL, keys, skew)."""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import apicache as ac, apitimeout as at, plots, traffic
from ..validation import check_choice, check_int, check_number
from .base import Lab, dropdown as _drop, int_slider as _int, register

__all__ = ["timeout_lab", "cache_lab"]

#: The timeout lab's fixed traffic: Poisson requests at 20 per second for 60 s, 1 s pause before a retry.
TIMEOUT_RATE, TIMEOUT_HORIZON, TIMEOUT_BACKOFF = 20.0, 60.0, 1.0
LATENCY_CVS = (0.5, 1.0, 1.5, 2.0, 3.0)

#: The cache lab's fixed parts (labelled assumptions): 10 minutes from an empty cache; the
#: backend answers in a lognormal time of mean 200 ms (CV 1); a hit is answered in 5 ms.
CACHE_HORIZON = 600.0
BACKEND_MEAN, BACKEND_CV, HIT_LATENCY = 0.2, 1.0, 0.005
TTLS = (0, 10, 60, 300, 900, 3_600)
KEYS = (1, 10, 100, 1_000, 10_000)
SKEWS = (0.0, 1.0, 1.5)


def timeout_model(api_type, timeout, mean_latency, latency_cv, retries):
    """An HTTP API runs at its maximum (and default) timeout, 30 s, whatever the REST control says (the
    control is still checked)."""
    api_type = check_choice("api_type", api_type, at.API_TYPES)
    timeout = at.check_timeout("REST", timeout)
    used = at.HTTP_TIMEOUT_S if api_type == "HTTP" else timeout
    return at.simulate_timeouts(rate=TIMEOUT_RATE, horizon=TIMEOUT_HORIZON, api_type=api_type, timeout=used,
                                latency_kind="lognormal", mean_latency=mean_latency, latency_cv=latency_cv,
                                retries=retries, backoff=TIMEOUT_BACKOFF, seed=0)


def timeout_view(r, api_type, timeout, mean_latency, latency_cv, retries):
    p = at.p_timeout("lognormal", mean_latency, latency_cv, r.timeout)
    w = r.wait_percentiles((50, 99))
    b = r.books()
    which = ("an HTTP API at its maximum, 30 s" if api_type == "HTTP" else f"a REST API set to {r.timeout:g} s")
    text = (f"Integration timeout of {which}; backend latency lognormal, mean {mean_latency:g} s, CV {latency_cv:g}; "
            f"{b['requests']:,} requests in {TIMEOUT_HORIZON:g} s, "
            + (f"up to {retries} retr{'y' if retries == 1 else 'ies'} after a 504. " if retries else "no retries. ")
            + f"<b>{100 * r.share_504():.1f}%</b> of attempts got a 504 (theory P(latency &gt; timeout) = "
            f"{100 * p:.1f}%); <b>{b['given_up']:,}</b> requests gave up. The backend ran <b>{b['attempts']:,}</b> "
            f"executions for {b['requests']:,} requests ({100 * r.wasted_work():.0f}% of its busy time on answers "
            f"nobody received). Callers waited {w[50]:.1f} s at the median, {w[99]:.1f} s at p99.")
    return plots.timeout_figure(r, p), text


@register
def timeout_lab() -> Lab:
    """A slow integration behind API Gateway's integration timeout, with a caller that retries 504s."""
    return Lab({"api_type": _drop("API type", list(at.API_TYPES), "REST"),
                "timeout": _int("REST timeout (s)", 29, 1, 29, 1),
                "mean_latency": _int("mean latency (s)", 8, 1, 20, 1),
                "latency_cv": _drop("latency spread (CV)", list(LATENCY_CVS), 1.5),
                "retries": _int("caller's retries after a 504", 0, 0, 3, 1)},
               timeout_model, timeout_view,
               "Histogram of the backend latency of every attempt against the integration timeout, with the 504s "
               "beyond it; backend executions running against requests callers wait for, over time; and where "
               "every request ended")


def cache_model(ttl, n_keys, skew, rate):
    ttl = check_number("ttl", ttl, 0, ac.TTL_MAX_S, why="API Gateway's cache TTL: 0 (off) to 3,600 s")
    n_keys = check_int("n_keys", n_keys, 1, 10_000, why="distinct cache keys in the lab")
    skew = check_number("skew", skew, 0, 3, why="0 is uniform")
    rate = check_number("rate", rate, 1, 50, why="requests per second in the lab")
    rng = traffic.make_rng(0)
    t = traffic.poisson(rate, CACHE_HORIZON, rng)
    keys = ac.zipf_keys(len(t), n_keys, skew, rng)
    lat = traffic.durations("lognormal", BACKEND_MEAN, len(t), rng, BACKEND_CV)
    r = ac.simulate_cache(t, keys, ttl=ttl, backend_latency=lat, hit_latency=HIT_LATENCY, horizon=CACHE_HORIZON)
    return dataclasses.replace(r, params={**r.params, "n_keys": n_keys, "skew": skew, "rate": rate,
                                          "backend_latency": lat})


def cache_view(r, ttl, n_keys, skew, rate):
    steady = ac.hit_ratio_keys(rate, ttl, n_keys, skew)
    base = no_cache_percentiles(r)
    pc = r.percentiles()
    shape = "uniform" if skew == 0 else f"Zipf-skewed (exponent {skew:g})"
    text = (f"{rate:g} requests/s over {n_keys:,} keys ({shape}), TTL {ttl:,} s, for {CACHE_HORIZON / 60:.0f} minutes "
            f"from an empty cache: hit ratio <b>{100 * r.hit_ratio():.1f}%</b> (steady-state theory "
            f"{100 * steady:.1f}%); the backend took <b>{r.backend_rate():.2f}</b> calls/s. Latency p50 "
            f"{1000 * pc[50]:.0f} ms, p99 {1000 * pc[99]:.0f} ms (no cache: {1000 * base[50]:.0f} and "
            f"{1000 * base[99]:.0f} ms). Oldest answer served from the cache: <b>{r.max_age():,.0f} s</b>.")
    return plots.cache_figure(r, base, steady, rate), text


def no_cache_percentiles(r, q=(50, 95, 99)) -> dict:
    """Latency percentiles of the same requests with no cache: each at its own backend latency
    (the model's run keeps them in ``params["backend_latency"]``)."""
    return dict(zip(q, np.percentile(r.params["backend_latency"], q).tolist()))


@register
def cache_lab() -> Lab:
    """API Gateway's response cache: requests over many keys, a TTL, from an empty cache."""
    return Lab({"ttl": _drop("cache TTL", [("0 s (off)", 0), ("10 s", 10), ("60 s", 60), ("300 s (default)", 300),
                                            ("900 s", 900), ("3,600 s (maximum)", 3_600)], 300),
                "n_keys": _drop("distinct cache keys", [(f"{k:,}", k) for k in KEYS], 1_000),
                "skew": _drop("popularity of keys", [("uniform", 0.0), ("skewed (Zipf 1)", 1.0),
                                                     ("very skewed (Zipf 1.5)", 1.5)], 0.0),
                "rate": _int("requests per second", 20, 5, 50, 5)},
               cache_model, cache_view,
               "Hit ratio over time from an empty cache against the steady-state theory; backend calls per second "
               "against requests per second; latency percentiles with and without the cache; and the age of the "
               "answers the cache served")


# --- Try this (the chapter's guided steps; labsim.labs.trythis) -----------------------------------
from .trythis import Expect, Step, steps  # noqa: E402  (after the factories: one block per module)


def _p_theory(r):
    p = r.params
    return at.p_timeout("lognormal", p["mean_latency"], p["latency_cv"], r.timeout)


steps("timeout_lab",
      Step(key="defaults", title="A slow report behind the REST default",
           values={},
           ask="A report takes 8 s on average, with a long tail (CV 1.5), behind a REST API at its default "
               "29 s timeout; callers do not retry. Predict the share of requests that get a 504, and what "
               "the backend does with them.",
           answer="About {share:.1%} get a 504, close to the theory's P(latency > 29 s) = {theory:.1%}. The "
                  "backend still finishes every one of them: about {wasted:.0%} of its busy time goes on answers "
                  "nobody receives.",
           measure=lambda r: {"share": r.share_504(), "theory": _p_theory(r), "wasted": r.wasted_work()},
           expect={"share": Expect(0.046, rel=0.15), "theory": Expect(0.042, rel=0.15),
                   "wasted": Expect(0.26, rel=0.15)}),
      Step(key="timeout-10", title="A tighter timeout",
           values={"timeout": 10},
           ask="Lower the REST API's timeout to 10 s. Does the backend do less work?",
           answer="No. About {share:.0%} of requests now get a 504 (theory {theory:.0%}), but the backend runs "
                  "the same {attempts:,} executions: a timeout only stops the waiting, not the work, and about "
                  "{wasted:.0%} of the backend's time is now wasted.",
           measure=lambda r: {"share": r.share_504(), "theory": _p_theory(r), "attempts": r.attempts,
                              "wasted": r.wasted_work()},
           expect={"share": Expect(0.23, rel=0.15), "theory": Expect(0.23, rel=0.15), "attempts": Expect(1_214),
                   "wasted": Expect(0.64, rel=0.15)}),
      Step(key="retries-2", title="Callers that retry",
           values={"timeout": 10, "retries": 2},
           ask="Keep 10 s and let callers retry a 504 twice. Predict how many backend executions each request "
                  "now costs, and how many requests still fail.",
           answer="About {per_request:.2f} executions per request (theory (1 - p\u00b3) / (1 - p) = {theory:.2f}), "
                  "and only {n_gave_up} of {requests:,} requests, about {gave_up:.1%}, give up. The theory's p\u00b3 "
                  "is {p3:.1%}, about {expected:.0f} requests, give or take {se:.0f} (one standard error): this run "
                  "drew fewer by chance. Each retry is a new execution while the timed-out one still runs: "
                  "retries multiply the backend's load.",
           measure=lambda r: {"per_request": r.attempts / r.requests, "gave_up": r.share_given_up(),
                              "theory": (1 - _p_theory(r) ** 3) / (1 - _p_theory(r)),
                              "n_gave_up": r.books()["given_up"], "requests": r.requests,
                              "p3": _p_theory(r) ** 3, "expected": r.requests * _p_theory(r) ** 3,
                              "se": (r.requests * _p_theory(r) ** 3 * (1 - _p_theory(r) ** 3)) ** 0.5},
           expect={"per_request": Expect(1.28, rel=0.15), "theory": Expect(1.29, rel=0.15),
                   "gave_up": Expect(0.0074, rel=0.15), "n_gave_up": Expect(9), "requests": Expect(1_214),
                   "p3": Expect(0.012, rel=0.15), "expected": Expect(14, rel=0.15), "se": Expect(4, rel=0.15)}),
      Step(key="http", title="An HTTP API",
           values={"api_type": "HTTP"},
           ask="Back to no retries, switch to an HTTP API (its timeout is 30 s and cannot be changed). Does "
               "the extra second help?",
           answer="Hardly: about {share:.1%} of requests still get a 504 (theory {theory:.1%}). A backend whose "
                  "tail passes 30 s needs to answer asynchronously, not a longer timeout.",
           measure=lambda r: {"share": r.share_504(), "theory": _p_theory(r)},
           expect={"share": Expect(0.042, rel=0.15), "theory": Expect(0.039, rel=0.15)}),
      Step(key="cv-0-5", title="A steadier backend",
           values={"latency_cv": 0.5},
           ask="Back to REST at 29 s, make the latency steadier (CV 0.5) with the same 8 s mean. How many "
               "504s now?",
           answer="{n504} requests get a 504 (theory {theory:.2%}): the share of 504s is decided by the tail "
                  "of the latency, not by its mean.",
           measure=lambda r: {"n504": r.books()["attempts_504"], "theory": _p_theory(r)},
           expect={"n504": Expect(0), "theory": Expect(0.0015, rel=0.15)}))


def _pct(r, q):
    return r.percentiles((q,))[q]


steps("cache_lab",
      Step(key="defaults", title="The default TTL",
           values={},
           ask="20 requests per second spread evenly over 1,000 cache keys, the default TTL of 300 s, starting "
               "from an empty cache. Predict the hit ratio over the first ten minutes.",
           answer="About {hit:.0%} (the steady state would be {steady:.0%}): each key sees a request every 50 s, "
                  "so about six hits follow each miss. The backend takes about {calls:.1f} calls per second "
                  "instead of 20.",
           measure=lambda r: {"hit": r.hit_ratio(), "steady": ac.hit_ratio_keys(20, 300, 1_000, 0.0),
                              "calls": r.backend_rate()},
           expect={"hit": Expect(0.84, rel=0.15), "steady": Expect(0.86, rel=0.15), "calls": Expect(3.3, rel=0.15)}),
      Step(key="ttl-0", title="TTL 0",
           values={"ttl": 0},
           ask="Set the TTL to 0. What changes?",
           answer="Caching is off: hit ratio {hit:.0%}, the backend takes every request (about {calls:.0f} per "
                  "second) and the median latency is about {p50_ms:.0f} ms, the backend's own: its latency is lognormal "
                  "with a mean of 200 ms and a coefficient of variation of 1, whose median is 200 / \u221a2 "
                  "\u2248 {median_ms:.0f} ms.",
           measure=lambda r: {"hit": r.hit_ratio(), "calls": r.backend_rate(), "p50_ms": 1000 * _pct(r, 50),
                              "median_ms": 1000 * BACKEND_MEAN / (1 + BACKEND_CV ** 2) ** 0.5},
           expect={"hit": Expect(0.0), "calls": Expect(20, rel=0.15), "p50_ms": Expect(143, rel=0.15),
                   "median_ms": Expect(141, rel=0.01)}),
      Step(key="keys-10000", title="Many keys",
           values={"n_keys": 10_000},
           ask="Back to 300 s, spread the same requests over 10,000 keys (say a query string parameter with "
               "many values in the cache key). Predict the hit ratio.",
           answer="About {hit:.0%} (steady state {steady:.0%}): each key now sees a request only every 500 s, "
                  "longer than the TTL, so most requests miss; the backend takes about {calls:.0f} calls per "
                  "second.",
           measure=lambda r: {"hit": r.hit_ratio(), "steady": ac.hit_ratio_keys(20, 300, 10_000, 0.0),
                              "calls": r.backend_rate()},
           expect={"hit": Expect(0.32, rel=0.15), "steady": Expect(0.375, rel=0.15), "calls": Expect(14, rel=0.15)}),
      Step(key="skewed", title="Popular keys",
           values={"n_keys": 10_000, "skew": 1.0},
           ask="Keep 10,000 keys but make their popularity skewed (a few keys get most requests, as real "
               "traffic does). Up or down?",
           answer="Up, to about {hit:.0%}: the popular keys stay in the cache and hit almost always; the rare "
                  "ones miss, but they carry few requests.",
           measure=lambda r: {"hit": r.hit_ratio()},
           expect={"hit": Expect(0.69, rel=0.15)}),
      Step(key="ttl-3600", title="The maximum TTL",
           values={"ttl": 3_600},
           ask="Back to 1,000 uniform keys, set the TTL to its maximum, 3,600 s. What do you gain, and what "
               "does it cost?",
           answer="The hit ratio rises to about {hit:.0%} and the backend falls to about {calls:.1f} calls per "
                  "second, but answers get old: the oldest served here is about {oldest:.0f} s old (the whole "
                  "run), and an entry may be served for up to an hour after the data behind it changed.",
           measure=lambda r: {"hit": r.hit_ratio(), "calls": r.backend_rate(), "oldest": r.max_age()},
           expect={"hit": Expect(0.92, rel=0.15), "calls": Expect(1.7, rel=0.15), "oldest": Expect(600, rel=0.15)}),
      Step(key="authorizer", title="A Lambda authorizer's cache",
           values={"n_keys": 100},
           ask="Read the lab as a Lambda authorizer with result caching: the keys are 100 callers' tokens, the "
               "backend is the authorizer function, TTL 300 s. How often does the authorizer run?",
           answer="About {calls:.2f} times per second for 20 requests per second (each token once per TTL: "
                  "100 / 300 s = 0.33), so about {miss:.0%} of requests wait for it; the p95 latency stays "
                  "at the cache's {p95_ms:.0f} ms.",
           measure=lambda r: {"calls": r.backend_rate(), "miss": 1 - r.hit_ratio(), "p95_ms": 1000 * _pct(r, 95)},
           expect={"calls": Expect(0.35, rel=0.15), "miss": Expect(0.017, rel=0.15), "p95_ms": Expect(5, rel=0.15)}))
