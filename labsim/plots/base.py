"""What every figure shares: colours, the PNG renderer and small axis helpers.

Figures are built with ``matplotlib.figure.Figure`` (never pyplot state). Rendering is most of
a lab's update time, so figures keep few artists: one ``stairs`` rather than many bars, no
twin axes where a second panel will do, plain tick labels rather than mathtext. Four things
here make an update cheaper without changing a pixel (tests/test_render.py checks each): a
lab draws on its last figure (:class:`Recycler`); each axis works out its ticks once per draw
(:func:`to_png`); straight-edged patches get their data limits in one call
(:func:`_straight_patch_limits`); and the PNG is encoded without row filters (:func:`png_bytes`).
"""

from __future__ import annotations

import struct
import zlib

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, NullLocator

from .render import FastCanvas

BLUE, ORANGE, RED, GREY, GREEN, PURPLE = "#1f77b4", "#ff7f0e", "#d62728", "#7f7f7f", "#2ca02c", "#9467bd"
#: A colour per strategy or mode, in a fixed order, for figures that compare several.
CYCLE = (BLUE, ORANGE, GREEN, RED, PURPLE, "#8c564b", "#e377c2", GREY)

#: Size of the one- or two-panel figures the labs show (inches at ``DPI``).
WIDE = (10, 3.6)
DPI = 80


#: Titles at a fixed height: matplotlib otherwise measures every tick label to place them.
_FAST_RC = {"axes.titley": 1.0}


class Recycler:
    """The figures one lab drew last time, to draw its next update on (``with recycler:``).

    Profiled: a third to a half of a lab update went on building the figure rather than
    drawing it: each new Axes makes its axes, spines and titles, and each tick (1 ms, 20 to 50
    per figure) five artists. Inside ``with recycler:`` :func:`figure` hands back the figure
    the same call returned in the last update, every Axes cleared with ``Axes.clear`` but for
    its ticks, which are kept (matplotlib repositions and relabels them at every draw). The
    image is the same as on a new figure, pixel for pixel (tests/test_render.py, every lab
    through every control). A figure whose layout the view changed (axes added or removed,
    figure-level artists other than text) is not reused: a new one is made.
    """

    def __init__(self):
        self.figures: dict = {}
        self._calls = 0

    def __enter__(self):
        global _RECYCLER
        self._outer, _RECYCLER, self._calls = _RECYCLER, self, 0
        return self

    def __exit__(self, *exc):
        global _RECYCLER
        _RECYCLER = self._outer

    def key(self, *args):
        """A key for this call of :func:`figure`: its arguments and its order in the update."""
        self._calls += 1
        return (self._calls, repr(args))


_RECYCLER: Recycler | None = None


def _flat(axes) -> list:
    return list(np.ravel(axes)) if isinstance(axes, np.ndarray) else [axes]


def _reuse(fig: Figure, axes) -> bool:
    """Clear ``fig`` for a new drawing, keeping its axes and their ticks; False if it cannot be."""
    if (fig.axes != _flat(axes) or fig.legends or fig.lines or fig.patches or fig.images
            or fig.artists or fig.subfigs or any(getattr(fig, a, None) is not None
                                                 for a in ("_suptitle", "_supxlabel", "_supylabel"))):
        return False
    fig.texts.clear()
    fig.set_dpi(matplotlib.rcParams["figure.dpi"])         # as a new figure has, until to_png
    with matplotlib.rc_context(_FAST_RC):                    # once: it copies every rcParam
        for ax in fig.axes:
            _clear_keeping_ticks(ax)
    return True


def _clear_keeping_ticks(ax) -> None:
    """``ax.clear()``, but the ticks and the background patch they are clipped to stay."""
    ticking = (ax.xaxis, ax.yaxis)
    background = ax.patch
    for axis in ticking:
        axis.reset_ticks = _keep_ticks                       # Axes.clear would make new ones
        axis.set_clip_path = _keep_ticks                     # ... and clip them to a new patch
    try:
        ax.clear()
        ax.patch = background                                # the patch the kept ticks clip to
        # A cleared spine places itself (and resets its axis's ticks) the first time it is
        # asked for its transform; on a new Axes that happens while the first ticks are made.
        # Ask now, or it happens inside the view, after the view styled the ticks.
        for spine in ax.spines.values():
            spine.get_spine_transform()
    finally:
        for axis in ticking:
            del axis.reset_ticks, axis.set_clip_path


