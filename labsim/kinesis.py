"""Kinesis Data Streams: routing by partition key, shard limits, consumers, and Lambda reading a
stream (event source mapping). Arrays in, arrays out.

The whole model is :func:`simulate_stream`: records (arrival times, partition keys, sizes) go in;
per record come out the shard, whether the shard accepted the write, when each consuming
application read it, when Lambda processed it, its final outcome (:class:`Fate`) and the time it
left the stream (``departure``: the next stage's arrival). Every AWS number below has its page.

* **Routing** (https://docs.aws.amazon.com/streams/latest/dev/key-concepts.html): the partition
  key goes through MD5 to a 128-bit hash key; the record lands in the open shard whose hash-key
  range holds it. A new stream of n shards splits [0, 2^128) evenly: shard i starts at
  i x floor(2^128 / n), the last one ends at 2^128 - 1. Routing uses the real MD5 (``hashlib``),
  each distinct key hashed once (and cached); the 128-bit hash is kept as two unsigned 64-bit
  halves and compared half by half, which is exact (see :func:`route_hashes`).
* **Resharding**: split a shard, merge two adjacent shards, or UpdateShardCount; the open shards'
  ranges always cover the whole hash-key space with no gap and no overlap
  (https://docs.aws.amazon.com/streams/latest/dev/kinesis-using-sdk-java-resharding.html).
* **Write limits** (https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html):
  1,000 records per second and 1 MB per second per shard; a write above them gets
  ``ProvisionedThroughputExceededException``. Both are modelled as token buckets (AWS documents a token bucket
  for API Gateway only; here ``labsim.tokenbucket``: one bucket of records, one of bytes in which a record of s bytes takes s tokens). **Assumption:**
  AWS does not document the buckets' burst; the model gives each bucket ``burst_seconds`` (default
  1 s) of its rate. **Assumption:** the model reads AWS's "MB" in these limits as MiB (1,048,576
  bytes), so that the largest default record (1 MiB) fits a one-second bucket. The model's
  producer does not retry a refused write.
* **Read limits** (https://docs.aws.amazon.com/streams/latest/dev/enhanced-consumers.html): a
  shard serves 2 MB per second, shared by all standard (shared-throughput) consumers; with
  enhanced fan-out each consumer gets its own 2 MB per second per shard. **Assumption:** shared
  consumers poll alike and split the 2 MB/s evenly. Each application reads every record
  independently (the stream does not delete a record when it is read; it keeps it for the
  retention period, 24 hours by default, up to 365 days:
  https://docs.aws.amazon.com/streams/latest/dev/kinesis-extended-retention.html). A reader is a
  fluid queue at its share of the throughput, plus a propagation delay. **Illustrative:** AWS
  gives "about" figures only (https://docs.aws.amazon.com/streams/latest/dev/building-consumers.html):
  about 200 ms with one shared consumer, about 1,000 ms with five, about 70 ms with enhanced
  fan-out; the model uses 200 ms per shared consumer (both figures) and 70 ms for fan-out.
* **Lambda event source mapping**
  (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html,
  https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-parameters.html,
  https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html,
  https://docs.aws.amazon.com/lambda/latest/api/API_EventSourceMappingConfiguration.html): a
  standard iterator polls each shard once per second, and while records wait Lambda keeps
  processing batches until it catches up (the model: a free lane that finds nothing polls again
  1 s later); batches of up to ``batch_size`` records (default 100, up to 10,000) gathered for up
  to ``batching_window`` seconds, and never above 6 MB; ``parallelization_factor`` (1 to 10)
  concurrent batches per shard, order kept per partition key (**assumption:** key -> lane by its
  hash modulo the factor; AWS does not document the mapping); a failing batch is retried while the
  records behind it wait, until it succeeds, its records pass ``max_record_age``
  (MaximumRecordAgeInSeconds: -1 = infinite, or 60 to 604,800) or it has been retried
  ``max_retry_attempts`` times (MaximumRetryAttempts, -1 = infinite); ``bisect``
  (BisectBatchOnFunctionError) splits a failed batch in two and tries the halves in order, and
  splitting does not count towards the retry quota. A discarded batch goes to the on-failure
  destination (SQS and SNS receive metadata about it, S3 the records) or, with none, is skipped.
  Records the stream trims (retention) before they are processed expire.
* **The function's concurrency** (kinesis-on-failure-destination.html, lambda-concurrency.html):
  the mapping asks for one invocation per lane with a batch ready; invocations beyond
  ``concurrency`` (the function's reservation, or the unreserved pool) are throttled. A throttled
  batch is retried until it succeeds or its records expire or pass the maximum age; throttles do
  not use up MaximumRetryAttempts. **Assumption:** AWS gives no retry interval; the model retries
  a throttled batch ``THROTTLE_RETRY_S`` (1 s) later, and a slot freed meanwhile goes to whichever
  lane asks first (a lane whose batch just ended asks at once, so the lanes are not served in turn).
  **Assumptions:** a bad record fails every batch it is in; a retry after a function error starts
  at once; an invocation takes ``duration + duration_per_record x records`` seconds; the
  mapping's own reads are not limited by the 2 MB/s.
"""

from __future__ import annotations

import bisect as _bisect
import hashlib
import heapq
import math
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from numbers import Integral

from . import tokenbucket, traffic
from .awslambda import DEFAULT_ACCOUNT_LIMIT, MAX_ACCOUNT_LIMIT
from .validation import _fmt, check_array, check_bool, check_choice, check_int, check_number, check_window

# --- AWS numbers ---------------------------------------------------------------------------------
#: The model's "MB" (see the module docstring: MiB).
MB = 1_048_576
#: Per shard, writes: https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html
SHARD_WRITE_RECORDS_PER_S = 1_000
SHARD_WRITE_BYTES_PER_S = 1 * MB
#: Per shard, reads, shared by standard consumers; enhanced fan-out: per consumer per shard.
#: https://docs.aws.amazon.com/streams/latest/dev/enhanced-consumers.html
SHARD_READ_BYTES_PER_S = 2 * MB
EFO_READ_BYTES_PER_S = 2 * MB
#: GetRecords: each shard supports 5 read transactions (calls) per second, shared by every
#: application that polls it; a call returns up to 10 MB and 10,000 records; calls beyond get
#: ReadProvisionedThroughputExceeded (service-sizes-and-limits.html).
GETRECORDS_PER_S = 5
GETRECORDS_MAX_RECORDS = 10_000
GETRECORDS_MAX_BYTES = 10 * MB
#: **Assumption:** how often a standard (shared-throughput) application polls each shard. AWS
#: leaves it to the application; the model uses once per second, like Lambda's standard iterator.
SHARED_POLL_INTERVAL_S = 1.0
#: Record size: 1 MiB by default (a stream can opt in to up to 10 MiB, not modelled).
#: https://docs.aws.amazon.com/streams/latest/dev/large-records.html
MAX_RECORD_BYTES = MB
#: The hash-key space MD5 maps a partition key into.
HASH_SPACE = 2 ** 128
#: Retention: 24 hours by default, up to 365 days (8,760 hours).
#: https://docs.aws.amazon.com/streams/latest/dev/kinesis-extended-retention.html
RETENTION_DEFAULT_HOURS = 24
RETENTION_MAX_HOURS = 8_760
#: Propagation delay, AWS's "about" figures (building-consumers.html, enhanced-consumers.html).
PROPAGATION_ONE_SHARED_S = 0.2
PROPAGATION_FIVE_SHARED_S = 1.0
PROPAGATION_EFO_S = 0.07
#: Enhanced fan-out consumers per stream: 20 (50 with On-demand Advantage).
EFO_MAX_CONSUMERS = 20
EFO_MAX_CONSUMERS_ADVANTAGE = 50
#: Event source mapping parameters (services-kinesis-parameters.html).
BATCH_SIZE_DEFAULT, BATCH_SIZE_MAX = 100, 10_000
BATCHING_WINDOW_MAX_S = 300
PARALLELIZATION_MAX = 10
MAX_RETRY_ATTEMPTS_MAX = 10_000
#: MaximumRecordAgeInSeconds: -1, or 60 to 604,800 (API_EventSourceMappingConfiguration.html).
MAX_RECORD_AGE_MIN_S, MAX_RECORD_AGE_MAX_S = 60, 604_800
#: A throttled batch is retried until it succeeds or its records expire or pass the maximum age;
#: throttles do not use up MaximumRetryAttempts (kinesis-on-failure-destination.html). AWS gives
#: no interval: **assumption**, the mapping retries a throttled batch this many seconds later.
THROTTLE_RETRY_S = 1.0
#: A standard iterator polls each shard once per second; while records wait, Lambda keeps
#: processing batches until it catches up (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html).
#: The model: a lane that is free and finds no record polls again one second later.
POLL_INTERVAL_S = 1.0
#: A batch also closes when it reaches the 6 MB payload limit (with-kinesis.html); the model reads
#: MB as MiB, as for the shard limits.
PAYLOAD_LIMIT_BYTES = 6 * MB
#: What the on-failure destination receives (kinesis-on-failure-destination.html).
DESTINATIONS = ("SQS", "SNS", "S3", "none")
DESTINATION_GETS = {"SQS": "metadata about the batch (shard, sequence numbers), not the records",
                    "SNS": "metadata about the batch (shard, sequence numbers), not the records",
                    "S3": "the batch's records, with the metadata",
                    "none": "nothing: the records are skipped"}
