"""Figures for API Gateway in depth: the integration timeout (504s) and the response cache."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .. import traffic
from ..apicache import CacheResult
from ..apitimeout import TimeoutResult
from .base import BLUE, GREY, ORANGE, ROLE, figure, flow

__all__ = ["timeout_figure", "timeout_outcomes", "cache_figure"]

#: Latency histogram bins (seconds, log-spaced): 10 ms to 15 minutes.
_LAT_EDGES = np.geomspace(0.01, 900.0, 61)


def timeout_outcomes(r: TimeoutResult):
    """(label, count, role) of every request's end: answered at the first attempt, answered after a
    retry, or given up after its last 504."""
    first = int((~r.timed_out[:r.requests]).sum())
    answered = int(r.answered.sum())
    return [("2xx, first try", first, "processed"), ("2xx after retry", answered - first, "duplicate"),
            ("504, gave up", r.requests - answered, "lost")]


def timeout_figure(r: TimeoutResult, p_theory: float) -> Figure:
    """Left: every attempt's backend latency against the timeout (the 504s right of it). Middle:
    executions the backend runs against requests the callers still wait for. Right: where every
    request ended."""
    fig, (ax1, ax2, ax3) = figure(3, gridspec_kw={"width_ratios": [4, 4, 3]})
    tau = r.timeout
    counts = np.histogram(r.attempt_latency, bins=_LAT_EDGES)[0]
    cut = np.searchsorted(_LAT_EDGES, tau)
    ax1.stairs(counts[:cut], _LAT_EDGES[:cut + 1], fill=True, color=ROLE["processed"])
    ax1.stairs(counts[cut - 1:], _LAT_EDGES[cut - 1:], fill=True, color=ROLE["lost"])
    ax1.axvline(tau, color=ROLE["limit"], ls="--", lw=1)
    top = 1.15 * max(int(counts.max()), 1)
    ax1.set_ylim(0, top)
    ax1.text(0.02, 0.98, f"dashed: timeout {tau:g} s; red: 504s", transform=ax1.transAxes, fontsize=7,
             color=ROLE["limit"], va="top")
    ax1.set_xscale("log")
    ax1.set_xticks([0.1, 1, 10, 100], ["0.1", "1", "10", "100"])
    ax1.set(xlabel="backend latency of an attempt (s)", ylabel="attempts",
            title=f"504s: {100 * r.share_504():.1f}% of attempts (theory {100 * p_theory:.1f}%)")
    end = r.horizon + 2 * tau
    grid = np.linspace(0.0, end, 300)
    busy = r.backend_busy(grid)
    ax2.plot(grid, busy, color=BLUE, lw=1.2)
    o = np.argsort(r.arrivals, kind="stable")
    waiting = traffic.in_progress(r.arrivals[o], (r.arrivals + r.waited)[o], grid)
    ax2.plot(grid, waiting, color=ORANGE, lw=1.2)
    ax2.axvline(r.horizon, color=GREY, ls=":", lw=1)
    ax2.set(xlabel="time (s)", ylabel="in progress", title="Backend load vs what callers wait for",
            xlim=(0, end), ylim=(0, 1.3 * max(float(busy.max()), float(waiting.max()), 1.0)))
    ax2.text(0.98, 0.97, "blue: backend executions\norange: callers waiting", transform=ax2.transAxes,
             ha="right", va="top", fontsize=7)
    ax2.locator_params(axis="x", nbins=4)
    flow(ax3, r.requests, timeout_outcomes(r), what="requests", title="Where every request ended")
    ax3.set_xticks([])
    return fig


def cache_figure(r: CacheResult, no_cache: dict, steady: float, rate: float, bin_s: float = 30.0) -> Figure:
    """Top left: the hit ratio over time, from an empty cache, against the steady-state theory.
    Top right: backend calls per second against the requests per second. Bottom left: latency
    percentiles with and without the cache (``no_cache``: percentile -> seconds). Bottom right:
    how old the cached answers were."""
    fig, ((ax1, ax2), (ax3, ax4)) = figure(2, 2, size=(10, 6.0), gridspec_kw={"hspace": 0.6})
    edges = np.arange(0.0, r.horizon + bin_s / 2, bin_s)
    n = np.histogram(r.arrivals, bins=edges)[0]
    h = np.histogram(r.arrivals[r.hit], bins=edges)[0]
    ratio = np.divide(h, n, out=np.zeros(len(n)), where=n > 0)
    ax1.stairs(100 * ratio, edges, color=BLUE, lw=1.2)
    ax1.axhline(100 * steady, color=ROLE["limit"], ls="--", lw=1)
    ax1.text(0.99 * r.horizon, 100 * steady + 3 if steady < 0.15 else 100 * steady - 9,
             f"steady state {100 * steady:.0f}%", ha="right", fontsize=7, color=ROLE["limit"])
    ax1.set(ylabel="hit ratio per 30 s (%)", ylim=(0, 105), xlim=(0, r.horizon),
            title=f"Hit ratio {100 * r.hit_ratio():.0f}% over the run (cache starts empty)")
    calls = np.histogram(r.arrivals[~r.hit], bins=edges)[0] / bin_s
    ax2.stairs(n / bin_s, edges, color=GREY, lw=1)
    ax2.stairs(calls, edges, fill=True, color=ORANGE)
    ax2.text(0.01 * r.horizon, 1.12 * max(rate, 1), "grey line: requests; orange: backend calls", fontsize=7)
    ax2.set(ylabel="per second", xlim=(0, r.horizon), ylim=(0, 1.3 * max(rate, 1)),
            title=f"Backend: {r.backend_rate():.1f} calls/s for {rate:g} requests/s")
    for ax in (ax1, ax2):
        ax.set_xlabel("time (s)")
        ax.locator_params(axis="x", nbins=5)
    q = (50, 95, 99)
    with_c = r.percentiles(q)
    x = np.arange(len(q))
    ax3.bar(x - 0.2, [1000 * no_cache[p] for p in q], 0.4, color=GREY, label="no cache")
    ax3.bar(x + 0.2, [1000 * with_c[p] for p in q], 0.4, color=BLUE, label="with this cache")
    ax3.set_xticks(x, [f"p{p}" for p in q])
    ax3.set(ylabel="latency (ms)", title="Latency percentiles")
    ax3.legend(loc="upper left", fontsize=7)
    ttl = r.params["ttl"]
    top = max(ttl, 1.0) if ttl else 1.0
    ages = r.age[r.hit]
    age_edges = np.linspace(0, top, 31)
    counts = np.histogram(ages, bins=age_edges)[0]
    ax4.stairs(counts, age_edges, fill=True, color=ROLE["dlq"])
    top_y = 1.15 * max(int(counts.max()) if len(counts) else 0, 1)
    ax4.set_ylim(0, top_y)
    if ttl:
        ax4.axvline(ttl, color=ROLE["limit"], ls="--", lw=1)
        ax4.text(0.98 * ttl, 0.92 * top_y, f"TTL {ttl:,.0f} s", ha="right", fontsize=7, color=ROLE["limit"])
    ax4.set(xlabel="age of a cached answer (s)", ylabel="hits", xlim=(0, top * 1.05),
            title=(f"Oldest answer served: {r.max_age():,.0f} s" if ttl else "No cache: every answer fresh"))
    ax4.locator_params(axis="x", nbins=5)
    return fig
