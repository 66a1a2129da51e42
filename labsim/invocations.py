"""One small workload through Lambda's three invocation models, exactly (chapter 2's timeline).

Workload: ``events`` events, one every ``gap`` seconds, each handler run taking ``duration``
seconds. Event ``fail_index`` fails its first ``fail_count`` runs (1 = a transient error,
more than the retries = a persistent one); every other run succeeds. Nothing is random.

* ``"sync"`` (CLI, SDK, API Gateway): one caller sends the events in turn and *waits* for each
  answer; the next event goes out when the previous call has returned. The **caller** retries a
  failed call ``retries`` times with its own backoff (``labsim.retry.RetryPolicy``, exponential
  from 1 s: the caller's choice, not an AWS number). A failure that outlasts the retries ends
  with the caller, as an error it must handle.
* ``"async"`` (S3, SNS, EventBridge): the caller gets HTTP 202 at once; **Lambda** runs the
  event from its internal queue and retries function errors ``retries`` times (MaximumRetryAttempts)
  about 1 and 2 minutes apart (``labsim.lambda_async``, which this module calls; it assumes
  exactly 60 s and 120 s). A failure that
  outlasts the retries goes to the on-failure destination.
* ``"esm"`` (event source mapping; a stream such as Kinesis or DynamoDB Streams): the producer
  gets its write acknowledged at once; **Lambda's poller** reads records in order in batches of
  ``batch_size`` and retries a failed batch ``retries`` times, while the records behind it wait
  (order is kept). **Assumption:** AWS gives no delay between these retries; the model retries
  at once. When the retries run out the whole batch is skipped, records that did not fail
  included, and the on-failure destination gets a record *about* the batch: an SQS queue or SNS
  topic receives only metadata (shard, sequence numbers), only an S3 destination receives the
  records themselves (kinesis-on-failure-destination.html). SQS queues also use event source
  mappings but fail differently (a failed message returns after its visibility timeout and ends
  in the queue's own DLQ) and are not drawn here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import lambda_async
from .retry import RetryPolicy
from .validation import check_choice, check_int, check_number

MODES = ("sync", "async", "esm")
MODE_NAMES = {"sync": "synchronous", "async": "asynchronous", "esm": "event source mapping (stream)"}
RETRIED_BY = {"sync": "the caller", "async": "Lambda (internal queue)", "esm": "Lambda (event source mapping)"}
#: A Kinesis or DynamoDB Streams mapping's MaximumRetryAttempts defaults to -1: retry until the
#: record expires. https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-parameters.html
STREAM_DEFAULT_MAX_RETRY_ATTEMPTS = -1
#: What a stream's on-failure destination receives, by destination type.
#: https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
STREAM_FAILURE_RECORD = {"SQS": "metadata about the batch (shard, sequence numbers)",
                         "SNS": "metadata about the batch (shard, sequence numbers)",
                         "S3": "the batch's records, with the metadata"}
#: What the caller sees when it sends an event.
CALLER_SEES = {"sync": "the function's answer, after waiting", "async": "HTTP 202 at once",
               "esm": "the stream's write acknowledgement at once"}

# Where an event ends (``TimelineResult.place``).
OK_CALLER, ERROR_CALLER, OK_LAMBDA, FAILURE_DESTINATION, BATCH_SKIPPED = range(5)
PLACE_NAMES = ("succeeded: caller got 200", "failed: caller got the error", "succeeded",
               "on-failure destination", "on-failure destination (skipped with its batch)")

#: The synchronous caller's own retry policy (its choice: exponential backoff from 1 s).
CALLER_BASE_S = 1.0
MAX_EVENTS = 10
MAX_FAIL_COUNT = 10


@dataclass(frozen=True)
class TimelineResult:
    """One mode's timeline: per-event and per-run arrays (times in seconds)."""

    mode: str
    sent: np.ndarray          #: when the caller sent (or the producer wrote) each event
    answered: np.ndarray      #: when the caller got its answer (sync: after waiting)
    answer_ok: np.ndarray     #: False where the caller's answer was an error (sync only)
    place: np.ndarray         #: where each event ended (OK_CALLER ... BATCH_SKIPPED)
    final_time: np.ndarray    #: when each event reached its final place
    runs: np.ndarray          #: handler runs that included the event
    run_event: np.ndarray     #: per run (one row per event in the run): which event
    run_start: np.ndarray
    run_end: np.ndarray
    run_ok: np.ndarray        #: False where the run returned an error
    params: dict

    @property
    def retried_by(self) -> str:
        return RETRIED_BY[self.mode]

    def books(self) -> dict:
        """Every event in exactly one final place:
        ``events == ok_caller + error_caller + ok_lambda + failure_destination + batch_skipped``."""
        d = {"events": len(self.sent)}
        for k, name in enumerate(("ok_caller", "error_caller", "ok_lambda", "failure_destination",
                                  "batch_skipped")):
            d[name] = int((self.place == k).sum())
        return d

    @property
    def end(self) -> float:
        return float(max(self.final_time.max(), self.run_end.max()))

    @property
    def extra_runs(self) -> int:
        """Runs beyond one per event: retries, and good records re-run with their retried batch."""
        return int(self.runs.sum() - len(self.runs))


