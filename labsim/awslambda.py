"""Synchronous Lambda invocations under concurrency limits, throttling and scaling.

The model
---------
Requests for the *function under study* (source 0) and, optionally, for the account's *other
functions* (source 1) arrive over ``[0, horizon)``. A request runs at once if the pool it draws
from has a free unit of concurrency, and is throttled (HTTP 429, ``TooManyRequestsException``,
"Rate exceeded") otherwise. Nothing waits: synchronous callers get the error and must retry
themselves (see ``labsim.retry``).

Pools
  * no reserved concurrency: both sources share the account limit (default 1,000);
  * ``reserved=R``: the function gets a pool of exactly R (a floor *and* a cap), the other
    functions share the ``limit - R`` unreserved. AWS keeps at least 100 unreserved.

Scaling (how fast new execution environments may be created)
  * ``"none"``: instantly, up to the pool size (the steady state; matches Erlang B);
  * ``"burst"``: the course notes' model, account-wide: an initial burst of 3,000 / 1,000 / 500
    environments by Region, then 500 more each minute;
  * ``"per_function"``: today's model (since November 2023): each function may add 1,000
    environments every 10 s, modelled as a token bucket of 1,000 refilled at 100 per second.
    Other functions have their own buckets and are not limited here.

Requests per second
  Lambda also caps each function's invocation *rate* at 10 x the concurrency available to it:
  10 x the account limit for a function without a reservation, 10 x its reserved concurrency for
  one with (throttle reasons ``FunctionInvocationRateLimitExceeded`` and
  ``ReservedFunctionInvocationRateLimitExceeded``). AWS documents neither the cap's window nor
  its burst. **Assumption:** the cap is a token bucket (:mod:`labsim.tokenbucket`) refilled at
  10 x concurrency per second, holding ``rate_cap_burst`` seconds of that rate (default 0.1 s,
  i.e. as many tokens as the concurrency), full at the start; it is checked *before* the
  concurrency limit, so a request refused for concurrency has already spent its token. The
  account's other functions are many functions, each below its own cap, and are not capped here.

Every throttled request has one reason (``SyncResult.reason``): ``RATE`` (the requests-per-second
cap), ``CONCURRENCY`` (no free concurrency in its pool) or ``SCALING`` (a new environment was
needed and the scaling model did not allow one yet).

Environments stay warm for the whole run (no idle reaping), so a new one is created exactly
when every warm one of that function is busy; its first request is a cold start.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from . import tokenbucket, traffic
from .outcomes import Outcome
from .validation import check_array, check_bool, check_choice, check_grid, check_int, check_number

# --- AWS numbers, each with its source -------------------------------------------------------
#: Default account concurrency per Region. https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html
DEFAULT_ACCOUNT_LIMIT = 1_000
#: Reserved concurrency must leave this much unreserved.
#: https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
MIN_UNRESERVED = 100
#: Lambda timeout: default 3 s, maximum 900 s. https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html
DEFAULT_TIMEOUT_S = 3
MAX_TIMEOUT_S = 900
#: Current scaling rate: 1,000 execution environments every 10 s per function.
#: https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html
SCALING_ENVS_PER_10S = 1_000
#: When the per-function scaling rate replaced the burst quotas (year, month): the AWS News Blog,
#: https://aws.amazon.com/blogs/aws/aws-lambda-functions-now-scale-12-times-faster-when-handling-high-volume-requests/
SCALING_CHANGED = (2023, 11)
#: The notes' (pre-November-2023) model: initial burst quota by Region (the notes), then +500 per
#: minute (the blog post above describes the old rule).
BURST_STEP_PER_MINUTE = 500
BURST_QUOTAS = {
    "us-west-2": 3_000, "us-east-1": 3_000, "eu-west-1": 3_000,
    "ap-northeast-1": 1_000, "eu-central-1": 1_000, "us-east-2": 1_000,
    "other": 500,
}
REGION_NAMES = {
    "us-west-2": "US West (Oregon)", "us-east-1": "US East (N. Virginia)",
    "eu-west-1": "Europe (Ireland)", "ap-northeast-1": "Asia Pacific (Tokyo)",
    "eu-central-1": "Europe (Frankfurt)", "us-east-2": "US East (Ohio)",
    "other": "any other Region",
}
#: Invocation requests per second are capped at 10 x the concurrency available to the function.
#: https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html
RPS_PER_CONCURRENCY = 10
#: ASSUMPTION (AWS documents no window or burst for the cap): the bucket holds this many seconds
#: of the capped rate, i.e. as many tokens as the concurrency available.
RATE_CAP_BURST_S = 0.1
#: Synchronous and asynchronous payload limits (request and response), bytes: 6 MB and 1 MB.
#: https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
SYNC_PAYLOAD_MB = 6
ASYNC_PAYLOAD_MB = 1
#: Simulation bound on the account limit (AWS raises limits on request; we stop here).
MAX_ACCOUNT_LIMIT = 100_000
SCALING_MODELS = ("none", "burst", "per_function")

FUNCTION, OTHER = 0, 1

# Why a request was throttled (``SyncResult.reason``); NOT_THROTTLED for the others.
NOT_THROTTLED, RATE, CONCURRENCY, SCALING = range(4)


def throttle_reason_name(reason: int, reserved: bool) -> str:
    """The ``Reason`` AWS puts in a TooManyRequestsException for a throttle of this kind.

    Rate and concurrency throttles have documented reasons (API_Invoke.html); for a scaling
    throttle AWS documents none in particular, so the model says "scaling rate".
    """
    reason = check_choice("reason", reason, (NOT_THROTTLED, RATE, CONCURRENCY, SCALING))
    reserved = check_bool("reserved", reserved)
    if reason == RATE:
        return "ReservedFunctionInvocationRateLimitExceeded" if reserved else "FunctionInvocationRateLimitExceeded"
    if reason == CONCURRENCY:
        return ("ReservedFunctionConcurrentInvocationLimitExceeded" if reserved
                else "ConcurrentInvocationLimitExceeded")
    if reason == SCALING:
        return "scaling rate (no documented reason)"
    return "not throttled"


def burst_cap(t, region: str, limit: int):
    """Environments the notes' model allows account-wide by time ``t`` (seconds)."""
    t = check_grid("t", t, 0)
    region = check_choice("region", region, tuple(BURST_QUOTAS))
    limit = check_int("limit", limit, 1, MAX_ACCOUNT_LIMIT, why="the account concurrency limit")
    cap = BURST_QUOTAS[region] + BURST_STEP_PER_MINUTE * np.floor(t / 60.0)
    return np.minimum(cap, limit)


