"""Kinesis Data Streams model: exact routing with the real MD5, hash-key ranges through splits and
merges, the shard write limits as token buckets (records and bytes: never more than b + r t in
any window), per-key ordering under any ParallelizationFactor, the books, a poison record, the
consumers' throughput and latency, and named errors for bad parameters.

Also the weighted / joint token bucket that the byte limit needs (``labsim.tokenbucket``): exact
against a plain loop over explicit token levels in exact rational arithmetic."""

import bisect
import hashlib
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from labsim import kinesis as k, theory, tokenbucket as tb, traffic
from labsim.kinesis import Fate
from tests.helpers import value_re

SPACE = 2 ** 128


# --- the weighted / joint token bucket ------------------------------------------------------------
def dyadic_arrivals(seed, n, horizon_ticks, tick=64):
    """Arrival times on a grid of 1/64 s (exact in binary floating point), with ties."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.integers(0, horizon_ticks, n)) / tick


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(0, 300), rate_exp=st.integers(-2, 5),
       burst=st.integers(1, 40), wmax=st.integers(1, 8), fill=st.one_of(st.none(), st.integers(0, 40)))
def test_weighted_bucket_equals_explicit_token_levels(seed, n, rate_exp, burst, wmax, fill):
    """admit_weighted (GCRA form, floats) against explicit token levels in exact fractions."""
    t = dyadic_arrivals(seed, n, 64 * 20)
    rate = 2.0 ** rate_exp
    w = np.random.default_rng(seed + 1).integers(1, min(wmax, burst) + 1, n).astype(float)
    initial = None if fill is None else float(min(fill, burst))
    fast = tb.admit_weighted(t, w, rate, burst, initial)
    ref = tb.admit_all_loop([Fraction(x) for x in t.tolist()],
                            [([Fraction(int(x)) for x in w], Fraction(rate), Fraction(burst),
                              None if initial is None else Fraction(initial))])
    assert fast.tolist() == ref


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(0, 300), r1=st.integers(-1, 4), r2=st.integers(1, 7),
       b1=st.integers(1, 20), b2=st.integers(8, 200), wmax=st.integers(1, 8))
def test_joint_buckets_equal_explicit_token_levels(seed, n, r1, r2, b1, b2, wmax):
    """A record must pass a records bucket AND a bytes bucket; a refused one takes from neither."""
    t = dyadic_arrivals(seed, n, 64 * 10)
    w = np.random.default_rng(seed + 2).integers(1, wmax + 1, n).astype(float)
    fast = tb.admit_all(t, [(None, 2.0 ** r1, b1), (w, 2.0 ** r2, b2)])
    ref = tb.admit_all_loop([Fraction(x) for x in t.tolist()],
                            [(None, Fraction(2.0 ** r1), Fraction(b1)),
                             ([Fraction(int(x)) for x in w], Fraction(2.0 ** r2), Fraction(b2))])
    assert fast.tolist() == ref


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), lam=st.floats(1, 80), rate=st.floats(0.5, 30), burst=st.integers(1, 60))
def test_unit_weights_give_the_plain_bucket(seed, lam, rate, burst):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 20, rng.poisson(lam * 20)))
    assert np.array_equal(tb.admit_weighted(t, np.ones(len(t)), rate, burst), tb.admit(t, rate, burst))


def test_weighted_bucket_can_refuse_and_the_reference_can_tell():
    """A bucket of 10 tokens at 1/s: weights 6, 6 at t = 0 -> the second is refused (4 left);
    at t = 2 there are 6 again. A loop that ignored weights would admit both."""
    t = np.array([0.0, 0.0, 2.0])
    w = np.array([6.0, 6.0, 6.0])
    assert tb.admit_weighted(t, w, 1.0, 10).tolist() == [True, False, True]
    assert tb.admit(t, 1.0, 10).tolist() == [True, True, True]


@pytest.mark.parametrize("kw,name", [(dict(weights=[1.0]), "weights"), (dict(weights=[0.0, 1.0]), "weights"),
                                     (dict(weights=[1.0, 11.0]), "weights"), (dict(rate=0.0), "rate")])
def test_weighted_bucket_bad_parameters(kw, name):
    args = dict(arrivals=[0.0, 1.0], weights=[1.0, 1.0], rate=1.0, burst=10) | kw
    with pytest.raises(ValueError, match=name):
        tb.admit_weighted(**args)


# --- routing -------------------------------------------------------------------------------------------
def python_route(h: int, ranges) -> int:
    """The reference: full 128-bit Python integers and bisect over the ranges' starts."""
    return bisect.bisect_right([a for a, _ in ranges], h) - 1


def halves(hs):
    return (np.array([h >> 64 for h in hs], np.uint64), np.array([h & (2 ** 64 - 1) for h in hs], np.uint64))


def test_even_split_is_what_a_new_stream_gets():
    for n in (1, 2, 3, 4, 7, 10, 1000):
        r = k.even_split(n)
        q = SPACE // n
        assert [a for a, _ in r] == [i * q for i in range(n)] and r[-1][1] == SPACE - 1
        k.check_ranges(r)
    assert k.even_split(2) == ((0, 2 ** 127 - 1), (2 ** 127, SPACE - 1))


