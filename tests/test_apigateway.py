"""API Gateway: throttling levels in AWS's order, each within its bucket's bound, books that
balance, the refund assumption, quotas, endpoint types and bad parameters."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from labsim import apigateway as ag, theory
from labsim.apigateway import (ACCOUNT, PASSED, QUOTA, REGIONAL, STAGE, USAGE_PLAN, Throttle, UsagePlan,
                               simulate_throttling)
from labsim.tokenbucket import TokenBucket, admit, max_in_window

from helpers import value_re


def scenario(seed, n_keys, n_methods, lam, horizon=20.0):
    """Random keys, methods, plans and limits, small enough to stress every level."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, horizon, rng.poisson(lam * horizon)))
    keys = rng.integers(-1, n_keys, len(t))
    methods = rng.integers(0, n_methods, len(t))
    account = Throttle(float(rng.uniform(2, 40)), int(rng.integers(1, 60)))
    plans = [UsagePlan(f"p{k}", float(rng.uniform(0.5, account.rate)), int(rng.integers(1, account.burst + 1)),
                       None if rng.random() < 0.3 else int(rng.integers(0, 200)))
             for k in range(n_keys)]
    stage = Throttle(float(rng.uniform(1, 30)), int(rng.integers(1, 40)))
    limits = {0: Throttle(float(rng.uniform(1, 30)), int(rng.integers(1, 40)))} if rng.random() < 0.5 else {}
    regional = Throttle(float(rng.uniform(2, 60)), int(rng.integers(1, 80))) if rng.random() < 0.5 else None
    other = np.sort(rng.uniform(0, horizon, rng.poisson(lam / 2 * horizon)))
    return dict(arrivals=t, keys=keys, methods=methods, plans=plans, stage=stage, method_limits=limits,
                account=account, regional=regional, other_arrivals=other)


def reference_no_refund(kw):
    """The AWS order written the plain way: one request at a time, level after level, a token
    taken at each level it passes (never given back). The vectorised model must agree exactly."""
    t, keys, methods = kw["arrivals"], kw["keys"], kw["methods"]
    other = kw["other_arrivals"]
    kb = [TokenBucket(p.rate, p.burst) for p in kw["plans"]]
    used = [0] * len(kw["plans"])
    sb = {}
    acct = TokenBucket(kw["account"].rate, kw["account"].burst)
    reg = TokenBucket(kw["regional"].rate, kw["regional"].burst) if kw["regional"] else None
    allt = np.concatenate([t, other])
    order = np.argsort(allt, kind="stable")
    out = np.zeros(len(allt), int)
    for i in order:
        x = allt[i]
        if i < len(t):
            k = keys[i]
            if k >= 0:
                if not kb[k].take(x):
                    out[i] = USAGE_PLAN
                    continue
                q = kw["plans"][k].quota
                if q is not None:
                    if used[k] >= q:
                        out[i] = QUOTA
                        continue
                    used[k] += 1
            m = methods[i]
            lim = kw["method_limits"].get(int(m), kw["stage"])
            if m not in sb:
                sb[m] = TokenBucket(lim.rate, lim.burst)
            if not sb[m].take(x):
                out[i] = STAGE
                continue
        if not acct.take(x):
            out[i] = ACCOUNT
            continue
        if reg is not None and not reg.take(x):
            out[i] = REGIONAL
    return out[:len(t)]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_keys=st.integers(0, 3), n_methods=st.integers(1, 3),
       lam=st.floats(2, 80))
def test_vectorised_levels_equal_the_plain_loop(seed, n_keys, n_methods, lam):
    kw = scenario(seed, n_keys, n_methods, lam)
    r = simulate_throttling(**kw)
    assert np.array_equal(r.refused_at, reference_no_refund(kw))


def takers(r, kw, refund):
    """Per bucket: the arrival times of the requests that took (and kept) one of its tokens."""
    out = []
    keep = (lambda lv: r.refused_at == PASSED) if refund else \
        (lambda lv: (r.refused_at == PASSED) | (r.refused_at > lv))
    for k, p in enumerate(kw["plans"]):
        out.append((p.rate, p.burst, r.arrival[(r.key == k) & keep(USAGE_PLAN)]))
    for m in np.unique(r.method):
        lim = kw["method_limits"].get(int(m), kw["stage"])
        out.append((lim.rate, lim.burst, r.arrival[(r.method == m) & keep(STAGE)]))
    return out


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_keys=st.integers(1, 3), n_methods=st.integers(1, 2),
       lam=st.floats(2, 80), window=st.floats(0.01, 10), refund=st.booleans())
