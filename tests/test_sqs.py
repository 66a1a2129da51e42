"""labsim.sqs: the c-consumer engine, the event loop, theory (Erlang C, Little's law), FIFO
invariants, visibility timeout / DLQ / retention timelines, polling, the Lambda mapping, bad input."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import value_re
from labsim import sqs, theory, traffic
from labsim.sqs import MessageOutcome as MO

SLOW = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- a. the engine: vectorised Lindley recursions against a heap loop ---------------------------
@SLOW
@given(seed=st.integers(0, 10_000), n=st.integers(0, 400), c=st.integers(1, 12),
       d8=st.integers(1, 64), rate8=st.integers(1, 64))
def test_fixed_engine_equals_heap_loop_exactly_with_ties(seed, n, c, d8, rate8):
    """Arrival times and the duration on a grid of 1/8 s: every sum is exact in binary floating
    point, ties are frequent, and the two engines must agree to the last bit."""
    rng = np.random.default_rng(seed)
    a = np.sort(rng.integers(0, 8 * max(n, 1) // rate8 + 1, n)) / 8.0
    d = np.full(n, d8 / 8.0)
    assert np.array_equal(sqs.drain(a, d, c), sqs.drain_loop(a, d, c))


@SLOW
@given(seed=st.integers(0, 10_000), n=st.integers(1, 400), c=st.integers(1, 12),
       load=st.floats(0.1, 1.5), kind=st.sampled_from(["fixed", "exponential", "lognormal"]))
def test_engine_equals_heap_loop_random_times(seed, n, c, load, kind):
    rng = np.random.default_rng(seed)
    a = np.sort(rng.uniform(0, n / (c * load), n))
    d = traffic.durations(kind, 1.0, n, rng, 2.0)
    fast, ref = sqs.drain(a, d, c), sqs.drain_loop(a, d, c)
    assert np.allclose(fast, ref, rtol=0, atol=1e-9 * max(1.0, a.max()))
    # the decision (waited or not) is the same for every message
    assert np.array_equal(fast > a + 1e-9, ref > a + 1e-9)


@SLOW
@given(seed=st.integers(0, 10_000), rate=st.floats(0.05, 30.0), c=st.integers(1, 10),
       mean=st.floats(0.05, 3.0), kind=st.sampled_from(["fixed", "exponential"]),
       wait=st.integers(1, 20), horizon=st.floats(5.0, 200.0))
def test_plain_configuration_engine_equals_event_loop(seed, rate, c, mean, kind, wait, horizon):
    """The queue model dispatches the plain configuration to the engine; the general event loop
    must give the same result message for message (receives, deletes, empty polls)."""
    t = traffic.poisson(rate, horizon, seed)
    kw = dict(horizon=horizon, consumers=c, wait_time_seconds=wait, duration_kind=kind, mean_duration=mean,
              visibility_timeout=sqs.MAX_VISIBILITY_TIMEOUT_S, seed=seed)
    fast = sqs.simulate_queue(t, **kw)
    loop = sqs.simulate_queue(t, engine="loop", **kw)
    assert fast.params["engine"] == "drain" and loop.params["engine"] == "loop"
    for name in ("outcome", "first_receive", "receive_count", "delete_time", "departure", "successes"):
        assert np.allclose(getattr(fast, name), getattr(loop, name), rtol=0, atol=1e-9, equal_nan=True), name
    assert (fast.receives, fast.empty_receives, fast.delete_calls) == (loop.receives, loop.empty_receives,
                                                                      loop.delete_calls)


@pytest.mark.parametrize("kind", ["fixed", "exponential"])
def test_engine_equals_an_idiomatic_simpy_queue(kind):
    """An independent simulator: simpy.Resource serves waiting requests first come, first served."""
    pytest.importorskip("simpy")
    from labsim.bench import simpy_queue
    t = traffic.poisson(9.0, 2_000.0, 3)
    d = traffic.durations(kind, 1.0, len(t), 4)
    assert np.allclose(sqs.drain(t, d, 10), simpy_queue(t, d, 10), rtol=0, atol=1e-9)


def test_long_poll_empty_receives_by_hand():
    """One consumer, WaitTimeSeconds 20, one message at 50 s taking 1 s, horizon 100 s: polls
    [0, 20] and [20, 40] come back empty, [40, 60] returns the message at 50; after it is deleted
    at 51, polls ending at 71 and 91 come back empty. 4 empty of 5 receives, both engines."""
    for engine in ("auto", "loop"):
        r = sqs.simulate_queue([50.0], horizon=100.0, consumers=1, wait_time_seconds=20, mean_duration=1.0,
                               engine=engine)
        assert (r.receives, r.empty_receives) == (5, 4), engine
        assert r.first_receive[0] == 50.0 and r.delete_time[0] == 51.0


# --- b. against theory: M/M/c -----------------------------------------------------------------------
REPS = 20                 # independent replications (different seeds)
MEAN = 1.0                # s of processing


@pytest.mark.parametrize("c,load,n_target", [(10, 5.0, 40_000), (10, 9.0, 100_000)], ids=["light", "heavy"])
def test_mmc_matches_erlang_c_and_littles_law(c, load, n_target):
    """Long polling, one message per receive, no failures, visibility timeout above every
    processing time: exactly M/M/c. Each replication starts empty and drops a warm-up of 10 % of
    its horizon. Estimates are means of REPS independent replications; SE = sample std (ddof=1) /
    sqrt(REPS); each must be within 3 SE of the closed form."""
    x = sqs.mmc_replications(c, load, n_target, REPS, mean_duration=MEAN, seed=7_000 if load < 9 else 9_000)
    est = x.mean(axis=0)
    se = x.std(axis=0, ddof=1) / math.sqrt(REPS)
    pw = theory.erlang_c(c, load)
    wq = theory.erlang_c_mean_wait(c, load, MEAN)
    lq = theory.littles_law(load / MEAN, wq)
    print(f"M/M/{c} A={load}: P(wait) {est[0]:.4f}±{se[0]:.4f} vs {pw:.4f}; W {est[1]:.4f}±{se[1]:.4f} vs "
          f"{wq:.4f}; Lq {est[2]:.4f}±{se[2]:.4f} vs {lq:.4f}")
    assert np.all(se > 0)
    assert abs(est[0] - pw) <= 3 * se[0], (est[0], pw, se[0])
    assert abs(est[1] - wq) <= 3 * se[1], (est[1], wq, se[1])
    assert abs(est[2] - lq) <= 3 * se[2], (est[2], lq, se[2])


# --- c. books and invariants over random parameters -------------------------------------------------
@st.composite
def queue_params(draw):
    fifo = draw(st.booleans())
    return dict(
        queue_type="fifo" if fifo else "standard",
        consumers=draw(st.integers(1, 8)),
        wait_time_seconds=draw(st.sampled_from([0, 1, 5, 20])),
        max_messages=draw(st.integers(1, 10)),
        visibility_timeout=draw(st.sampled_from([0, 1, 5, 30])),
        delay=draw(st.sampled_from([0, 0, 3])),
        retention=draw(st.sampled_from([60, 345_600])),
        max_receive_count=draw(st.sampled_from([None, 1, 3])),
        duration_kind=draw(st.sampled_from(["fixed", "exponential"])),
        mean_duration=draw(st.floats(0.05, 3.0)),
        failure_prob=draw(st.sampled_from([0.0, 0.2])),
        poison=draw(st.sampled_from([0.0, 0.1])),
        groups=draw(st.integers(1, 6)),
        send_batch=draw(st.integers(1, 10)),
        duplicate_prob=0.0 if fifo else draw(st.sampled_from([0.0, 0.2])),
        servers=1 if fifo else draw(st.integers(1, 4)),
        seed=draw(st.integers(0, 1000)),
    )


def _check_books(r):
    b = r.books()
    assert b["sent"] == sum(b[k] for k in ("deduplicated", "deleted", "dlq", "expired", "queued", "in_flight"))
    assert b["offered"] == b["send_throttled"] + b["sent"] == len(r.send)
    # departure is set exactly for the messages that left the queue, and never before they came
    left = np.isin(r.outcome, (MO.DELETED, MO.DLQ, MO.EXPIRED))
    assert np.array_equal(np.isfinite(r.departure), left)
    assert np.all(r.departure[left] >= r.enqueue[left])
    assert np.all(r.departure[left] <= r.horizon)
    assert np.all(np.isfinite(r.delete_time) == (r.outcome == MO.DELETED))
    # received messages were visible first; receive counts and runs agree with the logs
    rec = np.isfinite(r.first_receive)
    assert np.all(r.first_receive[rec] >= r.enqueue[rec] + r.params["delay"] - 1e-9)
    assert np.array_equal(rec, r.receive_count > 0)
    assert np.array_equal(np.bincount(r.run_message, minlength=len(r.send)), r.runs)
    assert r.empty_receives <= r.receives


@SLOW
@given(p=queue_params(), rate=st.floats(0.5, 20.0))
def test_books_balance_and_fifo_invariants(p, rate):
    horizon = 60.0
    t = traffic.poisson(rate, horizon, p["seed"])
    r = sqs.simulate_queue(t, horizon=horizon, **p)
    _check_books(r)
    if p["max_receive_count"] is None:
        assert r.count(MO.DLQ) == 0
    # FIFO order holds while every receive's work fits in its visibility timeout (past it, SQS
    # hands the message to another consumer while the first still works: the documented hazard)
    if p["queue_type"] == "fifo" and np.all(r.busy_end - r.receive_time <= p["visibility_timeout"]):
        g = r.group[r.run_message]
        for k in np.unique(g):
            m = g == k
            idx, s, e = r.run_message[m], r.run_start[m], r.run_end[m]
            # within a group, processing runs start in send order (a retry repeats the same message)
            assert np.all(np.diff(idx) >= 0), (k, idx)
        assert r.duplicates.sum() == 0


@SLOW
@given(seed=st.integers(0, 1000), groups=st.integers(1, 5), cap=st.integers(1, 10), c=st.integers(1, 6),
       p=st.sampled_from([0.0, 0.3]))
def test_fifo_group_never_processed_twice_at_once(seed, groups, cap, c, p):
    """With a visibility timeout longer than any receive's work, a group never has two messages
    held (processed) at once: its processing runs never overlap, and they follow send order."""
    t = traffic.poisson(5.0, 60.0, seed)
    r = sqs.simulate_queue(t, horizon=60.0, consumers=c, queue_type="fifo", groups=groups, max_messages=cap,
                           mean_duration=0.2, visibility_timeout=30, failure_prob=p, max_receive_count=3,
                           seed=seed)
    _check_books(r)
    for k in range(groups):
        m = r.group[r.run_message] == k
        s, e, idx = r.run_start[m], r.run_end[m], r.run_message[m]
        assert np.all(s[1:] >= e[:-1] - 1e-12), k
        assert np.all(np.diff(idx) >= 0), k
    # and the deletes within a group come in send order
    assert r.out_of_order() == 0


@SLOW
@given(seed=st.integers(0, 1000), n_ids=st.integers(1, 30), rate=st.floats(0.05, 2.0))
def test_fifo_duplicates_inside_the_window_are_not_enqueued(seed, n_ids, rate):
    horizon = 2_000.0
    t = traffic.poisson(rate, horizon, seed)
    ids = np.random.default_rng(seed).integers(0, n_ids, len(t))
    r = sqs.simulate_queue(t, horizon=horizon, consumers=4, queue_type="fifo", groups=3, dedup_ids=ids,
                           mean_duration=0.1, seed=seed)
    _check_books(r)
    dd = r.outcome == MO.DEDUPLICATED
    for k in np.unique(ids):
        m = ids == k
        acc = r.enqueue[m & ~dd]
        assert np.all(np.diff(acc) >= sqs.DEDUP_WINDOW_S)            # accepted ones 5 min apart
        for x in r.enqueue[m & dd]:                                  # each dropped one inside a window
            prior = acc[acc <= x]
            assert len(prior) and x - prior[-1] < sqs.DEDUP_WINDOW_S
    # a second send 299 s after the first is dropped, one 300 s after is delivered
    r2 = sqs.simulate_queue([0.0, 299.0, 300.0], horizon=400.0, queue_type="fifo", dedup_ids=[7, 7, 7])
    assert r2.outcome.tolist() == [MO.DELETED, MO.DEDUPLICATED, MO.DELETED]


@SLOW
@given(p=queue_params(), rate=st.floats(0.5, 20.0), rbif=st.booleans(), window=st.sampled_from([0, 1, 5]),
       batch=st.sampled_from([1, 10, 100]), maxc=st.sampled_from([None, 2, 7]))
def test_lambda_books_balance_and_scaling_cap(p, rate, rbif, window, batch, maxc):
    fifo = p["queue_type"] == "fifo"
    if fifo:
        batch, window = min(batch, 10), 0
    if batch > 10 and window < 1:
        window = 1
    horizon = 60.0
    t = traffic.poisson(rate, horizon, p["seed"])
    r = sqs.simulate_lambda_sqs(t, horizon=horizon, queue_type=p["queue_type"], batch_size=batch,
                                batching_window=window, maximum_concurrency=maxc, report_batch_item_failures=rbif,
                                visibility_timeout=p["visibility_timeout"], max_receive_count=p["max_receive_count"],
                                duration_kind=p["duration_kind"], mean_duration=p["mean_duration"] / 10,
                                failure_prob=p["failure_prob"], poison=p["poison"], groups=p["groups"],
                                duplicate_prob=p["duplicate_prob"], servers=p["servers"], seed=p["seed"])
    _check_books(r)
    assert np.all(r.receive_size <= batch)
    grid = np.unique(np.concatenate([r.receive_time, [0.0]]))
    conc = r.concurrency(grid)
    first = r.enqueue[np.isfinite(r.enqueue)].min() if np.isfinite(r.enqueue).any() else 0.0
    # token bucket bound: at most 5 + 5 per second batches ever created after the first message
    assert np.all(conc <= sqs.ESM_INITIAL_BATCHES + 5.0 * np.maximum(grid - first, 0) + 1e-9)
    assert conc.max(initial=0) <= (maxc or sqs.ESM_MAX_CONCURRENCY)
    if fifo and np.all(r.busy_end - r.receive_time <= p["visibility_timeout"]):
        assert conc.max(initial=0) <= p["groups"]       # one batch per active message group


# --- d. timelines by hand ------------------------------------------------------------------------------
def test_poison_message_returns_after_each_visibility_timeout_then_goes_to_dlq():
    """Received at 0, 30, 60 (maxReceiveCount 3): visible again when the third visibility timeout
    ends, at 90 s, and moved to the DLQ by the idle consumer's receive at that instant."""
    r = sqs.simulate_queue([0.0], horizon=200.0, visibility_timeout=30, mean_duration=1.0, poison=[True],
                           max_receive_count=3)
    assert r.outcome[0] == MO.DLQ and r.departure[0] == 90.0
    assert r.run_start.tolist() == [0.0, 30.0, 60.0] and r.receive_count[0] == 3


