"""Execution environments of one function: cold starts, idle reclaim and provisioned concurrency.

The model
---------
Requests for one function arrive over ``[0, horizon)`` (``labsim.traffic``: steady Poisson, a
compressed daily cycle, or a spike; or any array of times). Each request needs an **execution
environment** for itself while it runs (one request per environment at a time):

1. a free **provisioned** environment, if there is one. Provisioned environments exist (already
   initialised) from t = 0 and are never reclaimed;
2. else an **idle on-demand** environment that is still warm, chosen by ``reuse``: the most
   recently used one (``"mru"``, default) or the least recently used one (``"lru"``);
3. else a **new on-demand** environment: a **cold start**. The request waits for the INIT phase
   (``init_duration``) before it runs, so its latency is ``init_duration + duration``.

An on-demand environment that has been idle for longer than ``idle_timeout`` is reclaimed (the
SHUTDOWN phase); the next request that needs it pays a cold start again. A request occupies its
environment, and one unit of concurrency, from its arrival until ``arrival + latency``.
Concurrency is capped by ``reserved`` if given, else by the account limit: a request that finds
that many executions running is throttled (HTTP 429); nothing waits.

Labelled assumptions (AWS does not document these; each is a parameter or stated here)
  * ``idle_timeout``: how long an idle environment stays warm before Lambda reclaims it. AWS
    says only that it keeps the environment "for a non-deterministic period of time"
    (https://docs.aws.amazon.com/lambda/latest/operatorguide/execution-environments.html);
    the model uses one fixed time for every environment.
  * ``reuse``: which warm idle environment a request goes to. AWS does not say; it changes how
    many environments stay warm (``"lru"`` keeps all of them busy now and then, so fewer are
    reclaimed; ``"mru"`` lets the spare ones go idle and be reclaimed).
  * ``init_duration``: the INIT phase's length, one illustrative number for every cold start
    (it depends on runtime, package size and your initialisation code). AWS limits the INIT
    phase of on-demand environments to 10 s
    (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html), so that
    is the largest value accepted.
  * provisioned environments are used before on-demand ones, and are never recycled during a
    run (AWS recycles them every few hours, re-initialising them in the background).
  * no scaling-rate limit: the runs here need far fewer than the 1,000 new environments per
    10 s that Lambda allows each function (chapter 3 simulates that limit), and no
    requests-per-second cap (10 x the concurrency: far above the rates simulated here).

With ``idle_timeout`` longer than the run, no provisioned concurrency and no INIT delay, a new
environment is needed exactly when the running executions reach a new maximum: the same cold
starts ``labsim.awslambda.simulate_sync`` counts (a test checks the two agree).
"""

from __future__ import annotations

import datetime
import heapq
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from . import traffic
from .awslambda import DEFAULT_ACCOUNT_LIMIT, MAX_ACCOUNT_LIMIT, MAX_TIMEOUT_S, MIN_UNRESERVED
from .outcomes import Outcome
from .validation import check_array, check_choice, check_grid, check_int, check_number

# --- AWS numbers, each with its source -------------------------------------------------------
#: The INIT phase of an on-demand environment is limited to 10 s.
#: https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html
MAX_INIT_S = 10.0
#: Since August 1, 2025 the INIT phase is billed for every configuration, on-demand functions
#: packaged as ZIP files with a managed runtime included (before, their INIT was not billed).
#: https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/ and
#: https://aws.amazon.com/lambda/pricing/ ("Duration charges apply to ... initialization code")
INIT_BILLED_SINCE = datetime.date(2025, 8, 1)
#: "INITs (cold starts) typically occur in under 1% of invocations" (AWS's analysis of production
#: workloads, same blog post; also the Lambda Operator Guide's "Lambda execution environments").
TYPICAL_COLD_SHARE_BELOW = 0.01

