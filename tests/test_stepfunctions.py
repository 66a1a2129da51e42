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


# --- small cases computed by hand (each line catches a changed operator, constant or argument) ---------
def test_defaults_of_the_theory_helpers():
    assert sf.effective_concurrency() == 40 and sf.map_wall_time() == 1.0
    assert sf.map_wall_time(0, 3, 5.0) == 0.0 and sf.map_wall_time(7, 2) == 4.0
    assert sf.map_wall_time(7) == 7.0                      # one slot by default


def test_an_inline_map_cut_short_by_a_failure_exactly():
    """Timeout 10 s, a retrier, 2 slots, iterations of 20, 10, 12 and 1 s. The first (20 s, too
    long) fails 4 times at 10 s with waits 1, 2, 4: it fails at 47 s. The second ends at 10 s;
    the third starts then: attempts at 10, 21, 33 and 47 s (each failed one ran 10 s) - the
    fourth would begin exactly at the stop, so it never ran: 3 attempts, aborted at 47 s. The
    fourth iteration would start at 47 s: never started."""
    r = sf.run_map([20.0, 10.0, 12.0, 1.0], max_concurrency=2, timeout=10, handling="retry")
    assert r.map_failed and r.fail_time == 47.0 and r.reason == "an iteration failed"
    assert r.outcome.tolist() == [sf.FAILED, sf.SUCCEEDED, sf.ABORTED, sf.NOT_STARTED]
    assert r.attempts.tolist() == [4, 1, 3, 0]
    assert r.start[:3].tolist() == [0.0, 0.0, 10.0] and r.end[:3].tolist() == [47.0, 10.0, 47.0]
    assert math.isnan(r.start[3]) and math.isnan(r.end[3])
    assert r.handling == "retry" and r.mode == "inline" and r.max_concurrency == 2 and r.tolerated_failure_pct == 0.0
    assert r.items.dtype.kind == "i" and r.attempts.dtype.kind == "i" and r.outcome.dtype == np.int8
    b = r.books()
    assert b["state_transitions"] == 1 + 8 == r.state_transitions and b["attempts"] == 8 and b["map_state"] == 1
    assert b["aborted"] == 1 and b["not_started"] == 1 and b["items_to_redo"] == 3


def test_a_failed_attempt_costs_half_its_work():
    """The model's assumption: a failed attempt fails halfway. An iteration that succeeded at
    attempt a ran (a - 1) x work / 2 + work plus the waits 1, 2, 4 s before its retries."""
    work = np.full(400, 10.0)
    r = sf.run_map(work, mode="distributed", failure_rate=0.5, handling="retry", seed=2)
    waits = np.concatenate([[0.0], np.cumsum(sf.retry_waits())])
    ok = r.outcome == sf.RETRIED
    assert ok.sum() > 50
    a = r.attempts[ok]
    assert np.allclose(r.end[ok] - r.start[ok], (a - 1) * 5.0 + 10.0 + waits[a - 1])
    failed = r.outcome == sf.FAILED                       # every attempt failed: 4 x 5 s + 7 s
    assert failed.any() and np.allclose(r.end[failed] - r.start[failed], 27.0)
    assert r.reason == "failed items exceeded the tolerated 0%" and r.map_failed


def test_express_children_stop_at_five_minutes_exactly():
    # 300 s of work is allowed (the limit is inclusive); 301 s is not
    r = sf.run_map([300.0, 301.0], mode="distributed", workflow="express", tolerated_failure_pct=50)
    assert r.outcome.tolist() == [sf.SUCCEEDED, sf.FAILED] and r.end.tolist() == [300.0, 300.0]
    assert r.express_duration == pytest.approx(600.0) and r.reason == ""
    # 500 s succeeding at once: one attempt made, though the retrier's next would start at 251 s
    r = sf.run_map([500.0, 1.0], mode="distributed", workflow="express", handling="retry", tolerated_failure_pct=50)
    assert r.attempts.tolist() == [1, 1] and r.outcome.tolist() == [sf.FAILED, sf.SUCCEEDED]
    # 297 s failing every attempt (failed attempts of 148.5 s): attempts at 0, 149.5 and 300 s;
    # the one at exactly 300 s never begins
    r = sf.run_map([297.0, 1.0], mode="distributed", workflow="express", handling="retry", timeout=148.5,
                   tolerated_failure_pct=50)
    assert r.attempts.tolist() == [2, 1] and r.end[0] == 300.0


def test_an_inline_express_map_at_exactly_five_minutes():
    r = sf.run_map([300.0], workflow="express")
    assert not r.map_failed and r.wall_time == 300.0 and r.reason == ""
    r = sf.run_map(np.full(10, 100.0), mode="inline", max_concurrency=2, workflow="express")
    assert r.reason == "the Express workflow ran out of its five minutes"
    # an iteration that fails at exactly 300 s fails the Map for that reason, not the clock
    r = sf.run_map([301.0, 10.0], max_concurrency=1, workflow="express", timeout=300)
    assert r.map_failed and r.fail_time == 300.0 and r.reason == "an iteration failed"
    empty = sf.run_map([], workflow="express")
    assert empty.wall_time == 0.0 and not empty.map_failed and empty.iterations == 0


