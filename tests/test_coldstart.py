"""labsim.coldstart: execution environments, cold starts, idle reclaim, provisioned concurrency.

Checked against the synchronous model's cold-start count, a closed form for one environment,
invariants (hypothesis), two properties that hold by construction and one that does not, and
parameter validation.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import value_re
from labsim import awslambda, coldstart, traffic
from labsim.outcomes import Outcome

PROPS = settings(max_examples=40, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow])


@st.composite
def params(draw, init=None, reuse=None):
    limit = draw(st.sampled_from([1, 3, 8, 150, 1_000]))
    reserved = None
    if limit > awslambda.MIN_UNRESERVED and draw(st.booleans()):
        reserved = draw(st.integers(0, min(20, limit - awslambda.MIN_UNRESERVED)))
    cap = reserved if reserved is not None else max(0, limit - awslambda.MIN_UNRESERVED)
    return dict(
        rate=draw(st.floats(0.0, 60.0)),
        mean_duration=draw(st.floats(0.01, 3.0)),
        traffic_shape=draw(st.sampled_from(coldstart.TRAFFIC_SHAPES)),
        duration_kind=draw(st.sampled_from(traffic.DURATION_KINDS)),
        init_duration=draw(st.sampled_from([0.0, 0.3, 2.0])) if init is None else init,
        provisioned=draw(st.integers(0, min(cap, 12))),
        idle_timeout=draw(st.sampled_from([0.0, 0.5, 5.0, 60.0, coldstart.MAX_IDLE_TIMEOUT_S])),
        reuse=draw(st.sampled_from(coldstart.REUSE_POLICIES)) if reuse is None else reuse,
        concurrency_limit=limit,
        reserved=reserved,
        horizon=draw(st.floats(1.0, 60.0)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


# --- a. books and invariants ---------------------------------------------------------------------
@PROPS
@given(params())
def test_books_balance_and_environments_are_consistent(p):
    r = coldstart.simulate_environments(**p)
    b = r.books()
    assert b["sent"] == b["succeeded"] + b["throttled"] + b["in_flight"] == len(r.arrival)
    assert len(r.outcome) == len(r.cold) == len(r.latency) == len(r.env) == len(r.duration) == b["sent"]
    assert np.all(np.diff(r.arrival) >= 0)
    adm = r.admitted
    # Cold starts only on admitted requests; latency = duration (+ INIT if cold); throttled: no env.
    assert not np.any(r.cold & ~adm)
    np.testing.assert_allclose(r.latency[adm], r.duration[adm] + p["init_duration"] * r.cold[adm])
    assert np.all(np.isnan(r.latency[~adm])) and np.all(r.env[~adm] == -1) and np.all(r.env[adm] >= 0)
    np.testing.assert_array_equal(r.outcome[adm] == Outcome.IN_FLIGHT, (r.arrival + r.latency)[adm] > r.horizon)
    # Provisioned environments: the first P, created at 0, never reclaimed, never a cold start.
    P = p["provisioned"]
    assert np.all(r.env_kind[:P] == coldstart.PROVISIONED) and np.all(r.env_kind[P:] == coldstart.ON_DEMAND)
    assert np.all(r.env_created[:P] == 0) and np.all(np.isinf(r.env_reclaimed[:P]))
    assert not np.any(r.cold & (r.env < P))
    # One new on-demand environment per cold start, created at that request's arrival.
    assert r.cold_starts == len(r.env_created) - P
    np.testing.assert_array_equal(r.env_created[P:], r.arrival[r.cold])
    np.testing.assert_array_equal(r.env[r.cold], np.arange(P, len(r.env_created)))
    # Each environment serves one request at a time, only while it exists; a reclaimed one was
    # idle for exactly idle_timeout after its last request ended.
    for e in range(len(r.env_created)):
        m = r.env == e
        start, end = r.arrival[m], (r.arrival + r.latency)[m]
        assert np.all(start[1:] >= end[:-1])
        assert np.all(start >= r.env_created[e]) and np.all(end <= r.env_reclaimed[e])
        if np.isfinite(r.env_reclaimed[e]):
            assert end[-1] + p["idle_timeout"] == pytest.approx(r.env_reclaimed[e])
            assert r.env_reclaimed[e] <= r.horizon
    # Running executions never exceed the pool (reserved, else the account limit).
    pool = p["reserved"] if p["reserved"] is not None else p["concurrency_limit"]
    if adm.any():
        assert r.concurrency(r.arrival[adm]).max() <= pool
        assert np.all(r.concurrency(r.arrival[adm]) <= r.environments(r.arrival[adm]))


@PROPS
@given(params())
def test_same_seed_same_result(p):
    a = coldstart.simulate_environments(**p)
    b = coldstart.simulate_environments(**p)
    for name in ("arrival", "duration", "cold", "latency", "outcome", "env", "env_created", "env_reclaimed"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


# --- b. the synchronous model's cold-start count -----------------------------------------------
@pytest.mark.parametrize("kind", traffic.DURATION_KINDS)
@pytest.mark.parametrize("limit", [1_000, 6])
@pytest.mark.parametrize("seed", range(3))
def test_never_reclaimed_matches_the_sync_models_cold_starts(kind, limit, seed):
    """idle_timeout a week (never reclaimed within the run), no provisioned concurrency, no INIT
    delay: a cold start is exactly a new maximum of running executions, as in
    ``awslambda.simulate_sync`` (same arrivals, same durations; with limit 6 some requests are throttled, by the same rule in both models). The
    environments model has no requests-per-second cap, so the sync model runs without it."""
    arr = traffic.spike(40.0, 400.0, 4.0, 2.0, 12.0, traffic.make_rng(100 + seed))
    kw = dict(arrivals=arr, mean_duration=0.05, duration_kind=kind, concurrency_limit=limit, horizon=12.0, seed=seed)
    sync = awslambda.simulate_sync(duration_cv=0.5, rate_cap=False, **kw)
    env = coldstart.simulate_environments(duration_cv=0.5, init_duration=0.0, provisioned=0,
                                          idle_timeout=coldstart.MAX_IDLE_TIMEOUT_S, **kw)
    np.testing.assert_array_equal(env.duration, sync.duration)
    np.testing.assert_array_equal(env.outcome == Outcome.THROTTLED, sync.outcome == Outcome.THROTTLED)
    np.testing.assert_array_equal(env.cold, sync.cold_start)
    assert env.cold_starts == int(sync.cold_start.sum()) > 0
    if limit == 6:
        assert env.count(Outcome.THROTTLED) > 0


# --- c. theory: one environment under Poisson traffic ------------------------------------------
@pytest.mark.parametrize("reuse", coldstart.REUSE_POLICIES)
@pytest.mark.parametrize("idle", [2.0, 9.0, 20.0])
def test_cold_fraction_for_one_environment_is_exp_minus_rate_times_idle(idle, reuse):
    """Poisson requests at 0.1/s, each 1 ms long, so they (almost) never overlap and one
    environment serves them. A request is cold iff the gap since the previous one ended is longer
    than idle_timeout: gaps are independent exponentials, so each request after the first is cold
    independently with p = exp(-rate x (idle + duration)). Over about 20,000 requests the observed
    fraction must lie within 3 binomial standard errors, sqrt(p (1 - p) / n), of p. (Overlaps,
    which start a second environment, have probability about 1e-4 per request: a bias of a few
    hundredths of a standard error.)"""
    rate, d, horizon = 0.1, 0.001, 200_000.0
    r = coldstart.simulate_environments(rate=rate, mean_duration=d, idle_timeout=idle, reuse=reuse,
                                        init_duration=0.0, horizon=horizon, seed=int(idle * 10))
    cold = r.cold[1:]                       # the first request always finds no environment
    n = len(cold)
    assert n > 19_000
    p = coldstart.p_cold_single(rate, idle, d)
    se = math.sqrt(p * (1 - p) / n)
    assert abs(cold.mean() - p) <= 3 * se, (cold.mean(), p, se)


# --- d. provisioned concurrency and idle time ----------------------------------------------------
@PROPS
@given(params())
def test_provisioned_at_least_peak_demand_means_no_cold_starts(p):
    """If provisioned >= the most requests ever running together (warm durations), no request
    ever waits: by induction every request finds a free provisioned environment."""
    probe = coldstart.simulate_environments(**dict(p, provisioned=0, concurrency_limit=1_000, reserved=None))
    peak = probe.peak_demand()
    if peak > 900:
        return
    r = coldstart.simulate_environments(**dict(p, provisioned=peak, concurrency_limit=1_000, reserved=None))
    assert r.cold_starts == 0 and r.count(Outcome.THROTTLED) == 0
    assert len(r.env_created) == peak


@pytest.mark.parametrize("shape", coldstart.TRAFFIC_SHAPES)
def test_provisioned_at_peak_removes_every_cold_start_in_the_lab_scenarios(shape):
    kw = dict(rate=2.0, mean_duration=0.2, traffic_shape=shape, duration_kind="lognormal", duration_cv=0.25,
              init_duration=1.0, idle_timeout=300.0, horizon=3_600.0, seed=1)
    r0 = coldstart.simulate_environments(**kw)
    peak = r0.peak_demand()
    assert r0.cold_starts > 0
    assert coldstart.simulate_environments(provisioned=peak, **kw).cold_starts == 0
    # One short of the peak is not enough: the busiest moment needs one on-demand environment.
    assert coldstart.simulate_environments(provisioned=peak - 1, **kw).cold_starts > 0


@PROPS
@given(params(init=0.0, reuse="mru"), st.sampled_from([0.0, 0.5, 5.0, 60.0]), st.floats(0.0, 100.0))
def test_longer_idle_time_cold_requests_are_a_subset_mru(p, short, extra):
    """With no INIT delay, busy periods do not depend on the idle time, and with MRU reuse the
    idle environments form a stack whose k-th one has been idle since the running executions
    last reached its level. A request is cold iff that environment is older than idle_timeout,
    so a longer idle time can only turn cold requests warm: the cold set shrinks (same seed)."""
    a = coldstart.simulate_environments(**dict(p, idle_timeout=short))
    b = coldstart.simulate_environments(**dict(p, idle_timeout=short + extra))
    assert not np.any(b.cold & ~a.cold)
    np.testing.assert_array_equal(a.outcome, b.outcome)


def test_more_provisioned_concurrency_can_mean_more_cold_starts_on_one_path():
    """Cold starts are NOT monotone in provisioned concurrency request by request, so no test
    claims that. Here (INIT 1 s, idle 2 s, MRU) one provisioned environment takes the long
    request at 1.5 s and stays busy; the short requests then go on demand, one environment is
    reclaimed in a 3.3 s gap and two more are created: 3 cold starts instead of 2."""
    kw = dict(arrivals=[0.5, 1.5, 2.0, 4.0, 7.5], durations=[0.4, 6.5, 1.2, 2.9, 1.0], init_duration=1.0,
              idle_timeout=2.0, horizon=20.0)
    without = coldstart.simulate_environments(provisioned=0, **kw)
    with_one = coldstart.simulate_environments(provisioned=1, **kw)
    np.testing.assert_array_equal(without.cold, [True, True, False, False, False])
    np.testing.assert_array_equal(with_one.cold, [False, False, True, True, True])
    assert with_one.env_reclaimed[1] == pytest.approx(2.0 + 2.2 + 2.0)


def test_provisioned_concurrency_lowers_cold_starts_on_average():
    """On average more provisioned concurrency does help: over 12 independent seeds of steady
    traffic (peak demand about 6), mean cold starts with 3 provisioned are below those with none
    by more than 3 standard errors of the paired difference (sample SD / sqrt(12))."""
    diffs = []
    for seed in range(12):
        kw = dict(rate=2.0, mean_duration=0.2, duration_kind="lognormal", duration_cv=0.25, init_duration=1.0,
                  idle_timeout=10.0, horizon=1_800.0, seed=seed)
        diffs.append(coldstart.simulate_environments(**kw).cold_starts
                     - coldstart.simulate_environments(provisioned=3, **kw).cold_starts)
    diffs = np.array(diffs, float)
    assert diffs.mean() > 3 * diffs.std(ddof=1) / math.sqrt(len(diffs)), diffs


def test_reclaim_and_reuse_by_hand():
    """One environment: INIT 1 s, handler 2 s, idle time 10 s (the chapter's lifecycle figure)."""
    r = coldstart.simulate_environments(arrivals=[5, 10, 14, 40, 47, 50, 51], durations=[2] * 7, init_duration=1.0,
                                        idle_timeout=10.0, horizon=80.0)
    np.testing.assert_array_equal(r.cold, [1, 0, 0, 1, 0, 0, 1])       # new, warm, warm, reclaimed, warm, warm, both busy
    np.testing.assert_array_equal(r.env, [0, 0, 0, 1, 1, 1, 2])
    np.testing.assert_array_equal(r.env_reclaimed, [26.0, 62.0, 64.0])  # last end + 10 s
    np.testing.assert_array_equal(r.latency, [3, 2, 2, 3, 2, 2, 3])
    # Exactly idle_timeout idle is still warm; a moment longer is reclaimed.
    edge = coldstart.simulate_environments(arrivals=[0.0, 12.0], durations=[2.0, 2.0], init_duration=0.0,
                                           idle_timeout=10.0, horizon=20.0)
    assert edge.cold.tolist() == [True, False]
    # An execution that ends exactly when the next request arrives frees its environment for it
    # (as in awslambda.simulate_sync); dyadic times make the tie exact in floating point.
    tie = coldstart.simulate_environments(arrivals=[0.0, 1.5, 3.0], durations=[0.5, 1.5, 0.5], init_duration=1.0,
                                          idle_timeout=0.0, horizon=5.0)
    assert tie.cold.tolist() == [True, False, False] and tie.env.tolist() == [0, 0, 0]
    late = coldstart.simulate_environments(arrivals=[0.0, 12.5], durations=[2.0, 2.0], init_duration=0.0,
                                           idle_timeout=10.0, horizon=20.0)
    assert late.cold.tolist() == [True, True]


def test_lru_keeps_more_environments_warm_than_mru():
    """Steady traffic, idle time 10 s: MRU lets the spare environments go idle and be reclaimed;
    LRU spreads requests over all of them, so far fewer are reclaimed."""
    kw = dict(rate=2.0, mean_duration=0.2, duration_kind="lognormal", duration_cv=0.25, init_duration=1.0,
              idle_timeout=10.0, horizon=3_600.0, seed=1)
    mru = coldstart.simulate_environments(reuse="mru", **kw).cold_starts
    lru = coldstart.simulate_environments(reuse="lru", **kw).cold_starts
    assert lru * 5 < mru


def test_provisioned_utilisation():
    r = coldstart.simulate_environments(arrivals=[0.0, 10.0], durations=[1.0, 3.0], provisioned=2, horizon=20.0)
    assert r.provisioned_utilisation() == pytest.approx((1.0 + 3.0) / (2 * 20.0))
    assert math.isnan(coldstart.simulate_environments(arrivals=[1.0], durations=[1.0], horizon=5.0)
                      .provisioned_utilisation())


@pytest.mark.parametrize("seed", range(3))
def test_traffic_shapes_follow_their_rate_curves(seed):
    """Counts in the spike and over the whole daily cycle: within 4 Poisson SDs of the curve's integral."""
    rate, horizon = 2.0, 3_600.0
    t = coldstart.arrivals_for("spike", rate, horizon, traffic.make_rng(seed))
    lo, hi = coldstart.SPIKE_START * horizon, (coldstart.SPIKE_START + coldstart.SPIKE_LENGTH) * horizon
    n, mean = np.count_nonzero((t >= lo) & (t < hi)), coldstart.SPIKE_FACTOR * rate * (hi - lo)
    assert abs(n - mean) <= 4 * math.sqrt(mean)
    t = coldstart.arrivals_for("daily", rate, horizon, traffic.make_rng(seed))
    knots, levels = np.asarray(coldstart.DAILY_KNOTS), np.asarray(coldstart.DAILY_LEVELS)
    mean = rate * horizon * float(np.sum(0.5 * (levels[:-1] + levels[1:]) * np.diff(knots)))
    assert abs(len(t) - mean) <= 4 * math.sqrt(mean)
    assert coldstart.rate_curve("daily", rate, horizon, [0.5 * horizon])[0] == coldstart.PEAK_FACTOR * rate


# --- e. validation -------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,name,value", [
    (dict(provisioned=901), "provisioned", 901),                       # account limit 1,000 - 100 unreserved
    (dict(reserved=50, provisioned=51), "provisioned", 51),            # above reserved concurrency
    (dict(concurrency_limit=150, provisioned=60), "provisioned", 60),
    (dict(provisioned=-1), "provisioned", -1),
    (dict(provisioned=2.5), "provisioned", 2.5),
    (dict(idle_timeout=-1.0), "idle_timeout", -1.0),
    (dict(idle_timeout=float("nan")), "idle_timeout", "nan"),
    (dict(reuse="random"), "reuse", "random"),
    (dict(init_duration=10.5), "init_duration", 10.5),
    (dict(init_duration=-0.1), "init_duration", -0.1),
    (dict(traffic_shape="weekly"), "traffic_shape", "weekly"),
    (dict(mean_duration=0), "mean_duration", 0),
    (dict(mean_duration=901), "mean_duration", 901),
    (dict(duration_kind="uniform"), "duration_kind", "uniform"),
    (dict(rate=-1), "rate", -1),
    (dict(horizon=0), "horizon", 0),
    (dict(horizon=8 * 86_400), "horizon", 8 * 86_400),
    (dict(concurrency_limit=0), "concurrency_limit", 0),
    (dict(reserved=901), "reserved", 901),
    (dict(seed=-1), "seed", -1),
])
def test_rejects_bad_parameters(kwargs, name, value):
    with pytest.raises(ValueError) as excinfo:
        coldstart.simulate_environments(horizon=kwargs.pop("horizon", 10.0), **kwargs)
    msg = str(excinfo.value)
    assert re.search(re.escape(name) + "=" + value_re(value), msg), msg
    assert "allowed" in msg or "choose one of" in msg, msg