def test_md5_routing_matches_full_128_bit_python_routing():
    """Real MD5 of 20,000 keys (strings and whole numbers) through the uint64-halves router
    against full 128-bit Python-int routing, for several shard counts."""
    keys = np.arange(20_000)
    skeys = np.array([f"customer-{i}" for i in range(5_000)])
    for n in (1, 2, 3, 5, 8, 13, 1000):
        r = k.even_split(n)
        got = k.route(keys, r)
        assert got.tolist() == [python_route(int.from_bytes(hashlib.md5(str(i).encode()).digest(), "big"), r)
                                for i in range(20_000)]
        assert k.route(skeys, r).tolist() == [python_route(k.md5_hash_key(s), r) for s in skeys.tolist()]
    assert k.md5_hash_key("") == int("d41d8cd98f00b204e9800998ecf8427e", 16)        # MD5 of the empty string


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 2 ** 32 - 1), seed=st.integers(0, 2 ** 32 - 1))
def test_halves_router_is_exact_at_every_even_split_boundary(n, seed):
    """For any even split of fewer than 2^32 shards (n up to 2^32 - 1): hashes exactly on, just
    below and just above shard boundaries, plus random ones, route as full 128-bit integers do.
    The ranges are built lazily: only a few boundaries are checked per draw."""
    rng = np.random.default_rng(seed)
    q = SPACE // n
    idx = sorted({0, n - 1, *rng.integers(0, n, 5).tolist()})
    hs = []
    for i in idx:
        s = i * q
        hs += [s, max(s - 1, 0), s + 1, min(s + q - 1, SPACE - 1)]
    hs += [int.from_bytes(rng.bytes(16), "big") for _ in range(20)]
    hi, lo = halves(hs)
    # the router needs all boundaries only for the shards these hashes can fall in: check the
    # formula i = min(h // q, n - 1) (the even split) against the halves comparison on a
    # range list holding the boundaries that matter
    want = [min(h // q, n - 1) for h in hs]                    # the even split's shard, by formula
    near = sorted(set(want) | {i + 1 for i in want if i + 1 < n})
    starts = [0] + [i * q for i in near if i > 0]              # contiguous ranges whose starts are
    ends = [s - 1 for s in starts[1:]] + [SPACE - 1]           # the even split's starts that matter
    ranges_sub = tuple(zip(starts, ends))
    got = k.route_hashes(hi, lo, ranges_sub)
    ref = [python_route(h, ranges_sub) for h in hs]
    assert got.tolist() == ref
    # and the sub-range index maps back to the even-split shard the formula gives
    shard_of_start = [0] + [i for i in near if i > 0]
    assert [shard_of_start[g] for g in got.tolist()] == want


def ops_strategy():
    return st.lists(st.tuples(st.sampled_from(["split", "merge", "update"]), st.integers(0, 10 ** 6),
                              st.integers(0, 2 ** 128 - 1)), max_size=25)


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 12), ops=ops_strategy(), seed=st.integers(0, 2 ** 32 - 1))
def test_ranges_cover_the_space_through_splits_and_merges(n, ops, seed):
    """No gap, no overlap before and after any sequence of SplitShard (anywhere inside a range),
    MergeShards (adjacent) and UpdateShardCount; routing stays exact on the new ranges."""
    r = k.even_split(n)
    rng = np.random.default_rng(seed)
    for op, i, h in ops:
        if op == "split":
            j = i % len(r)
            a, b = r[j]
            if a == b:
                continue
            at = a + 1 + h % (b - a)
            r = k.split_shard(r, j, at)
            assert r[j] == (a, at - 1) and r[j + 1] == (at, b)
        elif op == "merge" and len(r) > 1:
            j = i % (len(r) - 1)
            r = k.merge_shards(r, j)
        elif op == "update":
            r = k.update_shard_count(r, 1 + i % 12)
        # coverage, checked directly (not only through check_ranges)
        assert r[0][0] == 0 and r[-1][1] == SPACE - 1
        assert all(r[x + 1][0] == r[x][1] + 1 and r[x][0] <= r[x][1] for x in range(len(r) - 1))
        assert sum(b - a + 1 for a, b in r) == SPACE
        k.check_ranges(r)
    hs = [int.from_bytes(rng.bytes(16), "big") for _ in range(30)] + [a for a, _ in r] + [b for _, b in r]
    hi, lo = halves(hs)
    assert k.route_hashes(hi, lo, r).tolist() == [python_route(h, r) for h in hs]


def test_check_ranges_catches_gaps_and_overlaps():
    r = k.even_split(4)
    gap = (r[0], (r[1][0] + 1, r[1][1])) + r[2:]
    over = (r[0], (r[1][0] - 1, r[1][1])) + r[2:]
    with pytest.raises(ValueError, match="gap"):
        k.check_ranges(gap)
    with pytest.raises(ValueError, match="overlap"):
        k.check_ranges(over)
    with pytest.raises(ValueError, match="2\\^128"):
        k.check_ranges(r[:-1])


