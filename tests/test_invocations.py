"""labsim.invocations: exact timelines of the three invocation models."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import value_re
from labsim import invocations as iv


def test_transient_failure_in_each_mode():
    res = iv.simulate_all(events=5, gap=10.0, duration=2.0, fail_index=2, fail_count=1, retries=2)
    s, a, e = res["sync"], res["async"], res["esm"]
    # sync: the caller retries after its own 1 s backoff and waits; event 2 answered at 20+2+1+2
    assert s.answered.tolist() == [2, 12, 25, 32, 42] and s.answer_ok.all()
    assert s.place.tolist() == [iv.OK_CALLER] * 5
    # async: 202 at once; Lambda retries about 1 min after the failed run ends: 22 + 60 + 2 = 84
    assert np.array_equal(a.answered, a.sent) and a.final_time.tolist() == [2, 12, 84, 32, 42]
    # stream: the poller retries the batch at once: 20..22 fails, 22..24 succeeds
    assert e.final_time.tolist() == [2, 12, 24, 32, 42] and e.place.tolist() == [iv.OK_LAMBDA] * 5
    for r in res.values():
        assert r.runs.tolist() == [1, 1, 2, 1, 1]


def test_persistent_failure_ends_in_different_places():
    res = iv.simulate_all(fail_index=2, fail_count=3, retries=2, gap=10.0, duration=2.0)
    assert res["sync"].place[2] == iv.ERROR_CALLER and not res["sync"].answer_ok[2]
    assert res["async"].place[2] == iv.FAILURE_DESTINATION
    assert res["async"].final_time[2] == 20 + 2 + 60 + 2 + 120 + 2
    assert res["esm"].place[2] == iv.FAILURE_DESTINATION and res["esm"].final_time[2] == 26
    assert iv.RETRIED_BY["sync"] == "the caller" and res["async"].retried_by.startswith("Lambda")


def test_stream_keeps_order_and_skips_whole_batch():
    e = iv.simulate_timeline("esm", events=5, gap=1.0, duration=2.0, fail_index=2, fail_count=3,
                             retries=2, batch_size=3)
    # batch [0] at 0..2; batch [1, 2] fails at 2..4, 4..6, 6..8 and is skipped; [3, 4] at 8..10
    assert e.final_time.tolist() == [2, 8, 8, 10, 10]
    assert e.place.tolist() == [iv.OK_LAMBDA, iv.BATCH_SKIPPED, iv.FAILURE_DESTINATION, iv.OK_LAMBDA, iv.OK_LAMBDA]
    assert e.runs.tolist() == [1, 3, 3, 1, 1] and e.extra_runs == 4


def test_sync_caller_waits():
    s = iv.simulate_timeline("sync", events=4, gap=1.0, duration=3.0, fail_index=-1)
    assert s.sent.tolist() == [0, 3, 6, 9] and s.answered.tolist() == [3, 6, 9, 12]


@settings(max_examples=30, deadline=None, database=None)
@given(mode=st.sampled_from(iv.MODES), n=st.integers(1, 10), gap=st.floats(0, 30), d=st.floats(0.1, 10),
       fc=st.integers(0, 10), r=st.integers(0, 2), b=st.integers(1, 10), data=st.data())
def test_books_and_invariants(mode, n, gap, d, fc, r, b, data):
    fi = data.draw(st.integers(-1, n - 1))
    res = iv.simulate_timeline(mode, events=n, gap=gap, duration=d, fail_index=fi, fail_count=fc,
                               retries=r, batch_size=b)
    books = res.books()
    assert books["events"] == n == sum(v for k, v in books.items() if k != "events")
    assert np.all(res.final_time >= res.sent) and np.all(res.answered >= res.sent)
    assert np.all(res.runs >= 1) and np.all(res.runs <= r + 1)
    assert np.array_equal(np.bincount(res.run_event, minlength=n), res.runs)
    failed = res.place != (iv.OK_CALLER if mode == "sync" else iv.OK_LAMBDA)
    expect_fail = fi >= 0 and fc > r
    assert failed.any() == expect_fail
    if mode == "sync":
        assert np.all(res.sent[1:] >= res.answered[:-1] - 1e-9)       # the caller waits
    else:
        assert np.array_equal(res.answered, res.sent)                 # answered at once
    if mode == "esm":
        assert np.all(np.diff(res.final_time) >= 0)                   # order kept


@pytest.mark.parametrize("name,value", [("mode", "stream"), ("retries", 3), ("fail_index", 5),
                                        ("events", 0), ("batch_size", 0), ("duration", 0)])
def test_bad_parameters_are_named(name, value):
    with pytest.raises(ValueError, match=rf"{name}={value_re(value)}"):
        iv.simulate_timeline(**{name: value})


def test_stream_failures_send_metadata_not_records_to_sqs_and_sns():
    """Kinesis on-failure destinations: SQS and SNS get metadata about the batch, only S3 gets
    the records; the timeline figure says so for the event source mapping rows."""
    from labsim import plots
    assert "metadata" in iv.STREAM_FAILURE_RECORD["SQS"] == iv.STREAM_FAILURE_RECORD["SNS"]
    assert "records" in iv.STREAM_FAILURE_RECORD["S3"]
    res = iv.simulate_all(events=5, gap=5.0, duration=2.0, fail_index=2, fail_count=3, retries=2)
    fig = plots.timeline_figure(res, highlight="esm")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("batch metadata; records only to S3" in t for t in texts)
    assert sum("on-failure dest." in t and "metadata" not in t for t in texts) == 1   # the async event


def test_model_assumptions_are_labelled():
    """Where AWS gives no figure, the docstring says the model assumes it."""
    from labsim import awslambda, lambda_async
    doc = {m: " ".join(m.__doc__.split()) for m in (iv, awslambda, lambda_async)}
    assert "Assumption" in doc[iv] and "retries at once" in doc[iv]
    assert "assumes exactly 60 s and 120 s" in doc[iv]
    assert "Assumption" in doc[awslambda] and "window" in doc[awslambda]
    assert "Assumption" in doc[lambda_async] and "both receive it" in doc[lambda_async]


def test_fail_index_error_names_the_event_count():
    """Issue 9: with events=1, fail_index=2 said 'allowed -1 to 0' without saying why."""
    with pytest.raises(ValueError, match=r"^fail_index=2 is out of range: allowed -1 to 0 \(.*events=1"):
        iv.simulate_timeline(events=1, fail_index=2)