#: Capacity modes (how-do-i-size-a-stream.html, service-sizes-and-limits.html). The notes name two.
CAPACITY_MODES = ("Provisioned", "On-demand Standard", "On-demand Advantage")
#: On-demand write ceiling per stream, MB/s: 10 GB/s in three Regions, 200 MB/s elsewhere.
ON_DEMAND_WRITE_CEILING_MB_S = {"us-east-1": 10_000, "us-west-2": 10_000, "eu-west-1": 10_000, "other": 200}
#: A new on-demand stream starts at 4 MB/s of writes and 8 MB/s of reads and scales up with the
#: traffic (service-sizes-and-limits.html): it does not absorb a sudden burst up to its ceiling.
ON_DEMAND_START_WRITE_MB_S, ON_DEMAND_START_READ_MB_S = 4, 8
#: The model's own cap on shards (AWS has no upper limit, only an account quota).
MAX_SHARDS = 1_000
#: Most records one run simulates (the model's limit: with Lambda or 50 applications reading, a
#: run of this many takes one to two seconds of CPU).
MAX_RECORDS = 500_000
#: The model's cap on the write buckets' burst (an assumption: AWS does not document it).
MAX_BURST_SECONDS = 60


class Fate(IntEnum):
    """Where a record ended. Every record has exactly one; the books balance."""

    PROCESSED = 0     #: read by every application (no Lambda), or processed by Lambda
    DESTINATION = 1   #: skipped by Lambda after retries or age; reported to the on-failure destination
    DISCARDED = 2     #: skipped by Lambda after retries or age, with no destination configured
    EXPIRED = 3       #: trimmed by the stream's retention before it was processed
    PENDING = 4       #: still in the stream, not yet read or processed at the horizon
    THROTTLED = 5     #: refused at put (ProvisionedThroughputExceededException)


FATE_NAMES = {Fate.PROCESSED: "processed", Fate.DESTINATION: "on-failure destination",
              Fate.DISCARDED: "skipped, no destination", Fate.EXPIRED: "expired (retention)",
              Fate.PENDING: "pending", Fate.THROTTLED: "throttled at put"}
FATE_ROLES = {Fate.PROCESSED: "processed", Fate.DESTINATION: "dlq", Fate.DISCARDED: "lost",
              Fate.EXPIRED: "expired", Fate.PENDING: "pending", Fate.THROTTLED: "throttled"}


# --- Capacity --------------------------------------------------------------------------------------
def write_ceiling_mb_s(mode: str, shards: int = 1, region: str = "other") -> float:
    """A stream's write ceiling in MB/s: Provisioned, shards x 1 MB/s; on-demand (Standard or
    Advantage), 10 GB/s in N. Virginia, Oregon and Ireland and 200 MB/s elsewhere."""
    check_choice("mode", mode, CAPACITY_MODES)
    check_choice("region", region, tuple(ON_DEMAND_WRITE_CEILING_MB_S))
    if mode == "Provisioned":
        return check_int("shards", shards, 1, MAX_SHARDS) * SHARD_WRITE_BYTES_PER_S / MB
    return float(ON_DEMAND_WRITE_CEILING_MB_S[region])


def shards_needed(records_per_s: float, bytes_per_s: float) -> int:
    """Fewest provisioned shards for a steady, evenly spread write load (both write limits)."""
    r = check_number("records_per_s", records_per_s, 0)
    b = check_number("bytes_per_s", bytes_per_s, 0)
    return max(1, math.ceil(max(r / SHARD_WRITE_RECORDS_PER_S, b / SHARD_WRITE_BYTES_PER_S) - 1e-12))


def propagation_delay(consumers: int, efo: bool) -> float:
    """Illustrative delay from write to read (s): 70 ms with fan-out, 200 ms per shared consumer."""
    consumers = check_int("consumers", consumers, 1, EFO_MAX_CONSUMERS_ADVANTAGE)
    efo = check_bool("efo", efo)
    return PROPAGATION_EFO_S if efo else PROPAGATION_ONE_SHARED_S * consumers


# --- Hash keys and routing ---------------------------------------------------------------------------
_DIGESTS: dict = {}
_CACHE_MAX = 1_000_000


def md5_hash_key(key: str) -> int:
    """The 128-bit hash key of a partition key, a string (for a whole-number key ``k`` of
    :func:`make_keys`, pass ``str(k)``: the arrays of :func:`route` stand for those strings)."""
    if not isinstance(key, str):
        raise ValueError(f"key={key!r:.80} is not a partition key: a partition key is a string "
                         f"(for a whole-number key k, pass str(k))")
    return int.from_bytes(hashlib.md5(key.encode("utf-8")).digest(), "big")


def _digest(key) -> bytes:
    """MD5 of ``str(key)``, cached by the key itself (a whole number or a string)."""
    d = _DIGESTS.get(key)
    if d is None:
        if len(_DIGESTS) >= _CACHE_MAX:
            _DIGESTS.clear()
        d = _DIGESTS[key] = hashlib.md5(str(key).encode("utf-8")).digest()
    return d


def _key_array(name, keys) -> np.ndarray:
    """``keys`` as a 1-D array of partition keys (strings, or whole numbers standing for their
    ``str``), or a ValueError naming ``name``."""
    if isinstance(keys, (str, bytes)) or keys is None:
        raise ValueError(f"{name} must be a 1-D array of partition keys (strings or whole numbers), "
                         f"got {keys!r:.80}")
    try:
        k = np.asarray(keys)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a 1-D array of partition keys (strings or whole numbers), "
                         f"got {keys!r:.80}") from None
    if k.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of partition keys, got shape {k.shape}")
    if len(k) and not (np.issubdtype(k.dtype, np.integer) or k.dtype.kind in "US"):
        raise ValueError(f"{name} must be strings or whole numbers, got dtype {k.dtype}")
    return k


