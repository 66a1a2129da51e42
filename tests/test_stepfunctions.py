"""labsim.stepfunctions: a batch job run as a Map state. Theory (list scheduling, retries),
the books, the failure rules of inline and distributed Maps, the cost units, and errors that
name their parameter."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labsim import batch
from labsim import stepfunctions as sf


# --- theory: the schedule ------------------------------------------------------------------------
@pytest.mark.parametrize("n,c,d", [(200, 40, 50.0), (200, 100, 50.0), (7, 3, 2.5), (40, 40, 10.0), (41, 40, 10.0),
                                   (1, 5, 900.0), (1_000, 7, 0.125)])
def test_equal_iterations_take_ceil_n_over_c_rounds_exactly(n, c, d):
    """Exact for durations a float adds without rounding (0.125, not 0.1)."""
    r = sf.run_map(np.full(n, d), mode="distributed", max_concurrency=c)
    assert r.wall_time == sf.map_wall_time(n, c, d) == math.ceil(n / c) * d
    assert not r.map_failed and r.count(sf.SUCCEEDED) == n


def test_inline_map_runs_at_most_40_at_once():
    assert sf.INLINE_MAX_CONCURRENCY == 40 and sf.DISTRIBUTED_DEFAULT_CONCURRENCY == 10_000
    assert sf.effective_concurrency("inline", 100) == 40 == sf.effective_concurrency("inline", 0)
    assert sf.effective_concurrency("inline", 10) == 10
    assert sf.effective_concurrency("distributed", 0) == 10_000 and sf.effective_concurrency("distributed", 500) == 500
    r = sf.run_map(np.full(200, 50.0), mode="inline", max_concurrency=100)
    assert r.concurrency == 40 and r.wall_time == sf.map_wall_time(200, 40, 50.0) == 250.0


@pytest.mark.parametrize("c,seed", [(1, 0), (3, 1), (10, 2), (40, 3), (100, 4)])
def test_random_durations_lie_within_the_list_scheduling_bounds(c, seed):
    """Graham's bounds for list scheduling: max(sum/c, longest) <= wall <= sum/c + (1 - 1/c) x longest."""
    d = np.random.default_rng(seed).lognormal(3.0, 1.0, 300)
    r = sf.run_map(d, mode="distributed", max_concurrency=c)
    lower = max(d.sum() / c, d.max())
    upper = d.sum() / c + (1 - 1 / c) * d.max()
    assert lower - 1e-9 <= r.wall_time <= upper + 1e-9
    for s in r.start:                       # never more than c at once
        assert ((r.start <= s) & (r.end > s)).sum() <= c


def test_the_job_is_chapter_ones_batch():
    r = sf.simulate_map(chunk_size=1_000, mode="distributed", max_concurrency=10)
    job = batch.simulate_batch(items=20_000, seconds_per_item=0.5, chunk_size=1_000, concurrency=10)
    assert np.array_equal(r.work, job.work) and np.array_equal(r.items, job.items)
    assert r.wall_time == job.wall_time                    # same schedule when nothing fails


# --- theory: retries ---------------------------------------------------------------------------------
def test_retry_defaults_and_waits():
    assert (sf.RETRY_INTERVAL_S, sf.RETRY_MAX_ATTEMPTS, sf.RETRY_BACKOFF_RATE) == (1.0, 3, 2.0)
    assert sf.retry_waits().tolist() == [1.0, 2.0, 4.0]
    assert sf.retry_waits(3, 3, 1.5).tolist() == [3.0, 4.5, 6.75]
    assert sf.retry_waits(0).tolist() == []


def test_a_chunk_over_the_timeout_fails_every_attempt():
    """1,000 s of work against 900 s: four attempts of 900 s and waits of 1, 2 and 4 s."""
    for handling, outcome in (("retry", sf.FAILED), ("retry_catch", sf.CAUGHT)):
        r = sf.run_map([1_000.0], handling=handling)
        assert r.attempts.tolist() == [4] and r.outcome.tolist() == [outcome]
        assert r.end[0] == 4 * 900 + 1 + 2 + 4
        assert r.map_failed == (handling == "retry")
    r = sf.run_map([1_000.0], handling="retry_catch")
    assert r.state_transitions == 1 + 4 + 1 and r.items_done == 0 and r.items_to_redo == 1


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_retries_against_independent_failures(p):
    """Each attempt fails with p: an iteration fails all 1 + 3 attempts with p^4, and makes
    (1 - p^4) / (1 - p) attempts on average. Checked within 4 standard errors."""
    n = 20_000
    r = sf.run_map(np.ones(n), mode="distributed", max_concurrency=0, failure_rate=p, handling="retry_catch",
                   seed=7)
    q = p ** 4
    caught = r.count(sf.CAUGHT) / n
    assert abs(caught - q) <= 4 * math.sqrt(q * (1 - q) / n) + 1 / n
    mean = (1 - q) / (1 - p)
    assert abs(r.attempts.mean() - mean) <= 4 * r.attempts.std() / math.sqrt(n)
    assert r.count(sf.SUCCEEDED) / n == pytest.approx(1 - p, abs=4 * math.sqrt(p * (1 - p) / n))