def test_every_level_passes_at_most_b_plus_rt_in_any_window(seed, n_keys, n_methods, lam, window, refund):
    kw = scenario(seed, n_keys, n_methods, lam)
    r = simulate_throttling(**kw, refund=refund)
    checks = takers(r, kw, refund)
    acc = r.params["account_takers"]
    checks.append((kw["account"].rate, kw["account"].burst, acc))
    if kw["regional"]:
        checks.append((kw["regional"].rate, kw["regional"].burst, r.params["passed_times"]))
    for rate, burst, times in checks:
        bound = theory.token_bucket_max_passed(rate, burst, window)
        assert max_in_window(times, window) <= math.floor(bound * (1 + 1e-12))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_keys=st.integers(0, 3), lam=st.floats(2, 80), refund=st.booleans())
def test_books_balance_per_level(seed, n_keys, lam, refund):
    kw = scenario(seed, n_keys, 2, lam)
    r = simulate_throttling(**kw, refund=refund)
    b = r.books()
    assert b["sent"] == b["passed"] + sum(b[ag.LEVEL_NAMES[lv]] for lv in ag.LEVELS) == len(kw["arrivals"])
    prev = r.sent()
    for lv in ag.LEVELS:                       # what reached a level = refused there + reached the next
        assert r.reached(lv) == prev
        prev = r.reached(lv) - r.count(lv)
    assert prev == r.count(PASSED)
    assert np.all(r.departure >= r.arrival)


def test_levels_are_applied_in_aws_order_usage_plan_before_account():
    # Key A (plan: bucket 1, slow refill) sends two requests at once; a keyless client sends one
    # just after. The account bucket holds 2 tokens. AWS's order: A's second request is refused
    # by its plan and takes no account token, so the keyless request passes. Checking the account
    # first would let A's refused request spend the account's last token and refuse the third.
    t = [0.0, 0.0, 0.1]
    r = simulate_throttling(t, keys=[0, 0, -1], plans=[UsagePlan("A", 0.01, 1)], account=Throttle(0.01, 2))
    assert r.refused_at.tolist() == [PASSED, USAGE_PLAN, PASSED]


def test_levels_are_applied_in_aws_order_stage_before_account():
    # Method 0's stage limit holds 1 token: its second request is refused there, before the
    # account, so the request on method 1 still finds the account's second token.
    r = simulate_throttling([0.0, 0.0, 0.1], methods=[0, 0, 1], stage=Throttle(0.01, 1),
                            method_limits={1: Throttle(10.0, 10)}, account=Throttle(0.01, 2))
    assert r.refused_at.tolist() == [PASSED, STAGE, PASSED]
    # and the usage plan before the stage: the plan refuses first, the stage bucket keeps its token
    r = simulate_throttling([0.0, 0.0, 0.1], keys=[0, 0, -1], plans=[UsagePlan("A", 0.01, 1)],
                            stage=Throttle(0.01, 2))
    assert r.refused_at.tolist() == [PASSED, USAGE_PLAN, PASSED]


def test_stage_default_is_one_bucket_per_method():
    r = simulate_throttling([0.0, 0.0, 0.0], methods=[0, 1, 0], stage=Throttle(0.01, 1))
    assert r.refused_at.tolist() == [PASSED, PASSED, STAGE]


def test_refund_gives_the_earlier_token_back():
    # Plan: bucket of 2, nearly no refill. Stage: bucket of 1 refilled at 1 per second. With no
    # refund, request 2 spends the key's second token although the stage refuses it, and requests
    # 3 and 4 find the key empty. With refunds the key keeps that token: request 3 is refused by
    # the stage (half a token), request 4 finds a token at every level and passes.
    kw = dict(arrivals=[0.0, 0.0, 0.5, 1.0], keys=[0, 0, 0, 0], plans=[UsagePlan("A", 0.01, 2)],
              stage=Throttle(1.0, 1), account=Throttle(1.0, 2))
    no = simulate_throttling(**kw)
    yes = simulate_throttling(**kw, refund=True)
    assert no.refused_at.tolist() == [PASSED, STAGE, USAGE_PLAN, USAGE_PLAN]
    assert yes.refused_at.tolist() == [PASSED, STAGE, STAGE, PASSED]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_keys=st.integers(1, 3), lam=st.floats(2, 80))