def hash_keys(keys):
    """Distinct keys, each record's index into them, and each distinct key's MD5 as two uint64
    halves (high, low). Each distinct key is hashed once (and cached across calls)."""
    k = _key_array("keys", keys)
    if len(k) == 0:
        return k, np.zeros(0, np.int64), np.zeros(0, np.uint64), np.zeros(0, np.uint64)
    uniq, inv = np.unique(k, return_inverse=True)
    buf = b"".join([_digest(x) for x in uniq.tolist()])
    halves = np.frombuffer(buf, dtype=">u8").reshape(-1, 2).astype(np.uint64)
    return uniq, inv.reshape(-1), halves[:, 0].copy(), halves[:, 1].copy()


# --- Hash-key ranges (open shards) --------------------------------------------------------------------
def even_split(shards: int) -> tuple:
    """The hash-key ranges of a new stream of ``shards`` shards: ((start, end), ...), inclusive."""
    n = check_int("shards", shards, 1, MAX_SHARDS, why="a stream needs at least 1 shard; the model's limit")
    q = HASH_SPACE // n
    starts = [i * q for i in range(n)]
    return tuple((s, (starts[i + 1] - 1) if i + 1 < n else HASH_SPACE - 1) for i, s in enumerate(starts))


def _hash_key(x) -> bool:
    """True if ``x`` is a whole number (a Python or numpy integer, not a bool)."""
    return isinstance(x, Integral) and not isinstance(x, (bool, np.bool_))


def check_ranges(ranges) -> tuple:
    """Return ``ranges`` if they cover [0, 2^128) with no gap and no overlap, else ValueError.

    ``ranges``: the open shards' hash-key ranges ``((start, end), ...)``, inclusive, whole
    numbers, in order; at most ``MAX_SHARDS`` of them (the model's limit)."""
    what = "ranges must be a sequence of (start, end) pairs of whole numbers (hash keys)"
    if isinstance(ranges, (str, bytes)) or not hasattr(ranges, "__len__") or not hasattr(ranges, "__iter__"):
        raise ValueError(f"{what}, got {ranges!r:.80}")
    if len(ranges) > MAX_SHARDS:
        raise ValueError(f"ranges has {len(ranges):,} shards: allowed 1 to {MAX_SHARDS:,} (the model's limit)")
    r = []
    for i, pair in enumerate(ranges):
        if isinstance(pair, (str, bytes)) or not hasattr(pair, "__len__") or len(pair) != 2 \
                or not (_hash_key(pair[0]) and _hash_key(pair[1])):
            raise ValueError(f"{what}: ranges[{i}] is {pair!r:.80}")
        r.append((int(pair[0]), int(pair[1])))
    r = tuple(r)
    if not r:
        raise ValueError("ranges is empty: a stream has at least 1 open shard")
    if r[0][0] != 0 or r[-1][1] != HASH_SPACE - 1:
        raise ValueError("ranges must start at 0 and end at 2^128 - 1")
    for i, (a, b) in enumerate(r):
        if a > b:
            raise ValueError(f"ranges[{i}] is empty ({a} > {b})")
        if i and a != r[i - 1][1] + 1:
            raise ValueError(f"ranges[{i - 1}] and ranges[{i}] have a {'gap' if a > r[i - 1][1] + 1 else 'overlap'}")
    return r


def split_shard(ranges, index: int, at: int | None = None) -> tuple:
    """SplitShard: shard ``index`` becomes two, the second starting at hash key ``at`` (default:
    the middle of its range)."""
    r = check_ranges(ranges)
    if len(r) >= MAX_SHARDS:
        raise ValueError(f"ranges has {len(r):,} shards already: a split would make {len(r) + 1:,}, "
                         f"the model allows {MAX_SHARDS:,}")
    i = check_int("index", index, 0, len(r) - 1)
    a, b = r[i]
    if b == a:
        raise ValueError(f"index={i}: shard {i} holds a single hash key and cannot be split")
    if at is None:
        at = a + (b - a + 1) // 2
    elif _hash_key(at):
        at = int(at)
        if not a < at <= b:
            raise ValueError(f"at={at} is out of range: allowed {a + 1} to {b} (inside shard {i}'s range)")
    else:
        raise ValueError(f"at={at!r:.80} is not a hash key: allowed a whole number {a + 1} to {b} "
                         f"(inside shard {i}'s range), or None for the middle")
    return r[:i] + ((a, at - 1), (at, b)) + r[i + 1:]


def merge_shards(ranges, index: int) -> tuple:
    """MergeShards: shard ``index`` and the adjacent shard ``index + 1`` become one."""
    r = check_ranges(ranges)
    i = check_int("index", index, 0, len(r) - 2) if len(r) > 1 else check_int("index", index, 0, -1)
    return r[:i] + ((r[i][0], r[i + 1][1]),) + r[i + 2:]


def update_shard_count(ranges, shards: int) -> tuple:
    """UpdateShardCount with uniform scaling: the model's result is an even split of ``shards``."""
    check_ranges(ranges)
    return even_split(shards)


def _halves(name, v) -> np.ndarray:
    """``v`` as a 1-D uint64 array (64-bit halves of hash keys), or a ValueError naming ``name``."""
    what = f"{name} must be a 1-D array of whole numbers 0 to 2^64 - 1 (64-bit halves of hash keys)"
    if isinstance(v, (str, bytes)) or v is None:
        raise ValueError(f"{what}, got {v!r:.80}")
    try:
        a = np.asarray(v)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{what}, got {v!r:.80}") from None
    if a.ndim != 1:
        raise ValueError(f"{what}, got shape {a.shape}")
    if a.dtype == np.uint64:
        return a
    if len(a) == 0:
        return np.zeros(0, np.uint64)
    if not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{what}, got dtype {a.dtype}")
    if a.min() < 0:
        raise ValueError(f"{name} has a value out of range ({a.min()}): allowed 0 to 2^64 - 1")
    return a.astype(np.uint64)


def route_hashes(hi, lo, ranges) -> np.ndarray:
    """Shard index of each 128-bit hash key given as uint64 halves ``hi`` (top 64 bits) and
    ``lo``. Exact: a key is in shard i when start_i <= key; the starts are compared on their top
    halves with ``searchsorted``, and only starts that share a key's top half (at most one for an
    even split of fewer than 2^64 shards, whose starts are more than 2^64 apart) are compared on
    the low half too."""
    r = check_ranges(ranges)
    hi = _halves("hi", hi)
    lo = _halves("lo", lo)
    if hi.shape != lo.shape:
        raise ValueError(f"hi and lo must hold one half each per hash key: got {len(hi):,} and {len(lo):,}")
    starts = [a for a, _ in r[1:]]
    bh = np.array([s >> 64 for s in starts], np.uint64)
    bl = np.array([s & (2 ** 64 - 1) for s in starts], np.uint64)
    below = np.searchsorted(bh, hi, side="left")          # starts whose top half is smaller
    upto = np.searchsorted(bh, hi, side="right")          # ... or equal
    idx = below.astype(np.int64)
    tie = np.nonzero(upto > below)[0]
    for j in tie.tolist():                                # rare: compare the low halves too
        idx[j] += int(np.count_nonzero(bl[below[j]:upto[j]] <= lo[j]))
    return idx