def test_the_dlq_move_happens_on_the_next_receive_not_when_the_timeout_ends():
    """SQS moves a message to the DLQ when maxReceiveCount is exceeded: on the receive after the
    third one. With the consumers down from 80 s to 150 s that receive comes at 150 s, not when
    the third visibility timeout ends (90 s); with nobody receiving until the end of the run the
    message is still in the queue (the counts differ too)."""
    kw = dict(visibility_timeout=30, mean_duration=1.0, poison=[True], max_receive_count=3)
    late = sqs.simulate_queue([0.0], horizon=200.0, consumer_down=(80.0, 150.0), **kw)
    assert late.outcome[0] == MO.DLQ and late.departure[0] == 150.0 and late.receive_count[0] == 3
    never = sqs.simulate_queue([0.0], horizon=200.0, consumer_down=(80.0, 300.0), **kw)
    assert never.outcome[0] == MO.QUEUED and never.receive_count[0] == 3
    fifo = sqs.simulate_queue([0.0, 0.5], horizon=300.0, queue_type="fifo", visibility_timeout=30, mean_duration=1.0,
                              poison=[True, False], max_receive_count=2, consumer_down=(50.0, 100.0))
    assert fifo.outcome.tolist() == [MO.DLQ, MO.DELETED] and fifo.departure[0] == 100.0
    assert fifo.first_receive[1] == 100.0          # the group's next message, once its head left
    _check_books(late), _check_books(never), _check_books(fifo)


