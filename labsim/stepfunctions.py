"""A long batch job run by a Step Functions Map state: wall time, cost units, failed items.

The job is chapter 1's (:mod:`labsim.batch`): ``items`` items of random time (lognormal, mean
``seconds_per_item``) cut into iterations of ``chunk_size`` items, each one Lambda invocation. A
Map state starts at most ``MaxConcurrency`` iterations at once, each as soon as a slot frees
(list scheduling, :func:`labsim.batch.list_schedule`). AWS's figures the model uses:

- an **inline** Map runs at most 40 iterations at once (``state-map-inline.html``); a
  **distributed** Map runs each iteration as a child workflow execution, 10,000 in parallel
  when ``MaxConcurrency`` is not given (``state-map-distributed.html``);
- a Standard workflow runs for up to one year, an Express workflow for up to five minutes
  (``choosing-workflow-type.html``); an inline Map runs inside its workflow, so an Express
  workflow must finish the whole Map in five minutes; a distributed Map's Express children
  must each finish in five minutes;
- a Lambda invocation stops at its 900 s timeout (:data:`labsim.awslambda.MAX_TIMEOUT_S`);
- a retrier's defaults: 1 s before the first retry, 3 retries, the interval doubling
  (``concepts-error-handling.html``); a catcher sends a failed iteration to a fallback state;
- without a catcher, one failed iteration fails an inline Map and stops its other iterations;
  a distributed Map fails when its failed items exceed the tolerated percentage
  (``ToleratedFailurePercentage``, 0 to 100, ``API_UpdateMapRun.html``);
- cost units as the pricing page names them: Standard workflows pay per **state transition**
  (retries included); Express workflows pay per **request** (each execution started) and for
  **duration**, rounded up to the nearest 100 ms, with memory billed in 64-MB chunks.

Labelled assumptions (AWS gives no figure): a failed attempt fails halfway through its work;
each attempt fails at random with ``failure_rate``, independently; an attempt whose work
exceeds the Lambda timeout times out every time; the model counts one state transition for
the Map state, one per task attempt and one per fallback state entered; an Express execution
uses one 64-MB chunk of memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import batch, traffic
from .awslambda import MAX_TIMEOUT_S
from .validation import check_array, check_choice, check_int, check_number

__all__ = ["INLINE_MAX_CONCURRENCY", "INLINE_HISTORY_ENTRIES", "DISTRIBUTED_DEFAULT_CONCURRENCY", "EXPRESS_MAX_DURATION_S",
           "STANDARD_MAX_DURATION_S", "RETRY_INTERVAL_S", "RETRY_MAX_ATTEMPTS", "RETRY_BACKOFF_RATE",
           "EXPRESS_BILLING_STEP_S", "EXPRESS_MEMORY_CHUNK_MB", "MODES", "WORKFLOWS", "HANDLING",
           "OUTCOMES", "MapResult", "effective_concurrency", "map_wall_time", "retry_waits",
           "run_map", "simulate_map"]

#: An inline Map runs at most 40 iterations at once, in a workflow whose history stays under
#: 25,000 entries (Using Map state in Inline mode).
INLINE_MAX_CONCURRENCY, INLINE_HISTORY_ENTRIES = 40, 25_000
#: A distributed Map runs 10,000 child workflow executions in parallel when MaxConcurrency is not given.
DISTRIBUTED_DEFAULT_CONCURRENCY = 10_000
#: Express workflows run for up to five minutes; Standard workflows for up to one year.
EXPRESS_MAX_DURATION_S = 300.0
STANDARD_MAX_DURATION_S = 365 * 24 * 3_600.0
#: A retrier's defaults: IntervalSeconds 1, MaxAttempts 3, BackoffRate 2.0 (Handling errors).
RETRY_INTERVAL_S, RETRY_MAX_ATTEMPTS, RETRY_BACKOFF_RATE = 1.0, 3, 2.0
#: Express duration is rounded up to the nearest 100 ms; memory is billed in 64-MB chunks (pricing page).
EXPRESS_BILLING_STEP_S, EXPRESS_MEMORY_CHUNK_MB = 0.1, 64

MODES = ("inline", "distributed")
WORKFLOWS = ("standard", "express")
#: Error handling on the iteration's task: none, a retrier, a retrier and a catcher.
HANDLING = ("none", "retry", "retry_catch")

#: Final outcome of an iteration.
SUCCEEDED, RETRIED, CAUGHT, FAILED, ABORTED, NOT_STARTED = range(6)
OUTCOMES = ("succeeded", "succeeded after retries", "caught", "failed", "aborted", "not started")

#: Simulation bound on the iterations of one Map (the schedule is a Python loop).
MAX_ITERATIONS = 100_000


def effective_concurrency(mode: str = "inline", max_concurrency: int = 0) -> int:
    """How many iterations run at once: ``MaxConcurrency`` (0: no limit given), capped at 40
    for an inline Map; a distributed Map without one runs 10,000 at once."""
    mode = check_choice("mode", mode, MODES)
    max_concurrency = check_int("max_concurrency", max_concurrency, 0, 100_000, why="0 means not given")
    if mode == "inline":
        return INLINE_MAX_CONCURRENCY if max_concurrency == 0 else min(max_concurrency, INLINE_MAX_CONCURRENCY)
    return DISTRIBUTED_DEFAULT_CONCURRENCY if max_concurrency == 0 else max_concurrency


def map_wall_time(n: int = 1, c: int = 1, duration: float = 1.0) -> float:
    """Theory: ``n`` iterations of equal ``duration`` on ``c`` slots take ceil(n / c) x duration."""
    n = check_int("n", n, 0, MAX_ITERATIONS)
    c = check_int("c", c, 1, 100_000)
    duration = check_number("duration", duration, 0, STANDARD_MAX_DURATION_S)
    return math.ceil(n / c) * duration


def retry_waits(retries: int = RETRY_MAX_ATTEMPTS, interval: float = RETRY_INTERVAL_S,
                backoff: float = RETRY_BACKOFF_RATE) -> np.ndarray:
    """The waits before each retry: interval x backoff^(k-1) for k = 1 .. retries (1, 2, 4 s by default)."""
    retries = check_int("retries", retries, 0, 99_999_999, why="MaxAttempts")
    interval = check_number("interval", interval, 1, 99_999_999, why="IntervalSeconds, a whole number of seconds")
    backoff = check_number("backoff", backoff, 1, 100, why="BackoffRate")
    k = np.arange(min(retries, 1_000))                  # the waits beyond 1,000 retries never matter here
    with np.errstate(over="ignore"):
        return np.minimum(interval * backoff ** k, STANDARD_MAX_DURATION_S)


@dataclass(frozen=True)
class MapResult:
    start: np.ndarray       #: start of each iteration, s (NaN if it never started)
    end: np.ndarray         #: end of each iteration, s (when the Map stopped it, if aborted; NaN if never started)
    work: np.ndarray        #: seconds of work each iteration's items need
    items: np.ndarray       #: items in each iteration
    attempts: np.ndarray    #: task attempts each iteration made (retries included)
    outcome: np.ndarray     #: an index into OUTCOMES
    mode: str
    workflow: str
    handling: str
    concurrency: int        #: iterations run at once (see :func:`effective_concurrency`)
    map_failed: bool        #: the Map (and the workflow) failed
    fail_time: float        #: when the Map failed, s (infinity if it did not)
    reason: str             #: why it failed, or "" if it did not
    max_concurrency: int = 0            #: the MaxConcurrency asked for (0: not given)
    tolerated_failure_pct: float = 0.0  #: ToleratedFailurePercentage (a distributed Map's)

    @property
    def iterations(self) -> int:
        return len(self.work)

    def count(self, outcome: int) -> int:
        return int((self.outcome == outcome).sum())

    @property
    def wall_time(self) -> float:
        if self.map_failed:
            return float(self.fail_time)
        ran = self.end[np.isfinite(self.end)]
        return float(ran.max()) if len(ran) else 0.0

    @property
    def items_done(self) -> int:
        return int(self.items[(self.outcome == SUCCEEDED) | (self.outcome == RETRIED)].sum())

    @property
    def items_to_redo(self) -> int:
        return int(self.items.sum()) - self.items_done

    @property
    def state_transitions(self) -> int:
        """State transitions of the workflows that pay by them (the model's count): the Map state,
        each task attempt, each fallback state; only the Map state if its iterations run in
        Express child workflows; none for an Express workflow."""
        if self.workflow == "express":
            return 0 if self.mode == "inline" else 1
        return 1 + int(self.attempts.sum()) + self.count(CAUGHT)

    @property
    def express_requests(self) -> int:
        """Express executions started: the workflow itself (inline), or one per child started."""
        if self.workflow != "express":
            return 0
        return 1 if self.mode == "inline" else int(np.isfinite(self.start).sum())

    @property
    def express_duration(self) -> float:
        """Billed Express duration, s: each execution's run time rounded up to 100 ms."""
        if self.workflow != "express":
            return 0.0
        steps = lambda t: np.ceil(np.round(np.asarray(t) / EXPRESS_BILLING_STEP_S, 6))   # noqa: E731
        if self.mode == "inline":
            return float(steps(self.wall_time)) * EXPRESS_BILLING_STEP_S
        ran = np.isfinite(self.start)
        return float(steps(self.end[ran] - self.start[ran]).sum()) * EXPRESS_BILLING_STEP_S

    def books(self) -> dict:
        """``iterations == succeeded + retried + caught + failed + aborted + not_started`` and
        ``items == items_done + items_to_redo``; with a Standard workflow,
        ``state_transitions == map_state + attempts + caught``."""
        b = {"iterations": self.iterations, "succeeded": self.count(SUCCEEDED), "retried": self.count(RETRIED),
             "caught": self.count(CAUGHT), "failed": self.count(FAILED), "aborted": self.count(ABORTED),
             "not_started": self.count(NOT_STARTED),
             "items": int(self.items.sum()), "items_done": self.items_done, "items_to_redo": self.items_to_redo}
        if self.workflow == "standard":
            b |= {"state_transitions": self.state_transitions, "map_state": 1,
                  "attempts": int(self.attempts.sum())}
        return b


def run_map(durations, items=None, *, mode: str = "inline", max_concurrency: int = 0,
            workflow: str = "standard", failure_rate: float = 0.0, handling: str = "none",
            tolerated_failure_pct: float = 0.0, timeout: float = MAX_TIMEOUT_S, seed: int = 0) -> MapResult:
    """Run a Map state over iterations that need ``durations`` seconds of work each (``items``:
    items in each, 1 by default), in order, with the Map's concurrency, retries, catcher and
    failure rules (see the module's docstring)."""
    work = check_array("durations", durations, 0.0, None, sorted_=False)
    n = len(work)
    if n > MAX_ITERATIONS:
        raise ValueError(f"durations: {n:,} iterations is out of range: allowed at most {MAX_ITERATIONS:,} "
                         "(simulation bound)")
    counts = np.ones(n) if items is None else check_array("items", items, 0.0, None, sorted_=False)
    if len(counts) != n or not np.all(counts == np.round(counts)):
        raise ValueError(f"items must be {n:,} whole numbers, one per iteration, got {items!r:.80}")
    mode = check_choice("mode", mode, MODES)
    c = effective_concurrency(mode, max_concurrency)
    workflow = check_choice("workflow", workflow, WORKFLOWS)
    p = check_number("failure_rate", failure_rate, 0, 1, hi_open=True, why="each attempt's chance of failing")
    handling = check_choice("handling", handling, HANDLING)
    tol = check_number("tolerated_failure_pct", tolerated_failure_pct, 0, 100, why="ToleratedFailurePercentage")
    timeout = check_number("timeout", timeout, 1, MAX_TIMEOUT_S, why="Lambda's timeout is 1 s to 900 s")
    rng = traffic.make_rng(seed)

    # Attempts: every attempt of a too-long iteration times out; others fail at random.
    retries = RETRY_MAX_ATTEMPTS if handling != "none" else 0
    waits = retry_waits(retries)
    too_long = work > timeout
    fails = rng.random((n, retries + 1)) < p
    fails[too_long] = True
    ok = ~fails
    first_ok = np.where(ok.any(axis=1), ok.argmax(axis=1), -1)          # -1: every attempt failed
    attempts = np.where(first_ok >= 0, first_ok + 1, retries + 1)
    failed_attempt = np.where(too_long, timeout, work / 2)               # assumption: halfway through
    n_failed = attempts - (first_ok >= 0)
    wait_sum = np.concatenate([[0.0], np.cumsum(waits)])[attempts - 1]
    busy = n_failed * failed_attempt + np.where(first_ok >= 0, work, 0.0) + wait_sum
    outcome = np.where(first_ok == 0, SUCCEEDED, np.where(first_ok > 0, RETRIED,
                                                          CAUGHT if handling == "retry_catch" else FAILED))
    # Offset of each attempt's start from the iteration's start (failed attempts, then waits).
    k = np.arange(retries + 1)
    offset = k * failed_attempt[:, None] + np.concatenate([[0.0], np.cumsum(waits)])[None, :]
    made = k[None, :] < attempts[:, None]
    # An Express child workflow stops at five minutes: no catcher inside it catches that.
    if workflow == "express" and mode == "distributed":
        over = busy > EXPRESS_MAX_DURATION_S
        outcome = np.where(over, FAILED, outcome)
        busy = np.where(over, EXPRESS_MAX_DURATION_S, busy)
        attempts = np.where(over, (made & (offset < EXPRESS_MAX_DURATION_S)).sum(axis=1), attempts)
    start = batch.list_schedule(busy, min(c, max(n, 1)))
    end = start + busy

    # When does the Map fail?
    fail_time, reason = math.inf, ""
    bad = np.flatnonzero(outcome == FAILED)
    if len(bad):
        allowed = 0 if mode == "inline" else math.floor(tol / 100 * n + 1e-9)
        if len(bad) > allowed:                      # the Map fails when the (allowed + 1)-th failure ends
            fail_time = float(np.sort(end[bad])[allowed])
            reason = ("an iteration failed" if mode == "inline" else
                      f"failed items exceeded the tolerated {tol:g}%")
    if workflow == "express" and mode == "inline" and (end.max(initial=0.0) > EXPRESS_MAX_DURATION_S) \
            and fail_time > EXPRESS_MAX_DURATION_S:
        fail_time, reason = EXPRESS_MAX_DURATION_S, "the Express workflow ran out of its five minutes"
    map_failed = math.isfinite(fail_time)
    if map_failed:
        never = start >= fail_time
        cut = ~never & (end > fail_time)
        outcome = np.where(never, NOT_STARTED, np.where(cut, ABORTED, outcome))
        # attempts that began before the stop count; those after it never ran
        began = (made & (start[:, None] + offset < fail_time)).sum(axis=1)
        attempts = np.where(never, 0, np.where(cut, np.minimum(attempts, began), attempts))
        end = np.where(cut, fail_time, end)
        start = np.where(never, np.nan, start)
        end = np.where(never, np.nan, end)
    return MapResult(start, end, work, counts.astype(int), attempts.astype(int), outcome.astype(np.int8),
                     mode, workflow, handling, c, map_failed,
                     fail_time, reason, int(max_concurrency), tol)


def simulate_map(items: int = 20_000, seconds_per_item: float = 0.5, *, item_cv: float = 0.5,
                 chunk_size: int = 100, mode: str = "inline", max_concurrency: int = 100,
                 workflow: str = "standard", failure_rate: float = 0.0, handling: str = "none",
                 tolerated_failure_pct: float = 0.0, timeout: float = MAX_TIMEOUT_S, seed: int = 0) -> MapResult:
    """Chapter 1's batch job (:func:`labsim.batch.simulate_batch`'s items and chunks) run as a Map state."""
    items = check_int("items", items, 1, batch.MAX_ITEMS, why="simulation bound: about a second of work")
    chunk_size = check_int("chunk_size", chunk_size, 1, items, why=f"at most items={items:,}")
    n = math.ceil(items / chunk_size)
    if n > MAX_ITERATIONS:
        raise ValueError(f"chunk_size={chunk_size:,} is out of range: {n:,} iterations; allowed at most "
                         f"{MAX_ITERATIONS:,} (simulation bound)")
    job = batch.simulate_batch(items, seconds_per_item, item_cv=item_cv, chunk_size=chunk_size,
                               concurrency=min(n, 100_000), timeout=timeout, seed=seed)
    return run_map(job.work, job.items, mode=mode, max_concurrency=max_concurrency, workflow=workflow,
                   failure_rate=failure_rate, handling=handling, tolerated_failure_pct=tolerated_failure_pct,
                   timeout=timeout, seed=check_int("seed", seed, 0, why="a seed") + 1)
