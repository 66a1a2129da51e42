"""Labs for the Kinesis chapter: partition keys and hot shards, consumers (shared throughput or
enhanced fan-out), and a poison record under Lambda's event source mapping."""

from __future__ import annotations

import math

import numpy as np

from .. import kinesis, plots, traffic
from ..kinesis import DESTINATION_GETS, Fate
from ..validation import check_choice, check_int, check_number
from .base import Lab, checkbox as _check, dropdown as _drop, int_slider as _int, register

__all__ = ["hot_shard_lab", "consumers_lab", "poison_lab"]

# --- 1. Partition keys and hot shards -------------------------------------------------------------
#: The lab's stream: 1,000 customer keys, 5 s of Poisson puts; each shard's buckets start in their
#: steady state (empty for an overloaded shard, full otherwise), so the bars show long-run rates.
HOT_KEYS = 1_000
HOT_HORIZON = 5.0
KEY_CHOICES = [("uniform over 1,000 keys", "uniform:0"), ("Zipf, s = 1", "zipf:1.0"), ("Zipf, s = 1.5", "zipf:1.5"),
               ("one hot key: 10%", "hot:0.1"), ("one hot key: 30%", "hot:0.3"), ("one hot key: 60%", "hot:0.6")]
SIZES = [("200 bytes", 200), ("2 KiB", 2_048), ("5 KiB", 5_120), ("25 KiB", 25_600)]


#: Highest record rate the lab models: 80,000 records/s over 5 s, well inside the model's
#: ``MAX_RECORDS`` (a run stays near a second).
HOT_MAX_RATE = 80_000


def parse_keys(keys):
    """The lab's key distribution ``"kind:skew"`` (e.g. ``"hot:0.3"``) as (kind, skew)."""
    parts = keys.split(":") if isinstance(keys, str) else []
    kind = parts[0] if len(parts) == 2 else None
    if kind not in kinesis.KEY_KINDS:
        raise ValueError(f"keys={keys!r:.80} is not allowed: choose 'uniform:0', 'zipf:S' (S, the Zipf "
                         f"exponent, 0 to 5) or 'hot:P' (P, the hot key's share, 0 to 1), e.g. "
                         + ", ".join(repr(v) for _, v in KEY_CHOICES))
    try:
        skew = float(parts[1])
    except ValueError:
        skew = math.nan
    hi, what = (1, "the hot key's share of the records") if kind == "hot" else (5, "the Zipf exponent")
    if not (math.isfinite(skew) and 0 <= skew <= hi):
        raise ValueError(f"keys={keys!r:.80} is out of range: the number after '{kind}:' must be 0 to {hi} ({what})")
    return kind, skew


def hot_shard_model(shards, keys, rate, size, suffixes):
    kind, skew = parse_keys(keys)
    shards = check_int("shards", shards, 1, kinesis.MAX_SHARDS,
                       why="a stream needs at least 1 shard; the model's limit")
    rate = check_number("rate", rate, 0, HOT_MAX_RATE,
                        why="records per second; the lab's limit keeps a run near a second")
    size = check_number("size", size, 1, kinesis.MAX_RECORD_BYTES, why="bytes; a record is at most 1 MiB by default")
    suffixes = check_int("suffixes", suffixes, 1, 1_000)
    t = traffic.poisson(rate, HOT_HORIZON, 1)
    k = kinesis.make_keys(kind, len(t), HOT_KEYS, skew, 2)
    k = kinesis.spread_key(k, 0, suffixes, HOT_KEYS, 3)
    return kinesis.simulate_stream(t, k, size, shards, initial_fill="steady", horizon=HOT_HORIZON)


