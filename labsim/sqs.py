"""Amazon SQS: standard and FIFO queues drained by consumers or by a Lambda event source mapping.

Arrays in, arrays out
---------------------
A queue takes its traffic as an array of *send* times (any ``labsim.traffic`` generator, or the
departures of another model) and returns, per message, when it entered the queue, when it was
first received, how often it was received and processed, and when it **left** the queue
(``departure``: deleted, moved to the DLQ or expired). The departures of deleted messages are the
arrivals of the next stage: that is how later chapters chain services.

The model (one event loop, :class:`_Sim`: one method per event kind)
--------------------------------------------------------------------
* **Sends.** One ``SendMessage`` call per message, or ``SendMessageBatch`` calls of ``send_batch``
  consecutive messages, made when the batch's last message is ready. A FIFO queue admits at most
  300 calls per second per action (the same :func:`labsim.tokenbucket.admit` bucket every rate
  limit in the book uses). A refused call is an error the producer's SDK retries
  (``retry_mode="standard"``, an assumption below); a call whose retries run out (or with
  ``retry_mode="none"``, its first refusal) loses its messages: *throttled*, never in the queue.
  FIFO deduplication: a send whose deduplication ID was accepted less than 5 minutes earlier is
  accepted but not enqueued (*deduplicated*).
* **Pull model.** Consumers ask (``ReceiveMessage``, up to ``max_messages`` = 1 to 10 at a time),
  process the messages one after another, and delete each one when it succeeds. A received
  message is hidden for the **visibility timeout**; if it is not deleted by then it becomes
  visible again and is delivered again. Nothing is removed by being read.
* **Long polling** (``wait_time_seconds`` 1 to 20): an idle consumer's request waits until a
  message is available or the wait runs out, then it asks again. **Short polling** (0): a request
  returns at once; it is repeated every ``poll_interval`` seconds while the consumer is idle.
* **Dead-letter queue**: with ``max_receive_count`` set, a message received that many times is
  moved to the DLQ by the next receive that would return it (SQS: when maxReceiveCount is
  exceeded, https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html). If nobody receives (consumers down, the end of
  the run) it stays in the queue, and may expire there.
* **Retention**: a message still in the queue ``retention`` seconds after it was sent is deleted
  by SQS (*expired*).
* **Delay**: a message becomes visible ``delay`` seconds after it was sent.
* **Consumers down** (``consumer_down=(t0, t1)``, :func:`simulate_queue`): the consumers make no
  receive request from ``t0`` until ``t1`` (work already in hand finishes and is deleted); the
  messages wait in the queue, and expire if the retention period runs out first. It runs on the
  event loop.
* **Lambda event source mapping** (:func:`simulate_lambda_sqs`): the same loop with Lambda's
  pollers as the consumers: batches of up to ``batch_size`` (closed early by the 6 MB payload cap
  or by the end of the batching window), one invocation per batch, the scaling rule (5 concurrent
  batches, then up to 300 more per minute, up to 1,250 or ``MaximumConcurrency``), and
  ``ReportBatchItemFailures``. The function's concurrency (its reservation, or the unreserved
  pool: the account quota minus every reservation) bounds the invocations: a batch beyond it is
  *throttled*, its messages hidden until the visibility timeout ends, the receive counted toward
  maxReceiveCount (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html). A function timeout longer than the
  visibility timeout is refused (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).

Labelled assumptions (AWS documents no figure or mechanism for these)
---------------------------------------------------------------------
* ``short_poll_fraction``: the share of SQS's servers a short poll samples (default 0.5). A
  standard queue spreads its messages over ``servers`` servers, each message on one of them at
  random; a short poll samples each server with this probability, a long poll asks all of them.
  For a FIFO queue, a short poll sees the queue with this probability and is empty otherwise.
* Standard queues, **reordering**: a receive takes the oldest visible message of a server picked
  at random among the (sampled) servers that hold one. With ``servers=1`` the queue is strictly
  first in, first out.
* Standard queues, **duplicates**: with probability ``duplicate_prob`` a deleted message leaves a
  stale copy on another server; the copy becomes visible when the visibility timeout of the
  receive that deleted it ends, and is delivered (and processed) once more.
* A ``DeleteMessage`` succeeds only with the receipt handle of the message's latest receive (AWS:
  an older handle "might not" delete it); a consumer still working on a message whose visibility
  timeout ran out and which was received again is a duplicate, its delete does nothing.
* SDK retries of refused FIFO sends (``retry_mode="standard"``): the AWS SDKs' standard retry
  mode as the SDKs and Tools Reference Guide describes it (:data:`SDK_RETRY_PAGE`): 3 attempts,
  a wait of U(0, 1) x min(2^(k-1), 20) s before retry k, a retry quota of 500 tokens at 5 a
  retry (1 returned per first-attempt success, 5 per successful retry). Other modes differ
  (boto3's default "legacy" makes 5 attempts with no quota). A retried message enters the queue
  when its call is accepted, after messages sent later: FIFO order is the order SQS accepts.
* The event source mapping's **scale-down** (``scale_down``, default 1): AWS documents that
  Lambda reduces the mapping's concurrency on function errors and throttles, not by how much;
  the model retires ``scale_down`` pollers per failed (any message failed) or throttled
  invocation, keeping at least one, and scales up again by the usual rule.
* A throttled invocation is not retried within the visibility timeout: its batch comes back
  when the timeout ends (AWS advises 6 x the function timeout so that Lambda has time to retry).
* The unreserved pool is used by the function under study alone.
* Standard queues ignore ``group`` (AWS fair queues use the message group ID of a standard queue
  to serve quiet tenants first, https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-fair-queues.html; not modelled).
* A consumer or a poller that finishes while messages wait receives again at once (no network
  time); processing a message takes its drawn duration every time it is received.
* The FIFO call-limit bucket's burst (``fifo_burst``, default 300 calls: one second's worth).
  The limit is applied to ``SendMessage`` only: receives and deletes, which AWS limits to 300
  calls per second each as well, are not limited in the model.
* The event source mapping's 300 more batches per minute are spread evenly (a token bucket of
  5 refilled at 5 per second).

Every message ends in exactly one state (:class:`MessageOutcome`);
``sent == deduplicated + deleted + dlq + expired + queued + in_flight`` and
``offered == send_throttled + sent`` (:meth:`QueueResult.books`).

The c-consumer engine (:func:`drain`)
-------------------------------------
In the plain configuration (long polling, one message per receive, no failures, a visibility
timeout longer than any processing time, no delay, a first-in-first-out queue), a queue drained
by c consumers starts message n at ``max(arrival_n, the earliest time a consumer is free)``. With
a fixed processing time D the consumers free up in the order they started, so this is c
interleaved Lindley recursions ``start_n = max(arrival_n, start_{n-c} + D)``, which
:func:`_drain_fixed` solves exactly with a running maximum. :func:`simulate_queue` uses it (or the
heap loop for other durations) whenever the configuration is the plain one; a test checks it
against the general event loop message for message.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from . import traffic
from .tokenbucket import TokenBucket, admit
from .validation import check_array, check_choice, check_grid, check_int, check_number, check_window

# --- AWS numbers, each with its source -------------------------------------------------------
_SQS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
#: Visibility timeout: default 30 s, 0 s to 12 h. {_SQS}sqs-visibility-timeout.html
DEFAULT_VISIBILITY_TIMEOUT_S = 30
MAX_VISIBILITY_TIMEOUT_S = 43_200
#: Retention: default 4 days, 60 s to 14 days. {_SQS}quotas-messages.html
DEFAULT_RETENTION_S = 345_600
MIN_RETENTION_S = 60
MAX_RETENTION_S = 1_209_600
#: Delay queues and message timers: 0 to 15 min. {_SQS}sqs-delay-queues.html
MAX_DELAY_S = 900
#: Long polling: WaitTimeSeconds 1 to 20; 0 is short polling. {_SQS}sqs-short-and-long-polling.html
MAX_WAIT_TIME_S = 20
#: ReceiveMessage returns 1 to 10 messages (default 1). {_SQS}quotas-messages.html
MAX_RECEIVE_MESSAGES = 10
#: A send batch holds at most 10 messages. {_SQS}quotas-messages.html
MAX_SEND_BATCH = 10
#: Redrive policy: maxReceiveCount 1 to 1,000. {_SQS}sqs-configure-dead-letter-queue.html
MAX_RECEIVE_COUNT = 1_000
#: FIFO deduplication interval: 5 minutes. {_SQS}FIFO-queues-exactly-once-processing.html
DEDUP_WINDOW_S = 300
#: FIFO throughput: 300 API calls per second per action without batching, 3,000 messages per
#: second with batches of 10. {_SQS}quotas-messages.html
FIFO_CALLS_PER_S = 300
#: FIFO high-throughput mode: up to 70,000 non-batched calls per second per action in US East
#: (N. Virginia), US West (Oregon) and Europe (Ireland); lower in other Regions. {_SQS}quotas-messages.html
FIFO_HIGH_THROUGHPUT_CALLS_PER_S = 70_000
#: Largest message: 1 MiB. {_SQS}quotas-messages.html
MAX_MESSAGE_BYTES = 1_048_576
#: A refused send is an error the producer's SDK retries. The model assumes the AWS SDKs'
#: *standard* retry mode as the AWS SDKs and Tools Reference Guide describes it (the behaviour
#: before the opt-in 2026 retry behaviour): 3 attempts, exponential backoff with full jitter
#: (base 1 s, doubling, at most 20 s), a retry quota of 500 tokens, 5 per retry. boto3's default
#: mode is still "legacy" (5 attempts, no quota). RETRY_MODES: "standard" or "none" (no retries).
SDK_RETRY_PAGE = "https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html"
SDK_MAX_ATTEMPTS = 3
SDK_MAX_BACKOFF_S = 20.0
SDK_RETRY_QUOTA = 500
SDK_RETRY_COST = 5
RETRY_MODES = ("standard", "none")

_ESM = "https://docs.aws.amazon.com/lambda/latest/dg/"
#: Event source mapping batch size: default 10; standard queues up to 10,000, FIFO up to 10.
#: {_ESM}services-sqs-parameters.html
DEFAULT_BATCH_SIZE = 10
MAX_BATCH_SIZE_STANDARD = 10_000
MAX_BATCH_SIZE_FIFO = 10
#: MaximumBatchingWindowInSeconds 0 to 300 (standard queues only; not supported for FIFO).
#: {_ESM}services-sqs-parameters.html. A BatchSize above 10 needs a window of at least 1 s:
#: https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
MAX_BATCHING_WINDOW_S = 300
MIN_WINDOW_FOR_LARGE_BATCH_S = 1
#: A batch is sent in one synchronous invocation: at most 6 MB of payload.
#: https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html (6 MB = 6 x 2^20 bytes here)
PAYLOAD_CAP_BYTES = 6 * 1_048_576
#: Default scaling: 5 concurrent batches, then up to 300 more per minute, up to 1,250
#: (the current {_ESM}services-sqs-scaling.html; older versions of that page said 1,000).
ESM_INITIAL_BATCHES = 5
ESM_STEP_PER_MINUTE = 300
ESM_MAX_CONCURRENCY = 1_250
#: ScalingConfig MaximumConcurrency 2 to 1,000. {_ESM}API_ScalingConfig.html
MIN_MAXIMUM_CONCURRENCY = 2
MAX_MAXIMUM_CONCURRENCY = 1_000
#: Lambda's pollers use long polling (the longest wait, 20 s). {_ESM}services-sqs-scaling.html
ESM_WAIT_TIME_S = 20
#: The function's concurrency bounds the mapping: invocations beyond its reserved concurrency,
#: or beyond the unreserved pool (the Region's account quota, 1,000 by default, minus every
#: reservation), are throttled; the mapping does not account for reserved concurrency itself.
#: {_ESM}services-sqs-scaling.html, {_ESM}lambda-concurrency.html. At least 100 stay unreserved:
#: {_ESM}configuration-concurrency.html
DEFAULT_ACCOUNT_CONCURRENCY = 1_000
MAX_ACCOUNT_CONCURRENCY = 100_000             # a model bound (quotas are raised on request)
MIN_UNRESERVED = 100
#: The function's timeout (1 s to 900 s) must not exceed the queue's visibility timeout (Lambda
#: refuses the mapping); AWS advises a visibility timeout of at least 6 times the function
#: timeout. {_ESM}services-sqs-configure.html
MAX_FUNCTION_TIMEOUT_S = 900
VISIBILITY_PER_TIMEOUT = 6
#: The model's scale-down on errors and throttles (AWS documents that the mapping scales down,
#: not by how much): pollers retired per failed or throttled invocation.
DEFAULT_SCALE_DOWN = 1
MAX_SCALE_DOWN = 10

# --- model bounds (simulation sizes, not AWS limits) -----------------------------------------
MAX_CONSUMERS = 1_000
MAX_SERVERS = 100
MAX_GROUPS = 100_000
#: Events one run of the event loop may take beyond 10 per message (receives, polls, redeliveries):
#: a guard against runs that would take hours (short polls every millisecond for days, a message
#: redelivered every microsecond), not a budget: 5 million events are 10 to 40 s of CPU.
MAX_LOOP_EVENTS = 5_000_000
MODEL_BOUND = "a bound of the model, to keep one run short"
#: Mean processing time per message: the model's range (at most 15 minutes, Lambda's longest run).
MAX_MEAN_DURATION_S = 900
#: The longest run the queue models simulate (not an AWS limit).
MAX_HORIZON_S = 30 * 86_400
#: mmc_replications: messages per replication, and messages in all replications together (about
#: a second of CPU).
MIN_MMC_MESSAGES = 100
MAX_MMC_MESSAGES_TOTAL = 2_000_000
#: Most replications in one call: each costs about 0.3 ms besides its messages (10,000 of them
#: took 3 to 5 s of CPU), and the chapter's Erlang C check needs 8.
MAX_MMC_REPS = 1_000
QUEUE_TYPES = ("standard", "fifo")


class MessageOutcome(IntEnum):
    """Where a message ended (exactly one per message)."""
    DEDUPLICATED = 0   #: FIFO: accepted but dropped inside the 5-minute deduplication interval
    DELETED = 1        #: processed and deleted by a consumer
    DLQ = 2            #: moved to the dead-letter queue (maxReceiveCount reached)
    EXPIRED = 3        #: deleted by SQS at the end of the retention period
    QUEUED = 4         #: still in the queue at the horizon, visible or delayed
    IN_FLIGHT = 5      #: received, hidden by its visibility timeout at the horizon
    THROTTLED = 6      #: the send call was refused (FIFO call limit): never entered the queue


#: Outcome names in book order, as :meth:`QueueResult.books` spells them.
OUTCOME_KEYS = {MessageOutcome.DEDUPLICATED: "deduplicated", MessageOutcome.DELETED: "deleted",
                MessageOutcome.DLQ: "dlq", MessageOutcome.EXPIRED: "expired",
                MessageOutcome.QUEUED: "queued", MessageOutcome.IN_FLIGHT: "in_flight"}


@dataclass(frozen=True)
class QueueResult:
    """Per-message arrays (in send order), per-receive arrays and request counts of one run."""

    send: np.ndarray           #: when the producer had the message ready, s
    enqueue: np.ndarray        #: when SQS accepted it (the send call's time; NaN if throttled), s
    group: np.ndarray          #: message group ID (FIFO; on a standard queue the fair-queue tenant, not modelled)
    outcome: np.ndarray        #: MessageOutcome codes
    first_receive: np.ndarray  #: first ReceiveMessage that returned it (NaN if never), s
    receive_count: np.ndarray  #: times it was received (ApproximateReceiveCount)
    runs: np.ndarray           #: times a consumer started processing it (duplicate copies included)
    successes: np.ndarray      #: processing runs that succeeded (side effects done)
    duplicates: np.ndarray     #: deliveries of a stale copy after it was deleted (standard queues)
    delete_time: np.ndarray    #: when it was deleted (NaN otherwise), s
    departure: np.ndarray      #: when it left the queue: deleted, moved to the DLQ or expired, s
    receive_time: np.ndarray   #: per non-empty receive (or invocation): when, s
    receive_size: np.ndarray   #: per non-empty receive: messages returned
    busy_end: np.ndarray       #: per non-empty receive: when its consumer (or invocation) finished
    receives: int              #: ReceiveMessage requests completed by the horizon
    empty_receives: int        #: of which returned no message
    delete_calls: int          #: DeleteMessage / DeleteMessageBatch requests
    send_calls: int            #: SendMessage / SendMessageBatch requests accepted
    throttled_calls: int       #: send requests refused by the FIFO call limit
    run_message: np.ndarray    #: per processing run: which message
    run_start: np.ndarray      #: per processing run: when it started, s
    run_end: np.ndarray        #: per processing run: when it ended (may be after the horizon), s
    horizon: float
    params: dict = field(default_factory=dict)
    #: per message: attempts its send call made (1 unless the producer's SDK retried it)
    send_attempts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    #: per throttled invocation (the mapping beyond the function's concurrency): when, s
    throttle_time: np.ndarray = field(default_factory=lambda: np.zeros(0))

    # -- the books ------------------------------------------------------------------------------
    def count(self, outcome: MessageOutcome) -> int:
        return int((self.outcome == int(outcome)).sum())

    @property
    def offered(self) -> int:
        return len(self.send)

    @property
    def send_retried(self) -> int:
        """Messages SQS accepted after the SDK retried their send call."""
        return int(((self.send_attempts > 1) & np.isfinite(self.enqueue)).sum())

    def send_delay(self) -> np.ndarray:
        """For each message accepted after a retry: how much later than its first attempt, s."""
        m = (self.send_attempts > 1) & np.isfinite(self.enqueue)
        return self.enqueue[m] - self.send[m] if len(self.send_attempts) else np.zeros(0)

    @property
    def sent(self) -> int:
        """Messages SQS accepted (offered minus throttled send calls' messages)."""
        return self.offered - self.count(MessageOutcome.THROTTLED)

    def books(self) -> dict:
        """``sent == deduplicated + deleted + dlq + expired + queued + in_flight`` and
        ``offered == send_throttled + sent``."""
        d = {"offered": self.offered, "send_throttled": self.count(MessageOutcome.THROTTLED),
             "sent": self.sent}
        for o, k in OUTCOME_KEYS.items():
            d[k] = self.count(o)
        return d

    # -- processing ------------------------------------------------------------------------------
    @property
    def processed_more_than_once(self) -> int:
        """Messages whose processing succeeded twice or more (side effects repeated)."""
        return int((self.successes >= 2).sum())

    @property
    def received_more_than_once(self) -> int:
        return int((self.receive_count >= 2).sum())

    @property
    def requests(self) -> int:
        """Billed requests: sends, receives (empty ones too) and deletes."""
        return self.send_calls + self.throttled_calls + self.receives + self.delete_calls

    @property
    def messages_per_receive(self) -> float:
        return float(self.receive_size.sum() / self.receives) if self.receives else float("nan")

    def visible_time(self) -> np.ndarray:
        """When each message first became visible (enqueue + delay)."""
        return self.enqueue + self.params.get("delay", 0.0)

    def receive_latency(self) -> np.ndarray:
        """First receive minus first visible, for messages received (s): the polling latency when
        consumers are idle, plus any wait for a free consumer."""
        m = np.isfinite(self.first_receive)
        return self.first_receive[m] - self.visible_time()[m]

    def wait(self) -> np.ndarray:
        """Time from enqueue to first receive for every received message (s)."""
        m = np.isfinite(self.first_receive)
        return self.first_receive[m] - self.enqueue[m]

    def out_of_order(self) -> int:
        """Messages deleted before a message sent earlier *in the same group* (key) was deleted:
        the messages that overtook an earlier one.

        Within each group, in send order, a message is out of order when its delete time is
        earlier than the latest delete time of the messages sent before it in its group
        (messages never deleted count as deleted at infinity).
        """
        m = ~np.isin(self.outcome, (MessageOutcome.THROTTLED, MessageOutcome.DEDUPLICATED))
        g = self.group[m]
        t = np.where(np.isfinite(self.delete_time[m]), self.delete_time[m], 2.0 * self.horizon + 1.0)
        if len(t) < 2:
            return 0
        order = np.lexsort((np.arange(len(g)), g))          # by group, then send order
        g, t = g[order], t[order]
        span = 4.0 * self.horizon + 4.0
        key = t + g.astype(float) * span                     # groups never overlap
        prev = np.maximum.accumulate(np.concatenate([[-np.inf], key[:-1]]))
        same = np.concatenate([[False], g[1:] == g[:-1]])
        return int((same & (key < prev)).sum())

    # -- over time -------------------------------------------------------------------------------
    def in_queue(self, grid) -> np.ndarray:
        """Messages in the queue (visible, delayed or in flight) at each time of ``grid``."""
        g = np.asarray(grid, float)
        e = self.enqueue[np.isfinite(self.enqueue) & (self.outcome != MessageOutcome.DEDUPLICATED)]
        d = self.departure[np.isfinite(self.departure)]
        return np.searchsorted(np.sort(e), g, side="right") - np.searchsorted(np.sort(d), g, side="right")

    def oldest_age(self, grid) -> np.ndarray:
        """Age of the oldest message still in the queue at each time of ``grid`` (0 if empty), s."""
        g = np.asarray(grid, float)
        m = np.isfinite(self.enqueue) & (self.outcome != MessageOutcome.DEDUPLICATED)
        order = np.argsort(self.enqueue[m], kind="stable")     # retried sends arrive out of send order
        e = self.enqueue[m][order]
        dep = np.where(np.isfinite(self.departure[m]), self.departure[m], np.inf)[order]
        if len(e) == 0:
            return np.zeros(len(g))
        # first message (in enqueue order) still there at t: first index whose departure > t;
        # the running maximum of departures crosses t exactly there.
        run = np.maximum.accumulate(dep)
        i = np.searchsorted(run, g, side="right")
        ok = (i < len(e))
        age = np.zeros(len(g))
        j = np.minimum(i, len(e) - 1)
        ok &= e[j] <= g
        age[ok] = g[ok] - e[j][ok]
        return age

    def concurrency(self, grid) -> np.ndarray:
        """Consumers (or invocations) busy at each time of ``grid``."""
        return traffic.in_progress(self.receive_time, self.busy_end, grid)


# --- the c-consumer engine ------------------------------------------------------------------------
def _drain_fixed(a: np.ndarray, d: float, c: int):
    """Start times for FCFS with c consumers and one processing time ``d`` (vectorised, exact).

    Message n goes to the consumer that served n - c (they free up in start order), so
    start_n = max(a_n, start_{n-c} + d): per residue r = n mod c a Lindley recursion
    s_k = max(x_k, s_{k-1} + d), i.e. s_k = k d + max_{j <= k} (x_j - j d). Returns the start
    times and the time each message's consumer became free before it (0 for the first c).
    """
    n = len(a)
    if n == 0:
        return np.empty(0), np.empty(0)
    m = -(-n // c)
    x = np.full(m * c, np.inf)
    x[:n] = a
    x = x.reshape(m, c)
    k = np.arange(m, dtype=float)[:, None] * d
    s = (np.maximum.accumulate(x - k, axis=0) + k).ravel()[:n]
    prev = np.empty(n)
    prev[:c] = 0.0
    prev[c:] = s[:-c] + d if n > c else prev[c:]
    return s, prev


def _drain_heap(a: np.ndarray, dur: np.ndarray, c: int, horizon: float = math.inf):
    """The same for any processing times: a heap of the consumers' free times.

    Stops at the first start after ``horizon`` (starts never decrease). Returns starts (of the
    messages started by the horizon), the free time before each, and the final free times.
    """
    free = [0.0] * c
    rep = heapq.heapreplace
    starts, prevs = [], []
    sa, pa = starts.append, prevs.append
    for x, d in zip(a.tolist(), dur.tolist()):
        f = free[0]
        s = x if x > f else f
        if s > horizon:
            break
        sa(s)
        pa(f)
        rep(free, s + d)
    return np.array(starts), np.array(prevs), free


def _check_drain(arrivals, durations, consumers):
    a = check_array("arrivals", arrivals)
    d = check_array("durations", durations, sorted_=False)
    c = check_int("consumers", consumers, 1, MAX_CONSUMERS, why=MODEL_BOUND)
    if len(d) != len(a):
        raise ValueError(f"durations must have one value per value of arrivals ({len(a):,}), got {len(d):,}")
    return a, d, c


def drain(arrivals, durations, consumers: int):
    """Start times of a first-in-first-out queue drained by ``consumers`` workers.

    Each message starts at ``max(arrival, earliest free consumer)`` and holds its consumer for
    its duration. Fixed durations use the exact vectorised Lindley form, others a heap loop.
    """
    a, d, c = _check_drain(arrivals, durations, consumers)
    if len(d) and np.all(d == d[0]):
        return _drain_fixed(a, float(d[0]), c)[0]
    return _drain_heap(a, d, c)[0]


def drain_loop(arrivals, durations, consumers: int) -> np.ndarray:
    """Reference for tests: one message at a time, a heap of free times (no shortcuts)."""
    a, dur, c = _check_drain(arrivals, durations, consumers)
    free = [0.0] * c
    out = []
    for x, d in zip(a.tolist(), dur.tolist()):
        f = heapq.heappop(free)
        s = max(x, f)
        out.append(s)
        heapq.heappush(free, s + d)
    return np.array(out)


def _long_poll_empties(gap: np.ndarray, wait: float) -> int:
    """Empty long polls before a message arrives ``gap`` seconds into an idle stretch."""
    g = gap[gap > 0]
    return int((np.ceil(g / wait) - 1).sum())


# --- sends: batching, the FIFO call limit, deduplication ------------------------------------------
def _sends(t, fifo, send_batch, fifo_rate, fifo_burst, dedup_ids, retry_mode="none", seed=0):
    """Per message: enqueue time (NaN if lost), outcome pre-set for lost/deduplicated, attempts.

    Returns (enqueue, pre_outcome or -1, accepted calls, refused attempts, attempts per message)."""
    n = len(t)
    b = send_batch
    ncalls = -(-n // b)
    pre = np.full(n, -1, np.int8)
    if not fifo and b == 1:                       # one call per message, no call limit
        return t.copy(), pre, n, 0, np.ones(n, np.int16)
    last = np.minimum(np.arange(1, ncalls + 1) * b, n) - 1
    call_t = t[last] if n else np.empty(0)
    call_of = np.arange(n) // b
    ok_call = admit(call_t, fifo_rate, fifo_burst) if fifo and ncalls else np.ones(ncalls, bool)
    attempts = np.ones(ncalls, np.int16)
    refused = int(ncalls - ok_call.sum())
    if refused and retry_mode == "standard":
        call_t, ok_call, attempts, refused = _sdk_standard_retries(call_t, fifo_rate, fifo_burst, seed)
    enq = call_t[call_of] if n else np.empty(0)
    thr = ~ok_call[call_of] if n else np.zeros(0, bool)
    pre[thr] = MessageOutcome.THROTTLED
    enq = np.where(thr, np.nan, enq)
    if fifo and dedup_ids is not None:
        seen: dict = {}
        ids = dedup_ids.tolist()
        el = enq.tolist()
        for i in np.argsort(enq, kind="stable").tolist():         # in the order SQS accepted them
            if thr[i]:
                continue
            k = ids[i]
            t0 = seen.get(k)
            if t0 is not None and el[i] - t0 < DEDUP_WINDOW_S:
                pre[i] = MessageOutcome.DEDUPLICATED
            else:
                seen[k] = el[i]
    return enq, pre, int(ok_call.sum()), refused, attempts[call_of] if n else np.zeros(0, np.int16)


def _sdk_standard_retries(call_t, rate, burst, seed):
    """The producer's SDK retries refused send calls: the AWS SDKs' *standard* retry mode (the
    model's assumption, :data:`SDK_RETRY_PAGE`): at most 3 attempts per call, a wait of
    ``U(0, 1) x min(2^(k-1), 20)`` s before retry k, and a retry quota of 500 tokens that each
    retry costs 5 of (no retry once it is spent); a call that succeeds at once returns 1 token,
    a retry that succeeds returns its 5. Returns each call's accepted time (its send time if it
    was lost), admitted flags, attempts, and the refused attempts."""
    bucket = TokenBucket(rate, burst)
    rng = np.random.default_rng([seed, 7])        # its own stream: the queue's draws stay as they were
    xs = call_t.tolist()
    n = len(xs)
    out_t = list(xs)
    ok = [False] * n
    attempts = [1] * n
    quota, refused = SDK_RETRY_QUOTA, 0
    # First attempts come in time order; only retries need the heap. The two are merged in the
    # order of (time, call, attempt), as one heap of all of them would pop them. The bucket's
    # take() is inlined (TokenBucket's own formulas) for speed: this loop runs once per call.
    dep, inv, m, k = bucket.dep, bucket.inv, bucket.m, bucket.k
    heappush, heappop, popleft, append = heapq.heappush, heapq.heappop, dep.popleft, dep.append
    h, i, first = [], 0, dep[0]                   # first: when the bucket's next token is there
    full, cost = SDK_RETRY_QUOTA, SDK_RETRY_COST
    # The waits' uniform draws, drawn at once: the same numbers, in the same order, as one
    # rng.random() per retry (at most SDK_MAX_ATTEMPTS - 1 retries per call).
    u, nu = rng.random(n * (SDK_MAX_ATTEMPTS - 1)).tolist(), 0
    while i < n or h:
        if h and (i >= n or h[0][0] < xs[i] or (h[0][0] == xs[i] and h[0][1] < i)):
            x, c, a = heappop(h)
            attempts[c] = a
        else:
            x, c, a = xs[i], i, 1
            i += 1
        if x >= first:                                    # admitted (TokenBucket.take)
            k += 1
            mm = x - (k - 1) * inv
            if mm > m:
                m = mm
            popleft()
            append(m + k * inv)
            first = dep[0]
            ok[c] = True
            out_t[c] = x
            if quota < full:
                quota += cost if a > 1 else 1
                if quota > full:
                    quota = full
            continue
        refused += 1
        if a < SDK_MAX_ATTEMPTS and quota >= cost:
            quota -= cost
            heappush(h, (x + u[nu] * min(2.0 ** (a - 1), SDK_MAX_BACKOFF_S), c, a + 1))
            nu += 1
    return np.array(out_t), np.array(ok, bool), np.array(attempts, np.int16), refused


# --- the general event loop -------------------------------------------------------------------------
_VISIBLE_EV, _VT_EV, _GHOST_EV, _EXPIRE_EV = 1, 2, 3, 4          # message events (priority 1)
_END_EV, _DONE_EV = 10, 11                                         # completions (priority 0)
_POLL_EV, _GATHER_EV, _SCALE_EV, _RESUME_EV = 20, 21, 22, 23     # pollers (priority 2)
_S_PENDING, _S_VISIBLE, _S_HELD, _S_DELETED, _S_DLQ, _S_EXPIRED = range(6)


def _run(enq, pre, dur, poison, group, server, **kw):
    """Event loop shared by consumers and the Lambda mapping. Returns per-message lists."""
    return _Sim(enq, pre, dur, poison, group, server, **kw).run()


_push, _pop = heapq.heappush, heapq.heappop


def _uniforms(rng):
    """Uniform random numbers from ``rng``, drawn in blocks of 4,096 as they are needed."""
    while True:
        yield from rng.random(4096).tolist()


class _Sim:
    """One run of the event loop: the queue's state, its workers, and one method per event kind.

    Events sit in a heap of ``(time, priority, seq, kind, a, b)``; arrivals come from the sorted
    enqueue times beside it. An event handler returns True when the queue changed so that idle
    workers may have work: the loop then *dispatches* once every event of that instant is handled.

    ================  =====================================  ==========================
    event             handler                                 what happens
    ================  =====================================  ==========================
    arrival           :meth:`arrive`                          enqueued (visible or delayed)
    ``_VISIBLE_EV``   :meth:`delay_ends`                      a delayed message becomes visible
    ``_END_EV``       :meth:`receive_ends`                    a worker finished its receive/batch
    ``_DONE_EV``      :meth:`message_done`                    one message of a receive finished
    ``_VT_EV``        :meth:`visibility_expires`              visible again, or moved to the DLQ
    ``_GHOST_EV``     :meth:`stale_copy_appears`              a deleted message's stale copy
    ``_EXPIRE_EV``    :meth:`retention_ends`                  SQS deletes the message
    ``_POLL_EV``      :meth:`short_poll`                      a short poller asks again
    ``_GATHER_EV``    :meth:`window_ends`                     a batching window closes
    ``_SCALE_EV``     :meth:`scaling_token`                   the mapping may add a batch
    ``_RESUME_EV``    :meth:`consumers_resume`                the consumer outage ends
    ================  =====================================  ==========================
    """

    def __init__(self, enq, pre, dur, poison, group, server, *, horizon, fifo, lam, consumers, wait, cap,
                 vt, delay, retention, mrc, p_fail, q_dup, f_short, poll_interval, policy, window,
                 max_slots, n_servers, rng, down=(math.inf, math.inf), fn_limit=math.inf, scale_down=0):
        n = len(enq)
        self.enq, self.pre, self.n, self.H, self.fifo, self.lam = enq, pre, n, horizon, fifo, lam
        self.wait, self.cap, self.vt, self.delay, self.retention, self.mrc = wait, cap, vt, delay, retention, mrc
        self.p_fail, self.q_dup, self.f_short, self.poll_interval = p_fail, q_dup, f_short, poll_interval
        self.policy, self.window, self.max_slots, self.n_servers = policy, window, max_slots, n_servers
        self.each = policy == "each"
        self.rng = rng
        self.d0, self.d1 = down
        # per message
        self.state = [_S_PENDING] * n
        self.rc = [0] * n
        self.holder = [-1] * n
        self.runs = [0] * n
        self.oks = [0] * n
        self.dups = [0] * n
        self.first = [math.nan] * n
        self.dele = [math.nan] * n
        self.dep = [math.nan] * n
        self.durl, self.poil = dur.tolist(), poison.tolist()
        self.grp, self.srv = group.tolist(), server.tolist()
        # per non-empty receive, per processing run, request counts
        self.rx_t, self.rx_n, self.rx_end = [], [], []
        self.run_m, self.run_s, self.run_e = [], [], []
        self.cnt = {"receives": 0, "empty": 0, "deletes": 0}
        self.batches: dict = {}
        # uniform random numbers, drawn in blocks (one generator, loop order: deterministic)
        self.u = _uniforms(rng).__next__
        # the visible set: FIFO per group (a group is locked while one of its messages is held),
        # standard per server (keys 2i for a message, 2i + 1 for its stale copy; lazy deletion)
        self.nvis = 0
        if fifo:
            ng = int(group.max()) + 1 if n else 1
            self.gq = [[] for _ in range(ng)]
            self.lock = [0] * ng
            self.avail: list = []
        else:
            self.heaps = [[] for _ in range(n_servers)]
            self.sv = [0] * n_servers
            self.ghost = [False] * n
        self.h: list = []
        self.next_seq = itertools.count(1).__next__
        # workers: idle heap of (idle since, worker) for long polling; parked dict for short polling
        self.short = (not lam) and wait == 0
        self.idle: list = []
        self.parked: dict = {}
        self.poll_token: list = []
        self.slots = 0
        self.bucket = TokenBucket(ESM_STEP_PER_MINUTE / 60.0, ESM_INITIAL_BATCHES) if lam else None
        self.scale_pending = False
        self.gather_pending = False
        self.next_worker = 0
        # the function's concurrency (the mapping), and the model's scale-down on errors
        self.fn_limit, self.scale_down = fn_limit, scale_down
        self.running = self.retire = 0
        self.thr_t: list = []
        if not lam:
            self.slots = consumers
            self.poll_token = [0] * consumers
            if self.short:
                self.parked = {w: 0.0 for w in range(consumers)}
            else:
                self.idle = [(0.0, w) for w in range(consumers)]
        self.handlers = [None] * (_RESUME_EV + 1)          # by event kind
        for kind, handler in ((_END_EV, self.receive_ends), (_DONE_EV, self.message_done),
                              (_VT_EV, self.visibility_expires), (_VISIBLE_EV, self.delay_ends),
                              (_GHOST_EV, self.stale_copy_appears), (_EXPIRE_EV, self.retention_ends),
                              (_POLL_EV, self.short_poll), (_GATHER_EV, self.window_ends),
                              (_SCALE_EV, self.scaling_token), (_RESUME_EV, self.consumers_resume)):
            self.handlers[kind] = handler
        # the queue type's version of the visible-set operations
        self.has_work = self.has_work_fifo if fifo else self.has_work_standard
        self.take = self.take_fifo if fifo else self.take_standard
        self.make_visible = self.make_visible_fifo if fifo else self.make_visible_standard

    # -- helpers -----------------------------------------------------------------------------------
    def ev(self, t, prio, kind, a=0, b=0):
        _push(self.h, (t, prio, self.next_seq(), kind, a, b))

    # -- the visible set -----------------------------------------------------------------------------
    def fifo_head(self, g):
        q = self.gq[g]
        if q:
            state = self.state
            while state[q[0]] != _S_VISIBLE:
                _pop(q)
                if not q:
                    return -1
            return q[0]
        return -1

    def release(self, g):
        """Group ``g`` offers its head again once none of its messages is held."""
        if self.lock[g] == 0:
            hd = self.fifo_head(g)
            if hd >= 0:
                _push(self.avail, (hd, g))

    def has_work_standard(self):
        return self.nvis > 0

    def has_work_fifo(self):
        """A group is free (no message held) and its head is visible."""
        avail, lock, head = self.avail, self.lock, self.fifo_head
        while avail:
            hd, g = avail[0]
            if lock[g] == 0 and head(g) == hd:
                return True
            _pop(avail)
            if lock[g] == 0:
                hh = head(g)
                if hh >= 0 and hh != hd:
                    _push(avail, (hh, g))
        return False

    def make_visible_fifo(self, i):
        self.state[i] = _S_VISIBLE
        self.nvis += 1
        g = self.grp[i]
        _push(self.gq[g], i)
        if self.lock[g] == 0:                     # self.release(g), inline: this is the hot path
            hd = self.fifo_head(g)
            if hd >= 0:
                _push(self.avail, (hd, g))

    def make_visible_standard(self, i):
        self.state[i] = _S_VISIBLE
        self.nvis += 1
        s = self.srv[i]
        _push(self.heaps[s], 2 * i)
        self.sv[s] += 1

    def unvisible(self, i):
        """A visible message leaves the visible set (lazily in the heaps)."""
        self.nvis -= 1
        if not self.fifo:
            self.sv[self.srv[i]] -= 1

    def unlock(self, i):
        """A FIFO message stops being held: its group may offer its head again."""
        g = self.grp[i]
        self.lock[g] -= 1
        self.release(g)

    # -- receiving -----------------------------------------------------------------------------------
    def to_dlq(self, i, t):
        """SQS moves a message received ``maxReceiveCount`` times to the DLQ when a receive would
        return it once more (instead of returning it)."""
        self.state[i] = _S_DLQ
        self.dep[i] = t
        self.nvis -= 1

    def take_fifo(self, t):
        items = []
        if self.short and self.u() >= self.f_short:
            return items
        avail, gq, lock, cap, mrc = self.avail, self.gq, self.lock, self.cap, self.mrc
        while len(items) < cap and self.has_work():
            _, g = _pop(avail)
            while len(items) < cap:
                hd = self.fifo_head(g)
                if hd < 0:
                    break
                _pop(gq[g])
                if mrc and self.rc[hd] >= mrc:
                    self.to_dlq(hd, t)
                    continue
                self.nvis -= 1
                lock[g] += 1
                items.append((hd, False))
            if mrc and not lock[g]:               # every message the group offered went to the DLQ
                self.release(g)
        return items

    def take_standard(self, t):
        """Messages (and stale copies) from the servers a receive reaches, oldest first per server."""
        items = []
        if self.nvis == 0:
            return items
        short, f_short, sv, u = self.short, self.f_short, self.sv, self.u
        if self.n_servers == 1:
            cand = [0] if (not short or u() < f_short) else []
        else:
            cand = [s for s in range(self.n_servers) if sv[s] > 0 and (not short or u() < f_short)]
        heaps, ghost, state, cap, mrc = self.heaps, self.ghost, self.state, self.cap, self.mrc
        pop = _pop
        while len(items) < cap and cand:
            j = 0 if len(cand) == 1 else int(u() * len(cand))
            s = cand[j]
            q = heaps[s]
            while True:
                key = pop(q)
                i = key >> 1
                if key & 1:
                    if ghost[i]:
                        ghost[i] = False
                        break
                elif state[i] == _S_VISIBLE:
                    break
            sv[s] -= 1
            if mrc and not key & 1 and self.rc[i] >= mrc:
                self.to_dlq(i, t)
            else:
                self.nvis -= 1
                items.append((i, bool(key & 1)))
            if sv[s] == 0:
                cand.pop(j)
        return items

    def receive(self, t, w):
        """Worker ``w`` receives at ``t``: the messages are hidden (held) under receipt handle
        ``rid`` and processed one after another (FIFO stops at the first failure). Returns False
        if it got nothing."""
        items = self.take(t)
        cnt = self.cnt
        if not items:
            if self.mrc and not self.short:
                return False              # a long poll whose messages all went to the DLQ waits on
            cnt["receives"] += 1
            cnt["empty"] += 1
            return False
        if self.lam:
            cnt["receives"] += -(-len(items) // MAX_RECEIVE_MESSAGES)
            if self.running >= self.fn_limit:
                self.throttle(items, t, w)
                return True
            self.running += 1
        else:
            cnt["receives"] += 1
        rid = len(self.rx_t)
        rc, holder, state, first, dups, runs = self.rc, self.holder, self.state, self.first, self.dups, self.runs
        durl, poil, p_fail, fifo, u = self.durl, self.poil, self.p_fail, self.fifo, self.u
        run_m, run_s, run_e = self.run_m, self.run_s, self.run_e
        tc = t
        okf, done_at = [], []         # per item: success (None: not processed), finish time
        stop = False
        for i, gh in items:
            if gh:
                dups[i] += 1
            else:
                rc[i] += 1
                holder[i] = rid
                state[i] = _S_HELD
                if first[i] != first[i]:
                    first[i] = t
            if stop:
                okf.append(None)
                done_at.append(math.inf)
                continue
            run_m.append(i)
            run_s.append(tc)
            tc += durl[i]
            run_e.append(tc)
            runs[i] += 1
            ok = not (poil[i] or (p_fail > 0 and u() < p_fail))
            okf.append(ok)
            done_at.append(tc)
            if fifo and not ok:
                stop = True
        self.rx_t.append(t)
        self.rx_n.append(len(items))
        self.rx_end.append(tc)
        if len(items) == 1 and self.each:     # one message: its completion is the receive's end
            h, i = self.h, items[0][0]
            if not items[0][1] and not (okf[0] and tc <= t + self.vt):
                _push(h, (t + self.vt, 1, self.next_seq(), _VT_EV, i, rid))
            _push(h, (tc, 0, self.next_seq(), _END_EV, w, rid))
        else:
            self.schedule_outcomes(items, okf, done_at, t, tc, w, rid)
        self.batches[rid] = (items, okf, t)
        return True

    def throttle(self, items, t, w):
        """The mapping invokes the function beyond its concurrency: Lambda refuses the batch. Its
        messages stay hidden until the visibility timeout ends; the receive counts."""
        rid = -2 - len(self.thr_t)        # a receipt handle no invocation uses
        self.thr_t.append(t)
        vt_end = t + self.vt
        for i, gh in items:
            if gh:
                self.dups[i] += 1
                continue
            self.rc[i] += 1
            self.holder[i] = rid
            self.state[i] = _S_HELD
            if self.first[i] != self.first[i]:
                self.first[i] = t
            self.ev(vt_end, 1, _VT_EV, i, rid)
        self.batches[rid] = (items, None, t)
        self.ev(t, 0, _END_EV, w, rid)

    def schedule_outcomes(self, items, okf, done_at, t, end, w, rid):
        """The events a receive leads to: per-message completions (consumers delete each message
        when it succeeds), visibility timeouts of the messages that will not be deleted in time,
        and the end of the receive."""
        limit = t + self.vt
        h, seq, push, last = self.h, self.next_seq, _push, len(items) - 1
        if self.policy == "each":
            H = self.H
            for k, (i, gh) in enumerate(items):
                ok = okf[k]
                if ok is not None and done_at[k] <= H and k < last:
                    push(h, (done_at[k], 0, seq(), _DONE_EV, i * 2 + gh, rid))
                if not gh and not (ok and done_at[k] <= limit):
                    push(h, (limit, 1, seq(), _VT_EV, i, rid))
        else:
            allok = all(o for o in okf if o is not None) and None not in okf
            partial = self.policy == "partial"
            for k, (i, gh) in enumerate(items):
                if gh:
                    continue
                deleted = (okf[k] is True) and (partial or allok)
                if not (deleted and end <= limit):
                    push(h, (limit, 1, seq(), _VT_EV, i, rid))
        push(h, (end, 0, seq(), _END_EV, w, rid))

    def delete(self, i, t, rid):
        """Delete with the receipt handle of receive ``rid``: works for the latest receive only."""
        if self.holder[i] != rid:
            return
        s = self.state[i]
        if s == _S_HELD:
            self.state[i] = _S_DELETED
            if self.fifo:
                g = self.grp[i]
                self.lock[g] -= 1
                self.release(g)
        elif s == _S_VISIBLE:
            self.unvisible(i)
            self.state[i] = _S_DELETED
        else:
            return
        self.dele[i] = t
        self.dep[i] = t
        if self.q_dup > 0 and not self.fifo and self.u() < self.q_dup:
            self.ev(max(t, self.rx_t[rid] + self.vt), 1, _GHOST_EV, i)

    def finish_item(self, i2, ok, t, rid):
        """A consumer's message (``2i + stale copy``) finished: on success it is deleted."""
        i, gh = i2 >> 1, i2 & 1
        if ok:
            self.oks[i] += 1
            if not gh:
                self.cnt["deletes"] += 1
                self.delete(i, t, rid)

    # -- workers: handing out work, scaling the mapping ------------------------------------------------
    def scale(self, t):
        """The mapping adds a concurrent batch if its scaling bucket has a token."""
        if self.slots >= self.max_slots:
            return False
        if self.bucket.take(t):
            w = self.next_worker
            self.next_worker += 1
            self.slots += 1
            self.poll_token.append(0)
            _push(self.idle, (t, w))
            return True
        if not self.scale_pending:
            self.scale_pending = True
            self.ev(self.bucket.dep[0], 2, _SCALE_EV)
        return False

    def wake_short_pollers(self, t):
        """Parked short pollers polled (empty) every poll_interval: the next one finds work."""
        if self.parked and self.has_work():
            cnt, pi = self.cnt, self.poll_interval
            for w, g0 in list(self.parked.items()):
                k = math.ceil((t - g0) / pi) if t > g0 else 0
                cnt["receives"] += k
                cnt["empty"] += k
                self.poll_token[w] += 1
                self.ev(g0 + k * pi, 2, _POLL_EV, w, self.poll_token[w])
            self.parked.clear()

    def dispatch(self, t, force=False):
        """Hand visible messages to idle workers (long polling / Lambda) or wake short pollers."""
        if self.d0 <= t < self.d1:                # consumers down: nobody receives until d1
            return
        if self.short:
            self.wake_short_pollers(t)
            return
        has_work = self.has_work
        if not has_work():
            return
        idle, window = self.idle, self.window
        while True:                               # has_work() holds here
            if window > 0 and not force and self.nvis < self.cap:
                if not self.gather_pending:
                    self.gather_pending = True
                    self.ev(t + window, 2, _GATHER_EV)
                return
            if not idle:
                if not (self.lam and self.scale(t)):
                    return
            else:
                s0, w = _pop(idle)
                if t > s0:                        # the empty long polls it made while idle
                    k = math.ceil((t - s0) / self.wait) - 1
                    self.cnt["receives"] += k
                    self.cnt["empty"] += k
                if not self.receive(t, w):        # its messages went to the DLQ: it polls on
                    _push(idle, (t, w))
                force = False
            if not has_work():
                return

    # -- event handlers (True: a dispatch is owed at this instant) --------------------------------
    def arrive(self, t, ai, arr, arr_t):
        """Every message sent at ``t`` (a send batch shares one time) enters the queue: visible at
        once, or after the queue's delay. ``arr[ai:]`` are the messages still to come, ``arr_t``
        their times; returns the index of the first one after ``t``."""
        na, delay, make_visible = len(arr), self.delay, self.make_visible
        while ai < na and arr_t[ai] == t:
            if delay > 0:
                self.ev(t + delay, 1, _VISIBLE_EV, arr[ai])
            else:
                make_visible(arr[ai])
            ai += 1
        return ai

    def receive_ends(self, t, w, rid):
        """A receive's processing is over: batch deletes (the mapping), then the worker is free."""
        items, okf, rt = self.batches.pop(rid)
        if okf is None:                           # a throttled invocation
            return self.poller_free(t, w, True)
        if self.policy == "each":                 # a consumer deletes its last message if it succeeded
            if okf[-1]:
                i, gh = items[-1]
                self.oks[i] += 1
                if not gh:
                    self.cnt["deletes"] += 1
                    self.delete(i, t, rid)
        else:
            allok = None not in okf and all(okf)
            partial = self.policy == "partial"
            ndel = 0
            for k, (i, gh) in enumerate(items):
                if okf[k]:
                    self.oks[i] += 1
                    if not gh and (partial or allok):
                        self.delete(i, t, rid)
                        ndel += 1
            self.cnt["deletes"] += -(-ndel // MAX_SEND_BATCH)
            self.running -= 1
            if self.retire or (self.scale_down and not allok):
                return self.poller_free(t, w, not allok)
            _push(self.idle, (t, w))
            return True
        if self.short:
            if self.has_work():
                self.poll_token[w] += 1
                self.ev(t, 2, _POLL_EV, w, self.poll_token[w])
            else:
                self.parked[w] = t
            return False
        _push(self.idle, (t, w))
        return True

    def poller_free(self, t, w, error):
        """A mapping's poller is free after an invocation (``error``: it failed or was throttled).
        The model's scale-down (an assumption): each error retires ``scale_down`` pollers, the
        next ones to become free, keeping at least one."""
        if error and self.scale_down:
            self.retire = min(self.retire + self.scale_down, self.slots - 1)
        if self.retire > 0:
            self.retire -= 1
            self.slots -= 1
            return True
        _push(self.idle, (t, w))
        return True

    def message_done(self, t, i2, rid):
        """One message of a consumer's receive finished (not the last: :meth:`receive_ends`)."""
        items, okf, rt = self.batches[rid]
        k = next(j for j, (i, gh) in enumerate(items) if 2 * i + gh == i2)
        self.finish_item(i2, okf[k], t, rid)
        return True

    def visibility_expires(self, t, i, rid):
        """The visibility timeout of receive ``rid`` ends: the message is visible again."""
        if not (self.state[i] == _S_HELD and self.holder[i] == rid):
            return False
        if self.fifo:
            self.lock[self.grp[i]] -= 1
        self.make_visible(i)          # with maxReceiveCount reached, the next receive moves it to the DLQ
        if self.fifo:
            self.release(self.grp[i])
        return True

    def delay_ends(self, t, i, _=0):
        if self.state[i] == _S_PENDING:
            self.make_visible(i)
            return True
        return False

    def stale_copy_appears(self, t, i, _=0):
        """A deleted message's stale copy becomes visible on its server (standard queues)."""
        self.ghost[i] = True
        s = self.srv[i]
        _push(self.heaps[s], 2 * i + 1)
        self.sv[s] += 1
        self.nvis += 1
        return True

    def retention_ends(self, t, i, _=0):
        s = self.state[i]
        if s not in (_S_PENDING, _S_VISIBLE, _S_HELD):
            return False
        if s == _S_VISIBLE:
            self.unvisible(i)
        elif s == _S_HELD and self.fifo:
            self.unlock(i)
        self.state[i] = _S_EXPIRED
        self.dep[i] = t
        return True

    def short_poll(self, t, w, tok):
        if tok != self.poll_token[w]:
            return False
        if self.d0 <= t < self.d1:
            self.ev(self.d1, 2, _POLL_EV, w, tok)
            return False
        if not self.receive(t, w):
            if self.has_work():
                self.poll_token[w] += 1
                self.ev(t + self.poll_interval, 2, _POLL_EV, w, self.poll_token[w])
            else:
                self.parked[w] = t + self.poll_interval
        return False

    def window_ends(self, t, a=0, b=0):
        self.gather_pending = False
        self.dispatch(t, force=True)
        return False

    def scaling_token(self, t, a=0, b=0):
        self.scale_pending = False
        return True

    def consumers_resume(self, t, a=0, b=0):
        """Idle long pollers polled (empty) until d0, and start polling again at d1."""
        if not self.short:
            d0, d1, cnt = self.d0, self.d1, self.cnt
            for s0, w in self.idle:
                if s0 < d0:
                    k = math.floor((d0 - s0) / self.wait)
                    cnt["receives"] += k
                    cnt["empty"] += k
            self.idle[:] = [(max(s0, d1), w) for s0, w in self.idle]
            heapq.heapify(self.idle)
        return True

    # -- the loop ----------------------------------------------------------------------------------
    def schedule_start(self):
        """The outage's end and the retention events that fall inside the horizon."""
        if self.d0 < self.d1 < math.inf:
            self.ev(self.d1, 2, _RESUME_EV)
        enq, pre = self.enq, self.pre
        for i in np.flatnonzero(np.isfinite(enq) & (pre < 0) & (enq + self.retention <= self.H)).tolist():
            self.ev(float(enq[i]) + self.retention, 1, _EXPIRE_EV, i)

    def run(self):
        self.schedule_start()
        arr = np.flatnonzero(self.pre < 0)
        arr_t = self.enq[arr].tolist()
        arr = arr.tolist()
        na, ai = len(arr), 0
        pending = -1.0            # a dispatch is owed at this time (state changes at one instant first)
        inf, H, h, pop, handlers = math.inf, self.H, self.h, _pop, self.handlers
        arrive, dispatch, visible_at_once = self.arrive, self.dispatch, self.delay == 0
        steps, max_steps = 0, MAX_LOOP_EVENTS + 10 * self.n
        while True:
            if pending >= 0:
                nt = arr_t[ai] if ai < na else inf
                if h and h[0][0] < nt:
                    nt = h[0][0]
                if nt > pending:
                    tp, pending = pending, -1.0
                    dispatch(tp)
                    continue
            if ai < na and (not h or (arr_t[ai], 1) < (h[0][0], h[0][1])):
                t = arr_t[ai]
                if t > H:
                    break
                ai = arrive(t, ai, arr, arr_t)
                if visible_at_once:
                    pending = t
                continue
            if not h:
                break
            t, _, _, kind, a, b = pop(h)
            if t > H:
                break
            steps += 1
            if steps > max_steps:
                raise ValueError(_too_long(max_steps, t, H, self.short, self.vt,
                                           bool(self.n) and self.vt < max(self.durl), self.poll_interval,
                                           self.f_short))
            if handlers[kind](t, a, b):
                pending = t
        self.count_idle_polls()
        return (self.state, self.rc, self.runs, self.oks, self.dups, self.first, self.dele, self.dep,
                self.rx_t, self.rx_n, self.rx_end, self.cnt, self.slots, (self.run_m, self.run_s, self.run_e),
                self.thr_t)

    def count_idle_polls(self):
        """Idle workers at the horizon: their completed empty polls."""
        H, d0, d1, cnt = self.H, self.d0, self.d1, self.cnt
        if self.short:
            for w, g0 in self.parked.items():
                if g0 <= H:
                    k = math.floor((H - g0) / self.poll_interval) + 1
                    cnt["receives"] += k
                    cnt["empty"] += k
            return
        for s0, w in self.idle:
            if d0 <= H < d1 and s0 < d0:       # down at the horizon: polls until d0 only
                k = math.floor((d0 - s0) / self.wait)
            elif s0 <= H and not (d0 <= H < d1):
                k = math.floor((H - s0) / self.wait)
            else:
                continue
            cnt["receives"] += k
            cnt["empty"] += k


def _too_long(steps, t, H, short, vt, bounce, poll_interval, f_short) -> str:
    """The message for a run that needs more events than its bound (:data:`MAX_LOOP_EVENTS`)."""
    tips = ["a shorter horizon"]
    if short:
        tips.append(f"a longer poll_interval (now {poll_interval:g} s) or a larger short_poll_fraction "
                    f"(now {f_short:g})")
    if bounce:
        tips.append(f"a visibility_timeout longer than the processing times (now {vt:g} s)")
    return (f"horizon={H:g} s is out of reach: the run passed {steps:,} events (polls, receives, "
            f"redeliveries) at {t:g} s, the model's bound against runs that would take hours: try "
            + ", or ".join(tips))


def _plain(enq, dur, c, wait, H):
    """The plain configuration through :func:`drain`: same outputs as :func:`_run`."""
    n = len(enq)
    fixed = n > 0 and bool(np.all(dur == dur[0]))
    if fixed:
        s, prev = _drain_fixed(enq, float(dur[0]), c)
        m = int(np.searchsorted(s, H, side="right"))          # starts never decrease
        s, prev = s[:m], prev[:m]
        idx = np.arange(max(m - c, 0), m)
        final = np.concatenate([s[idx] + dur[0], np.zeros(c - len(idx))])
    else:
        s, prev, final = _drain_heap(enq, dur, c, H)
        m = len(s)
        final = np.array(final)
    end = s + dur[:m]
    empties = _long_poll_empties(s - prev, wait)
    f = final[final <= H]
    empties += int(np.floor((H - f) / wait).sum())
    state = np.full(n, _S_VISIBLE, np.int8)
    state[:m] = np.where(end <= H, _S_DELETED, _S_HELD)
    first = np.full(n, np.nan)
    first[:m] = s
    rc = np.zeros(n, int)
    rc[:m] = 1
    oks = np.zeros(n, int)
    oks[:m] = end <= H
    dele = np.full(n, np.nan)
    dele[:m] = np.where(end <= H, end, np.nan)
    cnt = {"receives": m + empties, "empty": empties, "deletes": int(oks.sum())}
    return (state, rc, rc.copy(), oks, np.zeros(n, int), first, dele, dele.copy(), s, np.ones(m, int),
            end, cnt, c, (np.arange(m), s, end), [])


# --- public models ----------------------------------------------------------------------------------
def group_ids(n: int, groups: int, rng) -> np.ndarray:
    """``n`` message group IDs drawn uniformly from ``groups`` groups (at least 1)."""
    n = check_int("n", n, 0, traffic.MAX_REQUESTS, why="messages in one run")
    groups = check_int("groups", groups, 1, MAX_GROUPS, why="a FIFO message needs a message group ID")
    rng = traffic._rng(rng, "rng")
    return rng.integers(0, groups, n) if groups > 1 else np.zeros(n, int)


def _check_times(name: str, value, horizon: float) -> np.ndarray:
    """Sorted times in ``[0, horizon)`` (sends, publishes); the error names ``horizon`` too when a
    time is at or after it."""
    t = check_array(name, value, 0.0)
    if len(t) and t[-1] >= horizon:
        raise ValueError(f"{name} has a value at or after the horizon ({t[-1]:g} s): every one must come "
                         f"before horizon={horizon:g} s")
    return t


def _poison_flags(poison, n, rng) -> np.ndarray:
    """One flag per message: a share drawn at random, or the caller's flags."""
    if np.ndim(poison) == 0:
        frac = check_number("poison", poison, 0, 1, why="the share of poison messages")
        return rng.random(n) < frac if frac > 0 else np.zeros(n, bool)
    raw = np.asarray(poison)
    if raw.shape != (n,):
        raise ValueError(f"poison must be a fraction or one flag per message ({n:,}), got shape {raw.shape}")
    if raw.dtype != bool and not (raw.dtype.kind in "iuf" and np.isin(raw, (0, 1)).all()):
        raise ValueError("poison must be a fraction or one flag per message: True/False (or 1/0) each")
    return raw.astype(bool)


def _group_of(group, groups, n, rng) -> np.ndarray:
    """One message group ID per message: the caller's, or drawn from ``groups`` groups."""
    if group is None:
        return group_ids(n, groups, rng)
    g = check_array("group", group, 0, MAX_GROUPS - 1, sorted_=False)
    if len(g) != n or np.any(g != np.round(g)):
        raise ValueError(f"group must hold one whole number from 0 to {MAX_GROUPS - 1:,} per message ({n:,})")
    return g.astype(int)


def _check_dedup_ids(dedup_ids, fifo, n):
    if dedup_ids is None:
        return None
    if not fifo:
        raise ValueError("dedup_ids is not allowed on a standard queue: deduplication IDs are FIFO only")
    try:
        dedup_ids = np.asarray(dedup_ids)
        hash(tuple(dedup_ids.tolist())) if dedup_ids.ndim == 1 else None
    except (TypeError, ValueError):
        raise ValueError(f"dedup_ids must hold one ID (a string or a number) per message ({n:,}), "
                         f"got {dedup_ids!r:.80}") from None
    if dedup_ids.shape != (n,):
        raise ValueError(f"dedup_ids must hold one ID per message ({n:,}), got shape {dedup_ids.shape}")
    return dedup_ids


def _common(arrivals, horizon, queue_type, visibility_timeout, delay, retention, max_receive_count,
            duration_kind, mean_duration, duration_cv, failure_prob, poison, groups, group, dedup_ids,
            send_batch, fifo_burst, duplicate_prob, servers, seed, retry_mode="none"):
    horizon = check_number("horizon", horizon, 0, MAX_HORIZON_S, lo_open=True, why=MODEL_BOUND)
    t = _check_times("arrivals", arrivals, horizon)
    fifo = check_choice("queue_type", queue_type, QUEUE_TYPES) == "fifo"
    vt = check_number("visibility_timeout", visibility_timeout, 0, MAX_VISIBILITY_TIMEOUT_S,
                      why="SQS allows 0 s to 12 hours (43,200 s)")
    delay = check_number("delay", delay, 0, MAX_DELAY_S, why="SQS delays allow 0 to 900 s (15 minutes)")
    retention = check_number("retention", retention, MIN_RETENTION_S, MAX_RETENTION_S,
                             why="SQS keeps messages 60 s to 14 days (1,209,600 s)")
    mrc = None if max_receive_count is None else check_int(
        "max_receive_count", max_receive_count, 1, MAX_RECEIVE_COUNT,
        why="the redrive policy's maxReceiveCount is 1 to 1,000")
    duration_kind, mean_duration, duration_cv = traffic._check_durations(
        duration_kind, mean_duration, duration_cv, max_mean=MAX_MEAN_DURATION_S,
        why_mean="the mean processing time per message, at most 15 minutes")
    p = check_number("failure_prob", failure_prob, 0, 1)
    send_batch = check_int("send_batch", send_batch, 1, MAX_SEND_BATCH, why="a send batch holds 1 to 10 messages")
    fifo_burst = check_int("fifo_burst", fifo_burst, 1, 100_000, why="a modelling assumption: the FIFO call "
                           "limit's burst, in calls")
    q = check_number("duplicate_prob", duplicate_prob, 0, 1, hi_open=True)
    servers = check_int("servers", servers, 1, MAX_SERVERS, why="a modelling assumption: SQS's servers")
    retry_mode = check_choice("retry_mode", retry_mode, RETRY_MODES)
    seed = check_int("seed", seed, 0, why="a seed")
    rng = traffic.make_rng(seed)
    n = len(t)
    dur = traffic.durations(duration_kind, mean_duration, n, rng, duration_cv)
    pois = _poison_flags(poison, n, rng)
    g = _group_of(group, groups, n, rng)
    dedup_ids = _check_dedup_ids(dedup_ids, fifo, n)
    srv = rng.integers(0, servers, n) if (servers > 1 and not fifo) else np.zeros(n, int)
    enq, pre, calls, thr_calls, attempts = _sends(t, fifo, send_batch, FIFO_CALLS_PER_S, fifo_burst, dedup_ids,
                                                  retry_mode, seed)
    return dict(t=t, horizon=horizon, fifo=fifo, vt=vt, delay=delay, retention=retention, mrc=mrc, p=p,
                q=q, servers=servers, rng=rng, dur=dur, pois=pois, g=g, srv=srv, enq=enq, pre=pre, calls=calls,
                thr_calls=thr_calls, attempts=attempts)


def _loop(c, **kw):
    """The event loop on the messages in the order SQS accepted them (retried sends arrive late),
    per-message outputs back in send order."""
    enq, pre = c["enq"], c["pre"]
    e = enq[np.isfinite(enq)]
    if np.all(e[1:] >= e[:-1]):
        return _run(enq, pre, c["dur"], c["pois"], c["g"], c["srv"], **kw)
    perm = np.argsort(enq, kind="stable")                   # NaN (lost) last
    out = list(_run(enq[perm], pre[perm], c["dur"][perm], c["pois"][perm], c["g"][perm], c["srv"][perm], **kw))
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    for k in range(8):                                      # the per-message lists
        out[k] = np.asarray(out[k])[inv].tolist()
    run_m, run_s, run_e = out[13]
    out[13] = (perm[np.asarray(run_m, int)].tolist(), run_s, run_e)
    return tuple(out)


def _result(c, out, params):
    (state, rc, runs, oks, dups, first, dele, dep, rx_t, rx_n, rx_end, cnt, slots, log, thr_t) = out
    n = len(c["t"])
    st = np.asarray(state, np.int8)
    outcome = np.full(n, int(MessageOutcome.QUEUED), np.int8)
    outcome[st == _S_HELD] = MessageOutcome.IN_FLIGHT
    outcome[st == _S_DELETED] = MessageOutcome.DELETED
    outcome[st == _S_DLQ] = MessageOutcome.DLQ
    outcome[st == _S_EXPIRED] = MessageOutcome.EXPIRED
    pre = c["pre"]
    outcome[pre >= 0] = pre[pre >= 0]
    params = dict(params, slots=slots)
    return QueueResult(c["t"], c["enq"], c["g"], outcome, np.asarray(first, float), np.asarray(rc, int),
                       np.asarray(runs, int), np.asarray(oks, int), np.asarray(dups, int),
                       np.asarray(dele, float), np.asarray(dep, float), np.asarray(rx_t, float),
                       np.asarray(rx_n, int), np.asarray(rx_end, float), int(cnt["receives"]),
                       int(cnt["empty"]), int(cnt["deletes"]), c["calls"], c["thr_calls"],
                       np.asarray(log[0], int), np.asarray(log[1], float), np.asarray(log[2], float),
                       c["horizon"], params, c["attempts"], np.asarray(thr_t, float))


def simulate_queue(arrivals, *, horizon: float, consumers: int = 1, queue_type: str = "standard",
                   wait_time_seconds: int = MAX_WAIT_TIME_S, max_messages: int = 1,
                   visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT_S, delay: float = 0.0,
                   retention: float = DEFAULT_RETENTION_S, max_receive_count: int | None = None,
                   duration_kind: str = "fixed", mean_duration: float = 1.0, duration_cv: float = 1.0,
                   failure_prob: float = 0.0, poison=0.0, groups: int = 1, group=None, dedup_ids=None,
                   send_batch: int = 1, fifo_burst: int = FIFO_CALLS_PER_S, duplicate_prob: float = 0.0,
                   servers: int = 1, short_poll_fraction: float = 0.5, poll_interval: float = 0.05,
                   consumer_down=None, seed: int = 0, engine: str = "auto",
                   retry_mode: str = "standard") -> QueueResult:
    """A queue drained by ``consumers`` that receive, process and delete (module docstring).

    ``arrivals``: sorted send times in ``[0, horizon)``. ``groups`` (or ``group``, one ID per
    message) are the FIFO message groups, or, on a standard queue, the message group ID that
    identifies a tenant for SQS's fair queues (fairness is not modelled; the key is used by
    :meth:`QueueResult.out_of_order`). ``retry_mode``: how the producer's SDK retries a send the
    FIFO call limit refused, ``"standard"`` (the model's assumption, :data:`SDK_RETRY_PAGE`) or
    ``"none"``. ``poison``: a share of messages (or one flag per
    message) whose processing always fails. ``consumer_down=(t0, t1)``: the consumers make no
    receive request from ``t0`` to ``t1`` (module docstring). ``engine="loop"`` forces the event
    loop (tests).
    """
    c = _common(arrivals, horizon, queue_type, visibility_timeout, delay, retention, max_receive_count,
                duration_kind, mean_duration, duration_cv, failure_prob, poison, groups, group, dedup_ids,
                send_batch, fifo_burst, duplicate_prob, servers, seed, retry_mode)
    consumers = check_int("consumers", consumers, 1, MAX_CONSUMERS, why=MODEL_BOUND)
    wait = check_int("wait_time_seconds", wait_time_seconds, 0, MAX_WAIT_TIME_S,
                     why="WaitTimeSeconds is 0 (short polling) or 1 to 20 (long polling)")
    cap = check_int("max_messages", max_messages, 1, MAX_RECEIVE_MESSAGES,
                    why="ReceiveMessage returns 1 to 10 messages")
    f = check_number("short_poll_fraction", short_poll_fraction, 0, 1, lo_open=True,
                     why="a modelling assumption: the share of servers a short poll samples")
    pi = check_number("poll_interval", poll_interval, 0, 60, lo_open=True,
                      why="a modelling assumption: a short poller's pause after an empty answer, s")
    check_choice("engine", engine, ("auto", "loop"))
    down = (math.inf, math.inf)
    if consumer_down is not None:
        down = check_window("consumer_down", consumer_down, c["horizon"])
    params = dict(kind="consumers", queue_type=queue_type, consumers=consumers, wait_time_seconds=wait,
                  max_messages=cap, visibility_timeout=c["vt"], delay=c["delay"], retention=c["retention"],
                  max_receive_count=c["mrc"], duration_kind=duration_kind, mean_duration=mean_duration,
                  failure_prob=c["p"], send_batch=send_batch, duplicate_prob=c["q"], servers=c["servers"],
                  short_poll_fraction=f, poll_interval=pi, consumer_down=consumer_down, seed=seed,
                  retry_mode=retry_mode)
    plain = (engine == "auto" and consumer_down is None and wait >= 1 and cap == 1 and c["p"] == 0 and not c["pois"].any()
             and not c["fifo"] and c["servers"] == 1 and c["q"] == 0 and c["delay"] == 0
             and (len(c["dur"]) == 0 or c["vt"] > c["dur"].max())
             and c["retention"] > c["horizon"])
    if plain:
        out = _plain(c["enq"], c["dur"], consumers, float(wait), c["horizon"])
    else:
        out = _loop(c, horizon=c["horizon"], fifo=c["fifo"], lam=False, consumers=consumers, wait=float(wait),
                    cap=cap, vt=c["vt"], delay=c["delay"], retention=c["retention"], mrc=c["mrc"],
                    p_fail=c["p"], q_dup=c["q"], f_short=f, poll_interval=pi, policy="each", window=0.0,
                    max_slots=consumers, n_servers=c["servers"], rng=c["rng"], down=down)
    params["engine"] = "drain" if plain else "loop"
    return _result(c, out, params)


def simulate_lambda_sqs(arrivals, *, horizon: float, queue_type: str = "standard",
                        batch_size: int = DEFAULT_BATCH_SIZE, batching_window: float = 0.0,
                        maximum_concurrency: int | None = None, report_batch_item_failures: bool = False,
                        visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT_S,
                        max_receive_count: int | None = None, retention: float = DEFAULT_RETENTION_S,
                        duration_kind: str = "fixed", mean_duration: float = 0.1, duration_cv: float = 1.0,
                        failure_prob: float = 0.0, poison=0.0, groups: int = 1, group=None,
                        message_size: int = 1_024, send_batch: int = 1, duplicate_prob: float = 0.0,
                        servers: int = 1, seed: int = 0, reserved_concurrency: int | None = None,
                        account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY, other_reserved: int = 0,
                        function_timeout: float | None = None, scale_down: int = DEFAULT_SCALE_DOWN,
                        retry_mode: str = "standard") -> QueueResult:
    """Lambda draining a queue through an event source mapping (module docstring).

    The function's concurrency bounds the mapping: ``reserved_concurrency``, or the unreserved
    pool, ``account_concurrency`` minus ``other_reserved`` (the reservations of the account's
    other functions; the model assumes no other unreserved function runs). Invocations beyond it
    are throttled: the batch's messages return after the visibility timeout, the receive counted
    (toward ``max_receive_count``). ``function_timeout`` (s, optional) is checked against the
    visibility timeout as Lambda does. ``scale_down`` (an assumption: AWS documents that the
    mapping scales down on function errors and throttles, not by how much): pollers the mapping
    retires after each failed or throttled invocation (0: it never scales down).

    ``mean_duration`` is the handler's time per message; an invocation processes its batch's
    messages one after another. Without ``report_batch_item_failures`` one failed message makes
    the whole batch come back after the visibility timeout; with it, only the failed ones (and,
    on FIFO, the ones after them in the batch). ``message_size`` (bytes) closes a batch at the
    6 MB payload cap.
    """
    fifo = check_choice("queue_type", queue_type, QUEUE_TYPES) == "fifo"
    hi = MAX_BATCH_SIZE_FIFO if fifo else MAX_BATCH_SIZE_STANDARD
    batch_size = check_int("batch_size", batch_size, 1, hi,
                           why=f"BatchSize is 1 to {hi:,} for {'FIFO' if fifo else 'standard'} queues")
    if fifo:
        window = check_number("batching_window", batching_window, 0, 0,
                              why="MaximumBatchingWindowInSeconds is not supported for FIFO queues")
    else:
        window = check_number("batching_window", batching_window, 0, MAX_BATCHING_WINDOW_S,
                              why="MaximumBatchingWindowInSeconds is 0 to 300")
        if batch_size > 10:
            check_number("batching_window", window, MIN_WINDOW_FOR_LARGE_BATCH_S, MAX_BATCHING_WINDOW_S,
                         why=f"batch_size={batch_size:,} is above 10, which needs a batching window of at "
                             "least 1 s")
    if maximum_concurrency is not None:
        maximum_concurrency = check_int("maximum_concurrency", maximum_concurrency, MIN_MAXIMUM_CONCURRENCY,
                                        MAX_MAXIMUM_CONCURRENCY, why="ScalingConfig MaximumConcurrency is 2 to 1,000")
    if not isinstance(report_batch_item_failures, (bool, np.bool_)):
        raise ValueError(f"report_batch_item_failures={report_batch_item_failures!r} is not allowed: "
                         "choose True or False")
    size = check_int("message_size", message_size, 1, MAX_MESSAGE_BYTES, why="an SQS message holds up to 1 MiB")
    cap = min(batch_size, PAYLOAD_CAP_BYTES // size)
    fn_limit = _function_concurrency(reserved_concurrency, account_concurrency, other_reserved)
    scale_down = check_int("scale_down", scale_down, 0, MAX_SCALE_DOWN,
                           why="a modelling assumption: pollers retired per failed or throttled invocation")
    c = _common(arrivals, horizon, queue_type, visibility_timeout, 0.0, retention, max_receive_count,
                duration_kind, mean_duration, duration_cv, failure_prob, poison, groups, group, None,
                send_batch, FIFO_CALLS_PER_S, duplicate_prob, servers, seed, retry_mode)
    _check_function_timeout(function_timeout, c["vt"])
    max_slots = ESM_MAX_CONCURRENCY if maximum_concurrency is None else maximum_concurrency
    out = _loop(c, horizon=c["horizon"], fifo=c["fifo"], lam=True, consumers=0, wait=float(ESM_WAIT_TIME_S),
                cap=cap, vt=c["vt"], delay=0.0, retention=c["retention"], mrc=c["mrc"], p_fail=c["p"],
                q_dup=c["q"], f_short=1.0, poll_interval=1.0,
                policy="partial" if report_batch_item_failures else "batch", window=window,
                max_slots=max_slots, n_servers=c["servers"], rng=c["rng"], fn_limit=fn_limit, scale_down=scale_down)
    params = dict(kind="lambda", queue_type=queue_type, batch_size=batch_size, batch_cap=cap,
                  batching_window=window, maximum_concurrency=maximum_concurrency,
                  report_batch_item_failures=bool(report_batch_item_failures), visibility_timeout=c["vt"],
                  max_receive_count=c["mrc"], retention=c["retention"], duration_kind=duration_kind,
                  mean_duration=mean_duration, failure_prob=c["p"], message_size=size, delay=0.0, seed=seed,
                  reserved_concurrency=reserved_concurrency, function_concurrency=fn_limit,
                  function_timeout=function_timeout, scale_down=scale_down, retry_mode=retry_mode)
    return _result(c, out, params)


def _function_concurrency(reserved, account, other_reserved) -> int:
    """The concurrency the function can use: its reservation, or the unreserved pool."""
    account = check_int("account_concurrency", account, MIN_UNRESERVED, MAX_ACCOUNT_CONCURRENCY,
                        why="the Region's concurrency quota: 1,000 by default, raised on request (a model bound "
                            "of 100,000)")
    hi = account - MIN_UNRESERVED
    other_reserved = check_int("other_reserved", other_reserved, 0, hi,
                               why=f"the other functions' reservations: at least {MIN_UNRESERVED} of "
                                   f"account_concurrency={account:,} stay unreserved")
    if reserved is None:
        return account - other_reserved
    return check_int("reserved_concurrency", reserved, 1, hi - other_reserved,
                     why=f"at least {MIN_UNRESERVED} of account_concurrency={account:,} stay unreserved, and "
                         f"other_reserved={other_reserved:,} is reserved for other functions")


def _check_function_timeout(function_timeout, vt):
    if function_timeout is None:
        return
    ft = check_number("function_timeout", function_timeout, 1, MAX_FUNCTION_TIMEOUT_S,
                      why="a Lambda function's timeout is 1 s to 900 s")
    if ft > vt:
        raise ValueError(f"function_timeout={ft:g} s is longer than visibility_timeout={vt:g} s: Lambda refuses an "
                         "SQS event source mapping whose function timeout exceeds the queue's visibility timeout "
                         f"(AWS advises a visibility timeout of at least {VISIBILITY_PER_TIMEOUT} times the "
                         "function timeout)")


def mmc_replications(c: int, load: float, messages: int, reps: int, *, mean_duration: float = 1.0,
                     warmup_share: float = 0.1, seed: int = 0) -> np.ndarray:
    """Independent M/M/c replications of the plain configuration (Poisson sends, exponential
    processing, long polling, one message per receive, no failures, a visibility timeout above
    any processing time). Each run starts empty and drops the first ``warmup_share`` of its
    horizon. Returns one row per replication: share of messages that waited, mean wait (s), and
    time-average number of messages waiting on the kept window.
    """
    c = check_int("c", c, 1, MAX_CONSUMERS, why="the number of consumers, a bound of the model")
    load = check_number("load", load, 0, c, lo_open=True, hi_open=True,
                        why=f"the offered load in Erlangs: below c={c:,} consumers, or the queue grows without end")
    mean_duration = check_number("mean_duration", mean_duration, 0, MAX_MEAN_DURATION_S, lo_open=True,
                                 why="the mean processing time per message, at most 15 minutes")
    messages = check_int("messages", messages, MIN_MMC_MESSAGES, MAX_MMC_MESSAGES_TOTAL // 2,
                         why="expected messages per replication")
    reps = check_int("reps", reps, 2, min(MAX_MMC_REPS, MAX_MMC_MESSAGES_TOTAL // messages),
                     why=f"at most {MAX_MMC_REPS:,}, and messages x reps at most {MAX_MMC_MESSAGES_TOTAL:,}: "
                         "about a second of CPU")
    warmup_share = check_number("warmup_share", warmup_share, 0, 1, hi_open=True)
    seed = check_int("seed", seed, 0, why="a seed")
    rate = load / mean_duration
    horizon = messages / rate
    if not 0 < horizon <= MAX_HORIZON_S:
        raise ValueError(f"messages={messages:,}, load={load:g} and mean_duration={mean_duration:g} s make a "
                         f"replication {horizon:.3g} s long (messages x mean_duration / load): allowed more than 0 "
                         f"to {MAX_HORIZON_S:,} s (30 days), the queue model's range")
    warm = warmup_share * horizon
    out = []
    for i in range(reps):
        # distinct streams for the arrivals and the processing times of every replication
        t = traffic.poisson(rate, horizon, 2 * (seed + i))
        r = simulate_queue(t, horizon=horizon, consumers=c, duration_kind="exponential",
                           mean_duration=mean_duration, visibility_timeout=MAX_VISIBILITY_TIMEOUT_S,
                           seed=2 * (seed + i) + 1)
        m = (r.enqueue >= warm) & np.isfinite(r.first_receive)
        if not m.any():
            raise ValueError(f"replication {i} kept no message after its warm-up: raise messages={messages:,} "
                             f"or lower warmup_share={warmup_share:g}")
        w = r.first_receive[m] - r.enqueue[m]
        # each message waits on [enqueue, first receive): clip to the kept window and add up
        s = np.clip(r.enqueue, warm, horizon)
        e = np.clip(np.where(np.isfinite(r.first_receive), r.first_receive, horizon), warm, horizon)
        out.append(((w > 0).mean(), w.mean(), float((e - s).sum() / (horizon - warm))))
    return np.array(out)


def esm_concurrency_cap(t, maximum_concurrency: int | None = None):
    """Most concurrent batches the mapping can have reached ``t`` seconds after messages appeared:
    5, plus 300 per minute spread evenly, up to 1,250 or MaximumConcurrency.

    ``t`` may be an array (times >= 0, any order)."""
    top = ESM_MAX_CONCURRENCY if maximum_concurrency is None else check_int(
        "maximum_concurrency", maximum_concurrency, MIN_MAXIMUM_CONCURRENCY, MAX_MAXIMUM_CONCURRENCY,
        why="ScalingConfig MaximumConcurrency is 2 to 1,000")
    t = check_grid("t", t, 0)
    return np.minimum(ESM_INITIAL_BATCHES + np.floor(t * ESM_STEP_PER_MINUTE / 60.0 + 1e-9), top)
