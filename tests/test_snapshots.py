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
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from labsim import awslambda as L, batch as B, idempotency as I, invocations as IV, lambda_async as A
from labsim import capstone as CAP, retry as R, theory as T, tokenbucket as TB, traffic as TR

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
    "capstone defaults": lambda: CAP.compare(),
    "capstone poison, limits": lambda: [CAP.simulate_pipeline(d, poison=0.05, visibility_timeout=2.0, stage_rate=60.0,
                                                              stage_burst=30, batch_size=100, maximum_concurrency=4,
                                                              shards=3, seed=5) for d in CAP.DESIGNS],
}


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