# --- model constants (not AWS numbers) -------------------------------------------------------
#: Longest simulated run: one week.
MAX_HORIZON_S = 7 * 86_400.0
#: Longest idle time before reclaim the model takes: a week, as long as the longest run (an
#: environment is then never reclaimed within a run).
MAX_IDLE_TIMEOUT_S = MAX_HORIZON_S
#: Most requests one run simulates (expected, for a traffic shape; or given as arrivals): the
#: event loop takes about a microsecond per request, so a run stays near a second of CPU.
MAX_REQUESTS = 1_000_000
TRAFFIC_SHAPES = ("steady", "daily", "spike")
REUSE_POLICIES = ("mru", "lru")
#: Daily cycle, compressed into the horizon: the rate goes from ``NIGHT_FACTOR x rate`` at night
#: up to ``PEAK_FACTOR x rate`` at midday and back, linear between these knots (fractions of the horizon).
NIGHT_FACTOR, PEAK_FACTOR = 0.1, 2.0
DAILY_KNOTS = (0.0, 0.25, 0.5, 0.75, 1.0)
DAILY_LEVELS = (NIGHT_FACTOR, NIGHT_FACTOR, PEAK_FACTOR, NIGHT_FACTOR, NIGHT_FACTOR)
#: Spike: ``SPIKE_FACTOR x rate`` from ``SPIKE_START`` for ``SPIKE_LENGTH`` (fractions of the horizon).
SPIKE_FACTOR, SPIKE_START, SPIKE_LENGTH = 20.0, 0.5, 1 / 60

PROVISIONED, ON_DEMAND = 1, 0
#: The mean of each traffic shape's rate, as a multiple of ``rate`` (expected requests =
#: factor x rate x horizon): the daily cycle's knots average 0.575, the spike adds 19/60.
SHAPE_MEAN_FACTOR = {"steady": 1.0,
                     "daily": float(np.trapezoid(DAILY_LEVELS, DAILY_KNOTS)) if hasattr(np, "trapezoid")
                     else float(np.trapz(DAILY_LEVELS, DAILY_KNOTS)),
                     "spike": 1.0 + (SPIKE_FACTOR - 1.0) * SPIKE_LENGTH}


def _check_traffic(shape, rate, horizon, shape_name: str = "shape"):
    """Validated (shape, rate, horizon): at most ``MAX_REQUESTS`` expected requests."""
    shape = check_choice(shape_name, shape, TRAFFIC_SHAPES)
    horizon = check_number("horizon", horizon, 0, MAX_HORIZON_S, lo_open=True, why="the model's limit: one week")
    top = MAX_REQUESTS / (SHAPE_MEAN_FACTOR[shape] * horizon)
    rate = check_number("rate", rate, 0, top,
                        why=f"at most {MAX_REQUESTS:,} requests expected with {shape} traffic over "
                            f"horizon={horizon:,g} s, which keeps a run near a second")
    return shape, rate, horizon


def rate_curve(shape: str, rate: float, horizon: float, t) -> np.ndarray:
    """The request rate (per second) the traffic ``shape`` asks for at times ``t``."""
    shape, rate, horizon = _check_traffic(shape, rate, horizon)
    t = check_grid("t", t)
    if shape == "steady":
        return np.full_like(t, rate)
    if shape == "daily":
        return rate * np.interp(t / horizon, DAILY_KNOTS, DAILY_LEVELS)
    start, end = SPIKE_START * horizon, (SPIKE_START + SPIKE_LENGTH) * horizon
    return np.where((t >= start) & (t < end), SPIKE_FACTOR * rate, rate)


def arrivals_for(shape: str, rate: float, horizon: float, rng) -> np.ndarray:
    """Sorted arrival times for a traffic ``shape`` (Poisson, time-varying where the shape is)."""
    shape, rate, horizon = _check_traffic(shape, rate, horizon)
    if shape == "steady":
        return traffic.poisson(rate, horizon, rng)
    if shape == "daily":
        return traffic.piecewise_linear(np.asarray(DAILY_KNOTS) * horizon, rate * np.asarray(DAILY_LEVELS), rng)
    return traffic.spike(rate, SPIKE_FACTOR * rate, SPIKE_START * horizon, SPIKE_LENGTH * horizon, horizon, rng)


