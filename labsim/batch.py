"""Splitting a batch job into Lambda invocations that fit under the timeout.

A job of ``items`` items, each taking a random time (lognormal, mean ``seconds_per_item``), is
cut into invocations of ``chunk_size`` items. An orchestrator (for example a Step Functions
Map state with a maximum concurrency) runs at most ``concurrency`` invocations at once, each
starting as soon as a slot frees. An invocation whose work exceeds ``timeout`` is stopped at the
timeout: its items are not processed and must be run again.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from numbers import Real

import numpy as np

from . import traffic
from .awslambda import ASYNC_PAYLOAD_MB, MAX_TIMEOUT_S, SYNC_PAYLOAD_MB
from .outcomes import Outcome
from .validation import check_array, check_int, check_number


#: Simulation bound on a job's items (each item's time is drawn: 5,000,000 take about a second).
MAX_ITEMS = 5_000_000


@dataclass(frozen=True)
class BatchResult:
    start: np.ndarray      #: start of each invocation, s
    end: np.ndarray        #: end (stopped at the timeout if it ran over), s
    work: np.ndarray       #: seconds of work in each invocation
    items: np.ndarray      #: items in each invocation
    outcome: np.ndarray    #: SUCCEEDED or TIMED_OUT
    timeout: float
    concurrency: int

    @property
    def invocations(self) -> int:
        return len(self.start)

    @property
    def wall_time(self) -> float:
        return float(self.end.max()) if len(self.end) else 0.0

    @property
    def timed_out(self) -> int:
        return int((self.outcome == Outcome.TIMED_OUT).sum())

    @property
    def items_done(self) -> int:
        return int(self.items[self.outcome == Outcome.SUCCEEDED].sum())

    @property
    def items_lost(self) -> int:
        return int(self.items[self.outcome == Outcome.TIMED_OUT].sum())

    def books(self) -> dict:
        """``invocations == succeeded + timed_out`` and ``items == items_done + items_lost``."""
        return {"invocations": self.invocations,
                "succeeded": int((self.outcome == Outcome.SUCCEEDED).sum()),
                "timed_out": self.timed_out,
                "items": int(self.items.sum()), "items_done": self.items_done,
                "items_lost": self.items_lost}


def simulate_batch(items: int = 20_000, seconds_per_item: float = 0.5, *, item_cv: float = 0.5,
                   chunk_size: int = 1_000, concurrency: int = 10, timeout: float = MAX_TIMEOUT_S,
                   seed: int = 0) -> BatchResult:
    """Run a batch job as invocations of ``chunk_size`` items with at most ``concurrency`` at once."""
    items = check_int("items", items, 1, MAX_ITEMS, why="simulation bound: about a second of work")
    seconds_per_item = check_number("seconds_per_item", seconds_per_item, 0, 900, lo_open=True)
    item_cv = check_number("item_cv", item_cv, 0, 10, lo_open=True)
    chunk_size = check_int("chunk_size", chunk_size, 1, items, why=f"at most items={items:,}")
    concurrency = check_int("concurrency", concurrency, 1, 100_000)
    timeout = check_number("timeout", timeout, 1, MAX_TIMEOUT_S,
                           why="Lambda's timeout is 1 s to 900 s")
    rng = traffic.make_rng(seed)
    item_time = traffic.durations("lognormal", seconds_per_item, items, rng, item_cv)
    n = math.ceil(items / chunk_size)
    bounds = np.arange(n) * chunk_size
    work = np.add.reduceat(item_time, bounds)
    counts = np.diff(np.append(bounds, items))
    run = np.minimum(work, timeout)
    start = _list_schedule(run, concurrency)
    end = start + run
    outcome = np.where(work > timeout, int(Outcome.TIMED_OUT), int(Outcome.SUCCEEDED)).astype(np.int8)
    return BatchResult(start, end, work, counts, outcome, timeout, concurrency)


def _list_schedule(run: np.ndarray, concurrency: int) -> np.ndarray:
    """Start of each job, in order, on ``concurrency`` slots: each starts as soon as a slot frees."""
    n = len(run)
    start = np.zeros(n)
    if concurrency >= n:
        return start
    free = [0.0] * concurrency
    for k, r in enumerate(run.tolist()):
        s = free[0]
        start[k] = s
        heapq.heapreplace(free, s + r)
    return start


#: Simulation bound on the jobs :func:`list_schedule` places (a Python loop: 1,000,000 take about a second).
MAX_SCHEDULED = 1_000_000


def list_schedule(durations, concurrency: int = 1) -> np.ndarray:
    """Start times of jobs of the given ``durations``, taken in order, on ``concurrency`` slots:
    each job starts as soon as a slot frees (list scheduling, as a Map state with a
    ``MaxConcurrency`` starts its iterations). The job ends at start + duration."""
    d = check_array("durations", durations, 0.0, None, sorted_=False)
    if len(d) > MAX_SCHEDULED:
        raise ValueError(f"durations: {len(d):,} jobs is out of range: allowed at most {MAX_SCHEDULED:,} "
                         "(simulation bound)")
    concurrency = check_int("concurrency", concurrency, 1, 100_000)
    return _list_schedule(d, concurrency)


#: Simulation bound on the items :func:`wall_time_curve` runs in all (concurrencies x items).
MAX_CURVE_ITEMS = 20_000_000


def wall_time_curve(concurrencies, **kwargs) -> np.ndarray:
    """Wall time of the same job (same seed) for each concurrency in ``concurrencies``."""
    if isinstance(concurrencies, (str, bytes)) or np.ndim(concurrencies) != 1:
        raise ValueError(f"concurrencies={concurrencies!r:.80} is not allowed: give a list of concurrencies")
    cs = [check_int("concurrencies", c, 1, 100_000) for c in concurrencies]
    items = kwargs.get("items", 20_000)
    if isinstance(items, Real) and len(cs) * items > MAX_CURVE_ITEMS:
        raise ValueError(f"concurrencies: {len(cs):,} runs x items={items:,} is out of range: allowed "
                         f"{MAX_CURVE_ITEMS:,} items in all (fewer concurrencies or fewer items)")
    return np.array([simulate_batch(concurrency=c, **kwargs).wall_time for c in cs])


def max_items_per_payload(item_kb: float, invocation: str = "sync") -> int:
    """Most items of ``item_kb`` kilobytes that fit in one invocation's event, if the items travel
    in the payload: 6 MB synchronous, 1 MB asynchronous (API_Invoke.html). Megabytes are counted
    as 1,000 KB here; AWS's "MB" may be binary, so treat the answer as approximate (a few %)."""
    from .validation import check_choice
    item_kb = check_number("item_kb", item_kb, 0.001, 1_000 * SYNC_PAYLOAD_MB, why="kilobytes; 0.001 KB is a byte")
    check_choice("invocation", invocation, ("sync", "async"))
    limit_mb = SYNC_PAYLOAD_MB if invocation == "sync" else ASYNC_PAYLOAD_MB
    return int(math.floor(1_000 * limit_mb / item_kb))
