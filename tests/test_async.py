"""labsim.lambda_async: closed forms, exact schedules, books, validation."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import value_re
from labsim import idempotency, lambda_async as la, theory
from labsim.outcomes import Outcome


# --- closed forms: success fraction 1 - p^(r+1) and mean runs sum_{k<=r} p^k --------------------
@pytest.mark.parametrize("p", [0.3, 0.6])
@pytest.mark.parametrize("r", [0, 1, 2])
def test_success_fraction_and_mean_runs_match_closed_form(p, r):
    # No throttling (no reserved concurrency), default 6 h age limit, horizon long enough for the
    # ~3 min of retries: every event finishes, so events are independent trials.
    res = la.simulate_async(rate=40.0, arrival_horizon=100.0, horizon=1_000.0, error_rate=p,
                            max_retry_attempts=r, seed=10 * r + int(10 * p))
    n = res.sent
    assert n > 3_000 and res.count(Outcome.IN_FLIGHT) == 0 and res.throttles.sum() == 0
    q = theory.retry_success_probability(p, r)
    # Successes ~ Binomial(n, q): tolerance 3 binomial standard errors sqrt(q(1-q)/n).
    assert abs(res.success_fraction() - q) <= 3 * math.sqrt(q * (1 - q) / n), (res.success_fraction(), q)
    # Runs per event: iid truncated geometric; tolerance 3 standard errors sqrt(Var/n), Var exact.
    m = theory.retry_expected_attempts(p, r)
    assert math.isclose(m, (1 - p ** (r + 1)) / (1 - p))
    assert abs(res.mean_runs() - m) <= 3 * math.sqrt(theory.retry_attempts_variance(p, r) / n), (res.mean_runs(), m)
    assert res.runs.max() <= r + 1


def test_runs_variance_by_enumeration():
    p, r = 0.4, 2
    probs = {1: 0.6, 2: 0.4 * 0.6, 3: 0.4 ** 2}
    mean = sum(k * v for k, v in probs.items())
    var = sum(k * k * v for k, v in probs.items()) - mean ** 2
    assert math.isclose(theory.retry_expected_attempts(p, r), mean) and math.isclose(theory.retry_attempts_variance(p, r), var)


# --- exact schedules -----------------------------------------------------------------------------
def test_function_error_retries_one_and_two_minutes_apart():
    res = la.simulate_async(arrivals=[10.0], fail_first=[5], mean_duration=2.0, horizon=1_000.0)
    starts = res.attempt_time[res.attempt_event == 0]
    # runs at 10; end 12 + 60 -> 72; end 74 + 120 -> 194; then failed at 196
    assert starts.tolist() == [10.0, 72.0, 194.0]
    assert la.RETRY_DELAYS_S == (60.0, 120.0) and la.DEFAULT_MAX_RETRY_ATTEMPTS == 2
    assert res.outcome[0] == Outcome.FAILED and res.final_time[0] == 196.0
    assert res.where[0] == la.FAILURE_DESTINATION


@pytest.mark.parametrize("r", [0, 1, 2])
def test_max_retry_attempts_limits_runs(r):
    res = la.simulate_async(arrivals=[0.0], fail_first=[9], horizon=1_000.0, max_retry_attempts=r)
    assert res.runs[0] == r + 1 and res.function_errors[0] == r + 1


def test_throttled_events_back_off_1s_doubling_to_5min_until_age_limit():
    # Reserved concurrency 1, kept busy by four 900 s events (0, 900, 1,800, 2,700 s): the event
    # sent at 0.5 s is throttled on every try until it expires at 0.5 + 3,600 s.
    arr = [0.0, 0.5, 900.0, 1_800.0, 2_700.0]
    res = la.simulate_async(arrivals=arr, reserved_concurrency=1, max_event_age=3_600, horizon=4_000.0,
                            mean_duration=900.0, error_rate=0.0)
    mine = res.attempt_event == 1
    t = res.attempt_time[mine]
    gaps = np.diff(t)
    assert gaps[:9].tolist() == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert np.all(gaps[9:] == 300.0)
    assert t[-1] <= 3_600.5 < t[-1] + 300
    assert np.all(res.attempt_kind[mine] == la.THROTTLED) and res.runs[1] == 0
    assert res.outcome[1] == Outcome.DROPPED and res.final_time[1] == 3_600.5


@pytest.mark.parametrize("target,place", [("destination", la.FAILURE_DESTINATION), ("dlq", la.DLQ),
                                          ("both", la.DESTINATION_AND_DLQ), ("none", la.LOST)])
def test_reserved_concurrency_zero_sends_new_events_straight_to_the_failure_target(target, place):
    """AWS: with reserved concurrency 0, new events go to the DLQ or on-failure destination
    without retries (the old model throttled each about 80 times and failed it after 6 h)."""
    res = la.simulate_async(rate=1.0, arrival_horizon=100.0, horizon=200.0, reserved_concurrency=0,
                            on_failure=target, seed=3)
    assert res.sent > 50
    assert (res.where == place).all() and (res.outcome == Outcome.THROTTLED).all()
    assert np.array_equal(res.final_time, res.arrival)          # at once
    assert (res.runs == 0).all() and (res.throttles == 1).all() and len(res.attempt_time) == res.sent
    b = res.books()
    assert b["sent"] == b["throttled"] and b["sent"] == b[la._BOOK_NAMES[place]]


def test_destination_and_dlq_can_both_be_set():
    """"In addition to or instead of": with both set, a failed event goes to both (the model's
    labelled assumption), one place in the books."""
    res = la.simulate_async(arrivals=[0.0, 1.0], fail_first=[9, 0], horizon=1_000.0, on_failure="both")
    assert res.where[0] == la.DESTINATION_AND_DLQ and res.outcome[0] == Outcome.FAILED
    assert res.where[1] == la.SUCCESS_NO_DESTINATION
    b = res.books()
    assert b["destination_and_dlq"] == 1 and b["failure_destination"] == 0 and b["dlq"] == 0
    assert "in addition to or\ninstead of" in la.__doc__ or "in addition to or instead of" in la.__doc__.replace("\n", " ")


def test_retry_beyond_age_limit_expires_the_event():
    res = la.simulate_async(arrivals=[0.0], fail_first=[1], max_event_age=60, horizon=500.0, on_failure="dlq")
    assert res.runs[0] == 1 and res.outcome[0] == Outcome.DROPPED and res.final_time[0] == 60.0
    assert res.where[0] == la.DLQ


@pytest.mark.parametrize("on_failure,on_success,fail_where,ok_where", [
    ("destination", True, la.FAILURE_DESTINATION, la.SUCCESS_DESTINATION),
    ("dlq", False, la.DLQ, la.SUCCESS_NO_DESTINATION),
    ("none", False, la.LOST, la.SUCCESS_NO_DESTINATION)])
def test_where_events_go(on_failure, on_success, fail_where, ok_where):
    res = la.simulate_async(arrivals=[0.0, 1.0], fail_first=[0, 9], horizon=1_000.0,
                            on_failure=on_failure, on_success=on_success)
    assert res.where.tolist() == [ok_where, fail_where]


def test_reserved_concurrency_caps_running_handlers():
    res = la.simulate_async(rate=5.0, arrival_horizon=120.0, horizon=600.0, mean_duration=2.0,
                            reserved_concurrency=3, error_rate=0.1, seed=4)
    ran = res.attempt_kind != la.THROTTLED
    s, e = res.attempt_time[ran], res.attempt_end[ran]
    g = np.unique(s)
    running = np.searchsorted(np.sort(s), g, side="right") - np.searchsorted(np.sort(e), g, side="right")
    assert running.max() == 3 and res.throttles.sum() > 0


def test_events_still_queued_at_horizon_are_in_flight():
    res = la.simulate_async(arrivals=[0.0, 1.0], fail_first=[1, 0], horizon=30.0)
    assert res.outcome.tolist() == [Outcome.IN_FLIGHT, Outcome.SUCCEEDED]
    assert np.isnan(res.final_time[0]) and res.where[0] == la.PENDING


# --- duplicates feed the idempotency model ---------------------------------------------------------
def test_duplicate_deliveries_and_charges():
    q = 0.2
    res = la.simulate_async(rate=20.0, arrival_horizon=100.0, horizon=2_000.0, error_rate=0.0,
                            duplicate_prob=q, duplicate_delay=5.0, seed=3)
    n = res.sent
    dups = int(res.duplicates.sum())
    # Duplicates ~ Binomial(successes, q): tolerance 3 binomial standard errors.
    assert abs(dups / n - q) <= 3 * math.sqrt(q * (1 - q) / n)
    assert res.attempt_duplicate.sum() == dups            # no throttling: each one ran once
    ev, t = res.handler_runs()
    plain = idempotency.charges_from_deliveries(ev, t, store=False)
    keyed = idempotency.charges_from_deliveries(ev, t, store=True, ttl=3_600)
    assert plain.duplicated_charges == dups and plain.charges == n + dups
    assert keyed.duplicated_charges == 0 and keyed.charges == n
    assert res.books()["succeeded"] == n                  # duplicates do not change final states


# --- books and invariants --------------------------------------------------------------------------
@settings(max_examples=30, deadline=None, database=None)
@given(p=st.floats(0, 1), ps=st.floats(0, 0.5), r=st.integers(0, 2), age=st.floats(60, 21_600),
       reserved=st.sampled_from([None, 0, 1, 2, 5]), target=st.sampled_from(la.FAILURE_TARGETS),
       ok=st.booleans(), q=st.floats(0, 0.5), horizon=st.floats(10, 3_000), seed=st.integers(0, 10 ** 6))
def test_books_balance(p, ps, r, age, reserved, target, ok, q, horizon, seed):
    res = la.simulate_async(rate=0.5, arrival_horizon=min(horizon, 200.0), horizon=horizon, error_rate=p,
                            system_error_rate=ps, max_retry_attempts=r, max_event_age=age,
                            reserved_concurrency=reserved, on_failure=target, on_success=ok,
                            duplicate_prob=q, seed=seed)
    b = res.books()
    states = ("succeeded", "failed", "expired", "throttled", "in_flight")
    assert b["sent"] == sum(b[k] for k in states)
    assert b["sent"] == sum(v for k, v in b.items() if k not in ("sent",) + states)
    assert b["in_flight"] == b["pending"]
    assert b["succeeded"] == b["success_destination"] + b["success_no_destination"]
    assert (b["failed"] + b["expired"] + b["throttled"]
            == b["failure_destination"] + b["dlq"] + b["destination_and_dlq"] + b["lost"])
    assert (b["throttled"] == b["sent"]) if reserved == 0 else (b["throttled"] == 0)
    assert (b["success_destination"] == 0) or ok
    fin = res.finished
    assert np.all(res.final_time[fin] >= res.arrival[fin]) and np.all(res.final_time[fin] <= horizon)
    assert np.all(res.final_time[fin] <= res.arrival[fin] + age + 1e-9)
    assert np.all(res.function_errors <= r + 1) and np.all(res.runs <= r + 1)
    assert np.all(res.outcome[res.function_errors == r + 1] != Outcome.SUCCEEDED)
    # per-attempt arrays agree with the per-event counts
    first = ~res.attempt_duplicate
    ran = first & (res.attempt_kind <= la.RUN_FUNCTION_ERROR)
    assert np.array_equal(np.bincount(res.attempt_event[ran], minlength=res.sent), res.runs)
    w = res.where_over_time(np.linspace(0, horizon, 7))
    assert np.array_equal(w.sum(axis=0), np.searchsorted(res.arrival, np.linspace(0, horizon, 7), side="right"))


def test_same_seed_same_result():
    a = la.simulate_async(rate=2.0, arrival_horizon=60.0, reserved_concurrency=1, duplicate_prob=0.1, seed=7)
    b = la.simulate_async(rate=2.0, arrival_horizon=60.0, reserved_concurrency=1, duplicate_prob=0.1, seed=7)
    assert np.array_equal(a.attempt_time, b.attempt_time) and np.array_equal(a.outcome, b.outcome)


# --- validation ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name,value,allowed", [
    ("max_retry_attempts", 3, "0 to 2"), ("max_retry_attempts", -1, "0 to 2"),
    ("max_event_age", 59, "60 to 21,600"), ("max_event_age", 21_601, "60 to 21,600"),
    ("error_rate", 1.5, "0 to 1"), ("reserved_concurrency", -1, "0 to"),
    ("duplicate_prob", 1.0, "0 to 1")])
def test_bad_parameters_are_named(name, value, allowed):
    with pytest.raises(ValueError, match=rf"{name}={value_re(value)}.*{re.escape(allowed)}"):
        la.simulate_async(**{name: value})


def test_bad_choices_are_named():
    with pytest.raises(ValueError, match="on_failure='sqs'.*'destination', 'dlq', 'both', 'none'"):
        la.simulate_async(on_failure="sqs")
    with pytest.raises(ValueError, match="on_success"):
        la.simulate_async(on_success="yes")
    with pytest.raises(ValueError, match="fail_first"):
        la.simulate_async(arrivals=[0.0, 1.0], fail_first=[1])


# --- issue 9: hostile input, work bounds, the tie at the maximum event age -----------------------
@pytest.mark.parametrize("arrivals,what", [(0, "shape ()"), (5.0, "shape ()"), ("abc", "1-D array"),
                                           ([1.0, math.nan], "not finite"), ([[1.0]], "shape (1, 1)"),
                                           ([-1.0], "out of range"), ([1_200.0], "out of range")])
def test_bad_arrivals_are_named(arrivals, what):
    """arrivals=0 raised numpy's AxisError; a NaN arrival stayed in flight forever."""
    with pytest.raises(ValueError) as e:
        la.simulate_async(arrivals=arrivals)
    assert str(e.value).startswith("arrivals ") and what in str(e.value), e.value


