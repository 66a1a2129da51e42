"""API Gateway in depth (issue 25): the response cache (labsim.apicache) and the integration
timeout (labsim.apitimeout), each against theory where theory exists, with their books.

Tolerances: a replicated estimate must lie within 3 standard errors of the theory (the standard
error computed over independent replications, fixed seeds); a wrong model is off by many more.
"""

import math

import numpy as np
import pytest

from labsim import apicache, apitimeout, theory, traffic


def _balanced(result):
    """Every equation that books()'s docstring states holds (the hostile sweep's rule)."""
    from hostile import check_books
    return not check_books(result, "result")


def _within_3_se(samples, expected):
    x = np.asarray(samples, float)
    se = x.std(ddof=1) / math.sqrt(len(x))
    assert abs(x.mean() - expected) <= 3 * se, f"mean {x.mean():.5f}, theory {expected:.5f}, 3 SE {3 * se:.5f}"


# --- the cache ---------------------------------------------------------------------------------

@pytest.mark.parametrize("rate, ttl", [(2.0, 1.0), (0.5, 3.0), (10.0, 0.05)])
def test_one_key_hit_ratio_matches_theory(rate, ttl):
    """One key, Poisson requests at rate, a miss starts a TTL at once, the backend answers at
    once: hit ratio = rate*ttl / (1 + rate*ttl), within 3 SE over 30 replications."""
    ratios = []
    for seed in range(30):
        t = traffic.poisson(rate, 2_000.0, seed)
        ratios.append(apicache.simulate_cache(t, np.zeros(len(t), int), ttl=ttl, backend_latency=0.0).hit_ratio())
    _within_3_se(ratios, apicache.hit_ratio_one_key(rate, ttl))


def test_independent_keys_each_follow_the_theory():
    """Uniform keys: each key sees rate/keys, so the overall hit ratio is the one-key formula at
    that rate (within 3 SE over 20 replications)."""
    rate, keys, ttl = 50.0, 25, 1.0
    ratios = []
    for seed in range(20):
        rng = traffic.make_rng(seed)
        t = traffic.poisson(rate, 400.0, rng)
        k = apicache.zipf_keys(len(t), keys, 0.0, rng)
        ratios.append(apicache.simulate_cache(t, k, ttl=ttl, backend_latency=0.0).hit_ratio())
    _within_3_se(ratios, apicache.hit_ratio_one_key(rate / keys, ttl))


def test_books_and_ages():
    rng = traffic.make_rng(3)
    t = traffic.poisson(200.0, 30.0, rng)
    k = apicache.zipf_keys(len(t), 100, 1.0, rng)
    lat = traffic.durations("exponential", 0.2, len(t), rng)
    r = apicache.simulate_cache(t, k, ttl=2.0, backend_latency=lat)
    b = r.books()
    assert _balanced(r) and b["hits"] + b["misses"] == b["requests"] == len(t)
    assert 0 < b["hits"] < len(t)
    # an answer from the cache is never older than the TTL; a miss's answer is fresh
    assert r.max_age() <= 2.0 and (r.age[~r.hit] == 0).all()
    # a hit is answered at the hit latency, a miss at the backend's
    assert np.allclose(r.latency[r.hit], 0.005) and np.allclose(r.latency[~r.hit], lat[~r.hit])


def test_ttl_zero_turns_the_cache_off():
    t = traffic.poisson(100.0, 10.0, 1)
    r = apicache.simulate_cache(t, np.zeros(len(t), int), ttl=0)
    assert r.hit.sum() == 0 and r.backend_calls == len(t) and _balanced(r)


def test_when_the_ttl_starts_and_no_coalescing():
    """Requests at 0, 0.1, 0.5, 1.05, 1.2 with a 0.3 s backend and a 1 s TTL. From the response
    (the model's default): the miss at 0 and the one at 0.1 (its call still in flight) store
    entries until 1.3 and 1.4, so 0.5, 1.05 and 1.2 hit. From the request: the entries end at 1.0
    and 1.1, so 1.05 hits (the 0.1 miss's entry) and 1.2 misses."""
    t = [0.0, 0.1, 0.5, 1.05, 1.2]
    k = np.zeros(5, int)
    resp = apicache.simulate_cache(t, k, ttl=1.0, backend_latency=0.3)
    assert resp.hit.tolist() == [False, False, True, True, True]
    # the later response (stored at 0.4) replaced the first: answers are 0.4 s old at 0.5
    assert resp.age[2] == pytest.approx(0.5 - 0.4) and resp.age[4] == pytest.approx(1.2 - 0.4)
    req = apicache.simulate_cache(t, k, ttl=1.0, backend_latency=0.3, ttl_start="request")
    assert req.hit.tolist() == [False, False, True, True, False]


def test_skew_raises_the_hit_ratio():
    """The same traffic over the same keys: Zipf skew concentrates it on hot keys, which hit more."""
    out = {}
    for skew in (0.0, 1.2):
        rng = traffic.make_rng(7)
        t = traffic.poisson(100.0, 60.0, rng)
        out[skew] = apicache.simulate_cache(t, apicache.zipf_keys(len(t), 5_000, skew, rng), ttl=10.0).hit_ratio()
    assert out[1.2] > out[0.0] + 0.2, out