def test_without_dlq_a_poison_message_expires_at_the_retention_period():
    r = sqs.simulate_queue([5.0], horizon=200.0, visibility_timeout=7, mean_duration=1.0, poison=[True],
                           retention=60)
    assert r.outcome[0] == MO.EXPIRED and r.departure[0] == 65.0
    assert r.receive_count[0] == 9                                  # 5, 12, ..., 61


def test_processing_longer_than_visibility_timeout_repeats_until_the_dlq():
    """Processing takes 40 s against a 30 s visibility timeout, two consumers. At 30 s the
    message is visible again and the other consumer receives it; the first consumer's delete at
    40 s carries an outdated receipt handle and does nothing; and so on. Every run succeeds, yet
    the message is never deleted: after its third receive (maxReceiveCount 3) it goes to the DLQ
    at 90 s, while the third run is still going (it ends at 100 s)."""
    r = sqs.simulate_queue([0.0], horizon=200.0, consumers=2, visibility_timeout=30, mean_duration=40.0,
                           max_receive_count=3)
    assert r.run_start.tolist() == [0.0, 30.0, 60.0]
    assert r.outcome[0] == MO.DLQ and r.departure[0] == 90.0 and np.isnan(r.delete_time[0])
    assert r.successes[0] == 3 and r.processed_more_than_once == 1
    ok = sqs.simulate_queue([0.0], horizon=200.0, consumers=2, visibility_timeout=41, mean_duration=40.0,
                            max_receive_count=3)
    assert ok.outcome[0] == MO.DELETED and ok.delete_time[0] == 40.0 and ok.successes[0] == 1