@pytest.mark.parametrize("fail_first", ["ab", [1.0, math.nan], [-1, 0], [0.5, 0], [1], [[1, 0]], [True, False]])
def test_bad_fail_first_is_named(fail_first):
    with pytest.raises(ValueError, match=r"^fail_first"):
        la.simulate_async(arrivals=[0.0, 1.0], fail_first=fail_first)


def test_work_is_bounded_and_the_error_names_what_to_lower():
    """rate=4,000 over 1,200 s used to run for more than 10 s and grow past 1.25 GB: now the run's
    tries (expected events x the most tries one event can make) are bounded up front."""
    with pytest.raises(ValueError) as e:
        la.simulate_async(rate=4_000, horizon=1_200)
    msg = str(e.value)
    assert msg.startswith("rate=4,000 is out of range: allowed 0 to 138.889 (at most 500,000 tries per run")
    assert "arrival_horizon=1200 s" in msg and "max_retry_attempts=2" in msg
    # Throttling multiplies the tries: 1 s, 2 s, ... 256 s, then every 300 s until the event's age.
    with pytest.raises(ValueError, match=r"allowed 0 to 27\.7778 .* up to 15 tries each .*reserved_concurrency=1"):
        la.simulate_async(rate=100, horizon=1_200, reserved_concurrency=1)
    la.simulate_async(rate=27.0, horizon=1_200, reserved_concurrency=1, mean_duration=0.01)   # just inside
    with pytest.raises(ValueError, match=r"^arrivals: 200,000 events x up to 3 tries each is out of range"):
        la.simulate_async(arrivals=np.linspace(0, 1_000, 200_000))
    with pytest.raises(ValueError, match=r"^rate=1 is out of range: allowed 0 to 0\.275573 .*horizon=604800 s"):
        la.simulate_async(horizon=7 * 86_400)


