"""Figures for chapter 4: client retries against throttling, and the contention experiment."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..retry import ClientRetryResult, ContentionSweep
from .base import BLUE, CYCLE, GREY, ORANGE, RED, figure, plain_log_ticks

__all__ = ["retry_storm_figure", "contention_figure", "STRATEGY_LABELS"]

STRATEGY_LABELS = {"none": "no retries", "immediate": "no backoff (immediate)", "fixed": "fixed delay",
                   "exponential": "exponential", "full_jitter": "full jitter",
                   "equal_jitter": "equal jitter", "decorrelated_jitter": "decorrelated jitter"}


def _decades(ax, lo: float, hi: float) -> None:
    """Log y axis from ``lo`` with one labelled tick per power of ten (cheap to lay out)."""
    top = 10.0 ** np.ceil(np.log10(max(hi, lo * 10)))
    ax.set_yscale("log")
    ax.set_ylim(lo, top * 1.5)
    ax.set_yticks(10.0 ** np.arange(np.log10(lo), np.log10(top) + 0.5))
    plain_log_ticks(ax.yaxis)


def _window(r: ClientRetryResult) -> float:
    """Plotted time range: the arrival window, or longer if the backlog outlasts it."""
    return float(max(r.horizon, min(r.last_answer, 4 * r.horizon)))


def retry_storm_figure(r: ClientRetryResult, bins: int = 160) -> Figure:
    """Left: attempts per second reaching Lambda (first attempts, retries) against what the
    function can serve. Right: running executions and callers still waiting, against the limit."""
    fig, (ax1, ax2) = figure(2)
    p = r.params
    top = _window(r)
    edges = np.linspace(0.0, top, bins + 1)
    first = r.attempt_rate(edges, retries=False)
    again = r.attempt_rate(edges, retries=True)
    ax1.stairs(first + again, edges, fill=True, color=ORANGE, alpha=0.6, label="retries")
    ax1.stairs(first, edges, fill=True, color=BLUE, alpha=0.8, label="first attempts")
    serve = p["concurrency_limit"] / p["duration"]
    ax1.axhline(serve, color=RED, ls="--", lw=1, label=f"Lambda can serve {serve:,.0f}/s")
    ax1.set(xlabel="time (s)", ylabel="attempts per second", title="Load on the function", xlim=(0, top))
    _decades(ax1, 10, max(float((first + again).max()), serve))
    ax1.legend(loc="upper right", fontsize=8)
    g = np.linspace(0.0, top, 300)
    waiting = r.in_progress(g)
    ax2.plot(g, np.maximum(waiting, 0.8), color=GREY, lw=1, label="callers waiting for an answer")
    ax2.plot(g, np.maximum(r.concurrency(g), 0.8), color=BLUE, lw=1, label="running executions")
    ax2.axhline(p["concurrency_limit"], color=RED, ls="--", lw=1, label=f"limit {p['concurrency_limit']:,}")
    ax2.axvspan(r.spike_start, r.spike_end, color=GREY, alpha=0.15, lw=0)
    ax2.set(xlabel="time (s)", ylabel="count", title="Executions and backlog", xlim=(0, top))
    _decades(ax2, 1, max(float(waiting.max()), p["concurrency_limit"]))
    ax2.legend(loc="upper right", fontsize=8)
    return fig


def contention_figure(sweep: ContentionSweep, strategies, n_clients: int) -> Figure:
    """Total write calls and completion time against the number of contending clients."""
    fig, (ax1, ax2) = figure(2)
    for s in strategies:
        i = sweep.strategies.index(s)
        colour = CYCLE[i % len(CYCLE)]
        ax1.plot(sweep.n_values, sweep.calls[i], color=colour, marker=".", label=STRATEGY_LABELS[s])
        ax2.plot(sweep.n_values, sweep.time[i], color=colour, marker=".")
    for ax in (ax1, ax2):
        ax.axvline(n_clients, color=GREY, ls=":", lw=1)
    ax1.set(xlabel="contending clients N", ylabel="write calls (all clients)",
            title="Work: total calls")
    ax1.legend(loc="upper left", fontsize=8)
    ax2.set(xlabel="contending clients N", ylabel="seconds", title="Time until every client has written")
    _decades(ax2, 0.1, float(np.max(sweep.time)))
    return fig