def per_function_cap(t, limit: int):
    """Most environments one function can have by time ``t`` under today's scaling rate."""
    t = check_grid("t", t, 0)
    limit = check_int("limit", limit, 1, MAX_ACCOUNT_LIMIT, why="the account concurrency limit")
    return np.minimum(SCALING_ENVS_PER_10S + SCALING_ENVS_PER_10S / 10.0 * t, limit)


@dataclass(frozen=True)
class SyncResult:
    """Per-request arrays (sorted by arrival) and summaries of one synchronous run."""

    arrival: np.ndarray      #: arrival time, s
    duration: np.ndarray     #: how long the request runs if admitted, s
    source: np.ndarray       #: 0 = the function under study, 1 = the account's other functions
    outcome: np.ndarray      #: ``Outcome`` codes (SUCCEEDED, THROTTLED or IN_FLIGHT)
    cold_start: np.ndarray   #: True where the request created a new execution environment
    reason: np.ndarray       #: why a throttled request was refused: RATE, CONCURRENCY or SCALING
    horizon: float
    warmup: float
    params: dict = field(default_factory=dict)

    # -- counting -----------------------------------------------------------------------------
    def count(self, outcome: Outcome, source: int | None = FUNCTION, after_warmup: bool = False) -> int:
        m = self.outcome == int(outcome)
        if source is not None:
            m &= self.source == source
        if after_warmup:
            m &= self.arrival >= self.warmup
        return int(m.sum())

    def sent(self, source: int | None = FUNCTION, after_warmup: bool = False) -> int:
        m = np.ones(len(self.arrival), bool) if source is None else self.source == source
        if after_warmup:
            m &= self.arrival >= self.warmup
        return int(m.sum())

    def books(self, source: int | None = None) -> dict:
        """Every request in exactly one outcome, every throttled one with exactly one reason:

        ``sent == succeeded + throttled + in_flight`` and
        ``throttled == throttled_rate + throttled_concurrency + throttled_scaling``.
        """
        d = {"sent": self.sent(source)}
        for o in (Outcome.SUCCEEDED, Outcome.THROTTLED, Outcome.IN_FLIGHT):
            d[o.name.lower()] = self.count(o, source)
        for k, name in ((RATE, "rate"), (CONCURRENCY, "concurrency"), (SCALING, "scaling")):
            d[f"throttled_{name}"] = self.throttled_by(k, source)
        return d

    def throttled_by(self, reason: int, source: int | None = FUNCTION, after_warmup: bool = False) -> int:
        """Throttled requests with this reason (RATE, CONCURRENCY or SCALING)."""
        m = (self.outcome == Outcome.THROTTLED) & (self.reason == reason)
        if source is not None:
            m &= self.source == source
        if after_warmup:
            m &= self.arrival >= self.warmup
        return int(m.sum())

    # -- throttling ---------------------------------------------------------------------------
    def throttled_fraction(self, source: int = FUNCTION) -> float:
        """Throttled share of the requests that arrived after the warm-up."""
        n = self.sent(source, after_warmup=True)
        return self.count(Outcome.THROTTLED, source, after_warmup=True) / n if n else float("nan")

    def throttled_fraction_ci(self, source: int = FUNCTION, batches: int = 20):
        """(estimate, standard error) by batch means over the post-warm-up window.

        The window is cut into ``batches`` equal time slices; the standard error is the standard
        deviation of the per-slice fractions over sqrt(batches). Slices longer than a few
        durations are close to independent for a loss system.
        """
        m = (self.source == source) & (self.arrival >= self.warmup)
        a = self.arrival[m]
        thr = self.outcome[m] == Outcome.THROTTLED
        if len(a) == 0:
            return float("nan"), float("nan")
        edges = np.linspace(self.warmup, self.horizon, batches + 1)
        k = np.clip(np.searchsorted(edges, a, side="right") - 1, 0, batches - 1)
        n = np.bincount(k, minlength=batches)
        t = np.bincount(k, weights=thr, minlength=batches)
        ok = n > 0
        frac = t[ok] / n[ok]
        se = float(frac.std(ddof=1) / math.sqrt(ok.sum())) if ok.sum() > 1 else float("nan")
        return float(thr.mean()), se

    # -- concurrency over time ------------------------------------------------------------------
    def concurrency(self, grid, source: int | None = FUNCTION, wanted: bool = False) -> np.ndarray:
        """Executions running at each time in ``grid`` (right-continuous count).

        ``wanted=True`` counts throttled requests too: the concurrency the traffic would use if
        nothing were refused.
        """
        m = np.ones(len(self.arrival), bool) if wanted else self.outcome != Outcome.THROTTLED
        if source is not None:
            m &= self.source == source
        start = self.arrival[m]                       # already sorted
        return traffic.in_progress(start, start + self.duration[m], grid)

    def rate_series(self, edges, outcome: Outcome | None = None, source: int | None = FUNCTION) -> np.ndarray:
        """Requests per second in each bin of ``edges`` (all of them, or one outcome)."""
        m = np.ones(len(self.arrival), bool) if outcome is None else self.outcome == int(outcome)
        if source is not None:
            m &= self.source == source
        counts, _ = np.histogram(self.arrival[m], bins=edges)
        return counts / np.diff(edges)

    def environments(self, grid, source: int = FUNCTION) -> np.ndarray:
        """Execution environments created by each time in ``grid``."""
        m = self.cold_start & (self.source == source)
        return np.searchsorted(self.arrival[m], np.asarray(grid, float), side="right")

    @property
    def peak_concurrency(self) -> int:
        grid = self.arrival[(self.outcome != Outcome.THROTTLED) & (self.source == FUNCTION)]
        return int(self.concurrency(grid).max()) if len(grid) else 0


