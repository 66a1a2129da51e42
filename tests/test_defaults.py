"""Defaults are part of each model's interface: calling with none gives the same run as
calling with the documented values written out (the chapters and labs rely on them)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from labsim import awslambda, capstone, lambda_async, retry, stepfunctions, tokenbucket, traffic
from labsim.retry import RetryBudget, RetryPolicy


def same(a, b) -> bool:
    """Equal results: arrays equal element for element, dataclasses field by field."""
    if dataclasses.is_dataclass(a):
        return type(a) is type(b) and all(same(getattr(a, f.name), getattr(b, f.name))
                                          for f in dataclasses.fields(a) if f.name != "params")
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


DOCUMENTED = [
    (awslambda.simulate_sync, dict(rate=5_000.0, mean_duration=0.2, duration_kind="fixed", duration_cv=1.0,
                                   concurrency_limit=1_000, reserved=None, other_rate=0.0, other_mean_duration=0.2,
                                   scaling="none", region="us-east-1", horizon=20.0, warmup=1.0, rate_cap=True,
                                   rate_cap_burst=0.1, seed=0, engine="auto")),
    (lambda_async.simulate_async, dict(rate=1.0, arrival_horizon=1_200.0, horizon=1_200.0, mean_duration=1.0,
                                       duration_kind="fixed", error_rate=0.2, system_error_rate=0.0,
                                       max_retry_attempts=2, max_event_age=21_600, reserved_concurrency=None,
                                       on_success=False, on_failure="destination", duplicate_prob=0.0,
                                       duplicate_delay=1.0, seed=0)),
    (retry.simulate_independent_failures, dict(p=0.3, policy=RetryPolicy("exponential", 0.1, 20.0, 3),
                                               n_calls=10_000, seed=0)),
    (retry.simulate_client_retries, dict(policy=RetryPolicy("exponential", 0.1, 20.0, 3), budget=None,
                                         base_rate=200.0, spike_rate=4_000.0, spike_start=2.0, spike_length=0.5,
                                         horizon=10.0, duration=0.1, concurrency_limit=50, rtt=0.01, seed=0)),
    (retry.simulate_contention, dict(n_clients=50, policy=RetryPolicy("full_jitter", 0.005, 2.0, 100),
                                     network_delay=0.01, network_sd=0.002, until_success=False, seed=0)),
    (capstone.simulate_pipeline, dict(design="sync", base_rate=10.0, spike_multiplier=10.0, spike_start=10.0,
                                      spike_length=10.0, traffic_length=40.0, horizon=70.0, customers=200,
                                      stage_rate=1_000.0, stage_burst=500, reserved_concurrency=10, mean_duration=0.2,
                                      memory_mb=512, batch_size=10, batching_window=0.0, maximum_concurrency=None,
                                      shards=2, parallelization_factor=5, max_retry_attempts=2,
                                      visibility_timeout=30.0, max_receive_count=3, order_bytes=1_024, poison=0.0,
                                      seed=0)),
    (stepfunctions.simulate_map, dict(items=20_000, seconds_per_item=0.5, item_cv=0.5, chunk_size=100, mode="inline",
                                      max_concurrency=100, workflow="standard", failure_rate=0.0, handling="none",
                                      tolerated_failure_pct=0.0, timeout=900.0, seed=0)),
]


@pytest.mark.parametrize("f,kw", DOCUMENTED, ids=[f.__name__ for f, _ in DOCUMENTED])
def test_defaults_are_the_documented_values(f, kw):
    assert same(f(), f(**kw))


def test_small_defaults():
    assert RetryPolicy() == RetryPolicy("exponential", 0.1, 20.0, 3)
    assert RetryBudget() == RetryBudget(50.0, 0.1)
    rng = np.random.default_rng(3)
    assert np.array_equal(traffic.durations("lognormal", 1.0, 50, np.random.default_rng(3)),
                          traffic.durations("lognormal", 1.0, 50, rng, cv=1.0))
    t = np.array([0.0, 0.1, 0.2, 0.3, 2.0])
    assert np.array_equal(tokenbucket.admit(t, 1.0, 2), tokenbucket.admit(t, 1.0, 2, initial=2))
    assert np.array_equal(tokenbucket.admit_loop(t, 1.0, 2), tokenbucket.admit_loop(t, 1.0, 2, initial=2))
    ok = tokenbucket.admit(t, 1.0, 2)
    assert np.array_equal(tokenbucket.tokens(t, ok, 1.0, 2, [0.5, 3.0]),
                          tokenbucket.tokens(t, ok, 1.0, 2, [0.5, 3.0], initial=2))
    assert np.array_equal(traffic.constant(2.0, 2.0), traffic.constant(2.0, 2.0, None))


def test_contention_sweep_defaults():
    """The blog's sweep: N = 10 .. 100, all five strategies, base 5 ms, cap 2 s, 10 ms network delay."""
    a = retry.contention_sweep(replications=2)
    b = retry.contention_sweep(tuple(range(10, 101, 10)), retry.CONTENTION_STRATEGIES, base=0.005, cap=2.0,
                               network_delay=0.01, replications=2, seed=0)
    assert same(a, b)
    assert a.n_values.tolist() == list(range(10, 101, 10)) and a.strategies == retry.CONTENTION_STRATEGIES
