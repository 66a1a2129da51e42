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
            f"{r.count(Fate.PENDING):,} of {len(r.arrival):,} records not yet read by every application. "
            f"{getrecords_text(r)}")
    return plots.consumers_figure(r, APP_NAMES), text


def getrecords_text(r) -> str:
    """The GetRecords calls the shard gets, each standard application polling once per second
    (the model's assumption), against the 5 a shard allows."""
    g = r.getrecords()
    if not g["pollers"]:
        return "Enhanced fan-out pushes the records to each consumer: no GetRecords calls."
    if not g["refused_per_s"]:
        return (f"GetRecords: {g['calls_per_s']:.0f} call{'s' if g['calls_per_s'] != 1 else ''} per second on the "
                f"shard (each application polls once per second, an assumption), within the 5 allowed.")
    return (f"GetRecords: {g['calls_per_s']:.0f} calls per second on the shard (each application polls once per "
            f"second, an assumption) against the 5 allowed: <b>{g['refused_per_s']:.0f} refused every second</b> "
            f"with ReadProvisionedThroughputExceeded, so each application gets a call through only about every "
            f"{g['success_every_s']:.1f} s, and a record can wait that long.")


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


# --- Try this (the chapter's guided steps; labsim.labs.trythis) -----------------------------------
from ..kinesis import Fate as _Fate  # noqa: E402
from .trythis import Expect, Step, steps  # noqa: E402  (after the factories: one block per module)


def _hot_shard(r):
    """The busiest shard's offered and refused rates, and the others' mean offered rate (records/s)."""
    off, acc = r.shard_rates()
    h = int(np.argmax(off))
    return {"hot_offered": float(off[h]), "hot_refused": float(1 - acc[h] / off[h]),
            "others": float(np.delete(off, h).mean()) if len(off) > 1 else 0.0}


def _hot_key_shards(r):
    """How many shards the hot customer's records land in (key 0 and its suffixed keys)."""
    return len(np.unique(r.shard[np.isin(r.keys[r.key], [0] + list(range(HOT_KEYS + 1, HOT_KEYS + 10)))]))


steps("hot_shard_lab",
      Step(key="shards-8", title="Twice the shards",
           values={"shards": 8},
           ask="One customer sends 30% of the records, and its shard refuses about 30% of what it is offered. "
               "Raise shards to 8. Does the hot shard cool down?",
           answer="Hardly: it still gets about {hot_offered:,} records per second and refuses about "
                  "{hot_refused:.0%}, while the other seven carry about {others} each. More shards do not "
                  "split a key.",
           measure=_hot_shard,
           expect={"hot_offered": Expect(1_170, rel=0.15), "hot_refused": Expect(0.15, rel=0.15),
                   "others": Expect(260, rel=0.15)}),
      Step(key="split-hot-key", title="Split the hot key",
           values={"suffixes": 10},
           ask="Back at 4 shards, split the hot key into 10 (a random suffix from 0 to 9 on each of that "
               "customer's records). How many puts are throttled now, and what is the price?",
           answer="{throttled}: the busiest shard is offered about {busiest} records per second, under its "
                  "limit of 1,000. The price: the customer's records now sit in {key_shards} shards, so their "
                  "order is lost.",
           measure=lambda r: {"throttled": r.count(_Fate.THROTTLED), "busiest": float(r.shard_rates()[0].max()),
                              "key_shards": _hot_key_shards(r)},
           expect={"throttled": Expect(0), "busiest": Expect(900, rel=0.15), "key_shards": Expect(3)}),
      Step(key="size-5-kib", title="Bigger records",
           values={"size": 5_120},
           ask="With the hot key whole again, set the record size to 5 KiB. Which limit binds now, and how "
               "much is throttled?",
           answer="The byte limit, at about {accepted} records per second per shard (1 MB, which the model "
                  "counts as 1 MiB, over 5 KiB): about three quarters of all puts ({throttled:.0%}) are throttled.",
           measure=lambda r: {"accepted": float(r.shard_rates()[1].mean()),
                              "throttled": r.count(_Fate.THROTTLED) / len(r.arrival)},
           expect={"accepted": Expect(205, rel=0.15), "throttled": Expect(0.75, rel=0.15)}))


def _read_rate(r):
    return float(np.min(r.throughput(5.0)) / 1024)