def test_tolerated_failures_exactly():
    """Two iterations, the first always times out (1,000 s of work): a distributed Map fails by
    default (0% tolerated), not with 50%; an inline Map fails whatever the percentage."""
    d = [1_000.0, 1.0]
    r = sf.run_map(d, mode="distributed")
    assert r.map_failed and r.tolerated_failure_pct == 0.0 and r.reason == "failed items exceeded the tolerated 0%"
    r = sf.run_map(d, mode="distributed", tolerated_failure_pct=50, max_concurrency=7)
    assert not r.map_failed and r.tolerated_failure_pct == 50 and r.max_concurrency == 7 and r.concurrency == 7
    assert r.count(sf.FAILED) == 1 and r.reason == ""
    r = sf.run_map(d, mode="inline", tolerated_failure_pct=50)
    assert r.map_failed and r.reason == "an iteration failed"
    # 3 of 4 failing with 50% tolerated: floor(2) = 2 allowed, the third failure fails the Map
    r = sf.run_map([1_000.0] * 3 + [1.0], mode="distributed", tolerated_failure_pct=50)
    assert r.map_failed and r.reason == "failed items exceeded the tolerated 50%"
    r = sf.run_map([1_000.0] * 2 + [1.0] * 2, mode="distributed", tolerated_failure_pct=50)
    assert not r.map_failed


def test_seed_default_and_books_keys():
    kw = dict(mode="distributed", failure_rate=0.3, handling="retry", tolerated_failure_pct=100)
    assert sf.run_map(np.ones(50), **kw).attempts.tolist() == sf.run_map(np.ones(50), seed=0, **kw).attempts.tolist()
    assert sf.run_map(np.ones(50), **kw).attempts.tolist() != sf.run_map(np.ones(50), seed=1, **kw).attempts.tolist()
    std = sf.run_map(np.ones(3)).books()
    assert std["state_transitions"] == 4 and std["attempts"] == 3
    assert "state_transitions" not in sf.run_map(np.ones(3), workflow="express").books()


def test_items_and_iteration_bounds():
    r = sf.run_map([1.0, 2.0], [3, 0])                           # an empty iteration is allowed, any order
    assert r.items.tolist() == [3, 0] and r.items_done == 3
    with pytest.raises(ValueError, match=r"^items has a value out of range \(-2\): allowed 0 or more$"):
        sf.run_map([1.0, 2.0], [1, -2])
    with pytest.raises(ValueError, match=r"^durations has a value out of range \(-2\): allowed 0 or more$"):
        sf.run_map([1.0, -2.0])
    big = sf.run_map(np.ones(sf.MAX_ITERATIONS), mode="distributed", max_concurrency=100_000)
    assert big.iterations == 100_000 and big.wall_time == 1.0
    with pytest.raises(ValueError, match=r"^durations: 100,001 iterations is out of range: allowed at most "
                                         r"100,000 \(simulation bound\)$"):
        sf.run_map(np.ones(sf.MAX_ITERATIONS + 1))
    assert sf.simulate_map(items=100_000, chunk_size=1, mode="distributed", max_concurrency=100_000).iterations == 100_000
    with pytest.raises(ValueError, match=r"^chunk_size=1 is out of range: 100,001 iterations; allowed at most "
                                         r"100,000 \(simulation bound\)$"):
        sf.simulate_map(items=100_001, chunk_size=1)
    with pytest.raises(ValueError, match=r"^mode='fast' is not allowed"):
        sf.run_map([1.0], mode="fast")


def test_simulate_map_passes_its_arguments_on():
    job = batch.simulate_batch(items=2_000, seconds_per_item=0.5, chunk_size=500, seed=3)
    r = sf.simulate_map(items=2_000, chunk_size=500, seed=3)
    assert np.array_equal(r.work, job.work) and r.items.tolist() == [500] * 4
    # a 60 s timeout: chunks of 500 items (about 250 s of work) time out
    r = sf.simulate_map(items=2_000, chunk_size=500, timeout=60, mode="distributed", tolerated_failure_pct=100)
    assert r.count(sf.FAILED) == 4
    # the failures follow the seed
    kw = dict(items=2_000, chunk_size=10, mode="distributed", failure_rate=0.3, handling="retry",
              tolerated_failure_pct=100)
    assert sf.simulate_map(seed=1, **kw).attempts.tolist() != sf.simulate_map(seed=2, **kw).attempts.tolist()
    # the Map's failures are drawn from seed + 1 (a whole number: a Generator is refused)
    with pytest.raises(ValueError, match=r"^seed=Generator.* is not a whole number: allowed 0 or more \(a seed\)$"):
        sf.simulate_map(items=200, chunk_size=10, seed=np.random.default_rng(0))


def test_retry_waits_are_capped_quietly():
    """Beyond 1,000 retries the waits stop (they never matter here); a wait never exceeds a
    Standard workflow's year, and a huge backoff overflows to that cap without a warning."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = sf.retry_waits(5_000, 1, 100)
    assert len(w) == 1_000 and w[0] == 1.0 and w[1] == 100.0 and w[-1] == sf.STANDARD_MAX_DURATION_S
