"""The capstone pipeline (labsim.capstone): a composition of the service models, tested as one.

* Composition: each stage's result equals the service model called directly on the previous
  stage's departures (no capstone-specific copy of any model).
* The books balance end to end, for many seeds and parameters (hypothesis), and agree with every
  stage's own books.
* One configuration against an analytic answer: a token bucket in front of a queue with ample
  consumers (admissions bound b + r T, the rejected fraction 1 - r / lambda, Little's law).
* Per design: sync loses orders under the spike, the queue delays them and loses none, the stream
  keeps each customer's orders in order.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hostile
from labsim import apigateway, awslambda, capstone as C, kinesis, sns, sqs, theory
from labsim.capstone import OrderState as S, PairState as P


@pytest.fixture(scope="module")
def runs():
    return {d: C.simulate_pipeline(d) for d in C.DESIGNS}


def seeds(seed):
    return [int(x) for x in np.random.SeedSequence(seed).generate_state(2)]


def same(a, b):
    """Equal stage results: every array equal element for element (NaN equal to NaN)."""
    import dataclasses
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), f.name
    return True


# --- composition: stages are the service models, chained ----------------------------------------------
@pytest.mark.parametrize("design", C.DESIGNS)
def test_each_stage_is_the_service_model_on_the_previous_departures(runs, design):
    r = runs[design]
    p = r.params
    t, cust, combo, u = C._orders(10.0, 10.0, 10.0, 10.0, 40.0, 200, 0)
    assert np.array_equal(r.arrival, t) and len(t) > 1_000
    api = apigateway.simulate_throttling(t, stage=apigateway.Throttle(1_000.0, 500), horizon=70.0)
    assert same(api, r.api)
    arr = api.departure[api.passed]
    s_lam, s_fan = seeds(0)
    if design == "sync":
        mid = awslambda.simulate_sync(arrivals=arr, mean_duration=0.2, reserved=10, horizon=70.0, warmup=0.0,
                                      seed=s_lam)
        processed_time = (mid.arrival + mid.duration)[mid.outcome == 0]
    elif design == "queue":
        mid = sqs.simulate_lambda_sqs(arr, horizon=70.0, batch_size=10, maximum_concurrency=10,
                                      report_batch_item_failures=True, max_receive_count=3, mean_duration=0.2,
                                      poison=np.zeros(len(arr), bool), seed=s_lam)
        processed_time = mid.delete_time[mid.outcome == sqs.MessageOutcome.DELETED]
    else:
        mid = kinesis.simulate_stream(arr, cust[api.passed], 1_024, 2, lambda_consumer=True, batch_size=10,
                                      parallelization_factor=5, max_retry_attempts=2, destination="SQS",
                                      duration=C.KINESIS_INVOKE_OVERHEAD_S, duration_per_record=0.2,
                                      horizon=70.0)
        processed_time = mid.finish[mid.fate == kinesis.Fate.PROCESSED]
    assert same(mid, r.stage)
    # the topic gets the processed orders at the time Lambda finished them, in time order
    assert np.array_equal(r.delivery.publish, np.sort(processed_time))
    d = sns.simulate_delivery(np.sort(processed_time), policy=sns.AWS_MANAGED, horizon=70.0)
    assert np.array_equal(d.departure, r.delivery.departure)
    # each subscription's queue gets the deliveries its filter policy matched
    pub_orders = np.flatnonzero(r.state == S.PROCESSED)[np.argsort(r.done[r.state == S.PROCESSED], kind="stable")]
    msgs = [C.COMBOS[k] for k in combo[pub_orders]]
    match = sns.fan_out(C.SUBSCRIPTIONS, msgs)
    fan_seeds = np.random.SeedSequence(s_fan).generate_state(3)
    for j, sub in enumerate(C.SUBSCRIPTIONS):
        cons, dur = C.SUBSCRIBERS[sub.name]
        q = sqs.simulate_queue(d.departure[match[:, j]], horizon=70.0, consumers=cons, mean_duration=dur,
                               seed=int(fan_seeds[j]))
        assert same(q, r.fanout[j]), sub.name
    assert r.books()["pairs"] == int(match.sum()) == r.billing["SNS"]["notification deliveries"]


def test_the_filter_policies_are_applied_per_attribute_combination():
    """The pipeline matches each attribute combination once; order by order it is the same."""
    m = C._combo_match()
    for k, msg in enumerate(C.COMBOS):
        assert [s.accepts(msg) for s in C.SUBSCRIPTIONS] == m[k].tolist()
    ch = {c["channel"]["Value"] for c, row in zip(C.COMBOS, m) if row[2]}
    assert ch == {"web", "app"}                                     # analytics: anything but partner
    assert not m[[c["total"]["Value"] == 0 for c in C.COMBOS], 0].any()   # billing: free orders not billed


# --- the books -------------------------------------------------------------------------------------------
def check_books(r):
    b = r.books()
    assert hostile.check_books(r, "r") == []                        # the docstring's equations hold
    n = b["orders"]
    assert n == len(r.arrival) and set(np.unique(r.state)) <= {int(s) for s in S}
    assert sum(b[k] for k in C.ORDER_KEYS.values()) == n            # exactly one final state each
    # final states agree with every stage's own books
    assert b["rejected"] == r.api.books()["sent"] - r.api.books()["passed"]
    sb = r.stage.books()
    if r.design == "sync":
        assert b["failed_throttled"] == sb["throttled"] and b["waiting"] == sb["in_flight"]
        assert b["processed"] + b["failed_error"] == sb["succeeded"]
    elif r.design == "queue":
        assert (b["processed"], b["dlq"], b["expired"]) == (sb["deleted"], sb["dlq"], sb["expired"])
        assert b["waiting"] == sb["queued"] + sb["in_flight"] and b["failed"] == 0
    else:
        assert (b["processed"], b["dlq"], b["expired"]) == (sb["processed"], sb["destination"], sb["expired"])
        assert b["waiting"] == sb["pending"] and b["failed"] == sb["throttled"]
    # times: final states have a time by the horizon, waiting ones none
    fin = r.state != S.WAITING
    assert np.all(r.done[~fin] == np.inf) and np.all(r.done[fin] <= r.horizon) and np.all(r.done[fin] >= r.arrival[fin])
    assert np.all(r.latency() >= r.params["mean_duration"] - 1e-9)
    # pairs: one per (processed order, matching subscription), each in one state
    m = C._combo_match()[r.combo[r.state == S.PROCESSED]]
    assert b["pairs"] == int(m.sum())
    pairs = set(zip(r.pair_order.tolist(), r.pair_sub.tolist()))
    assert len(pairs) == b["pairs"]
    assert all(r.state[o] == S.PROCESSED and C._combo_match()[r.combo[o], s] for o, s in pairs)
    for j, q in enumerate(r.fanout):
        qb = q.books()
        mine = r.pair_sub == j
        assert qb["deleted"] == int((r.pair_state[mine] == P.PROCESSED).sum())
    assert np.all(r.pair_done[r.pair_state == P.PROCESSED] >= r.done[r.pair_order[r.pair_state == P.PROCESSED]])
    return b


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(design=st.sampled_from(C.DESIGNS), seed=st.integers(0, 10_000), base=st.floats(0.0, 30.0),
       mult=st.floats(1.0, 20.0), length=st.floats(0.5, 20.0), stage_rate=st.floats(5.0, 300.0),
       burst=st.integers(1, 300), reserved=st.integers(2, 60), batch=st.sampled_from([1, 10, 100]),
       shards=st.integers(1, 6), poison=st.sampled_from([0.0, 0.01, 0.2]), vt=st.sampled_from([1.0, 5.0, 30.0]),
       mc=st.sampled_from([None, 2, 5, 50]), horizon=st.floats(40.0, 90.0))
def test_books_balance_end_to_end(design, seed, base, mult, length, stage_rate, burst, reserved, batch, shards,
                                  poison, vt, mc, horizon):
    r = C.simulate_pipeline(design, base_rate=base, spike_multiplier=mult, spike_length=length,
                            stage_rate=stage_rate, stage_burst=burst, reserved_concurrency=reserved,
                            batch_size=batch, shards=shards, poison=poison, visibility_timeout=vt,
                            maximum_concurrency=mc, horizon=horizon, seed=seed)
    check_books(r)


@pytest.mark.parametrize("design", C.DESIGNS)
def test_books_at_the_defaults_and_with_poison(runs, design):
    check_books(runs[design])
    r = C.simulate_pipeline(design, poison=0.05, visibility_timeout=2.0)
    b = check_books(r)
    if design == "sync":
        assert b["failed_error"] > 0 and b["dlq"] == 0                    # a function error: 502 to the caller
        assert np.all(r.poison[r.state == S.PROCESSED] == False)          # noqa: E712
    else:
        assert b["dlq"] > 0                                               # the queue's DLQ, the stream's destination
        assert np.all(r.poison[r.state == S.PROCESSED] == False)          # noqa: E712


def test_the_books_check_can_fail(runs):
    r = runs["queue"]
    import dataclasses
    broken = dataclasses.replace(r, state=np.where(np.arange(len(r.state)) == 0, 99, r.state).astype(np.int8))
    assert hostile.check_books(broken, "broken")                      # one order in no state: unbalanced


# --- an analytic answer ------------------------------------------------------------------------------------
def test_token_bucket_in_front_of_a_queue_with_ample_consumers():
    """Orders at lambda = 40 per second against a stage bucket of r = 20 per second and b = 50 for
    T = 100 s, behind it a queue with ample consumers (reservation 50, 50 ms per order, batches of 1):

    * the admissions never exceed the bucket's bound b + r T = 2,050 and, under a load twice the
      rate, miss it by at most 0.5% (the bucket is almost never full, so it wastes few tokens);
    * the rejected fraction, averaged over 20 runs, is 1 - r / lambda = 0.5 less the burst's share
      b / (lambda T), within 4 standard errors;
    * almost nothing waits (consumers are ample): the mean time in the system is the 50 ms of work,
      within 1%;
    * Little's law: the time-average number in the system equals the admission rate times the mean
      time in the system, within 0.5% (the grid's resolution).
    """
    lam, r_, b, T = 40.0, 20.0, 50, 100.0
    kw = dict(base_rate=lam, spike_multiplier=1.0, spike_start=0.0, spike_length=1.0, traffic_length=T,
              horizon=110.0, stage_rate=r_, stage_burst=b, reserved_concurrency=50, mean_duration=0.05, batch_size=1)
    fracs = []
    for seed in range(20):
        res = C.simulate_pipeline("queue", seed=seed, **kw)
        adm = int(res.api.passed.sum())
        bound = theory.token_bucket_max_passed(r_, b, T)
        assert 0.995 * bound <= adm <= bound, (seed, adm)
        fracs.append(res.count(S.REJECTED) / len(res.arrival))
        assert res.count(S.PROCESSED) == adm and res.count(S.WAITING) == 0
        assert abs(res.latency().mean() - 0.05) <= 0.0005                # mean time in system: 50 ms, within 1%
    fracs = np.array(fracs)
    expected = theory.token_bucket_rejected_fraction(r_, lam) - b / (lam * T)
    se = fracs.std(ddof=1) / math.sqrt(len(fracs))
    assert abs(fracs.mean() - expected) <= 4 * se + 1e-3, (fracs.mean(), expected, se)
    # Little's law on a run where orders do wait: the default sale through the queue
    res = C.simulate_pipeline("queue")
    assert res.count(S.WAITING) == 0
    g = np.linspace(0.0, res.horizon, 70_001)
    L = res.in_system(g).mean()
    lam_adm = (res.state != S.REJECTED).sum() / res.horizon
    W = res.latency().mean()
    assert W > 1.0                                                     # real waiting, not just the work
    assert abs(L - theory.littles_law(lam_adm, W)) <= 0.005 * L, (L, lam_adm * W)


# --- per design ---------------------------------------------------------------------------------------------
def test_sync_loses_orders_under_the_spike_queue_delays_them_stream_keeps_order(runs):
    sy, qu, stm = runs["sync"], runs["queue"], runs["stream"]
    assert sy.lost > 0.25 * len(sy.arrival)                            # the spike is lost as 500s
    assert sy.count(S.FAILED) == sy.books()["failed_throttled"] and sy.count(S.REJECTED) == 0
    assert qu.lost == 0 and qu.count(S.WAITING) == 0                   # every order processed ...
    assert qu.percentiles()[99] > 10 * sy.percentiles()[99]            # ... later
    assert stm.lost == 0 and stm.out_of_order() == 0                   # per customer, in order
    assert qu.out_of_order() > 0                                       # a standard queue does not keep it
    # the sync design's processed orders all took exactly their work: nobody waits in a sync call
    assert np.allclose(sy.latency(), 0.2)


def test_the_stream_keeps_order_whatever_the_shards():
    for shards in (1, 3, 7):
        r = C.simulate_pipeline("stream", shards=shards, base_rate=5.0)
        assert r.out_of_order() == 0 and r.count(S.PROCESSED) > 0


def test_the_stream_design_is_bounded_by_the_functions_reserved_concurrency():
    """Issue 21: reserved concurrency 2 and 10 shards processed all 1,281 orders. Now the mapping's
    invocations beyond 2 are throttled and retried: at most 2 x 70 s / 0.2 s = 700 orders of work
    fit in the run (the throttled retries leave slots idle, so fewer), the rest waits in the stream,
    and 10 shards do no more work than 2."""
    r = C.simulate_pipeline("stream", reserved_concurrency=2, shards=10)
    b = r.books()
    assert len(r.arrival) == 1_281
    assert 0.8 * 700 < b["processed"] <= 700 and b["waiting"] > 500 and r.lost == 0
    assert r.stage.throttles > 0 and r.stage.params["concurrency"] == 2
    two = C.simulate_pipeline("stream", reserved_concurrency=2, shards=2)
    assert two.stage.throttles == 0
    assert abs(b["processed"] - two.books()["processed"]) <= 0.1 * two.books()["processed"]
    assert r.out_of_order() == 0


def test_api_gateway_429_and_lambda_500_are_told_apart():
    r = C.simulate_pipeline("sync", stage_rate=50.0, stage_burst=20, reserved_concurrency=5)
    b = r.books()
    assert b["rejected"] > 0 and b["failed_throttled"] > 0
    assert (C.API_THROTTLE_STATUS, C.LAMBDA_REJECTED_STATUS, C.FUNCTION_ERROR_STATUS) == (429, 500, 502)
    q = C.simulate_pipeline("queue", stage_rate=50.0, stage_burst=20, reserved_concurrency=5)
    assert q.books()["rejected"] == b["rejected"] and q.books()["failed"] == 0   # same bucket, same 429s


def test_more_concurrency_or_shards_drain_faster():
    slow = C.simulate_pipeline("queue", reserved_concurrency=5)
    fast = C.simulate_pipeline("queue", reserved_concurrency=40)
    assert fast.percentiles()[99] < slow.percentiles()[99]
    capped = C.simulate_pipeline("queue", reserved_concurrency=40, maximum_concurrency=5)
    assert capped.percentiles()[99] == pytest.approx(slow.percentiles()[99], rel=0.2)
    s1 = C.simulate_pipeline("stream", shards=1, reserved_concurrency=40)
    s4 = C.simulate_pipeline("stream", shards=4, reserved_concurrency=40)
    assert s1.params["parallelization_factor"] == 10 and s4.params["parallelization_factor"] == 10
    assert s4.percentiles()[99] < s1.percentiles()[99]


def test_billing_units():
    r = C.simulate_pipeline("stream")
    k = r.billing["Kinesis"]
    assert k["shard-hours"] == pytest.approx(2 * 70.0 / 3_600)
    assert k["PUT payload units"] == int(r.stage.accepted.sum())        # 1 KB orders: one 25 KB unit each
    batches = np.unique(np.stack([r.stage.shard, r.stage.lane, r.stage.start]), axis=1).shape[1]
    assert r.billing["Lambda"]["requests"] == batches > 100                # no failures: one invocation per batch
    s = C.simulate_pipeline("sync")
    ran = s.stage.outcome != 1
    assert s.billing["Lambda"]["requests"] == int(ran.sum())
    assert s.billing["Lambda"]["duration (GB-seconds)"] == pytest.approx(ran.sum() * 0.2 * 512 / 1_024)
    assert s.billing["SNS"]["publishes (requests)"] == s.count(S.PROCESSED)
    assert s.billing["Kinesis"] == {"shard-hours": 0.0, "PUT payload units": 0}
    q = C.simulate_pipeline("queue")
    assert q.billing["Lambda"]["requests"] == len(q.stage.receive_time)
    assert q.billing["SQS"]["requests"] == q.stage.requests + sum(x.requests for x in q.fanout)
    assert C._gb_seconds([0.0101], 1_024) == pytest.approx(0.011)        # rounded up to the millisecond


# --- parameters ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw,name", [
    (dict(design="batch"), "design"), (dict(base_rate=-1), "base_rate"), (dict(spike_multiplier=0.5), "spike_multiplier"),
    (dict(spike_length=31.0), "spike_length"), (dict(horizon=30.0), "horizon"), (dict(reserved_concurrency=901), "reserved_concurrency"),
    (dict(reserved_concurrency=1), "reserved_concurrency"), (dict(maximum_concurrency=1), "maximum_concurrency"),
    (dict(batch_size=0), "batch_size"), (dict(shards=0), "shards"), (dict(parallelization_factor=11), "parallelization_factor"),
    (dict(poison=1.5), "poison"), (dict(memory_mb=64), "memory_mb"), (dict(base_rate=1_000.0), "base_rate"),
    (dict(stage_rate=20_000.0), "stage_rate"), (dict(seed=-1), "seed"), (dict(base_rate=float("nan")), "base_rate"),
])
def test_parameters_are_checked_by_name(kw, name):
    design = kw.pop("design", "queue")
    with pytest.raises(ValueError, match=rf"^.*\b{name}="):
        C.simulate_pipeline(design, **kw)


def test_same_seed_same_result_and_the_orders_are_shared():
    a, b = C.simulate_pipeline("queue", seed=3), C.simulate_pipeline("queue", seed=3)
    assert np.array_equal(a.done, b.done) and a.books() == b.books()
    c = C.compare(seed=3)
    assert all(np.array_equal(c[d].arrival, a.arrival) for d in C.DESIGNS)
    assert np.array_equal(c["queue"].done, a.done)
    assert not np.array_equal(C.simulate_pipeline("queue", seed=4).arrival[:10], a.arrival[:10])
