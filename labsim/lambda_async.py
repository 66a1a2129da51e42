"""Asynchronous Lambda invocation: the internal queue, retries, maximum event age, destinations.

The model
---------
Events arrive (``labsim.traffic``) and Lambda answers the caller at once (HTTP 202): the event
goes into the function's internal queue. From there Lambda tries to run it:

* **Throttled** (no free concurrency under ``reserved_concurrency``) or a **system error**
  (5xx, probability ``system_error_rate`` per run): the event goes back to the queue and is tried
  again after a backoff that grows from 1 s to 5 min. The model uses
  ``labsim.retry.RetryPolicy("exponential", base=1.0, cap=300.0)``: 1, 2, 4, ... 256, 300, 300 s
  (no jitter; AWS does not document its exact schedule). These retries go on until the event is
  older than ``max_event_age`` (MaximumEventAgeInSeconds, 60 s to 6 h, default 6 h) and do not
  count against MaximumRetryAttempts.
* **Function error** (probability ``error_rate`` per run, independent): retried
  ``max_retry_attempts`` times (MaximumRetryAttempts, 0-2, default 2). AWS documents *about*
  one minute before the first retry and two minutes before the second; the model uses exactly
  60 s and 120 s, counted from the end of the failed run.
* An event whose next try would come after ``arrival + max_event_age`` is discarded when it
  reaches that age (expired). **Tie rule (an assumption: AWS documents none):** a retry due
  exactly at ``arrival + max_event_age`` still runs; only one due later expires.
* **Reserved concurrency 0:** Lambda sends new events straight to the DLQ or the on-failure
  destination, without retries (invocation-async-retain-records.html). Their outcome is
  ``THROTTLED``.

Every event ends in exactly one state (``outcome``, :class:`~labsim.outcomes.Outcome`):
``SUCCEEDED`` (sent to the on-success destination if one is configured), ``FAILED`` (retries
exhausted), ``DROPPED`` (expired by age), ``THROTTLED`` (reserved concurrency 0) or
``IN_FLIGHT`` (still queued or running at the horizon), and in exactly one place (``where``).

Where failed events go (invocation-async-retain-records.html): an **on-failure destination**
(standard SQS queue, standard SNS topic, S3 bucket, Lambda function or EventBridge bus) gets an
invocation record with the request and the response; a **dead-letter queue** (standard SQS
queue or standard SNS topic) gets only the event. Destinations can be configured "in addition
to or instead of" a DLQ (API_PutFunctionEventInvokeConfig.html), so ``on_failure`` is one of
``"destination"``, ``"dlq"``, ``"both"`` or ``"none"`` (lost). AWS does not say what happens
to a failed event when both are set. **Assumption:** both receive it (the destination the
record, the DLQ the event): the place ``DESTINATION_AND_DLQ``.

Duplicates: the internal queue is eventually consistent and can deliver an event more than once
even when the function succeeds. With ``duplicate_prob`` q, each successful run is followed,
with probability q, by one more delivery of the same event ``duplicate_delay`` seconds later
(exponential). That delivery runs the handler again (it uses concurrency and can be throttled)
but does not change the event's final state; :meth:`AsyncResult.handler_runs` feeds these runs
to :func:`labsim.idempotency.charges_from_deliveries`.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from . import traffic
from .outcomes import Outcome
from .retry import RetryPolicy
from .validation import check_array, check_bool, check_choice, check_int, check_number

# --- AWS numbers, each with its source -------------------------------------------------------
#: Function errors: by default 2 more attempts (3 in all), about 1 min before the first retry,
#: about 2 min before the second. https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html
DEFAULT_MAX_RETRY_ATTEMPTS = 2
RETRY_DELAYS_S = (60.0, 120.0)
#: MaximumRetryAttempts can be 0 to 2. https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-configuring.html
MAX_RETRY_ATTEMPTS = 2
#: MaximumEventAgeInSeconds: 60 s to 6 h (21,600 s), default 6 h.
#: https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-configuring.html and
#: https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionEventInvokeConfig.html
MIN_EVENT_AGE_S = 60
MAX_EVENT_AGE_S = 21_600
DEFAULT_EVENT_AGE_S = MAX_EVENT_AGE_S
#: Throttles (429) and system errors (5xx): back to the queue, retried for up to 6 h by default,
#: the interval growing exponentially from 1 s to at most 5 min.
#: https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html
THROTTLE_BACKOFF_BASE_S = 1.0
THROTTLE_BACKOFF_CAP_S = 300.0
#: Destinations (on success / on failure) and DLQs; "both" is allowed ("in addition to or
#: instead of"). https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
#: https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionEventInvokeConfig.html
FAILURE_TARGETS = ("destination", "dlq", "both", "none")
#: What each target accepts (same pages): FIFO queues and topics are not supported.
DESTINATION_TARGETS = ("standard SQS queue", "standard SNS topic", "S3 bucket (on failure only)",
                       "Lambda function", "EventBridge event bus")
DLQ_TARGETS = ("standard SQS queue", "standard SNS topic")

#: The throttle / 5xx backoff the model uses (no jitter; see the module docstring).
THROTTLE_POLICY = RetryPolicy("exponential", base=THROTTLE_BACKOFF_BASE_S, cap=THROTTLE_BACKOFF_CAP_S,
                              max_attempts=100)
#: Simulation bound on reserved concurrency.
MAX_RESERVED = 10_000
#: Simulation bound on the tries one run may make (expected events x most tries per event): the
#: event loop handles about 300,000 tries a second, so a run stays within a second or two.
MAX_TRIES = 500_000

# Where an event ended (``AsyncResult.where``).
SUCCESS_DESTINATION, SUCCESS_NO_DESTINATION, FAILURE_DESTINATION, DLQ, LOST, PENDING, DESTINATION_AND_DLQ = range(7)
WHERE_NAMES = ("on-success destination", "succeeded (no destination)", "on-failure destination",
               "dead-letter queue", "lost (no destination, no DLQ)", "still queued or running",
               "on-failure destination and DLQ")
_BOOK_NAMES = ("success_destination", "success_no_destination", "failure_destination", "dlq", "lost",
               "pending", "destination_and_dlq")

# Kind of one attempt (``AsyncResult.attempt_kind``).
RUN_OK, RUN_FUNCTION_ERROR, RUN_SYSTEM_ERROR, THROTTLED = range(4)
ATTEMPT_NAMES = ("ran, succeeded", "ran, function error", "system error (5xx)", "throttled (429)")

_push = heapq.heappush


def max_throttle_tries(window: float) -> int:
    """Most tries refused with 429 or 5xx that one event can make in ``window`` seconds: the
    backoff (1 s doubling to 5 min) leaves room for this many before the window ends."""
    window = check_number("window", window, 0, MAX_EVENT_AGE_S)
    k, elapsed = 1, 0.0
    while True:
        elapsed += THROTTLE_POLICY.delay(k - 1)         # 1, 2, 4, ... 256, then 300 s (the cap)
        if elapsed > window:
            return k
        k += 1


#: The throttle backoff before an event's k-th throttle / 5xx retry (k from 0): 1, 2, 4, ... 256,
#: 300 s; from k = 12 on, the cap (300 s).
_BACKOFF = [THROTTLE_POLICY.delay(k) for k in range(12)]


@dataclass(frozen=True)
class AsyncResult:
    """Per-event arrays (sorted by arrival), per-attempt arrays and summaries of one run."""

    arrival: np.ndarray        #: when the caller sent the event (and got 202), s
    outcome: np.ndarray        #: Outcome: SUCCEEDED, FAILED, DROPPED (expired) or IN_FLIGHT
    where: np.ndarray          #: SUCCESS_DESTINATION ... PENDING (see WHERE_NAMES)
    final_time: np.ndarray     #: when the event reached its final state (NaN if in flight), s
    runs: np.ndarray           #: handler runs of the event (first delivery and retries; no duplicates)
    function_errors: np.ndarray  #: runs that returned a function error
    throttles: np.ndarray      #: tries refused with 429 (or 5xx) and put back in the queue
    duplicates: np.ndarray     #: extra deliveries by the queue after a success
    attempt_event: np.ndarray  #: per attempt: which event
    attempt_time: np.ndarray   #: per attempt: when it started (throttles: when refused), s
    attempt_end: np.ndarray    #: per attempt: when it ended (throttles: same as start), s
    attempt_kind: np.ndarray   #: per attempt: RUN_OK, RUN_FUNCTION_ERROR, RUN_SYSTEM_ERROR, THROTTLED
    attempt_duplicate: np.ndarray  #: per attempt: True for a duplicate delivery
    horizon: float
    params: dict = field(default_factory=dict)

    @property
    def sent(self) -> int:
        return len(self.arrival)

    def count(self, outcome: Outcome) -> int:
        return int((self.outcome == int(outcome)).sum())

    def count_where(self, where: int) -> int:
        return int((self.where == where).sum())

    def books(self) -> dict:
        """Every event in exactly one final state, and in exactly one place.

        ``sent == succeeded + failed + expired + throttled + in_flight``,
        ``sent == success_destination + success_no_destination + failure_destination + dlq + lost + pending + destination_and_dlq``,
        and the two agree: ``succeeded == success_destination + success_no_destination``,
        ``failed + expired + throttled == failure_destination + dlq + lost + destination_and_dlq``,
        ``in_flight == pending``.
        """
        d = {"sent": self.sent, "succeeded": self.count(Outcome.SUCCEEDED),
             "failed": self.count(Outcome.FAILED), "expired": self.count(Outcome.DROPPED),
             "throttled": self.count(Outcome.THROTTLED), "in_flight": self.count(Outcome.IN_FLIGHT)}
        for k, name in enumerate(_BOOK_NAMES):
            d[name] = self.count_where(k)
        return d

    @property
    def finished(self) -> np.ndarray:
        return self.outcome != Outcome.IN_FLIGHT

    def success_fraction(self) -> float:
        """Succeeded share of the events that reached a final state."""
        n = int(self.finished.sum())
        return self.count(Outcome.SUCCEEDED) / n if n else float("nan")

    def mean_runs(self) -> float:
        """Mean handler runs (first try + function-error retries) per finished event."""
        m = self.finished
        return float(self.runs[m].mean()) if m.any() else float("nan")

    def handler_runs(self, ok_only: bool = True):
        """(event index, start time) of every run of the handler, duplicates included.

        ``ok_only`` keeps the runs that returned success: the ones whose side effect surely
        happened.
        """
        m = self.attempt_kind == RUN_OK if ok_only else np.isin(self.attempt_kind, (RUN_OK, RUN_FUNCTION_ERROR))
        return self.attempt_event[m], self.attempt_time[m]

    def where_over_time(self, grid) -> np.ndarray:
        """Events in each place at each time of ``grid``: shape (len(WHERE_NAMES), len(grid)).

        Row ``PENDING`` counts events that have arrived and have no final state yet.
        """
        g = np.asarray(grid, dtype=float)
        out = np.zeros((len(WHERE_NAMES), len(g)), dtype=int)
        for k in range(len(WHERE_NAMES)):
            if k != PENDING:
                t = np.sort(self.final_time[self.where == k])
                out[k] = np.searchsorted(t, g, side="right")
        out[PENDING] = np.searchsorted(self.arrival, g, side="right") - out.sum(axis=0)
        return out


@dataclass(frozen=True)
class _Settings:
    """The checked parameters of one run (the names the model uses)."""

    horizon: float
    mean_duration: float
    duration_kind: str
    error_rate: float          # p: function error per run
    system_error_rate: float   # 5xx per try
    retries: int               # MaximumRetryAttempts
    age: float                 # MaximumEventAgeInSeconds
    reserved: int | None       # reserved concurrency (None: no limit)
    on_success: bool
    on_failure: str
    duplicate_prob: float
    duplicate_delay: float     # mean, s

    @property
    def throttled(self) -> bool:
        """Whether tries can be refused (throttles or 5xx) and retried with the backoff."""
        return self.reserved not in (None, 0) or self.system_error_rate > 0

    def tries_per_event(self) -> int:
        """The most tries one event can make: its runs, one duplicate, and throttle / 5xx retries
        until its age or the horizon (one try when reserved concurrency 0 refuses it at once)."""
        tries = (self.retries + 1 + (self.duplicate_prob > 0)
                 + (max_throttle_tries(min(self.age, self.horizon)) if self.throttled else 0))
        return 1 if tries > 1 and self.reserved == 0 else tries


def _check_settings(horizon, mean_duration, duration_kind, error_rate, system_error_rate, max_retry_attempts,
                    max_event_age, reserved_concurrency, on_success, on_failure, duplicate_prob,
                    duplicate_delay) -> _Settings:
    """Every parameter checked (in this order: the first bad one is named) and renamed."""
    horizon = check_number("horizon", horizon, 0, 7 * 86_400, lo_open=True)
    mean_duration = check_number("mean_duration", mean_duration, 0, 900, lo_open=True,
                                 why="a Lambda invocation runs at most 900 s")
    check_choice("duration_kind", duration_kind, traffic.DURATION_KINDS)
    p = check_number("error_rate", error_rate, 0, 1)
    ps = check_number("system_error_rate", system_error_rate, 0, 1, hi_open=True)
    r = check_int("max_retry_attempts", max_retry_attempts, 0, MAX_RETRY_ATTEMPTS,
                  why="AWS allows MaximumRetryAttempts 0 to 2")
    age = check_number("max_event_age", max_event_age, MIN_EVENT_AGE_S, MAX_EVENT_AGE_S,
                       why="AWS allows MaximumEventAgeInSeconds 60 to 21,600 (6 h)")
    if reserved_concurrency is not None:
        reserved_concurrency = check_int("reserved_concurrency", reserved_concurrency, 0, MAX_RESERVED)
    check_choice("on_failure", on_failure, FAILURE_TARGETS)
    on_success = check_bool("on_success", on_success)
    q = check_number("duplicate_prob", duplicate_prob, 0, 1, hi_open=True)
    dup_mean = check_number("duplicate_delay", duplicate_delay, 0, 3_600, lo_open=True)
    return _Settings(horizon, mean_duration, duration_kind, p, ps, r, age, reserved_concurrency, on_success,
                     on_failure, q, dup_mean)


def _arrivals(s: _Settings, rate, arrival_horizon, arrivals, rng):
    """(arrival times, the checked rate): Poisson at ``rate`` over ``[0, arrival_horizon)`` or the
    given times, bounded before anything is drawn by expected events x the most tries per event."""
    tries = s.tries_per_event()
    horizon, window, r, q, ps = s.horizon, min(s.age, s.horizon), s.retries, s.duplicate_prob, s.system_error_rate
    ah = horizon if arrival_horizon is None else check_number(
        "arrival_horizon", arrival_horizon, 0, horizon, lo_open=True)
    rate = check_number("rate", rate, 0, MAX_TRIES / (ah * tries),
                        why=f"at most {MAX_TRIES:,} tries per run: rate x arrival_horizon={ah:g} s (horizon="
                            f"{horizon:g} s) expected events x up to {tries} tries each (max_retry_attempts={r}, "
                            f"duplicate_prob={q:g}" + (f", throttle and 5xx retries for min(max_event_age, horizon)"
                                                       f"={window:g} s: reserved_concurrency={s.reserved}, "
                                                       f"system_error_rate={ps:g}" if s.throttled else "") + ")")
    if arrivals is None:
        return traffic.poisson(rate, ah, rng), rate
    t = np.sort(check_array("arrivals", arrivals, 0, horizon, sorted_=False, hi_open=True))
    if len(t) * tries > MAX_TRIES:
        raise ValueError(f"arrivals: {len(t):,} events x up to {tries} tries each is out of range: allowed "
                         f"{MAX_TRIES:,} tries per run (fewer events, or lower max_retry_attempts, "
                         f"duplicate_prob, max_event_age or horizon)")
    return t, rate


def _check_fail_first(fail_first, n: int):
    """``fail_first`` as a list of ints (one per event), or None."""
    if fail_first is None:
        return None
    ff = check_array("fail_first", fail_first, 0, None, sorted_=False)
    if len(ff) != n or np.any(ff != np.round(ff)):
        raise ValueError(f"fail_first must hold one whole number >= 0 per event ({n}), got {fail_first!r:.80}")
    return ff.astype(int).tolist()


class _AsyncRun:
    """The event loop of one run: the internal queue (a heap of tries and execution ends), the
    function's concurrency, and one handler per kind of event.

    The queue's items are tries ``(time, seq, event, duplicate?)``: at equal times, the order of
    pushing. The running executions are a heap of end times; an execution that ends at a try's
    time has freed its unit before the try. Random draws come from one generator in event-loop
    order (deterministic for a seed).
    """

    __slots__ = ("horizon", "p", "retries", "q", "dup_mean", "fail_first", "rng", "u", "tl", "dl", "deadline",
                 "runs", "ferr", "thr", "dups", "outcome", "where", "final", "log", "record", "cap", "backoff",
                 "fail_target", "ok_target", "heap", "ends", "seq")

    def __init__(self, s: _Settings, t: np.ndarray, dur: np.ndarray, fail_first, rng):
        n = len(t)
        self.horizon, self.p, self.retries = s.horizon, s.error_rate, s.retries
        self.q, self.dup_mean, self.fail_first = s.duplicate_prob, s.duplicate_delay, fail_first
        self.rng, self.u = rng, rng.random
        self.tl, self.dl = t.tolist(), dur.tolist()
        self.deadline = (t + s.age).tolist()         # arrival + MaximumEventAgeInSeconds
        # per event
        self.runs, self.ferr, self.thr, self.dups = [0] * n, [0] * n, [0] * n, [0] * n
        self.outcome, self.where, self.final = [int(Outcome.IN_FLIGHT)] * n, [PENDING] * n, [math.nan] * n
        self.log = []                      # per attempt, flat: event, start, end, kind, duplicate?
        self.record = self.log.extend      # record((event, start, end, kind, duplicate?))
        self.cap = math.inf if s.reserved is None else s.reserved
        self.backoff = _BACKOFF
        self.fail_target = {"destination": FAILURE_DESTINATION, "dlq": DLQ, "both": DESTINATION_AND_DLQ,
                            "none": LOST}[s.on_failure]
        self.ok_target = SUCCESS_DESTINATION if s.on_success else SUCCESS_NO_DESTINATION
        self.heap = [] if self.cap == 0 else [(a, i, i, False) for i, a in enumerate(self.tl)]   # sorted: a heap
        self.ends = []                     # end times of the running executions (a heap)
        self.seq = itertools.count(n + 1).__next__      # tie-breaker of the tries pushed later

    def finish(self, i, time, oc, w):
        """Event ``i`` reaches its final state ``oc`` in place ``w`` at ``time`` (if within the horizon)."""
        if time <= self.horizon:
            self.outcome[i] = int(oc)
            self.where[i] = w
            self.final[i] = time

    # -- the handlers, one per kind of event ------------------------------------------------------
    def refuse_all(self):
        """Reserved concurrency 0: every event goes straight to the failure target, no retries."""
        for i, a in enumerate(self.tl):
            self.record((i, a, a, THROTTLED, False))
            self.thr[i] = 1
            self.finish(i, a, Outcome.THROTTLED, self.fail_target)

    def on_refused(self, time, i, dup, kind):
        """Throttled (429) or a system error (5xx): back to the queue after the throttle backoff
        (1 s doubling to 5 min). A try due after the event's age limit does not happen: the event
        expires at that age (a duplicate delivery just stops)."""
        self.record((i, time, time, kind, dup))
        k = self.thr[i]
        self.thr[i] = k + 1
        nxt = time + (self.backoff[k] if k < 12 else THROTTLE_BACKOFF_CAP_S)
        deadline = self.deadline[i]
        if nxt <= deadline:
            _push(self.heap, (nxt, self.seq(), i, dup))
        elif not dup:
            self.finish(i, deadline, Outcome.DROPPED, self.fail_target)

    def on_duplicate_run(self, time, i):
        """The queue delivers a succeeded event again: the handler runs (using concurrency), and
        the event's final state does not change."""
        end = time + self.dl[i]
        _push(self.ends, end)
        p = self.p
        failed = p > 0 and self.u() < p
        self.record((i, time, end, RUN_FUNCTION_ERROR if failed else RUN_OK, True))

    def on_run(self, time, i):
        """The first delivery or a retry runs the handler: it succeeds or returns a function error."""
        end = time + self.dl[i]
        _push(self.ends, end)
        self.runs[i] += 1
        p, ff = self.p, self.fail_first
        failed = (self.runs[i] <= ff[i]) if ff is not None else (p > 0 and self.u() < p)
        self.record((i, time, end, RUN_FUNCTION_ERROR if failed else RUN_OK, False))
        if failed:
            self.on_function_error(i, end)
        else:
            self.on_success(i, end)

    def on_success(self, i, end):
        """Succeeded (to the on-success destination if any); with ``duplicate_prob`` the queue
        delivers it once more, an exponential ``duplicate_delay`` later."""
        self.finish(i, end, Outcome.SUCCEEDED, self.ok_target)
        q = self.q
        if q > 0 and self.u() < q:
            self.dups[i] += 1
            _push(self.heap, (end + self.rng.exponential(self.dup_mean), self.seq(), i, True))

    def on_function_error(self, i, end):
        """A function error: retried 60 s, then 120 s after the failed run ends, up to
        MaximumRetryAttempts; after that the event failed. A retry due after the age limit
        expires the event at that age."""
        e = self.ferr[i] = self.ferr[i] + 1
        if e > self.retries:
            self.finish(i, end, Outcome.FAILED, self.fail_target)
            return
        nxt = end + RETRY_DELAYS_S[e - 1]
        deadline = self.deadline[i]
        if nxt > deadline:
            self.finish(i, deadline, Outcome.DROPPED, self.fail_target)
        else:
            _push(self.heap, (nxt, self.seq(), i, False))

    # -- the loop ---------------------------------------------------------------------------------
    def run(self, system_error_rate: float):
        """Take tries in time order until the queue is empty or the horizon. The loop keeps the
        function's concurrency: executions that ended by a try's time free their units; the try
        then finds every unit busy (throttled), or a 5xx (``system_error_rate``), or runs."""
        if self.cap == 0:
            self.refuse_all()
            return self
        h, ends, pop, u = self.heap, self.ends, heapq.heappop, self.u
        horizon, cap, ps = self.horizon, self.cap, system_error_rate
        on_refused, on_run, on_dup = self.on_refused, self.on_run, self.on_duplicate_run
        while h:
            time, _, i, dup = pop(h)
            if time > horizon:
                break
            while ends and ends[0] <= time:
                pop(ends)
            if len(ends) >= cap:
                on_refused(time, i, dup, THROTTLED)
            elif ps > 0 and u() < ps:
                on_refused(time, i, dup, RUN_SYSTEM_ERROR)
            elif dup:
                on_dup(time, i)
            else:
                on_run(time, i)
        return self

    def result(self, t, params) -> AsyncResult:
        cols = [self.log[k::5] for k in range(5)]
        return AsyncResult(t, np.array(self.outcome, np.int8), np.array(self.where, np.int8),
                           np.array(self.final, float), np.array(self.runs, int),
                           np.array(self.ferr, int), np.array(self.thr, int), np.array(self.dups, int),
                           np.array(cols[0], int), np.array(cols[1], float), np.array(cols[2], float),
                           np.array(cols[3], np.int8), np.array(cols[4], bool), self.horizon, params)


