"""A TTL cache in front of a backend: API Gateway's response cache (REST APIs, per stage), and the
same rule for a Lambda authorizer's result cache.

AWS rules the model follows (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-caching.html):
the TTL defaults to 300 s, is at most 3,600 s, and 0 turns caching off; the cache key is the
method plus the parameters chosen as cache keys, so each distinct key has an entry of its own.
A Lambda authorizer caches its policy per token (or identity sources) for its own TTL, also 0 to
3,600 s with 300 s by default
(https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html).

Labelled assumptions (AWS gives no figure, or the model leaves a mechanism out):

* **When the TTL starts.** AWS says responses are cached "for a specified TTL period"; the model
  starts the entry's TTL when the backend's response is stored (``ttl_start="response"``). With
  ``ttl_start="request"`` the TTL runs from the request that missed (the textbook cache of the
  theory check). With a backend that answers at once, both are the same.
* **No request coalescing.** A request for a key whose backend call is still in flight misses
  too and calls the backend itself (AWS documents no coalescing). Every response stores its entry;
  the entry that expires last is kept.
* **Capacity.** Every key's entry fits (the cache's size, 0.5 GB to 237 GB, is not modelled: no
  eviction before the TTL ends).
* A hit is answered in ``hit_latency`` seconds, a miss in the backend's latency.

The books: every request is a hit or a miss, and every miss is one backend call.
"""

from __future__ import annotations

import bisect
import heapq
import math
from dataclasses import dataclass

import numpy as np

from . import traffic
from .validation import check_array, check_choice, check_int, check_number

#: The stage cache's TTL: 300 s by default, at most 3,600 s; 0 turns caching off (api-gateway-caching.html).
TTL_DEFAULT_S = 300.0
TTL_MAX_S = 3_600.0
TTL_STARTS = ("response", "request")


@dataclass(frozen=True)
class CacheResult:
    """One run: per request its arrival, key, whether it hit, its latency and the age of the answer
    it got (0 for a miss: fresh from the backend)."""

    arrivals: np.ndarray
    keys: np.ndarray
    hit: np.ndarray
    latency: np.ndarray
    age: np.ndarray
    horizon: float
    params: dict
    backend_calls: int

    @property
    def misses(self) -> int:
        """Requests that reached the backend."""
        return int(len(self.hit) - self.hit.sum())

    def hit_ratio(self) -> float:
        return float(self.hit.mean()) if len(self.hit) else math.nan

    def backend_rate(self) -> float:
        """Backend calls per second over the run."""
        return self.backend_calls / self.horizon

    def percentiles(self, q=(50, 95, 99)) -> dict:
        """Latency percentiles (seconds) of all requests."""
        if not len(self.latency):
            return {p: math.nan for p in q}
        return dict(zip(q, np.percentile(self.latency, q).tolist()))

    def max_age(self) -> float:
        """The oldest answer served from the cache (seconds since the backend produced it)."""
        return float(self.age.max()) if len(self.age) else 0.0

    def books(self) -> dict:
        """Every request a hit or a miss, and every miss one backend call:
        ``requests == hits + misses`` and ``misses == backend_calls``."""
        n = len(self.hit)
        hits = int(self.hit.sum())
        return {"requests": n, "hits": hits, "misses": int((~self.hit).sum()), "backend_calls": self.backend_calls}


def _one_key(t, lat, ttl, from_request, hit, age, idx):
    """Requests ``t`` (sorted, one key) with backend latencies ``lat``: marks ``hit`` and ``age``
    at positions ``idx``; returns the number of backend calls. The loop visits each miss and each
    stored response once; hits come in runs found by bisection."""
    n, calls = len(t), 0
    filled, expires = -math.inf, -math.inf          # the stored entry: when stored, when it expires
    pending = []                                    # in-flight responses: (stored at, expires)
    i = 0
    while i < n:
        s = t[i]
        while pending and pending[0][0] <= s:       # responses stored by now
            r, e = heapq.heappop(pending)
            if e > expires:
                filled, expires = r, e
        if filled <= s < expires:                   # a run of hits, up to the expiry or the next stored response
            stop = expires if not pending or pending[0][0] > expires else pending[0][0]
            j = bisect.bisect_left(t, stop, i, n)
            j = max(j, i + 1)
            for k in range(i, j):
                hit[idx[k]] = True
                age[idx[k]] = t[k] - filled
            i = j
            continue
        r = s + lat[i]                               # a miss: the backend answers at r
        calls += 1
        start = s if from_request else r
        if start + ttl > r:                          # an entry that is still valid when stored
            heapq.heappush(pending, (r, start + ttl))
        i += 1
    return calls


