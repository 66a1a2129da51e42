"""Figures for the capstone: where every order went, stage by stage, and how long it took."""

from __future__ import annotations

import numpy as np

from ..capstone import (DESIGN_NAMES, FAILED_ERROR, FAILED_THROTTLED, SUBSCRIPTIONS, OrderState, PairState,
                        PipelineResult)
from .base import CYCLE, GREY, ROLE, figure, flows

__all__ = ["pipeline_rows", "pipeline_figure", "designs_figure"]

_MIDDLE = {"sync": "Lambda (behind the API)", "queue": "SQS -> Lambda", "stream": "Kinesis -> Lambda"}


def pipeline_rows(r: PipelineResult) -> list:
    """The stage-by-stage books as :func:`~labsim.plots.base.flows` rows: API Gateway, the
    design's middle stage, then each subscription of the topic."""
    b = r.books()
    n, rej = b["orders"], b["rejected"]
    rows = [("API Gateway", n, [("passed on", n - rej, "function"), ("429", rej, "throttled")])]
    thr = int(np.count_nonzero(r.failed_why == FAILED_THROTTLED))
    err = int(np.count_nonzero(r.failed_why == FAILED_ERROR))
    thr_label = {"sync": "500 (Lambda throttled)", "queue": "failed", "stream": "put throttled"}[r.design]
    wait_label = {"sync": "in flight", "queue": "in the queue", "stream": "in the stream"}[r.design]
    dlq_label = "on-failure destination" if r.design == "stream" else "DLQ"
    rows.append((_MIDDLE[r.design], n - rej, [("processed", b["processed"], "processed"), (thr_label, thr, "lost"),
                                              ("502 (function error)", err, "lost"), (wait_label, b["waiting"], "pending"),
                                              (dlq_label, b["dlq"], "dlq"), ("expired", b["expired"], "expired")]))
    for j, sub in enumerate(SUBSCRIPTIONS):
        s = r.pair_state[r.pair_sub == j]
        rows.append((f"SNS -> {sub.name} queue", len(s),
                     [("processed", int((s == PairState.PROCESSED).sum()), "processed"),
                      ("waiting", int((s == PairState.WAITING).sum()), "pending"),
                      ("DLQ", int((s == PairState.DLQ).sum()), "dlq"), ("lost", int((s == PairState.LOST).sum()), "lost"),
                      ("expired", int((s == PairState.EXPIRED).sum()), "expired")]))
    # a stage lists the outcomes it had (flows() names the small ones; zeros would only clutter)
    return [(name, sent, [o for o in outs if o[1]] or outs[:1]) for name, sent, outs in rows]


def _latency_panel(ax, r: PipelineResult):
    m = r.state == OrderState.PROCESSED
    p = r.params
    ax.axvspan(p["spike_start"], p["spike_start"] + p["spike_length"], color=GREY, alpha=0.15, lw=0)
    lost = np.isin(r.state, (OrderState.REJECTED, OrderState.FAILED, OrderState.DLQ, OrderState.EXPIRED))
    if lost.any():
        ax.plot(r.arrival[lost], np.zeros(int(lost.sum())), "|", color=ROLE["lost"], ms=6, label="lost")
    ax.plot(r.arrival[m], r.done[m] - r.arrival[m], ".", color=ROLE["processed"], ms=2, label="processed")
    pct = r.percentiles()
    top = max([v for v in pct.values() if v == v] + [p["mean_duration"]])
    styles = {50: ":", 95: "--", 99: "-."}
    if pct[50] == pct[50]:
        for q, v in pct.items():
            ax.axhline(v, color=ROLE["limit"], ls=styles.get(q, "--"), lw=0.8)
        ax.text(0.98, 0.97, "\n".join(f"p{q} ({styles.get(q, '--')}) {v:.1f} s" for q, v in reversed(pct.items())),
                transform=ax.transAxes, fontsize=7, va="top", ha="right")
    ax.set_xlim(0, r.horizon)
    ax.set_ylim(-0.05 * top - 0.01, 1.25 * top + 0.01)
    ax.set_xlabel("order arrived at (s); grey: the sale")
    ax.set_ylabel("end-to-end latency (s)")
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    ax.set_title(f"{r.lost:,} orders lost; p99 latency {pct[99]:.1f} s" if pct[99] == pct[99]
                 else f"{r.lost:,} orders lost; none processed")


def pipeline_figure(r: PipelineResult, settings: str = ""):
    """Left: where every order (and every matched delivery) went, stage by stage. Right: each
    processed order's end-to-end latency by arrival time, with p50, p95 and p99."""
    fig, (a0, a1) = figure(2, size=(11, 4.0), gridspec_kw={"width_ratios": [1.35, 1]})
    flows(a0, pipeline_rows(r), what="orders (deliveries for SNS)",
          title=f"{DESIGN_NAMES[r.design]}: where every order went")
    _latency_panel(a1, r)
    if settings:
        fig.text(0.01, 0.01, settings, fontsize=7, ha="left", va="bottom", color="#444444")
    return fig


def designs_figure(results: dict):
    """The three designs side by side on the same orders. Left: one row of books per design.
    Right: the slowest end-to-end latency among the orders arriving in each second, per design."""
    fig, (a0, a1) = figure(2, size=(11, 3.2), gridspec_kw={"width_ratios": [1.2, 1]})
    rows = []
    for d, r in results.items():
        b = r.books()
        rows.append((d, b["orders"],
                     [o for o in (("processed", b["processed"], "processed"), ("429", b["rejected"], "throttled"),
                                  ("failed (5xx)", b["failed"], "lost"), ("DLQ", b["dlq"], "dlq"),
                                  ("waiting", b["waiting"], "pending"), ("expired", b["expired"], "expired")) if o[1]]
                     or [("processed", 0, "processed")]))
    flows(a0, rows, what="orders", title="Where the same orders went in each design")
    for k, (d, r) in enumerate(results.items()):
        edges = np.arange(0.0, r.params["traffic_length"] + 1.0, 1.0)
        m = r.state == OrderState.PROCESSED
        b = np.clip(np.searchsorted(edges, r.arrival[m], side="right") - 1, 0, len(edges) - 2)
        worst = np.zeros(len(edges) - 1)
        np.maximum.at(worst, b, r.done[m] - r.arrival[m])
        a1.stairs(worst, edges, color=CYCLE[k], lw=1.5, label=d)
    p = next(iter(results.values())).params
    a1.axvspan(p["spike_start"], p["spike_start"] + p["spike_length"], color=GREY, alpha=0.15, lw=0)
    a1.set_xlabel("order arrived at (s); grey: the sale")
    a1.set_ylabel("slowest latency that second (s)")
    a1.legend(fontsize=7, frameon=False, loc="upper right")
    a1.set_title("Sync loses orders; the queue and the stream make them wait")
    return fig