steps("consumers_lab",
      Step(key="three-apps", title="A third application",
           values={"applications": 3},
           ask="Raise applications to 3, all standard consumers sharing the shard's 2 MB per second. "
               "800 KiB per second are written. Does each application keep up?",
           answer="No: each gets a third, about {read:,} KiB per second, less than the 800 written. After "
                  "30 seconds the last record each has read is about {behind} seconds old, and the gap keeps "
                  "growing.",
           measure=lambda r: {"read": _read_rate(r), "behind": float(max(d[-1] for d in r.read_delay()))},
           expect={"read": Expect(683, rel=0.15), "behind": Expect(5, rel=0.15)}),
      Step(key="efo", title="Enhanced fan-out",
           values={"applications": 3, "fanout": "efo"},
           ask="Switch the consumer type to enhanced fan-out. Do the three applications keep up now?",
           answer="Yes: each has its own 2 MB per second and reads all {read:,} KiB per second, about "
                  "{delay_ms} ms behind.",
           measure=lambda r: {"read": _read_rate(r),
                              "delay_ms": 1e3 * float(max(np.median(d) for d in r.read_delay()))},
           expect={"read": Expect(800, rel=0.01), "delay_ms": Expect(70, rel=0.15)}),
      Step(key="efo-10", title="Ten applications with fan-out",
           values={"applications": 10, "fanout": "efo"},
           ask="Raise applications to 10, still with enhanced fan-out. Does anyone fall behind?",
           answer="No: it is the same, each reads all {read:,} KiB per second about {delay_ms} ms behind.",
           measure=lambda r: {"read": _read_rate(r),
                              "delay_ms": 1e3 * float(max(np.median(d) for d in r.read_delay()))},
           expect={"read": Expect(800, rel=0.01), "delay_ms": Expect(70, rel=0.15)}),
      Step(key="shared-10", title="Ten applications sharing the shard",
           values={"applications": 10, "rate": 100},
           ask="Back to shared throughput, set applications to 10 and the rate to 100 records per second, "
               "so the bytes fit easily. Each application polls the shard once per second (the model's "
               "assumption). What happens to the GetRecords calls?",
           answer="The shard gets {calls} calls per second against its 5: {refused} are refused every second "
                  "with ReadProvisionedThroughputExceeded. Each application gets a call through about every "
                  "{every:.0f} s, and every record is read about {delay:.0f} s after it was written.",
           measure=lambda r: {"calls": int(r.getrecords()["calls_per_s"]),
                              "refused": int(r.getrecords()["refused_per_s"]),
                              "every": r.getrecords()["success_every_s"],
                              "delay": float(max(np.median(d) for d in r.read_delay()))},
           expect={"calls": Expect(10), "refused": Expect(5), "every": Expect(2.0),
                   "delay": Expect(2.0, rel=0.15)}))


def _bad(r):
    """The bad record's index, its shard's iterator age at 5 minutes, and the records still waiting."""
    i = _POISON[3]
    return i, float(r.iterator_age([POISON_HORIZON])[int(r.shard[i]), 0]), r.count(_Fate.PENDING)


def _others_max_age(r):
    """The largest iterator age at 5 minutes among the shards without the bad record."""
    age = r.iterator_age([POISON_HORIZON])[:, 0]
    return float(np.delete(age, int(r.shard[_POISON[3]])).max())


steps("poison_lab",
      Step(key="defaults", title="One bad record, default error handling",
           values={},
           ask="With the mapping's default error handling (MaximumRetryAttempts -1, MaximumRecordAgeInSeconds -1, "
               "no bisection), the first record written after 30 s fails every time. Predict, for the 5 minutes "
               "shown: what does "
               "the bad record's shard do, what do the other three do, and how many records end up waiting?",
           answer="The shard stops: its iterator age climbs to about {age} s by the end, while the other three "
                  "stay under a second. About {waiting:,} records wait behind the bad one, and would wait until "
                  "retention removes it (24 hours by default).",
           measure=lambda r: {"age": _bad(r)[1], "waiting": _bad(r)[2],
                              "others_under_1_s": _others_max_age(r) < 1},
           expect={"age": Expect(270, rel=0.15), "waiting": Expect(1_400, rel=0.15),
                   "others_under_1_s": Expect(True)}),
      Step(key="retries-2", title="Bound the retries",
           values={"max_retry_attempts": 2},
           ask="Set MaximumRetryAttempts to 2. What happens to the bad record's batch, and to the shard?",
           answer="After {attempts} attempts, about {seconds} s, Lambda skips the batch and the shard flows "
                  "again (its iterator age is back under 1 s at the end). All {to_destination} records of that "
                  "batch go to the on-failure destination; an SQS queue receives only their description, so "
                  "they must be read from the stream before retention removes them.",
           measure=lambda r: {"attempts": int(r.attempts[_POISON[3]]),
                              "seconds": float(r.finish[_POISON[3]] - r.arrival[_POISON[3]]),
                              "age_under_1_s": _bad(r)[1] < 1,
                              "to_destination": r.count(_Fate.DESTINATION)},
           expect={"attempts": Expect(3), "seconds": Expect(1, rel=0.15), "age_under_1_s": Expect(True),
                   "to_destination": Expect(5)}),
      Step(key="bisect", title="Bisect the batch",
           values={"max_retry_attempts": 2, "bisect": True},
           ask="Turn on BisectBatchOnFunctionError as well. How many records go to the destination now?",
           answer="{to_destination}: the batch is halved until the bad record is alone, and the other "
                  "{processed} are processed.",
           measure=lambda r: {"to_destination": r.count(_Fate.DESTINATION),
                              "processed": int(((poison_model(2, -1, False, 1, "SQS").fate == _Fate.DESTINATION)
                                                & (r.fate == _Fate.PROCESSED)).sum())},
           expect={"to_destination": Expect(1), "processed": Expect(4)}),
      Step(key="parallel-10", title="Parallel batches per shard",
           values={"bisect": True, "parallelization_factor": 10},
           ask="Set MaximumRetryAttempts back to -1 and ParallelizationFactor to 10 (bisect still on). Predict "
               "directions, not numbers: is the shard still blocked? Do more or fewer records wait than at the "
               "defaults?",
           answer="Still blocked (in the model its iterator age is still about {age} s), but fewer records wait. "
                  "AWS documents "
                  "that Lambda keeps the order per partition key: only the records that share a key with the "
                  "blocked batch must wait behind it. That the other keys keep flowing in the other 9 batches, "
                  "and how keys are dealt to batches, are the model's assumptions (AWS documents neither); "
                  "the model's count, about {waiting} records waiting, rests on them. For the exam: a higher "
                  "ParallelizationFactor narrows what a poison record blocks; it does not unblock the shard.",
           measure=lambda r: {"age": _bad(r)[1], "waiting": _bad(r)[2],
                              "other_batches": r.params["parallelization_factor"] - 1},
           expect={"age": Expect(270, rel=0.15), "waiting": Expect(150, rel=0.15), "other_batches": Expect(9)}))
