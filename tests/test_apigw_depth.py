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


def test_http_api_timeout_is_bounded_and_rest_is_bounded():
    """The ranges of chapter 10's check (labsim.apigateway): HTTP 0.05 to 30 s, never raised; REST
    0.05 to 29 s at its default quota."""
    assert apitimeout.check_timeout("HTTP", 30) == 30.0 and apitimeout.check_timeout("HTTP", 29) == 29.0
    with pytest.raises(ValueError, match=r"timeout=31 is out of range.*cannot be raised"):
        apitimeout.check_timeout("HTTP", 31)
    with pytest.raises(ValueError, match=r"timeout=30 is out of range.*default range"):
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


def _reference_cache(t, k, lat, ttl, from_request):
    """The cache's rules written plainly, one request at a time in time order (slow, obvious): per
    key, responses are stored when they arrive, the entry that expires last is kept, a request hits
    while the stored entry is valid, and every miss calls the backend (no coalescing)."""
    state = {}                                   # key -> [filled, expires, pending list of (stored, expires)]
    hit, age, calls = [], [], 0
    for s, key, d in zip(t, k, lat):
        filled, expires, pending = state.setdefault(key, [-math.inf, -math.inf, []])
        for r, e in sorted(p for p in pending if p[0] <= s):
            pending.remove((r, e))
            if e > expires:
                filled, expires = r, e
        state[key][:2] = [filled, expires]
        if filled <= s < expires:
            hit.append(True)
            age.append(s - filled)
        else:
            hit.append(False)
            age.append(0.0)
            calls += 1
            start = s if from_request else s + d
            if start + ttl > s + d:
                pending.append((s + d, start + ttl))
    return np.array(hit), np.array(age), calls


@pytest.mark.parametrize("ttl_start", apicache.TTL_STARTS)
@pytest.mark.parametrize("seed", range(4))
def test_cache_equals_the_plain_reference(seed, ttl_start):
    """Random requests over a few keys with random backend latencies comparable to the TTL: the
    model's hits, ages and backend calls equal the plain reference's, request by request."""
    rng = traffic.make_rng(seed)
    t = traffic.poisson(5.0, 60.0, rng)
    k = apicache.zipf_keys(len(t), 4, 1.0, rng)
    lat = traffic.durations("exponential", 0.8, len(t), rng)
    r = apicache.simulate_cache(t, k, ttl=1.5, backend_latency=lat, ttl_start=ttl_start)
    hit, age, calls = _reference_cache(t.tolist(), k.tolist(), lat.tolist(), 1.5, ttl_start == "request")
    assert r.hit.tolist() == hit.tolist()
    assert np.allclose(r.age, age, rtol=0, atol=1e-12) and r.backend_calls == calls == r.misses
    assert 0 < hit.sum() < len(t)
    assert r.params["ttl_start"] == ttl_start and r.horizon == t[-1]


# --- edges and exact values (each line would catch a changed operator or constant) ---------------

def test_cache_empty_and_exact_measures():
    r = apicache.simulate_cache([], np.array([], int))
    assert math.isnan(r.hit_ratio()) and r.max_age() == 0.0 and r.backend_calls == 0
    assert all(math.isnan(v) for v in r.percentiles().values()) and r.horizon == 1e-9
    t = [0.0, 1.0, 2.0, 3.0]
    r = apicache.simulate_cache(t, [0, 0, 0, 1], ttl=1.5, backend_latency=0.0, hit_latency=0.01, horizon=8.0)
    assert r.hit.tolist() == [False, True, False, False]             # the entry from 0 ends at 1.5
    assert r.backend_rate() == 3 / 8.0 and r.hit_ratio() == 0.25 and r.max_age() == 1.0
    assert r.percentiles((50,))[50] == pytest.approx(0.0) and r.latency.tolist() == [0.0, 0.01, 0.0, 0.0]
    assert r.books() == {"requests": 4, "hits": 1, "misses": 3, "backend_calls": 3}
    # an entry's TTL is exclusive at its end: a request exactly at expiry misses
    r = apicache.simulate_cache([0.0, 1.5], [0, 0], ttl=1.5, backend_latency=0.0)
    assert r.hit.tolist() == [False, False]
    # an entry that would expire before it is stored is never stored (TTL from the request)
    r = apicache.simulate_cache([0.0, 2.5], [0, 0], ttl=1.0, backend_latency=2.0, ttl_start="request")
    assert r.hit.tolist() == [False, False]
    with pytest.raises(ValueError, match="horizon="):
        apicache.simulate_cache([0.0, 5.0], [0, 0], horizon=4.0)
    with pytest.raises(ValueError, match="backend_latency must hold one latency per arrival"):
        apicache.simulate_cache([0.0, 5.0], [0, 0], backend_latency=[0.1])