@pytest.mark.parametrize("window,tries", [(0, 1), (0.5, 1), (1, 2), (2.9, 2), (3, 3), (511, 10), (810.9, 10),
                                          (811, 11), (1_200, 12), (21_600, 80)])
def test_max_throttle_tries_follows_the_backoff(window, tries):
    """Tries at 0, 1, 3, 7, ... 511 s (1 s doubling to 256 s), then every 300 s: a try due exactly
    at the end of the window still counts (the tie rule at the maximum event age)."""
    assert la.max_throttle_tries(window) == tries


def test_a_retry_due_exactly_at_the_maximum_event_age_still_runs():
    """The labelled tie rule: the run fails at 1 s, its retry is due 60 s later, at 61 s; with
    max_event_age=61 that is exactly arrival + age, and it runs (> expires, not >=)."""
    kw = dict(arrivals=[0.0], mean_duration=1.0, fail_first=[1], error_rate=0.0, horizon=600.0)
    r = la.simulate_async(max_event_age=61, **kw)
    assert r.attempt_time.tolist() == [0.0, 61.0]
    assert r.outcome[0] == Outcome.SUCCEEDED and r.runs[0] == 2 and r.final_time[0] == 62.0
    r = la.simulate_async(max_event_age=60.5, **kw)
    assert r.attempt_time.tolist() == [0.0]
    assert r.outcome[0] == Outcome.DROPPED and r.final_time[0] == 60.5