# --- write limits ------------------------------------------------------------------------------------------
def window_ok(times, weights, window, rate, burst):
    bound = theory.token_bucket_max_passed(rate, burst, window)
    got = tb.max_in_window(times, window) if weights is None else tb.max_weight_in_window(times, weights, window)
    return got <= bound * (1 + 1e-9)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), rate=st.floats(200, 4_000), shards=st.integers(1, 4),
       size=st.sampled_from([100, 700, 1_024, 3_000, 20_000]), kind=st.sampled_from(k.KEY_KINDS),
       window=st.floats(0.01, 3.0), burst_s=st.floats(1.0, 3.0))
def test_a_shard_never_takes_more_than_b_plus_rt(seed, rate, shards, size, kind, window, burst_s):
    """Records AND bytes accepted by each shard in any window t: at most b + r t."""
    t = traffic.poisson(rate, 4.0, seed)
    keys = k.make_keys(kind, len(t), 50, 0.6 if kind != "uniform" else 0.0, seed)
    sizes = np.random.default_rng(seed).integers(size // 2, size + 1, len(t))
    r = k.simulate_stream(t, keys, sizes, shards, burst_seconds=burst_s, horizon=4.0)
    for s in range(shards):
        m = (r.shard == s) & r.accepted
        assert window_ok(r.arrival[m], None, window, 1_000, round(1_000 * burst_s))
        assert window_ok(r.arrival[m], r.size[m], window, k.MB, k.MB * burst_s)


def test_the_bound_is_reached_and_throttles_are_named():
    """A flood of small records on one shard: exactly b + r t = 1,000 + 1,000 in 1 s pass."""
    t = np.linspace(0, 3, 30_001)
    r = k.simulate_stream(t, np.zeros(len(t), int), 100, 1, horizon=3.1)
    assert tb.max_in_window(r.arrival[r.accepted], 1.0) == 2_000
    assert r.count(Fate.THROTTLED) == len(t) - r.accepted.sum() > 0


def test_one_hot_key_is_capped_by_one_shard_whatever_the_shard_count():
    """2,000 records/s of one key: about 1,000/s pass with 1 shard and with 64 shards alike."""
    t = traffic.poisson(2_000, 20.0, 5)
    for n in (1, 64):
        r = k.simulate_stream(t, np.full(len(t), 7), 200, n, horizon=20.0)
        assert len(np.unique(r.shard)) == 1
        rate = r.accepted.sum() / 20.0
        assert 1_000 <= rate <= 1_000 + 1_000 / 20.0 + 1e-9     # r + b / horizon at most


def test_long_run_throttled_fraction_is_one_minus_r_over_lambda():
    """A single shard under steady Poisson load lambda = 1,500/s of small records: refused share
    1 - 1,000/1,500 after the bucket drains; 30 replications, within 3 standard errors."""
    fr = []
    for seed in range(30):
        t = traffic.poisson(1_500, 30.0, seed)
        r = k.simulate_stream(t, np.zeros(len(t), int), 100, 1, horizon=30.0)
        m = t >= 5.0                                           # 1,000 tokens drain in 2 s
        fr.append(1 - r.accepted[m].mean())
    est, se = np.mean(fr), np.std(fr, ddof=1) / math.sqrt(len(fr))
    want = theory.token_bucket_rejected_fraction(1_000, 1_500)
    assert abs(est - want) <= 3 * se and se < 0.01 * want, (est, want, se)


def test_the_byte_limit_binds_for_large_records():
    """5 KiB records at 600/s on one shard: 3 MiB/s offered, about 1 MiB/s (204.8/s) accepted."""
    t = traffic.poisson(600, 30.0, 1)
    r = k.simulate_stream(t, np.zeros(len(t), int), 5 * 1024, 1, horizon=30.0)
    acc = r.accepted.sum() / 30.0
    assert abs(acc - k.MB / 5120) <= k.MB / 5120 / 30 + 1 and acc < 250


# --- ordering, books, poison record ---------------------------------------------------------------------
def esm_case(seed, pf, bisect_, retries, age, window, dest, rate=30.0, horizon=200.0, nkeys=40, nbad=3,
             size=1_000, batch=100):
    rng = np.random.default_rng(seed)
    t = traffic.poisson(rate, horizon * 0.8, seed)
    keys = k.make_keys("zipf", len(t), nkeys, 1.0, seed)
    bad = np.zeros(len(t), bool)
    if len(t):
        bad[rng.integers(0, len(t), nbad)] = True
    return k.simulate_stream(t, keys, size, 3, lambda_consumer=True, parallelization_factor=pf, bisect=bisect_,
                             max_retry_attempts=retries, max_record_age=age, batching_window=window,
                             destination=dest, bad=bad, horizon=horizon, batch_size=batch)


esm_params = dict(seed=st.integers(0, 2 ** 32 - 1), pf=st.integers(1, 10), bisect_=st.booleans(),
                  retries=st.sampled_from([-1, 0, 1, 3, 50]), age=st.sampled_from([-1, 60, 61, 100]),
                  window=st.sampled_from([0.0, 0.5, 3.0]), dest=st.sampled_from(k.DESTINATIONS))


@settings(max_examples=60, deadline=None)
@given(**esm_params)
def test_order_within_a_partition_key_is_put_order_for_any_parallelization_factor(seed, pf, bisect_, retries,
                                                                                  age, window, dest):
    r = esm_case(seed, pf, bisect_, retries, age, window, dest)
    for key in np.unique(r.key):
        m = np.nonzero((r.key == key) & r.accepted)[0]            # put order (arrival order)
        done = m[r.fate[m] == Fate.PROCESSED]
        # processing order: the run that processed each record starts and ends in put order
        assert np.all(np.diff(r.finish[done]) >= 0)
        fin = r.finish[m]
        assert np.all(np.diff(fin[np.isfinite(fin)]) >= 0)        # every fate reached in put order
        assert np.all(np.isinf(fin[np.argmax(np.isinf(fin)):])) if np.isinf(fin).any() else True
        assert len(np.unique(r.lane[m])) <= 1 and len(np.unique(r.shard[m])) == 1


@settings(max_examples=60, deadline=None)
@given(**esm_params)
def test_books_balance_and_fates_are_consistent(seed, pf, bisect_, retries, age, window, dest):
    r = esm_case(seed, pf, bisect_, retries, age, window, dest)
    b = r.books()
    assert b["sent"] == len(r.arrival) == sum(r.count(f) for f in Fate)
    assert r.count(Fate.THROTTLED) == (~r.accepted).sum()
    assert (r.count(Fate.DISCARDED) == 0) if dest != "none" else (r.count(Fate.DESTINATION) == 0)
    ok = r.fate == Fate.PROCESSED
    assert not (ok & r.bad).any()                                  # a bad record is never processed
    assert np.all(r.finish[ok] <= r.horizon) and np.all(np.isinf(r.finish[r.fate == Fate.PENDING]))
    assert np.all(r.attempts[ok] >= 1)
    if retries >= 0 and not bisect_:
        assert r.attempts.max(initial=0) <= retries + 1
    assert np.all(r.start[ok] >= r.arrival[ok]) and np.all(r.finish[ok] > r.start[ok])


@settings(max_examples=60, deadline=None)
@given(**esm_params)
def test_the_lanes_fast_loop_makes_the_decisions_of_its_event_methods(seed, pf, bisect_, retries, age, window, dest):
    """``_Lane.run`` inlines the common events (a batch closes, a clean batch succeeds); played one
    event method at a time (``run_by_events``), or by the event loop that shares the function's
    concurrency when it has enough for every lane, every record gets the same start, finish,
    attempts and fate, bit for bit."""
    big = dict(size=60_000, batch=200) if seed % 2 else {}         # 200 x 60 kB: the 6 MB closes batches
    fast = esm_case(seed, pf, bisect_, retries, age, window, dest, nbad=int(seed % 4), **big)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(k._Lane, "run", k._Lane.run_by_events)
        ref = esm_case(seed, pf, bisect_, retries, age, window, dest, nbad=int(seed % 4), **big)
    with pytest.MonkeyPatch.context() as mp:                      # one event loop, never short of concurrency
        mp.setattr(k, "_run_lanes", k._share_concurrency)
        shared = esm_case(seed, pf, bisect_, retries, age, window, dest, nbad=int(seed % 4), **big)
    assert shared.throttles == 0
    for f in ("start", "finish", "attempts", "fate"):
        assert np.array_equal(getattr(fast, f), getattr(ref, f), equal_nan=True), f
        assert np.array_equal(getattr(fast, f), getattr(shared, f), equal_nan=True), f


def poison(**kw):
    t = traffic.poisson(20, 300.0, 3)
    keys = k.make_keys("uniform", len(t), 1_000, 0.0, 4)
    bad = np.zeros(len(t), bool)
    i = int(np.searchsorted(t, 30.0))
    bad[i] = True
    base = dict(lambda_consumer=True, bad=bad, batching_window=1.0, horizon=300.0)
    return k.simulate_stream(t, keys, 1_024, 4, **(base | kw)), i


def test_a_poison_record_blocks_its_shard_until_retries_or_age_release_it():
    grid = np.linspace(0, 300, 601)
    r, i = poison()                                                # defaults: -1 and -1: blocked
    age = r.iterator_age(grid)
    s = r.shard[i]
    others = np.delete(np.arange(4), s)
    assert r.fate[i] == Fate.PENDING and age[s, -1] > 260 and age[others].max() < 5
    behind = (r.shard == s) & (r.arrival > r.arrival[i])
    assert (r.fate[behind] == Fate.PENDING).all()                  # everything behind it waits
    r2, _ = poison(max_retry_attempts=2)
    assert r2.fate[i] == Fate.DESTINATION and r2.attempts[i] == 3 and r2.iterator_age(grid)[s].max() < 5
    r3, _ = poison(max_record_age=60)
    a3 = r3.iterator_age(grid)[s]
    assert r3.fate[i] == Fate.DESTINATION and 58 <= a3.max() <= 61 + 1 and a3[-1] < 5
    assert 60 < r3.finish[i] - r3.arrival[i] <= 61


def test_bisect_sends_only_the_bad_record_away_and_alone_does_not_unblock():
    r, i = poison(max_retry_attempts=2)
    batch = r.fate == Fate.DESTINATION
    assert batch.sum() > 1                                         # the whole batch is skipped
    rb, _ = poison(max_retry_attempts=2, bisect=True)
    assert (rb.fate == Fate.DESTINATION).sum() == 1 and rb.fate[i] == Fate.DESTINATION
    assert (rb.fate[batch & ~rb.bad] == Fate.PROCESSED).all()
    ri, _ = poison(bisect=True)                                    # infinite retries: still blocked
    assert ri.fate[i] == Fate.PENDING and ri.iterator_age([300.0])[ri.shard[i], 0] > 260


def test_parallelization_factor_confines_the_block_to_the_bad_records_lane():
    r1, i = poison()
    r10, _ = poison(parallelization_factor=10)
    s = r1.shard[i]
    pend1 = (r1.fate == Fate.PENDING) & (r1.shard == s)
    pend10 = (r10.fate == Fate.PENDING) & (r10.shard == s)
    assert pend10.sum() < pend1.sum() / 4
    assert (r10.lane[pend10 & (r10.arrival < 290)] == r10.lane[i]).all()


def test_no_destination_skips_and_s3_or_sqs_report_it():
    r, i = poison(max_retry_attempts=0, destination="none")
    assert r.fate[i] == Fate.DISCARDED and r.count(Fate.DESTINATION) == 0
    for d in ("SQS", "SNS", "S3"):
        assert poison(max_retry_attempts=0, destination=d)[0].fate[i] == Fate.DESTINATION
    assert "not the records" in k.DESTINATION_GETS["SQS"] and "records" in k.DESTINATION_GETS["S3"]


def test_with_the_defaults_a_poison_record_blocks_until_retention_trims_it():
    """MaximumRetryAttempts -1, MaximumRecordAgeInSeconds -1: retried until the stream drops the
    record after 24 hours (the model skips identical attempts, so a day takes no time)."""
    t = np.array([0.0, 10.0, 20.0])
    r = k.simulate_stream(t, np.array([1, 1, 1]), 100, 1, lambda_consumer=True, bad=[True, False, False],
                          horizon=26 * 3600.0)
    assert r.fate[0] == Fate.EXPIRED and 24 * 3600 <= r.finish[0] <= 24 * 3600 + 1
    assert (r.fate[1:] == Fate.PROCESSED).all() and r.attempts[0] > 24 * 3600 / 0.3


# --- the function's concurrency, polling, the 6 MB batch --------------------------------------------------------
def invocations(r):
    """Each invocation's (start, end) of the clean batches: records that share shard, lane and start."""
    m = (r.fate == Fate.PROCESSED)
    key = np.stack([r.shard[m], r.lane[m], r.start[m]])
    _, first = np.unique(key, axis=1, return_index=True)
    return r.start[m][first], r.finish[m][first]


def most_at_once(start, end) -> int:
    """The most intervals [start, end) open at one time (ends before starts at equal times)."""
    ev = sorted([(e, -1) for e in end.tolist()] + [(s, 1) for s in start.tolist()])
    run = best = 0
    for _, d in ev:
        run += d
        best = max(best, run)
    return best


def busy_stream(concurrency, **kw):
    """10 shards, 50 records/s of 1 KiB over 500 keys for 60 s, 0.1 s of work per record."""
    t = traffic.poisson(50, 60.0, 5)
    keys = k.make_keys("uniform", len(t), 500, 0.0, 6)
    return k.simulate_stream(t, keys, 1_024, 10, lambda_consumer=True, batch_size=10, duration=0.001,
                             duration_per_record=0.1, horizon=90.0, concurrency=concurrency, **kw)


def test_invocations_beyond_the_functions_concurrency_are_throttled_and_retried():
    """Lambda runs at most ``concurrency`` invocations at once; the rest are throttled, retried,
    and the work done is bounded by concurrency x time (issue 21: the capstone's stream design
    processed every order with reserved concurrency 2 and 10 shards)."""
    free, two = busy_stream(1_000), busy_stream(2)
    assert free.throttles == 0 and two.throttles > 100
    assert most_at_once(*invocations(free)) > 2
    s, e = invocations(two)
    assert most_at_once(s, e) <= 2
    assert (e - s).sum() <= 2 * 90.0 + 1e-9                             # no more work than 2 x the run
    assert two.count(Fate.PROCESSED) <= 2 * 90.0 / 0.1
    assert two.count(Fate.PENDING) > 0.3 * len(two.arrival)             # the rest waits in the stream
    assert free.count(Fate.PENDING) == 0
    b = two.books()
    assert b["sent"] == sum(v for key, v in b.items() if key != "sent")
    for key in np.unique(two.key):                                      # order per key still holds
        m = np.nonzero((two.key == key) & (two.fate == Fate.PROCESSED))[0]
        assert np.all(np.diff(two.finish[m]) >= 0)


def test_throttles_do_not_use_up_retries_but_records_still_age_out():
    """A clean batch throttled again and again is processed with MaximumRetryAttempts 0; with
    MaximumRecordAgeInSeconds 60, records throttled for longer go to the destination unattempted."""
    r = busy_stream(2, max_retry_attempts=0)
    assert r.count(Fate.DESTINATION) == 0 and r.count(Fate.PROCESSED) > 0
    aged = busy_stream(1, max_record_age=60, destination="SQS")
    gone = aged.fate == Fate.DESTINATION
    assert gone.sum() > 0 and (aged.attempts[gone] == 0).all()
    assert np.all(aged.finish[gone] - aged.arrival[gone] > 60)


def test_a_standard_iterator_polls_each_shard_once_per_second():
    """At light load a record waits for the next poll: polls at 0, 1, 2, ... s while the lane is
    idle, so a record put at 0.3 s is invoked at 1 s; Poisson records far apart wait 0.5 s on average."""
    r = k.simulate_stream([0.3], [1], 100, 1, lambda_consumer=True, duration=0.05, duration_per_record=0.0,
                          horizon=5.0)
    assert r.start[0] == 1.0
    t = traffic.poisson(0.2, 20_000.0, 7)                                # one record every 5 s on average
    r = k.simulate_stream(t, np.zeros(len(t), int), 100, 1, lambda_consumer=True, duration=0.01,
                          duration_per_record=0.0, horizon=20_010.0)
    wait = r.start - r.arrival
    assert wait.min() >= 0 and wait.max() <= 1.0
    # the wait is about uniform on [0, 1): mean 0.5, standard error 0.29 / sqrt(n); 5 standard errors
    assert abs(wait.mean() - 0.5) < 5 * 0.29 / math.sqrt(len(t))


def test_a_batch_closes_at_6_mb():
    """20 records of 1 MiB put at once, BatchSize 10,000: batches of 6, 6, 6 and 2 records."""
    t = np.zeros(20)
    r = k.simulate_stream(t, np.zeros(20, int), k.MAX_RECORD_BYTES, 1, lambda_consumer=True, batch_size=10_000,
                          horizon=600.0, burst_seconds=30)
    _, counts = np.unique(r.start[r.accepted], return_counts=True)
    assert counts.tolist() == [6, 6, 6, 2] and r.count(Fate.PROCESSED) == 20
    # with a batching window, 6 MB closes the batch when the 7th record arrives (at 3 s)
    t = np.arange(20) * 0.5
    r = k.simulate_stream(t, np.zeros(20, int), k.MAX_RECORD_BYTES, 1, lambda_consumer=True, batch_size=10_000,
                          batching_window=60.0, horizon=600.0, burst_seconds=30)
    assert r.start[0] == 3.0 and np.sum(r.start == 3.0) == 6


def test_maximum_record_age_is_minus_one_or_60_and_more():
    for v in (-1, 60, 604_800):
        k.simulate_stream([0.0], [1], lambda_consumer=True, max_record_age=v)
    for v in (0, 1, 59):
        with pytest.raises(ValueError, match=rf"^max_record_age={v} is out of range: allowed -1, or 60 to 604,800"):
            k.simulate_stream([0.0], [1], lambda_consumer=True, max_record_age=v)


# --- consumers ------------------------------------------------------------------------------------------------
def consumers_case(n, efo, rate=800, horizon=60.0):
    t = traffic.constant(rate, horizon)
    return k.simulate_stream(t, np.zeros(len(t), int), 1_024, 1, consumers=n, efo=efo, horizon=horizon)


def test_shared_consumers_split_2mb_and_fan_out_gives_each_its_own():
    want = 800 * 1_024
    for n in (1, 2, 5, 10):
        sh = consumers_case(n, False).throughput(since=10.0)     # after the first propagation delay
        ef = consumers_case(n, True).throughput(since=10.0)
        share = 2 * k.MB / n
        assert np.allclose(sh, min(want, share), rtol=0.01), (n, sh)
        assert np.allclose(ef, want, rtol=0.01)


def test_latency_figures_are_awss_about_numbers():
    assert (k.propagation_delay(1, False), k.propagation_delay(5, False), k.propagation_delay(5, True)) == \
        (0.2, 1.0, 0.07)
    low = [np.median(consumers_case(n, e, rate=50).read_delay()[0]) for n, e in ((1, False), (5, False), (1, True))]
    assert abs(low[0] - 0.2) < 0.01 and abs(low[1] - 1.0) < 0.01 and abs(low[2] - 0.07) < 0.01


def test_every_application_reads_every_record_and_a_late_one_replays():
    """Reading does not delete: a second application that starts at 30 s from the oldest record
    still reads every record, the old ones first (a replay)."""
    t = traffic.constant(100, 60.0)
    r = k.simulate_stream(t, np.arange(len(t)) % 50, 1_024, 2, consumers=2, efo=True, consumer_start=[0.0, 30.0],
                          horizon=70.0)
    assert np.isfinite(r.read).all() and r.count(Fate.PROCESSED) == len(t)
    early = t < 30
    assert (r.read[early, 1] >= 30).all() and (r.read[early, 0] < 30.2).all()


# --- bad parameters ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw,name,value,allowed", [
    (dict(shards=0), "shards", 0, "1 to 1,000"),
    (dict(parallelization_factor=11), "parallelization_factor", 11, "1 to 10"),
    (dict(batch_size=10_001), "batch_size", 10_001, "1 to 10,000"),
    (dict(retention_hours=8_761), "retention_hours", 8_761, "24 to 8,760"),
    (dict(max_retry_attempts=-2), "max_retry_attempts", -2, "-1 to 10,000"),
    (dict(max_record_age=604_801), "max_record_age", 604_801, "-1, or 60 to 604,800"),
    (dict(max_record_age=59), "max_record_age", 59, "-1, or 60 to 604,800"),
    (dict(max_record_age=0), "max_record_age", 0, "0 to 59 are not allowed"),
    (dict(max_record_age=-2), "max_record_age", -2, "-1, or 60 to 604,800"),
    (dict(concurrency=0), "concurrency", 0, "1 to 100,000"),
    (dict(batching_window=301), "batching_window", 301, "0 to 300"),
    (dict(sizes=2 * 1024 ** 2), "sizes", 2 * 1024 ** 2, "1 to 1,048,576"),
    (dict(destination="Kafka"), "destination", "Kafka", "'SQS'"),
])
def test_bad_parameters_name_parameter_value_and_range(kw, name, value, allowed):
    args = dict(arrivals=[0.0, 1.0], keys=[1, 2]) | kw
    with pytest.raises(ValueError, match=f"{name}={value_re(value)}") as e:
        k.simulate_stream(**args)
    assert allowed in str(e.value)


