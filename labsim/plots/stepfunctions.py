"""Figures for the Step Functions chapter: a batch job run as a Map state."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..stepfunctions import (ABORTED, CAUGHT, EXPRESS_MAX_DURATION_S, FAILED, NOT_STARTED, OUTCOMES, RETRIED,
                             SUCCEEDED, MapResult)
from .base import ROLE, figure, flow

__all__ = ["map_figure", "iteration_outcomes", "running"]

_ROLE = {SUCCEEDED: "processed", RETRIED: "duplicate", CAUGHT: "dlq", FAILED: "lost", ABORTED: "expired",
         NOT_STARTED: "pending"}


def iteration_outcomes(r: MapResult):
    """(label, count, role) of every iteration's final outcome, for :func:`labsim.plots.flow`."""
    return [(OUTCOMES[o], r.count(o), _ROLE[o]) for o in (SUCCEEDED, RETRIED, CAUGHT, FAILED, ABORTED, NOT_STARTED)]


def running(r: MapResult, t) -> np.ndarray:
    """Iterations running at each time in ``t`` (started at or before t, not yet ended)."""
    ran = np.isfinite(r.start)
    s, e = np.sort(r.start[ran]), np.sort(r.end[ran])
    t = np.asarray(t, float)
    return np.searchsorted(s, t, side="right") - np.searchsorted(e, t, side="right")


def map_figure(r: MapResult) -> Figure:
    """Left: iterations running over time, against the Map's concurrency (and the Express
    workflow's five minutes, and the moment the Map failed). Right: where every iteration went."""
    fig, (ax1, ax2) = figure(2, gridspec_kw={"width_ratios": [3, 2]})
    wall = max(r.wall_time, 1.0)
    t = np.linspace(0.0, wall * 1.02, 400)
    minutes = t / 60
    ax1.step(minutes, running(r, t), where="post", color=ROLE["function"], lw=1.2, label="iterations running")
    capped = r.mode == "inline" and r.concurrency < r.max_concurrency
    ax1.axhline(r.concurrency, color=ROLE["limit"], ls="--", lw=1,
                label=(f"inline limit {r.concurrency} (MaxConcurrency {r.max_concurrency:,})" if capped
                       else f"MaxConcurrency {r.concurrency:,}"))
    if r.workflow == "express":
        ax1.axvline(EXPRESS_MAX_DURATION_S / 60, color=ROLE["expired"], ls=":", lw=1, label="Express: 5 minutes")
    if r.map_failed:
        ax1.axvline(r.fail_time / 60, color=ROLE["lost"], lw=1.2, label="the Map failed")
    top = max(r.concurrency, int(running(r, t).max(initial=0)), 1)
    ax1.set(xlabel="time (min)", ylabel="iterations running", ylim=(0, top * 1.15), xlim=(0, minutes[-1]),
            title=(f"The Map failed after {r.fail_time / 60:,.1f} min: its iterations stopped" if r.map_failed
                   else f"The Map succeeded, but {r.items_to_redo:,} items are left to redo" if r.items_to_redo
                   else f"{r.concurrency:,} iterations at once ({r.mode} Map): {r.wall_time / 60:,.1f} min"))
    ax1.legend(loc="lower left", fontsize=7)
    flow(ax2, r.iterations, iteration_outcomes(r), what="iterations", title="Where every iteration went")
    ax2.set_xticks([])
    handling = {"none": "no Retry, no Catch", "retry": "Retry, no Catch", "retry_catch": "Retry and Catch"}[r.handling]
    ax2.set_xlabel(f"iterations; {handling}\ntolerated failures {r.tolerated_failure_pct:g}%"
                   + ("" if r.mode == "distributed" else " (distributed Map only)"), fontsize=8)
    return fig
