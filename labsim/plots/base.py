"""What every figure shares: colours, the PNG renderer and small axis helpers.

Figures are built with ``matplotlib.figure.Figure`` (never pyplot state). Rendering is most of
a lab's update time, so figures keep few artists: one ``stairs`` rather than many bars, no
twin axes where a second panel will do, plain tick labels rather than mathtext.
"""

from __future__ import annotations

import io

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullLocator

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
    """Render a figure to PNG bytes (what labs show)."""
    fig.subplots_adjust(left=0.08, right=0.92, bottom=0.15, top=0.9, wspace=0.35)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def plain_log_ticks(*axes) -> None:
    """Plain number tick labels and no minor ticks on log axes (both are slow to lay out)."""
    for axis in axes:
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_locator(NullLocator())