def test_inputs_must_line_up():
    with pytest.raises(ValueError, match="keys"):
        k.simulate_stream([0.0, 1.0], [1])
    with pytest.raises(ValueError, match="arrivals"):
        k.simulate_stream([1.0, 0.0], [1, 2])
    with pytest.raises(ValueError, match="bad"):
        k.simulate_stream([0.0, 1.0], [1, 2], bad=[True])


def test_same_inputs_same_result_and_departures_feed_the_next_stage():
    a = poison(max_retry_attempts=2)[0]
    b = poison(max_retry_attempts=2)[0]
    for f in ("shard", "accepted", "finish", "fate", "attempts"):
        assert np.array_equal(getattr(a, f), getattr(b, f))
    d = a.departure[a.fate == Fate.PROCESSED]
    assert np.all(d >= a.arrival[a.fate == Fate.PROCESSED])


def test_capacity_modes_and_sizing():
    assert k.CAPACITY_MODES == ("Provisioned", "On-demand Standard", "On-demand Advantage")
    assert k.write_ceiling_mb_s("Provisioned", 4) == 4
    assert k.write_ceiling_mb_s("On-demand Standard", region="other") == 200
    assert k.write_ceiling_mb_s("On-demand Advantage", region="us-east-1") == 10_000
    assert k.shards_needed(3_000, 1.5 * k.MB) == 3 and k.shards_needed(500, 5 * k.MB) == 5