def route(keys, ranges) -> np.ndarray:
    """Shard index of each record's partition key (MD5, then the range that holds the hash)."""
    ranges = check_ranges(ranges)
    _, inv, hi, lo = hash_keys(keys)
    return route_hashes(hi, lo, ranges)[inv] if len(inv) else np.zeros(0, np.int64)


# --- Key generators -------------------------------------------------------------------------------------
KEY_KINDS = ("uniform", "zipf", "hot")
#: Most distinct keys :func:`make_keys` draws from (the model's limit: a Zipf table of 80 MB).
MAX_KEYS = 10_000_000


def make_keys(kind: str, n: int, n_keys: int, skew: float, rng) -> np.ndarray:
    """``n`` partition keys (whole numbers 0 .. n_keys - 1; the key string is ``str(k)``).

    ``uniform``: every key alike. ``zipf``: key k with probability proportional to
    (k + 1)^-skew. ``hot``: key 0 takes a share ``skew`` of the records, the rest are uniform
    over the other keys.
    """
    check_choice("kind", kind, KEY_KINDS)
    n = check_int("n", n, 0, traffic.MAX_REQUESTS, why="records, as many as the traffic generators make")
    n_keys = check_int("n_keys", n_keys, 1, MAX_KEYS)
    if kind == "hot":
        share = check_number("skew", skew, 0, 1, why="the hot key's share of the records")
    else:
        s = check_number("skew", skew, 0, 5, why="the Zipf exponent; ignored for uniform keys")
    rng = traffic._rng(rng, "rng")
    if kind == "uniform":
        return rng.integers(0, n_keys, n)
    if kind == "zipf":
        p = np.arange(1, n_keys + 1, dtype=float) ** -s
        return np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right").clip(0, n_keys - 1)
    hot = rng.random(n) < share
    other = rng.integers(1, n_keys, n) if n_keys > 1 else np.zeros(n, np.int64)
    return np.where(hot, 0, other)


def spread_key(keys, key: int, suffixes: int, n_keys: int, rng) -> np.ndarray:
    """Write sharding: records of ``key`` get one of ``suffixes`` sub-keys at random (sub-key 0 is
    the key itself, sub-key j > 0 is the new key ``n_keys + j``). Order per original key is lost."""
    k = _key_array("keys", keys)
    if len(k) and not np.issubdtype(k.dtype, np.integer):
        raise ValueError(f"keys must be whole numbers (keys of make_keys), got dtype {k.dtype}")
    n_keys = check_int("n_keys", n_keys, 1, MAX_KEYS)
    key = check_int("key", key, 0, n_keys - 1, why="one of the n_keys keys of make_keys")
    suffixes = check_int("suffixes", suffixes, 1, 1_000)
    if k.dtype != np.int64:                       # room for the sub-keys n_keys + j, whatever the dtype
        if len(k) and (int(k.min()) < -2**63 or int(k.max()) > 2**63 - 1 - n_keys - suffixes):
            raise ValueError(f"keys has a value out of range ({k.max()}): allowed whole numbers that fit "
                             f"a 64-bit integer with the sub-keys n_keys + j")
        k = k.astype(np.int64)
    else:
        k = k.copy()
    rng = traffic._rng(rng, "rng")
    if suffixes == 1:
        return k
    m = k == key
    j = rng.integers(0, suffixes, int(m.sum()))
    k[m] = np.where(j == 0, key, n_keys + j)
    return k


# --- The result ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StreamResult:
    """Per-record arrays (one entry per record, in arrival order) and the run's parameters."""

    arrival: np.ndarray        #: put time (s)
    key: np.ndarray            #: index of the record's partition key in ``keys``
    keys: np.ndarray           #: the distinct partition keys
    size: np.ndarray           #: bytes
    shard: np.ndarray          #: shard index (into ``ranges``)
    lane: np.ndarray           #: Lambda's concurrent batch within the shard (0 without Lambda)
    accepted: np.ndarray       #: False: ProvisionedThroughputExceededException
    read: np.ndarray           #: (records, applications): when each application read it (inf: not yet)
    start: np.ndarray          #: Lambda: first attempt of a batch holding it (nan: never)
    finish: np.ndarray         #: when it reached its fate (inf: pending)
    attempts: np.ndarray       #: Lambda: invocations that included it
    fate: np.ndarray           #: :class:`Fate`
    bad: np.ndarray            #: records that fail every batch they are in
    ranges: tuple              #: the open shards' hash-key ranges
    horizon: float
    params: dict = field(default_factory=dict)
    throttles: int = 0         #: Lambda: invocations the function's concurrency refused (each retried later)

    @property
    def n_shards(self) -> int:
        return len(self.ranges)

    @property
    def departure(self) -> np.ndarray:
        """When each record left the stream (its fate's time; inf while pending)."""
        return self.finish

    def count(self, fate) -> int:
        return int(np.count_nonzero(self.fate == int(fate)))

    def books(self) -> dict:
        """sent and the count of every fate; they add up (the model checks it)."""
        out = {"sent": len(self.arrival)}
        out.update({f.name.lower(): self.count(f) for f in Fate})
        return out

    def shard_rates(self):
        """Per shard: offered and accepted records per second, over the horizon."""
        n = self.n_shards
        offered = np.bincount(self.shard, minlength=n) / self.horizon
        accepted = np.bincount(self.shard[self.accepted], minlength=n) / self.horizon
        return offered, accepted

    def shard_byte_rates(self):
        """Per shard: offered and accepted bytes per second, over the horizon."""
        n = self.n_shards
        offered = np.bincount(self.shard, weights=self.size, minlength=n) / self.horizon
        accepted = np.bincount(self.shard[self.accepted], weights=self.size[self.accepted], minlength=n) / self.horizon
        return offered, accepted

    def load(self, edges):
        """Per shard and time bin: (offered, accepted) record counts, shape (shards, bins)."""
        e = np.asarray(edges, float)
        b = np.searchsorted(e, self.arrival, side="right") - 1
        ok = (b >= 0) & (b < len(e) - 1)
        nb = len(e) - 1
        flat = self.shard[ok] * nb + b[ok]
        off = np.bincount(flat, minlength=self.n_shards * nb).reshape(self.n_shards, nb)
        acc = np.bincount(flat[self.accepted[ok]], minlength=self.n_shards * nb).reshape(self.n_shards, nb)
        return off, acc

    def throughput(self, since: float = 0.0):
        """Per application: bytes per second read between ``since`` and the horizon (all shards)."""
        got = np.isfinite(self.read) & (self.read <= self.horizon) & (self.read > since)
        return (self.size[:, None] * got).sum(axis=0) / (self.horizon - since)

    def getrecords(self, poll_interval: float = SHARED_POLL_INTERVAL_S) -> dict:
        """The GetRecords calls on each shard when every standard application (and Lambda's
        mapping, once per second) polls it every ``poll_interval`` seconds (an assumption): the
        pollers, calls per second, the 5 a shard allows, the calls refused per second
        (ReadProvisionedThroughputExceeded), and how often each poller then gets a call through
        if the 5 are shared evenly (s). Enhanced fan-out consumers are pushed their records
        (SubscribeToShard) and make no GetRecords calls."""
        poll_interval = check_number("poll_interval", poll_interval, 0, 3_600, lo_open=True,
                                     why="seconds between one application's GetRecords calls on a shard")
        p = self.params
        pollers = (0 if p.get("efo") else p.get("consumers", 0)) + (1 if p.get("lambda_consumer") else 0)
        if p.get("lambda_consumer"):     # Lambda's standard iterator polls once per second
            calls = (pollers - 1) / poll_interval + 1 / POLL_INTERVAL_S
        else:
            calls = pollers / poll_interval
        refused = max(0.0, calls - GETRECORDS_PER_S)
        every = (max(poll_interval, pollers / GETRECORDS_PER_S) if refused else poll_interval) if pollers else math.inf
        return {"pollers": pollers, "calls_per_s": calls, "allowed_per_s": GETRECORDS_PER_S,
                "refused_per_s": refused, "success_every_s": every}

    def read_delay(self):
        """Per application: delays from put to read of the records it read (a list of arrays)."""
        d = self.read - self.arrival[:, None]
        return [d[np.isfinite(d[:, c]), c] for c in range(self.read.shape[1])]

    def iterator_age(self, grid) -> np.ndarray:
        """Per shard, at each time in ``grid``: how old the oldest accepted record is that Lambda
        has not finished with (0 when the shard is caught up), shape (shards, len(grid)).
        Lambda's IteratorAge metric reports the age of the last record of each batch; both grow
        without bound while a shard is blocked."""
        g = np.asarray(grid, float)
        out = np.zeros((self.n_shards, len(g)))
        acc = np.nonzero(self.accepted)[0]
        sh, ln = self.shard[acc], self.lane[acc]
        for s in range(self.n_shards):
            for lane in np.unique(ln[sh == s]).tolist():
                idx = acc[(sh == s) & (ln == lane)]
                f = self.finish[idx]
                k = np.searchsorted(f, g, side="right")           # oldest record not finished by g
                t = self.arrival[idx]
                has = k < len(idx)
                age = np.where(has, g - t[np.minimum(k, len(idx) - 1)], 0.0)
                out[s] = np.maximum(out[s], np.maximum(age, 0.0))
        return out


