"""Figures for the Lambda chapters: batch jobs, concurrency, scaling, noisy neighbours."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .. import theory
from ..awslambda import CONCURRENCY, FUNCTION, OTHER, RATE, RPS_PER_CONCURRENCY, SyncResult, burst_cap, per_function_cap
from ..batch import BatchResult
from ..outcomes import Outcome
from .base import BLUE, GREEN, GREY, ORANGE, RED, figure, plain_log_ticks


def _grid(result: SyncResult, points: int = 400) -> np.ndarray:
    return np.linspace(0.0, result.horizon, points)


def concurrency_figure(result: SyncResult) -> Figure:
    """Left: concurrency over time against the limit. Right: throttle fraction on Erlang B and,
    where it applies, on the requests-per-second cap's long-run curve 1 - 10 c / rate."""
    fig, (ax1, ax2) = figure(2)
    p = result.params
    c = p["concurrency_limit"] if p["reserved"] is None else p["reserved"]
    g = _grid(result)
    ax1.plot(g, result.concurrency(g), color=BLUE, lw=1, label="running executions")
    ax1.axhline(c, color=RED, ls="--", lw=1, label=f"limit {c:,}")
    edges = np.linspace(0, result.horizon, len(g) // 2 + 1)
    thr = (result.outcome == Outcome.THROTTLED) & (result.source == FUNCTION)
    for why, y, mark, label in ((CONCURRENCY, c, "|", "429: concurrency"), (RATE, 0, "|", "429: rate cap")):
        hit = np.histogram(result.arrival[thr & (result.reason == why)], bins=edges)[0] > 0
        if hit.any():                                          # slices with at least one such 429
            ax1.plot(edges[:-1][hit], np.full(hit.sum(), y), mark, color=ORANGE if why == CONCURRENCY else RED,
                     ms=10, label=label)
    ax1.set(xlabel="time (s)", ylabel="concurrency", title="Concurrency over time",
            ylim=(0, 1.15 * max(c, 1)))
    ax1.legend(loc="lower right", fontsize=8)
    rate = p["rate"] if p["rate"] is not None else result.sent() / result.horizon
    load = rate * p["mean_duration"]        # offered load, as in the lab's summary
    a = np.linspace(0, max(2.0 * c, 1.3 * load), 200)
    ax2.plot(a, theory.erlang_b(c, a), color=GREY, label=f"Erlang B, c = {c:,}")
    if p.get("rate_cap"):
        cap = RPS_PER_CONCURRENCY * c
        with np.errstate(divide="ignore"):
            ax2.plot(a, np.maximum(0, 1 - cap * p["mean_duration"] / a), color=GREY, ls="--",
                     label=f"rate cap {cap:,}/s: 1 - {cap:,}/rate")
    est, se = result.throttled_fraction_ci()
    ax2.errorbar([load], [est], yerr=[1.96 * se if np.isfinite(se) else 0], fmt="o",
                 color=ORANGE, capsize=4, label="simulated (95% CI)")
    ax2.set(xlabel="offered load A = rate x duration (erlangs)", ylabel="throttled fraction",
            title="Throttled fraction: Erlang B and the rate cap", ylim=(-0.02, 1))
    ax2.legend(loc="upper left", fontsize=8)
    return fig


def scaling_figure(result: SyncResult) -> Figure:
    """Demand, environments and throttles over time under a scaling model."""
    fig, ax = figure()
    p = result.params
    g = _grid(result)
    ax.plot(g, result.concurrency(g, wanted=True), color=GREY, ls=":", label="concurrency wanted (no limits)")
    ax.plot(g, result.concurrency(g), color=BLUE, label="running executions")
    ax.step(g, result.environments(g), where="post", color=GREEN, label="environments created")
    cap = (burst_cap(g, p["region"], p["concurrency_limit"]) if p["scaling"] == "burst"
           else per_function_cap(g, p["concurrency_limit"]) if p["scaling"] == "per_function"
           else np.full_like(g, p["concurrency_limit"]))
    ax.plot(g, cap, color=RED, ls="--", lw=1, label="scaling limit")
    ax.set(xlabel="time (s)", ylabel="executions",
           title=f"Scaling model: {p['scaling']}, Region {p['region']}, account limit {p['concurrency_limit']:,}")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def neighbour_figure(result: SyncResult) -> Figure:
    """Concurrency of the function and of the other functions, and each one's throttles."""
    fig, (ax1, ax2) = figure(2, gridspec_kw={"width_ratios": [2, 1]})
    p = result.params
    g = _grid(result)
    ax1.stackplot(g, result.concurrency(g, FUNCTION), result.concurrency(g, OTHER),
                  colors=[BLUE, GREY], alpha=0.7, labels=["your function", "other functions"])
    ax1.axhline(p["concurrency_limit"], color=RED, ls="--", lw=1, label="account limit")
    if p["reserved"] is not None:
        ax1.axhline(p["reserved"], color=BLUE, ls="--", lw=1, label=f"reserved {p['reserved']}")
    ax1.set(xlabel="time (s)", ylabel="concurrency", title="Who uses the account's concurrency")
    ax1.legend(loc="lower right", fontsize=8)
    fr = [100 * result.throttled_fraction(FUNCTION), 100 * result.throttled_fraction(OTHER)]
    ax2.bar(["your function", "other functions"], np.nan_to_num(fr), color=[BLUE, GREY])
    ax2.set(ylabel="throttled (%)", title="Throttled requests", ylim=(0, 100))
    return fig


def batch_figure(result: BatchResult, curve_c, curve_wall) -> Figure:
    """Left: work per invocation against the timeout. Right: wall time against concurrency."""
    fig, (ax1, ax2) = figure(2)
    ok = result.outcome == Outcome.SUCCEEDED
    edges = np.arange(result.invocations + 1) - 0.5
    ax1.stairs(np.where(ok, result.work, 0.0), edges, fill=True, color=BLUE, label="finished")
    if not ok.all():
        ax1.stairs(np.where(ok, 0.0, result.work), edges, fill=True, color=RED, label="timed out")
    ax1.axhline(result.timeout, color=RED, ls="--", lw=1, label=f"timeout {result.timeout:g} s")
    ax1.set(xlabel="invocation", ylabel="work (s)", title="Work per invocation")
    ax1.legend(loc="lower right", fontsize=8)
    ax2.plot(curve_c, np.asarray(curve_wall) / 60, color=GREY, marker=".")
    ax2.plot([result.concurrency], [result.wall_time / 60], "o", color=ORANGE, label="this run")
    ax2.set(xscale="log", yscale="log", xlabel="concurrency", ylabel="wall time (min)",
            title="Wall time against concurrency")
    plain_log_ticks(ax2.xaxis, ax2.yaxis)
    ax2.legend(fontsize=8)
    return fig