def test_steady_initial_fill_empties_only_overloaded_shards():
    """'steady': a shard offered more than its limit starts empty (accepted <= r x horizon), the
    others start full (a Poisson load under the limit is never refused); a bad value is named."""
    t = traffic.poisson(3_000, 5.0, 1)
    keys = k.make_keys("hot", len(t), 1_000, 0.3, 2)
    r = k.simulate_stream(t, keys, 200, 4, initial_fill="steady", horizon=5.0)
    off, acc = r.shard_rates()
    hot = int(np.argmax(off))
    assert off[hot] > 1_000 and acc[hot] <= 1_000 + 1e-9
    assert all(acc[s] == off[s] for s in range(4) if s != hot)
    full = k.simulate_stream(t, keys, 200, 4, horizon=5.0)
    assert full.shard_rates()[1][hot] > acc[hot] + 150              # the first second's burst
    with pytest.raises(ValueError, match="initial_fill='full'"):
        k.simulate_stream(t, keys, 200, 4, initial_fill="full")


# --- hostile input found by the sweep (issue 9): each of these was a crash or a silent wrong answer --------
def test_flags_are_true_or_false_not_truthy():
    """bisect="no" used to turn bisecting on, efo="False" to mean fan-out: strings are truthy."""
    with pytest.raises(ValueError, match=r"^bisect='no' is not allowed: choose True or False"):
        k.simulate_stream([0.0, 1.0], [1, 2], lambda_consumer=True, bisect="no")
    with pytest.raises(ValueError, match=r"^efo='False' is not allowed"):
        k.propagation_delay(2, "False")
    with pytest.raises(ValueError, match=r"^lambda_consumer=nan"):
        k.simulate_stream([0.0, 1.0], [1, 2], lambda_consumer=math.nan)
    with pytest.raises(ValueError, match=r"^bad must hold one True or False per arrival"):
        k.simulate_stream([0.0, 1.0], [1, 2], bad=[2, 0])