def test_a_throttle_retry_due_exactly_at_the_maximum_event_age_still_runs():
    """Same rule for the throttle backoff: event 1 is refused at 0, 1, 3, 7, 15 and 31 s while
    event 0 runs (0 to 40 s) and tries again at 63 s: with max_event_age=63 it runs."""
    kw = dict(arrivals=[0.0, 0.0], mean_duration=40.0, reserved_concurrency=1, error_rate=0.0, horizon=600.0)
    r = la.simulate_async(max_event_age=63, **kw)
    mine = r.attempt_event == 1
    assert r.attempt_time[mine].tolist() == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0]
    assert r.outcome.tolist() == [Outcome.SUCCEEDED, Outcome.SUCCEEDED] and r.throttles[1] == 6
    r = la.simulate_async(max_event_age=62.5, **kw)
    assert r.attempt_time[r.attempt_event == 1].tolist() == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0]
    assert r.outcome[1] == Outcome.DROPPED and r.final_time[1] == 62.5


def test_a_duplicates_throttle_retry_due_exactly_at_the_maximum_event_age_still_runs():
    """And for a duplicate delivery: event 0's duplicate arrives at D (drawn), finds event 1
    running (D - 0.5 to D + 1.5), is refused at D and D + 1 and tries again at D + 3: it runs
    when that is exactly the event's maximum age, and is dropped one float earlier."""
    kw = dict(mean_duration=2.0, reserved_concurrency=1, error_rate=0.0, duplicate_prob=0.999999,
              duplicate_delay=500.0, horizon=5_000.0, seed=5)
    first = la.simulate_async(arrivals=[0.0], **kw)
    d = float(first.attempt_time[first.attempt_duplicate][0])          # when the duplicate arrives
    age = (d + 1.0) + 2.0
    for a, runs in ((age, True), (float(np.nextafter(age, 0.0)), False)):
        r = la.simulate_async(arrivals=[0.0, d - 0.5], max_event_age=a, **kw)
        dup = (r.attempt_event == 0) & r.attempt_duplicate
        assert r.attempt_time[dup].tolist() == ([d, d + 1.0, age] if runs else [d, d + 1.0])
        assert r.attempt_kind[dup].tolist() == ([la.THROTTLED] * 2 + [la.RUN_OK] if runs else [la.THROTTLED] * 2)
        assert r.outcome[0] == Outcome.SUCCEEDED                         # a duplicate changes no state