def simulate_cache(arrivals, keys, *, ttl: float = TTL_DEFAULT_S, backend_latency=0.05, hit_latency: float = 0.005,
                   ttl_start: str = "response", horizon: float | None = None) -> CacheResult:
    """Requests at ``arrivals`` (sorted seconds) for cache ``keys`` (one integer per request),
    through a TTL cache of ``ttl`` seconds (0: no cache) in front of a backend that answers in
    ``backend_latency`` seconds (a number, or one per request). See the module's assumptions."""
    t = check_array("arrivals", arrivals)
    k = np.asarray(keys)
    if k.shape != t.shape or (len(k) and k.dtype.kind not in "iu"):
        raise ValueError(f"keys must hold one whole-number cache key per arrival: got shape {k.shape} "
                         f"and type {k.dtype} for {len(t):,} arrivals")
    ttl = check_number("ttl", ttl, 0, TTL_MAX_S, why="API Gateway's cache TTL: 0 (off) to 3,600 s")
    if np.ndim(backend_latency) == 0:
        lat = np.full(len(t), check_number("backend_latency", backend_latency, 0, 29.0,
                                           why="seconds; API Gateway's default integration timeout is 29 s"))
    else:
        lat = check_array("backend_latency", backend_latency, 0, 29.0, sorted_=False)
        if len(lat) != len(t):
            raise ValueError(f"backend_latency must hold one latency per arrival: got {len(lat):,} "
                             f"for {len(t):,} arrivals")
    hit_latency = check_number("hit_latency", hit_latency, 0, 1.0, why="seconds, an assumption")
    ttl_start = check_choice("ttl_start", ttl_start, TTL_STARTS)
    last = float(t[-1]) if len(t) else 0.0
    horizon = (max(last, 1e-9) if horizon is None else
               check_number("horizon", horizon, last, lo_open=last > 0 or None, why="after the last arrival"))
    hit = np.zeros(len(t), bool)
    age = np.zeros(len(t))
    calls = len(t)                                   # no cache: every request calls the backend
    if ttl > 0 and len(t):
        calls = 0
        order = np.argsort(k, kind="stable")            # by key, each key's requests in time order
        bounds = [0, *(np.flatnonzero(np.diff(k[order])) + 1).tolist(), len(t)]
        ts, ls = t[order].tolist(), lat[order].tolist()
        hit_s, age_s = [False] * len(t), [0.0] * len(t)  # in that order; lists are cheap to set one by one
        for a, b in zip(bounds[:-1], bounds[1:]):
            calls += _one_key(ts[a:b], ls[a:b], ttl, ttl_start == "request", hit_s, age_s, range(a, b))
        hit[order] = hit_s
        age[order] = age_s
    latency = np.where(hit, hit_latency, lat)
    return CacheResult(t, k, hit, latency, age, horizon,
                       {"ttl": ttl, "hit_latency": hit_latency, "ttl_start": ttl_start}, calls)


def zipf_keys(n: int, n_keys: int, skew: float, rng) -> np.ndarray:
    """``n`` cache keys among ``n_keys``: uniform for ``skew`` 0, else Zipf-like (key k drawn with
    weight 1 / (k+1)**skew), as integers 0 to ``n_keys`` - 1."""
    n = check_int("n", n, 0, traffic.MAX_REQUESTS, why="the model's limit on requests")
    n_keys = check_int("n_keys", n_keys, 1, 1_000_000, why="distinct cache keys, the model's limit")
    skew = check_number("skew", skew, 0, 3, why="0 is uniform")
    rng = traffic._rng(rng, "rng")
    return rng.choice(n_keys, size=n, p=key_weights(n_keys, skew))


def hit_ratio_one_key(rate: float, ttl: float) -> float:
    """Theory: one key, Poisson requests at ``rate``, a miss starts a TTL of ``ttl`` at once (the
    backend answers at once). Each cycle is one miss followed by the hits within the TTL, on
    average rate x ttl of them, so the hit ratio is rate*ttl / (1 + rate*ttl)."""
    rate = check_number("rate", rate, 0)
    ttl = check_number("ttl", ttl, 0)
    x = rate * ttl
    return x / (1.0 + x)


def key_weights(n_keys: int, skew: float) -> np.ndarray:
    """Each key's share of the requests, as :func:`zipf_keys` draws them: weight 1 / (k+1)**skew,
    normalised (uniform for ``skew`` 0)."""
    n_keys = check_int("n_keys", n_keys, 1, 1_000_000, why="distinct cache keys, the model's limit")
    skew = check_number("skew", skew, 0, 3, why="0 is uniform")
    w = 1.0 / np.arange(1, n_keys + 1) ** skew
    return w / w.sum()


def hit_ratio_keys(rate: float, ttl: float, n_keys: int = 1, skew: float = 0.0) -> float:
    """Theory, steady state: Poisson requests at ``rate`` spread over ``n_keys`` keys with shares
    :func:`key_weights`; key k sees rate x p_k and hits with :func:`hit_ratio_one_key` at that rate,
    so the overall hit ratio is the sum over keys of p_k x hit_ratio_one_key(rate x p_k, ttl)
    (the same assumptions: the TTL starts at the miss, the backend answers at once)."""
    rate = check_number("rate", rate, 0)
    ttl = check_number("ttl", ttl, 0)
    p = key_weights(n_keys, skew)
    x = rate * p * ttl
    return float((p * x / (1.0 + x)).sum())
