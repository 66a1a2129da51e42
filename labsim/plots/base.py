"""What every figure shares: colours, the PNG renderer and small axis helpers.

Figures are built with ``matplotlib.figure.Figure`` (never pyplot state). Rendering is most of
a lab's update time, so figures keep few artists: one ``stairs`` rather than many bars, no
twin axes where a second panel will do, plain tick labels rather than mathtext.
"""

from __future__ import annotations

import io

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullLocator
from PIL import Image

from .render import FastCanvas

BLUE, ORANGE, RED, GREY, GREEN, PURPLE = "#1f77b4", "#ff7f0e", "#d62728", "#7f7f7f", "#2ca02c", "#9467bd"
#: A colour per strategy or mode, in a fixed order, for figures that compare several.
CYCLE = (BLUE, ORANGE, GREEN, RED, PURPLE, "#8c564b", "#e377c2", GREY)

#: Size of the one- or two-panel figures the labs show (inches at ``DPI``).
WIDE = (10, 3.6)
DPI = 80


#: Titles at a fixed height: matplotlib otherwise measures every tick label to place them.
_FAST_RC = {"axes.titley": 1.0}


def figure(ncols: int = 1, nrows: int = 1, *, size=WIDE, **subplot_kw):
    """A new Figure and its axes (``fig.subplots`` result)."""
    fig = Figure(figsize=size)
    with matplotlib.rc_context(_FAST_RC):
        return fig, fig.subplots(nrows, ncols, **subplot_kw)


def to_png(fig: Figure, dpi: int = DPI) -> bytes:
    """Render a figure to PNG bytes (what labs show).

    The canvas is drawn once and its pixels go straight to Pillow: the same image as
    ``fig.savefig(format="png", dpi=dpi)`` pixel for pixel (tests/test_render.py), without
    savefig's second pass over the figure's settings (about 4 ms an update, profiled)."""
    fig.subplots_adjust(left=0.08, right=0.92, bottom=0.15, top=0.9, wspace=0.35)
    fig.set_dpi(dpi)
    canvas = FastCanvas(fig)             # less time on text (see .render)
    canvas.draw()
    buf = io.BytesIO()
    Image.fromarray(np.asarray(canvas.buffer_rgba())).save(buf, format="png", compress_level=1)
    return buf.getvalue()


def plain_log_ticks(*axes) -> None:
    """Plain number tick labels and no minor ticks on log axes (both are slow to lay out)."""
    for axis in axes:
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_locator(NullLocator())


#: Colours by role, the same across the book: a new plot picks a role, not a hue.
ROLE = {
    "function": BLUE,        # the function or service under study
    "other": GREY,           # other traffic sharing a limit
    "limit": RED,            # limits (dashed lines)
    "processed": GREEN,      # succeeded, delivered, deleted
    "throttled": ORANGE,     # refused with 429 / throttled / rejected by a limit
    "dlq": PURPLE,           # dead-letter queue, on-failure destination
    "lost": RED,             # lost or dropped for good
    "expired": "#8c564b",    # expired by age or retention
    "pending": "#c7c7c7",    # still queued, in flight, not yet final
    "duplicate": "#e377c2",  # deduplicated or processed more than once
}


def flow(ax, sent: int, outcomes, *, what: str = "items", title: str | None = None) -> None:
    """Where every item went: one bar for everything sent, and under it one bar split into the
    final outcomes, each segment labelled with its count. ``outcomes`` is a sequence of
    ``(label, count, role)`` (role: a key of :data:`ROLE`). The books must balance: the counts
    add up to ``sent`` (a ValueError otherwise), which the figure states.

    Every service lab draws its "where did every message go" panel with this one helper.
    """
    outcomes = [(str(lbl), int(n), role) for lbl, n, role in outcomes]
    total = sum(n for _, n, _ in outcomes)
    if total != int(sent):
        raise ValueError(f"the books do not balance: {int(sent):,} sent, {total:,} in final outcomes")
    ax.barh([1], [max(sent, 0)], color=ROLE["function"], height=0.6)
    ax.text(0, 1, f" sent: {int(sent):,} {what}", va="center", ha="left", fontsize=8, color="white"
            if sent else "black")
    left = 0
    width = max(int(sent), 1)
    for lbl, n, role in outcomes:
        if n == 0:
            continue
        ax.barh([0], [n], left=left, color=ROLE[role], height=0.6, edgecolor="white", linewidth=0.5)
        if n >= 0.08 * width:
            ax.text(left + n / 2, 0, f"{lbl}\n{n:,}", ha="center", va="center", fontsize=7)
        left += n
    small = [f"{lbl}: {n:,}" for lbl, n, _ in outcomes if 0 < n < 0.08 * width]
    zero = [lbl for lbl, n, _ in outcomes if n == 0]
    note = "; ".join(small + ([", ".join(zero) + ": 0"] if zero else []))
    ax.set_yticks([0, 1], ["final\noutcome", "sent"], fontsize=8)
    ax.set_xlim(0, width * 1.02)
    ax.set_ylim(-0.9 if note else -0.5, 1.5)
    if note:
        ax.text(0, -0.65, note, fontsize=7, va="center", ha="left")
    ax.set_xlabel(what)
    ax.set_title(title or f"Where every one of the {int(sent):,} {what} went (books balance)")


def flows(ax, rows, *, what: str = "items", title: str | None = None) -> None:
    """Several services' "where every item went" on one axes: one stacked bar per row, the
    segments being the final outcomes, each row's counts checked against what it was sent
    (a ValueError otherwise). ``rows``: sequence of ``(name, sent, [(label, count, role), ...])``.

    The compact form of :func:`flow`, for a figure that compares services on the same traffic.
    """
    names = []
    width = max([int(s) for _, s, _ in rows] + [1])
    for y, (name, sent, outcomes) in enumerate(reversed(list(rows))):
        outcomes = [(str(lbl), int(n), role) for lbl, n, role in outcomes]
        total = sum(n for _, n, _ in outcomes)
        if total != int(sent):
            raise ValueError(f"the books do not balance for {name}: {int(sent):,} sent, {total:,} in final outcomes")
        left = 0
        for lbl, n, role in outcomes:
            if n:
                ax.barh([y], [n], left=left, color=ROLE[role], height=0.6, edgecolor="white", linewidth=0.5)
                if n >= 0.12 * width:
                    ax.text(left + n / 2, y, f"{lbl} {n:,}", ha="center", va="center", fontsize=7)
                left += n
        small = ", ".join(f"{lbl} {n:,}" for lbl, n, _ in outcomes if n < 0.12 * width)
        names.append(name)
        ax.text(0, y + 0.36, f"{name}: {int(sent):,} sent" + (f" ({small})" if small else ""),
                fontsize=7, va="bottom", ha="left")
    ax.set_yticks([])
    ax.set_ylim(-0.5, len(names) - 0.1)
    ax.set_xlim(0, width * 1.02)
    ax.set_xlabel(what)
    ax.set_title(title or f"Where every one of the {what} went (books balance)")
