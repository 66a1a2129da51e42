"""Figures for the AppFlow chapter: three flows over one CRM day."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..appflow import DAY, DELIVERED, FILTERED, OUTCOME_NAMES, PENDING, REJECTED, SUPERSEDED, FlowResult
from .base import BLUE, GREEN, ORANGE, ROLE, figure, flow, plain_log_ticks

__all__ = ["appflow_figure", "change_outcomes"]

_COLOURS = {"scheduled full": BLUE, "scheduled incremental": GREEN, "event-triggered": ORANGE}
_ROLE = {DELIVERED: "processed", SUPERSEDED: "duplicate", FILTERED: "other", REJECTED: "dlq", PENDING: "pending"}


def change_outcomes(r: FlowResult):
    """(label, count, role) of every change's outcome, for :func:`labsim.plots.flow`."""
    return [(OUTCOME_NAMES[o], r.count(o), _ROLE[o]) for o in (DELIVERED, SUPERSEDED, FILTERED, REJECTED, PENDING)]


def appflow_figure(results: dict, books: str) -> Figure:
    """Left: source edits not yet in S3 over the day, per flow. Middle: records each flow read,
    split by what the tasks did, with its API calls. Right: where every edit went, for ``books``."""
    fig, (ax1, ax2, ax3) = figure(3, gridspec_kw={"width_ratios": [4, 4, 3]})
    g = np.linspace(0.0, DAY, 289)
    for name, r in results.items():
        ax1.plot(g / 3_600, r.stale(g), color=_COLOURS[name], lw=1.6 if name == "scheduled full" else 0.9,
                 ls="--" if name == "scheduled full" else "-", label=name)
    ax1.set(xlabel="hour of the day", ylabel="edits not yet in S3", title="Edits not yet in S3, by flow", xlim=(0, 24))
    names = list(results)
    y = np.arange(len(names))[::-1] * 1.0
    h = 0.22
    for j, (key, lbl, col) in enumerate((("written", "written (email masked)", ROLE["processed"]),
                                         ("filtered", "filtered out", ROLE["other"]),
                                         ("rejected", "rejected by Validate", ROLE["dlq"]))):
        v = np.array([max(results[n].tasks[key], 0.5) for n in names], float)
        ax2.barh(y + (1 - j) * h, v, height=h, color=col, label=lbl)
    top = max(max(results[n].tasks["written"] for n in names), 10)
    for yy, n in zip(y, names):
        ax2.text(1.0, yy - 1.9 * h, f"{results[n].api_calls:,} API calls", va="center", fontsize=7)
    ax2.set_yticks(y, [n.replace("scheduled ", "sched.\n") for n in names], fontsize=7)
    for lbl, n in zip(ax2.get_yticklabels(), names):        # each flow's colour in the left panel
        lbl.set_color(_COLOURS[n])
    ax2.set_xscale("log")
    plain_log_ticks(ax2.xaxis)
    ax2.set(xlabel="records in the day (log scale)", title="What the tasks did, and API calls", xlim=(0.8, 400 * top))
    ax2.legend(loc="lower right", fontsize=6)
    r = results[books]
    flow(ax3, len(r.outcome), change_outcomes(r), what="edits", title="Where every edit went")
    ax1.locator_params(axis="x", nbins=4)
    ax1.set_xticks([0, 6, 12, 18, 24])
    ax3.set_xticks([])                      # the counts are written on the bars
    return fig
