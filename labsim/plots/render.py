"""A faster Agg renderer for the labs' figures: the same figures, less time on text.

Profiled (``python -m labsim.bench``, matplotlib 3.11): drawing text was the largest part of a
lab update. Matplotlib 3.11 lays every string out again with FreeType for each draw and draws it
one glyph at a time from Python; a lab figure has 60 to 80 strings (tick labels, titles,
legends), and a new figure per update also starts with an empty text-metrics cache.

This renderer changes three things and nothing else:

- strings are drawn whole, as matplotlib 3.10 drew them (``FT2Font.set_text`` and
  ``draw_glyphs_to_bitmap``, placed at whole pixels), and the bitmap is cached by string, font,
  size, angle and antialiasing, so a tick label drawn in the last update is not laid out again;
- the font's line metrics (``_get_font_height_metrics``, a hook matplotlib 3.11's ``Text`` asks
  the renderer for) are computed once per font, with matplotlib's own formula;
- one renderer per figure size is kept between updates, so matplotlib's own cache of text
  metrics (keyed by renderer) survives from one figure to the next.

Mathtext and TeX go through matplotlib's own code. Each cache is bounded. The one visible
difference from matplotlib 3.11's own drawing: a string starts at a whole pixel (about 4% of a
figure's pixels differ, all in anti-aliased text edges), as it did up to matplotlib 3.10.
"""

from __future__ import annotations

import math
from collections import OrderedDict

from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.font_manager import fontManager, get_font

#: Entries kept in each cache (a lab figure draws under 100 strings; the book under a few thousand).
CACHE_SIZE = 4_096


def _font_key(prop):
    return (hash(prop), prop.get_size_in_points(), tuple(prop.get_family()), prop.get_weight(),
            prop.get_style())


class FastTextRenderer(RendererAgg):
    """``RendererAgg`` with cached whole-string text bitmaps and cached font line metrics."""

    def __init__(self, width, height, dpi):
        super().__init__(width, height, dpi)
        self._bitmaps: OrderedDict = OrderedDict()
        self._heights: dict = {}

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath:
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        aa = bool(gc.get_antialiased())
        key = (s, _font_key(prop), angle, aa, self.dpi)
        hit = self._bitmaps.get(key)
        if hit is None:
            font = self._prepare_font(prop)
            font.set_text(s, 0, flags=get_hinting_flag())
            font.draw_glyphs_to_bitmap(antialiased=aa)
            xo, yo = font.get_bitmap_offset()
            hit = (font.get_image().copy(), xo / 64.0, yo / 64.0, font.get_descent() / 64.0)
            self._bitmaps[key] = hit
            if len(self._bitmaps) > CACHE_SIZE:
                self._bitmaps.popitem(last=False)
        image, xo, yo, d = hit
        xd = d * math.sin(math.radians(angle))
        yd = d * math.cos(math.radians(angle))
        self._renderer.draw_text_image(image, round(x + xo + xd), round(y + yo + yd) + 1, angle, gc)

    def _get_font_height_metrics(self, prop):
        """(ascent, descent, line gap) in pixels, as ``Text._get_layout`` computes them."""
        key = (_font_key(prop), self.dpi)
        if key not in self._heights:
            font = get_font(fontManager._find_fonts_by_props(prop))
            out = (None, None, None)
            for table_name, gap_key, ascent_key, descent_key in (
                    ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
                    ("hhea", "lineGap", "ascent", "descent")):
                table = font.get_sfnt_table(table_name)
                if table is None:
                    continue
                scale = 1 / font.get_sfnt_table("head")["unitsPerEm"] * prop.get_size_in_points() * self.dpi / 72
                out = (table[ascent_key] * scale, -table[descent_key] * scale, table[gap_key] * scale)
                break
            if len(self._heights) > CACHE_SIZE:
                self._heights.clear()
            self._heights[key] = out
        return self._heights[key]


#: One renderer per (width, height, dpi), reused by every figure of that size.
_RENDERERS: dict = {}


class FastCanvas(FigureCanvasAgg):
    """An Agg canvas that draws with a shared :class:`FastTextRenderer`."""

    def get_renderer(self):
        w, h = self.get_width_height(physical=True)
        key = (w, h, self.figure.dpi)
        if key not in _RENDERERS:
            if len(_RENDERERS) > 16:
                _RENDERERS.clear()
            _RENDERERS[key] = FastTextRenderer(w, h, self.figure.dpi)
        self.renderer = _RENDERERS[key]
        return self.renderer
