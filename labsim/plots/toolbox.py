"""Figures for the toolbox page: the tools every chapter uses, each shown on a small run."""

from __future__ import annotations

import numpy as np

from .base import BLUE, GREY, ORANGE, RED, figure, flow

__all__ = ["load_figure", "percentile_figure", "spike_bucket_figure", "books_figure"]


def load_figure(grid, running, load: float):
    """Executions running over time, with the offered load as a dashed line."""
    fig, ax = figure()
    ax.stairs(running[:-1], grid, color=BLUE, label="executions running")
    ax.axhline(load, color=GREY, ls="--", lw=1)
    ax.text(grid[0], load, f" offered load A = {load:g} erlangs", va="bottom", fontsize=8, color=GREY)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("executions running")
    ax.set_xlim(grid[0], grid[-1])
    ax.set_ylim(0, max(float(running.max()), load) * 1.25)
    ax.set_title("Concurrency wanders around the offered load: its mean is rate x duration")
    return fig


def percentile_figure(latency_s, marks=(50, 95, 99)):
    """A histogram of latencies with the mean and the marked percentiles as vertical lines."""
    ms = 1e3 * np.asarray(latency_s, float)
    fig, ax = figure()
    ax.hist(ms, bins=80, range=(0, float(np.percentile(ms, 99.9))), color=BLUE, alpha=0.8)
    top = ax.get_ylim()[1]
    ax.axvline(ms.mean(), color=GREY, lw=1)
    ax.text(ms.mean(), top * 0.95, f" mean {ms.mean():.0f} ms", fontsize=8, color=GREY, va="top")
    for k, (p, colour) in enumerate(zip(marks, (ORANGE, RED, RED))):
        v = float(np.percentile(ms, p))
        ax.axvline(v, color=colour, ls="--", lw=1)
        ax.text(v, top * (0.8 - 0.15 * k), f" p{p} {v:.0f} ms", fontsize=8, color=colour, va="top")
    ax.set_xlim(0, float(np.percentile(ms, 99.9)))
    ax.set_xlabel("latency (ms; the slowest 0.1% are off the right edge)")
    ax.set_ylabel("requests")
    ax.set_title("The mean hides the tail: 1 request in 100 takes longer than the p99")
    return fig


def spike_bucket_figure(arrivals, admitted, grid, level, rate: float, capacity: int):
    """Left: requests sent and let through over time, with the bound capacity + rate x t.
    Right: the tokens in the bucket."""
    fig, (ax, bx) = figure(2)
    t = np.asarray(arrivals, float)
    ax.plot(t, np.arange(1, len(t) + 1), color=GREY, label="sent")
    a = t[np.asarray(admitted, bool)]
    ax.plot(a, np.arange(1, len(a) + 1), color=BLUE, label="let through")
    ax.plot(grid, capacity + rate * (grid - grid[0]), color=RED, ls="--", lw=1,
            label="bound: capacity + rate x t")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("requests so far")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("A spike drains the bucket, then the rate rules")
    bx.stairs(level[:-1], grid, color=ORANGE)
    bx.axhline(capacity, color=GREY, ls="--", lw=1)
    bx.text(grid[0], capacity, f" capacity {capacity:,}", va="bottom", fontsize=8, color=GREY)
    bx.set_ylim(0, capacity * 1.2)
    bx.set_xlim(grid[0], grid[-1])
    bx.set_xlabel("time (s)")
    bx.set_ylabel("tokens in the bucket")
    bx.set_title("Tokens: empty during the spike, refilled at the rate")
    return fig


def books_figure(sent: int, outcomes, what: str = "requests"):
    """Where every item went, for one run: :func:`labsim.plots.base.flow` on its own figure."""
    fig, ax = figure(size=(10, 2.2))
    flow(ax, sent, outcomes, what=what)
    return fig