def test_error_messages_name_the_aws_rule():
    with pytest.raises(ValueError, match=r"provisioned=51 is out of range: allowed 0 to 50 .*reserved"):
        coldstart.simulate_environments(reserved=50, provisioned=51, horizon=1.0)
    with pytest.raises(ValueError, match=r"provisioned=901 .* 0 to 900 .*100"):
        coldstart.simulate_environments(provisioned=901, horizon=1.0)
    with pytest.raises(ValueError, match=r"init_duration=11 .* 0 to 10 .*10 s"):
        coldstart.simulate_environments(init_duration=11, horizon=1.0)
    with pytest.raises(ValueError, match="durations"):
        coldstart.simulate_environments(arrivals=[0.0, 1.0], durations=[1.0], horizon=2.0)
    with pytest.raises(ValueError, match="arrivals"):
        coldstart.simulate_environments(arrivals=[0.0, 5.0], horizon=2.0)
    # Edge values are accepted: provisioned = reserved, = limit - 100, idle 0 and never.
    coldstart.simulate_environments(reserved=50, provisioned=50, horizon=1.0)
    coldstart.simulate_environments(provisioned=900, idle_timeout=0.0, horizon=1.0)
    coldstart.simulate_environments(idle_timeout=coldstart.MAX_IDLE_TIMEOUT_S, init_duration=10.0, horizon=1.0)


