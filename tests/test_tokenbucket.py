"""The token bucket: exact against a plain loop, within its bounds, and the long-run rejected
fraction 1 - r / lambda under an overload (within 3 standard errors)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from labsim import theory, tokenbucket as tb
from labsim.tokenbucket import TokenBucket, admit, admit_loop, max_in_window


def arrivals(seed, lam, horizon, ties_every=None):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, horizon, rng.poisson(lam * horizon))
    if ties_every:                      # requests that land exactly on a token's arrival
        t = np.concatenate([t, np.arange(0, horizon, ties_every)])
    return np.sort(t)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lam=st.floats(0.1, 50), rate=st.floats(0.1, 20),
       burst=st.integers(1, 120), fill=st.one_of(st.none(), st.floats(0, 1)), ties=st.booleans())
def test_vectorised_bucket_equals_plain_loop(seed, lam, rate, burst, fill, ties):
    t = arrivals(seed, lam, 30.0, 1.0 / rate if ties else None)
    initial = None if fill is None else fill * burst
    old = tb.LOOP_BELOW
    tb.LOOP_BELOW = 0                   # force the block engine even for small buckets
    try:
        fast = admit(t, rate, burst, initial)
    finally:
        tb.LOOP_BELOW = old
    assert np.array_equal(fast, admit_loop(t, rate, burst, initial))


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lam=st.floats(1, 100), rate=st.floats(0.5, 50),
       burst=st.integers(1, 200), window=st.floats(0.01, 20))
def test_never_more_than_b_plus_rt_in_any_window(seed, lam, rate, burst, window):
    t = arrivals(seed, lam, 40.0, 1.0 / rate)
    passed = t[admit(t, rate, burst)]
    bound = theory.token_bucket_max_passed(rate, burst, window)
    assert max_in_window(passed, window) <= math.floor(bound * (1 + 1e-12))


def test_bound_is_reached_by_a_full_bucket_and_a_flood():
    t = np.linspace(0, 10, 100_001)                       # 10,000 per second
    passed = t[admit(t, 100.0, 500)]
    assert max_in_window(passed, 1.0) == 500 + 100        # b + r t, exactly


def test_tie_rule_admits_a_request_that_arrives_with_its_token():
    # empty bucket (initial 0), rate 2/s: tokens arrive at 0.5 s, 1.0 s, ...
    t = np.array([0.5, 0.5, 1.0, 1.2, 1.5])
    assert admit_loop(t, 2.0, 1, 0.0).tolist() == [True, False, True, False, True]
    assert admit(t, 2.0, 1, 0.0).tolist() == [True, False, True, False, True]
    # one token less than needed, a hair early: refused
    assert admit(np.array([0.5 - 1e-9]), 2.0, 1, 0.0).tolist() == [False]


def test_initial_fill_and_full_bucket():
    t = np.zeros(10)
    assert admit(t, 1.0, 10).sum() == 10                  # full bucket: a burst of 10 at once
    assert admit(t, 1.0, 10, initial=3).sum() == 3
    assert admit(t, 1.0, 10, initial=0).sum() == 0


@pytest.mark.parametrize("lam,rate,burst", [(2_000.0, 1_000.0, 1_000), (150.0, 100.0, 20)])
def test_long_run_rejected_fraction(lam, rate, burst):
    """Steady Poisson load lambda > r: the rejected fraction tends to 1 - r / lambda. The start
    (b / (lambda - r) seconds of draining the initial bucket) is discarded; the standard error
    comes from 40 independent replications."""
    horizon = 200.0 * burst / (lam - rate)
    warm = 2 * burst / (lam - rate)
    fr = []
    for seed in range(40):
        t = arrivals(seed, lam, horizon)
        ok = admit(t, rate, burst)
        m = t >= warm
        fr.append(1 - ok[m].mean())
    est, se = np.mean(fr), np.std(fr, ddof=1) / math.sqrt(len(fr))
    expected = theory.token_bucket_rejected_fraction(rate, lam)
    assert abs(est - expected) <= 3 * se, (est, expected, se)
    assert se < 0.01 * expected                          # the test can tell 1% apart


def test_scalar_bucket_matches_admit():
    t = arrivals(3, 30.0, 20.0, 0.1)
    b = TokenBucket(10.0, 25, 5.0)
    assert np.array_equal([b.take(x) for x in t], admit(t, 10.0, 25, 5.0))


def test_tokens_level():
    t = np.array([0.0, 0.0, 0.0, 1.0])
    ok = admit(t, 1.0, 2)                                 # 2 pass at 0, then one at 1.0
    assert ok.tolist() == [True, True, False, True]
    lvl = tb.tokens(t, ok, 1.0, 2, [0.0, 0.5, 0.999, 1.0, 3.0])
    assert np.allclose(lvl, [0.0, 0.5, 0.999, 0.0, 2.0])


@pytest.mark.parametrize("kw,name", [(dict(rate=0), "rate"), (dict(rate=-1), "rate"), (dict(burst=0), "burst"),
                                     (dict(burst=2.5), "burst"), (dict(initial=11), "initial"),
                                     (dict(arrivals=[2.0, 1.0]), "arrivals"),
                                     (dict(arrivals=[0.0, float("nan")]), "arrivals")])
def test_bad_parameters_name_themselves(kw, name):
    args = dict(arrivals=[0.0, 1.0], rate=1.0, burst=10) | kw
    with pytest.raises(ValueError, match=name):
        admit(**args)


# --- issue 9: hostile input ------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [1e12, 10**30, 10**400, 1e-7, 5e-324])
def test_rates_beyond_the_simulated_range_are_named(rate):
    """admit(rate=1e12) tried to allocate 38.8 TiB; a tiny rate made 1 / rate infinite."""
    with pytest.raises(ValueError, match=r"^rate=.* is out of range: allowed 1e-06 to 1,000,000,000"):
        admit([0.0, 1.0], rate, 3)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lam=st.floats(0.5, 50), rate=st.floats(0.5, 20),
       burst=st.integers(1, 60), spread=st.sampled_from([1.0, 10.0, 1e3, 1e6]))
def test_never_refuses_counts_every_window_of_bins(seed, lam, rate, burst, spread):
    """The envelope test counts the arrivals in every m + 1 consecutive bins, with a bincount
    (dense bins) or a search (sparse ones, spread out here): both agree with a direct count over
    all pairs, and a True is never wrong."""
    t = np.sort(arrivals(seed, lam, 20.0) * spread)
    m = 8
    k = (t * (m * rate / burst)).astype(np.int64)
    in_window = (k[None, :] >= k[:, None]) & (k[None, :] <= k[:, None] + m)
    expected = len(t) < burst or bool(in_window.sum(axis=1).max() <= burst - 1)
    assert tb._never_refuses(t, rate, burst) == expected
    if expected:
        assert admit_loop(t, rate, burst).all()


def test_never_refuses_gives_up_on_bins_too_fine_to_count():
    t = np.array([0.0, 1e9, 2e9])
    assert tb._never_refuses(t, 1e9, 1) is False            # 8e18 bins: run the bucket instead
    assert admit(t, 1e9, 1).all()


@pytest.mark.parametrize("kw,match", [
    (dict(admitted=[True]), r"^admitted must hold one True or False per arrival \(arrivals has 2\)"),
    (dict(admitted=[1, 0]), r"^admitted"), (dict(admitted="ab"), r"^admitted"),
    (dict(grid=[0.0, math.nan]), r"^grid has a value that is not finite"), (dict(grid="abc"), r"^grid"),
    (dict(grid=None), r"^grid"), (dict(grid=True), r"^grid"),
])
def test_tokens_checks_its_arrays(kw, match):
    args = dict(arrivals=[0.0, 1.0], admitted=[True, True], rate=1.0, burst=2, grid=[0.5]) | kw
    with pytest.raises(ValueError, match=match):
        tb.tokens(**args)
    assert tb.tokens([0.0, 1.0], [True, False], 1.0, 2, 0.5) == pytest.approx(1.5)        # a number is a grid


@pytest.mark.parametrize("kw,name", [(dict(times=[1.0, math.nan]), "times"), (dict(times="ab"), "times"),
                                     (dict(times=[2.0, 1.0]), "times"), (dict(window=math.nan), "window"),
                                     (dict(window=-1), "window"), (dict(window=True), "window")])
def test_max_in_window_checks_its_inputs(kw, name):
    with pytest.raises(ValueError, match=rf"^{name}"):
        max_in_window(**(dict(times=[0.0, 1.0], window=1.0) | kw))


def level_by_hand(t, admitted, rate, burst, initial, g):
    """The bucket's level just after time g, event by event: refill (capped), take one per admission."""
    level, last = initial, 0.0
    for ti, ok in zip(t, admitted):
        if ti > g:
            break
        level = min(burst, level + rate * (ti - last))
        last = ti
        level -= ok
    return min(burst, level + rate * (g - last))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lam=st.floats(0.5, 30), rate=st.floats(0.2, 10), burst=st.integers(1, 30),
       fill=st.floats(0, 1))
