"""labsim.retry: policies against their definitions, closed forms, the retry-storm and the
contention models (invariants, validation, the blog's conclusions)."""

from __future__ import annotations

import heapq
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import value_re
from labsim import retry, theory, traffic
from labsim.outcomes import Outcome
from labsim.retry import CallOutcome, RetryBudget, RetryPolicy

SAMPLES = 20_000
B, C = 0.1, 3.0                     # base and cap used below (cap reached at n = 5)


def _bounds(policy: RetryPolicy, n: int, prev=None):
    """Each strategy's support for the delay before retry n (the module docstring's table)."""
    s, b, c = policy.strategy, policy.base, policy.cap
    v = min(c, b * 2 ** n)
    if s == "decorrelated_jitter":
        p = b if prev is None else max(prev, b)
        return b, min(c, 3 * p)
    return {"immediate": (0, 0), "fixed": (b, b), "exponential": (v, v), "full_jitter": (0, v),
            "equal_jitter": (v / 2, v)}[s]


def _draws(policy, n, prev, how):
    rng = np.random.default_rng(7 + n)
    if how == "delay":
        return np.asarray(policy.delay(np.full(SAMPLES, n), None if prev is None else np.full(SAMPLES, prev), rng))
    f = policy.sampler(rng)
    return np.array([f(n, prev) for _ in range(SAMPLES)])


@pytest.mark.parametrize("how", ["delay", "sampler"])
@pytest.mark.parametrize("strategy", [s for s in retry.STRATEGIES if s not in ("none", "decorrelated_jitter")])
@pytest.mark.parametrize("n", [0, 1, 3, 6, 40])
def test_delay_bounds_and_mean(strategy, n, how):
    policy = RetryPolicy(strategy, B, C, 10)
    x = _draws(policy, n, None, how)
    lo, hi = _bounds(policy, n)
    assert x.min() >= lo - 1e-12 and x.max() <= hi + 1e-12 and x.max() <= C
    mean = policy.expected_delay(n)
    # Mean within 4 standard errors of the closed form (SE = sample sd / sqrt(SAMPLES)); a
    # deterministic strategy must match exactly.
    se = x.std(ddof=1) / math.sqrt(SAMPLES)
    assert abs(x.mean() - mean) <= max(4 * se, 1e-12), (x.mean(), mean, se)
    if strategy in retry.JITTERED:      # uniform on [lo, hi]: variance (hi - lo)^2 / 12, within 5%
        assert abs(x.var() - (hi - lo) ** 2 / 12) <= 0.05 * (hi - lo) ** 2 / 12


@pytest.mark.parametrize("how", ["delay", "sampler"])
@pytest.mark.parametrize("prev", [None, 0.1, 0.4, 2.0])
def test_decorrelated_jitter_distribution(prev, how):
    policy = RetryPolicy("decorrelated_jitter", B, C, 10)
    x = _draws(policy, 3, prev, how)
    lo, hi = _bounds(policy, 3, prev)
    assert x.min() >= lo and x.max() <= hi
    p = B if prev is None else prev
    # min(C, U(B, 3p)): mean of the uniform part plus the capped mass at C.
    top = 3 * p
    if top <= C:
        mean = (B + top) / 2
    else:
        q = (C - B) / (top - B)                          # chance of landing below the cap
        mean = q * (B + C) / 2 + (1 - q) * C
    se = x.std(ddof=1) / math.sqrt(SAMPLES)
    assert abs(x.mean() - mean) <= 4 * se, (x.mean(), mean, se)


def test_schedule_honours_attempt_limit_and_cap():
    rng = np.random.default_rng(1)
    for s in retry.STRATEGIES:
        for m in (1, 2, 7, retry.MAX_ATTEMPTS):
            p = RetryPolicy(s, B, C, m)
            sch = p.schedule(rng)
            assert len(sch) == p.retries == (0 if s == "none" else m - 1)
            assert np.all(sch <= C) and np.all(sch >= 0)
    exp = RetryPolicy("exponential", B, C, 8).schedule()
    assert np.allclose(exp, [0.1, 0.2, 0.4, 0.8, 1.6, 3.0, 3.0])
    with pytest.raises(ValueError, match="never retries"):
        RetryPolicy("none").sampler(rng)


