"""Figures for the AppFlow chapter: three flows over one CRM day."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..appflow import DAY, DELIVERED, FILTERED, OUTCOME_NAMES, PENDING, REJECTED, SUPERSEDED, FlowResult
from .base import BLUE, GREEN, ORANGE, ROLE, figure, flow

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
    ax1.set(xlabel="hour of the day", ylabel="edits not yet in S3", title="How stale the S3 copy gets", xlim=(0, 24))
    ax1.legend(loc="upper left", fontsize=7)
    names = list(results)
    y = np.arange(len(names))[::-1]
    left = np.zeros(len(names))
    for key, lbl, col in (("written", "written (email masked)", ROLE["processed"]), ("filtered", "filtered out", ROLE["other"]),
                          ("rejected", "rejected by Validate", ROLE["dlq"])):
        v = np.array([results[n].tasks[key] for n in names], float)
        ax2.barh(y, v, left=left, color=col, label=lbl)
        left += v
    for yy, n in zip(y, names):
        ax2.text(left[list(y).index(yy)], yy, f" {results[n].api_calls:,} calls", va="center", fontsize=7)
    ax2.set_yticks(y, [n.replace("scheduled ", "sched.\n") for n in names], fontsize=7)
    ax2.set(xlabel="records read in the day", title="Records moved and API calls", xlim=(0, 1.35 * left.max()))
    ax2.legend(loc="lower right", fontsize=6)
    r = results[books]
    flow(ax3, len(r.outcome), change_outcomes(r), what="edits", title="Where every edit went")
    return fig