def test_delay_queue_hides_messages():
    r = sqs.simulate_queue([1.0, 2.0], horizon=100.0, delay=15, mean_duration=1.0, wait_time_seconds=20)
    assert r.first_receive.tolist() == [16.0, 17.0]


def test_standard_ordering_and_duplicates_are_the_labelled_mechanism():
    t = traffic.poisson(20.0, 100.0, 1)
    kw = dict(horizon=200.0, consumers=1, mean_duration=0.06, groups=1, max_messages=1)
    assert sqs.simulate_queue(t, servers=1, **kw).out_of_order() == 0
    assert sqs.simulate_queue(t, servers=8, **kw).out_of_order() > 10
    assert sqs.simulate_queue(t, **kw).duplicates.sum() == 0
    dup = sqs.simulate_queue(t, duplicate_prob=0.2, visibility_timeout=5, **kw)
    share = dup.duplicates.sum() / dup.count(MO.DELETED)
    assert 0.15 < share < 0.25                                       # about the 0.2 asked for


def test_short_polling_needs_one_over_f_polls_per_message():
    """Messages far apart, one consumer: the number of receives that find a message is geometric
    with success f (the labelled sampled fraction), so receives per message -> 1 / f. Tolerance:
    3 standard errors of the mean of that geometric count."""
    f = 0.3
    t = np.arange(2_000) * 5.0 + 0.0123
    r = sqs.simulate_queue(t, horizon=10_000.0, consumers=1, wait_time_seconds=0, short_poll_fraction=f,
                           poll_interval=0.1, mean_duration=0.05, seed=3)
    assert r.count(MO.DELETED) == 2_000
    # the first poll after a message arrives comes less than one interval later, so the polls it
    # took (the successful one included) are floor(latency / interval) + 1
    k = np.floor(r.receive_latency() / 0.1 + 1e-6) + 1
    se = math.sqrt((1 - f) / f ** 2) / math.sqrt(len(k))
    assert abs(k.mean() - 1 / f) <= 3 * se, (k.mean(), 1 / f, se)
    # long polling: no empty receive while a message waits, and no added latency
    r2 = sqs.simulate_queue(t, horizon=10_000.0, consumers=1, wait_time_seconds=20, mean_duration=0.05)
    assert np.all(r2.receive_latency() == 0) and r2.empty_receives < r.empty_receives / 50