@dataclass(frozen=True)
class ColdStartResult:
    """Per-request arrays (sorted by arrival), per-environment arrays, and summaries of one run."""

    arrival: np.ndarray       #: arrival time, s
    duration: np.ndarray      #: how long the handler runs (the INVOKE phase), s
    cold: np.ndarray          #: True where the request waited for a new environment's INIT phase
    latency: np.ndarray       #: duration, plus init_duration if cold; NaN if throttled
    outcome: np.ndarray       #: ``Outcome`` codes: SUCCEEDED, THROTTLED or IN_FLIGHT
    env: np.ndarray           #: index of the environment that served the request, -1 if throttled
    env_created: np.ndarray   #: per environment: when it was created (0 for provisioned ones), s
    env_kind: np.ndarray      #: per environment: PROVISIONED (1) or ON_DEMAND (0)
    env_reclaimed: np.ndarray  #: per environment: when it was reclaimed, inf if still there at the end
    horizon: float
    params: dict = field(default_factory=dict)

    # -- counting -----------------------------------------------------------------------------
    def count(self, outcome: Outcome) -> int:
        return int(np.count_nonzero(self.outcome == int(outcome)))

    def sent(self) -> int:
        return len(self.arrival)

    def books(self) -> dict:
        """Every request in exactly one outcome: ``sent`` equals the sum of the others."""
        d = {"sent": self.sent()}
        for o in (Outcome.SUCCEEDED, Outcome.THROTTLED, Outcome.IN_FLIGHT):
            d[o.name.lower()] = self.count(o)
        return d

    @property
    def admitted(self) -> np.ndarray:
        return self.outcome != Outcome.THROTTLED

    @property
    def cold_starts(self) -> int:
        return int(self.cold.sum())

    def cold_fraction(self) -> float:
        """Share of the admitted requests that waited for a cold start."""
        n = int(self.admitted.sum())
        return self.cold_starts / n if n else float("nan")

    def latency_percentiles(self, qs=(50, 95, 99)) -> np.ndarray:
        """Latency percentiles (s) of the admitted requests (NaN if there are none)."""
        lat = self.latency[self.admitted]
        return np.percentile(lat, qs) if len(lat) else np.full(len(qs), np.nan)

    def provisioned_utilisation(self) -> float:
        """Share of the provisioned environments' time (P x horizon) spent running requests.

        Provisioned concurrency is billed for as long as it is configured, busy or not: this is
        the share of that time that did work. NaN without provisioned concurrency.
        """
        p = int(np.count_nonzero(self.env_kind == PROVISIONED))
        if p == 0:
            return float("nan")
        m = self.admitted & (self.env >= 0) & (self.env < p)
        busy = np.minimum(self.arrival[m] + self.latency[m], self.horizon) - self.arrival[m]
        return float(busy.sum() / (p * self.horizon))

    # -- over time ------------------------------------------------------------------------------
    def concurrency(self, grid) -> np.ndarray:
        """Executions running (INIT included) at each time in ``grid``."""
        m = self.admitted
        start = self.arrival[m]
        return traffic.in_progress(start, start + self.latency[m], grid)

    def environments(self, grid, kind: int | None = None) -> np.ndarray:
        """Environments that exist (busy or idle) at each time in ``grid``, of one ``kind`` or all."""
        m = np.ones(len(self.env_kind), bool) if kind is None else self.env_kind == kind
        g = np.asarray(grid, float)
        return (np.searchsorted(np.sort(self.env_created[m]), g, side="right")
                - np.searchsorted(np.sort(self.env_reclaimed[m]), g, side="right"))

    def peak_demand(self) -> int:
        """Most requests running at once if every one were warm (intervals [arrival, arrival + duration))."""
        if len(self.arrival) == 0:
            return 0
        return int(traffic.in_progress(self.arrival, self.arrival + self.duration, self.arrival).max())