def simulate_async(rate: float = 1.0, *, arrival_horizon: float | None = None, horizon: float = 1_200.0,
                   arrivals=None, mean_duration: float = 1.0, duration_kind: str = "fixed",
                   error_rate: float = 0.2, system_error_rate: float = 0.0,
                   max_retry_attempts: int = DEFAULT_MAX_RETRY_ATTEMPTS,
                   max_event_age: float = DEFAULT_EVENT_AGE_S, reserved_concurrency: int | None = None,
                   on_success: bool = False, on_failure: str = "destination",
                   duplicate_prob: float = 0.0, duplicate_delay: float = 1.0,
                   fail_first=None, seed: int = 0) -> AsyncResult:
    """Simulate asynchronous invocations of one function (see the module docstring).

    ``rate`` (events/s, Poisson over ``[0, arrival_horizon)``, default: the whole horizon) or
    ``arrivals`` (an array of times) gives the traffic; the run stops at ``horizon``.
    ``reserved_concurrency=None`` means no concurrency limit (never throttled).
    ``fail_first`` (optional, one int per event) replaces the random function errors: event i
    fails its first ``fail_first[i]`` runs and succeeds after (for exact timelines).
    """
    s = _check_settings(horizon, mean_duration, duration_kind, error_rate, system_error_rate, max_retry_attempts,
                        max_event_age, reserved_concurrency, on_success, on_failure, duplicate_prob, duplicate_delay)
    rng = traffic.make_rng(seed)
    t, rate = _arrivals(s, rate, arrival_horizon, arrivals, rng)
    ff = _check_fail_first(fail_first, len(t))
    dur = traffic.durations(s.duration_kind, s.mean_duration, len(t), rng)
    params = dict(rate=rate if arrivals is None else None, mean_duration=s.mean_duration,
                  duration_kind=s.duration_kind, error_rate=s.error_rate, system_error_rate=s.system_error_rate,
                  max_retry_attempts=s.retries, max_event_age=s.age, reserved_concurrency=s.reserved,
                  on_success=bool(s.on_success), on_failure=s.on_failure, duplicate_prob=s.duplicate_prob,
                  duplicate_delay=s.duplicate_delay, seed=seed)
    return _AsyncRun(s, t, dur, ff, rng).run(s.system_error_rate).result(t, params)