def test_fifo_call_limit_is_the_shared_token_bucket():
    """1,000 messages/s offered for 10 s: one call per message passes ~300 calls/s; batches of 10
    pass them all (100 calls/s). In any 1 s window at most burst + 300 calls pass."""
    t = traffic.poisson(1_000, 10.0, 4)
    one = sqs.simulate_queue(t, horizon=20.0, consumers=10, queue_type="fifo", groups=100, mean_duration=0.001,
                             retry_mode="none")
    ten = sqs.simulate_queue(t, horizon=20.0, consumers=10, queue_type="fifo", groups=100, mean_duration=0.001,
                             send_batch=10)
    assert ten.count(MO.THROTTLED) == 0 and ten.send_calls == math.ceil(len(t) / 10)
    assert one.send_calls <= sqs.FIFO_CALLS_PER_S + 10.0 * sqs.FIFO_CALLS_PER_S
    acc = np.sort(one.enqueue[np.isfinite(one.enqueue)])
    from labsim.tokenbucket import max_in_window
    assert max_in_window(acc, 1.0) <= sqs.FIFO_CALLS_PER_S + sqs.FIFO_CALLS_PER_S
    _check_books(one)


def test_fifo_refused_sends_are_retried_by_the_sdk_standard_mode():
    """A send the FIFO call limit refused is retried by the producer's SDK (the model's standard
    retry mode): at most 3 attempts, backoff at most 1 s then 2 s, and a retry quota of 500 tokens
    at 5 a retry. Retried messages arrive late (after messages sent after them); with retries off
    the refused sends are lost as before."""
    t = traffic.poisson(500, 3.0, 5)
    kw = dict(horizon=6.0, consumers=10, queue_type="fifo", groups=10, duration_kind="exponential",
              mean_duration=0.01, servers=4, seed=6)
    none = sqs.simulate_queue(t, retry_mode="none", **kw)
    std = sqs.simulate_queue(t, **kw)
    assert std.params["retry_mode"] == "standard"
    assert none.count(MO.THROTTLED) == none.throttled_calls and none.send_retried == 0
    assert 0 < std.count(MO.THROTTLED) < none.count(MO.THROTTLED)
    assert std.send_retried > 0 and std.sent == none.sent + (none.count(MO.THROTTLED) - std.count(MO.THROTTLED))
    assert std.send_attempts.max() == sqs.SDK_MAX_ATTEMPTS
    assert np.all(std.send_delay() > 0) and std.send_delay().max() <= 1.0 + 2.0
    # every refused attempt is a billed request; the lost ones made 3 attempts or found the quota spent
    assert std.throttled_calls == int((std.send_attempts - 1).sum()) + std.count(MO.THROTTLED)
    assert std.out_of_order() > 0 == none.out_of_order()
    _check_books(std)
    # the quota: a long overload drains it, and then a refused send is lost at its first attempt
    long = sqs.simulate_queue(traffic.poisson(1_000, 20.0, 1), horizon=30.0, consumers=10, queue_type="fifo",
                              groups=50, mean_duration=0.001, seed=2)
    lost = long.outcome == MO.THROTTLED
    assert np.any(lost & (long.send_attempts == 1)) and np.any(lost & (long.send_attempts == 3))


# --- e. the Lambda mapping ---------------------------------------------------------------------------
def test_the_mapping_is_bounded_by_the_function_concurrency():
    """AWS: the mapping does not account for reserved concurrency; invocations beyond it are
    throttled and the throttled batch's messages come back after the visibility timeout, the
    receive counted toward maxReceiveCount. MaximumConcurrency at or below the reservation avoids
    throttles. Without a reservation the bound is the unreserved pool (account quota minus every
    reservation)."""
    t = np.sort(traffic.make_rng(7).uniform(0.0, 5.0, 3_000))
    kw = dict(horizon=120.0, mean_duration=0.5, visibility_timeout=30, max_receive_count=2, seed=8)
    g = np.linspace(0.0, 120.0, 481)
    thr = sqs.simulate_lambda_sqs(t, reserved_concurrency=10, **kw)
    assert thr.concurrency(g).max() == 10 and len(thr.throttle_time) > 100
    assert thr.params["function_concurrency"] == 10
    assert thr.count(MO.DLQ) > 0 and np.all(thr.runs[thr.outcome == MO.DLQ] < 2)   # throttles used up receives
    assert np.any(thr.receive_count > thr.runs)
    _check_books(thr)
    capped = sqs.simulate_lambda_sqs(t, reserved_concurrency=10, maximum_concurrency=10, **kw)
    assert len(capped.throttle_time) == 0 and capped.count(MO.DLQ) == 0
    assert capped.count(MO.DELETED) > thr.count(MO.DELETED)
    pool = sqs.simulate_lambda_sqs(t, account_concurrency=300, other_reserved=200, **kw)   # 300 - 200 = 100
    assert pool.params["function_concurrency"] == 100 and pool.concurrency(g).max() == 100
    assert len(pool.throttle_time) > 0
    big = sqs.simulate_lambda_sqs(t, **kw)
    assert big.params["function_concurrency"] == sqs.DEFAULT_ACCOUNT_CONCURRENCY and len(big.throttle_time) == 0