# --- the event loop ------------------------------------------------------------------------------
def _environments(t, d, init, provisioned, idle_timeout, lru, pool):
    """Exact event loop: assign each request an environment, or throttle it.

    ``busy`` is a heap of (end, environment) for running executions; ``free_prov`` a stack of
    idle provisioned environments; ``idle`` a deque of (idle since, environment) for warm idle
    on-demand environments, oldest first (executions end in time order, so appending keeps it
    sorted): the oldest are reclaimed from the left, MRU takes from the right, LRU from the left.
    Returns lists: environment per request (-1 if throttled), indices of the cold requests,
    latency per request, each environment's creation and reclaim times; and the final ``busy``
    heap and ``idle`` deque, from which the caller reclaims what idles out before the horizon.
    """
    n = len(t)
    env = [-1] * n
    cold_idx = []
    created = [0.0] * provisioned
    reclaimed = [math.inf] * provisioned
    busy: list = []
    free_prov = list(range(provisioned - 1, -1, -1))
    idle: deque = deque()
    pop, push = heapq.heappop, heapq.heappush
    tl, dl = t.tolist(), d.tolist()
    latency = [math.nan] * n
    for i in range(n):
        a = tl[i]
        while busy and busy[0][0] <= a:
            end, e = pop(busy)
            if e < provisioned:
                free_prov.append(e)
            else:
                idle.append((end, e))
        while idle and a - idle[0][0] > idle_timeout:
            since, e = idle.popleft()
            reclaimed[e] = since + idle_timeout
        if len(busy) >= pool:
            continue                                  # throttled (429)
        lat = dl[i]
        if free_prov:
            e = free_prov.pop()
        elif idle:
            e = idle.popleft()[1] if lru else idle.pop()[1]
        else:                                         # cold start: a new environment
            e = len(created)
            created.append(a)
            reclaimed.append(math.inf)
            cold_idx.append(i)
            lat += init
        env[i] = e
        latency[i] = lat
        push(busy, (a + lat, e))
    return env, cold_idx, latency, created, reclaimed, busy, idle