# --- result methods the labs and plots use ---------------------------------------------------------
def timeline():
    """Event 0 fails once (runs at 0 and 61), event 1 succeeds at once, event 2 fails for good."""
    return la.simulate_async(arrivals=[0.0, 1.0, 2.0], fail_first=[1, 0, 9], mean_duration=1.0, error_rate=0.0,
                             max_retry_attempts=1, horizon=600.0, on_failure="dlq", on_success=True)


def test_handler_runs_keep_or_drop_the_failed_runs():
    r = timeline()
    ev, t = r.handler_runs()
    assert list(zip(ev.tolist(), t.tolist())) == [(1, 1.0), (0, 61.0)]
    ev, t = r.handler_runs(ok_only=False)
    assert sorted(zip(ev.tolist(), t.tolist())) == [(0, 0.0), (0, 61.0), (1, 1.0), (2, 2.0), (2, 63.0)]


def test_where_over_time_by_hand():
    r = timeline()
    assert r.outcome.tolist() == [Outcome.SUCCEEDED, Outcome.SUCCEEDED, Outcome.FAILED]
    assert r.final_time.tolist() == [62.0, 2.0, 64.0]
    grid = [0.0, 1.5, 2.0, 62.0, 63.9, 64.0, 600.0]
    w = r.where_over_time(grid)
    assert w.shape == (len(la.WHERE_NAMES), len(grid))
    assert w[la.SUCCESS_DESTINATION].tolist() == [0, 0, 1, 2, 2, 2, 2]
    assert w[la.DLQ].tolist() == [0, 0, 0, 0, 0, 1, 1]
    assert w[la.PENDING].tolist() == [1, 2, 2, 1, 1, 0, 0]
    assert w.sum(axis=0).tolist() == [1, 2, 3, 3, 3, 3, 3]
    assert r.success_fraction() == 2 / 3 and r.mean_runs() == 5 / 3
    empty = la.simulate_async(arrivals=[], horizon=10.0)
    assert math.isnan(empty.success_fraction()) and math.isnan(empty.mean_runs()) and empty.sent == 0


