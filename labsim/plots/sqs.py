"""Figures for the SQS chapters: polling, visibility timeout and DLQ, standard vs FIFO, Lambda
draining a queue. The left panel of each is the book's one "where every item went" panel,
:func:`labsim.plots.base.flow`."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..sqs import FIFO_CALLS_PER_S, MessageOutcome, QueueResult, esm_concurrency_cap
from .base import BLUE, GREEN, GREY, ORANGE, PURPLE, RED, figure, flow, plain_log_ticks

__all__ = ["sqs_outcomes", "sqs_flow", "polling_figure", "visibility_figure", "fifo_figure", "lambda_sqs_figure", "mmc_figure"]


def sqs_outcomes(books, fifo: bool = False) -> list:
    """SQS books (``QueueResult.books()``) as the ``(label, count, role)`` outcomes the shared
    :func:`~labsim.plots.base.flow` draws. Send throttling and deduplication (FIFO) are listed
    on FIFO queues, or wherever they happened."""
    out = []
    if fifo or books["send_throttled"]:
        out.append(("send throttled", books["send_throttled"], "throttled"))
    if fifo or books["deduplicated"]:
        out.append(("deduplicated", books["deduplicated"], "duplicate"))
    out += [("deleted", books["deleted"], "processed"), ("DLQ", books["dlq"], "dlq"),
            ("expired", books["expired"], "expired"), ("queued", books["queued"], "pending"),
            ("in flight", books["in_flight"], "pending")]
    return out


def sqs_flow(ax, r: QueueResult, title: str | None = None) -> None:
    """Where every message of one SQS run went (the shared flow panel): every message the
    producer sent, including the sends a FIFO queue refused."""
    b = r.books()
    flow(ax, b["offered"], sqs_outcomes(b, r.params.get("queue_type") == "fifo"), what="messages",
         title=title or "Where every message went (books balance)")


def polling_figure(r: QueueResult) -> Figure:
    """Left: where the messages went. Right: requests per million messages by kind."""
    fig, (ax1, ax2) = figure(2, gridspec_kw={"width_ratios": [2, 3]})
    sqs_flow(ax1, r)
    n = max(r.count(MessageOutcome.DELETED), 1)
    kinds = ["sends", "receives with messages", "empty receives", "deletes"]
    vals = np.array([r.send_calls, r.receives - r.empty_receives, r.empty_receives, r.delete_calls]) * 1e6 / n
    y = np.arange(len(kinds))[::-1]
    ax2.barh(y, np.maximum(vals, 1e5), color=[GREY, GREEN, RED, BLUE])
    ax2.set_yticks(y, [f"{k}\n{v / 1e6:,.2f} M" for k, v in zip(kinds, vals)], fontsize=7)
    w = r.params["wait_time_seconds"]
    mode = "short polling" if w == 0 else f"long polling ({w} s)"
    ax2.set(xlabel="requests per million messages processed",
            title=f"{mode}: {r.requests * 1e6 / n / 1e6:,.1f} M requests per million messages",
            xscale="log", xlim=(1e5, max(vals.max(), 1e6) * 3))
    plain_log_ticks(ax2.xaxis)
    ax2.title.set_fontsize(10)
    return fig


def visibility_figure(r: QueueResult) -> Figure:
    """Left: where the messages went. Right: how often each message was received, by outcome."""
    fig, (ax1, ax2) = figure(2, gridspec_kw={"width_ratios": [2, 3]})
    sqs_flow(ax1, r)
    top = max(int(r.receive_count.max(initial=1)), 1)
    ks = np.arange(1, top + 1)
    bottom = np.zeros(top)
    for o, col, lab in ((MessageOutcome.DELETED, GREEN, "deleted"), (MessageOutcome.DLQ, PURPLE, "DLQ"),
                        (MessageOutcome.IN_FLIGHT, BLUE, "in flight"), (MessageOutcome.QUEUED, "#aec7e8", "queued")):
        m = (r.outcome == o) & (r.receive_count > 0)
        c = np.bincount(r.receive_count[m], minlength=top + 1)[1:top + 1]
        ax2.bar(ks, c, bottom=bottom, color=col, label=lab, width=0.8)
        bottom += c
    mrc = r.params.get("max_receive_count")
    if mrc:
        ax2.axvline(mrc + 0.5, color="black", ls="--", lw=1, label=f"maxReceiveCount {mrc}")
    ax2.set(xlabel="times received", ylabel="messages",
            title=f"{r.processed_more_than_once:,} messages processed twice or more")
    ax2.title.set_fontsize(10)
    ax2.set_xticks(ks if top <= 12 else ks[::max(top // 10, 1)])
    ax2.legend(fontsize=7, loc="upper right")
    return fig


def fifo_figure(r: QueueResult, offered_rate: float) -> Figure:
    """Left: where the messages went. Right: messages accepted and deleted per second, with the
    FIFO call limit (300 calls per second x messages per call)."""
    fig, (ax1, ax2) = figure(2, gridspec_kw={"width_ratios": [2, 3]})
    sqs_flow(ax1, r)
    edges = np.linspace(0.0, r.horizon, 41)
    acc, _ = np.histogram(r.enqueue[np.isfinite(r.enqueue)], edges)
    dele, _ = np.histogram(r.delete_time[np.isfinite(r.delete_time)], edges)
    w = np.diff(edges)
    ax2.stairs(acc / w, edges, color=GREY, label="accepted by SQS")
    ax2.stairs(dele / w, edges, color=GREEN, label="processed and deleted")
    ax2.axhline(offered_rate, color=BLUE, lw=1, ls=":", label=f"offered {offered_rate:,.0f}/s")
    if r.params["queue_type"] == "fifo":
        lim = FIFO_CALLS_PER_S * r.params["send_batch"]
        ax2.axhline(lim, color=RED, ls="--", lw=1, label=f"FIFO limit {lim:,}/s")
    ooo = r.out_of_order()
    ax2.set(xlabel="time (s)", ylabel="messages per second",
            title=f"{r.params['queue_type']}: {ooo:,} messages handled out of order")
    ax2.title.set_fontsize(10)
    ax2.legend(fontsize=7, loc="upper right")
    ax2.set_ylim(0, max(offered_rate, (acc / w).max(initial=0)) * 1.45)
    return fig


def lambda_sqs_figure(r: QueueResult, points: int = 241) -> Figure:
    """Where the messages went; concurrency against the mapping's scaling cap; queue depth; age
    of the oldest message."""
    fig, axes = figure(2, 2, size=(10, 4.8))
    (ax1, ax2), (ax3, ax4) = axes
    sqs_flow(ax1, r)
    g = np.linspace(0.0, r.horizon, points)
    conc = r.concurrency(g)
    ax2.plot(g, conc, color=BLUE, lw=1.2)
    first = float(np.nanmin(r.enqueue)) if np.isfinite(r.enqueue).any() else 0.0
    cap = esm_concurrency_cap(np.maximum(g - first, 0), r.params["maximum_concurrency"])
    ax2.plot(g, cap, color=RED, ls="--", lw=1)
    lim = r.params.get("function_concurrency")
    top = max(float(conc.max(initial=0)), 5.0) * 1.3
    if lim is not None and lim >= top:
        lim = None                                # off the chart
    if lim is not None:
        ax2.axhline(lim, color=GREY, ls=":", lw=1, label=f"function's concurrency {lim:,}")
    thr = r.throttle_time
    if len(thr):
        ax2.plot(thr, np.zeros(len(thr)), "|", color=RED, ms=8, label=f"{len(thr):,} throttled")
    if lim is not None or len(thr):
        ax2.legend(fontsize=7, loc="upper right")
    ax2.set(ylabel="invocations", title="Concurrent invocations; dashed: cap 5, +300/min")
    ax2.set_ylim(0, top)
    ax3.plot(g, r.in_queue(g), color=ORANGE, lw=1.2)
    ax3.set(xlabel="time (s)", ylabel="messages", title="Messages in the queue")
    ax4.plot(g, r.oldest_age(g), color=PURPLE, lw=1.2)
    ax4.set(xlabel="time (s)", ylabel="seconds", title="Age of the oldest message")
    for ax in (ax2, ax3, ax4):
        ax.title.set_fontsize(9)
        ax.locator_params(nbins=4)
    fig.subplots_adjust(hspace=0.5)
    return fig


def mmc_figure(c: int, loads, reps_by_load, mean_duration: float = 1.0) -> Figure:
    """Simulated share of messages that wait and mean wait (replication mean +- 3 SE) against
    load, with the Erlang C curves. ``reps_by_load``: one :func:`labsim.sqs.mmc_replications`
    array per load."""
    from ..theory import erlang_c, erlang_c_mean_wait
    fig, (ax1, ax2) = figure(2)
    grid = np.linspace(0.05, 0.97, 60) * c
    ax1.plot(grid, [erlang_c(c, a) for a in grid], color=GREY, lw=1.5, label="Erlang C")
    g2 = grid[grid >= 0.25 * c]
    ax2.plot(g2, [erlang_c_mean_wait(c, a, mean_duration) for a in g2], color=GREY, lw=1.5,
             label="Erlang C mean wait")
    for ax, k in ((ax1, 0), (ax2, 1)):
        est = np.array([x[:, k].mean() for x in reps_by_load])
        se = np.array([x[:, k].std(ddof=1) / np.sqrt(len(x)) for x in reps_by_load])
        ax.errorbar(loads, est, yerr=3 * se, fmt="o", color=BLUE, ms=4, capsize=2, label="simulated (+-3 SE)")
        ax.legend(fontsize=7, loc="upper left")
        ax.set_xlabel(f"load (erlangs) on {c} consumers")
    ax1.set(ylabel="share of messages that wait", title="Waiting starts well below full load")
    ax2.set(ylabel="mean wait (s)", title="The mean wait explodes near full load")
    ax2.set_yscale("log")
    ax2.set_ylim(1e-4 * mean_duration, None)
    plain_log_ticks(ax2.yaxis)
    return fig