def hot_shard_view(r, shards, keys, rate, size, suffixes):
    off, acc = r.shard_rates()
    hot = int(np.argmax(off))
    thr = r.count(Fate.THROTTLED)
    name = {v: n for n, v in KEY_CHOICES}[keys]
    text = (f"{rate:,} records/s of {size:,} bytes, keys: {name}, hot key spread over {suffixes} sub-key"
            f"{'s' if suffixes > 1 else ''}, {shards} shard{'s' if shards > 1 else ''}. "
            f"Busiest shard {hot}: <b>{off[hot]:,.0f}</b> records/s offered, {acc[hot]:,.0f} accepted; "
            f"quietest {off.min():,.0f}/s. <b>{thr:,}</b> of {len(r.arrival):,} puts throttled "
            f"({100 * thr / max(len(r.arrival), 1):.1f}%).")
    return plots.hot_shard_figure(r), text


@register
def hot_shard_lab() -> Lab:
    """Shard count, key distribution, record rate and size, and write sharding of the hot key."""
    return Lab({"shards": _int("shards", 4, 1, 16),
                "keys": _drop("partition keys", KEY_CHOICES, "hot:0.3"),
                "rate": _int("records per second", 3_000, 500, 8_000, 500),
                "size": _drop("record size", SIZES, 200),
                "suffixes": _int("hot key split into", 1, 1, 10)},
               hot_shard_model, hot_shard_view, "Records per second offered to each shard against the write limit")


# --- 2. Consumers -------------------------------------------------------------------------------------
CONSUMER_HORIZON = 30.0
APP_NAMES = ["archive", "process"] + [f"app {i}" for i in range(3, kinesis.EFO_MAX_CONSUMERS_ADVANTAGE + 1)]
FANOUT = [("shared throughput (standard)", "shared"), ("enhanced fan-out", "efo")]


#: Highest write rate the lab models: 10 x a shard's 1,000 records/s (most are then throttled).
CONSUMER_MAX_RATE = 10_000


def consumers_model(applications, fanout, rate):
    applications = check_int("applications", applications, 1, kinesis.EFO_MAX_CONSUMERS_ADVANTAGE,
                             why="enhanced fan-out allows 20 consumers per stream, 50 with On-demand Advantage")
    fanout = check_choice("fanout", fanout, [v for _, v in FANOUT])
    rate = check_number("rate", rate, 0, CONSUMER_MAX_RATE,
                        why="records per second; the lab's limit is 10 times a shard's write limit")
    t = traffic.constant(rate, CONSUMER_HORIZON)
    keys = np.arange(len(t)) % 100
    return kinesis.simulate_stream(t, keys, 1_024, 1, consumers=applications, efo=fanout == "efo",
                                   horizon=CONSUMER_HORIZON)


def consumers_view(r, applications, fanout, rate):
    got = r.throughput(5.0) / 1024
    last = [d[-1] if len(d) else float("nan") for d in r.read_delay()]
    mode = "enhanced fan-out" if fanout == "efo" else "shared throughput"
    text = (f"One shard, {rate:,} records/s of 1 KiB ({rate * 1024 / 1024:,.0f} KiB/s written), "
            f"{applications} application{'s' if applications > 1 else ''}, {mode}: each reads "
            f"<b>{got.min():,.0f} KiB/s</b>; delay of the last record read: <b>{max(last):.2f} s</b> "
            f"(propagation {kinesis.propagation_delay(applications, fanout == 'efo'):.2f} s, illustrative); "
            f"{r.count(Fate.PENDING):,} of {len(r.arrival):,} records not yet read by every application.")
    return plots.consumers_figure(r, APP_NAMES), text


@register
def consumers_lab() -> Lab:
    """Several applications read one shard: shared 2 MB/s or enhanced fan-out."""
    return Lab({"applications": _int("applications", 2, 1, 10),
                "fanout": _drop("consumer type", FANOUT, "shared"),
                "rate": _int("records per second (1 KiB)", 800, 100, 1_000, 100)},
               consumers_model, consumers_view, "Throughput each application reads and its delay")


