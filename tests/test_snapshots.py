"""Every model's numbers for a set of valid calls, bit for bit (a golden file: tests/snapshots.json).

labsim keeps results identical for valid inputs unless a change needs otherwise; this test makes
that visible. A fix that changes numbers on purpose regenerates the file and says which numbers
changed in its commit:

    .venv/bin/python tests/test_snapshots.py --update

Each entry is a SHA-256 of the result's arrays, numbers and parameters, so a change in any one
event's outcome, time or random draw (the order of draws included) shows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from labsim import awslambda as L, batch as B, idempotency as I, invocations as IV, lambda_async as A
from labsim import retry as R, theory as T, tokenbucket as TB, traffic as TR
from labsim import apigateway as AG, appflow as AF
from labsim import coldstart as CS, kinesis as K
from labsim import capstone as CAP
from labsim import sns as SN, sqs as SQ

GOLDEN = Path(__file__).with_name("snapshots.json")


def digest(x) -> str:
    h = hashlib.sha256()

    def walk(v):
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            h.update(type(v).__name__.encode())
            for f in dataclasses.fields(v):
                h.update(f.name.encode())
                walk(getattr(v, f.name))
        elif isinstance(v, dict):
            for k in sorted(v, key=str):
                h.update(str(k).encode())
                walk(v[k])
        elif isinstance(v, (list, tuple)):
            h.update(b"[")
            for e in v:
                walk(e)
        elif isinstance(v, np.ndarray):
            h.update(str(v.dtype).encode() + str(v.shape).encode())
            h.update(np.ascontiguousarray(v).tobytes())
        elif isinstance(v, (bool, np.bool_, str, type(None))):
            h.update(repr(v).encode())
        elif isinstance(v, (int, float, np.integer, np.floating)):
            h.update(np.float64(v).tobytes())
        else:
            h.update(repr(v).encode())
    walk(x)
    return h.hexdigest()[:20]


ARR = np.sort(np.random.default_rng(1).uniform(0, 20, 5_000))
CALLS = {
    "sync default": lambda: L.simulate_sync(),
    "sync reserved, other": lambda: L.simulate_sync(rate=400, mean_duration=0.5, other_rate=1_800, reserved=300),
    "sync burst": lambda: L.simulate_sync(rate=400, mean_duration=10, concurrency_limit=10_000, scaling="burst",
                                          region="other", horizon=180, warmup=0),
    "sync per function": lambda: L.simulate_sync(rate=400, mean_duration=10, concurrency_limit=10_000,
                                                 scaling="per_function", horizon=180, warmup=0),
    "sync lognormal": lambda: L.simulate_sync(rate=3_000, duration_kind="lognormal", duration_cv=2.0,
                                              concurrency_limit=500),
    "sync exponential, other": lambda: L.simulate_sync(rate=3_000, duration_kind="exponential", other_rate=2_000,
                                                       concurrency_limit=500),
    "sync arrivals": lambda: L.simulate_sync(arrivals=ARR, mean_duration=0.1, concurrency_limit=20),
    "sync rate cap": lambda: L.simulate_sync(rate=20_000, mean_duration=0.05, horizon=5.0),
    "sync general": lambda: L.simulate_sync(rate=3_000, engine="general", duration_kind="exponential", reserved=200,
                                            other_rate=500),
    "async default": lambda: A.simulate_async(),
    "async throttled": lambda: A.simulate_async(rate=1.0, arrival_horizon=600.0, reserved_concurrency=2,
                                                error_rate=0.3, seed=1, on_failure="both"),
    "async duplicates, 5xx": lambda: A.simulate_async(rate=20.0, arrival_horizon=100.0, horizon=2_000.0,
                                                      error_rate=0.1, duplicate_prob=0.3, system_error_rate=0.2,
                                                      reserved_concurrency=5, seed=3, max_event_age=300),
    "async exponential": lambda: A.simulate_async(rate=5.0, arrival_horizon=100.0, duration_kind="exponential",
                                                  on_success=True, on_failure="none", seed=2),
    "independent failures": lambda: R.simulate_independent_failures(0.4, R.RetryPolicy("full_jitter", 0.1, 5, 5),
                                                                    n_calls=20_000, seed=3),
    "client retries": lambda: R.simulate_client_retries(R.RetryPolicy("decorrelated_jitter", 0.1, 20, 10),
                                                        R.RetryBudget(), horizon=30),
    "contention": lambda: R.simulate_contention(80, until_success=True, seed=2),
    "contention sweep": lambda: R.contention_sweep(n_values=(10, 50), replications=3),
    "erlang": lambda: ([T.erlang_b(c, a) for c in (0, 1, 10, 100, 1_000, 3_000)
                        for a in (0.0, 0.5, 9.0, 100.0, 999.0, 4_000.0)]
                       + [T.erlang_b(1_000, np.linspace(0, 2_000, 101))]
                       + [T.erlang_c(c, a) for c, a in ((1, 0.5), (10, 8.0), (100, 99.0))]),
    "retry closed forms": lambda: [f(p, r) for f in (T.retry_success_probability, T.retry_expected_attempts,
                                                     T.retry_attempts_variance)
                                   for p in (0.0, 0.3, 0.99, 1.0) for r in (0, 1, 2, 50)],
    "token bucket": lambda: ([TB.admit(ARR, r, b) for r, b in ((100.0, 20), (300.0, 5), (1_000.0, 100), (250.0, 1_000))]
                             + [TB.admit_loop(ARR, 200.0, 7, 3.0),
                                TB.tokens(ARR, TB.admit(ARR, 100.0, 20), 100.0, 20, np.linspace(0, 20, 300))]),
    "traffic": lambda: [TR.poisson(50.0, 10.0, 1), TR.constant(3.0, 10.0), TR.spike(10, 100, 2, 1, 10, 2),
                        TR.ramp(0, 100, 10, 3), TR.piecewise_linear([0, 5, 10], [1, 50, 2], 4),
                        TR.durations("lognormal", 0.3, 1_000, 5, 0.7), TR.durations("exponential", 0.3, 1_000, 5)],
    "batch": lambda: [B.simulate_batch(), B.simulate_batch(items=50_000, concurrency=3, chunk_size=700, timeout=300)],
    "idempotency": lambda: [I.simulate_idempotency(), I.simulate_key_writes(key_write="before_charge")],
    "timelines": lambda: IV.simulate_all(fail_index=2, fail_count=3, retries=1, gap=5.0, batch_size=2),
    # --- apigateway, appflow (issue 9 hardening: valid results must not change) ---
    "apigateway.simulate_throttling": lambda: [
        AG.simulate_throttling(ARR),
        AG.simulate_throttling(ARR, np.arange(len(ARR)) % 3 - 1, np.arange(len(ARR)) % 2,
                               plans=(AG.UsagePlan("a", 50.0, 20, 400, "DAY", 10), AG.UsagePlan("b", 120.0, 60)),
                               stage=AG.Throttle(150.0, 30), method_limits={1: AG.Throttle(40.0, 5)},
                               account=AG.Throttle(200.0, 80), regional=AG.Throttle(220.0, 90),
                               other_arrivals=ARR[::3] + 0.001, overhead=0.01, horizon=25.0),
        AG.simulate_throttling(ARR, np.arange(len(ARR)) % 2, plans=(AG.UsagePlan("a", 50.0, 20, 300, "WEEK"),
                                                                    AG.UsagePlan("b", 90.0, 10)),
                               stage=AG.Throttle(120.0, 40), account=AG.Throttle(130.0, 60),
                               regional=AG.Throttle(125.0, 70), other_arrivals=ARR[1::4], refund=True),
        AG.simulate_throttling(ARR, api_type="HTTP", stage=AG.Throttle(100.0, 10), params={"x": 1})],
    "apigateway.simulate_bucket": lambda: [AG.simulate_bucket(), AG.simulate_bucket(50.0, 100, "steady", 80.0, 10.0, 3),
                                           AG.simulate_bucket(300, 20, "ramp", 200, 5.0, 1)],
    "apigateway.simulate_usage_plans": lambda: [AG.simulate_usage_plans(), AG.simulate_usage_plans(refund=True, seed=2),
                                                AG.simulate_usage_plans("free", 3_000.0, 0.0, 4_000.0, 0, horizon=2.0),
                                                AG.simulate_usage_plans("none", 1_000.0, 8_000.0, 1_000.0, 1_000)],
    "apigateway.endpoints": lambda: [AG.simulate_endpoints(), AG.simulate_endpoints("eu-west-1", "regional", "reused",
                                                                                    150.0, 50, 0.5, "HTTP", 4),
                                     AG.simulate_endpoints("ap-southeast-1", "private", target_ms=20.0),
                                     [AG.request_latency_ms(c, "us-east-1", e, k) for c in AG.CLIENTS + (AG.IN_VPC,)
                                      for e in ("edge-optimized", "regional") for k in AG.HANDSHAKES],
                                     AG.distance_km("Sydney", "Ireland"), AG.round_trip_ms(1_234.5, 1.3),
                                     AG.shaped_traffic("spike", 50.0, 10.0, AG.traffic.make_rng(5)),
                                     AG.check_integration_timeout(12.5), AG.check_integration_timeout(40, "private", True),
                                     AG.check_endpoint("REST", "private")],
    "appflow.simulate_day": lambda: [AF.simulate_day(), AF.simulate_day(15, 600, 1, 100, 20.0, 2_000, 5.0, 3),
                                     AF.simulate_day(240, 20, 20, 2_000, 0.0, 500, 0.0, 1)],
    "appflow.simulate_flow": lambda: [
        AF.simulate_flow(AF.Flow(trigger=tr, mode=m), AF.make_accounts(300, 0.2, 0.1, 2),
                         *AF.day_of_changes(200.0, AF.make_accounts(300, 0.2, 0.1, 2), 5), interval=1_800.0,
                         run_times=[0.0, 3_000.0, 3_000.0, 50_000.0], api_rate=2.0, page_size=7, startup=30.0,
                         horizon=60_000.0)
        for tr in AF.TRIGGERS for m in AF.TRANSFER_MODES],
    "appflow.helpers": lambda: [AF.make_accounts(), AF.make_accounts(10, 0.5, 0.5, 9),
                                AF.day_of_changes(50.0, AF.make_accounts(20), 1),
                                AF.mean_lag_hours(AF.simulate_day(accounts=1_000)["event-triggered"]),
                                AF.Flow(tasks=("Map", "Truncate"), source_emits_events=False, trigger="on_demand")],
    # --- kinesis, coldstart, tokenbucket (weighted): labsim.kinesis, labsim.coldstart, labsim.tokenbucket ---
    "kinesis.keys and routing": lambda: [K.make_keys("uniform", 500, 50, 0.0, 1), K.make_keys("zipf", 500, 50, 1.2, 2),
                                         K.make_keys("hot", 500, 50, 0.3, 3),
                                         K.spread_key(K.make_keys("hot", 500, 50, 0.3, 3), 0, 4, 50, 5),
                                         K.route(np.arange(300), K.even_split(7)),
                                         K.route(np.array(["a", "b", "cc", "d"]), K.split_shard(K.even_split(2), 1)),
                                         K.merge_shards(K.even_split(5), 2), K.update_shard_count(K.even_split(2), 3),
                                         K.hash_keys(np.array([3, 1, 3, 2])), K.md5_hash_key("abc"),
                                         K.propagation_delay(3, False), K.propagation_delay(3, True),
                                         K.shards_needed(2_500.0, 3e6), K.write_ceiling_mb_s("Provisioned", 3),
                                         K.write_ceiling_mb_s("On-demand Standard", region="us-east-1")],
    "kinesis.hot shard": lambda: K.simulate_stream(
        TR.poisson(3_000, 5.0, 1), K.make_keys("hot", len(TR.poisson(3_000, 5.0, 1)), 1_000, 0.3, 2), 200, 4,
        initial_fill="steady", horizon=5.0),
    "kinesis.sizes, burst": lambda: K.simulate_stream(ARR, np.arange(len(ARR)) % 13,
                                                      np.random.default_rng(4).uniform(1, 600_000, len(ARR)), 2,
                                                      burst_seconds=2.0, initial_fill=0.5),
    "kinesis.consumers": lambda: [K.simulate_stream(ARR, np.arange(len(ARR)) % 100, 1_024, 1, consumers=3, efo=e,
                                                    consumer_start=[0.0, 2.0, 5.0], consumer_down=(4.0, 9.0),
                                                    horizon=25.0) for e in (False, True)],
    "kinesis.poison": lambda: [K.simulate_stream(
        TR.poisson(20, 300.0, 3), K.make_keys("uniform", len(TR.poisson(20, 300.0, 3)), 1_000, 0.0, 4), 1_024, 4,
        lambda_consumer=True, batching_window=1.0, parallelization_factor=pf, max_retry_attempts=mr,
        max_record_age=ma, bisect=bi, destination=de, bad=np.arange(len(TR.poisson(20, 300.0, 3))) % 997 == 600,
        horizon=300.0) for pf, mr, ma, bi, de in ((1, -1, -1, False, "SQS"), (2, 2, -1, True, "none"),
                                                  (3, 10, 60, False, "S3"), (1, -1, 120, True, "SNS"))],
    "coldstart.environments": lambda: [CS.simulate_environments(), CS.simulate_environments(
        rate=2.0, mean_duration=0.2, traffic_shape="spike", duration_kind="lognormal", duration_cv=0.25,
        provisioned=3, idle_timeout=60, reuse="lru", seed=1),
        CS.simulate_environments(traffic_shape="daily", reserved=150, provisioned=2, horizon=1_800.0, seed=2),
        CS.simulate_environments(arrivals=ARR, durations=np.linspace(0.1, 3, len(ARR)), idle_timeout=CS.MAX_IDLE_TIMEOUT_S,
                                 horizon=20.0)],
    "coldstart.curves": lambda: [CS.rate_curve(s, 2.0, 100.0, np.linspace(0, 100, 41)) for s in CS.TRAFFIC_SHAPES]
                                + [CS.arrivals_for(s, 3.0, 200.0, np.random.default_rng(7)) for s in CS.TRAFFIC_SHAPES]
                                + [CS.p_cold_single(r, i, d) for r in (0.01, 2.0) for i in (0.0, 60.0) for d in (0.0, 0.3)],
    "tokenbucket.weighted": lambda: ([TB.admit_weighted(ARR, np.random.default_rng(2).uniform(0.1, 5, len(ARR)), r, b, i)
                                      for r, b, i in ((100.0, 20.0, None), (300.0, 7.5, 0.0), (50.0, 100.0, 30.0))]
                                     + [TB.admit_all(ARR, [(None, 150.0, 30), (np.random.default_rng(3).uniform(
                                         1, 900, len(ARR)), 20_000.0, 1_000.0, 500.0)]),
                                        TB.admit_all(ARR, [(None, 150.0, 30, 3.0)]),
                                        TB.admit_all(ARR, [(None, 150.0, 30), (None, 100.0, 50), (
                                            np.full(len(ARR), 2.0), 300.0, 40.0)]),
                                        TB.admit_all_loop(ARR[:300].tolist(), [(None, 20.0, 5), (np.full(300, 1.5), 30.0, 4.0, 1.0)]),
                                        TB.max_weight_in_window(ARR, np.linspace(1, 3, len(ARR)), 0.5),
                                        TB.max_weight_in_window([], [], 1.0)]),
    "capstone defaults": lambda: CAP.compare(),
    "capstone poison, limits": lambda: [CAP.simulate_pipeline(d, poison=0.05, visibility_timeout=2.0, stage_rate=60.0,
                                                              stage_burst=30, batch_size=100, maximum_concurrency=4,
                                                              shards=3, seed=5) for d in CAP.DESIGNS],
    # --- labsim.sqs, labsim.sns and their labs (labs/sqs.py, labs/sns.py, labs/overview.py) ---
    "sqs.simulate_queue default": lambda: SQ.simulate_queue(ARR, horizon=25.0, consumers=3, mean_duration=0.01),
    "sqs.simulate_queue short polls": lambda: SQ.simulate_queue(ARR[:1_000], horizon=30.0, consumers=4,
                                                                wait_time_seconds=0, servers=4, max_messages=5,
                                                                mean_duration=0.02, duration_kind="exponential",
                                                                short_poll_fraction=0.3, poll_interval=0.1, seed=3),
    "sqs.simulate_queue fifo, dlq": lambda: SQ.simulate_queue(ARR[:2_000] / 10, horizon=40.0, consumers=5,
                                                              queue_type="fifo", groups=7, send_batch=3,
                                                              fifo_burst=20, visibility_timeout=2.0,
                                                              max_receive_count=2, failure_prob=0.2, poison=0.05,
                                                              dedup_ids=np.arange(2_000) % 900, seed=5),
    "sqs.simulate_queue dups, delay, retention": lambda: SQ.simulate_queue(
        ARR[:1_500], horizon=100.0, consumers=2, servers=3, duplicate_prob=0.2, delay=3.0, retention=60.0,
        mean_duration=0.05, duration_kind="lognormal", duration_cv=0.8, visibility_timeout=0.5,
        consumer_down=(5.0, 80.0), seed=7),
    "sqs.simulate_lambda_sqs": lambda: [SQ.simulate_lambda_sqs(ARR, horizon=60.0),
                                        SQ.simulate_lambda_sqs(ARR, horizon=60.0, batch_size=100, batching_window=1.5,
                                                               maximum_concurrency=3, report_batch_item_failures=True,
                                                               failure_prob=0.1, max_receive_count=3,
                                                               visibility_timeout=5.0, message_size=200_000,
                                                               seed=2),
                                        SQ.simulate_lambda_sqs(ARR[:500], horizon=60.0, queue_type="fifo", groups=4,
                                                               poison=0.02, max_receive_count=2, visibility_timeout=5.0, seed=4)],
    "sqs.drain and friends": lambda: [SQ.drain(ARR, np.full(len(ARR), 0.01), 3),
                                      SQ.drain(ARR, TR.durations("exponential", 0.01, len(ARR), 1), 2),
                                      SQ.drain_loop(ARR[:300], np.full(300, 0.05), 2),
                                      SQ.group_ids(50, 6, 3), SQ.group_ids(5, 1, 0),
                                      SQ.esm_concurrency_cap(np.linspace(0, 300, 31)),
                                      SQ.esm_concurrency_cap([0.0, 60.0, 600.0], 50),
                                      SQ.mmc_replications(3, 2.0, 300, 3, seed=1)],
    "sns.policies": lambda: [SN.check_policy({"a": ["x", {"prefix": "e"}], "n": [{"numeric": [">=", 5, "<", 9]}]}),
                             SN.combinations({"a": ["x", "y"], "b": {"c": [1, 2, 3]}}, "MessageBody"),
                             [SN.matches(p, m) for p in (None, {"a": ["x"]}, {"a": [{"anything-but": ["x"]}]},
                                                         {"n": [{"numeric": [">", 3]}]}, {"e": [{"exists": False}]})
                              for m in ({"a": "x"}, {"a": {"Type": "String", "Value": "y"}},
                                        {"n": {"Type": "Number", "Value": 4}})],
                             SN.fan_out([SN.Subscription("s1"), SN.Subscription("s2", filter_policy={"a": ["x"]})],
                                        [{"a": "x"}, {"a": "y"}, {"b": 1}]),
                             SN.check_message_size(1_000), SN.check_message_size(300_000, 1_048_576)],
    "sns.delivery policies": lambda: [SN.http_policy(12, 1, 600, "exponential"), SN.http_policy(60, 60),
                                      SN.http_policy(10, 2, 50, "geometric", 1, 2, 3).delays(),
                                      SN.http_policy(10, 2, 50, "arithmetic", 1, 2, 3).delays(),
                                      SN.AWS_MANAGED.total_seconds, SN.DeliveryPolicy().delays()],
    "sns.simulate_delivery": lambda: [SN.simulate_delivery(ARR * 100, endpoint_down=[(100.0, 400.0), (900.0, 1_000.0)]),
                                      SN.simulate_delivery(ARR * 100, policy=SN.http_policy(12, 1, 600, "exponential"),
                                                           endpoint_down=[(50.0, 1_200.0)], dlq=True, horizon=2_100.0),
                                      SN.simulate_delivery(ARR[:100], policy=SN.AWS_MANAGED,
                                                           endpoint_down=[(0.2, 5_000.0)])],
    "sns.simulate_fan_out": lambda: SN.simulate_fan_out(
        ARR[:400], [{"a": "x" if i % 3 else "y"} for i in range(400)],
        [SN.Subscription("A"), SN.Subscription("B", filter_policy={"a": ["x"]})], horizon=30.0,
        consumers=[1, 2], mean_duration=[0.1, 0.3], seed=2),
    "labs sqs/sns/overview": lambda: _lab_models(),
}


def _lab_models():
    """The default call of each lab model of labs/sqs.py, labs/sns.py and labs/overview.py."""
    from labsim.labs import overview as LO, sns as LN, sqs as LQ
    return [LQ.polling_model(0, 5, 0.5, 0.5), LQ.polling_model(20, 3, 0.2, 0.5),
            LQ.visibility_model(20, 30, 3, 0.02), LQ.visibility_model(40, 30, 0, 0.1),
            LQ.fifo_model("fifo", 10, 500, 1), LQ.lambda_sqs_model(100, 0, 10, True, 0.05),
            LN.fanout_model("placed", "price >= 100 USD", "cancelled", 1.0),
            LN.delivery_model(20, list(LN.DELIVERY_PRESETS)[1], True),
            LO.outage_model(30, list(LN.DELIVERY_PRESETS)[0], False, "15 minutes")]


def load() -> dict:
    return json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}


@pytest.mark.parametrize("name", list(CALLS))
def test_numbers_are_unchanged(name):
    expected = load().get(name)
    assert expected is not None, f"no snapshot for {name!r}: run tests/test_snapshots.py --update"
    assert digest(CALLS[name]()) == expected, f"{name}: the model's numbers changed"


def test_the_digest_sees_one_changed_number():
    r = A.simulate_async(rate=1.0, arrival_horizon=60.0, horizon=200.0)
    before = digest(r)
    r.attempt_time[3] = np.nextafter(r.attempt_time[3], np.inf)
    assert digest(r) != before
    assert digest([1.0, 2.0]) != digest([2.0, 1.0]) and digest({"a": 1}) != digest({"a": 2})


if __name__ == "__main__" and "--update" in sys.argv:
    GOLDEN.write_text(json.dumps({k: digest(f()) for k, f in CALLS.items()}, indent=1) + "\n")
    print(f"wrote {GOLDEN}")