def test_a_function_timeout_above_the_visibility_timeout_is_refused():
    with pytest.raises(ValueError, match=r"function_timeout=31 s is longer than visibility_timeout=30 s.*6 times"):
        sqs.simulate_lambda_sqs([0.0], horizon=10.0, visibility_timeout=30, function_timeout=31)
    r = sqs.simulate_lambda_sqs([0.0], horizon=10.0, visibility_timeout=30, function_timeout=30)
    assert r.params["function_timeout"] == 30
    with pytest.raises(ValueError, match="reserved_concurrency=901"):
        sqs.simulate_lambda_sqs([0.0], horizon=10.0, reserved_concurrency=901)


def test_the_mapping_scales_down_after_errors_the_labelled_assumption():
    """With scale_down=0 the mapping never scales down (the old model); with the default, every
    failed batch retires a poller, so a failing function reaches a lower peak concurrency."""
    t = np.sort(traffic.make_rng(7).uniform(0.0, 5.0, 3_000))
    kw = dict(horizon=120.0, mean_duration=0.5, visibility_timeout=30, max_receive_count=5, failure_prob=0.2, seed=8)
    g = np.linspace(0.0, 120.0, 481)
    never = sqs.simulate_lambda_sqs(t, scale_down=0, **kw)
    down = sqs.simulate_lambda_sqs(t, **kw)
    assert down.params["scale_down"] == sqs.DEFAULT_SCALE_DOWN == 1
    assert down.concurrency(g).max() < 0.8 * never.concurrency(g).max()
    ok = sqs.simulate_lambda_sqs(t, **(kw | dict(failure_prob=0.0)))
    assert ok.concurrency(g).max() == sqs.simulate_lambda_sqs(t, scale_down=0, **(kw | dict(failure_prob=0.0))).concurrency(g).max()


def test_without_partial_batch_responses_one_poison_message_takes_its_batch_to_the_dlq():
    """Ten messages in one batch, one poison, maxReceiveCount 2: without ReportBatchItemFailures
    the whole batch fails twice and all ten go to the queue's DLQ; with it, nine are deleted."""
    t = np.zeros(10)
    pois = np.zeros(10, bool)
    pois[3] = True
    kw = dict(horizon=300.0, batch_size=10, visibility_timeout=30, max_receive_count=2, poison=pois,
              mean_duration=0.1)
    whole = sqs.simulate_lambda_sqs(t, **kw)
    part = sqs.simulate_lambda_sqs(t, report_batch_item_failures=True, **kw)
    assert whole.count(MO.DLQ) == 10 and whole.runs.sum() == 20
    assert part.count(MO.DLQ) == 1 and part.count(MO.DELETED) == 9 and part.runs.sum() == 11


def test_batching_window_holds_a_partial_batch():
    r = sqs.simulate_lambda_sqs([1.0, 2.0, 3.0], horizon=60.0, batch_size=100, batching_window=10)
    assert r.receive_time.tolist() == [11.0] and r.receive_size.tolist() == [3]
    full = sqs.simulate_lambda_sqs(np.linspace(1.0, 2.0, 100), horizon=60.0, batch_size=100, batching_window=10)
    assert full.receive_time[0] == 2.0                                  # closes when full


def test_payload_cap_closes_batches_at_6_mb():
    t = np.zeros(50)
    r = sqs.simulate_lambda_sqs(t, horizon=60.0, batch_size=100, batching_window=1, message_size=1_048_576)
    assert r.receive_size.max() == 6


def test_scaling_ramp_5_then_300_per_minute():
    """A backlog of 100,000 messages of 1 s: 5 batches at once, then 300 more per minute."""
    t = np.zeros(100_000)
    r = sqs.simulate_lambda_sqs(t, horizon=61.0, batch_size=1, mean_duration=1.0)
    c = r.concurrency(np.array([0.0, 30.0, 60.0]))
    assert c.tolist() == [5, 155, 305]
    capped = sqs.simulate_lambda_sqs(t[:20_000], horizon=61.0, batch_size=1, mean_duration=1.0,
                                     maximum_concurrency=50)
    assert capped.concurrency(np.array([60.0]))[0] == 50