# --- closed forms under independent failures ----------------------------------------------------
@pytest.mark.parametrize("p", [0.05, 0.3, 0.7, 0.95])
@pytest.mark.parametrize("max_attempts", [1, 2, 4, 8])
def test_independent_failures_match_closed_forms(p, max_attempts):
    policy = RetryPolicy("full_jitter", 0.1, 10.0, max_attempts)
    n = 20_000
    res = retry.simulate_independent_failures(p, policy, n_calls=n, seed=3)
    r = policy.retries
    q = theory.retry_success_probability(p, r)
    assert q == pytest.approx(1 - p ** (r + 1))
    # Binomial bound: the success fraction within 4 binomial standard errors sqrt(q(1-q)/n).
    assert abs(res.success_fraction - q) <= 4 * math.sqrt(q * (1 - q) / n) + 1e-12
    m = theory.retry_expected_attempts(p, r)
    assert m == pytest.approx(sum(p ** k for k in range(r + 1)))
    # Mean attempts within 4 standard errors (sample sd / sqrt(n)).
    se = res.attempts.std(ddof=1) / math.sqrt(n)
    assert abs(res.mean_attempts - m) <= 4 * se + 1e-12, (res.mean_attempts, m, se)
    assert res.attempts.max() <= max_attempts
    b = res.books()
    assert b["calls"] == b["succeeded"] + b["gave_up"] == n
    # A call that needed k attempts waited the sum of its first k - 1 delays: never over the cap sum.
    assert np.all(res.waited <= (res.attempts - 1) * policy.cap + 1e-9)


def test_independent_failure_edge_cases():
    pol = RetryPolicy("exponential", 0.1, 1.0, 3)
    assert retry.simulate_independent_failures(0.0, pol, 100).success_fraction == 1.0
    one = retry.simulate_independent_failures(1.0, pol, 100)
    assert one.success_fraction == 0.0 and np.all(one.attempts == 3)
    assert np.allclose(one.waited, 0.1 + 0.2)
    assert theory.retry_expected_attempts(1.0, 2) == 3.0


# --- the retry storm ------------------------------------------------------------------------------
SMALL = dict(base_rate=100.0, spike_rate=1_000.0, spike_start=1.0, spike_length=0.5, horizon=5.0,
             duration=0.1, concurrency_limit=20)


def _check_invariants(r: retry.ClientRetryResult, policy: RetryPolicy, budget=None):
    b = r.books()
    assert b["calls"] == b["succeeded"] + b["gave_up"] + b["budget_denied"]
    assert b["attempts"] == b["admitted"] + b["throttled"] == r.attempts.sum()
    assert b["admitted"] == b["succeeded"]                       # a call succeeds exactly once
    assert np.all(r.attempts >= 1) and np.all(r.attempts <= policy.max_attempts)
    if policy.retries == 0:
        assert r.total_attempts == r.calls
    assert np.all(np.diff(r.attempt_time) >= 0)                  # processed in time order
    assert np.all(r.end >= r.arrival)
    admitted = r.attempt_time[r.attempt_outcome == Outcome.SUCCEEDED]
    if len(admitted):
        assert r.concurrency(admitted).max() <= r.params["concurrency_limit"]
    gave = r.outcome == CallOutcome.GAVE_UP
    assert np.all(r.attempts[gave] == policy.retries + 1)
    if budget is None:
        assert b["budget_denied"] == 0
    else:
        # Retries are paid for: at most the initial tokens plus what successes refilled.
        assert r.retries <= budget.capacity + budget.refill * b["succeeded"] + 1e-9


@settings(max_examples=30, deadline=None, database=None)
@given(strategy=st.sampled_from(retry.STRATEGIES), base=st.floats(0.0, 0.5),
       extra_cap=st.floats(0.0, 5.0), max_attempts=st.integers(1, 8),
       budget=st.sampled_from([None, RetryBudget(0, 0), RetryBudget(20, 0.1), RetryBudget(5, 1.0)]),
       limit=st.integers(1, 40), seed=st.integers(0, 50))
def test_storm_invariants(strategy, base, extra_cap, max_attempts, budget, limit, seed):
    policy = RetryPolicy(strategy, base, base + extra_cap, max_attempts)
    kw = dict(SMALL, concurrency_limit=limit)
    r = retry.simulate_client_retries(policy, budget, seed=seed, **kw)
    _check_invariants(r, policy, budget)
    again = retry.simulate_client_retries(policy, budget, seed=seed, **kw)
    assert np.array_equal(r.attempt_time, again.attempt_time) and np.array_equal(r.outcome, again.outcome)