def test_zipf_keys_follow_their_weights():
    """10,000 draws over 3 keys with skew 1: each key's share within 4 standard errors of its weight."""
    k = apicache.zipf_keys(10_000, 3, 1.0, traffic.make_rng(5))
    w = apicache.key_weights(3, 1.0)
    share = np.bincount(k, minlength=3) / 10_000
    assert (np.abs(share - w) <= 4 * np.sqrt(w * (1 - w) / 10_000)).all(), (share, w)
    assert set(np.unique(apicache.zipf_keys(1_000, 5, 0.0, 1))) == set(range(5))


def test_timeout_exact_waits_and_edges():
    """Fixed latency 3 s behind a 2 s timeout: every attempt times out. With 2 retries and a 0.5 s
    pause, each request waits 2 + 0.5 + 2 + 0.5 + 2 = 7 s and makes 3 attempts."""
    r = apitimeout.simulate_timeouts(rate=5.0, horizon=10.0, timeout=2.0, latency_kind="fixed", mean_latency=3.0,
                                     retries=2, backoff=0.5, seed=1)
    assert r.timed_out.all() and not r.answered.any() and r.share_given_up() == 1.0 and r.share_504() == 1.0
    assert np.allclose(r.waited, 7.0) and r.attempts == 3 * r.requests and r.wasted_work() == 1.0
    assert r.backend_rate() == r.attempts / 10.0
    starts = np.sort(r.attempt_start[r.attempt_request == 0])
    assert np.allclose(starts - r.arrivals[0], [0.0, 2.5, 5.0])
    assert r.books()["retries"] == 2 * r.requests and r.books()["attempts_2xx"] == 0
    ok = apitimeout.simulate_timeouts(rate=5.0, horizon=10.0, timeout=2.0, latency_kind="fixed", mean_latency=2.0)
    assert not ok.timed_out.any() and np.allclose(ok.waited, 2.0) and ok.wasted_work() == 0.0   # exactly at the timeout: answered
    assert ok.wait_percentiles((50,))[50] == 2.0
    none = apitimeout.simulate_timeouts(rate=0.0, horizon=10.0)
    assert none.requests == 0 and math.isnan(none.share_504()) and math.isnan(none.share_given_up())
    assert all(math.isnan(v) for v in none.wait_percentiles().values())
    assert none.params["api_type"] == "REST" and none.timeout == 29.0
    h = apitimeout.simulate_timeouts(api_type="HTTP", timeout=30, rate=1.0, horizon=5.0)
    assert h.timeout == 30.0 and h.params["api_type"] == "HTTP"


def test_p_timeout_each_kind():
    assert apitimeout.p_timeout("fixed", 3.0, 1.0, 2.0) == 1.0 and apitimeout.p_timeout("fixed", 2.0, 1.0, 2.0) == 0.0
    assert apitimeout.p_timeout("exponential", 2.0, 1.0, 3.0) == pytest.approx(math.exp(-1.5))
    # lognormal: the median is mean / sqrt(1 + cv^2), so P(L > median) = 1/2
    assert apitimeout.p_timeout("lognormal", 5.0, 1.5, 5.0 / math.sqrt(1 + 1.5 ** 2)) == pytest.approx(0.5)
    assert apitimeout.p_timeout("lognormal", 8.0, 1.5, 29.0) == pytest.approx(0.041898, abs=1e-6)


def test_timeout_defaults_params_and_messages():
    """The documented defaults (20 requests/s for 60 s, REST 29 s, lognormal mean 5 s CV 1.5, no
    retries, 1 s backoff, seed 0), the parameters kept with the result, and whole messages."""
    d = apitimeout.simulate_timeouts()
    e = apitimeout.simulate_timeouts(rate=20.0, horizon=60.0, api_type="REST", timeout=29.0, latency_kind="lognormal",
                                     mean_latency=5.0, latency_cv=1.5, retries=0, backoff=1.0, seed=0)
    assert np.array_equal(d.arrivals, e.arrivals) and np.array_equal(d.attempt_latency, e.attempt_latency)
    assert d.horizon == 60.0 and d.attempts == d.requests and d.backend_rate() == d.attempts / 60.0
    assert d.params == {"api_type": "REST", "timeout": 29.0, "latency_kind": "lognormal", "mean_latency": 5.0,
                        "latency_cv": 1.5, "retries": 0, "backoff": 1.0, "seed": 0}
    assert apitimeout.check_timeout() == 29.0 and apitimeout.check_timeout("REST", 0.05) == 0.05
    with pytest.raises(ValueError, match=r"^timeout=31 is out of range: allowed 0\.05 to 30 \(an HTTP API's range, "
                                         r"which cannot be raised\)$"):
        apitimeout.check_timeout("HTTP", 31)
    # the theory's timeout: any positive number of seconds
    assert apitimeout.p_timeout("exponential", 1.0, 1.0, 0.5) == pytest.approx(math.exp(-0.5))
    for bad in (0, -1):
        with pytest.raises(ValueError, match=rf"^timeout={bad} is out of range: allowed more than 0$"):
            apitimeout.p_timeout("exponential", 1.0, 1.0, bad)