def test_refund_changes_nothing_when_no_later_level_refuses(seed, n_keys, lam):
    kw = scenario(seed, n_keys, 1, lam)
    kw.update(stage=None, method_limits={}, account=Throttle(1e6, 10_000), regional=None)
    kw["plans"] = [UsagePlan(p.name, p.rate, p.burst) for p in kw["plans"]]     # a quota refuses after the rate
    a = simulate_throttling(**kw)
    b = simulate_throttling(**kw, refund=True)
    assert np.array_equal(a.refused_at, b.refused_at)
    for k, p in enumerate(kw["plans"]):           # and a lone key's rate level is the book's bucket
        m = a.key == k
        assert np.array_equal(a.refused_at[m] != USAGE_PLAN, admit(a.arrival[m], p.rate, p.burst))


def test_bucket_ready_is_take_without_taking():
    b = ag._Bucket(2.0, 1, 0.0)
    for x in (0.1, 0.49, 0.5, 0.5, 0.7, 1.0, 1.0):
        r = b.ready(x)
        assert r == b.take(x)


def test_noisy_key_drains_the_account_only_with_refunds():
    """The lab's default: a noisy premium key. With refunds its refused attempts cost it nothing
    and the quiet basic key loses more to the account limit (each run seeded; 5 seeds)."""
    for seed in range(5):
        no = ag.simulate_usage_plans(seed=seed)
        yes = ag.simulate_usage_plans(seed=seed, refund=True)
        basic = no.params["names"].index("basic")
        assert yes.throttled_fraction(no.of_key(basic)) > no.throttled_fraction(no.of_key(basic)) + 0.05
        assert no.count(ACCOUNT, no.of_key(basic)) > 0           # the account is the shared ceiling


def test_per_key_limits_protect_the_quiet_keys():
    r = ag.simulate_usage_plans(noisy="basic")
    for k, nm in enumerate(r.params["names"]):
        assert r.count(ACCOUNT, r.of_key(k)) == 0 and r.count(STAGE, r.of_key(k)) == 0
    basic = r.params["names"].index("basic")
    assert r.count(USAGE_PLAN, r.of_key(basic)) > 0 and r.count(PASSED, r.of_key(basic)) <= 2_000 + 1_000 * 3.0