def simulate_environments(rate: float = 2.0, mean_duration: float = 0.1, *, traffic_shape: str = "steady",
                          arrivals=None, durations=None, duration_kind: str = "fixed", duration_cv: float = 0.5,
                          init_duration: float = 1.0, provisioned: int = 0, idle_timeout: float = 300.0,
                          reuse: str = "mru", concurrency_limit: int = DEFAULT_ACCOUNT_LIMIT,
                          reserved: int | None = None, horizon: float = 3_600.0, seed: int = 0) -> ColdStartResult:
    """Simulate one function's execution environments: cold starts, reclaim, provisioned concurrency.

    ``rate`` (requests/s) with ``traffic_shape`` (``"steady"``, ``"daily"``: a day compressed
    into the horizon, ``"spike"``), or ``arrivals`` (an array of times in ``[0, horizon)``) gives
    the traffic. Durations are drawn (``duration_kind``, ``mean_duration``, ``duration_cv``) the
    way ``labsim.awslambda.simulate_sync`` draws them, so the same seed gives the same durations;
    or pass ``durations`` (one per arrival, in the arrivals' order). ``idle_timeout`` goes up to
    ``MAX_IDLE_TIMEOUT_S`` (a week, the longest run: an environment is then never reclaimed
    within the run). See the module docstring for the model and its assumptions.
    """
    traffic_shape, rate, horizon = _check_traffic(traffic_shape, rate, horizon, "traffic_shape")
    duration_kind, mean_duration, duration_cv = traffic._check_durations(duration_kind, mean_duration, duration_cv,
                                                                        max_mean=MAX_TIMEOUT_S)
    init_duration = check_number("init_duration", init_duration, 0, MAX_INIT_S,
                                 why="Lambda limits an on-demand environment's INIT phase to 10 s")
    idle_timeout = check_number("idle_timeout", idle_timeout, 0, MAX_IDLE_TIMEOUT_S,
                                why="seconds an idle environment stays warm; a week, the longest run, means never")
    check_choice("reuse", reuse, REUSE_POLICIES)
    limit = check_int("concurrency_limit", concurrency_limit, 1, MAX_ACCOUNT_LIMIT,
                      why="the account concurrency limit; AWS's default is 1,000 per Region")
    if reserved is not None:
        reserved = check_int("reserved", reserved, 0, limit - MIN_UNRESERVED,
                             why=f"AWS keeps at least {MIN_UNRESERVED} of the account limit unreserved")
        provisioned = check_int("provisioned", provisioned, 0, reserved,
                                why=f"provisioned concurrency cannot exceed the reserved concurrency ({reserved:,})")
    else:
        provisioned = check_int("provisioned", provisioned, 0, max(0, limit - MIN_UNRESERVED),
                                why=f"the account limit ({limit:,}) minus the {MIN_UNRESERVED} AWS keeps unreserved")
    rng = traffic.make_rng(seed)
    if arrivals is None:
        t = arrivals_for(traffic_shape, rate, horizon, rng)
    else:
        given = check_array("arrivals", arrivals, 0, horizon, sorted_=False, hi_open=True)
        if len(given) > MAX_REQUESTS:
            raise ValueError(f"arrivals holds {len(given):,} requests: allowed {MAX_REQUESTS:,} or less "
                             f"(the model's limit, which keeps a run near a second)")
        t = np.sort(given)
    if durations is None:
        d = traffic.durations(duration_kind, mean_duration, len(t), rng, duration_cv)
    else:
        if arrivals is None:
            raise ValueError("durations=... needs arrivals=... (one duration per arrival)")
        order = np.argsort(given, kind="stable")
        d = check_array("durations", durations, 0, MAX_TIMEOUT_S, sorted_=False)
        if d.shape != t.shape:
            raise ValueError(f"durations must have one value per arrival: got {d.shape}, arrivals {t.shape}")
        d = d[order]
        if len(d) and not np.all(d > 0):
            raise ValueError(f"durations has a value out of range ({d.min():g}): allowed more than 0 to "
                             f"{MAX_TIMEOUT_S:,} s (Lambda's maximum timeout is 900 s)")
    pool = limit if reserved is None else reserved

    env, cold_idx, latency, created, reclaimed, busy, idle = _environments(
        t, d, init_duration, provisioned, idle_timeout, reuse == "lru", pool)
    # Reclaim what goes idle for long enough before the horizon (after the last arrival).
    for end, e in sorted(busy):
        if e >= provisioned and end <= horizon:
            idle.append((end, e))
    for since, e in idle:
        if horizon - since > idle_timeout:
            reclaimed[e] = since + idle_timeout

    env = np.asarray(env, dtype=np.int64)
    cold = np.zeros(len(t), bool)
    cold[cold_idx] = True
    latency = np.asarray(latency, dtype=float)
    outcome = np.full(len(t), int(Outcome.THROTTLED), np.int8)
    admitted = env >= 0
    outcome[admitted & (t + latency <= horizon)] = Outcome.SUCCEEDED
    outcome[admitted & (t + latency > horizon)] = Outcome.IN_FLIGHT
    kind = np.full(len(created), ON_DEMAND, np.int8)
    kind[:provisioned] = PROVISIONED
    params = dict(rate=rate if arrivals is None else None, traffic_shape=traffic_shape if arrivals is None else None,
                  mean_duration=mean_duration, duration_kind=duration_kind, duration_cv=duration_cv,
                  init_duration=init_duration, provisioned=provisioned, idle_timeout=idle_timeout, reuse=reuse,
                  concurrency_limit=limit, reserved=reserved, seed=seed)
    return ColdStartResult(t, d, cold, latency, outcome, env, np.asarray(created, float), kind,
                           np.asarray(reclaimed, float), horizon, params)


def p_cold_single(rate: float, idle_timeout: float, duration: float = 0.0) -> float:
    """P(cold) for a request to one environment under Poisson traffic whose requests never overlap.

    The environment is cold for a request iff the gap since the previous request ended is longer
    than ``idle_timeout``: the gap is exponential (memoryless) minus the duration, so
    P = exp(-rate x (idle_timeout + duration)); ``duration`` -> 0 gives exp(-rate x idle_timeout).
    """
    rate = check_number("rate", rate, 0, why="requests per second")
    idle_timeout = check_number("idle_timeout", idle_timeout, 0, MAX_IDLE_TIMEOUT_S,
                                why="seconds an idle environment stays warm; the model's limit is a week")
    duration = check_number("duration", duration, 0, MAX_TIMEOUT_S, why="Lambda's maximum timeout is 900 s")
    return math.exp(-rate * (idle_timeout + duration))