def test_ranges_and_hash_halves_are_refused_by_name():
    """Ranges that are not pairs of whole numbers were a TypeError; a negative half an OverflowError."""
    with pytest.raises(ValueError, match=r"^ranges must be a sequence of \(start, end\) pairs"):
        k.check_ranges(math.nan)
    with pytest.raises(ValueError, match=r"ranges\[0\] is \(0, 3\.4"):
        k.check_ranges([(0, 2.0 ** 128)])
    with pytest.raises(ValueError, match=r"^ranges has 1,001 shards"):
        k.check_ranges([(0, 0)] * 1_001)
    with pytest.raises(ValueError, match=r"^hi has a value out of range \(-1\)"):
        k.route_hashes([-1], [0], k.even_split(2))
    with pytest.raises(ValueError, match=r"^lo must be a 1-D array .* got shape \(1, 1\)"):
        k.route_hashes([1], [[1]], k.even_split(2))
    with pytest.raises(ValueError, match=r"^at=inf is not a hash key"):
        k.split_shard(k.even_split(2), 0, math.inf)
    with pytest.raises(ValueError, match=r"^at=True is not a hash key"):
        k.split_shard(k.even_split(2), 0, True)
    with pytest.raises(ValueError, match=r"^ranges has 1,000 shards already"):
        k.split_shard(k.even_split(1_000), 0)


