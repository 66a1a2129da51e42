"""What every lab shares: the :class:`Lab` container, the control helpers and the registry.

A lab is controls -> model -> figure -> PNG. The PNG is shown as an ``<img>`` with alt text
inside a ``widgets.HTML`` (``widgets.Image`` cannot carry alt text), which renders the same
in JupyterLab, Notebook 7 and nbval; the website shows the ``text/html`` version instead
(:meth:`Lab._repr_mimebundle_`, :mod:`.static`).
"""

from __future__ import annotations

import base64
import functools
import gc
import html
import re

import ipywidgets as widgets

from .. import plots

#: Every lab factory, in book order: ``labsim.bench`` times them, the widget tests drive them.
LABS: dict = {}


def register(factory):
    """Add a lab factory (a function returning a :class:`Lab`) to :data:`LABS`.

    The lab it returns knows its factory's name (``lab.factory``): the static site looks its
    precomputed states up by that name."""
    @functools.wraps(factory)
    def make(*args, **kwargs):
        lab = factory(*args, **kwargs)
        lab.factory = factory.__name__
        if args or kwargs:                 # the static site has states for the plain call only
            lab.factory = None
        return lab
    LABS[factory.__name__] = make
    return make


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
        self.factory = None                  # its factory's name in LABS, set by register
        self.recycler = plots.Recycler()
        box = widgets.GridBox(list(controls.values()),
                              layout=widgets.Layout(grid_template_columns="repeat(2, 1fr)"))
        super().__init__([box, self.figure, self.summary])
        for w in controls.values():
            w.observe(self.update, names="value")
        self.update()

    def values(self) -> dict:
        return {k: w.value for k, w in self.controls.items()}

    def draw(self, values: dict):
        """Run the model and draw the figure for ``values``: ``(result, png, summary_html, alt)``.

        The one rendering path: :meth:`update` shows what it returns, and the static site
        (``labsim.labs.static``) precomputes its states with it, so a precomputed image is what
        the live lab draws for the same values, pixel for pixel.
        """
        # Matplotlib artists are webs of reference cycles: the artists an update clears away
        # are garbage that only the cyclic collector frees. Left to itself the collector runs
        # mid-update, and a full collection then costs more than the update (profiled: p95
        # 125 ms against 80 ms). So: no automatic collection while we build and draw, then
        # collect the youngest generation, which holds exactly what this update allocated.
        enabled = gc.isenabled()
        gc.disable()
        try:
            result = self.model(**values)
            self.runs += 1
            with self.recycler:                   # the last update's figure, cleared
                fig, text = self.view(result, **values)
                png = plots.to_png(fig)
            del fig
        finally:
            if enabled:
                gc.enable()
        gc.collect(0)
        return result, png, text, self.alt_text(text)

    def alt_text(self, summary_html: str) -> str:
        """The figure's alt text: what it shows, then the summary's words without markup."""
        return f"{self.alt}. {html.unescape(re.sub(r'<[^>]+>', '', summary_html))}"

    def update(self, change=None) -> None:
        self.result, self.png, text, alt = self.draw(self.values())
        self.figure.value = img_tag(self.png, alt)
        self.summary.value = f'<p role="status">{text}</p>'

    def _repr_mimebundle_(self, **kwargs):
        """The live widget, plus a ``text/html`` version for pages without a kernel.

        JupyterLab and Notebook show the widget (its mime type ranks first there); the book's
        HTML builder prefers ``text/html`` (``nb_mime_priority_overrides`` in ``_config.yml``),
        and ``_ext/static_labs.py`` swaps in the precomputed states (``labsim.labs.static``).
        """
        data = super()._repr_mimebundle_(**kwargs)
        if isinstance(data, tuple):                       # (data, metadata)
            data, meta = data
        else:
            meta = None
        if data is not None and self.factory is not None:
            from .static import kernel_html
            data = dict(data)
            data["text/html"] = kernel_html(self)
        return (data, meta) if meta is not None else data


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
