"""Figures for chapter 3a: execution environments over time, cold starts and the latency tail."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from ..coldstart import ON_DEMAND, SPIKE_LENGTH, SPIKE_START, ColdStartResult
from .base import BLUE, GREEN, GREY, PURPLE, figure

__all__ = ["coldstart_figure", "lifecycle_figure", "latency_tail"]

# Roles (the same hue means the same thing across the book): the function's running executions
# are BLUE and environments GREEN, as in chapter 3's scaling figure; cold starts are PURPLE.
RUNNING, ENVIRONMENTS, COLD = BLUE, GREEN, PURPLE
PROVISIONED_FILL = "#1b7a1b"     # a darker green: environments that exist whether used or not


def _spike_window(r: ColdStartResult):
    return SPIKE_START * r.horizon, (SPIKE_START + SPIKE_LENGTH) * r.horizon


def _peak_per_bin(r: ColdStartResult, edges) -> np.ndarray:
    """Most executions running at once within each bin of ``edges`` (exact: a maximum is reached
    at an arrival, so it is the largest count at the admitted arrivals inside the bin)."""
    peak = np.zeros(len(edges) - 1)
    a = r.arrival[r.admitted]
    if len(a):
        k = np.clip(np.searchsorted(edges, a, side="right") - 1, 0, len(peak) - 1)
        np.maximum.at(peak, k, r.concurrency(a))
    return peak


def _environments_title(r: ColdStartResult) -> str:
    n = r.cold_starts
    if n == 0:
        return "No cold starts: every request found a warm environment"
    if r.params.get("traffic_shape") == "spike":
        lo, hi = _spike_window(r)
        k = int(np.count_nonzero(r.cold & (r.arrival >= lo) & (r.arrival < hi)))
        return f"{k} of the {n:,} cold starts come in the spike"
    return f"{n:,} cold starts where the traffic rises or an idle environment was reclaimed"


def latency_tail(result: ColdStartResult, ax) -> None:
    """Fraction of requests slower than x (log scale), with p50, p95 and p99 marked."""
    lat = np.sort(result.latency[result.admitted])
    n = len(lat)
    if n == 0:
        ax.set(title="No requests were admitted")
        return
    slower = 1.0 - np.arange(1, n + 1) / n
    # At most ~600 vertices: every point of the far tail, evenly spaced ranks elsewhere.
    keep = np.unique(np.concatenate([np.linspace(0, n - 1, 400).astype(int), np.arange(max(0, n - 200), n)]))
    keep = keep[slower[keep] > 0]
    ax.step(lat[keep], slower[keep], where="post", color=RUNNING, lw=1.2)
    frac = result.cold_fraction()
    if frac > 0:
        ax.axhline(frac, color=COLD, ls=":", lw=1)
        ax.text(0.45, 0.85 * frac, f"cold starts {100 * frac:.2f}%", color=COLD, fontsize=8, va="top",
                transform=ax.get_yaxis_transform())
    p50, p95, p99 = result.latency_percentiles()
    for q, v, c in ((0.5, p50, GREY), (0.05, p95, GREY), (0.01, p99, "black")):
        ax.axhline(q, color=c, ls="--", lw=0.8)
        ax.plot([v], [q], "o", color=c, ms=4)
        ax.annotate(f"p{round(100 * (1 - q))} {1e3 * v:,.0f} ms", (v, q), xytext=(4, 3),
                    textcoords="offset points", fontsize=8)
    ax.set(yscale="log", ylim=(max(0.5 / n, 1e-4), 1.0), xlim=(0, 1.05 * lat[-1]),
           xlabel="latency x (s)", ylabel="requests slower than x")
    # Plain percentage labels at fixed decades, no minor ticks (log-axis ticks are slow to lay out).
    ax.yaxis.set_major_locator(FixedLocator([1e-4, 1e-3, 1e-2, 1e-1, 1.0]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:g}%"))
    ax.yaxis.set_minor_locator(NullLocator())
    init = result.params["init_duration"]
    if frac > 0.01:
        title = f"Cold starts ({100 * frac:.1f}%) push p99 to {1e3 * p99:,.0f} ms"
    elif frac > 0:
        title = f"Cold starts ({100 * frac:.2f}%) stay under the 1% line: p99 {1e3 * p99:,.0f} ms"
    else:
        title = f"No request waited for INIT ({init:g} s): p99 {1e3 * p99:,.0f} ms"
    ax.set_title(title, fontsize=10)


def coldstart_figure(result: ColdStartResult, points: int = 361) -> Figure:
    """Left: running executions and environments over time, cold starts marked. Right: latency tail."""
    fig, (ax1, ax2) = figure(2, gridspec_kw={"width_ratios": [3, 2]})
    r = result
    p = r.params["provisioned"]
    g = np.linspace(0.0, r.horizon, points)
    minutes = g / 60
    on_demand = r.environments(g, ON_DEMAND)
    if p:
        ax1.fill_between(minutes, 0, p, color=PROVISIONED_FILL, alpha=0.45, lw=0, label=f"provisioned environments ({p})")
    ax1.fill_between(minutes, p, p + on_demand, step="post", color=ENVIRONMENTS, alpha=0.3, lw=0,
                     label="on-demand environments")
    ax1.stairs(_peak_per_bin(r, g), minutes, color=RUNNING, lw=0.8, label="running executions (peak)")
    tc = r.arrival[r.cold] / 60
    top = max(float((p + on_demand).max()), float(r.peak_demand()), 1.0)
    ax1.plot(tc, np.full(len(tc), 1.08 * top), "|", color=COLD, ms=8, label=f"cold starts ({len(tc):,})")
    if p:
        ax1.axhline(p, color=PROVISIONED_FILL, ls="--", lw=1)
        ax1.annotate(f"provisioned {p}", (r.horizon / 60, p), xytext=(-2, 2), textcoords="offset points",
                     fontsize=8, color=PROVISIONED_FILL, ha="right")
    ax1.set(xlabel="time (min)", ylabel="executions / environments", xlim=(0, r.horizon / 60), ylim=(0, 1.6 * top))
    ax1.set_title(_environments_title(r), fontsize=10)
    ax1.legend(loc="upper left", fontsize=8, ncol=2, columnspacing=0.8, handlelength=1.5)
    latency_tail(r, ax2)
    return fig


def lifecycle_figure(result: ColdStartResult) -> Figure:
    """Each environment's life, request by request: INIT, INVOKE, idle, reclaimed (a timeline)."""
    fig, ax = figure(size=(10, 2.8))
    r = result
    init = r.params["init_duration"]
    n_env = len(r.env_created)
    first = {"INIT (cold start)": True, "INVOKE": True}
    for e in range(n_env):
        start, gone = r.env_created[e], min(r.env_reclaimed[e], r.horizon)
        ax.plot([start, gone], [e, e], color=ENVIRONMENTS, lw=2, zorder=0,
                label="environment exists (idle between requests)" if e == 0 else None)
        if np.isfinite(r.env_reclaimed[e]):
            ax.plot([gone], [e], "x", color="black", ms=7, label="reclaimed (SHUTDOWN)" if e == 0 else None)
        m = r.env == e
        for a, d, c in zip(r.arrival[m], r.duration[m], r.cold[m]):
            wait = init if c else 0.0
            if c:
                ax.barh(e, wait, left=a, height=0.5, color=COLD,
                        label="INIT (cold start)" if first.pop("INIT (cold start)", False) else None)
            ax.barh(e, d, left=a + wait, height=0.5, color=RUNNING,
                    label="INVOKE" if first.pop("INVOKE", False) else None)
    ax.set(xlabel="time (s)", ylabel="environment", yticks=range(n_env), yticklabels=[str(e + 1) for e in range(n_env)],
           xlim=(0, r.horizon), ylim=(-0.6, n_env + 0.9))
    ax.set_title(f"{r.cold_starts} of {r.sent()} requests wait for INIT: in a new environment, or after the "
                 f"last one was reclaimed ({r.params['idle_timeout']:g} s idle)", fontsize=10)
    ax.legend(loc="upper center", ncol=4, fontsize=8, frameon=False)
    return fig