def test_retries_cure_a_short_spike_and_jitter_beats_lockstep():
    """The chapter's storm: same spike, different policies (the lab's default scenario)."""
    from labsim.labs.retries import storm_model
    none = storm_model("none", 0.1, 20.0, 10, False, 2_000)
    immediate = storm_model("immediate", 0.1, 20.0, 10, False, 2_000)
    expo = storm_model("exponential", 0.1, 20.0, 10, False, 2_000)
    full = storm_model("full_jitter", 0.1, 20.0, 10, False, 2_000)
    budget = storm_model("immediate", 0.1, 20.0, 10, True, 2_000)
    assert none.amplification == 1.0
    assert immediate.amplification > 3 and immediate.success_rate < none.success_rate + 0.02
    assert full.success_rate > 0.99 and full.drain_time < expo.drain_time
    assert budget.amplification < 1.05


def test_budget_of_zero_means_no_retries_and_limit_bounds_attempts():
    pol = RetryPolicy("immediate", 0.0, 1.0, 5)
    r = retry.simulate_client_retries(pol, RetryBudget(0, 0), **SMALL)
    assert r.total_attempts == r.calls and r.count(CallOutcome.GAVE_UP) == 0
    assert r.count(CallOutcome.BUDGET_DENIED) == int((r.attempt_outcome == Outcome.THROTTLED).sum()) > 0
    r = retry.simulate_client_retries(pol, None, **SMALL)
    assert r.attempts.max() == 5 and r.count(CallOutcome.GAVE_UP) > 0


@pytest.mark.parametrize("kwargs,name,value", [
    (dict(concurrency_limit=0), "concurrency_limit", 0),
    (dict(duration=901), "duration", 901),
    (dict(rtt=-1), "rtt", -1),
    (dict(spike_length=0), "spike_length", 0),
    (dict(horizon=0), "horizon", 0),
])
def test_storm_validation(kwargs, name, value):
    with pytest.raises(ValueError, match=rf"{name}={value_re(value)}"):
        retry.simulate_client_retries(RetryPolicy(), **kwargs)


def test_policy_and_budget_validation():
    with pytest.raises(ValueError, match=r"cap=0\.05"):
        RetryPolicy("exponential", 0.1, 0.05)
    with pytest.raises(ValueError, match=r"max_attempts=101"):
        RetryPolicy("exponential", 0.1, 1.0, 101)
    with pytest.raises(ValueError, match=r"refill=-1"):
        RetryBudget(10, -1)
    with pytest.raises(ValueError, match="max_attempts"):
        retry.simulate_client_retries(RetryPolicy("immediate", 0, 1, 100), spike_rate=1e5, spike_length=5)


# --- contention ---------------------------------------------------------------------------------------
def test_contention_invariants():
    one = retry.simulate_contention(1, RetryPolicy("exponential", 0.005, 2.0, 5))
    assert one.total_calls == 1 and one.books()["succeeded"] == 1
    for s in retry.CONTENTION_STRATEGIES:
        r = retry.simulate_contention(30, RetryPolicy(s, 0.005, 2.0, 100), until_success=True, seed=2)
        b = r.books()
        assert b["succeeded"] == 30 and b["gave_up"] == 0 and r.total_calls >= 30
        assert r.completion_time > 0
    lim = retry.simulate_contention(40, RetryPolicy("immediate", 0.005, 2.0, 3), seed=2)
    assert lim.calls.max() <= 3 and lim.books()["gave_up"] > 0
    assert lim.books()["succeeded"] + lim.books()["gave_up"] == 40
    with pytest.raises(ValueError, match=r"n_clients=0"):
        retry.simulate_contention(0)


def test_contention_no_backoff_is_quadratic():
    """Without backoff about one client wins per round: roughly N^2 / 2 calls (the blog's point)."""
    r = [retry.simulate_contention(60, RetryPolicy("immediate", 0, 1, 100), until_success=True, seed=s)
         for s in range(5)]
    calls = np.mean([x.total_calls for x in r])
    assert 0.3 * 60 ** 2 / 2 < calls < 2 * 60 ** 2 / 2


def test_blog_conclusions_on_a_small_sweep():
    sw = retry.contention_sweep((50, 100), replications=10, seed=5)
    calls = {s: sw.calls[i, -1] for i, s in enumerate(sw.strategies)}
    se = {s: sw.calls_se[i, -1] for i, s in enumerate(sw.strategies)}
    # Full jitter less than half the calls of exponential backoff at N = 100, by 3 SE.
    assert calls["full_jitter"] + 3 * se["full_jitter"] < 0.5 * (calls["exponential"] - 3 * se["exponential"])
    t = {s: sw.time[i] for i, s in enumerate(sw.strategies)}
    assert all(np.all(t["exponential"] > 3 * t[s]) for s in retry.JITTERED)


