"""Figures for the API Gateway chapter: one bucket, usage plans at every level, endpoint latency."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .. import tokenbucket
from ..apigateway import (ACCOUNT, ENDPOINT_TYPES, LEVELS, PASSED, QUOTA, STAGE, USAGE_PLAN, LatencyResult,
                          ThrottleResult)
from .base import BLUE, GREY, ORANGE, RED, ROLE, figure, flow

__all__ = ["bucket_figure", "usage_plan_figure", "endpoint_figure", "throttle_outcomes"]


def _lean(*axes, flow_ax=None):
    """Fewer tick labels (text is most of the PNG's drawing time); the flow panel's counts are
    written on its bars, so it needs no x ticks."""
    for ax in axes:
        ax.locator_params(axis="x", nbins=4)
    if flow_ax is not None:
        flow_ax.set_xticks([])

_SHORT = {USAGE_PLAN: "429 plan rate", QUOTA: "429 quota", STAGE: "429 stage", ACCOUNT: "429 account",
          5: "429 Regional"}
_LEVEL_COLOUR = {PASSED: ROLE["processed"], USAGE_PLAN: ORANGE, QUOTA: "#ffbb78", STAGE: "#c49c94",
                 ACCOUNT: RED, 5: ROLE["expired"]}


def throttle_outcomes(result: ThrottleResult, mask=None, levels=LEVELS):
    """(label, count, role) of every final outcome, for :func:`labsim.plots.flow`."""
    out = [("passed", result.count(PASSED, mask), "processed")]
    return out + [(_SHORT[lv], result.count(lv, mask), "throttled") for lv in levels]


def bucket_figure(result: ThrottleResult) -> Figure:
    """Left: requests per second, passed and 429, against the rate. Middle: the bucket's tokens.
    Right: where every request went."""
    fig, (ax1, ax2, ax3) = figure(3, gridspec_kw={"width_ratios": [3, 2, 2]})
    lim = result.params["limit"]
    edges = np.linspace(0.0, result.horizon, 81)
    ok = result.rate_series(edges, PASSED)
    no = result.rate_series(edges, STAGE)
    ax1.stairs(ok + no, edges, fill=True, color=ROLE["throttled"], label="429")
    ax1.stairs(ok, edges, fill=True, color=ROLE["processed"], label="passed")
    ax1.axhline(lim.rate, color=ROLE["limit"], ls="--", lw=1, label=f"rate {lim.rate:,g}/s")
    ax1.set(xlabel="time (s)", ylabel="requests per second", title="Passed and refused over time")
    ax1.legend(loc="upper left", fontsize=7)
    g = np.linspace(0.0, result.horizon, 400)
    lvl = tokenbucket.tokens(result.arrival, result.passed, lim.rate, lim.burst, g)
    ax2.plot(g, lvl, color=BLUE, lw=1)
    ax2.axhline(lim.burst, color=ROLE["limit"], ls="--", lw=1, label=f"capacity {lim.burst:,}")
    ax2.set(xlabel="time (s)", ylabel="tokens", title="Tokens in the bucket", ylim=(0, 1.15 * lim.burst))
    ax2.legend(loc="lower left", fontsize=7)
    flow(ax3, result.sent(), [("passed", result.count(PASSED), "processed"), ("429", result.count(STAGE), "throttled")],
         what="requests", title="Where every request went")
    _lean(ax1, ax2, flow_ax=ax3)
    return fig


def usage_plan_figure(result: ThrottleResult) -> Figure:
    """Left: requests passed per second, stacked by client, with the account's other APIs, against
    the account limit. Middle: each client's share passed and refused, by level. Right: where every
    request to this API went."""
    fig, (ax1, ax2, ax3) = figure(3, gridspec_kw={"width_ratios": [5, 4, 4]})
    p = result.params
    names = p["names"]
    edges = np.linspace(0.0, result.horizon, 61)
    series = [result.rate_series(edges, PASSED, result.of_key(k)) for k in range(len(names))]
    other = np.histogram(p["passed_times"], bins=edges)[0] / np.diff(edges) - sum(series)
    mids = 0.5 * (edges[1:] + edges[:-1])
    colours = ["#98df8a", ROLE["processed"], BLUE, GREY]
    ax1.stackplot(mids, *series, np.maximum(other, 0), colors=colours)
    ax1.axhline(p["account"].rate, color=ROLE["limit"], ls="--", lw=1)
    ax1.set(xlabel="time (s)", ylabel="passed per second",
            title=f"Passed, by client, vs the account's {p['account'].rate:,.0f}/s",
            ylim=(0, max(1.25 * p["account"].rate, 1.05 * float((sum(series) + np.maximum(other, 0)).max()))))
    rows = list(names) + ["other APIs"]
    y = np.arange(len(rows))[::-1]
    left = np.zeros(len(rows))
    for lv in (PASSED,) + LEVELS[:-1]:
        share = []
        for k in range(len(names)):
            m = result.of_key(k)
            share.append(result.count(lv, m) / max(result.sent(m), 1))
        o = p["other_sent"]
        share.append((p["other_passed"] if lv == PASSED else p["other_refused"].get(lv, 0)) / max(o, 1))
        share = 100 * np.array(share)
        ax2.barh(y, share, left=left, color=_LEVEL_COLOUR[lv], label="passed" if lv == PASSED else _SHORT[lv])
        left += share
    ax2.set_yticks(y, rows, fontsize=8)
    for lbl, c in zip(ax2.get_yticklabels(), colours):      # the client's colour in the left panel
        lbl.set_color(c if c != "#98df8a" else "#5aa845")
    ax2.set(xlabel="% of the client's requests", xlim=(0, 100), title="Who gets refused, and where",
            ylim=(-1.9, len(rows) - 0.5))
    ax2.legend(loc="lower center", fontsize=6, ncol=3, handlelength=1, columnspacing=0.8)
    flow(ax3, result.sent(), throttle_outcomes(result, levels=LEVELS[:-1]), what="requests",
         title="Where every request went")
    _lean(ax1, ax2, flow_ax=ax3)
    return fig


def endpoint_figure(result: LatencyResult) -> Figure:
    """Left: the model's median latency per client, edge-optimized against Regional. Right: where
    every request of the chosen endpoint type ended against the latency target."""
    fig, (ax1, ax2) = figure(2, gridspec_kw={"width_ratios": [3, 2]})
    p = result.params
    y = np.arange(len(result.clients))[::-1]
    h = 0.38
    for j, (e, c) in enumerate((("edge-optimized", BLUE), ("regional", ORANGE))):
        ax1.barh(y + (0.5 - j) * h, result.median[e], height=h, color=c, label=e)
    ax1.axvline(p["target_ms"], color=ROLE["limit"], ls="--", lw=1, label=f"target {p['target_ms']:g} ms")
    ax1.set_yticks(y, result.clients, fontsize=7)
    ax1.set(xlabel="median latency in the model (ms)",
            title=f"Edge vs Regional, API in {p['region']}, {p['connection']} connection")
    ax1.legend(loc="lower right", fontsize=7)
    b = result.books()
    flow(ax2, b["sent"], [("under target", b["under target"], "processed"),
                          ("over target", b["over target"], "expired"),
                          ("unreachable", b["unreachable"], "lost")],
         what="requests", title=f"{p['endpoint_type']}: where every request ended")
    _lean(ax1, flow_ax=ax2)
    assert set(result.median) == set(ENDPOINT_TYPES)
    return fig
