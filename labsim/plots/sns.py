"""Figures for the SNS chapter (fan-out with filters, delivery retries) and the integration
overview's outage lab. Every "where did it go" panel is the shared :func:`labsim.plots.base.flow`."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..sns import FATE_NAMES, FATE_ROLES, DeliveryResult, Fate, FanOutResult
from .base import CYCLE, GREY, ROLE, figure, flow, flows

__all__ = ["sns_outcomes", "fanout_figure", "delivery_figure", "outage_figure"]


def sns_outcomes(r: DeliveryResult) -> list:
    """Delivery fates as the ``(label, count, role)`` outcomes :func:`flow` draws."""
    return [(FATE_NAMES[f], r.count(f), FATE_ROLES[f]) for f in Fate]


def fanout_figure(r: FanOutResult, labels) -> Figure:
    """Left: where every delivery went (one per message and matching queue). Middle: what each
    queue received, and what no subscription matched. Right: each queue's depth over time."""
    fig, (a1, a2, a3) = figure(3, gridspec_kw={"width_ratios": [3, 2, 3]})
    b = r.books()
    outs = []
    for s, q in zip(r.subscriptions, r.queues):
        qb = q.books()
        outs += [(f"{s.name}: deleted", qb["deleted"], "processed"),
                 (f"{s.name}: waiting", qb["queued"] + qb["in_flight"], "pending")]
    flow(a1, b["deliveries"], outs, what="deliveries",
         title=f"{b['published']:,} published -> {b['deliveries']:,} deliveries")
    names = [s.name for s in r.subscriptions] + ["no match"]
    vals = [q.sent for q in r.queues] + [b["unmatched"]]
    y = np.arange(len(names))[::-1]
    a2.barh(y, vals, color=list(CYCLE[:len(r.queues)]) + [GREY])
    a2.set_yticks(y, [f"{n}\n{lbl}" for n, lbl in zip(names, list(labels) + ["(dropped)"])], fontsize=6)
    for yy, v in zip(y, vals):
        a2.text(v, yy, f" {v:,}", va="center", fontsize=7)
    a2.set_xlim(0, max(max(vals), 1) * 1.3)
    a2.set(xlabel="messages", title="Who got what")
    grid = np.linspace(0, r.params["horizon"], 181)
    for j, (s, q) in enumerate(zip(r.subscriptions, r.queues)):
        inq = np.searchsorted(np.sort(q.enqueue), grid, side="right") - np.searchsorted(
            np.sort(np.where(np.isfinite(q.first_receive), q.first_receive, np.inf)), grid, side="right")
        a3.plot(grid / 60, inq, color=CYCLE[j], label=f"{s.name} ({r.params['mean_duration'][j]:g} s each)")
    a3.legend(fontsize=7, loc="upper left")
    a3.set(xlabel="minutes", ylabel="messages waiting", title="Each queue drains at its own pace")
    for a in (a1, a2, a3):
        a.title.set_fontsize(9)
    return fig


def delivery_figure(r: DeliveryResult, down) -> Figure:
    """Left: each message's fate. Right: delivery attempts per minute, the failing window shaded
    (server-side errors are retried on the policy's schedule; client-side errors are not)."""
    fig, (a1, a2) = figure(2, gridspec_kw={"width_ratios": [2, 3]})
    flow(a1, len(r.publish), sns_outcomes(r), what="messages", title="Each message's fate (books balance)")
    at = r.attempt_times()
    first = r.publish
    edges = np.arange(0, r.horizon + 60, 60.0)
    a2.stairs(np.histogram(at, edges)[0], edges / 60, color=ROLE["throttled"], label="all attempts")
    a2.stairs(np.histogram(first, edges)[0], edges / 60, color=ROLE["function"], label="first attempts")
    kinds = r.params.get("failure") or ["server"]
    client = "client" in kinds
    t0, t1 = down
    if t1 > t0:
        a2.axvspan(t0 / 60, t1 / 60, color=ROLE["lost"], alpha=0.12,
                   label="client-side errors (no retries)" if client else "endpoint down (server-side errors)")
    dl = r.departure[r.fate == Fate.DELIVERED_LATE]
    if len(dl):
        a2.axvline(dl.max() / 60, color=ROLE["processed"], ls="--", lw=1, label=f"last late delivery {dl.max() / 60:.1f} min")
    a2.legend(fontsize=7, loc="upper right")
    a2.set(xlabel="minutes", ylabel="attempts per minute", xlim=(0, min(r.horizon, 5400) / 60),
           title="A client-side error is not retried" if client else "Retries bunch up while the endpoint is down")
    a1.title.set_fontsize(9)
    a2.title.set_fontsize(10)
    return fig


def outage_figure(sns_r: DeliveryResult, sqs_r, kin_r, down, horizon, retention: str = "") -> Figure:
    """Left: where every message went for each service (three flow panels). Right: the delay from
    publish to delivery (SNS) or to being read (SQS, Kinesis), by publish time."""
    fig, (af, ar) = figure(2, size=(10, 4.4), gridspec_kw={"width_ratios": [2, 3], "wspace": 0.45})
    qb = sqs_r.books()
    kb = kin_r.books()
    flows(af, [("SNS push to HTTP", len(sns_r.publish), sns_outcomes(sns_r)),
               (f"SQS queue, retention {retention}" if retention else "SQS queue",
                qb["sent"], [("read", qb["deleted"], "processed"), ("expired", qb["expired"], "expired"),
                             ("waiting", qb["queued"] + qb["in_flight"], "pending")]),
               ("Kinesis stream", kb["sent"], [("read", kb["processed"], "processed"),
                                               ("pending", kb["pending"], "pending")])],
          what="messages", title="Where every message went")
    af.title.set_fontsize(9)
    af.tick_params(labelsize=6)
    d = sns_r.delivered
    ar.plot(sns_r.publish[d] / 60, (sns_r.departure[d] - sns_r.publish[d]) / 60, ".", ms=3, color=CYCLE[0],
            label="SNS -> HTTP: delivered")
    nd = ~d
    ar.plot(sns_r.publish[nd] / 60, np.zeros(nd.sum()), "x", ms=3, color=ROLE["lost"], label="SNS: not delivered")
    ok = np.isfinite(sqs_r.first_receive)
    ar.plot(sqs_r.send[ok] / 60, (sqs_r.first_receive[ok] - sqs_r.send[ok]) / 60, ".", ms=2, color=CYCLE[1],
            label="SQS: received")
    ex = sqs_r.outcome == 3
    if ex.any():
        ar.plot(sqs_r.send[ex] / 60, np.zeros(ex.sum()) - 1, "|", ms=4, color=ROLE["expired"],
                label="SQS: expired (retention)")
    rd = kin_r.read[:, 0]
    okk = np.isfinite(rd)
    ar.plot(kin_r.arrival[okk] / 60, (rd[okk] - kin_r.arrival[okk]) / 60, ".", ms=1, color=CYCLE[2],
            label="Kinesis: read")
    t0, t1 = down
    if t1 > t0:
        ar.axvspan(t0 / 60, t1 / 60, color=ROLE["lost"], alpha=0.1, label="consumer down")
    ar.legend(fontsize=7, loc="upper right")
    ar.set(xlabel="published at (minutes)", ylabel="delay to the consumer (minutes)", xlim=(0, horizon / 60),
           title="Push gives up; pull makes it wait")
    ar.title.set_fontsize(10)
    return fig