# --- issue 9: hostile input and bounded work -----------------------------------------------------
@pytest.mark.parametrize("policy", [0.5, "exponential", RetryBudget(), np.array([1.0]), True])
def test_a_policy_that_is_not_a_policy_is_named(policy):
    """simulate_independent_failures(policy=0.5) raised AttributeError."""
    for f in (retry.simulate_independent_failures, retry.simulate_contention, retry.simulate_client_retries):
        with pytest.raises(ValueError, match=r"^policy=.* is not a RetryPolicy"):
            f(policy=policy)


@pytest.mark.parametrize("value", ["abc", 1, 0, None, math.nan, np.array([True])])
def test_until_success_must_be_a_bool(value):
    """simulate_contention(until_success='abc') accepted any truthy value."""
    with pytest.raises(ValueError, match=r"^until_success=.* choose True or False"):
        retry.simulate_contention(10, until_success=value)


def test_contention_clients_are_bounded_by_the_work_without_backoff():
    """Without backoff the writes grow with N^2: 10,000 clients took more than 10 s. N is now at
    most 1,000 (about 500,000 writes at worst, a second)."""
    with pytest.raises(ValueError, match=r"^n_clients=1,001 is out of range: allowed 1 to 1,000 \(without backoff"):
        retry.simulate_contention(1_001)
    r = retry.simulate_contention(1_000, RetryPolicy("immediate", 0, 1, 100), until_success=True, network_sd=0)
    assert r.books()["succeeded"] == 1_000
    assert 1_000 * 1_001 / 2 * 0.9 < r.total_calls <= 1_000 * 1_001 / 2     # lock step: one winner a round


def test_contention_sweep_validates_each_list_and_bounds_the_work():
    with pytest.raises(ValueError, match=r"^n_values=0 is out of range"):
        retry.contention_sweep((10, 0))
    with pytest.raises(ValueError, match=r"^n_values=.* not allowed: give a non-empty list"):
        retry.contention_sweep(10)
    with pytest.raises(ValueError, match=r"^n_values=.* not allowed"):
        retry.contention_sweep(())
    with pytest.raises(ValueError, match=r"^strategies='x' is not allowed"):
        retry.contention_sweep((10,), ("exponential", "x"))
    with pytest.raises(ValueError, match=r"^strategies=.* not allowed: give a non-empty list"):
        retry.contention_sweep((10,), "exponential")
    with pytest.raises(ValueError, match=r"^cap=0\.001 is out of range"):
        retry.contention_sweep((10,), base=0.01, cap=0.001)
    with pytest.raises(ValueError, match=r"^network_delay=0 is out of range"):
        retry.contention_sweep((10,), network_delay=0)
    # The lab's sweep (N = 10 .. 100, five strategies, 20 replications) fits, 1,000 replications do not.
    with pytest.raises(ValueError, match=r"writes at worst is out of range: allowed 2,000,000 or less .*replications=1,000"):
        retry.contention_sweep(replications=1_000)
    sw = retry.contention_sweep((3,), ("none", "immediate"), replications=2)        # 'none': one write each
    assert sw.calls[0, 0] == 3 and sw.calls[1, 0] >= 3


def test_independent_failures_bound_calls_times_retries():
    """Each call draws a delay per retry it may make: 5,000,000 calls x 99 retries was 4 GB."""
    with pytest.raises(ValueError, match=r"^n_calls=5,000,000 x the policy's retries=99 is out of range"):
        retry.simulate_independent_failures(0.5, RetryPolicy("full_jitter", 0.1, 1.0, 100), n_calls=5_000_000)
    r = retry.simulate_independent_failures(0.5, RetryPolicy("none"), n_calls=5_000_000)
    assert r.books()["calls"] == 5_000_000


def test_client_retries_bound_names_every_parameter_of_the_product():
    with pytest.raises(ValueError) as e:
        retry.simulate_client_retries(RetryPolicy("exponential", 0.1, 20, 10), base_rate=1e12)
    for name in ("base_rate", "spike_rate", "spike_length", "horizon", "max_attempts"):
        assert re.search(rf"(?<![\w.]){name}(?!\w)", str(e.value)), name
    with pytest.raises(ValueError, match=r"^spike_length=0\.5 is out of range: .*horizon - spike_start"):
        retry.simulate_client_retries(spike_start=9.9)