# --- f. bad input: AWS's own limits -------------------------------------------------------------------
BAD_QUEUE = [
    (dict(visibility_timeout=43_201), "visibility_timeout", 43_201, "43,200"),
    (dict(wait_time_seconds=21), "wait_time_seconds", 21, "20"),
    (dict(delay=901), "delay", 901, "900"),
    (dict(max_receive_count=0), "max_receive_count", 0, "1,000"),
    (dict(max_receive_count=1_001), "max_receive_count", 1_001, "1,000"),
    (dict(groups=0, queue_type="fifo"), "groups", 0, "1"),
    (dict(max_messages=11), "max_messages", 11, "10"),
    (dict(retention=59), "retention", 59, "1,209,600"),
    (dict(send_batch=11), "send_batch", 11, "10"),
]
BAD_LAMBDA = [
    (dict(batch_size=10_001), "batch_size", 10_001, "10,000"),
    (dict(batch_size=11, queue_type="fifo"), "batch_size", 11, "10"),
    (dict(batching_window=5, queue_type="fifo"), "batching_window", 5, "FIFO"),
    (dict(batch_size=11, batching_window=0), "batching_window", 0, "at least 1"),
    (dict(batching_window=301), "batching_window", 301, "300"),
    (dict(maximum_concurrency=1), "maximum_concurrency", 1, "1,000"),
    (dict(maximum_concurrency=1_001), "maximum_concurrency", 1_001, "1,000"),
    (dict(visibility_timeout=50_000), "visibility_timeout", 50_000, "43,200"),
]


@pytest.mark.parametrize("kw,name,value,allowed", BAD_QUEUE, ids=[c[1] + "-" + str(c[2]) for c in BAD_QUEUE])
def test_queue_rejects_bad_parameters(kw, name, value, allowed):
    with pytest.raises(ValueError, match=rf"{name}={value_re(value)}.*{re.escape(allowed)}"):
        sqs.simulate_queue([0.0], horizon=10.0, **kw)


@pytest.mark.parametrize("kw,name,value,allowed", BAD_LAMBDA, ids=[c[1] + "-" + str(c[2]) for c in BAD_LAMBDA])
def test_lambda_mapping_rejects_bad_parameters(kw, name, value, allowed):
    with pytest.raises(ValueError, match=rf"{name}={value_re(value)}.*{re.escape(allowed)}"):
        sqs.simulate_lambda_sqs([0.0], horizon=10.0, **kw)


def test_limits_themselves_are_allowed():
    sqs.simulate_queue([0.0], horizon=10.0, visibility_timeout=43_200, wait_time_seconds=20, delay=900,
                       max_receive_count=1_000, max_messages=10)
    sqs.simulate_lambda_sqs([0.0], horizon=10.0, batch_size=10_000, batching_window=1, maximum_concurrency=1_000)
    sqs.simulate_lambda_sqs([0.0], horizon=10.0, batch_size=10, queue_type="fifo", maximum_concurrency=2)


def test_same_seed_same_result():
    t = traffic.poisson(5.0, 60.0, 1)
    kw = dict(horizon=60.0, consumers=3, wait_time_seconds=0, failure_prob=0.2, servers=3, duplicate_prob=0.1,
              max_receive_count=2, visibility_timeout=2, duration_kind="exponential", seed=5)
    a, b = sqs.simulate_queue(t, **kw), sqs.simulate_queue(t, **kw)
    for name in ("outcome", "first_receive", "run_start", "departure"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True)
    assert a.receives == b.receives


# --- g. the shared flow panel ----------------------------------------------------------------------
def test_sqs_outcomes_feed_the_shared_flow_panel_and_balance():
    from labsim import plots
    r = sqs.simulate_queue(traffic.poisson(1_000, 3.0, 1), horizon=4.0, queue_type="fifo", groups=5,
                           consumers=5, mean_duration=0.01)
    out = plots.sqs_outcomes(r.books(), fifo=True)
    assert [o[0] for o in out][:2] == ["send throttled", "deduplicated"]
    assert sum(n for _, n, _ in out) == r.offered and r.count(MO.THROTTLED) > 0
    fig, ax = plots.figure()
    plots.sqs_flow(ax, r)                                           # raises if the books do not balance
    assert f"sent: {r.offered:,}" in " ".join(t.get_text() for t in ax.texts)


# --- hostile input found by the sweep (issue 9): each is refused by name -----------------------------
def test_processing_time_parameters_are_named_not_traffics_mean_and_cv():
    for kw, name in ((dict(mean_duration=math.nan), "mean_duration"), (dict(duration_cv=0), "duration_cv")):
        with pytest.raises(ValueError, match=rf"^{name}="):
            sqs.simulate_queue([1.0], horizon=10.0, duration_kind="lognormal", **kw)
        with pytest.raises(ValueError, match=rf"^{name}="):
            sqs.simulate_lambda_sqs([1.0], horizon=10.0, duration_kind="lognormal", **kw)


