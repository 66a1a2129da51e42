"""Closed forms used as ground truth in tests and as overlays on plots.

* Erlang B: chance that a Poisson arrival finds all ``c`` servers busy in a loss system
  (no queue). It depends on the duration distribution only through its mean (insensitivity),
  so it is the exact long-run throttle fraction of a function capped at ``c`` concurrent
  executions under Poisson traffic.
* Erlang C: chance of waiting, and mean wait, in a queue drained by ``c`` workers (M/M/c).
* Little's law: L = lambda x W.
* Retries against independent failures: success 1 - p^(r+1), attempts (1 - p^(r+1)) / (1 - p).
"""

from __future__ import annotations

import numpy as np

from .validation import check_array, check_int, check_number

#: Servers the Erlang formulas accept (far beyond any Lambda account: the models stop at 100,000).
MAX_SERVERS = 10_000_000
#: Offered load the Erlang formulas accept, erlangs. The recurrence runs until B is exactly 0,
#: which happens by about 2 x load + 1,100 servers, so this bounds the work (well under a second).
MAX_LOAD = 100_000
#: Retries the closed forms accept (the variance sums over every attempt count).
MAX_RETRIES = 10_000


def offered_load(rate: float, mean_duration: float) -> float:
    """Offered load in erlangs: the concurrency the traffic would use if never throttled."""
    return check_number("rate", rate, 0) * check_number("mean_duration", mean_duration, 0)


def erlang_b(c: int, load):
    """Erlang B blocking probability for ``c`` servers and offered ``load`` (erlangs).

    Uses the stable recurrence B(0)=1, B(k) = A B(k-1) / (k + A B(k-1)); ``load`` may be an
    array, the result then has its shape. Once B is exactly 0 (it underflows by about
    k = 2A + 1,100, halving at least at every step past 2A) it stays 0, and the loop stops there.
    """
    c = check_int("c", c, 0, MAX_SERVERS, why="servers")
    why = "erlangs; the work grows with the load"
    if isinstance(load, (list, tuple, np.ndarray)):
        a = check_array("load", np.ravel(load), 0, MAX_LOAD, sorted_=False).reshape(np.shape(load))
    else:
        a = check_number("load", load, 0, MAX_LOAD, why=why)
    if isinstance(a, float):              # one load: the same operations on Python floats, faster
        b = 1.0
        for k in range(1, c + 1):
            ab = a * b
            b = ab / (k + ab)
            if b == 0.0:
                break
        return b
    b = np.ones_like(a)
    for k in range(1, c + 1):
        ab = a * b
        b = ab / (k + ab)
        if k % 64 == 0 and not b.any():
            break
    return float(b) if b.ndim == 0 else b


def erlang_c(c: int, load: float) -> float:
    """Erlang C: chance that an arrival has to wait in an M/M/c queue (needs load < c)."""
    c = check_int("c", c, 1, MAX_SERVERS, why="servers")
    load = check_number("load", load, 0, min(c, MAX_LOAD), hi_open=c <= MAX_LOAD,
                        why=f"erlangs; the queue is stable only below c={c:,} erlangs")
    b = erlang_b(c, load)
    return c * b / (c - load * (1 - b))


def erlang_c_mean_wait(c: int, load: float, mean_duration: float) -> float:
    """Mean time in queue W_q = C(c, A) x mean_duration / (c - A) for an M/M/c queue."""
    mean_duration = check_number("mean_duration", mean_duration, 0, lo_open=True)
    return erlang_c(c, load) * mean_duration / (c - load)


def littles_law(rate: float, time_in_system: float) -> float:
    """Little's law: mean number in the system L = lambda x W."""
    return check_number("rate", rate, 0) * check_number("time_in_system", time_in_system, 0)


def token_bucket_max_passed(rate: float, burst: float, window: float) -> float:
    """A token bucket (``rate`` per second, size ``burst``) passes at most b + r t in a window t."""
    return check_number("burst", burst, 0) + check_number("rate", rate, 0) * check_number("window", window, 0)


def token_bucket_rejected_fraction(rate: float, arrival_rate: float) -> float:
    """Long-run rejected fraction of a steady load above the bucket's rate: 1 - r / lambda."""
    rate = check_number("rate", rate, 0)
    arrival_rate = check_number("arrival_rate", arrival_rate, 0, lo_open=True)
    return max(0.0, 1.0 - rate / arrival_rate)


# --- retries against independent failures ------------------------------------------------------
def _check_retry_args(p, retries):
    return (check_number("p", p, 0, 1, why="a failure probability"),
            check_int("retries", retries, 0, MAX_RETRIES))


def retry_success_probability(p: float, retries: int) -> float:
    """Chance a call succeeds when each attempt fails independently with probability ``p`` and
    up to ``retries`` retries follow a failure: 1 - p^(r+1)."""
    p, r = _check_retry_args(p, retries)
    return 1.0 - p ** (r + 1)


def retry_expected_attempts(p: float, retries: int) -> float:
    """Mean attempts per call: sum_{k=0}^{r} p^k = (1 - p^(r+1)) / (1 - p) (r + 1 when p = 1)."""
    p, r = _check_retry_args(p, retries)
    return float(r + 1) if p == 1.0 else (1.0 - p ** (r + 1)) / (1.0 - p)


def retry_attempts_variance(p: float, retries: int) -> float:
    """Variance of the attempts per call (a geometric count truncated at r + 1)."""
    p, r = _check_retry_args(p, retries)
    probs = np.array([p ** (k - 1) * (1 - p) for k in range(1, r + 1)] + [p ** r])  # P(attempts = k)
    ks = np.arange(1, r + 2)
    mean = float(ks @ probs)
    return float((ks ** 2) @ probs - mean ** 2)