# --- result methods the labs and plots use ---------------------------------------------------------
def test_client_retry_result_series():
    r = retry.simulate_client_retries(RetryPolicy("exponential", 0.1, 5.0, 4), base_rate=50.0, spike_rate=2_000.0,
                                      spike_start=1.0, spike_length=0.5, horizon=5.0, concurrency_limit=20, seed=4)
    edges = np.array([0.0, 1.0, 1.5, 3.0, 20.0])
    width = np.diff(edges)
    assert r.attempt_rate(edges).tolist() == (np.histogram(r.attempt_time, edges)[0] / width).tolist()
    first = r.attempt_number == 0
    assert r.attempt_rate(edges, retries=False).tolist() == (np.histogram(r.attempt_time[first], edges)[0] / width).tolist()
    assert r.attempt_rate(edges, retries=True).tolist() == (np.histogram(r.attempt_time[~first], edges)[0] / width).tolist()
    assert r.attempt_rate(edges, retries=True).sum() > 0
    grid = np.linspace(0.0, 6.0, 61)
    waiting = [int(((r.arrival <= g) & (r.end > g)).sum()) for g in grid]
    assert r.in_progress(grid).tolist() == waiting and max(waiting) > 20
    ran = r.attempt_outcome == Outcome.SUCCEEDED
    running = [int(((r.attempt_time[ran] <= g) & (r.attempt_time[ran] + 0.1 > g)).sum()) for g in grid]
    assert r.concurrency(grid).tolist() == running and max(running) == 20
    assert r.retries == r.total_attempts - r.calls > 0 and r.amplification == r.total_attempts / r.calls
    assert r.last_answer == r.end.max()
    assert r.drain_time == max(0.0, r.end[r.arrival < 1.5].max() - 1.5)


def test_contention_sweep_lookup():
    sw = retry.contention_sweep((10, 30), ("exponential", "full_jitter"), replications=2)
    assert sw.nearest_n(24) == 30 and sw.nearest_n(12) == 10 and sw.nearest_n(20) == 10
    calls, t = sw.at("full_jitter", 30)
    assert calls == sw.calls[1, 1] and t == sw.time[1, 1]
    assert sw.at("exponential", 10) == (sw.calls[0, 0], sw.time[0, 0])
    with pytest.raises(ValueError, match=r"^n=20 was not swept: choose one of \[10, 30\]"):
        sw.at("exponential", 20)


def test_schedule_is_every_delay_in_turn():
    p = RetryPolicy("decorrelated_jitter", 0.1, 3.0, 6)
    a = p.schedule(np.random.default_rng(1))
    rng = np.random.default_rng(1)
    prev, want = None, []
    for n in range(5):
        prev = p.delay(n, prev, rng)
        want.append(prev)
    assert a.tolist() == want and len(a) == p.retries == 5
    assert RetryPolicy("none").schedule().tolist() == []


def storm_by_hand(policy, budget, base_rate, spike_rate, spike_start, spike_length, horizon, duration, limit,
                  rtt, seed):
    """simulate_client_retries written as a plain event list: completions before attempts at the
    same time, each completion refilling the budget (capped) as it happens."""
    rng = np.random.default_rng(seed)
    arrival = traffic.spike(base_rate, spike_rate, spike_start, spike_length, horizon, rng)
    delay = policy.sampler(rng) if policy.retries > 0 else None
    tokens = budget.capacity if budget else 0.0
    events = [(t, 1, i, 0, None) for i, t in enumerate(arrival.tolist())]        # (time, kind, call, k, prev)
    heapq.heapify(events)
    running, outcome, attempts = 0, {}, {}
    while events:
        t, kind, i, k, prev = heapq.heappop(events)
        if kind == 0:                                 # an execution ends
            running -= 1
            if budget:
                tokens = min(budget.capacity, tokens + budget.refill)
            continue
        attempts[i] = k + 1
        if running < limit:
            running += 1
            heapq.heappush(events, (t + duration, 0, -1, 0, None))
            outcome[i] = CallOutcome.SUCCEEDED
        elif k >= policy.retries:
            outcome[i] = CallOutcome.GAVE_UP
        elif budget and tokens < 1.0:
            outcome[i] = CallOutcome.BUDGET_DENIED
        else:
            if budget:
                tokens -= 1.0
            d = delay(k, prev)
            heapq.heappush(events, (t + rtt + d, 1, i, k + 1, d))
    n = len(arrival)
    return [outcome[i] for i in range(n)], [attempts[i] for i in range(n)]