# --- failure rules -----------------------------------------------------------------------------------
def test_one_failed_iteration_fails_an_inline_map_and_stops_the_others():
    r = sf.run_map(np.full(200, 50.0), max_concurrency=40, failure_rate=0.05, seed=3)
    assert r.map_failed and r.reason == "an iteration failed"
    t = r.fail_time
    assert r.count(sf.FAILED) >= 1 and np.all(r.end[r.outcome == sf.FAILED] == t)
    started = np.isfinite(r.start)
    assert np.all(r.start[started] < t) and np.all(r.end[started] <= t)
    assert np.all(r.end[r.outcome == sf.ABORTED] == t)
    assert r.count(sf.NOT_STARTED) == (~started).sum() > 0
    assert r.wall_time == t


@pytest.mark.parametrize("tol", [0, 5, 10, 15, 20, 25, 40])
def test_a_distributed_map_fails_when_failures_exceed_the_tolerated_percentage(tol):
    n = 200
    r = sf.run_map(np.full(n, 50.0), mode="distributed", max_concurrency=1_000, failure_rate=0.15, seed=5,
                   tolerated_failure_pct=tol)
    # All 200 run in one round and end together: the Map fails iff the failed exceed the threshold.
    full = sf.run_map(np.full(n, 50.0), mode="distributed", max_concurrency=1_000, failure_rate=0.15, seed=5,
                      tolerated_failure_pct=100)
    failed = full.count(sf.FAILED)
    assert not full.map_failed and 10 < failed < 50
    assert r.map_failed == (failed > math.floor(tol / 100 * n))
    if not r.map_failed:
        assert r.count(sf.FAILED) == failed and r.items_to_redo == failed


def test_express_limits():
    # A child of 500 s fails at five minutes, whatever its catcher.
    r = sf.run_map([500.0, 100.0], mode="distributed", workflow="express", handling="retry_catch",
                   tolerated_failure_pct=50)
    assert r.outcome.tolist() == [sf.FAILED, sf.SUCCEEDED] and r.end[0] == 300.0 and not r.map_failed
    # An inline Map in an Express workflow: the whole Map within five minutes.
    r = sf.run_map(np.full(10, 100.0), mode="inline", max_concurrency=2, workflow="express")
    assert r.map_failed and r.fail_time == 300.0 and r.wall_time == 300.0
    assert r.count(sf.SUCCEEDED) == 6 and r.count(sf.NOT_STARTED) == 4
    ok = sf.run_map(np.full(10, 100.0), mode="inline", max_concurrency=5, workflow="express")
    assert not ok.map_failed and ok.wall_time == 200.0


def test_cost_units():
    r = sf.run_map([1.23, 2.01], mode="distributed", workflow="express")
    assert r.express_requests == 2 and r.express_duration == pytest.approx(1.3 + 2.1)
    assert r.state_transitions == 1                  # the parent's Map state only
    r = sf.run_map([1.23, 2.01], mode="inline", workflow="express")
    assert r.express_requests == 1 and r.express_duration == pytest.approx(2.1) and r.state_transitions == 0
    r = sf.run_map(np.full(200, 50.0))
    assert r.state_transitions == 201 and r.express_requests == 0 and r.express_duration == 0.0


# --- the books ---------------------------------------------------------------------------------------
CONFIGS = [dict(), dict(mode="distributed"), dict(failure_rate=0.05), dict(failure_rate=0.2, handling="retry"),
           dict(failure_rate=0.3, handling="retry_catch"), dict(chunk_size=2_000, handling="retry"),
           dict(mode="distributed", failure_rate=0.2, tolerated_failure_pct=10),
           dict(mode="distributed", workflow="express", chunk_size=1_000), dict(workflow="express", chunk_size=500)]


@pytest.mark.parametrize("kw", CONFIGS, ids=[str(k) for k in CONFIGS])
def test_books_balance(kw):
    r = sf.simulate_map(**kw)
    b = r.books()
    assert b["iterations"] == sum(b[k] for k in ("succeeded", "retried", "caught", "failed", "aborted", "not_started"))
    assert b["items"] == 20_000 == b["items_done"] + b["items_to_redo"]
    if "state_transitions" in b:
        assert b["state_transitions"] == b["map_state"] + b["attempts"] + b["caught"]
    assert np.all(r.attempts[r.outcome == sf.NOT_STARTED] == 0)
    assert np.all(r.attempts[r.outcome != sf.NOT_STARTED] >= 1)


# --- errors name their parameter -----------------------------------------------------------------------
@pytest.mark.parametrize("kw,name", [
    (dict(mode="fast"), "mode"), (dict(max_concurrency=-1), "max_concurrency"), (dict(workflow="quick"), "workflow"),
    (dict(failure_rate=1.0), "failure_rate"), (dict(handling="catch"), "handling"),
    (dict(tolerated_failure_pct=101), "tolerated_failure_pct"), (dict(timeout=901), "timeout"),
    (dict(chunk_size=0), "chunk_size"), (dict(items=0), "items"), (dict(seed=-1), "seed"),
    (dict(seconds_per_item=float("nan")), "seconds_per_item")])
def test_errors_name_the_parameter(kw, name):
    with pytest.raises(ValueError, match=rf"^{name}"):
        sf.simulate_map(**kw)


def test_run_map_and_theory_errors():
    with pytest.raises(ValueError, match=r"^durations"):
        sf.run_map([1.0, -2.0])
    with pytest.raises(ValueError, match=r"^items"):
        sf.run_map([1.0, 2.0], [1, 2, 3])
    with pytest.raises(ValueError, match=r"^c="):
        sf.map_wall_time(5, 0, 1.0)
    with pytest.raises(ValueError, match=r"^backoff="):
        sf.retry_waits(3, 1, 0.5)
    with pytest.raises(ValueError, match=r"^concurrency="):
        batch.list_schedule([1.0], 0)