def _sync(n, gap, duration, ff, retries):
    policy = RetryPolicy("exponential", base=CALLER_BASE_S, cap=60.0, max_attempts=retries + 1)
    sent, answered, ok, place, final, runs = (np.zeros(n) for _ in range(6))
    rows = []
    free = 0.0
    for i in range(n):
        t = sent[i] = max(i * gap, free)
        k = 0
        while True:
            k += 1
            good = k > ff[i]
            rows.append((i, t, t + duration, good))
            t += duration
            if good or k > retries:
                break
            t += policy.delay(k - 1)
        answered[i] = final[i] = free = t
        ok[i] = good
        place[i] = OK_CALLER if good else ERROR_CALLER
        runs[i] = k
    return sent, answered, ok.astype(bool), place, final, runs, rows


def _async(n, gap, duration, ff, retries):
    arr = np.arange(n) * gap
    r = lambda_async.simulate_async(arrivals=arr, mean_duration=duration, fail_first=ff, error_rate=0.0,
                                    max_retry_attempts=retries, horizon=arr[-1] + 3_600.0)
    place = np.where(r.where == lambda_async.FAILURE_DESTINATION, FAILURE_DESTINATION, OK_LAMBDA)
    rows = [(int(e), float(s), float(en), k == lambda_async.RUN_OK)
            for e, s, en, k in zip(r.attempt_event, r.attempt_time, r.attempt_end, r.attempt_kind)]
    return arr, arr.copy(), np.ones(n, bool), place, r.final_time.copy(), r.runs.astype(float), rows


def _esm(n, gap, duration, ff, retries, batch_size):
    arr = np.arange(n) * gap
    left = list(ff)
    place = np.zeros(n)
    final = np.zeros(n)
    runs = np.zeros(n)
    rows = []
    p, now, tries = 0, 0.0, 0
    while p < n:
        start = max(now, arr[p])
        if tries == 0:                              # a new batch; a retry re-reads the same one
            q = p + 1
            while q < n and q - p < batch_size and arr[q] <= start:
                q += 1
        batch = range(p, q)
        end = start + duration
        bad = [i for i in batch if left[i] > 0]
        for i in bad:
            left[i] -= 1
        tries += 1
        for i in batch:
            runs[i] += 1
            rows.append((i, start, end, not bad))
        now = end
        if bad and tries <= retries:
            continue                                # retry the same batch at once
        for i in batch:
            final[i] = end
            place[i] = OK_LAMBDA if not bad else (FAILURE_DESTINATION if i in bad else BATCH_SKIPPED)
        p, tries = q, 0
    return arr, arr.copy(), np.ones(n, bool), place, final, runs, rows


def simulate_timeline(mode: str = "async", *, events: int = 5, gap: float = 10.0, duration: float = 2.0,
                      fail_index: int = 2, fail_count: int = 1, retries: int = 2,
                      batch_size: int = 1) -> TimelineResult:
    """The workload above through one invocation model (deterministic)."""
    check_choice("mode", mode, MODES)
    n = check_int("events", events, 1, MAX_EVENTS)
    gap = check_number("gap", gap, 0, 3_600)
    duration = check_number("duration", duration, 0, 900, lo_open=True,
                            why="a Lambda invocation runs at most 900 s")
    fi = check_int("fail_index", fail_index, -1, n - 1, why=f"an event's index below events={n}; -1 means no event fails")
    fc = check_int("fail_count", fail_count, 0, MAX_FAIL_COUNT)
    retries = check_int("retries", retries, 0, lambda_async.MAX_RETRY_ATTEMPTS,
                        why="MaximumRetryAttempts for async invocation is 0 to 2")
    b = check_int("batch_size", batch_size, 1, MAX_EVENTS)
    ff = [fc if i == fi else 0 for i in range(n)]
    if mode == "sync":
        out = _sync(n, gap, duration, ff, retries)
    elif mode == "async":
        out = _async(n, gap, duration, ff, retries)
    else:
        out = _esm(n, gap, duration, ff, retries, b)
    sent, answered, ok, place, final, runs, rows = out
    re, rs, rend, rok = (np.array(c) for c in zip(*rows))
    params = dict(mode=mode, events=n, gap=gap, duration=duration, fail_index=fi, fail_count=fc,
                  retries=retries, batch_size=b)
    return TimelineResult(mode, np.asarray(sent, float), np.asarray(answered, float), np.asarray(ok, bool),
                          np.asarray(place, int), np.asarray(final, float), np.asarray(runs, int),
                          re.astype(int), rs.astype(float), rend.astype(float), rok.astype(bool), params)


def simulate_all(**kw) -> dict:
    """The same workload through every mode: ``{mode: TimelineResult}``."""
    return {m: simulate_timeline(m, **kw) for m in MODES}