def test_a_send_after_a_tiny_horizon_names_the_horizon():
    with pytest.raises(ValueError, match=r"horizon=1e-06 s"):
        sqs.simulate_queue([0.5, 1.0], horizon=1e-6)


def test_drain_loop_validates_like_drain():
    for bad in ([1.0, math.nan], None, 3.0):
        with pytest.raises(ValueError, match="arrivals"):
            sqs.drain_loop(bad, [1.0, 1.0], 1)
    for c in (0, True, math.inf):
        with pytest.raises(ValueError, match="consumers="):
            sqs.drain_loop([1.0], [1.0], c)
    with pytest.raises(ValueError, match="arrivals"):            # a length mismatch names both
        sqs.drain([1.0], [1.0, 2.0], 1)


def test_group_ids_checks_n_and_rng_even_with_one_group():
    with pytest.raises(ValueError, match="^rng="):
        sqs.group_ids(5, 1, "abc")
    with pytest.raises(ValueError, match="^n="):
        sqs.group_ids(1e12, 3, 0)


def test_esm_concurrency_cap_refuses_nan_times_and_a_bad_maximum():
    with pytest.raises(ValueError, match="^t has a value that is not finite"):
        sqs.esm_concurrency_cap([1.0, math.nan])
    with pytest.raises(ValueError, match="^maximum_concurrency="):
        sqs.esm_concurrency_cap(10.0, math.nan)
    assert sqs.esm_concurrency_cap(0.0, 2) == 2 and sqs.esm_concurrency_cap(np.float64(60.0)) == 305


def test_mmc_replications_never_returns_nan_and_names_c():
    with pytest.raises(ValueError, match="^c=0 "):
        sqs.mmc_replications(0, 0.5, 200, 2)
    with pytest.raises(ValueError, match="^messages=1 "):          # a replication of one message kept none
        sqs.mmc_replications(10, 5.0, 1, 2)
    with pytest.raises(ValueError, match="messages=200, load=1e-300"):   # rate 0: an endless replication
        sqs.mmc_replications(10, 1e-300, 200, 2)
    with pytest.raises(ValueError, match="^reps=100 .*2,000,000"):       # messages x reps bounds the CPU
        sqs.mmc_replications(10, 5.0, 100_000, 100)
    with pytest.raises(ValueError, match=r"^reps=1,001 .*allowed 2 to 1,000"):   # each replication costs ~0.3 ms
        sqs.mmc_replications(10, 5.0, 200, 1_001)
    assert np.isfinite(sqs.mmc_replications(10, 5.0, 100, 2, warmup_share=0.5)).all()


def test_group_ids_out_of_range_are_refused_before_allocating_a_list_per_group():
    with pytest.raises(ValueError, match="^group has a value out of range"):
        sqs.simulate_queue([1.0, 2.0], horizon=10.0, queue_type="fifo", group=[0, 1e9])
    with pytest.raises(ValueError, match="^poison must be"):
        sqs.simulate_queue([1.0, 2.0], horizon=10.0, poison=[1.0, math.nan])


def test_an_endless_short_polling_run_is_refused_by_horizon(monkeypatch):
    monkeypatch.setattr(sqs, "MAX_LOOP_EVENTS", 1_000)
    with pytest.raises(ValueError, match=r"^horizon=86,?400 s is out of reach.*poll_interval"):
        sqs.simulate_queue([1.0], horizon=86_400.0, wait_time_seconds=0, servers=100, short_poll_fraction=1e-9,
                           poll_interval=0.001)


def test_the_sqs_lab_models_check_their_controls_by_name():
    from labsim.labs import sqs as lab
    with pytest.raises(ValueError, match="^quiet_share=nan"):              # was accepted: no message at all
        lab.polling_model(0, 5, math.nan, 0.5)
    with pytest.raises(ValueError, match="^max_receive_count=None"):       # was taken as "no DLQ"
        lab.visibility_model(20, 30, None, 0.02)
    with pytest.raises(ValueError, match="^batch_size='abc'"):             # was a TypeError
        lab.lambda_sqs_model("abc", 0, 0, False, 0.0)


def test_polling_lab_text_with_nothing_processed_says_so(monkeypatch):
    """The summary divides by messages processed and averages latencies: with none it says so
    in words instead of dividing by a stand-in 1 or printing nan."""
    from labsim.labs import sqs as lab_sqs
    lab = lab_sqs.polling_lab()
    values = lab.values()
    r = lab.result
    _, text = lab.view(r, **values)
    assert "requests per million messages processed" in text and "mean <b>" in text
    monkeypatch.setattr(type(r), "count", lambda *a, **k: 0)
    monkeypatch.setattr(type(r), "receive_latency", lambda self: np.array([]))
    monkeypatch.setattr(lab_sqs.plots, "polling_figure", lambda r: None)   # its books would not balance
    _, text = lab.view(r, **values)
    assert "no message processed" in text and "no message received" in text and "nan" not in text
