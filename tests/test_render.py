"""labsim.plots.render: the labs' faster text drawing gives the same figure as matplotlib's own."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from labsim import labs, plots
from labsim.plots import render

matplotlib.use("Agg")


def pixels(fig, canvas) -> np.ndarray:
    fig.subplots_adjust(left=0.08, right=0.92, bottom=0.15, top=0.9, wspace=0.35)
    fig.set_dpi(plots.base.DPI)            # so text boxes measured after drawing are in its pixels
    canvas(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=plots.base.DPI)
    return np.asarray(Image.open(buf)).astype(int)


def text_figure(label="throttled fraction"):
    fig, ax = plots.figure()
    ax.plot([0, 1, 2], [0, 3, 1])
    ax.set_title("Concurrency over time")
    ax.set_ylabel(label)                  # rotated 90 degrees
    ax.text(1, 2, "$\\lambda = 5$")       # mathtext: matplotlib's own path
    ax.legend(["running executions"])
    return fig


def text_mask(fig, shape, margin=2) -> np.ndarray:
    """Pixels within ``margin`` of any visible string's box, as matplotlib itself places it."""
    renderer = fig.canvas.get_renderer()
    mask = np.zeros(shape[:2], bool)
    for t in fig.findobj(matplotlib.text.Text):
        if not t.get_visible() or not t.get_text():
            continue
        box = t.get_window_extent(renderer)
        top, bottom = shape[0] - box.y1, shape[0] - box.y0
        mask[max(int(top) - margin, 0):int(np.ceil(bottom)) + margin,
             max(int(box.x0) - margin, 0):int(np.ceil(box.x1)) + margin] = True
    return mask


@pytest.mark.parametrize("lab_name", ["concurrency_lab", "usage_plan_lab", "appflow_lab", "fanout_lab"])
def test_lab_figure_matches_matplotlib_drawing_but_for_text_edges(lab_name):
    lab = labs.LABS[lab_name]()
    values = lab.values()
    result = lab.model(**values)
    ours = pixels(lab.view(result, **values)[0], render.FastCanvas)
    fig = lab.view(result, **values)[0]
    theirs = pixels(fig, FigureCanvasAgg)
    assert ours.shape == theirs.shape
    differ = np.abs(ours - theirs).max(axis=2) > 0
    # Measured 2.4% to 5.1% over the 24 labs: text starting at a whole pixel instead of a
    # fraction of one. A misplaced or missing string would change far more than 8%.
    assert differ.mean() < 0.08
    # ... and only there: no differing pixel lies outside the strings' boxes (2 px margin).
    outside = differ & ~text_mask(fig, theirs.shape)
    assert not outside.any(), f"{outside.sum()} pixels differ away from text"


def test_cached_text_draws_the_same_pixels_as_a_fresh_renderer():
    render._RENDERERS.clear()
    first = pixels(text_figure(), render.FastCanvas)        # fills the caches
    again = pixels(text_figure(), render.FastCanvas)        # drawn from them
    render._RENDERERS.clear()
    fresh = pixels(text_figure(), render.FastCanvas)
    assert np.array_equal(first, again) and np.array_equal(first, fresh)


def test_a_changed_string_is_drawn_anew_not_from_the_cache():
    a = pixels(text_figure("throttled fraction"), render.FastCanvas)
    b = pixels(text_figure("delivered fraction"), render.FastCanvas)
    assert not np.array_equal(a, b)


def test_text_layout_equals_matplotlibs_own():
    """The renderer's cached line metrics give the same text boxes as matplotlib computes."""
    fig = text_figure()
    fig.subplots_adjust(left=0.08, right=0.92, bottom=0.15, top=0.9, wspace=0.35)
    theirs = FigureCanvasAgg(fig).get_renderer()
    ours = render.FastTextRenderer(*theirs.get_canvas_width_height(), fig.dpi)
    texts = [t for t in fig.findobj(matplotlib.text.Text) if t.get_text()]
    assert len(texts) >= 4
    for t in texts:
        a, b = t._get_layout(theirs), t._get_layout(ours)
        assert np.allclose(a[0].bounds, b[0].bounds, rtol=0, atol=1e-9), t.get_text()
        # Each line's size is item [1] (matplotlib 3.11: its width; 3.10, Pyodide's: (width, height)).
        assert [line[1] for line in a[1]] == [line[1] for line in b[1]], t.get_text()