# --- engines -------------------------------------------------------------------------------------
def _loss_fixed(t: np.ndarray, d: float, c: int) -> np.ndarray:
    """Admission mask for a loss pool of size ``c`` with one fixed duration ``d`` (vectorised).

    With equal durations, requests end in the order they started, so the k-th admission (k > c)
    is the first arrival after the (k-1)-th that comes no earlier than the end of the (k-c)-th.
    Writing idx_k - k = max(s_k - k, idx_{k-1} - (k-1)) turns a block of c admissions into one
    ``searchsorted`` plus a running maximum.
    """
    n = len(t)
    admitted = np.zeros(n, bool)
    if c == 0 or n == 0:
        return admitted
    first = min(c, n)
    idx = np.arange(first)
    admitted[idx] = True
    last_c = idx                       # indices of the most recent (up to c) admissions
    steps = np.arange(1, c + 1)
    while len(last_c) == c and last_c[-1] < n - 1:
        s = np.searchsorted(t, t[last_c] + d, side="left")
        nxt = np.maximum.accumulate(np.maximum(s - steps, last_c[-1])) + steps
        nxt = nxt[nxt < n]
        if len(nxt) == 0:
            break
        admitted[nxt] = True
        last_c = np.concatenate([last_c[len(nxt):], nxt])
    return admitted


