"""What every lab shares: the :class:`Lab` container, the control helpers and the registry.

A lab is controls -> model -> figure -> PNG. The PNG is shown as an ``<img>`` with alt text
inside a ``widgets.HTML`` (``widgets.Image`` cannot carry alt text), which renders the same
in JupyterLab, Notebook 7, nbval and the static site's embedded widget state.
"""

from __future__ import annotations

import base64
import gc
import html
import re

import ipywidgets as widgets

from .. import plots

#: Every lab factory, in book order: ``labsim.bench`` times them, the widget tests drive them.
LABS: dict = {}


def register(factory):
    """Add a lab factory (a function returning a :class:`Lab`) to :data:`LABS`."""
    LABS[factory.__name__] = factory
    return factory


def img_tag(png: bytes, alt: str, css_class: str = "labsim-figure") -> str:
    """An ``<img>`` holding ``png`` inline, with ``alt`` as its alt text (escaped).

    A lab's figure has the class ``labsim-figure`` (the browser tests look for it), a figure
    shown once by :func:`show` has ``labsim-static-figure``.
    """
    src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return (f'<img class="{css_class}" alt="{html.escape(alt, quote=True)}" src="{src}" '
            f'style="max-width:100%;height:auto">')


def show(fig, alt: str):
    """Display a figure in a chapter as an image with alt text (static site and live alike).

    Chapters use this for the figures the text walks through, where a lab is not needed.
    """
    from IPython.display import HTML
    return HTML(img_tag(plots.to_png(fig), alt, "labsim-static-figure"))


class Lab(widgets.VBox):
    """Controls on top, the figure, then a one-paragraph summary with the numbers that matter.

    ``model(**values)`` runs the simulation (this is what ``labsim.bench`` times as "model");
    ``view(result, **values)`` returns ``(figure, summary_html)``. ``alt`` says what the figure
    shows; the figure's alt text is ``alt`` followed by the summary's numbers.
    """

    def __init__(self, controls: dict, model, view, alt: str):
        self.controls = controls
        self.model = model
        self.view = view
        self.alt = alt
        self.png = b""
        self.result = None
        self.figure = widgets.HTML(layout=widgets.Layout(max_width="100%"))
        self.summary = widgets.HTML()
        self.runs = 0
        self.recycler = plots.Recycler()
        box = widgets.GridBox(list(controls.values()),
                              layout=widgets.Layout(grid_template_columns="repeat(2, 1fr)"))
        super().__init__([box, self.figure, self.summary])
        for w in controls.values():
            w.observe(self.update, names="value")
        self.update()

    def values(self) -> dict:
        return {k: w.value for k, w in self.controls.items()}

    def update(self, change=None) -> None:
        # Matplotlib artists are webs of reference cycles: the artists an update clears away
        # are garbage that only the cyclic collector frees. Left to itself the collector runs
        # mid-update, and a full collection then costs more than the update (profiled: p95
        # 125 ms against 80 ms). So: no automatic collection while we build and draw, then
        # collect the youngest generation, which holds exactly what this update allocated.
        enabled = gc.isenabled()
        gc.disable()
        try:
            values = self.values()
            self.result = self.model(**values)
            self.runs += 1
            with self.recycler:                   # the last update's figure, cleared
                fig, text = self.view(self.result, **values)
                self.png = plots.to_png(fig)
            del fig
            plain = html.unescape(re.sub(r"<[^>]+>", "", text))
            self.figure.value = img_tag(self.png, f"{self.alt}. {plain}")
            self.summary.value = f'<p role="status">{text}</p>'
        finally:
            if enabled:
                gc.enable()
        gc.collect(0)


def _style():
    return {"description_width": "initial"}


def int_slider(desc, value, lo, hi, step=1):
    return widgets.IntSlider(value=value, min=lo, max=hi, step=step, description=desc,
                             continuous_update=False, style=_style())


def float_slider(desc, value, lo, hi, step):
    return widgets.FloatSlider(value=value, min=lo, max=hi, step=step, description=desc,
                               continuous_update=False, style=_style())


def dropdown(desc, options, value):
    return widgets.Dropdown(options=options, value=value, description=desc, style=_style())


def checkbox(desc, value=False):
    return widgets.Checkbox(value=value, description=desc, indent=False)