# --- The model: Lambda's event source mapping, one lane at a time ---------------------------------------
class _Lane:
    """One sequential processor: the records ``t`` (sorted, all accepted) of one lane of a shard,
    read in batches by Lambda's event source mapping. The lane's records are ``t[lo:hi]`` (lists
    shared by every lane); it writes its results into the same entries of the output lists
    ``start``, ``finish``, ``attempts``, ``fate``. ``cb``: the running count of bad records over
    ``t`` (``cb[j]``: how many of the first ``j``), or None when no record is bad; ``cs``: the
    running total of their sizes, or None when no batch can reach 6 MB.

    Its events, one method each: the next batch closes (:meth:`close`: when full, when the
    batching window ends, or at once); a clean new batch succeeds (:meth:`clean`); the pending
    batch's oldest records expire or pass the maximum age (:meth:`drop_old`); an invocation of a
    batch that holds a bad record, or of a part of one (:meth:`attempt`), which ends in a success
    (:meth:`_succeed`), a split (:meth:`_split`), or a failure that is retried at once or, with the
    retries used up, skipped (:meth:`_fail`). :meth:`run` plays them in order for a lane that has
    all the concurrency it asks for."""

    __slots__ = ("t", "n", "cb", "cs", "B", "W", "max_retry", "max_age", "bisect", "fate_skip", "d0", "d1", "retention",
                 "horizon", "start", "finish", "attempts", "fate", "too_old", "p", "now", "stack", "retries", "fresh")

    def __init__(self, t, lo, hi, cb, cs, B, W, max_retry, max_age, bisect, fate_skip, d0, d1, retention, horizon,
                 start, finish, attempts, fate):
        self.t, self.n, self.cb, self.cs = t, hi, cb, cs
        self.B, self.W, self.max_retry, self.max_age, self.bisect = B, W, max_retry, max_age, bisect
        self.fate_skip, self.d0, self.d1, self.retention, self.horizon = fate_skip, d0, d1, retention, horizon
        self.start, self.finish, self.attempts, self.fate = start, finish, attempts, fate
        self.too_old = min(retention, max_age if max_age >= 0 else math.inf)  # no front record older: no drops
        self.p, self.now = lo, 0.0         # the first record not yet in a batch; when the lane is free
        self.stack, self.retries = [], 0   # the pending batch's parts still to try, in order; its retries
        self.fresh = False                 # the pending batch is new, clean, and none of its records too old

    def close(self) -> float:
        """The next batch closes: when the lane is free and a record is there, once the batch is
        full or its batching window ends. Makes it the pending batch and returns the time (inf:
        no record left; the batch is then empty)."""
        p, n, t, B = self.p, self.n, self.t, self.B
        if p >= n:
            return math.inf
        now, tp, W = self.now, t[p], self.W
        s = now if now >= tp else now + math.ceil((tp - now) / POLL_INTERVAL_S) * POLL_INTERVAL_S
        if W > 0:
            full_at = t[p + B - 1] if p + B - 1 < n else math.inf
            if self.cs is not None:
                full_at = self._full_by_size(p, full_at)
            gather = tp + W if tp + W < full_at else full_at
            s = s if s > gather else gather
        q = _bisect.bisect_right(t, s, p, n)
        if q - p > B:
            q = p + B
        if self.cs is not None:
            q = self._fit(p, q)
        self.stack.append((p, q))
        self.p, self.retries = q, 0
        cb = self.cb
        self.fresh = s - tp < self.too_old and (cb is None or cb[q] == cb[p])
        return s

    def _fit(self, p, q) -> int:
        """The end of a batch from ``p`` that holds at most 6 MB (``PAYLOAD_LIMIT_BYTES``)."""
        cs = self.cs
        k = _bisect.bisect_right(cs, cs[p] + PAYLOAD_LIMIT_BYTES, p, self.n + 1) - 1
        return k if k < q else q

    def _full_by_size(self, p, full_at) -> float:
        """When a batch from ``p`` is full: ``full_at`` (its count), or earlier, when a record
        arrives that would take it past 6 MB."""
        k = self._fit(p, self.n)
        return self.t[k] if k < self.n and self.t[k] < full_at else full_at

    def clean(self, s) -> float:
        """A clean new batch (no bad record, none too old) is invoked at ``s`` and succeeds."""
        a, b = self.stack.pop()
        m = b - a
        end = s + self.d0 + self.d1 * m
        self.start[a:b] = [s] * m
        self.finish[a:b] = [end] * m
        self.fate[a:b] = [_PROCESSED] * m
        self.attempts[a:b] = [1] * m
        self.fresh, self.now = False, end
        return end

    def drop_old(self, s) -> bool:
        """At ``s``, the pending batch's records that the stream trimmed (retention) or that passed
        the maximum record age are finished: expired or skipped. True if a part is left to try."""
        t, stack, fate, finish = self.t, self.stack, self.fate, self.finish
        retention, max_age = self.retention, self.max_age
        while stack:
            a, b = stack[-1]
            while a < b and (s - t[a] >= retention or (max_age >= 0 and s - t[a] > max_age)):
                fate[a] = Fate.EXPIRED if s - t[a] >= retention else self.fate_skip
                finish[a] = s
                a += 1
            if a < b:
                stack[-1] = (a, b)
                return True
            stack.pop()
            self.retries = 0
        self.now = s
        return False

    def attempt(self, s) -> float:
        """One invocation of the pending batch's front part from ``s``; returns when it ends."""
        a, b = self.stack[-1]
        self.fresh = False
        dur = self.d0 + self.d1 * (b - a)
        end = s + dur
        start, attempts = self.start, self.attempts
        for i in range(a, b):
            if start[i] != start[i]:                            # nan: first attempt
                start[i] = s
            attempts[i] += 1
        cb = self.cb
        if cb is None or cb[b] == cb[a]:
            self._succeed(a, b, end)
        elif self.bisect and b - a > 1:
            self._split(a, b)
        else:
            end = self._fail(a, b, end, dur)
        self.now = end
        return end

    def _succeed(self, a, b, end):
        for i in range(a, b):
            self.fate[i], self.finish[i] = _PROCESSED, end
        self.stack.pop()
        self.retries = 0

    def _split(self, a, b):
        """BisectBatchOnFunctionError: the halves are tried in order; not counted as a retry."""
        mid = (a + b) // 2
        self.stack[-1] = (mid, b)
        self.stack.append((a, mid))
        self.retries = 0

    def _fail(self, a, b, end, dur) -> float:
        """A failed attempt: skip the batch once the retries are used up, else retry at once,
        jumping over the attempts that must fail alike before the batch's records age out."""
        self.retries += 1
        max_retry = self.max_retry
        if 0 <= max_retry < self.retries:                       # retries exhausted: skip the batch
            for i in range(a, b):
                self.fate[i], self.finish[i] = self.fate_skip, end
            self.stack.pop()
            self.retries = 0
            return end
        t = self.t
        limit = min(self.horizon, t[a] + self.retention - 1e-9, t[a] + self.max_age if self.max_age >= 0 else math.inf)
        k = math.floor((limit - end) / dur) - 1
        if max_retry >= 0:
            k = min(k, max_retry - self.retries)
        if k > 0:
            end += k * dur
            self.retries += k
            for i in range(a, b):
                self.attempts[i] += k
        return end

    def run(self):
        """The lane on its own (all the concurrency it asks for), until the horizon.

        For speed the common events, a batch closes and a clean batch succeeds, run here inline
        with the rules of :meth:`close` and :meth:`clean` (``tests/test_kinesis.py`` checks this
        loop against those methods played one event at a time); the others call their methods."""
        t, n, B, W, cb, too_old, d0, d1, H = (self.t, self.n, self.B, self.W, self.cb, self.too_old, self.d0,
                                              self.d1, self.horizon)
        start, finish, fate, attempts, stack = self.start, self.finish, self.fate, self.attempts, self.stack
        p, now = self.p, self.now
        bisect_right, inf, ceil, POLL, cs = _bisect.bisect_right, math.inf, math.ceil, POLL_INTERVAL_S, self.cs
        while True:
            if not stack:                                       # close(), inline
                if p >= n:
                    break
                tp = t[p]
                s = now if now >= tp else now + ceil((tp - now) / POLL) * POLL
                if W > 0:
                    full_at = t[p + B - 1] if p + B - 1 < n else inf
                    if cs is not None:
                        full_at = self._full_by_size(p, full_at)
                    gather = tp + W if tp + W < full_at else full_at
                    s = s if s > gather else gather
                if s >= H:
                    break                                       # the batch would close at or after it
                q = bisect_right(t, s, p, n)
                if q - p > B:
                    q = p + B
                if cs is not None:
                    q = self._fit(p, q)
                if s - tp < too_old and (cb is None or cb[q] == cb[p]):
                    m = q - p                                   # clean(), inline
                    now = s + d0 + d1 * m
                    start[p:q] = [s] * m
                    finish[p:q] = [now] * m
                    fate[p:q] = [_PROCESSED] * m
                    attempts[p:q] = [1] * m
                    p = q
                    continue
                stack.append((p, q))
                p, self.retries = q, 0
            else:
                s = now                                         # a failing batch's next try: at once
            if self.drop_old(s):
                if s >= H:
                    break                                       # the rest is pending
                now = self.attempt(s)
            else:
                now = s
        self.p, self.now = p, now

    def run_by_events(self):
        """The same as :meth:`run`, one event method at a time (the reference for :meth:`run`)."""
        H = self.horizon
        while True:
            if not self.stack:
                s = self.close()
                if s >= H:
                    return
                if self.fresh:
                    self.clean(s)
                    continue
            else:
                s = self.now
            if self.drop_old(s):
                if s >= H:
                    return
                self.attempt(s)


