"""Arrival processes and duration distributions, all seeded; counting intervals over time.

Every generator takes an ``rng`` made with :func:`make_rng` (``numpy.random.default_rng``)
and returns sorted arrival times in seconds on ``[0, horizon)``.
"""

from __future__ import annotations

import numpy as np

from .validation import check_array, check_choice, check_grid, check_int, check_number

#: Largest number of requests one simulation may generate (keeps memory and time sane).
MAX_REQUESTS = 5_000_000
#: Largest number of durations one call may draw (a batch job's items).
MAX_DURATIONS = 10_000_000
#: Simulation bound on the lognormal durations' coefficient of variation (standard deviation / mean).
MAX_DURATION_CV = 10

DURATION_KINDS = ("fixed", "exponential", "lognormal")


def make_rng(seed) -> np.random.Generator:
    """A fresh generator for ``seed`` (an int >= 0), never the global random state."""
    return _rng(seed, "seed")


def _rng(value, name: str) -> np.random.Generator:
    """``value`` (a seed or a Generator) as a Generator; errors name the caller's parameter."""
    if isinstance(value, np.random.Generator):
        return value
    return np.random.default_rng(check_int(name, value, 0, why="a seed, or a numpy Generator"))


def _check_expected(expected: float, what: str = "rate x horizon") -> None:
    if expected > MAX_REQUESTS:
        raise ValueError(
            f"{what}={expected:,.0f} expected requests is out of range: allowed "
            f"{MAX_REQUESTS:,} or less (lower the rate or the horizon)")


def poisson(rate: float, horizon: float, rng) -> np.ndarray:
    """Poisson arrivals at ``rate`` per second on ``[0, horizon)``."""
    rate = check_number("rate", rate, 0)
    horizon = check_number("horizon", horizon, 0, lo_open=True)
    _check_expected(rate * horizon)
    rng = _rng(rng, "rng")
    n = rng.poisson(rate * horizon)
    return np.sort(rng.uniform(0.0, horizon, n))


def constant(rate: float, horizon: float, rng=None) -> np.ndarray:
    """Evenly spaced arrivals, one every ``1/rate`` seconds (deterministic)."""
    rate = check_number("rate", rate, 0)
    horizon = check_number("horizon", horizon, 0, lo_open=True)
    _check_expected(rate * horizon)
    if rng is not None:                             # not used: the arrivals are deterministic
        _rng(rng, "rng")
    if rate == 0:
        return np.empty(0)
    return np.arange(int(np.ceil(rate * horizon))) / rate