# --- 3. A poison record -------------------------------------------------------------------------------------
POISON_HORIZON = 300.0
POISON_AT = 30.0
RETRIES = [("-1 (default: until it expires)", -1), ("0", 0), ("2", 2), ("10", 10), ("100", 100)]
AGES = [("-1 (default: no limit)", -1), ("60 s", 60), ("120 s", 120)]
DEST = [("SQS queue", "SQS"), ("SNS topic", "SNS"), ("S3 bucket", "S3"), ("none", "none")]


def poison_stream():
    """The lab's workload: 4 shards, 20 records/s of 1 KiB over 1,000 keys for 5 minutes; the
    first record written after 30 s fails every batch it is in."""
    t = traffic.poisson(20, POISON_HORIZON, 3)
    keys = kinesis.make_keys("uniform", len(t), 1_000, 0.0, 4)
    bad = np.zeros(len(t), bool)
    i = int(np.searchsorted(t, POISON_AT))
    bad[i] = True
    return t, keys, bad, i


_POISON = poison_stream()


def poison_model(max_retry_attempts, max_record_age, bisect, parallelization_factor, destination):
    t, keys, bad, _ = _POISON
    return kinesis.simulate_stream(t, keys, 1_024, 4, lambda_consumer=True, batch_size=100, batching_window=1.0,
                                   parallelization_factor=parallelization_factor,
                                   max_retry_attempts=max_retry_attempts, max_record_age=max_record_age,
                                   bisect=bisect, destination=destination, bad=bad, horizon=POISON_HORIZON)


def where_bad(r, i) -> str:
    f = Fate(r.fate[i])
    s = int(r.shard[i])
    if f == Fate.PENDING:
        return f"still blocking shard {s}; tried {int(r.attempts[i]):,} times"
    if f == Fate.DESTINATION:
        d = r.params["destination"]
        return f"skipped after {r.finish[i] - r.arrival[i]:.0f} s, to {d}; the {d} destination got {DESTINATION_GETS[d]}"
    if f == Fate.DISCARDED:
        return f"skipped after {r.finish[i] - r.arrival[i]:.0f} s, no destination; it is gone"
    return f"{kinesis.FATE_NAMES[f]}"


def poison_view(r, max_retry_attempts, max_record_age, bisect, parallelization_factor, destination):
    i = _POISON[3]
    s = int(r.shard[i])
    age = r.iterator_age(np.array([POISON_HORIZON]))[:, 0]
    others = np.delete(age, s)
    text = (f"MaximumRetryAttempts {max_retry_attempts}, MaximumRecordAgeInSeconds {max_record_age}, "
            f"BisectBatchOnFunctionError {'on' if bisect else 'off'}, ParallelizationFactor {parallelization_factor}, "
            f"on-failure destination: {destination}. The bad record (shard {s}): <b>{where_bad(r, i)}</b>. "
            f"At 5 min, iterator age of shard {s}: <b>{age[s]:.0f} s</b>, other shards at most {others.max():.1f} s; "
            f"{r.count(Fate.PROCESSED):,} processed, {r.count(Fate.DESTINATION) + r.count(Fate.DISCARDED):,} skipped, "
            f"{r.count(Fate.PENDING):,} waiting.")
    return plots.poison_figure(r, i, where_bad(r, i).split(";")[0]), text


@register
def poison_lab() -> Lab:
    """One bad record in one shard: retries, maximum record age, bisect, parallelization."""
    return Lab({"max_retry_attempts": _drop("MaximumRetryAttempts", RETRIES, -1),
                "max_record_age": _drop("MaximumRecordAgeInSeconds", AGES, -1),
                "bisect": _check("BisectBatchOnFunctionError", False),
                "parallelization_factor": _int("ParallelizationFactor", 1, 1, 10),
                "destination": _drop("on-failure destination", DEST, "SQS")},
               poison_model, poison_view, "Iterator age per shard while one bad record fails its batches")