@pytest.mark.parametrize("kwargs, words", [
    ({"ttl": 3_601}, "ttl=3,601 is out of range: allowed 0 to 3,600"),
    ({"ttl": -1}, "ttl=-1 is out of range"),
    ({"backend_latency": 30}, "backend_latency=30 is out of range"),
    ({"ttl_start": "never"}, "ttl_start='never' is not allowed"),
    ({"hit_latency": "fast"}, "hit_latency='fast' is not a number"),
])
def test_cache_errors_name_the_parameter(kwargs, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        apicache.simulate_cache([0.0, 1.0], [0, 0], **kwargs)


def test_cache_key_errors():
    with pytest.raises(ValueError, match="keys must hold one whole-number cache key per arrival"):
        apicache.simulate_cache([0.0, 1.0], [0])
    with pytest.raises(ValueError, match="n_keys=0 is out of range"):
        apicache.zipf_keys(10, 0, 0.0, traffic.make_rng(0))


# --- the integration timeout -------------------------------------------------------------------

@pytest.mark.parametrize("kind, mean, cv, timeout", [("lognormal", 5.0, 1.5, 10.0), ("exponential", 2.0, 1.0, 3.0)])
def test_504_share_matches_p_latency_over_timeout(kind, mean, cv, timeout):
    """A first attempt gets a 504 with probability P(latency > timeout); with r retries the caller
    gives up with p^(r+1) and makes (1 - p^(r+1)) / (1 - p) attempts on average: all within 3 SE
    over 30 replications."""
    p = apitimeout.p_timeout(kind, mean, cv, timeout)
    first, gave_up, attempts = [], [], []
    for seed in range(30):
        r = apitimeout.simulate_timeouts(rate=20.0, horizon=60.0, timeout=timeout, latency_kind=kind,
                                         mean_latency=mean, latency_cv=cv, retries=2, seed=seed)
        assert _balanced(r)
        first.append(r.timed_out[:r.requests].mean())
        gave_up.append(r.share_given_up())
        attempts.append(r.attempts / r.requests)
    _within_3_se(first, p)
    _within_3_se(gave_up, 1 - theory.retry_success_probability(p, 2))
    _within_3_se(attempts, theory.retry_expected_attempts(p, 2))


def test_the_backend_keeps_working_after_a_504():
    """Every attempt's work runs to its end: the backend's busy time includes the timed-out
    attempts' whole latency, and the caller waits the timeout (plus backoff) for each."""
    r = apitimeout.simulate_timeouts(rate=50.0, horizon=60.0, timeout=2.0, mean_latency=1.5, latency_cv=1.5,
                                     retries=1, backoff=0.5, seed=4)
    late = r.timed_out
    assert late.any() and (r.attempt_latency[late] > 2.0).all()
    assert 0 < r.wasted_work() < 1
    # Little's law: the mean number of executions in progress = attempts per second x mean latency
    grid = np.linspace(10.0, 50.0, 4_001)
    busy = r.backend_busy(grid).mean()
    inside = (r.attempt_start >= 5.0) & (r.attempt_start < 55.0)
    expected = inside.sum() / 50.0 * r.attempt_latency[inside].mean()
    assert busy == pytest.approx(expected, rel=0.1)
    # a request answered at its second attempt waited timeout + backoff + its second latency
    second = r.attempt_request[r.requests:][~late[r.requests:]]
    if len(second):
        i = second[0]
        lat2 = r.attempt_latency[r.requests:][~late[r.requests:]][0]
        assert r.waited[i] == pytest.approx(2.0 + 0.5 + lat2)


def test_http_api_timeout_is_fixed_and_rest_is_bounded():
    assert apitimeout.check_timeout("HTTP", 30) == 30.0
    with pytest.raises(ValueError, match=r"timeout=29 is out of range.*cannot be changed"):
        apitimeout.check_timeout("HTTP", 29)
    with pytest.raises(ValueError, match=r"timeout=30 is out of range.*50 ms to 29 s"):
        apitimeout.simulate_timeouts(timeout=30)
    with pytest.raises(ValueError, match="retries=11 is out of range"):
        apitimeout.simulate_timeouts(retries=11)


# --- the steady-state theory over many keys (the cache lab's dashed line) -----------------------

def test_key_weights_and_hit_ratio_over_keys():
    """Uniform keys: every key has 1/n of the traffic, and the hit ratio is the one-key formula at
    rate/n. Skewed keys: weights fall as 1/(k+1)**skew and sum to 1."""
    w = apicache.key_weights(4, 0.0)
    assert w.tolist() == [0.25] * 4
    w = apicache.key_weights(3, 1.0)
    assert w == pytest.approx(np.array([1, 1 / 2, 1 / 3]) / (11 / 6))
    assert apicache.hit_ratio_keys(50.0, 1.0, 25, 0.0) == pytest.approx(apicache.hit_ratio_one_key(2.0, 1.0))
    assert apicache.hit_ratio_keys(3.0, 2.0) == pytest.approx(6 / 7)
    assert apicache.hit_ratio_keys(3.0, 0.0, 10, 1.0) == 0.0
    # by hand: 2 keys, skew 1, weights 2/3 and 1/3, rate 3, TTL 1: x = 2 and 1
    assert apicache.hit_ratio_keys(3.0, 1.0, 2, 1.0) == pytest.approx(2 / 3 * 2 / 3 + 1 / 3 * 1 / 2)


def test_skewed_keys_match_the_theory_over_keys():
    """Zipf keys, TTL from the request, an instant backend: the model's hit ratio matches the sum
    over keys within 3 SE over 20 replications (the first miss of each key is a cold-start bias
    of at most keys / requests, here under 1%, well inside 3 SE)."""
    rate, keys, skew, ttl = 40.0, 50, 1.0, 2.0
    ratios = []
    for seed in range(20):
        rng = traffic.make_rng(100 + seed)
        t = traffic.poisson(rate, 400.0, rng)
        k = apicache.zipf_keys(len(t), keys, skew, rng)
        ratios.append(apicache.simulate_cache(t, k, ttl=ttl, backend_latency=0.0, ttl_start="request").hit_ratio())
    _within_3_se(ratios, apicache.hit_ratio_keys(rate, ttl, keys, skew))