def piecewise_linear(times, rates, rng) -> np.ndarray:
    """Non-homogeneous Poisson arrivals whose rate is linear between the knots.

    ``times`` are increasing knot times starting at 0 (the last one is the horizon), ``rates``
    the rate at each knot. Exact: unit-rate points are mapped through the inverse of the
    cumulative rate (time rescaling), no thinning.
    """
    t = check_array("times", times, 0, None)
    r = check_array("rates", rates, 0, None, sorted_=False)
    if t.shape != r.shape or len(t) < 2:
        raise ValueError(f"times and rates must be 1-D of equal length >= 2, got {t.shape} and {r.shape}")
    if t[0] != 0 or np.any(np.diff(t) <= 0):
        raise ValueError(f"times={t.tolist()!r:.80} is out of range: must start at 0 and increase")
    seg = np.diff(t)
    area = 0.5 * (r[:-1] + r[1:]) * seg            # expected arrivals per segment
    cum = np.concatenate([[0.0], np.cumsum(area)])
    _check_expected(cum[-1], "rates x times")
    rng = _rng(rng, "rng")
    n = rng.poisson(cum[-1])
    u = np.sort(rng.uniform(0.0, cum[-1], n))
    k = np.clip(np.searchsorted(cum, u, side="right") - 1, 0, len(seg) - 1)
    x = u - cum[k]                                  # area still to cover inside segment k
    r0 = r[k]
    slope = (r[k + 1] - r0) / seg[k]
    # Solve r0*s + slope*s^2/2 = x for s in [0, seg]; the stable form avoids 0/0 when slope=0.
    disc = np.sqrt(np.maximum(r0 * r0 + 2.0 * slope * x, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(r0 + disc > 0, 2.0 * x / (r0 + disc), 0.0)
    return np.minimum(t[k] + s, t[-1] - 1e-12 * t[-1])


def spike(base_rate: float, spike_rate: float, spike_start: float, spike_length: float,
          horizon: float, rng) -> np.ndarray:
    """Poisson at ``base_rate`` with a rectangular spike to ``spike_rate``."""
    base_rate = check_number("base_rate", base_rate, 0)
    spike_rate = check_number("spike_rate", spike_rate, 0)
    horizon = check_number("horizon", horizon, 0, lo_open=True)
    spike_start = check_number("spike_start", spike_start, 0, horizon, hi_open=True,
                               why=f"the spike starts before horizon={horizon:g} s")
    spike_length = check_number("spike_length", spike_length, 0, horizon - spike_start, lo_open=True,
                                why=f"the spike ends by horizon={horizon:g} s: at most horizon - spike_start")
    _check_expected(base_rate * (horizon - spike_length) + spike_rate * spike_length,
                    "base_rate x (horizon - spike_length) + spike_rate x spike_length")
    rng = _rng(rng, "rng")
    end = spike_start + spike_length
    parts = [poisson(base_rate, spike_start, rng) if spike_start > 0 else np.empty(0),
             spike_start + poisson(spike_rate, spike_length, rng)]
    if end < horizon:
        parts.append(end + poisson(base_rate, horizon - end, rng))
    return np.concatenate(parts)


def ramp(start_rate: float, end_rate: float, horizon: float, rng) -> np.ndarray:
    """Poisson whose rate rises (or falls) linearly from ``start_rate`` to ``end_rate``."""
    start_rate = check_number("start_rate", start_rate, 0)
    end_rate = check_number("end_rate", end_rate, 0)
    horizon = check_number("horizon", horizon, 0, lo_open=True)
    _check_expected((start_rate + end_rate) / 2 * horizon, "(start_rate + end_rate) / 2 x horizon")
    return piecewise_linear([0.0, horizon], [start_rate, end_rate], rng)


def _check_durations(duration_kind: str, mean_duration: float, duration_cv: float, *, max_mean: float = 900.0,
                    why_mean: str = "Lambda's maximum timeout is 900 s"):
    """The three parameters a model draws :func:`durations` from, validated the same way in every
    model that takes them: ``(duration_kind, mean_duration, duration_cv)``. Package-internal (the
    models pass ``max_mean`` and ``why_mean``; readers never call it).

    ``mean_duration`` is in ``(0, max_mean]`` (``why_mean`` says why in the error);
    ``duration_cv`` in ``(0, MAX_DURATION_CV]``, checked whatever the kind, so a bad value is
    refused even where fixed or exponential durations ignore it.
    """
    check_choice("duration_kind", duration_kind, DURATION_KINDS)
    mean_duration = check_number("mean_duration", mean_duration, 0, max_mean, lo_open=True, why=why_mean)
    duration_cv = check_number("duration_cv", duration_cv, 0, MAX_DURATION_CV, lo_open=True,
                               why="the lognormal durations' standard deviation / mean")
    return duration_kind, mean_duration, duration_cv


def durations(kind: str, mean: float, n: int, rng, cv: float = 1.0) -> np.ndarray:
    """``n`` durations in seconds with the given mean.

    ``fixed``: all equal; ``exponential``: coefficient of variation 1; ``lognormal``: the
    given coefficient of variation ``cv`` (standard deviation / mean).
    """
    check_choice("kind", kind, DURATION_KINDS)
    mean = check_number("mean", mean, 0, 900, lo_open=True,
                        why="the mean duration; a Lambda invocation runs at most 900 s")
    n = check_int("n", n, 0, MAX_DURATIONS)
    cv = check_number("cv", cv, 0, 10, lo_open=True)
    if rng is not None or kind != "fixed":
        rng = _rng(rng, "rng")
    if kind == "fixed":
        return np.full(n, mean)
    if kind == "exponential":
        return rng.exponential(mean, n)
    sigma2 = np.log1p(cv * cv)
    return rng.lognormal(np.log(mean) - sigma2 / 2, np.sqrt(sigma2), n)


def in_progress(start, end, grid) -> np.ndarray:
    """How many intervals [start, end) are open at each time in ``grid`` (right-continuous).

    ``start`` must be sorted; ``end`` need not be. This is concurrency over time for requests
    (start = arrival, end = arrival + duration) and the backlog of calls waiting for an answer.
    """
    start = check_array("start", start, None)
    try:
        raw = np.asarray(end, dtype=float)
    except (TypeError, ValueError, OverflowError):
        raw = None
    # +inf is a valid end: an interval still open (a message still waiting, a call unanswered).
    end = check_array("end", np.where(np.isposinf(raw), 0.0, raw) if raw is not None and raw.ndim == 1 else end,
                      None, sorted_=False)
    end = np.where(np.isposinf(raw), np.inf, end) if len(end) else end
    if len(end) != len(start):
        raise ValueError(f"end must have one value per start ({len(start):,}), got {len(end):,}")
    g = check_grid("grid", grid)
    return (np.searchsorted(start, g, side="right")
            - np.searchsorted(np.sort(end), g, side="right"))