def test_a_partition_key_is_a_string():
    """md5_hash_key(None) used to hash the string 'None'."""
    for bad in (None, math.nan, 7, b"abc"):
        with pytest.raises(ValueError, match=r"^key=.* is not a partition key"):
            k.md5_hash_key(bad)
    with pytest.raises(ValueError, match=r"^keys must be strings or whole numbers"):
        k.route([1.0, math.nan], k.even_split(2))


def test_sub_keys_do_not_wrap_in_a_small_integer_dtype():
    """uint8 keys used to get sub-keys 1,001 and 1,002 as 233 and 234 (wrapped), silently."""
    keys = np.array([0, 1, 0, 0, 0, 0], np.uint8)
    out = k.spread_key(keys, 0, 3, 1_000, 1)
    assert out.dtype == np.int64
    assert set(out.tolist()) <= {0, 1, 1_001, 1_002} and out[1] == 1
    with pytest.raises(ValueError, match=r"^key=1,000 is out of range: allowed 0 to 999"):
        k.spread_key(keys, 1_000, 3, 1_000, 1)
    with pytest.raises(ValueError, match=r"^rng=-1 is out of range"):
        k.make_keys("uniform", 3, 10, 0.0, -1)


def test_the_longest_documented_burst_runs():
    """burst_seconds=60 (allowed) made a 60 MiB bytes bucket, refused by the token bucket as 'burst'."""
    r = k.simulate_stream([0.0, 1.0], [1, 2], 1_024, 1, burst_seconds=60)
    assert r.accepted.all() and r.params["burst_seconds"] == 60