@pytest.mark.parametrize("kw,tries", [(dict(duplicate_prob=0.1), 4), (dict(system_error_rate=0.5), 15),
                                      (dict(max_retry_attempts=0), 1), (dict(max_retry_attempts=1), 2),
                                      (dict(reserved_concurrency=0, max_retry_attempts=1), 1),
                                      (dict(reserved_concurrency=0, duplicate_prob=0.5), 1)])
def test_the_tries_bound_counts_what_each_event_can_do(kw, tries):
    """A duplicate adds one try, throttles and 5xx errors add the backoff's tries within the
    window, reserved concurrency 0 leaves one (straight to the failure target)."""
    with pytest.raises(ValueError, match=rf"up to {tries} tries each"):
        la.simulate_async(rate=1e6, horizon=1_200, **kw)
    with pytest.raises(ValueError, match=rf"^rate=1,000,000 is out of range: allowed 0 to {500_000 / (1_200 * tries):g} "):
        la.simulate_async(rate=1e6, horizon=1_200, **kw)


def test_arrivals_in_any_order_and_random_durations():
    a = la.simulate_async(arrivals=[5.0, 1.0, 3.0], horizon=100.0, error_rate=0.0)
    assert a.arrival.tolist() == [1.0, 3.0, 5.0] and a.books()["succeeded"] == 3
    e = la.simulate_async(rate=5.0, arrival_horizon=200.0, horizon=1_000.0, duration_kind="exponential",
                          mean_duration=2.0, error_rate=0.0, seed=4)
    d = e.attempt_end - e.attempt_time
    assert len(np.unique(d)) == len(d) and abs(d.mean() - 2.0) < 4 * 2.0 / math.sqrt(len(d))


def test_an_execution_ending_exactly_when_a_try_comes_frees_its_unit_for_it():
    """The tie rule (as in labsim.awslambda and labsim.tokenbucket): with reserved concurrency 1,
    an execution that ends at t frees its unit for a try at t. Event 1 arrives exactly when event
    0's 1 s run ends: it runs at once, never throttled; a moment earlier it is throttled."""
    res = la.simulate_async(arrivals=[0.0, 1.0], mean_duration=1.0, error_rate=0.0, reserved_concurrency=1,
                            horizon=100.0)
    assert (res.throttles == 0).all() and list(res.attempt_time) == [0.0, 1.0]
    assert list(res.final_time) == [1.0, 2.0]
    early = la.simulate_async(arrivals=[0.0, 0.999], mean_duration=1.0, error_rate=0.0, reserved_concurrency=1,
                              horizon=100.0)
    assert list(early.throttles) == [0, 1] and early.final_time[1] == 0.999 + 1.0 + 1.0   # 1 s backoff, then 1 s run


def test_an_event_that_finishes_exactly_at_the_horizon_has_its_final_state():
    """A run that ends exactly at the horizon counts (``final_time <= horizon``); one that ends
    later leaves the event in flight."""
    at = la.simulate_async(arrivals=[0.0], mean_duration=1.0, error_rate=0.0, horizon=1.0)
    assert at.outcome[0] == Outcome.SUCCEEDED and at.final_time[0] == 1.0
    after = la.simulate_async(arrivals=[0.0], mean_duration=1.5, error_rate=0.0, horizon=1.0)
    assert after.outcome[0] == Outcome.IN_FLIGHT and np.isnan(after.final_time[0])