def test_the_labs_render_through_the_fast_canvas():
    fig = text_figure()
    plots.to_png(fig)
    assert isinstance(fig.canvas, render.FastCanvas)


@pytest.mark.parametrize("lab_name", ["concurrency_lab", "fanout_lab", "capstone_lab"])
def test_to_png_equals_savefig_pixel_for_pixel(lab_name):
    """to_png draws the canvas once and encodes its buffer: the same image savefig gives."""
    lab = labs.LABS[lab_name]()
    values = lab.values()
    result = lab.model(**values)
    ours = np.asarray(Image.open(io.BytesIO(plots.to_png(lab.view(result, **values)[0]))))
    fig = lab.view(result, **values)[0]
    fig.subplots_adjust(left=0.08, right=0.92, bottom=0.15, top=0.9, wspace=0.35)
    render.FastCanvas(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=plots.base.DPI)
    theirs = np.asarray(Image.open(buf))
    assert ours.shape == theirs.shape and np.array_equal(ours, theirs)


def walk(lab):
    """Every value of every control, one after another (each change on top of the last), then
    every control back to its default: (control, value) pairs."""
    from test_labs import options_of
    defaults = lab.values()
    steps = []
    for name, w in lab.controls.items():
        steps += [(name, v) for v in options_of(w) if v != defaults[name]]
    steps += [(name, v) for name, v in defaults.items()]
    return steps


def png_pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


@pytest.mark.parametrize("lab_name", list(labs.LABS))
def test_a_recycled_figure_draws_what_a_new_one_draws(lab_name):
    """A lab draws each update on its last figure (plots.Recycler): through every value of
    every control, the image must equal the one drawn on a new figure, pixel for pixel."""
    lab = labs.LABS[lab_name]()
    drawn_on = {id(fig) for fig, _ in lab.recycler.figures.values()}
    reused = 0
    for name, value in walk(lab):
        lab.controls[name].value = value          # the lab updates, on its recycled figure
        values = lab.values()
        fresh = plots.to_png(lab.view(lab.result, **values)[0])
        ours, theirs = png_pixels(lab.png), png_pixels(fresh)
        assert ours.shape == theirs.shape and np.array_equal(ours, theirs), (
            f"{lab_name}: after {name}={value!r} the recycled figure differs from a new one in "
            f"{int((ours != theirs).any(axis=-1).sum()) if ours.shape == theirs.shape else 'shape'} pixels")
        now = {id(fig) for fig, _ in lab.recycler.figures.values()}
        reused += bool(now) and now == drawn_on
        drawn_on = now
    assert reused == len(walk(lab)), f"{lab_name}: the figure was new in {len(walk(lab)) - reused} updates"


def test_recycler_reuses_the_figure_and_its_ticks_and_new_figures_outside_it():
    lab = labs.LABS["concurrency_lab"]()
    (fig, axes), = lab.recycler.figures.values()
    ticks = [list(ax.xaxis.majorTicks) for ax in np.ravel(axes)]
    lab.update()
    (fig2, axes2), = lab.recycler.figures.values()
    assert fig2 is fig and [list(ax.xaxis.majorTicks)[:len(t)] for ax, t in zip(np.ravel(axes2), ticks)] == ticks
    assert plots.figure()[0] is not plots.figure()[0]          # no recycler: always a new figure
    lab.recycler.figures[next(iter(lab.recycler.figures))][0].add_axes((0, 0, 0.1, 0.1))
    lab.update()                                               # the view's figure gained axes:
    (fig3, _), = lab.recycler.figures.values()                 # not reused, a new one made
    assert fig3 is not fig


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (288, 800)])
def test_png_bytes_is_lossless_for_any_rgba_image(shape):
    """The labs' PNG encoder (no row filter, zlib level 1) decodes, by Pillow, to the very
    array it was given, transparency and odd sizes included."""
    rgba = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 4), dtype=np.uint8)
    png = plots.base.png_bytes(rgba)
    Image.open(io.BytesIO(png)).verify()            # chunk CRCs and structure
    back = Image.open(io.BytesIO(png))
    assert back.mode == "RGBA" and np.array_equal(np.asarray(back), rgba)


def test_png_bytes_refuses_what_is_not_rgba():
    with pytest.raises(ValueError, match=r"rgba must be a \(height, width, 4\) array; got shape \(2, 2, 3\)"):
        plots.base.png_bytes(np.zeros((2, 2, 3), np.uint8))