def test_lab_models_refuse_by_the_readers_names():
    """fanout='EFO' used to run with shared throughput, silently; keys=None was an AttributeError."""
    from labsim.labs import kinesis as lab
    with pytest.raises(ValueError, match=r"^fanout='EFO' is not allowed: choose one of 'shared', 'efo'"):
        lab.consumers_model(2, "EFO", 800)
    with pytest.raises(ValueError, match=r"^applications=0 is out of range"):
        lab.consumers_model(0, "shared", 800)
    with pytest.raises(ValueError, match=r"^keys=None is not allowed"):
        lab.hot_shard_model(4, None, 3_000, 200, 1)
    with pytest.raises(ValueError, match=r"^keys='hot:2' is out of range"):
        lab.hot_shard_model(4, "hot:2", 3_000, 200, 1)
    with pytest.raises(ValueError, match=r"^size=0 is out of range"):
        lab.hot_shard_model(4, "hot:0.3", 3_000, 0, 1)
    with pytest.raises(ValueError, match=r"^bisect='no' is not allowed"):
        lab.poison_model(-1, -1, "no", 1, "SQS")


def test_a_run_holds_at_most_max_records():
    t = np.linspace(0.0, 10.0, k.MAX_RECORDS + 1)
    with pytest.raises(ValueError, match=r"^arrivals holds 500,001 records: allowed 500,000 or less"):
        k.simulate_stream(t, np.zeros(len(t), int))


def test_getrecords_five_calls_per_second_per_shard_are_shared_by_the_pollers():
    """Each standard application polls once per second (an assumption): up to 5 share the 5 calls a
    shard allows; 10 make 10 calls, 5 of them refused (ReadProvisionedThroughputExceeded), and with
    the 5 shared evenly each gets one through every 2 s. Fan-out consumers make no calls; Lambda's
    mapping is one more poller."""
    t = traffic.constant(100, 10.0)
    keys = np.zeros(len(t), int)
    g = k.simulate_stream(t, keys, 1_024, 1, consumers=10, horizon=10.0).getrecords()
    assert (g["calls_per_s"], g["refused_per_s"], g["success_every_s"]) == (10, 5, 2.0)
    g = k.simulate_stream(t, keys, 1_024, 1, consumers=5, horizon=10.0).getrecords()
    assert g["refused_per_s"] == 0 and g["success_every_s"] == 1.0
    assert k.simulate_stream(t, keys, 1_024, 1, consumers=10, efo=True, horizon=10.0).getrecords()["calls_per_s"] == 0
    g = k.simulate_stream(t, keys, 1_024, 1, lambda_consumer=True, horizon=10.0).getrecords()
    assert g["pollers"] == 1 and g["calls_per_s"] == 1
    g = k.simulate_stream(t, keys, 1_024, 1, consumers=4, horizon=10.0).getrecords(poll_interval=0.5)
    assert g["calls_per_s"] == 8 and g["refused_per_s"] == 3 and g["success_every_s"] == 0.8
    assert k.GETRECORDS_PER_S == 5 and k.GETRECORDS_MAX_RECORDS == 10_000 and k.GETRECORDS_MAX_BYTES == 10 * k.MB
    from labsim.labs import kinesis as lab
    assert "5 refused every second" in lab.getrecords_text(lab.consumers_model(10, "shared", 800))