def test_tokens_level_matches_the_bucket_by_hand(seed, lam, rate, burst, fill):
    """tokens() (burst - rate x (last departure - t)^+) against the plain refill-and-take story,
    at grid times before, between and exactly at arrivals."""
    t = arrivals(seed, lam, 5.0, ties_every=4)
    initial = fill * burst
    ok = admit(t, rate, burst, initial)
    grid = np.sort(np.concatenate([np.linspace(0.0, 6.0, 25), t[:10]]))
    got = tb.tokens(t, ok, rate, burst, grid, initial)
    want = [level_by_hand(t, ok, rate, burst, initial, g) for g in grid]
    assert np.allclose(got, want, atol=1e-9), (got, want)
    assert np.allclose(tb.tokens([], [], rate, burst, [0.0, 1.0], initial), [initial, min(burst, initial + rate)])


def test_max_in_window_small_cases():
    assert max_in_window([], 1.0) == 0
    assert max_in_window([5.0], 0.0) == 1
    assert max_in_window([0.0, 1.0, 1.0, 2.5], 1.0) == 3          # closed window [0, 1]
    assert max_in_window([-3.0, -2.5, 7.0], 0.5) == 2            # any times, negative too


# --- the weighted buckets against hostile input (issue 9) ---------------------------------------------
def test_weighted_bucket_with_far_apart_arrivals_does_not_allocate_the_bins():
    """Arrivals 5e9 s apart at 1,000 tokens/s used to ask numpy for 194 TiB of bins (MemoryError);
    at 1e9 tokens/s the bin numbers overflowed int64 (a ValueError from bincount)."""
    assert tb.admit_weighted([0.0, 5e9], [1.0, 1.0], 1e3, 1.5).tolist() == [True, True]
    assert tb.admit_weighted([0.0, 1e12], [1.0, 1.0], 1e9, 2).tolist() == [True, True]
    assert tb.admit_weighted([0.0, 0.0, 1e12], [1.0, 1.0, 1.0], 1e-3, 1.5).tolist() == [True, False, True]