def _loss_heap(t: np.ndarray, end: np.ndarray, c: int):
    """Admission and cold-start masks for a loss pool of size ``c``, any durations.

    The heap holds each execution environment's next free time. A request is admitted iff an
    environment is free (smallest free time <= arrival: the tie rule, as in :func:`_loss_fixed`)
    or the pool has room for one more, which is then created: a cold start.
    """
    n = len(t)
    admitted = np.zeros(n, bool)
    cold = np.zeros(n, bool)
    if c == 0 or n == 0:
        return admitted, cold
    tl, el = t.tolist(), end.tolist()
    h: list = []
    new = []
    i = 0
    while i < n and len(h) < c:           # filling up: every request is admitted
        if h and h[0] <= tl[i]:
            heapq.heapreplace(h, el[i])
        else:
            heapq.heappush(h, el[i])
            new.append(i)
        i += 1
    rep = heapq.heapreplace
    thr = []
    h0 = h[0]
    for k, a, e in zip(range(i, n), tl[i:], el[i:]):   # full pool: reuse the earliest-free one
        if h0 <= a:
            rep(h, e)
            h0 = h[0]
        else:
            thr.append(k)
    admitted[:] = True
    admitted[thr] = False
    cold[new] = True
    return admitted, cold


def _scaling_rule(scaling: str, region: str, limit: int):
    """The scaling model as a rule ``allow(a, s, made)``: may source ``s`` create a new execution
    environment at time ``a``, with ``made`` created so far by both sources? None: always
    (``"none"``). The rule is asked only when every warm environment of ``s`` is busy."""
    if scaling == "burst":                # the notes: account-wide burst quota, then +500 a minute
        burst0, step = BURST_QUOTAS[region], BURST_STEP_PER_MINUTE

        def burst(a, s, made):
            return made < min(limit, burst0 + step * (a // 60.0))
        return burst
    if scaling == "per_function":         # today: 1,000 per 10 s for the function under study
        take = tokenbucket.TokenBucket(SCALING_ENVS_PER_10S / 10.0, SCALING_ENVS_PER_10S).take

        def per_function(a, s, made):
            return s != FUNCTION or take(a)
        return per_function
    return None


def _general(t, end, source, pool_size, scaling, region, limit, fifo=False):
    """Exact event loop for scaling limits: per-function environments, shared pools.

    One kind of event, an arrival, with three outcomes in this order: refused because its pool is
    full (``CONCURRENCY``); refused because it needs a new environment and the scaling rule
    (:func:`_scaling_rule`; today's model: :class:`labsim.tokenbucket.TokenBucket` of 1,000 refilled
    at 100 per second) does not allow one yet (``SCALING``); admitted (a cold start if it made a new
    environment). Keeps, per source, the busy executions' end times (so concurrency is exact) and
    the number of environments. Returns (admitted, cold_start, reason). The end times live in
    a heap; with ``fifo=True`` (each source's durations are all equal, so its executions end in
    the order they started) a deque does the same job at half the cost.
    """
    n = len(t)
    admitted = np.zeros(n, bool)
    cold = np.zeros(n, bool)
    reason = np.zeros(n, np.int8)
    if fifo:
        busy = (deque(), deque())         # end times of running executions, per source
        push, pop = deque.append, deque.popleft
    else:
        busy = ([], [])
        push, pop = heapq.heappush, heapq.heappop
    envs = [0, 0]
    allow = _scaling_rule(scaling, region, limit)
    shared = pool_size[1] == 0            # no reservation: both sources draw from pool 0
    cap = (pool_size[0], pool_size[0]) if shared else pool_size
    made = 0                              # environments of both sources (the burst counts both)
    adm, new, full, slow = [], [], [], []  # indices: admitted, cold start, refused: pool full, scaling
    for i, a, e, s in zip(range(n), t.tolist(), end.tolist(), source.tolist()):
        q = busy[s]
        while q and q[0] <= a:
            pop(q)
        in_pool = len(q)
        if shared:
            o = busy[1 - s]
            while o and o[0] <= a:
                pop(o)
            in_pool += len(o)
        if in_pool >= cap[s]:
            full.append(i)                # pool full: throttled
            continue
        if len(q) >= envs[s]:             # every warm environment busy: need a new one
            if allow is not None and not allow(a, s, made):
                slow.append(i)
                continue
            envs[s] += 1
            made += 1
            new.append(i)
        push(q, e)
        adm.append(i)
    admitted[adm] = True                  # numpy stores once per array, not once per request
    cold[new] = True
    reason[full] = CONCURRENCY
    reason[slow] = SCALING
    return admitted, cold, reason


def _cold_starts(t, end, admitted, source, pool_size=(math.inf, math.inf), ends_sorted: bool = False):
    """Cold starts when environments are never reaped: concurrency reaching a new maximum.

    ``ends_sorted``: the end times are already in order (one source, one fixed duration).
    A source's concurrency never exceeds its pool, so once it reaches ``pool_size[source]`` no
    environment is created again: the count is made on a growing prefix until that happens.
    """
    cold = np.zeros(len(t), bool)
    two = bool(source.any())
    for s in ((FUNCTION, OTHER) if two else (FUNCTION,)):
        idx = np.flatnonzero(admitted & (source == s)) if two else np.flatnonzero(admitted)
        if len(idx) == 0:
            continue
        top = pool_size[s] if np.isfinite(pool_size[s]) else len(idx)
        size = min(len(idx), 4 * int(top) + 16)
        while True:
            part = idx[:size]
            st = t[part]
            en = end[part] if ends_sorted else np.sort(end[part])
            running = np.arange(1, size + 1) - np.searchsorted(en, st, side="right")
            if size == len(idx) or running.max() >= top:
                break
            size = min(len(idx), 4 * size)
        prev_max = np.maximum.accumulate(np.concatenate([[0], running[:-1]]))
        cold[part[running > prev_max]] = True
    return cold


# --- the model -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _SyncSettings:
    """The checked parameters of one run."""

    horizon: float
    duration_kind: str
    mean_duration: float
    duration_cv: float
    limit: int                 # the account concurrency limit
    reserved: int | None
    rate: float
    other_rate: float
    other_mean: float
    scaling: str
    region: str
    engine: str
    rate_cap: bool
    rate_cap_burst: float
    warmup: float


def _check_sync(rate, mean_duration, duration_kind, duration_cv, concurrency_limit, reserved, other_rate,
                other_mean_duration, scaling, region, arrivals, horizon, warmup, rate_cap, rate_cap_burst, engine):
    """(settings, the given arrivals sorted or None), each parameter checked in the order of the
    signature's meaning: time, durations, concurrency, traffic, models."""
    horizon = check_number("horizon", horizon, 0, 3_600, lo_open=True)
    duration_kind, mean_duration, duration_cv = traffic._check_durations(duration_kind, mean_duration, duration_cv,
                                                                        max_mean=MAX_TIMEOUT_S)
    limit = check_int("concurrency_limit", concurrency_limit, 1, MAX_ACCOUNT_LIMIT,
                      why="the account concurrency limit; AWS's default is 1,000 per Region")
    if reserved is not None:
        reserved = check_int("reserved", reserved, 0, limit - MIN_UNRESERVED,
                             why=f"AWS keeps at least {MIN_UNRESERVED} of the account limit "
                                 f"(concurrency_limit={limit:,}) unreserved")
    # At most MAX_REQUESTS requests in all: rate (or the arrivals) and other_rate share them.
    max_rate = traffic.MAX_REQUESTS / horizon
    too_many = (f"at most {traffic.MAX_REQUESTS:,} requests in horizon={horizon:g} s, "
                f"rate (or arrivals) and other_rate together")
    rate = check_number("rate", rate, 0, max_rate, why=too_many)   # checked even when arrivals are given
    t_given = None
    if arrivals is not None:
        t_given = np.sort(check_array("arrivals", arrivals, 0, horizon, sorted_=False, hi_open=True))
        if len(t_given) > traffic.MAX_REQUESTS:
            raise ValueError(f"arrivals holds {len(t_given):,} requests: allowed {traffic.MAX_REQUESTS:,} or less")
    own = rate if arrivals is None else len(t_given) / horizon
    other_rate = check_number("other_rate", other_rate, 0, max(0.0, max_rate - own), why=too_many)
    other_mean = mean_duration if other_mean_duration is None else check_number(
        "other_mean_duration", other_mean_duration, 0, MAX_TIMEOUT_S, lo_open=True)
    check_choice("scaling", scaling, SCALING_MODELS)
    check_choice("region", region, tuple(BURST_QUOTAS))
    check_choice("engine", engine, ("auto", "general"))
    rate_cap = check_bool("rate_cap", rate_cap)
    rate_cap_burst = check_number("rate_cap_burst", rate_cap_burst, 0, 10, lo_open=True,
                                  why="seconds of the capped rate the bucket holds (a model assumption)")
    if warmup is None:
        warmup = min(5 * max(mean_duration, other_mean if other_rate else 0), horizon / 4)
    warmup = check_number("warmup", warmup, 0, horizon, hi_open=True)
    return _SyncSettings(horizon, duration_kind, mean_duration, duration_cv, limit, reserved, rate, other_rate,
                         other_mean, scaling, region, engine, rate_cap, rate_cap_burst, warmup), t_given


def _rate_cap(t_fn: np.ndarray, s: _SyncSettings):
    """Which of the function's requests pass the requests-per-second cap (10 x the concurrency
    available to it, a token bucket holding ``rate_cap_burst`` seconds of that rate), or None
    when nothing is refused for the rate (the cap is off, or no concurrency is available)."""
    available = s.limit if s.reserved is None else s.reserved     # concurrency the function can use
    if not s.rate_cap or available == 0:
        return None
    cap_rate = RPS_PER_CONCURRENCY * available
    return tokenbucket.admit(t_fn, cap_rate, max(1, round(cap_rate * s.rate_cap_burst)))


def _merge(t_fn, d_fn, t_ot, d_ot, rate_ok):
    """The two sources in time order: (arrival, duration, source, passed the rate cap or None)."""
    if not len(t_ot):
        return t_fn, d_fn, np.zeros(len(t_fn), np.int8), rate_ok
    t = np.concatenate([t_fn, t_ot])
    order = np.argsort(t, kind="stable")
    d = np.concatenate([d_fn, d_ot])[order]
    src = np.concatenate([np.zeros(len(t_fn), np.int8), np.ones(len(t_ot), np.int8)])[order]
    ok = None if rate_ok is None else np.concatenate([rate_ok, np.ones(len(t_ot), bool)])[order]
    return t[order], d, src, ok


def _steady_pools(t, d, end, src, s: _SyncSettings, two_sources: bool):
    """No scaling limit: each pool is a loss system (:func:`_loss_fixed` when its durations are all
    equal, else :func:`_loss_heap`). Returns (admitted, cold_start, reason)."""
    limit, reserved, fixed = s.limit, s.reserved, s.duration_kind == "fixed"
    if reserved is None:                  # one shared pool
        pools = ((slice(None), limit),)
    else:
        pools = ((src == 0, reserved), (src == 1, limit - reserved))
    admitted = np.zeros(len(t), bool)
    cold = None
    for m, size in pools:
        dp = d[m]
        if not len(dp):
            continue
        if fixed and dp[0] == dp[-1] and (not two_sources or np.all(dp == dp[0])):
            admitted[m] = _loss_fixed(t[m], float(dp[0]), size)
        elif not two_sources:             # one source: the heap's new environments are the cold starts
            admitted[m], cold = _loss_heap(t[m], end[m], size)
        else:
            admitted[m] = _loss_heap(t[m], end[m], size)[0]
    if cold is None:
        sizes = (limit, limit) if reserved is None else (reserved, limit - reserved)
        cold = _cold_starts(t, end, admitted, src, sizes, ends_sorted=fixed and not two_sources)
    return admitted, cold, np.where(admitted, NOT_THROTTLED, CONCURRENCY).astype(np.int8)


def _concurrency(t, d, src, ok, s: _SyncSettings, two_sources: bool):
    """The concurrency and scaling decisions for the requests that passed the rate cap (``ok``;
    None: all of them); the others are refused for the ``RATE``. Returns (admitted, cold_start, reason)."""
    if ok is None or ok.all():
        keep = None
        tk, dk, sk = t, d, src
    else:
        keep = np.flatnonzero(ok)
        tk, dk, sk = t[keep], d[keep], src[keep]
    ek = tk + dk
    if s.scaling != "none" or s.engine == "general":
        pool_size = (s.limit, 0) if s.reserved is None else (s.reserved, s.limit - s.reserved)
        decided = _general(tk, ek, sk, pool_size, s.scaling, s.region, s.limit, fifo=s.duration_kind == "fixed")
    else:
        decided = _steady_pools(tk, dk, ek, sk, s, two_sources)
    if keep is None:
        return decided
    admitted = np.zeros(len(t), bool)
    cold = np.zeros(len(t), bool)
    reason = np.full(len(t), RATE, np.int8)
    admitted[keep], cold[keep], reason[keep] = decided
    return admitted, cold, reason


def simulate_sync(rate: float = 5_000.0, mean_duration: float = 0.2, *, duration_kind: str = "fixed",
                  duration_cv: float = 1.0, concurrency_limit: int = DEFAULT_ACCOUNT_LIMIT,
                  reserved: int | None = None, other_rate: float = 0.0,
                  other_mean_duration: float | None = None, scaling: str = "none",
                  region: str = "us-east-1", arrivals=None, horizon: float = 20.0,
                  warmup: float | None = None, rate_cap: bool = True,
                  rate_cap_burst: float = RATE_CAP_BURST_S, seed: int = 0,
                  engine: str = "auto") -> SyncResult:
    """Simulate synchronous invocations of one function (plus the account's other traffic).

    ``rate`` (requests/s, Poisson) or ``arrivals`` (an array of times, e.g. from
    ``labsim.traffic.spike``) gives the function's traffic. ``warmup`` seconds at the start are
    left out of the throttle statistics (default: 5 mean durations, at most a quarter of the
    horizon). ``rate_cap`` applies the requests-per-second cap (10 x the concurrency available),
    a token bucket holding ``rate_cap_burst`` seconds of that rate (an assumption: see the
    module docstring). ``engine`` is for tests: ``"general"`` forces the event loop.
    """
    s, t_given = _check_sync(rate, mean_duration, duration_kind, duration_cv, concurrency_limit, reserved,
                             other_rate, other_mean_duration, scaling, region, arrivals, horizon, warmup, rate_cap,
                             rate_cap_burst, engine)
    rng = traffic.make_rng(seed)
    t_fn = traffic.poisson(s.rate, s.horizon, rng) if t_given is None else t_given
    d_fn = traffic.durations(s.duration_kind, s.mean_duration, len(t_fn), rng, s.duration_cv)
    t_ot = traffic.poisson(s.other_rate, s.horizon, rng) if s.other_rate > 0 else np.empty(0)
    d_ot = traffic.durations(s.duration_kind, s.other_mean, len(t_ot), rng, s.duration_cv)
    rate_ok = _rate_cap(t_fn, s)                          # the requests-per-second cap, first
    t, d, src, ok = _merge(t_fn, d_fn, t_ot, d_ot, rate_ok)
    admitted, cold, reason = _concurrency(t, d, src, ok, s, two_sources=len(t_ot) > 0)
    end = t + d
    outcome = np.where(admitted, np.where(end <= s.horizon, np.int8(Outcome.SUCCEEDED), np.int8(Outcome.IN_FLIGHT)),
                       np.int8(Outcome.THROTTLED))
    params = dict(rate=s.rate if arrivals is None else None, mean_duration=s.mean_duration,
                  duration_kind=s.duration_kind, duration_cv=s.duration_cv, concurrency_limit=s.limit,
                  reserved=s.reserved, other_rate=s.other_rate, other_mean_duration=s.other_mean,
                  scaling=s.scaling, region=s.region, rate_cap=s.rate_cap, rate_cap_burst=s.rate_cap_burst, seed=seed)
    return SyncResult(t, d, src, outcome, cold, reason, s.horizon, s.warmup, params)