_PROCESSED = int(Fate.PROCESSED)


def _flags(name, value, n) -> np.ndarray:
    """``value`` as one True/False per record (bools, or 0 and 1), or a ValueError naming ``name``."""
    if isinstance(value, (str, bytes)):
        raise ValueError(f"{name} must hold one True or False per arrival, got {value!r:.80}")
    try:
        a = np.asarray(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must hold one True or False per arrival, got {value!r:.80}") from None
    if a.shape != (n,):
        raise ValueError(f"{name} must hold one flag per arrival: got shape {a.shape} for {n:,} arrivals")
    if a.dtype != bool and n and (a.dtype.kind not in "iuf" or not np.isin(a, (0, 1)).all()):
        raise ValueError(f"{name} must hold one True or False per arrival (or 0 and 1), got {value!r:.80}")
    return a.astype(bool)


def _check_record_age(value) -> int:
    """MaximumRecordAgeInSeconds: -1 (infinite), or 60 to 604,800; 0 to 59 are refused
    (https://docs.aws.amazon.com/lambda/latest/api/API_EventSourceMappingConfiguration.html)."""
    allowed = (f"allowed -1, or {MAX_RECORD_AGE_MIN_S} to {MAX_RECORD_AGE_MAX_S:,} (MaximumRecordAgeInSeconds: "
               f"-1 means infinite; 0 to {MAX_RECORD_AGE_MIN_S - 1} are not allowed)")
    try:
        v = check_int("max_record_age", value)
    except ValueError:
        raise ValueError(f"max_record_age={value!r:.80} is not a whole number: {allowed}") from None
    if v != -1 and not MAX_RECORD_AGE_MIN_S <= v <= MAX_RECORD_AGE_MAX_S:
        raise ValueError(f"max_record_age={_fmt(v)} is out of range: {allowed}")
    return v


def _check_stream(t, keys, sizes, shards, ranges, burst_seconds, initial_fill, consumers, efo, consumer_start,
                  lambda_consumer, batch_size, batching_window, parallelization_factor, max_retry_attempts,
                  max_record_age, bisect, destination, duration, duration_per_record, bad, retention_hours,
                  horizon, consumer_down, concurrency) -> dict:
    """Every parameter of :func:`simulate_stream` checked (``t``: the checked arrivals), as a dict."""
    n = len(t)
    c = {}
    if ranges is None:
        check_int("shards", shards, 1, MAX_SHARDS, why="a stream needs at least 1 shard; the model's limit")
        ranges = even_split(shards)
    c["ranges"] = check_ranges(ranges)
    karr = _key_array("keys", keys)
    if karr.shape != (n,):
        raise ValueError(f"keys must hold one partition key per arrival: got shape {karr.shape} for {n:,} arrivals")
    c["keys"] = karr
    if np.ndim(sizes) == 0:
        c["size"] = np.full(n, check_number("sizes", sizes, 1, MAX_RECORD_BYTES,
                                            why="a record is at most 1 MiB by default"))
    else:
        c["size"] = check_array("sizes", sizes, 1, MAX_RECORD_BYTES, sorted_=False)
        if len(c["size"]) != n:
            raise ValueError(f"sizes must hold one size per arrival: got {len(c['size']):,} for {n:,} arrivals")
    c["burst_seconds"] = check_number("burst_seconds", burst_seconds, 1, MAX_BURST_SECONDS,
                                      why="an assumption: AWS does not document the shard buckets' burst")
    c["steady"] = isinstance(initial_fill, str)
    if c["steady"]:
        check_choice("initial_fill", initial_fill, ("steady",))
        c["initial_fill"] = initial_fill
    else:
        c["initial_fill"] = check_number("initial_fill", initial_fill, 0, 1)
    c["consumers"] = check_int("consumers", consumers, 0, EFO_MAX_CONSUMERS_ADVANTAGE,
                               why="enhanced fan-out allows 20 consumers per stream, 50 with On-demand Advantage")
    c["efo"] = check_bool("efo", efo)
    c["lambda_consumer"] = check_bool("lambda_consumer", lambda_consumer)
    c["bisect"] = check_bool("bisect", bisect)
    c["batch_size"] = check_int("batch_size", batch_size, 1, BATCH_SIZE_MAX, why="BatchSize: 1 to 10,000 for Kinesis")
    c["batching_window"] = check_number("batching_window", batching_window, 0, BATCHING_WINDOW_MAX_S,
                                        why="MaximumBatchingWindowInSeconds")
    c["pf"] = check_int("parallelization_factor", parallelization_factor, 1, PARALLELIZATION_MAX,
                        why="ParallelizationFactor")
    c["max_retry"] = check_int("max_retry_attempts", max_retry_attempts, -1, MAX_RETRY_ATTEMPTS_MAX,
                               why="MaximumRetryAttempts: -1 means infinite")
    c["max_age"] = _check_record_age(max_record_age)
    check_choice("destination", destination, DESTINATIONS)
    c["destination"] = destination
    c["d0"] = check_number("duration", duration, 0, 900, lo_open=True, why="a Lambda invocation runs at most 900 s")
    c["d1"] = check_number("duration_per_record", duration_per_record, 0, 1)
    c["retention_h"] = check_number("retention_hours", retention_hours, RETENTION_DEFAULT_HOURS,
                                    RETENTION_MAX_HOURS, why="retention is 24 hours to 365 days")
    last = float(t[-1]) if n else 0.0
    c["horizon"] = (last + 1e-9 * max(1.0, last) if n else 1.0) if horizon is None else \
        check_number("horizon", horizon, last, lo_open=True)
    c["bad"] = np.zeros(n, bool) if bad is None else _flags("bad", bad, n)
    if consumer_start is None:
        c["cstart"] = np.zeros(c["consumers"])
    else:
        c["cstart"] = check_array("consumer_start", consumer_start, 0, sorted_=False)
        if len(c["cstart"]) != c["consumers"]:
            raise ValueError(f"consumer_start must hold one time per application: got {len(c['cstart'])} "
                             f"for {c['consumers']}")
    c["down"] = None if consumer_down is None else check_window("consumer_down", consumer_down)
    c["concurrency"] = check_int("concurrency", concurrency, 1, MAX_ACCOUNT_LIMIT,
                                 why="the function's concurrency: its reservation, or the account's unreserved pool")
    return c


def _by_shard(shard, ns):
    """Record indices sorted by shard (stable: arrival order within a shard), and each shard's bounds."""
    order = np.argsort(shard, kind="stable")
    return order, np.searchsorted(shard[order], np.arange(ns + 1))


def _writes(t, size, order, bounds, c) -> np.ndarray:
    """Which puts the shards accept: per shard, a records bucket and a bytes bucket (token
    buckets, burst assumed); ``"steady"`` fill: empty for a shard offered more than a limit."""
    accepted = np.zeros(len(t), bool)
    rb = int(round(SHARD_WRITE_RECORDS_PER_S * c["burst_seconds"]))
    bb = SHARD_WRITE_BYTES_PER_S * c["burst_seconds"]
    for s in range(len(bounds) - 1):
        idx = order[bounds[s]:bounds[s + 1]]
        if len(idx):
            fill = c["initial_fill"]
            if c["steady"]:                 # fluid steady state: empty when offered more than the limit
                span = max(c["horizon"], 1e-9)
                over = (len(idx) / span >= SHARD_WRITE_RECORDS_PER_S
                        or size[idx].sum() / span >= SHARD_WRITE_BYTES_PER_S)
                fill = 0.0 if over else 1.0
            accepted[idx] = tokenbucket.admit_all(
                t[idx], [(None, SHARD_WRITE_RECORDS_PER_S, rb, fill * rb),
                         (size[idx], SHARD_WRITE_BYTES_PER_S, bb, fill * bb)])
    return accepted


def _reads(t, size, accepted, order, bounds, c) -> np.ndarray:
    """When each application read each record: a fluid reader of every shard at its share of
    the throughput, plus the propagation delay; an outage (``consumer_down``) holds back every
    read not begun by its start until its end. Shape (records, applications); inf: not yet."""
    consumers, horizon = c["consumers"], c["horizon"]
    read = np.full((len(t), consumers), np.inf)
    if not consumers:
        return read
    share = EFO_READ_BYTES_PER_S if c["efo"] else SHARD_READ_BYTES_PER_S / consumers
    delay = propagation_delay(consumers, c["efo"])
    for s in range(len(bounds) - 1):
        idx = order[bounds[s]:bounds[s + 1]]
        idx = idx[accepted[idx]]
        if not len(idx):
            continue
        cs = np.cumsum(size[idx]) / share
        prev = np.concatenate([[0.0], cs[:-1]])
        for a in range(consumers):
            avail = np.maximum(t[idx], c["cstart"][a])
            done = cs + np.maximum.accumulate(avail - prev) + delay
            if c["down"] is not None:
                down0, down1 = c["down"]
                # reads begin in order; from the first one not begun by t0, nothing begins before t1
                begin = done - delay - size[idx] / share
                k = int(np.searchsorted(begin, down0, side="left"))
                if k < len(idx):
                    avail[k:] = np.maximum(avail[k:], down1)
                    done = cs + np.maximum.accumulate(avail - prev) + delay
            read[idx, a] = np.where(done <= horizon, done, np.inf)
    return read


def _share_concurrency(lanes, concurrency, horizon) -> int:
    """Lanes that together ask for more than the function's ``concurrency``: one event loop over
    all of them. A lane whose batch is ready invokes the function if fewer than ``concurrency``
    invocations are running; otherwise the invocation is throttled and the same batch is retried
    ``THROTTLE_RETRY_S`` later (a throttle is not a retry attempt; its records still age). Events
    at the same time: ends first, then tries in the order they were scheduled. Returns the number
    of throttled invocations."""
    END, TRY = 0, 1
    heap, seq, busy, throttles = [], 0, 0, 0

    def next_try(i):
        nonlocal seq
        lane = lanes[i]
        s = lane.now if lane.stack else lane.close()
        if s < horizon:
            heapq.heappush(heap, (s, TRY, seq, i))
            seq += 1

    for i in range(len(lanes)):
        next_try(i)
    while heap:
        s, kind, _, i = heapq.heappop(heap)
        lane = lanes[i]
        if kind == END:
            busy -= 1
            next_try(i)
            continue
        if not lane.drop_old(s):                            # every record of the batch aged out
            next_try(i)
            continue
        if busy >= concurrency:                             # throttled: the same batch, later
            throttles += 1
            lane.now = s + THROTTLE_RETRY_S
            next_try(i)
            continue
        busy += 1
        end = lane.clean(s) if lane.fresh else lane.attempt(s)
        heapq.heappush(heap, (end, END, seq, i))
        seq += 1
    return throttles


def _run_lanes(lanes, concurrency, horizon) -> int:
    """Each lane on its own while they are no more than the function's concurrency (none is ever
    throttled), else all of them sharing it. Returns the number of throttled invocations."""
    if len(lanes) <= concurrency:
        for ln in lanes:
            ln.run()
        return 0
    return _share_concurrency(lanes, concurrency, horizon)


def _mapping(t, shard, lane, accepted, ns, c, out) -> int:
    """Lambda's event source mapping: every lane (shard x parallelization factor) processes its
    records in order (:class:`_Lane`), each on its own while the lanes with records are no more
    than the function's concurrency, else sharing it (:func:`_share_concurrency`). ``out``: the
    start, finish, attempts and fate arrays. Returns the number of throttled invocations."""
    pf = c["pf"]
    skip = Fate.DESTINATION if c["destination"] != "none" else Fate.DISCARDED
    retention = c["retention_h"] * 3600.0
    start, finish, attempts, fate = out
    acc = np.nonzero(accepted)[0]
    grp = shard[acc] * pf + lane[acc]
    og = np.argsort(grp, kind="stable")
    o = acc[og]                                             # accepted records, lane by lane
    gb = np.searchsorted(grp[og], np.arange(ns * pf + 1)).tolist()
    m = len(o)
    tl = t[o].tolist()
    bad = c["bad"][o]
    cb = np.concatenate([[0], np.cumsum(bad)]).tolist() if bad.any() else None
    sz = c["size"][o]
    big = m and c["batch_size"] * float(sz.max()) > PAYLOAD_LIMIT_BYTES     # can a batch reach 6 MB?
    cs = np.concatenate([[0.0], np.cumsum(sz)]).tolist() if big else None
    st, fi, at, fa = [math.nan] * m, [math.inf] * m, [0] * m, [int(Fate.PENDING)] * m
    lanes = [_Lane(tl, gb[g], gb[g + 1], cb, cs, c["batch_size"], c["batching_window"], c["max_retry"], c["max_age"],
                   c["bisect"], int(skip), c["d0"], c["d1"], retention, c["horizon"], st, fi, at, fa)
             for g in range(ns * pf) if gb[g] < gb[g + 1]]
    throttles = _run_lanes(lanes, c["concurrency"], c["horizon"])
    start[o], finish[o], attempts[o], fate[o] = st, fi, at, fa
    # A batch that started before the horizon and ends after it is still in flight: no final
    # state yet (the same rule as every other model: final only by the horizon).
    late = accepted & (fate != Fate.PENDING) & (finish > c["horizon"])
    fate[late], finish[late] = Fate.PENDING, np.inf
    return throttles


def simulate_stream(arrivals, keys, sizes=1_024, shards=4, *, ranges=None, burst_seconds: float = 1.0,
                    initial_fill: float | str = 1.0,
                    consumers: int = 0, efo: bool = False, consumer_start=None,
                    lambda_consumer: bool = False, batch_size: int = BATCH_SIZE_DEFAULT,
                    batching_window: float = 0.0, parallelization_factor: int = 1,
                    max_retry_attempts: int = -1, max_record_age: int = -1, bisect: bool = False,
                    destination: str = "SQS", duration: float = 0.2, duration_per_record: float = 0.002,
                    bad=None, retention_hours: float = RETENTION_DEFAULT_HOURS,
                    horizon: float | None = None, consumer_down=None,
                    concurrency: int = DEFAULT_ACCOUNT_LIMIT) -> StreamResult:
    """Records through one stream: routing, the shard write limits, ``consumers`` applications
    reading every record (shared throughput or enhanced fan-out ``efo``) and, with
    ``lambda_consumer``, a Lambda event source mapping processing them (see the module docstring
    for every rule and assumption).

    ``arrivals``: sorted put times (s); ``keys``: one partition key per record (strings or whole
    numbers); ``sizes``: bytes per record (one number or one per record, 1 to 1 MiB);
    ``shards`` or ``ranges`` (the open shards' hash-key ranges, e.g. after a split);
    ``burst_seconds``, ``initial_fill``: each write bucket holds ``burst_seconds`` of its rate and
    starts this full (0 to 1), or ``"steady"``: as after a long run at the same rates, in the
    fluid approximation (empty for a shard offered more than a limit over the run, full otherwise);
    ``consumer_start``: per application, when it starts reading from the oldest record
    (TRIM_HORIZON; default 0); ``consumer_down=(t0, t1)``: every application stops reading at
    ``t0`` (a record whose read began finishes) and resumes at ``t1`` from its checkpoint, the
    first record it had not begun; ``bad``: per record, True if it fails every batch it is in;
    ``horizon``: when the simulation stops (default: just after the last put);
    ``concurrency``: the function's concurrency the mapping can use (its reserved concurrency,
    or the unreserved pool; default the account's 1,000, with no other function running):
    invocations beyond it are throttled and retried.
    Nothing is random: same inputs, same result.
    """
    t = check_array("arrivals", arrivals)
    n = len(t)
    if n > MAX_RECORDS:
        raise ValueError(f"arrivals holds {n:,} records: allowed {MAX_RECORDS:,} or less (the model's limit, "
                         f"which keeps a run near a second)")
    c = _check_stream(t, keys, sizes, shards, ranges, burst_seconds, initial_fill, consumers, efo, consumer_start,
                      lambda_consumer, batch_size, batching_window, parallelization_factor, max_retry_attempts,
                      max_record_age, bisect, destination, duration, duration_per_record, bad, retention_hours,
                      horizon, consumer_down, concurrency)
    ranges, size, horizon = c["ranges"], c["size"], c["horizon"]
    uniq, kidx, hi, lo = hash_keys(c["keys"])
    shard = route_hashes(hi, lo, ranges)[kidx] if n else np.zeros(0, np.int64)
    ns = len(ranges)
    order, bounds = _by_shard(shard, ns)
    accepted = _writes(t, size, order, bounds, c)
    read = _reads(t, size, accepted, order, bounds, c)

    fate = np.full(n, int(Fate.PENDING), np.int64)
    fate[~accepted] = Fate.THROTTLED
    finish = np.where(accepted, np.inf, t)
    start = np.full(n, np.nan)
    attempts = np.zeros(n, np.int64)
    lane = np.zeros(n, np.int64)
    throttles = 0
    if c["lambda_consumer"]:
        if n:       # a key's lane: its hash modulo the parallelization factor (an assumption)
            lane = (lo % np.uint64(c["pf"])).astype(np.int64)[kidx]
        throttles = _mapping(t, shard, lane, accepted, ns, c, (start, finish, attempts, fate))
    elif c["consumers"]:
        done = np.isfinite(read).all(axis=1) & accepted
        fate[done] = Fate.PROCESSED
        finish[done] = read[done].max(axis=1)

    res = StreamResult(arrival=t, key=kidx, keys=uniq, size=size, shard=shard, lane=lane, accepted=accepted,
                       read=read, start=start, finish=finish, attempts=attempts, fate=fate, bad=c["bad"],
                       ranges=ranges, horizon=float(horizon),
                       params=dict(burst_seconds=c["burst_seconds"], initial_fill=c["initial_fill"],
                                   consumers=c["consumers"], efo=bool(c["efo"]),
                                   lambda_consumer=bool(c["lambda_consumer"]), batch_size=c["batch_size"],
                                   batching_window=c["batching_window"], parallelization_factor=c["pf"],
                                   max_retry_attempts=c["max_retry"], max_record_age=c["max_age"],
                                   bisect=bool(c["bisect"]), destination=c["destination"], duration=c["d0"],
                                   duration_per_record=c["d1"], retention_hours=c["retention_h"],
                                   consumer_down=consumer_down, concurrency=c["concurrency"]),
                       throttles=throttles)
    b = res.books()
    assert b["sent"] == sum(v for k, v in b.items() if k != "sent"), b
    return res