@pytest.mark.parametrize("strategy,budget", [("decorrelated_jitter", RetryBudget(5.0, 0.5)),
                                             ("exponential", RetryBudget(3.0, 0.3)),
                                             ("full_jitter", None), ("immediate", RetryBudget(20.0, 1.0))])
@pytest.mark.parametrize("seed", [1, 2])
def test_storm_engine_matches_a_plain_event_list(strategy, budget, seed):
    """The engine (two heaps, budget credited lazily) against the plain story, call by call:
    budgets that run dry and refill, decorrelated jitter's dependence on the previous delay."""
    policy = RetryPolicy(strategy, 0.05, 2.0, 3)
    kw = dict(base_rate=100.0, spike_rate=3_000.0, spike_start=1.0, spike_length=0.5, horizon=4.0,
              duration=0.1, concurrency_limit=10, rtt=0.01, seed=seed)
    r = retry.simulate_client_retries(policy, budget, **kw)
    outcome, attempts = storm_by_hand(policy, budget, kw["base_rate"], kw["spike_rate"], kw["spike_start"],
                                      kw["spike_length"], kw["horizon"], kw["duration"], kw["concurrency_limit"],
                                      kw["rtt"], seed)
    assert r.outcome.tolist() == [int(o) for o in outcome]
    assert r.attempts.tolist() == attempts
    b = r.books()
    assert b["gave_up"] > 0 and (budget is None or b["budget_denied"] > 0)


def test_contention_sweep_messages_and_default_replications():
    assert retry.contention_sweep((10,), ("exponential",)).replications == 10
    with pytest.raises(ValueError) as e:
        retry.contention_sweep((10, 1_001))
    assert str(e.value) == ("n_values=1,001 is out of range: allowed 1 to 1,000 (each a number of clients; "
                            "without backoff the writes grow with N squared)")
    with pytest.raises(ValueError, match=r"^n_values=0 is out of range: allowed 1 to 1,000 "):
        retry.contention_sweep((0,))
    for bad in ([[10]], np.array([[10, 20]])):
        with pytest.raises(ValueError, match=r"^n_values=.* is not allowed: give a non-empty list of client counts$"):
            retry.contention_sweep(bad)
    for bad in ([["exponential"]], ()):
        with pytest.raises(ValueError, match=r"^strategies=.* is not allowed: give a non-empty list of strategies$"):
            retry.contention_sweep((10,), bad)
    sw = retry.contention_sweep(np.array([10, 20]), ["exponential"], replications=2)
    assert sw.n_values.dtype == np.int64 and sw.strategies == ("exponential",)


def test_an_execution_ending_exactly_when_an_attempt_comes_frees_its_unit_for_it():
    """The retry storm's engine by hand (the tie rule of labsim.awslambda): with a limit of 1, an
    attempt that arrives exactly when the running execution ends is admitted; a moment earlier it
    gets a 429, and with a budget every completed execution puts ``refill`` back."""
    from labsim.retry import _ClientRetries
    policy = RetryPolicy("fixed", 0.5, 0.5, 3)
    loop = _ClientRetries(policy, None, np.array([0.0, 1.0]), 0.01, np.random.default_rng(0))
    at_t, at_c, at_n, at_ok = loop.run(1, 1.0, None)
    assert at_ok == [True, True] and loop.end == [1.0, 2.0] and loop.attempts == [1, 1]
    loop = _ClientRetries(policy, None, np.array([0.0, 0.999]), 0.01, np.random.default_rng(0))
    at_t, at_c, at_n, at_ok = loop.run(1, 1.0, None)
    assert at_ok == [True, False, True] and at_t[2] == 0.999 + 0.01 + 0.5 and loop.attempts == [1, 2]
    budget = RetryBudget(capacity=1.0, refill=0.25)
    loop = _ClientRetries(policy, budget, np.array([0.0, 0.5, 0.6, 1.0]), 0.0, np.random.default_rng(0))
    at_t, at_c, at_n, at_ok = loop.run(1, 1.0, budget)
    # 0.5: 429, its retry takes the only token; 0.6: 429, no token left: refused by the budget;
    # 1.0: the first execution ends (0.25 back), call 1's retry (due at 1.0, pushed first) runs, and
    # call 3, arriving at 1.0, gets a 429 with 0.25 tokens: refused by the budget
    assert at_c == [0, 1, 2, 1, 3] and at_ok == [True, False, False, True, False]
    denied = int(CallOutcome.BUDGET_DENIED)
    assert loop.outcome == [0, 0, denied, denied] and loop.tokens == 0.25