def _draw_patches(ax, seed):
    """Bars (some empty), steps filled and not, spans, a polygon with a NaN, a circle."""
    from matplotlib.patches import Circle, Polygon
    rng = np.random.default_rng(seed)
    values = rng.normal(0, 50, 40) if seed else rng.integers(0, 9, 40).astype(float)
    edges = np.sort(rng.uniform(-5, 100, 41))
    ax.stairs(values, edges, fill=True, color="C1")
    ax.stairs(values * 2, edges, color="C2")
    ax.bar(np.arange(6), [0, 3, -2, 0, 7, 1], bottom=[0, 1, 0, 0, 2, 0])
    ax.barh([1, 2], [0, 0], height=0)                      # empty bars: ignored by both
    ax.axvspan(3, 9, alpha=0.1)
    ax.axhspan(-70, -60, alpha=0.1)
    ax.add_patch(Polygon([[0, 0], [np.nan, 5], [200, 3]]))  # NaN: matplotlib's own walk
    ax.add_patch(Circle((150, 40), 12))                     # curves: matplotlib's own walk


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("yscale", ["linear", "log"])
def test_straight_patch_limits_equal_matplotlibs(seed, yscale):
    """plots.figure's Axes take the data limits of straight-segment patches from their
    vertices in one call; matplotlib walks each segment: the same limits, minpos included, and
    the same autoscaled view, whatever the patches."""
    from matplotlib.figure import Figure
    ours = plots.figure()[1]
    theirs = Figure().subplots()
    assert "_update_patch_limits" in vars(ours) and "_update_patch_limits" not in vars(theirs)
    walked = {}
    for name, ax in (("ours", ours), ("theirs", theirs)):
        ax.set_yscale(yscale)
        with pytest.MonkeyPatch.context() as mp:           # count matplotlib's segment walks
            real = matplotlib.path.Path.iter_bezier
            walked[name] = []
            mp.setattr(matplotlib.path.Path, "iter_bezier",
                       lambda self, **kw: (walked[name].append(len(self.vertices)), real(self, **kw))[1])
            _draw_patches(ax, seed)
    assert len(walked["ours"]) == 2 and len(walked["theirs"]) > 10   # ours: the NaN polygon, the circle
    assert np.array_equal(ours.dataLim.get_points(), theirs.dataLim.get_points())
    assert np.array_equal(ours.dataLim.minpos, theirs.dataLim.minpos)
    assert ours.get_xlim() == theirs.get_xlim() and ours.get_ylim() == theirs.get_ylim()


def test_to_png_works_out_each_axis_ticks_once_and_leaves_the_axes_as_they_were():
    """Drawing an axis asks for its ticks three times; to_png answers from the first (same
    image: the recycled-figure and savefig tests) and removes its stand-ins afterwards."""
    fig, (a, b) = plots.figure(2)
    a.plot([0, 1, 2], [3, 1, 2])
    b.bar([0, 1], [1, 2])
    calls = []
    with pytest.MonkeyPatch.context() as mp:
        real = matplotlib.axis.Axis._update_ticks
        mp.setattr(matplotlib.axis.Axis, "_update_ticks", lambda self: (calls.append(self), real(self))[1])
        plots.to_png(fig)
        assert sorted(map(id, calls)) == sorted(id(x) for ax in (a, b) for x in (ax.xaxis, ax.yaxis))
        calls.clear()
        fig.savefig(io.BytesIO(), format="png")             # matplotlib's own draw: three times
        assert len(calls) == 3 * 4
    assert not any(k in vars(x) for ax in (a, b) for x in (ax.xaxis, ax.yaxis)
                   for k in ("_update_ticks", "_get_ticklabel_bboxes"))


def test_a_failed_view_leaves_no_recycler_active_and_its_figure_reusable():
    recycler = plots.Recycler()
    with pytest.raises(RuntimeError, match="view failed"):
        with recycler:
            fig, ax = plots.figure()
            ax.plot([0, 1], [1, 0])
            raise RuntimeError("view failed")
    assert plots.base._RECYCLER is None
    assert plots.figure()[0] is not fig                        # outside: a new figure
    with recycler:
        again, ax2 = plots.figure()
    assert again is fig and ax2 is ax and not ax.lines          # inside: the same one, cleared