# --- hostile input found by the sweep (issue 9) ------------------------------------------------------------
def test_idle_timeout_is_finite_and_a_week_means_never():
    """idle_timeout=math.inf used to be accepted and left inf in the result's params."""
    with pytest.raises(ValueError, match=r"^idle_timeout=inf is out of range: allowed 0 to 604,800"):
        coldstart.simulate_environments(idle_timeout=math.inf, horizon=10.0)
    r = coldstart.simulate_environments(arrivals=[0.0, 1_000.0], durations=[1.0, 1.0],
                                        idle_timeout=coldstart.MAX_IDLE_TIMEOUT_S, horizon=2_000.0)
    assert r.cold_starts == 1 and np.isinf(r.env_reclaimed).all()


def test_parameters_are_refused_by_their_own_names():
    """duration_cv was refused as 'cv', arrivals=nan as an AxisError, traffic shapes as 'traffic'."""
    with pytest.raises(ValueError, match=r"^duration_cv=-1 is out of range"):
        coldstart.simulate_environments(duration_cv=-1, horizon=10.0)
    with pytest.raises(ValueError, match=r"^arrivals must be a 1-D array of numbers"):
        coldstart.simulate_environments(arrivals=math.nan, horizon=10.0)
    with pytest.raises(ValueError, match=r"^durations has a value that is not finite"):
        coldstart.simulate_environments(arrivals=[0.0, 1.0], durations=[1.0, math.nan], horizon=10.0)
    with pytest.raises(ValueError, match=r"^shape='abc' is not allowed"):
        coldstart.rate_curve("abc", 1.0, 10.0, [0.0])
    with pytest.raises(ValueError, match=r"^rate=nan"):
        coldstart.rate_curve("steady", math.nan, 10.0, [0.0])      # was an array of NaN
    with pytest.raises(ValueError, match=r"^rate=None is not a number"):
        coldstart.p_cold_single(None, 1.0)                          # was a TypeError


def test_a_run_is_capped_at_a_million_expected_requests():
    """The cap names rate and horizon, for each shape's mean rate (the spike adds 19/60)."""
    with pytest.raises(ValueError, match=r"^rate=100,000 is out of range: allowed 0 to 277\.778 .*horizon=3,600 s"):
        coldstart.simulate_environments(rate=1e5, horizon=3_600.0)
    top = coldstart.MAX_REQUESTS / (coldstart.SHAPE_MEAN_FACTOR["spike"] * 3_600.0)
    with pytest.raises(ValueError, match=r"^rate="):
        coldstart.arrivals_for("spike", top * 1.01, 3_600.0, 0)
    assert coldstart.SHAPE_MEAN_FACTOR["daily"] == pytest.approx(0.575)