def _keep_ticks(*args, **kwargs):
    """Stands in for ``Axis.reset_ticks`` and ``Axis.set_clip_path`` while a recycled figure
    is cleared: its ticks stay as they are, clipped to the Axes' background patch, kept too."""


def figure(ncols: int = 1, nrows: int = 1, *, size=WIDE, **subplot_kw):
    """A Figure and its axes (``fig.subplots`` result): new, or the last update's, cleared,
    inside ``with`` a :class:`Recycler` (what labs do)."""
    recycler = _RECYCLER
    if recycler is not None:
        key = recycler.key(ncols, nrows, size, subplot_kw)
        if key in recycler.figures and _reuse(*recycler.figures[key]):
            return recycler.figures[key]
    fig = Figure(figsize=size)
    with matplotlib.rc_context(_FAST_RC):
        made = fig, fig.subplots(nrows, ncols, **subplot_kw)
    for ax in fig.axes:
        ax._update_patch_limits = _straight_patch_limits(ax)
    if recycler is not None:
        recycler.figures[key] = made
    return made


def to_png(fig: Figure, dpi: int = DPI) -> bytes:
    """Render a figure to PNG bytes (what labs show).

    The canvas is drawn once and its pixels are encoded by :func:`png_bytes`: the same image
    as ``fig.savefig(format="png", dpi=dpi)`` pixel for pixel (tests/test_render.py), without
    savefig's second pass over the figure's settings (about 4 ms an update, profiled)."""
    fig.subplots_adjust(left=0.08, right=0.92, bottom=0.15, top=0.9, wspace=0.35)
    fig.set_dpi(dpi)
    canvas = FastCanvas(fig)             # less time on text (see .render)
    axes = [axis for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)]
    for axis in axes:
        _work_out_ticks_once(axis)
    try:
        canvas.draw()
    finally:
        for axis in axes:
            del axis._update_ticks, axis._get_ticklabel_bboxes
    return png_bytes(np.asarray(canvas.buffer_rgba()))


def _work_out_ticks_once(axis) -> None:
    """For one draw: ``axis`` works out its ticks and their labels' boxes once, not three times.

    Drawing an axis asks for its ticks (locator, formatter, positions) three times, profiled:
    to draw them, to place the axis label, and for the spine's extent; and for the labels'
    boxes twice. Nothing they depend on changes while the figure draws, so the first answer
    is kept until the draw ends (``to_png`` removes these overrides)."""
    update, boxes = axis._update_ticks, axis._get_ticklabel_bboxes
    kept = {}

    def update_once():
        if "ticks" not in kept:
            kept["ticks"] = update()
        return kept["ticks"]

    def boxes_once(ticks, renderer):
        key = (tuple(map(id, ticks)), id(renderer))
        if key not in kept:
            kept[key] = boxes(ticks, renderer)
        return kept[key]
    axis._update_ticks, axis._get_ticklabel_bboxes = update_once, boxes_once


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png_bytes(rgba: np.ndarray) -> bytes:
    """A lossless PNG of an (height, width, 4) uint8 RGBA array: no row filter, zlib level 1.

    Pillow's encoder tries five row filters on every row; on a lab figure (flat colours, white
    background) filtering buys nothing in size (the same 30 to 40 kB) and costs 4 to 5 ms an
    update, profiled: this takes about 3 ms against Pillow's 7 to 11."""
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"rgba must be a (height, width, 4) array; got shape {rgba.shape}")
    h, w, _ = rgba.shape
    rows = np.zeros((h, 1 + 4 * w), np.uint8)      # each row: filter type 0, then its pixels
    rows[:, 1:] = rgba.reshape(h, 4 * w)
    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)   # 8-bit RGBA, deflate, no interlace
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)) + _chunk(b"IEND", b""))