def test_timeout_mixed_exact_measures():
    """Fixed 2 s latency behind a 1.5 s timeout with 1 retry: both attempts time out; with a 2.5 s
    timeout none does. A fixed latency gives exact shares; the waits' percentiles are exact."""
    r = apitimeout.simulate_timeouts(rate=2.0, horizon=20.0, timeout=1.5, latency_kind="fixed", mean_latency=2.0,
                                     retries=1, backoff=0.25, seed=2)
    assert r.share_504() == 1.0 and r.attempts == 2 * r.requests and r.backend_rate() == r.attempts / 20.0
    assert r.wait_percentiles((50, 99)) == {50: 1.5 + 0.25 + 1.5, 99: 1.5 + 0.25 + 1.5}
    assert np.allclose(r.backend_busy(np.array([-1.0])), 0.0)
    ok = apitimeout.simulate_timeouts(rate=2.0, horizon=20.0, timeout=2.5, latency_kind="fixed", mean_latency=2.0,
                                      retries=1, seed=2)
    assert ok.share_504() == 0.0 and ok.share_given_up() == 0.0 and ok.wasted_work() == 0.0
    assert ok.wait_percentiles() == {50: 2.0, 95: 2.0, 99: 2.0}
    # exponential latencies: the 504 share is the share of attempts over the timeout, exactly
    x = apitimeout.simulate_timeouts(rate=5.0, horizon=20.0, timeout=1.0, latency_kind="exponential",
                                     mean_latency=1.0, retries=2, seed=3)
    assert x.share_504() == pytest.approx((x.attempt_latency > 1.0).mean())
    assert x.wasted_work() == pytest.approx(x.attempt_latency[x.attempt_latency > 1.0].sum() / x.attempt_latency.sum())
    assert x.share_given_up() == pytest.approx(1 - x.answered.mean()) and 0 < x.share_given_up() < x.share_504()


def test_an_empty_run_measures_quietly():
    """No requests: the shares are NaN (nothing to measure), the wasted work 0, and no warning."""
    import warnings
    none = apitimeout.simulate_timeouts(rate=0.0, horizon=5.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(none.share_504()) and math.isnan(none.share_given_up())
        assert none.wasted_work() == 0.0 and none.backend_rate() == 0.0


def test_cache_ties_and_whole_result():
    """Exact ties, by hand. A response stored at 0.5 s answers a request at 0.5 s (age 0). Two
    misses at 0 s (TTL from the request, both expiring at 5 s) store responses at 0.5 and 1 s: the
    first stored is kept, so the hit at 2 s is 1.5 s old."""
    r = apicache.simulate_cache([0.0, 0.5], [0, 0], ttl=1.0, backend_latency=0.5)
    assert r.hit.tolist() == [False, True] and r.age.tolist() == [0.0, 0.0]
    r = apicache.simulate_cache([0.0, 0.0, 2.0], [3, 3, 3], ttl=5.0, backend_latency=[0.5, 1.0, 0.25],
                                ttl_start="request", horizon=4.0)
    assert r.hit.tolist() == [False, False, True] and r.age[2] == 1.5 and r.backend_calls == 2
    assert r.arrivals.tolist() == [0.0, 0.0, 2.0] and r.keys.tolist() == [3, 3, 3] and r.horizon == 4.0
    assert r.params == {"ttl": 5.0, "hit_latency": 0.005, "ttl_start": "request"}
    assert r.latency.tolist() == [0.5, 1.0, 0.005]
    # a horizon may equal the last arrival only when that is 0
    assert apicache.simulate_cache([0.0], [0], horizon=0.0).horizon == 0.0
    with pytest.raises(ValueError, match=r"^horizon=0.5 is out of range: allowed more than 0.5 \(after the last arrival\)$"):
        apicache.simulate_cache([0.5], [0], horizon=0.5)
    assert apicache.simulate_cache([0.5], [0], horizon=0.75).backend_rate() == 1 / 0.75


def test_cache_array_messages_and_quiet_empty_run():
    import warnings
    for lat, shown in (([0.1, 29.5], "29.5"), ([0.1, -1.0], "-1")):
        with pytest.raises(ValueError, match=rf"^backend_latency has a value out of range \({shown}\): allowed 0 to 29$"):
            apicache.simulate_cache([0.0, 1.0], [0, 0], backend_latency=lat)
    assert apicache.simulate_cache([0.0, 1.0], [0, 1], backend_latency=[0.0, 29.0]).latency.tolist() == [0.0, 29.0]
    with pytest.raises(ValueError, match=r"^arrivals must be sorted in increasing order"):
        apicache.simulate_cache([1.0, 0.0], [0, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(apicache.simulate_cache([], np.array([], int)).hit_ratio())


def test_cache_and_theory_defaults():
    """The documented defaults: a 50 ms backend, a 300 s TTL; the theory over keys is uniform by default."""
    r = apicache.simulate_cache([0.0, 300.04, 300.1], [0, 0, 0])     # the entry lives 0.05 s to 300.05 s
    assert r.latency.tolist() == [0.05, 0.005, 0.05] and r.hit.tolist() == [False, True, False]
    assert apicache.hit_ratio_keys(50.0, 1.0, 25) == apicache.hit_ratio_keys(50.0, 1.0, 25, 0.0)