def test_quota_runs_out_mid_period_and_resets():
    t = np.arange(0, 3 * 86_400, 1_000.0)                  # one request every 1,000 s for 3 days
    plan = UsagePlan("q", 1.0, 1, quota=50, period="DAY")
    r = simulate_throttling(t, keys=np.zeros(len(t), int), plans=[plan])
    day = (t // 86_400).astype(int)
    for d in range(3):
        m = day == d
        assert r.count(PASSED, m) == 50 and r.count(QUOTA, m) == m.sum() - 50
        first_refused = t[m][r.refused_at[m] == QUOTA][0]
        assert first_refused == t[m][50]                    # the 51st request of the day
    off = simulate_throttling(t, keys=np.zeros(len(t), int), plans=[UsagePlan("q", 1.0, 1, 50, "DAY", 45)])
    assert off.count(PASSED, day == 0) == 5 and off.count(PASSED, day == 1) == 50
    wk = simulate_throttling(t, keys=np.zeros(len(t), int), plans=[UsagePlan("q", 1.0, 1, 50, "WEEK")])
    assert wk.count(PASSED) == 50                          # a week's quota does not reset daily


def test_aws_numbers():
    assert (ag.ACCOUNT_RATE, ag.ACCOUNT_BURST) == (10_000, 5_000)
    assert (ag.NEWER_REGION_RATE, ag.NEWER_REGION_BURST) == (2_500, 1_250)
    assert ag.SUPPORTED_ENDPOINTS == {"REST": ("edge-optimized", "regional", "private"), "HTTP": ("regional",)}
    assert ag.USAGE_PLANS == {"REST": True, "HTTP": False}
    assert (ag.INTEGRATION_TIMEOUT_MIN_S, ag.INTEGRATION_TIMEOUT_MAX_S) == (0.05, 29.0)


def test_bucket_lab_model_passes_at_most_b_plus_rt():
    r = ag.simulate_bucket(rate=50.0, burst=100, shape="spike", traffic_rate=100.0)
    passed = r.arrival[r.passed]
    for w in (0.1, 1.0, 5.0):
        assert max_in_window(passed, w) <= 100 + 50 * w
    assert r.count(STAGE) > 0


def test_endpoint_latency_model():
    far = ag.request_latency_ms("Sydney", "us-east-1", "edge-optimized")
    assert far < ag.request_latency_ms("Sydney", "us-east-1", "regional")
    assert ag.request_latency_ms("N. Virginia", "us-east-1", "regional") < \
        ag.request_latency_ms("N. Virginia", "us-east-1", "edge-optimized")
    r = ag.simulate_endpoints(endpoint_type="private")
    vpc = r.clients.index(ag.IN_VPC)
    assert r.reachable[r.client == vpc].all() and not r.reachable[r.client != vpc].any()
    b = r.books()
    assert b["sent"] == b["under target"] + b["over target"] + b["unreachable"]
    assert 5_000 < ag.distance_km("Sydney", "N. Virginia") < 20_000 and ag.distance_km("Tokyo", "Tokyo") == 0


@pytest.mark.parametrize("call,name,value", [
    (lambda: Throttle(-1.0, 10), "rate", -1.0),
    (lambda: ag.simulate_bucket(rate=-5.0), "rate", -5.0),
    (lambda: UsagePlan("free", -2.0, 10), "rate", -2.0),
    (lambda: simulate_throttling([0.0], keys=[0], plans=[UsagePlan("gold", 20_000.0, 100)]), "gold.rate", 20_000),
    (lambda: simulate_throttling([0.0], keys=[0], plans=[UsagePlan("gold", 100.0, 6_000)]), "gold.burst", 6_000),
    (lambda: simulate_throttling([0.0], keys=[0], plans=[UsagePlan("p", 3_000.0, 100)],
                                 account=Throttle(ag.NEWER_REGION_RATE, ag.NEWER_REGION_BURST)), "p.rate", 3_000),
    (lambda: ag.check_endpoint("REST", "global"), "endpoint_type", "global"),
    (lambda: ag.simulate_endpoints(endpoint_type="anycast"), "endpoint_type", "anycast"),
    (lambda: ag.check_endpoint("HTTP", "private"), "endpoint_type", "private"),
    (lambda: ag.simulate_endpoints(api_type="HTTP", endpoint_type="private"), "endpoint_type", "private"),
    (lambda: ag.check_endpoint("HTTP", "edge-optimized"), "endpoint_type", "edge-optimized"),
    (lambda: ag.check_endpoint("SOAP", "regional"), "api_type", "SOAP"),
    (lambda: simulate_throttling([0.0], keys=[0], plans=[UsagePlan("p", 1.0, 1)], api_type="HTTP"), "plans", 1),
    (lambda: UsagePlan("p", 1.0, 1, 100, "YEAR"), "period", "YEAR"),
    (lambda: UsagePlan("p", 1.0, 1, 100, "DAY", 101), "offset", 101),
    (lambda: ag.check_integration_timeout(30.0), "integration_timeout", 30),
    (lambda: ag.check_integration_timeout(0.01), "integration_timeout", 0.01),
    (lambda: ag.check_integration_timeout(60.0, "edge-optimized", raised=True), "integration_timeout", 60),
    (lambda: ag.check_integration_timeout(31.0, api_type="HTTP"), "integration_timeout", 31),
    (lambda: ag.check_integration_timeout(31.0, "edge-optimized", api_type="HTTP"), "endpoint_type", "edge-optimized"),
    (lambda: simulate_throttling([1.0, 0.0]), "arrivals", None),
])
def test_bad_parameters_name_themselves(call, name, value):
    with pytest.raises(ValueError, match=name) as e:
        call()
    if value is not None:
        import re
        assert re.search(value_re(value), str(e.value)), str(e.value)


def test_integration_timeout_depends_on_the_api_type():
    """Issue 21: an HTTP API's integration timeout is at most 30 s and cannot be raised
    (http-api-quotas.html); a REST API's is 50 ms to 29 s by default, raisable for Regional and
    private REST APIs only (api-gateway-execution-service-limits-table.html)."""
    assert ag.INTEGRATION_TIMEOUT_RANGE == {"REST": (0.05, 29.0), "HTTP": (0.05, 30.0)}
    assert ag.check_integration_timeout(30.0, api_type="HTTP") == 30.0          # REST refuses 30 s
    assert ag.check_integration_timeout(0.05, api_type="HTTP") == 0.05
    for kw in (dict(api_type="HTTP"), dict(api_type="HTTP", raised=True)):    # raised or not: 30 s at most
        with pytest.raises(ValueError) as e:
            ag.check_integration_timeout(30.5, **kw)
        msg = str(e.value)
        assert msg.startswith("integration_timeout=30.5 is out of range: allowed 0.05 to 30"), msg
        assert "HTTP API" in msg and "cannot be raised" in msg, msg
    with pytest.raises(ValueError, match="^integration_timeout=0.01 .* 0.05 to 30"):
        ag.check_integration_timeout(0.01, api_type="HTTP")
    # an HTTP API is Regional only: the check names the endpoint type it refuses
    with pytest.raises(ValueError, match="^endpoint_type='private' is not allowed for an HTTP API"):
        ag.check_integration_timeout(10.0, "private", raised=True, api_type="HTTP")
    with pytest.raises(ValueError, match="^api_type='WEBSOCKET'"):
        ag.check_integration_timeout(10.0, api_type="WEBSOCKET")
    # REST: the default range names the API type and who may raise it; Regional and private may
    with pytest.raises(ValueError) as e:
        ag.check_integration_timeout(30.0, api_type="REST")
    assert str(e.value).startswith("integration_timeout=30 is out of range: allowed 0.05 to 29 (a REST API's"), e.value
    assert "Regional or private" in str(e.value)
    for ep in ("regional", "private"):
        assert ag.check_integration_timeout(120.0, ep, raised=True, api_type="REST") == 120.0
    with pytest.raises(ValueError, match="^integration_timeout=120 .* 0.05 to 29 .*edge-optimized"):
        ag.check_integration_timeout(120.0, "edge-optimized", raised=True, api_type="REST")


def test_every_limit_is_a_best_effort_target_and_the_labs_say_their_figures_are_the_models():
    """Issue 21: AWS applies every throttle and quota, at every level, on a best-effort basis
    (api-gateway-request-throttling.html) and advises WAF and Budgets instead of usage plans to block
    access or control costs (api-gateway-api-usage-plans.html). The model applies limits exactly,
    so the labs' exact figures are labelled as the model's."""
    from labsim.labs import apigateway as L
    assert ag.BEST_EFFORT is True
    doc = " ".join(ag.__doc__.split())
    assert "every throttle and quota, at every level, on a best-effort basis" in doc
    assert "AWS WAF" in doc and "rate-based rules" in doc and "AWS Budgets" in doc
    assert "Every throttle in API Gateway is a token bucket" not in doc
    v = dict(rate=100, burst=200, shape="spike", traffic_rate=100)
    text = L.bucket_view(L.bucket_model(**v), **v)[1]
    assert "In the model, which applies the bucket exactly, at most 200 + 100 x 20 = 2,200 can pass" in text
    assert "best-effort basis" in text and "Over the 20 s at most" not in text
    v = dict(noisy="premium", noisy_rate=12_000, other_apis_rate=3_000, stage_rate=10_000, free_quota_left=100,
             refund=False)
    text = L.usage_plan_view(L.usage_plan_model(**v), **v)[1]
    assert text.startswith("Model figures (the model applies every limit exactly; AWS's throttles and quotas are "
                           "best-effort targets)."), text


def test_http_api_regional_is_fine_and_timeout_can_be_raised_for_regional_rest():
    assert ag.check_endpoint("HTTP", "regional") == "regional"
    assert ag.check_integration_timeout(60.0, "regional", raised=True) == 60.0
    assert ag.check_integration_timeout(0.05) == 0.05 and ag.check_integration_timeout(29) == 29.0


def test_lab_defaults_are_the_ones_the_chapter_states():
    """Chapter 10's prose and hidden cells use these defaults; the labs must start from them."""
    from labsim import labs
    assert labs.bucket_lab().values() == dict(rate=100, burst=200, shape="spike", traffic_rate=100)
    assert labs.usage_plan_lab().values() == dict(noisy="premium", noisy_rate=12_000, other_apis_rate=3_000,
                                                  stage_rate=10_000, free_quota_left=100, refund=False)
    assert labs.endpoint_lab().values() == dict(region="us-east-1", endpoint_type="edge-optimized", connection="new",
                                                target_ms=200)


# --- hostile input (issue 9): each case was a crash, a silent acceptance or an unnamed error --------------------
_PLAN = UsagePlan("p", 10.0, 5)


@pytest.mark.parametrize("call,name", [
    (lambda: UsagePlan("free", math.nan, 10), r"^rate=nan .*usage plan 'free'"),          # named 'free.rate'
    (lambda: UsagePlan("free", 5e-324, 10), "^rate="),                  # accepted, then failed inside the bucket
    (lambda: UsagePlan("p", 1.0, 1, 10**30), "^quota="),                # accepted, then OverflowError in the mask
    (lambda: UsagePlan(None, 1.0, 1), "^name="),                        # any name was accepted
    (lambda: Throttle(1e12, 1), "^rate="),                              # accepted, then failed inside the bucket
    (lambda: simulate_throttling([0.0, 1.0], keys=[0, math.nan], plans=[_PLAN]), "^keys"),     # cast to int64
    (lambda: simulate_throttling([0.0, 1.0], keys=[0, 10**30], plans=[_PLAN]), "^keys"),      # OverflowError
    (lambda: simulate_throttling([0.0, 1.0], keys=["a", "b"], plans=[_PLAN]), "^keys"),       # numpy's error
    (lambda: simulate_throttling([0.0, 1.0], methods=[0.5, 1.0]), "^methods"),                 # truncated to 0
    (lambda: simulate_throttling([0.0], stage="abc"), "^stage="),                               # AttributeError
    (lambda: simulate_throttling([0.0], regional=5), "^regional="),                             # AttributeError
    (lambda: simulate_throttling([0.0], account=np.array([1.0, 2.0])), "^account="),            # truth value
    (lambda: simulate_throttling([0.0], method_limits="abc"), "^method_limits="),              # dict('abc')
    (lambda: simulate_throttling([0.0], method_limits={0: 5}), r"^method_limits\[0\]="),
    (lambda: simulate_throttling([0.0], params=1.0), "^params="),                              # TypeError
    (lambda: simulate_throttling([0.0], plans=math.nan), "^plans="),                           # TypeError
    (lambda: simulate_throttling([0.0], refund="no"), "^refund="),                             # silently True
    (lambda: ag.simulate_usage_plans(refund=math.nan), "^refund="),                            # silently True
    (lambda: ag.check_integration_timeout(60.0, "regional", raised="no"), "^raised="),        # silently True
    (lambda: ag.round_trip_ms(math.nan, 1.3), "^km="),                                          # returned NaN
    (lambda: ag.round_trip_ms(100.0, 10**400), "^stretch="),                                    # OverflowError
    (lambda: ag.distance_km("Mars", "Tokyo"), "^a="),                                           # KeyError
    (lambda: ag.request_latency_ms("Tokyo", "us-east-1", "private"), "^endpoint_type='private'"),  # returned NaN
    (lambda: ag.simulate_bucket(traffic_rate=math.nan), "^traffic_rate="),                      # named 'rate'
    (lambda: ag.simulate_bucket(horizon=1e12), "^horizon="),            # named a product of rate and horizon
    (lambda: ag.simulate_usage_plans(other_apis_rate=-1), "^other_apis_rate="),                 # named 'rate'
    (lambda: ag.simulate_usage_plans(stage_rate=1e12), "^stage_rate="),                         # named 'burst'
    (lambda: ag.simulate_usage_plans(stage_rate=5e-324), "^stage_rate="),                       # named 'rate'
    (lambda: ag.simulate_usage_plans(horizon=60.0), "^horizon="),       # minutes of CPU with refunds
])
def test_hostile_values_are_refused_by_name(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_private_endpoint_medians_are_masked_not_nan():
    """The clients that cannot reach a private endpoint have no median (masked), the VPC client has one;
    the per-request books still count them as unreachable."""
    r = ag.simulate_endpoints(endpoint_type="private")
    m = r.median["private"]
    vpc = r.clients.index(ag.IN_VPC)
    assert np.ma.isMaskedArray(m) and np.isfinite(m).all()
    assert list(np.ma.getmaskarray(m)) == [i != vpc for i in range(len(r.clients))]
    assert m[vpc] == ag.request_latency_ms(ag.IN_VPC, "us-east-1", "private")
    assert not np.ma.isMaskedArray(r.latency) and r.books()["unreachable"] == len(r.latency) - 200
