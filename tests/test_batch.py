"""labsim.batch: books, the timeout, list scheduling, payload limits, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labsim import batch
from labsim.outcomes import Outcome


def test_batch_counts_and_timeouts():
    r = batch.simulate_batch(items=5_000, seconds_per_item=0.5, chunk_size=1_000, concurrency=2, timeout=600)
    b = r.books()
    assert b["invocations"] == 5 == b["succeeded"] + b["timed_out"]
    assert b["items"] == 5_000 == b["items_done"] + b["items_lost"]
    assert np.array_equal(r.outcome == Outcome.TIMED_OUT, r.work > 600)
    assert np.array_equal(r.end, r.start + np.minimum(r.work, 600))


def test_list_scheduling_on_the_slots():
    """Each invocation starts when the earliest slot frees: never more than `concurrency` at once."""
    r = batch.simulate_batch(items=10_000, chunk_size=500, concurrency=3)
    for s in r.start:
        assert ((r.start <= s) & (r.end > s)).sum() <= 3
    assert r.start[:3].tolist() == [0.0, 0.0, 0.0] and r.start[3] == r.end[:3].min()
    assert batch.simulate_batch(items=10_000, chunk_size=500, concurrency=50).start.max() == 0.0


def test_wall_time_curve_and_its_checks():
    """Issue 9: a number, a string or a nested list for concurrencies crashed with TypeError; the
    curve re-runs the job once per concurrency, so the items in all are bounded."""
    c = batch.wall_time_curve([1, 10], items=5_000)
    assert c[0] > c[1] > 0
    for bad in (5, "ab", None, [[1]], [1, math.nan], [0]):
        with pytest.raises(ValueError, match=r"^concurrencies"):
            batch.wall_time_curve(bad, items=5_000)
    with pytest.raises(ValueError, match=r"^concurrencies: 5 runs x items=5,000,000 is out of range"):
        batch.wall_time_curve([1, 2, 3, 4, 5], items=5_000_000)


def test_payload_limits():
    assert batch.max_items_per_payload(100.0) == 60 and batch.max_items_per_payload(100.0, "async") == 10
    assert batch.max_items_per_payload(0.001) == 6_000_000
    with pytest.raises(ValueError, match=r"^item_kb=4.94066e-324 is out of range: allowed 0\.001 to 6,000"):
        batch.max_items_per_payload(5e-324)             # 6 MB / 5e-324 KB was an OverflowError
    with pytest.raises(ValueError, match=r"^invocation="):
        batch.max_items_per_payload(1.0, "stream")


def test_bounds_name_what_to_change():
    with pytest.raises(ValueError, match=r"^items=5,000,001 is out of range: allowed 1 to 5,000,000"):
        batch.simulate_batch(items=5_000_001)
    with pytest.raises(ValueError, match=r"^chunk_size=1,000 is out of range: allowed 1 to 10 \(at most items=10\)"):
        batch.simulate_batch(items=10)
