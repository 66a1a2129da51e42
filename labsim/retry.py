"""Client retry policies: how long to wait before retrying a failed call.

The strategies follow the AWS Architecture Blog post "Exponential Backoff And Jitter" (Marc
Brooker, 2015, https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/).
With ``n`` the retry number (0 before the first retry, 1 before the second, ...), base ``b``
and cap ``c``:

=====================  =========================================================
``none``               never retry
``immediate``          0
``fixed``              b
``exponential``        min(c, b 2^n)
``full_jitter``        uniform(0, min(c, b 2^n))
``equal_jitter``       v/2 + uniform(0, v/2) with v = min(c, b 2^n)
``decorrelated_jitter``  min(c, uniform(b, 3 s_prev)) with s_prev = b before the first retry
=====================  =========================================================

A policy also has an attempt limit: ``max_attempts`` calls in all, the first one included.

Also here:

* :class:`RetryBudget`: a client-side retry budget (token bucket), as in the AWS SDKs' retry quota;
* :func:`simulate_independent_failures`, checked against the closed forms in
  :mod:`labsim.theory` (1 - p^(r+1) and the mean number of attempts);
* :func:`simulate_client_retries`: a spike of synchronous calls against a Lambda concurrency
  limit, each 429 retried by its caller (retry storms and their cures);
* :func:`simulate_contention` and :func:`contention_sweep`: the blog post's optimistic-concurrency
  experiment (N clients writing one record).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from . import traffic
from .awslambda import DEFAULT_ACCOUNT_LIMIT, MAX_ACCOUNT_LIMIT, MAX_TIMEOUT_S
from .outcomes import Outcome
from .validation import check_bool, check_choice, check_int, check_number

#: The AWS SDKs' standard retry mode makes at most 3 attempts by default (2 retries).
#: https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
SDK_DEFAULT_MAX_ATTEMPTS = 3
#: What an SDK retries for a synchronous Invoke: throttles (429), server errors (5xx) and
#: timeouts. A *function* error is not among them: Invoke answers HTTP 200 with the
#: X-Amz-Function-Error header, and no SDK retries it.
#: https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
SDK_RETRIED_STATUSES = (429, "5xx", "timeout")
FUNCTION_ERROR_STATUS = 200

STRATEGIES = ("none", "immediate", "fixed", "exponential", "full_jitter", "equal_jitter",
              "decorrelated_jitter")
#: Strategies whose delay is random.
JITTERED = ("full_jitter", "equal_jitter", "decorrelated_jitter")
#: Simulation bound on the attempt limit.
MAX_ATTEMPTS = 100
#: Simulation bound on calls x retries in :func:`simulate_independent_failures` (one delay is
#: drawn per call and retry: 5,000,000 is 40 MB and about a second).
MAX_DELAY_DRAWS = 5_000_000
#: Simulation bound on the contention experiment's clients: without backoff every round lets
#: one client through, so the writes grow with N^2 / 2 (500,000 at N = 1,000: about a second).
MAX_CLIENTS = 1_000
#: Simulation bound on a contention sweep's writes at worst (the lab's sweep: about 2 million).
MAX_SWEEP_WRITES = 2_000_000


@dataclass(frozen=True)
class RetryPolicy:
    """A retry strategy with its base delay, cap (seconds) and attempt limit."""

    strategy: str = "exponential"
    base: float = 0.1
    cap: float = 20.0
    max_attempts: int = 3

    def __post_init__(self):
        check_choice("strategy", self.strategy, STRATEGIES)
        check_number("base", self.base, 0, 3_600)
        check_number("cap", self.cap, self.base, 86_400,
                     why="the cap must be at least the base delay")
        check_int("max_attempts", self.max_attempts, 1, MAX_ATTEMPTS)

    @property
    def retries(self) -> int:
        """Retries allowed after the first call (0 for ``none``)."""
        return 0 if self.strategy == "none" else self.max_attempts - 1

    def delay(self, n, prev=None, rng=None):
        """Delay before retry number ``n`` (0-based); ``n`` and ``prev`` may be arrays.

        ``prev`` is the previous delay (decorrelated jitter only; ``None`` means none yet).
        ``rng`` is a ``numpy.random.Generator``; required for the jittered strategies.
        """
        n = np.asarray(n, dtype=float)
        s, b, c = self.strategy, self.base, self.cap
        if s == "none":
            raise ValueError("strategy='none' never retries: there is no delay to draw")
        if s == "immediate":
            out = np.zeros_like(n)
        elif s == "fixed":
            out = np.full_like(n, b)
        elif s == "decorrelated_jitter":
            p = np.full_like(n, b) if prev is None else np.maximum(np.asarray(prev, dtype=float), b)
            out = np.minimum(c, rng.uniform(b, 3.0 * p))
        else:
            v = np.minimum(c, b * np.exp2(np.minimum(n, 1_000)))
            if s == "exponential":
                out = v
            elif s == "full_jitter":
                out = rng.uniform(0.0, v)
            else:                               # equal_jitter
                out = v / 2 + rng.uniform(0.0, v / 2)
        out = np.asarray(out, dtype=float)
        return float(out) if out.ndim == 0 else out

    def schedule(self, rng=None) -> np.ndarray:
        """All the delays one caller would wait if every attempt failed (``retries`` values)."""
        out = np.empty(self.retries)
        prev = None
        for n in range(self.retries):
            prev = out[n] = self.delay(n, prev, rng)
        return out

    def expected_delay(self, n: int) -> float:
        """Mean delay before retry ``n`` for the strategies with a closed form.

        Decorrelated jitter's mean depends on the path; it raises ``ValueError``.
        """
        s, b, c = self.strategy, self.base, self.cap
        if s in ("none", "decorrelated_jitter"):
            raise ValueError(f"strategy={s!r} has no closed-form mean delay")
        v = min(c, b * 2.0 ** n)
        return {"immediate": 0.0, "fixed": b, "exponential": v, "full_jitter": v / 2,
                "equal_jitter": 0.75 * v}[s]

    def sampler(self, rng=None):
        """A fast scalar form of :meth:`delay` for event loops: ``f(n, prev) -> seconds``.

        Same definitions and distributions as :meth:`delay` (the tests check both against
        each other); uniforms are drawn from ``rng`` in blocks, so one call costs well under a
        microsecond instead of a numpy call per retry.
        """
        s, b, c = self.strategy, self.base, self.cap
        if s == "none":
            raise ValueError("strategy='none' never retries: there is no delay to draw")
        table = [min(c, b * 2.0 ** n) for n in range(MAX_ATTEMPTS)]
        last = MAX_ATTEMPTS - 1
        if s == "immediate":
            return lambda n, prev=None: 0.0
        if s == "fixed":
            return lambda n, prev=None: b
        if s == "exponential":
            return lambda n, prev=None: table[n if n < last else last]
        u = _Uniforms(rng)
        if s == "full_jitter":
            return lambda n, prev=None: u() * table[n if n < last else last]
        if s == "equal_jitter":
            def equal(n, prev=None):
                v = table[n if n < last else last]
                return v / 2 + u() * (v / 2)
            return equal

        def decorrelated(n, prev=None):
            p = b if prev is None or prev < b else prev
            return min(c, b + u() * (3.0 * p - b))
        return decorrelated


class _Uniforms:
    """Uniform(0, 1) numbers drawn from a numpy generator in blocks (fast scalar access)."""

    __slots__ = ("rng", "buf", "i")
    BLOCK = 4_096

    def __init__(self, rng):
        if rng is None:
            raise ValueError("rng is required for the jittered strategies")
        self.rng = rng
        self.buf: list = []
        self.i = 0

    def __call__(self) -> float:
        if self.i == len(self.buf):
            self.buf = self.rng.random(self.BLOCK).tolist()
            self.i = 0
        self.i += 1
        return self.buf[self.i - 1]


class _AbsNormals(_Uniforms):
    """|Normal(mean, sd)| network delays drawn in blocks (the blog simulator's delay model)."""

    __slots__ = ("mean", "sd")

    def __init__(self, rng, mean, sd):
        super().__init__(rng)
        self.mean, self.sd = mean, sd

    def __call__(self) -> float:
        if self.i == len(self.buf):
            self.buf = np.abs(self.rng.normal(self.mean, self.sd, self.BLOCK)).tolist()
            self.i = 0
        self.i += 1
        return self.buf[self.i - 1]


# --- retry budget ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryBudget:
    """A client-side retry budget: a token bucket that only retries draw from.

    Modelled on the retry quota of the AWS SDKs' *standard* retry mode
    (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html), in this
    book's own units (the SDKs' token amounts differ by SDK and version, so none is copied here):

    * the bucket starts full with ``capacity`` tokens and never holds more;
    * a retry needs one token, taken when the caller decides to retry (at the failure); with
      no token left the caller gives up at once (outcome ``BUDGET_DENIED``);
    * every successful attempt puts ``refill`` tokens back (at the moment it completes).

    First attempts never need a token. In a long overload the bucket runs dry and at most about
    ``refill`` retries per success get through: retries can no longer multiply the load.
    """

    capacity: float = 50.0
    refill: float = 0.1

    def __post_init__(self):
        check_number("capacity", self.capacity, 0, 1_000_000)
        check_number("refill", self.refill, 0, 100)


class CallOutcome(IntEnum):
    """How a *logical* call (the caller's request, across all its attempts) ends."""

    SUCCEEDED = 0       #: one attempt was admitted and completed
    GAVE_UP = 1         #: every allowed attempt was throttled (or failed); the caller got the error
    BUDGET_DENIED = 2   #: a retry was due but the retry budget had no token left


# --- 1. independent failures ------------------------------------------------------------------------
@dataclass(frozen=True)
class IndependentResult:
    """Per-call arrays for calls whose attempts fail independently with probability ``p``."""

    attempts: np.ndarray     #: attempts made by each call (1 .. retries + 1)
    outcome: np.ndarray      #: ``CallOutcome`` codes (SUCCEEDED or GAVE_UP)
    waited: np.ndarray       #: total backoff each call slept before its last attempt, s
    p: float
    policy: RetryPolicy

    @property
    def calls(self) -> int:
        return len(self.attempts)

    @property
    def success_fraction(self) -> float:
        return float(np.mean(self.outcome == CallOutcome.SUCCEEDED))

    @property
    def mean_attempts(self) -> float:
        return float(self.attempts.mean())

    def books(self) -> dict:
        """``calls == succeeded + gave_up``."""
        return {"calls": self.calls,
                "succeeded": int((self.outcome == CallOutcome.SUCCEEDED).sum()),
                "gave_up": int((self.outcome == CallOutcome.GAVE_UP).sum())}


def simulate_independent_failures(p: float = 0.3, policy: RetryPolicy | None = None,
                                  n_calls: int = 10_000, seed: int = 0) -> IndependentResult:
    """Calls whose attempts each fail independently with probability ``p``.

    A call makes attempts until one succeeds or ``policy.retries + 1`` attempts have failed.
    The number of failures before the first success is geometric, so the attempt count is
    drawn directly (exact, vectorised). ``waited`` adds up the policy's delays before each retry
    the call made (a full schedule is drawn per call, then cut at its attempt count).
    """
    p = check_number("p", p, 0, 1)
    policy = RetryPolicy() if policy is None else policy
    if not isinstance(policy, RetryPolicy):
        raise ValueError(f"policy={policy!r:.80} is not a RetryPolicy or None")
    n_calls = check_int("n_calls", n_calls, 1, traffic.MAX_REQUESTS)
    if n_calls * max(1, policy.retries) > MAX_DELAY_DRAWS:
        raise ValueError(f"n_calls={n_calls:,} x the policy's retries={policy.retries} is out of range: allowed "
                         f"{MAX_DELAY_DRAWS:,} or less (each call draws a delay for every retry it may make)")
    rng = traffic.make_rng(seed)
    r = policy.retries
    if p == 0:
        first_ok = np.ones(n_calls, np.int64)
    elif p == 1:
        first_ok = np.full(n_calls, np.iinfo(np.int64).max)
    else:
        first_ok = rng.geometric(1.0 - p, n_calls)       # attempt number of the first success
    succeeded = first_ok <= r + 1
    attempts = np.minimum(first_ok, r + 1)
    outcome = np.where(succeeded, int(CallOutcome.SUCCEEDED), int(CallOutcome.GAVE_UP)).astype(np.int8)
    waited = np.zeros(n_calls)
    if r > 0:
        delays = np.empty((n_calls, r))
        prev = None
        for n in range(r):
            prev = delays[:, n] = policy.delay(np.full(n_calls, n), prev, rng)
        cum = np.concatenate([np.zeros((n_calls, 1)), np.cumsum(delays, axis=1)], axis=1)
        waited = cum[np.arange(n_calls), attempts - 1]
    return IndependentResult(attempts.astype(np.int64), outcome, waited, p, policy)


# --- 2. a spike of synchronous calls against a concurrency limit, with client retries ---------------
#: Simulation bound on calls x attempts allowed per call (the event loop handles about 400,000
#: attempts a second, so one run stays within a second or two).
MAX_ATTEMPT_EVENTS = 500_000


@dataclass(frozen=True)
class ClientRetryResult:
    """One run of :func:`simulate_client_retries`.

    Per logical call (sorted by arrival): ``arrival``, ``outcome`` (:class:`CallOutcome`),
    ``attempts`` and ``end`` (when the caller got its final answer). Per attempt, in time order:
    ``attempt_time`` (when it reached Lambda), ``attempt_call`` (index of its call),
    ``attempt_number`` (0 = first attempt) and ``attempt_outcome`` (``Outcome.SUCCEEDED`` if
    admitted, ``Outcome.THROTTLED`` if refused with a 429).
    """

    arrival: np.ndarray
    outcome: np.ndarray
    attempts: np.ndarray
    end: np.ndarray
    attempt_time: np.ndarray
    attempt_call: np.ndarray
    attempt_number: np.ndarray
    attempt_outcome: np.ndarray
    duration: float
    spike_start: float
    spike_end: float
    horizon: float
    params: dict = field(default_factory=dict)

    # -- counting ---------------------------------------------------------------------------------
    @property
    def calls(self) -> int:
        return len(self.arrival)

    @property
    def total_attempts(self) -> int:
        return len(self.attempt_time)

    @property
    def retries(self) -> int:
        return self.total_attempts - self.calls

    def count(self, outcome: CallOutcome) -> int:
        return int((self.outcome == int(outcome)).sum())

    def books(self) -> dict:
        """Calls and attempts each in exactly one outcome, one admitted attempt per success:
        ``calls == succeeded + gave_up + budget_denied``, ``attempts == admitted + throttled``,
        ``admitted == succeeded``."""
        d = {"calls": self.calls}
        for o in CallOutcome:
            d[o.name.lower()] = self.count(o)
        d["attempts"] = self.total_attempts
        d["admitted"] = int((self.attempt_outcome == Outcome.SUCCEEDED).sum())
        d["throttled"] = int((self.attempt_outcome == Outcome.THROTTLED).sum())
        return d

    # -- summaries --------------------------------------------------------------------------------
    @property
    def success_rate(self) -> float:
        """Share of logical calls that succeeded (after however many attempts)."""
        return self.count(CallOutcome.SUCCEEDED) / self.calls if self.calls else float("nan")

    @property
    def amplification(self) -> float:
        """Attempts per logical call: how much retries multiply the load (1 = no retries)."""
        return self.total_attempts / self.calls if self.calls else float("nan")

    @property
    def drain_time(self) -> float:
        """Seconds from the end of the spike until the last call that arrived by then got its
        final answer (success or error): how long the spike's backlog lasts."""
        m = self.arrival < self.spike_end
        return float(max(0.0, self.end[m].max() - self.spike_end)) if m.any() else 0.0

    @property
    def last_answer(self) -> float:
        """Time the last caller got its final answer, s."""
        return float(self.end.max()) if self.calls else 0.0

    # -- over time --------------------------------------------------------------------------------
    def attempt_rate(self, edges, retries: bool | None = None) -> np.ndarray:
        """Attempts per second reaching Lambda in each bin of ``edges`` (first attempts only
        with ``retries=False``, retries only with ``True``, all with ``None``)."""
        t = self.attempt_time
        if retries is not None:
            t = t[(self.attempt_number > 0) == retries]
        counts, _ = np.histogram(t, bins=edges)
        return counts / np.diff(edges)

    def concurrency(self, grid) -> np.ndarray:
        """Executions running at each time in ``grid`` (admitted attempts)."""
        start = self.attempt_time[self.attempt_outcome == Outcome.SUCCEEDED]   # time order
        return traffic.in_progress(start, start + self.duration, grid)

    def in_progress(self, grid) -> np.ndarray:
        """Logical calls started and not yet answered at each time in ``grid`` (the backlog)."""
        return traffic.in_progress(self.arrival, self.end, grid)


_heappush = heapq.heappush


class _ClientRetries:
    """The event loop of :func:`simulate_client_retries`: the callers' pending attempts (a heap in
    time order), the running executions' end times (a heap), the retry budget, and the callers'
    reaction to a 429 (:meth:`on_throttled`). Executions that ended are taken off at the next
    attempt (exact: the pool and the tokens are only read there)."""

    __slots__ = ("retries", "delay", "use_budget", "tokens", "rtt", "pend", "outcome", "attempts", "end")

    def __init__(self, policy: RetryPolicy, budget: RetryBudget | None, arrival: np.ndarray, rtt: float, rng):
        n = len(arrival)
        self.retries = policy.retries
        self.delay = policy.sampler(rng) if self.retries > 0 else None
        self.use_budget = budget is not None
        self.tokens = budget.capacity if self.use_budget else 0.0
        self.rtt = rtt
        self.pend = [(t, i, 0, -1.0) for i, t in enumerate(arrival.tolist())]   # sorted: a valid heap
        # per call: outcome, attempts made, when the caller got its final answer
        self.outcome, self.attempts, self.end = [0] * n, [0] * n, [0.0] * n

    def on_throttled(self, t, i, k, prev):
        """HTTP 429, heard ``rtt`` later: retry after the policy's delay if the call has retries
        left and (with a budget) a token; else the call ends (gave up, or refused by the budget)."""
        if k >= self.retries:
            self.stop(i, k, t, CallOutcome.GAVE_UP)
            return
        if self.use_budget:
            if self.tokens < 1.0:
                self.stop(i, k, t, CallOutcome.BUDGET_DENIED)
                return
            self.tokens -= 1.0
        d = self.delay(k, prev if prev >= 0 else None)
        _heappush(self.pend, (t + self.rtt + d, i, k + 1, d))

    def stop(self, i, k, t, outcome):
        """Call ``i`` ends after its (k+1)-th attempt, refused at ``t``: the caller hears it ``rtt`` later."""
        self.attempts[i] = k + 1
        self.end[i] = t + self.rtt
        self.outcome[i] = int(outcome)

    def run(self, limit: int, duration: float, budget: RetryBudget | None):
        """Attempts in time order until every call has its final answer: Lambda admits one if fewer
        than ``limit`` executions are running (it then succeeds), else answers 429. Returns the
        per-attempt lists (time, call, attempt number, admitted?)."""
        log = []                                     # per attempt, flat: time, call, attempt number, admitted?
        record = log.extend
        pend, busy, pop, push = self.pend, [], heapq.heappop, heapq.heappush
        attempts, end, on_throttled = self.attempts, self.end, self.on_throttled
        use_budget = self.use_budget
        capacity, refill = (budget.capacity, budget.refill) if use_budget else (0.0, 0.0)
        while pend:
            t, i, k, prev = pop(pend)
            while busy and busy[0] <= t:             # executions ended by t: units free, budget refilled
                pop(busy)
                if use_budget:
                    self.tokens = min(capacity, self.tokens + refill)
            if len(busy) < limit:                    # admitted: runs, then the call succeeds
                record((t, i, k, True))
                e = t + duration
                push(busy, e)
                attempts[i] = k + 1
                end[i] = e
            else:
                record((t, i, k, False))
                on_throttled(t, i, k, prev)
        return log[0::4], log[1::4], log[2::4], log[3::4]


def simulate_client_retries(policy: RetryPolicy | None = None, budget: RetryBudget | None = None, *,
                            base_rate: float = 200.0, spike_rate: float = 4_000.0,
                            spike_start: float = 2.0, spike_length: float = 0.5,
                            horizon: float = 10.0, duration: float = 0.1,
                            concurrency_limit: int = 50, rtt: float = 0.01,
                            seed: int = 0) -> ClientRetryResult:
    """A spike of synchronous calls to one function, each caller retrying its 429s.

    The model
      * Calls arrive as Poisson traffic at ``base_rate`` per second on ``[0, horizon)``, with a
        rectangular spike to ``spike_rate`` on ``[spike_start, spike_start + spike_length)``
        (``labsim.traffic.spike``).
      * Lambda admits an attempt if fewer than ``concurrency_limit`` executions are running
        (Lambda's loss rule, as in ``labsim.awslambda``: nothing queues); the execution takes
        ``duration`` seconds and the call succeeds. Otherwise the attempt gets HTTP 429.
      * A throttled caller hears the 429 ``rtt`` seconds later. If it has retries left
        (``policy.retries``) and, with a ``budget``, a token, it sleeps the policy's delay and
        tries again; otherwise the call ends (``GAVE_UP`` or ``BUDGET_DENIED``).
      * The run continues until every call has its final answer (the attempt limit makes this
        finite), so every call ends in exactly one :class:`CallOutcome`.

    The engine is an event loop over a heap of pending attempts (time order) and a heap of the
    running executions' end times; with a budget, each completed execution refills it when it
    ends (credited lazily at the next event, which is exact since tokens are only read there).
    """
    policy = RetryPolicy() if policy is None else policy
    if not isinstance(policy, RetryPolicy):
        raise ValueError(f"policy={policy!r:.80} is not a RetryPolicy or None")
    if budget is not None and not isinstance(budget, RetryBudget):
        raise ValueError(f"budget={budget!r} is not a RetryBudget or None")
    horizon = check_number("horizon", horizon, 0, 3_600, lo_open=True)
    duration = check_number("duration", duration, 0, MAX_TIMEOUT_S, lo_open=True,
                            why="Lambda's maximum timeout is 900 s")
    limit = check_int("concurrency_limit", concurrency_limit, 1, MAX_ACCOUNT_LIMIT,
                      why=f"the account concurrency limit; AWS's default is {DEFAULT_ACCOUNT_LIMIT:,} per Region")
    rtt = check_number("rtt", rtt, 0, 10)
    base_rate = check_number("base_rate", base_rate, 0)
    spike_rate = check_number("spike_rate", spike_rate, 0)
    spike_start = check_number("spike_start", spike_start, 0, horizon, hi_open=True,
                               why=f"the spike starts before horizon={horizon:g} s")
    spike_length = check_number("spike_length", spike_length, 0, horizon - spike_start, lo_open=True,
                                why=f"the spike ends by horizon={horizon:g} s: at most horizon - spike_start")
    expected = (base_rate * (horizon - spike_length) + spike_rate * spike_length) * policy.max_attempts
    if expected > MAX_ATTEMPT_EVENTS:
        raise ValueError(f"(base_rate x (horizon - spike_length) + spike_rate x spike_length) expected calls "
                         f"x max_attempts={expected:,.0f} is out of range: allowed {MAX_ATTEMPT_EVENTS:,} or less "
                         f"(lower the rates, the horizon or the policy's max_attempts)")
    rng = traffic.make_rng(seed)
    arrival = traffic.spike(base_rate, spike_rate, spike_start, spike_length, horizon, rng)
    loop = _ClientRetries(policy, budget, arrival, rtt, rng)
    at_t, at_c, at_n, at_ok = loop.run(limit, duration, budget)
    ok = np.array(at_ok, bool)
    params = dict(policy=policy, budget=budget, base_rate=base_rate, spike_rate=spike_rate,
                  spike_start=spike_start, spike_length=spike_length, horizon=horizon,
                  duration=duration, concurrency_limit=limit, rtt=rtt, seed=seed)
    return ClientRetryResult(
        arrival, np.array(loop.outcome, np.int8), np.array(loop.attempts, np.int64), np.array(loop.end, float),
        np.array(at_t), np.array(at_c, np.int64),
        np.array(at_n, np.int64),
        np.where(ok, int(Outcome.SUCCEEDED), int(Outcome.THROTTLED)).astype(np.int8),
        duration, spike_start, spike_start + spike_length, horizon, params)


# --- 3. the contention experiment of "Exponential Backoff And Jitter" --------------------------------
#: The strategies the blog post compares, in its order (its "no backoff" is ``immediate`` here).
CONTENTION_STRATEGIES = ("immediate", "exponential", "full_jitter", "equal_jitter", "decorrelated_jitter")
#: The blog's simulation: base 5 ms, cap 2 s, network delay about 10 ms (sd 2 ms).
BLOG_BASE, BLOG_CAP, BLOG_NETWORK_DELAY = 0.005, 2.0, 0.010


@dataclass(frozen=True)
class ContentionResult:
    """Per-client arrays of one contention run: write calls made, when it stopped, outcome."""

    calls: np.ndarray        #: write attempts (the blog's "calls") per client
    end: np.ndarray          #: when the client got its final write response, s
    outcome: np.ndarray      #: ``CallOutcome`` (SUCCEEDED, or GAVE_UP at the attempt limit)
    params: dict = field(default_factory=dict)

    @property
    def n_clients(self) -> int:
        return len(self.calls)

    @property
    def total_calls(self) -> int:
        return int(self.calls.sum())

    @property
    def completion_time(self) -> float:
        """Time until every client has its final answer (the blog's "time"), s."""
        return float(self.end.max())

    def books(self) -> dict:
        """``clients == succeeded + gave_up``."""
        return {"clients": self.n_clients,
                "succeeded": int((self.outcome == CallOutcome.SUCCEEDED).sum()),
                "gave_up": int((self.outcome == CallOutcome.GAVE_UP).sum()),
                "calls": self.total_calls}


def simulate_contention(n_clients: int = 50, policy: RetryPolicy | None = None, *,
                        network_delay: float = BLOG_NETWORK_DELAY, network_sd: float | None = None,
                        until_success: bool = False, seed: int = 0) -> ContentionResult:
    """N clients each make one optimistic-concurrency (compare-and-swap) write to one record.

    The model (the experiment of the AWS Architecture Blog post "Exponential Backoff And
    Jitter", 2015, https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/):

    * All clients start at time 0. Every message between a client and the store takes an
      independent network delay |Normal(network_delay, network_sd)| (default sd: a fifth of the
      mean, the blog simulator's 10 ms +- 2 ms); the store itself takes no time.
    * An attempt: the client reads the record's version (the read reaches the store at time
      r), gets the answer back, and at once sends a conditional write, which reaches the store
      at time w. The write succeeds iff no other write succeeded at the store between r and w
      (the version is unchanged); otherwise it is a conflict.
    * On a conflict the client hears the answer one network delay later, sleeps
      ``policy.delay(n)`` (n = 0 before its first retry) and starts a new attempt (read, write).
      It stops when its write succeeds, or when it has made ``policy.max_attempts`` writes
      (``GAVE_UP``), unless ``until_success=True`` (the blog: retry until done).
    * Counted, as in the blog: write calls, and the time until the last client hears its
      final answer. Reads are not counted.

    Engine: only writes need ordering. Writes are processed in time order from a heap; the
    version a read saw is "the last successful write was before r", so a write at w with read
    time r succeeds iff the latest success so far is earlier than r.
    """
    n_clients = check_int("n_clients", n_clients, 1, MAX_CLIENTS,
                          why="without backoff the writes grow with N squared")
    policy = RetryPolicy("full_jitter", BLOG_BASE, BLOG_CAP, MAX_ATTEMPTS) if policy is None else policy
    if not isinstance(policy, RetryPolicy):
        raise ValueError(f"policy={policy!r:.80} is not a RetryPolicy or None")
    until_success = check_bool("until_success", until_success)
    network_delay = check_number("network_delay", network_delay, 0, 10, lo_open=True)
    sd = network_delay / 5 if network_sd is None else check_number("network_sd", network_sd, 0, 10)
    rng = traffic.make_rng(seed)
    net = _AbsNormals(rng, network_delay, sd)
    limit = float("inf") if until_success else policy.max_attempts
    if policy.retries == 0:
        limit = 1
    delay = policy.sampler(rng) if limit > 1 else None

    calls = np.zeros(n_clients, np.int64)
    end = np.zeros(n_clients)
    outcome = np.zeros(n_clients, np.int8)
    heap = []
    for k in range(n_clients):
        r = net()
        heap.append((r + net() + net(), r, k, 0, -1.0))
    heapq.heapify(heap)
    pop, push = heapq.heappop, heapq.heappush
    last_success = -1.0
    while heap:
        w, r, k, n, prev = pop(heap)
        calls[k] += 1
        if last_success < r:                        # nobody wrote since our read: success
            last_success = w
            end[k] = w + net()
        elif n + 1 < limit:                         # conflict: back off, then read again
            d = delay(n, prev if prev >= 0 else None)
            r2 = w + net() + d + net()
            push(heap, (r2 + net() + net(), r2, k, n + 1, d))
        else:
            end[k] = w + net()
            outcome[k] = CallOutcome.GAVE_UP
    return ContentionResult(calls, end, outcome,
                            dict(n_clients=n_clients, policy=policy, network_delay=network_delay,
                                 network_sd=sd, until_success=until_success, seed=seed))


@dataclass(frozen=True)
class ContentionSweep:
    """Means and standard errors over replications, indexed ``[strategy, n]``."""

    strategies: tuple
    n_values: np.ndarray
    calls: np.ndarray
    calls_se: np.ndarray
    time: np.ndarray
    time_se: np.ndarray
    replications: int
    params: dict = field(default_factory=dict)

    def nearest_n(self, n) -> int:
        """The swept N closest to ``n`` (a slider's readout accepts values between its steps)."""
        return int(self.n_values[np.abs(np.asarray(self.n_values) - n).argmin()])

    def at(self, strategy: str, n: int) -> tuple:
        """(mean calls, mean completion time) for one strategy at a swept N."""
        hit = np.flatnonzero(self.n_values == n)
        if len(hit) == 0:
            raise ValueError(f"n={n!r} was not swept: choose one of {[int(v) for v in self.n_values]}")
        i, j = self.strategies.index(strategy), int(hit[0])
        return float(self.calls[i, j]), float(self.time[i, j])


def contention_sweep(n_values=tuple(range(10, 101, 10)), strategies=CONTENTION_STRATEGIES, *,
                     base: float = BLOG_BASE, cap: float = BLOG_CAP,
                     network_delay: float = BLOG_NETWORK_DELAY, replications: int = 10,
                     seed: int = 0) -> ContentionSweep:
    """:func:`simulate_contention` for each strategy and N, retrying until success as the blog
    does; ``replications`` independent runs each (seeds ``seed * 1_000_000 + 1_000 * rep + N``).

    Standard errors are the sample standard deviation over replications / sqrt(replications).
    """
    if isinstance(n_values, (str, bytes)) or np.ndim(n_values) != 1 or len(n_values) == 0:
        raise ValueError(f"n_values={n_values!r:.80} is not allowed: give a non-empty list of client counts")
    n_values = np.array([check_int("n_values", n, 1, MAX_CLIENTS,
                                   why="each a number of clients; without backoff the writes grow with N squared")
                         for n in n_values], dtype=np.int64)
    if isinstance(strategies, (str, bytes)) or np.ndim(strategies) != 1 or len(strategies) == 0:
        raise ValueError(f"strategies={strategies!r:.80} is not allowed: give a non-empty list of strategies")
    strategies = tuple(check_choice("strategies", s, STRATEGIES) for s in strategies)
    replications = check_int("replications", replications, 2, 1_000)
    seed = check_int("seed", seed, 0, 1_000)
    base = check_number("base", base, 0, 3_600)
    cap = check_number("cap", cap, base, 86_400, why="the cap must be at least the base delay")
    network_delay = check_number("network_delay", network_delay, 0, 10, lo_open=True)
    work = len(strategies) * replications * int((n_values * (n_values + 1) // 2).sum())
    if work > MAX_SWEEP_WRITES:
        raise ValueError(f"strategies x replications x sum of N(N+1)/2 over n_values = {work:,} writes at worst "
                         f"is out of range: allowed {MAX_SWEEP_WRITES:,} or less (fewer strategies, "
                         f"replications={replications:,} or smaller n_values)")
    shape = (len(strategies), len(n_values))
    calls, calls_se, time, time_se = (np.zeros(shape) for _ in range(4))
    for i, s in enumerate(strategies):
        policy = RetryPolicy(s, base, cap, MAX_ATTEMPTS)
        for j, n in enumerate(n_values):
            runs = [simulate_contention(int(n), policy, network_delay=network_delay, until_success=True,
                                        seed=seed * 1_000_000 + 1_000 * rep + int(n))
                    for rep in range(replications)]
            c = np.array([r.total_calls for r in runs], float)
            t = np.array([r.completion_time for r in runs])
            calls[i, j], calls_se[i, j] = c.mean(), c.std(ddof=1) / np.sqrt(replications)
            time[i, j], time_se[i, j] = t.mean(), t.std(ddof=1) / np.sqrt(replications)
    return ContentionSweep(tuple(strategies), n_values, calls, calls_se, time, time_se, replications,
                           dict(base=base, cap=cap, network_delay=network_delay, seed=seed))
