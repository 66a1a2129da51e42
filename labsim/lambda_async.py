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

_END, _READY = 0, 1          # event-loop priorities: free concurrency before starting new runs


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
    rng = traffic.make_rng(seed)

    # The work is bounded before anything is drawn: expected events x the most tries one event
    # can make (its runs, one duplicate, and throttle / 5xx retries until its age or the horizon).
    throttled = reserved_concurrency not in (None, 0) or ps > 0
    window = min(age, horizon)
    tries = r + 1 + (q > 0) + (max_throttle_tries(window) if throttled else 0)
    if tries > 1 and reserved_concurrency == 0:
        tries = 1                                        # straight to the failure target
    ah = horizon if arrival_horizon is None else check_number(
        "arrival_horizon", arrival_horizon, 0, horizon, lo_open=True)
    rate = check_number("rate", rate, 0, MAX_TRIES / (ah * tries),
                        why=f"at most {MAX_TRIES:,} tries per run: rate x arrival_horizon={ah:g} s (horizon="
                            f"{horizon:g} s) expected events x up to {tries} tries each (max_retry_attempts={r}, "
                            f"duplicate_prob={q:g}" + (f", throttle and 5xx retries for min(max_event_age, horizon)"
                                                       f"={window:g} s: reserved_concurrency={reserved_concurrency}, "
                                                       f"system_error_rate={ps:g}" if throttled else "") + ")")
    if arrivals is None:
        t = traffic.poisson(rate, ah, rng)
    else:
        t = np.sort(check_array("arrivals", arrivals, 0, horizon, sorted_=False, hi_open=True))
        if len(t) * tries > MAX_TRIES:
            raise ValueError(f"arrivals: {len(t):,} events x up to {tries} tries each is out of range: allowed "
                             f"{MAX_TRIES:,} tries per run (fewer events, or lower max_retry_attempts, "
                             f"duplicate_prob, max_event_age or horizon)")
    n = len(t)
    if fail_first is not None:
        ff = check_array("fail_first", fail_first, 0, None, sorted_=False)
        if len(ff) != n or np.any(ff != np.round(ff)):
            raise ValueError(f"fail_first must hold one whole number >= 0 per event ({n}), got {fail_first!r:.80}")
        ff = ff.astype(int).tolist()
    dur = traffic.durations(duration_kind, mean_duration, n, rng)

    # per-event state
    runs = [0] * n
    ferr = [0] * n
    thr = [0] * n
    dups = [0] * n
    outcome = np.full(n, int(Outcome.IN_FLIGHT), np.int8)
    where = np.full(n, PENDING, np.int8)
    final = np.full(n, np.nan)
    tl, dl = t.tolist(), dur.tolist()
    # per-attempt lists
    a_ev, a_t, a_end, a_kind, a_dup = [], [], [], [], []

    cap = math.inf if reserved_concurrency is None else reserved_concurrency
    busy = 0
    backoff = [THROTTLE_POLICY.delay(k) for k in range(12)]          # 1 ... 300 s, then 300 s
    fail_target = {"destination": FAILURE_DESTINATION, "dlq": DLQ, "both": DESTINATION_AND_DLQ,
                   "none": LOST}[on_failure]
    ok_target = SUCCESS_DESTINATION if on_success else SUCCESS_NO_DESTINATION
    # Random draws, made in event-loop order from one generator (deterministic for a seed).
    u = rng.random

    def finish(i, time, oc, w):
        if time <= horizon:
            outcome[i] = oc
            where[i] = w
            final[i] = time

    if cap == 0:                      # reserved concurrency 0: straight to the failure target
        for i in range(n):
            a_ev.append(i); a_t.append(tl[i]); a_end.append(tl[i]); a_kind.append(THROTTLED); a_dup.append(False)
            thr[i] = 1
            finish(i, tl[i], Outcome.THROTTLED, fail_target)
        n_heap = 0
    else:
        n_heap = n
    # heap items: (time, priority, seq, event, duplicate?)
    h = [(tl[i], _READY, i, i, False) for i in range(n_heap)]
    heapq.heapify(h)
    seq = n
    push, pop = heapq.heappush, heapq.heappop
    while h:
        time, prio, _, i, dup = pop(h)
        if time > horizon:
            break
        if prio == _END:
            busy -= 1
            continue
        deadline = tl[i] + age
        if busy >= cap or (ps > 0 and u() < ps):              # throttled or 5xx: back to the queue
            kind = THROTTLED if busy >= cap else RUN_SYSTEM_ERROR
            a_ev.append(i); a_t.append(time); a_end.append(time); a_kind.append(kind); a_dup.append(dup)
            k = thr[i]
            thr[i] = k + 1
            nxt = time + (backoff[k] if k < 12 else THROTTLE_BACKOFF_CAP_S)
            if dup:
                if nxt <= deadline:
                    seq += 1
                    push(h, (nxt, _READY, seq, i, True))
                continue
            if nxt > deadline:
                finish(i, deadline, Outcome.DROPPED, fail_target)
            else:
                seq += 1
                push(h, (nxt, _READY, seq, i, False))
            continue
        # the handler runs
        end = time + dl[i]
        busy += 1
        seq += 1
        push(h, (end, _END, seq, i, dup))
        if dup:
            failed = p > 0 and u() < p
            a_ev.append(i); a_t.append(time); a_end.append(end)
            a_kind.append(RUN_FUNCTION_ERROR if failed else RUN_OK); a_dup.append(True)
            continue
        runs[i] += 1
        failed = (runs[i] <= ff[i]) if fail_first is not None else (p > 0 and u() < p)
        a_ev.append(i); a_t.append(time); a_end.append(end)
        a_kind.append(RUN_FUNCTION_ERROR if failed else RUN_OK); a_dup.append(False)
        if not failed:
            finish(i, end, Outcome.SUCCEEDED, ok_target)
            if q > 0 and u() < q:
                dups[i] += 1
                seq += 1
                push(h, (end + rng.exponential(dup_mean), _READY, seq, i, True))
            continue
        ferr[i] += 1
        if ferr[i] > r:
            finish(i, end, Outcome.FAILED, fail_target)
            continue
        nxt = end + RETRY_DELAYS_S[ferr[i] - 1]
        if nxt > deadline:
            finish(i, deadline, Outcome.DROPPED, fail_target)
        else:
            seq += 1
            push(h, (nxt, _READY, seq, i, False))

    params = dict(rate=rate if arrivals is None else None, mean_duration=mean_duration,
                  duration_kind=duration_kind, error_rate=p, system_error_rate=ps,
                  max_retry_attempts=r, max_event_age=age, reserved_concurrency=reserved_concurrency,
                  on_success=bool(on_success), on_failure=on_failure, duplicate_prob=q,
                  duplicate_delay=dup_mean, seed=seed)
    return AsyncResult(t, outcome, where, final, np.array(runs, int), np.array(ferr, int),
                       np.array(thr, int), np.array(dups, int),
                       np.array(a_ev, int), np.array(a_t, float), np.array(a_end, float),
                       np.array(a_kind, np.int8), np.array(a_dup, bool), horizon, params)
