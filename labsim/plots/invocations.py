"""Figures for chapter 2: one workload through the three invocation models, on one timeline."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from ..invocations import (BATCH_SKIPPED, ERROR_CALLER, FAILURE_DESTINATION, MODE_NAMES, MODES, OK_CALLER,
                           OK_LAMBDA, RETRIED_BY)
from .base import GREEN, GREY, ORANGE, RED, figure

__all__ = ["timeline_figure"]

_PLACE_LABEL = {OK_CALLER: "200", ERROR_CALLER: "error to caller", OK_LAMBDA: "done",
                FAILURE_DESTINATION: "on-failure dest.", BATCH_SKIPPED: "skipped with batch"}


def timeline_figure(results: dict, highlight: str = "async") -> Figure:
    """Rows of events, grouped by mode: handler runs (green ok, red error), when the caller sent
    (grey dot) and got its answer (orange triangle), and where each event ended (label)."""
    fig, ax = figure(size=(10, 4.4))
    verts, colours = [], []
    sent_xy, ans_xy, labels = [], [], []
    groups = []
    y0 = 0.0
    end = max(results[m].end for m in MODES)
    for mode in MODES:                                         # sync on top, event 0 first
        r = results[mode]
        n = len(r.sent)
        alpha = 1.0 if mode == highlight else 0.3
        rows = -(y0 + 1 + np.arange(n))
        y = rows[r.run_event]
        for ys, s, e, ok in zip(y, r.run_start, r.run_end, r.run_ok):
            verts.append([(s, ys - 0.35), (e, ys - 0.35), (e, ys + 0.35), (s, ys + 0.35)])
            c = (0.17, 0.63, 0.17) if ok else (0.84, 0.15, 0.16)
            colours.append((*c, alpha))
        sent_xy += [(t, yy, alpha) for t, yy in zip(r.sent, rows)]
        ans_xy += [(t, yy, alpha) for t, yy in zip(r.answered, rows)]
        for t, yy, pl in zip(r.final_time, rows, r.place):
            text = _PLACE_LABEL[int(pl)]
            if mode == "esm" and pl in (FAILURE_DESTINATION, BATCH_SKIPPED):
                text += " (batch metadata; records only to S3)"
            labels.append((t, yy, text, alpha,
                           pl in (ERROR_CALLER, FAILURE_DESTINATION, BATCH_SKIPPED)))
        groups.append((-y0, f"{MODE_NAMES[mode]}: retried by {RETRIED_BY[mode]}", alpha, mode == highlight))
        y0 += n + 1.5
    ax.add_collection(PolyCollection(verts, facecolors=colours, edgecolors="none"))
    s = np.array(sent_xy)
    a = np.array(ans_xy)
    ax.scatter(s[:, 0], s[:, 1], s=14, c=[(0.5, 0.5, 0.5, al) for al in s[:, 2]], zorder=3,
               label="caller sends")
    ax.scatter(a[:, 0], a[:, 1] + 0.45, s=26, marker="v", c=[(1.0, 0.5, 0.05, al) for al in a[:, 2]],
               zorder=3, label="caller gets its answer")
    for t, yy, text, al, bad in labels:
        ax.text(t + 0.006 * end, yy, text, fontsize=7, va="center", alpha=al,
                color=RED if bad else "black")
    for yy, text, al, bold in groups:
        ax.text(0.35 * end, yy - 0.2, text, fontsize=9, va="center", alpha=max(al, 0.6),
                fontweight="bold" if bold else "normal")
    ax.set_yticks([])
    ax.set_ylim(-(y0 - 0.5), 0.6)
    ax.set_xlim(-0.01 * end, 1.1 * end)
    ax.set(xlabel="time (s)", title="The same events through each invocation model "
           "(bars: handler runs, green ok / red error)")
    ax.plot([], [], color=GREEN, lw=6, label="run ok")
    ax.plot([], [], color=RED, lw=6, label="run error")
    ax.legend(loc="lower right", fontsize=7, ncol=2)
    return fig