def _straight_patch_limits(ax):
    """``ax._update_patch_limits`` for patches made of straight segments, in one numpy call.

    Matplotlib finds a patch's data limits by walking its path one segment at a time in
    Python, looking for curve extrema (profiled: 10 ms of a lab update for two 160-bin
    ``stairs``, 0.25 ms a bar). For a path of straight segments (one MOVETO, then LINETOs, maybe
    a CLOSEPOLY: bars, steps, spans) the extrema are the vertices themselves, so they go to
    ``update_datalim`` at once, through the same transforms. Any other path, or an Axes that is
    not rectilinear, goes to matplotlib's own method: the limits are the same either way
    (tests/test_render.py)."""
    original = ax._update_patch_limits

    def update(patch):
        path = patch.get_path()
        v, codes = path.vertices, path.codes
        if (ax.name != "rectilinear" or len(v) < 2 or not np.isfinite(v).all() or (
                codes is not None and not (codes[0] == path.MOVETO and (codes[1:-1] == path.LINETO).all()
                                           and codes[-1] in (path.LINETO, path.CLOSEPOLY)))):
            return original(patch)
        if isinstance(patch, Rectangle) and not patch.get_width() and not patch.get_height():
            return                                  # as matplotlib: empty bars do not count
        if codes is not None and codes[-1] == path.CLOSEPOLY:
            v = v[:-1]                              # its vertex is ignored; it ends at the start
        if patch.get_data_transform() is ax.transData:      # a patch in data coordinates (bars,
            # steps): what matplotlib's ``patch transform + transData - transData`` comes to
            ax.update_datalim(patch.get_patch_transform().transform(v))
            return
        trf = patch.get_transform()
        split = getattr(trf, "contains_branch_separately", None) or trf.contains_branch_seperately  # < 3.11
        updatex, updatey = split(ax.transData)
        if updatex or updatey:
            ax.update_datalim((trf - ax.transData).transform(v), updatex=updatex, updatey=updatey)
    return update


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
    width = max(int(sent), 1)
    shown = [(lbl, n, role) for lbl, n, role in outcomes if n]
    lefts = np.cumsum([0] + [n for _, n, _ in shown])
    if shown:                            # one call for every segment: each call costs ~1 ms
        ax.barh(np.zeros(len(shown)), [n for _, n, _ in shown], left=lefts[:-1],
                color=[ROLE[role] for _, _, role in shown], height=0.6, edgecolor="white", linewidth=0.5)
    for (lbl, n, _), left in zip(shown, lefts):
        if n >= 0.08 * width:
            ax.text(left + n / 2, 0, f"{lbl}\n{n:,}", ha="center", va="center", fontsize=7)
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
        shown = [(lbl, n, role) for lbl, n, role in outcomes if n]
        lefts = np.cumsum([0] + [n for _, n, _ in shown])
        if shown:
            ax.barh(np.full(len(shown), y), [n for _, n, _ in shown], left=lefts[:-1],
                    color=[ROLE[role] for _, _, role in shown], height=0.6, edgecolor="white", linewidth=0.5)
        for (lbl, n, _), left in zip(shown, lefts):
            if n >= 0.12 * width:
                ax.text(left + n / 2, y, f"{lbl} {n:,}", ha="center", va="center", fontsize=7)
        small = ", ".join(f"{lbl} {n:,}" for lbl, n, _ in outcomes if n < 0.12 * width)
        names.append(name)
        ax.text(0, y + 0.36, f"{name}: {int(sent):,} sent" + (f" ({small})" if small else ""),
                fontsize=7, va="bottom", ha="left")
    ax.set_yticks([])
    ax.set_ylim(-0.5, len(names) - 0.1)
    ax.set_xlim(0, width * 1.02)
    ax.set_xlabel(what)
    ax.set_title(title or f"Where every one of the {what} went (books balance)")