def test_weighted_bucket_parameters_are_refused_by_name():
    with pytest.raises(ValueError, match=r"^rate=1,000,000,000,000 is out of range: allowed 1e-06 to 1,000,000,000"):
        tb.admit_weighted([0.0, 1.0], [1.0, 1.0], 1e12, 3)
    with pytest.raises(ValueError, match=r"^weights must hold one weight per arrival .* got None"):
        tb.admit_weighted([0.0, 1.0], None, 1.0, 3)
    with pytest.raises(ValueError, match=r"^buckets must be a list of \(weights, rate, burst\[, initial\]\) tuples"):
        tb.admit_all([0.0, 1.0], None)
    with pytest.raises(ValueError, match=r"buckets\[1\] is 5"):
        tb.admit_all([0.0, 1.0], [(None, 1.0, 3), 5])
    with pytest.raises(ValueError, match=r"^arrivals has a value that is not finite"):
        tb.admit_all_loop([0.0, math.nan], [(None, 1.0, 3)])
    # a weighted bucket may hold more than MAX_BURST tokens (bytes): 60 s of 1 MiB/s
    big = tb.admit_all([0.0, 1.0, 1.5], [(np.array([3e7, 3e7, 3e7]), 1_048_576.0, 62_914_560.0)])
    assert big.tolist() == [True, True, False]


def test_max_weight_in_window_checks_its_arrays():
    """Fewer weights than times was an IndexError, a NaN weight a NaN answer."""
    with pytest.raises(ValueError, match=r"^weights must have one weight per time: got 2 for 3 times"):
        tb.max_weight_in_window([0.0, 1.0, 2.0], [1.0, 2.0], 1.0)
    with pytest.raises(ValueError, match=r"^weights has a value that is not finite"):
        tb.max_weight_in_window([0.0, 1.0], [1.0, math.nan], 1.0)
    with pytest.raises(ValueError, match=r"^window=nan"):
        tb.max_weight_in_window([0.0, 1.0], [1.0, 1.0], math.nan)
    assert tb.max_weight_in_window([0.0, 1.0, 2.5], [1.0, 2.0, 4.0], 1.0) == 4.0


def test_the_docstring_says_which_buckets_aws_documents_and_which_are_the_models():
    """Issue 21: AWS documents a token bucket for API Gateway only; Lambda's scaling rate and
    requests-per-second cap, SQS FIFO and Kinesis shards are *modelled as* buckets."""
    doc = " ".join(tb.__doc__.split())
    assert "are all token buckets" not in doc
    assert "API Gateway** throttles with the token bucket algorithm" in doc
    assert "api-gateway-request-throttling.html" in doc
    assert "the bucket is **the book's model**, not an AWS-documented mechanism" in doc
    for name in ("Lambda's per-function scaling rate", "requests-per-second cap", "SQS FIFO", "Kinesis shard"):
        assert name in doc, name
    assert "*modelled as* buckets" in doc
