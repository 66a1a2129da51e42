"""One exact token bucket for every rate limit in the book.

A bucket of ``burst`` tokens, refilled continuously at ``rate`` tokens per second, never holding
more than ``burst``. A request that finds at least one token takes it and passes; otherwise it is
refused (and takes nothing).

What AWS documents, and what is the book's model
-------------------------------------------------
* **API Gateway** throttles with the token bucket algorithm, at every level (AWS documents it:
  https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html).
* Everywhere else the bucket is **the book's model**, not an AWS-documented mechanism: Lambda's
  per-function scaling rate (AWS: 1,000 environments every 10 s, "refilled continuously") and its
  requests-per-second cap (window and burst undocumented) are *modelled as* buckets, and so are
  SQS FIFO's 300 API calls per second and a Kinesis shard's 1 MB and 1,000 records per second.
  AWS gives the rates; the bucket size where AWS gives none is a labelled assumption of the
  model that uses it.

The tie rule (one rule, used everywhere)
----------------------------------------
A request that arrives *exactly* when the token it needs arrives is admitted. This is the same
rule as the Lambda concurrency engines, where an execution that ends exactly when a request
arrives frees its slot for that request (``<=``, ``searchsorted(side="left")``).

Why it is exact and fast
------------------------
The bucket is a queue of capacity ``burst`` served at ``rate`` (the generic cell rate algorithm):
each admitted request adds one job of 1/rate seconds of work, a request is admitted when fewer
than ``burst`` jobs are in the queue, i.e. when the ``burst``-th most recent admitted job has
left. Job j leaves at

    D_j = j / rate + max(M_0, max_{i <= j} (a_i - (i - 1) / rate)),   M_0 = (burst - initial) / rate

(a_i: time of the i-th admission). So the next ``burst`` admissions only depend on departures
already known, and each block of ``burst`` admissions is found with one ``searchsorted`` and a
running maximum, as in :func:`labsim.awslambda._loss_fixed`. :func:`admit_loop` is the plain
loop over the same formulas; a property test checks the two agree decision for decision.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from .validation import check_array, check_grid, check_int, check_number

#: Largest bucket this module simulates (tokens); the vectorised engine works in blocks of this.
MAX_BURST = 10_000_000
#: Refill rates this module simulates (tokens per second): from one token in about 12 days to a
#: billion a second, so 1 / rate and rate x time stay far from overflow and underflow.
MIN_RATE, MAX_RATE = 1e-6, 1e9
#: Largest weighted bucket (tokens, e.g. bytes): the weighted engine is a loop over requests, so
#: its cost does not grow with the bucket; tokens stay whole-number exact in a float below 2^53.
MAX_WEIGHTED_BURST = 1e15
#: Below this bucket size the blocks are too small to pay for numpy's per-call cost, and
#: :func:`admit` runs the one-at-a-time loop instead (same decisions; profiled crossover).
LOOP_BELOW = 48


def _check(t, rate, burst, initial):
    t = check_array("arrivals", t)
    rate = check_number("rate", rate, MIN_RATE, MAX_RATE, why="tokens per second")
    burst = check_int("burst", burst, 1, MAX_BURST)
    initial = float(burst) if initial is None else check_number("initial", initial, 0, burst)
    return t, rate, burst, initial


def _never_refuses(t, rate: float, b: int, m: int = 8) -> bool:
    """A cheap sufficient test that a full bucket admits every arrival.

    Cut time into bins of b / (m rate) seconds; a window of h = b / rate seconds lies inside
    m + 1 consecutive bins. If every m + 1 consecutive bins hold at most k <= b - 1 arrivals, a
    window of any length L holds at most k (L / h + 1) <= (b - 1)(L rate / b + 1) < b + rate L:
    the arrivals stay inside the bucket's envelope with a whole token to spare (far more than
    floating-point rounding), so the exact engines would admit them all too. False means "run the
    bucket", not "it refuses".
    """
    if len(t) < b:
        return True
    scale = m * rate / b
    if t[-1] * scale > 2.0**52:                     # bin numbers would lose precision: run the bucket
        return False
    k = (t * scale).astype(np.int64)
    if k[-1] - k[0] > 4 * len(k) + 1_024:           # sparse bins: count each window by search instead
        return bool((np.searchsorted(k, k + m, side="right") - np.arange(len(k))).max() <= b - 1)
    c = np.bincount(k - k[0])
    if len(c) <= m + 1:
        return bool(c.sum() <= b - 1)
    cs = np.concatenate([[0], np.cumsum(c)])
    return bool((cs[m + 1:] - cs[:-(m + 1)]).max() <= b - 1)


def admit(arrivals, rate: float, burst: int, initial: float | None = None) -> np.ndarray:
    """Admission mask of a token bucket for sorted ``arrivals`` (seconds).

    ``rate``: tokens per second (> 0); ``burst``: bucket size, a whole number >= 1;
    ``initial``: tokens at time 0 (default: a full bucket). Exact (see the module docstring).
    """
    t, rate, b, initial = _check(arrivals, rate, burst, initial)
    n = len(t)
    if initial == b and n and _never_refuses(t, rate, b):
        return np.ones(n, bool)
    if b < LOOP_BELOW:
        return admit_loop(t, rate, b, initial)
    admitted = np.zeros(n, bool)
    if n == 0:
        return admitted
    inv = 1.0 / rate
    m = (b - initial) * inv                              # M_0
    # Departures of the b most recent jobs, oldest first: the initial deficit acts as b - initial
    # jobs already queued at time 0, i.e. D_j = M_0 + j / rate for j = 1 - b .. 0.
    dep = m + np.arange(1 - b, 1) * inv
    steps = np.arange(1, b + 1)
    k, last = 0, -1                                       # admissions so far, index of the last
    while last < n - 1:
        s = np.searchsorted(t, dep, side="left")          # first arrival that finds each token
        nxt = np.maximum.accumulate(np.maximum(s - steps, last)) + steps
        nxt = nxt[nxt < n]
        if len(nxt) == 0:
            break
        admitted[nxt] = True
        j = k + np.arange(1, len(nxt) + 1)
        mj = np.maximum.accumulate(np.maximum(t[nxt] - (j - 1) * inv, m))
        m = float(mj[-1])
        dep = np.concatenate([dep[len(nxt):], mj + j * inv])
        k += len(nxt)
        last = int(nxt[-1])
    return admitted


class TokenBucket:
    """The same bucket, one request at a time: for event loops that consult a bucket only for
    some requests (Lambda's scaling rate is spent only when a new environment is needed).

    ``take(t)`` admits a request at time ``t`` (non-decreasing across calls) and returns True,
    or refuses it and returns False. Same formulas and tie rule as :func:`admit`.
    """

    __slots__ = ("inv", "m", "k", "dep")

    def __init__(self, rate: float, burst: int, initial: float | None = None):
        _, rate, b, initial = _check((), rate, burst, initial)
        self.inv = 1.0 / rate
        self.m = (b - initial) * self.inv                 # M_0
        self.k = 0                                        # admissions so far
        self.dep = deque(self.m + j * self.inv for j in range(1 - b, 1))   # b latest departures

    def take(self, t: float) -> bool:
        dep = self.dep
        if t < dep[0]:                                    # the token has not arrived yet
            return False
        self.k = k = self.k + 1
        inv = self.inv
        m = t - (k - 1) * inv
        if m > self.m:
            self.m = m
        dep.popleft()
        dep.append(self.m + k * inv)
        return True


def admit_loop(arrivals, rate: float, burst: int, initial: float | None = None) -> np.ndarray:
    """The same decisions as :func:`admit`, one request at a time (the reference for tests)."""
    t, rate, burst, initial = _check(arrivals, rate, burst, initial)
    bucket = TokenBucket(rate, burst, initial)
    return np.fromiter((bucket.take(a) for a in t.tolist()), bool, len(t))


def tokens(arrivals, admitted, rate: float, burst: int, grid, initial: float | None = None) -> np.ndarray:
    """Tokens in the bucket just after each time in ``grid`` (for plots of the bucket's level).

    Level = burst - jobs in the queue, with jobs leaving at the departure times above:
    burst - rate x (D_last - t)^+ where D_last is the last departure scheduled by time t.
    """
    t, rate, b, initial = _check(arrivals, rate, burst, initial)
    inv = 1.0 / rate
    mask = np.asarray(admitted) if not isinstance(admitted, (str, bytes)) else np.asarray(None)
    if mask.shape != t.shape or (mask.dtype != bool and mask.size):
        raise ValueError(f"admitted must hold one True or False per arrival (arrivals has {len(t):,}), "
                         f"got {admitted!r:.80}")
    a = t[mask.astype(bool)]
    j = np.arange(1, len(a) + 1)
    m0 = (b - initial) * inv
    d = np.maximum.accumulate(np.maximum(a - (j - 1) * inv, m0)) + j * inv if len(a) else np.empty(0)
    g = check_grid("grid", grid)
    k = np.searchsorted(a, g, side="right")               # admissions by each grid time
    last = np.where(k > 0, d[np.maximum(k - 1, 0)] if len(d) else 0.0, m0)
    return b - rate * np.maximum(last - g, 0.0)


def max_in_window(times, window: float) -> int:
    """Most of ``times`` (sorted) inside any closed window of length ``window``."""
    t = check_array("times", times, None)
    window = check_number("window", window, 0)
    if len(t) == 0:
        return 0
    return int((np.searchsorted(t, t + window, side="right") - np.arange(len(t))).max())


# --- Weighted buckets, and several buckets at once ------------------------------------------------
# A limit on *bytes* is a bucket in which a request of w bytes needs w tokens: the same queue of
# capacity ``burst`` served at ``rate``, where a request brings w / rate seconds of work. With D
# the time the queue would next be empty, the bucket holds burst - rate (D - t)^+ tokens at t, so
# a request of weight w at time t passes when
#
#     D - t <= (burst - w) / rate          (the tie rule: exactly enough tokens is enough)
#
# and then D <- max(D, t) + w / rate. With w = 1 these are the decisions of :func:`admit` (the
# queue holds fewer than ``burst`` jobs exactly when its work is at most (burst - 1) / rate).
# A request that must pass *several* limits (a Kinesis shard: 1,000 records/s AND 1 MB/s) passes
# only if every bucket has its tokens, and then takes them from every bucket; a refused request
# takes nothing from any. No block trick is known for variable weights, so the engine is one
# loop, run only where it can matter: a bucket whose envelope the arrivals never touch (checked
# with numpy first) cannot refuse any subset of them either, and is left out of the loop.

def _check_weights(name, w, n, burst):
    if w is None:
        raise ValueError(f"{name} must hold one weight per arrival (tokens it needs), got None")
    w = check_array(name, w, 0.0, burst, sorted_=False)
    if len(w) != n:
        raise ValueError(f"{name} must have one weight per arrival: got {len(w):,} for {n:,} arrivals")
    if n and w.min() <= 0:
        raise ValueError(f"{name} has a value out of range ({w.min():g}): allowed more than 0 to {burst:,}")
    return w


def _never_refuses_weighted(t, w, rate: float, b: float, m: int = 8) -> bool:
    """:func:`_never_refuses` with weights: if every m + 1 consecutive bins of b / (m rate)
    seconds carry at most b - 1 tokens' worth of weight, every window of length L carries less
    than b + rate L (the same argument), so a full bucket admits every arrival."""
    if w.sum() <= b - 1:
        return True
    scale = m * rate / b
    if t[-1] * scale > 2.0**52:                     # bin numbers would lose precision: run the bucket
        return False
    k = (t * scale).astype(np.int64)
    if k[-1] - k[0] > 4 * len(k) + 1_024:           # sparse bins: weigh each window by search instead
        cw = np.concatenate([[0.0], np.cumsum(w)])
        return bool((cw[np.searchsorted(k, k + m, side="right")] - cw[:-1]).max() <= b - 1)
    c = np.bincount(k - k[0], weights=w)
    if len(c) <= m + 1:
        return bool(c.sum() <= b - 1)
    cs = np.concatenate([[0.0], np.cumsum(c)])
    return bool((cs[m + 1:] - cs[:-(m + 1)]).max() <= b - 1)


def _bucket_specs(buckets) -> list:
    """``buckets`` as a list of (weights, rate, burst, initial), or a ValueError naming it."""
    what = "buckets must be a list of (weights, rate, burst[, initial]) tuples"
    if isinstance(buckets, (str, bytes, np.ndarray)) or not isinstance(buckets, (list, tuple)):
        raise ValueError(f"{what}, got {buckets!r:.80}")
    out = []
    for i, spec in enumerate(buckets):
        if not isinstance(spec, (list, tuple)) or len(spec) not in (3, 4):
            raise ValueError(f"{what}: buckets[{i}] is {spec!r:.80}")
        out.append((spec[0], spec[1], spec[2], spec[3] if len(spec) == 4 else None))
    return out


def admit_all(arrivals, buckets) -> np.ndarray:
    """Admission mask for sorted ``arrivals`` that must pass every bucket in ``buckets``.

    Each bucket is ``(weights, rate, burst)`` or ``(weights, rate, burst, initial)``: ``weights``
    is None (every request needs one token) or one weight per arrival (tokens it needs, > 0 and
    at most ``burst``); ``rate`` tokens per second; ``burst`` the bucket size; ``initial`` the
    tokens at time 0 (default: full). A request passes if every bucket holds its weight, and then
    takes it from every bucket. Exact (same tie rule as :func:`admit`).
    """
    t = check_array("arrivals", arrivals)
    n = len(t)
    live = []
    for weights, rate, burst, initial in _bucket_specs(buckets):
        rate = check_number("rate", rate, MIN_RATE, MAX_RATE, why="tokens per second")
        burst = check_number("burst", burst, 1, MAX_BURST if weights is None else MAX_WEIGHTED_BURST)
        initial = burst if initial is None else check_number("initial", initial, 0, burst)
        w = np.ones(n) if weights is None else _check_weights("weights", weights, n, burst)
        if initial == burst and n and _never_refuses_weighted(t, w, rate, burst):
            continue                                   # this bucket cannot refuse anything here
        live.append((w, rate, burst, initial))
    if not live or n == 0:
        return np.ones(n, bool)
    if len(live) == 1 and (live[0][0] == 1).all() and float(live[0][2]).is_integer():
        w, rate, burst, initial = live[0]              # one bucket of whole tokens: the block engine
        return admit(t, rate, int(burst), initial)
    return _joint_loop(t, live)


def _joint_loop(t, live) -> np.ndarray:
    times = t.tolist()
    if len(live) == 1:
        w, rate, burst, initial = live[0]
        slack = ((burst - w) / rate).tolist()
        work = (w / rate).tolist()
        d = (burst - initial) / rate
        out = []
        app = out.append
        for a, s, x in zip(times, slack, work):
            if d - a <= s:
                d = (d if d > a else a) + x
                app(True)
            else:
                app(False)
        return np.array(out, bool)
    if len(live) == 2:                                   # a Kinesis shard: records and bytes
        (w1, r1, b1, i1), (w2, r2, b2, i2) = live
        d1, d2 = (b1 - i1) / r1, (b2 - i2) / r2
        out = []
        app = out.append
        for a, s1, x1, s2, x2 in zip(times, ((b1 - w1) / r1).tolist(), (w1 / r1).tolist(),
                                     ((b2 - w2) / r2).tolist(), (w2 / r2).tolist()):
            if d1 - a <= s1 and d2 - a <= s2:
                d1 = (d1 if d1 > a else a) + x1
                d2 = (d2 if d2 > a else a) + x2
                app(True)
            else:
                app(False)
        return np.array(out, bool)
    slacks = [((burst - w) / rate).tolist() for w, rate, burst, _ in live]
    works = [(w / rate).tolist() for w, rate, _, _ in live]
    ds = [(burst - initial) / rate for _, rate, burst, initial in live]
    nb = len(live)
    out = np.zeros(len(times), bool)
    for i, a in enumerate(times):
        for j in range(nb):
            if ds[j] - a > slacks[j][i]:
                break
        else:
            for j in range(nb):
                ds[j] = max(ds[j], a) + works[j][i]
            out[i] = True
    return out


def admit_weighted(arrivals, weights, rate: float, burst: float, initial: float | None = None) -> np.ndarray:
    """Admission mask of one bucket in which arrival i needs ``weights[i]`` tokens (a limit on
    bytes: a record of s bytes takes s tokens). Same rules and tie rule as :func:`admit`."""
    if weights is None:
        raise ValueError("weights must hold one weight per arrival (tokens it needs), got None")
    return admit_all(arrivals, [(weights, rate, burst) if initial is None else (weights, rate, burst, initial)])


class WeightedTokenBucket:
    """One weighted bucket, one request at a time, written with the explicit token level (the
    reference the tests compare :func:`admit_all` with): refill ``rate`` tokens per second up to
    ``burst``, then a request of weight ``w`` passes if at least ``w`` tokens are there."""

    __slots__ = ("rate", "burst", "level", "last")

    def __init__(self, rate, burst, initial=None):
        self.rate, self.burst = rate, burst
        self.level = burst if initial is None else initial
        self.last = 0

    def refill(self, t) -> None:
        self.level = min(self.burst, self.level + self.rate * (t - self.last))
        self.last = t

    def can(self, w) -> bool:
        return self.level >= w

    def take(self, w) -> None:
        self.level -= w


def admit_all_loop(arrivals, buckets) -> list:
    """The decisions of :func:`admit_all` from explicit token levels, one request at a time.
    Pass exact numbers (``fractions.Fraction``) to get exact decisions to compare with: the
    values are checked as floats (the ranges of :func:`admit_all`) and used as given."""
    check_array("arrivals", arrivals)
    arrivals = list(arrivals)
    n = len(arrivals)
    bs = []
    for weights, rate, burst, initial in _bucket_specs(buckets):
        check_number("rate", rate, MIN_RATE, MAX_RATE, why="tokens per second")
        b = check_number("burst", burst, 1, MAX_BURST if weights is None else MAX_WEIGHTED_BURST)
        if initial is not None:
            check_number("initial", initial, 0, b)
        if weights is not None:
            _check_weights("weights", weights, n, b)
            weights = list(weights)
        bs.append((weights, WeightedTokenBucket(rate, burst, initial)))
    out = []
    for i, a in enumerate(arrivals):
        for _, b in bs:
            b.refill(a)
        ok = all(b.can(1 if w is None else w[i]) for w, b in bs)
        if ok:
            for w, b in bs:
                b.take(1 if w is None else w[i])
        out.append(ok)
    return out


def max_weight_in_window(times, weights, window: float) -> float:
    """Most total weight of ``times`` (sorted) inside any closed window of length ``window``."""
    t = check_array("times", times, None)
    w = check_array("weights", weights, 0, None, sorted_=False)
    if len(w) != len(t):
        raise ValueError(f"weights must have one weight per time: got {len(w):,} for {len(t):,} times")
    window = check_number("window", window, 0)
    if len(t) == 0:
        return 0.0
    cw = np.concatenate([[0.0], np.cumsum(w)])
    end = np.searchsorted(t, t + window, side="right")
    return float((cw[end] - cw[np.arange(len(t))]).max())
