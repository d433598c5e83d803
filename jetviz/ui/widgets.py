"""Generic widgets of the pages: inputs bound to bounded params that report what they reject, and the
panes every view builds the same way (a plot bound to params, a read-only table, an action button).

Panel's widgets built with ``from_param`` follow a param; the inputs here add what a physicist
needs to see when a value is refused (out of range, not allowed), instead of a silent reset.
"""
from __future__ import annotations

import contextlib
from typing import Callable

import panel as pn
import param

__all__ = ["bounded_input", "step_buttons", "bound_plot", "live_plot", "one_redraw", "plot_row", "read_only_table",
           "action_button", "loaded_line", "on_select", "bound_text", "settings_card", "SIDEBAR_WIDTH"]

#: width of the pages' control columns in the sidebar (pixels)
SIDEBAR_WIDTH = 290


def bounded_input(
    obj: param.Parameterized,
    parameter: str,
    report: Callable[[str], None],
    widget: type[pn.widgets.Widget] = pn.widgets.IntInput,
    **kwargs,
) -> pn.widgets.Widget:
    """A number input for the bounded param ``obj.<parameter>`` that rejects out-of-range values visibly.

    A value outside the param's bounds is reset in the widget and ``report(message)`` is called
    (``report("")`` after the next accepted value); the widget follows the param, its tooltip states
    the bounds. (A Bokeh spinner given ``start``/``end`` silently keeps its old value instead.)
    ``widget``: ``pn.widgets.IntInput`` (default) or ``FloatInput``; ``kwargs`` go to the widget
    (``label`` defaults to the param's label).
    """
    p = obj.param[parameter]
    kwargs.setdefault("label", p.label)
    box = widget(value=getattr(obj, parameter), **kwargs)
    label = kwargs["label"]

    def describe(*_) -> None:
        lo, hi = obj.param[parameter].bounds
        box.description = f"{p.doc or label} (from {lo} to {hi})"

    def to_param(event: param.parameterized.Event) -> None:
        if event.new == getattr(obj, parameter):
            return  # the widget following the param (or reset after a rejected value)
        try:
            setattr(obj, parameter, event.new)
        except ValueError:
            lo, hi = obj.param[parameter].bounds
            report(f"{label} {event.new} is out of range: allowed {lo} … {hi}; kept {getattr(obj, parameter)}.")
            # on the next tick: Panel does not echo a value back to the browser that sent it
            pn.state.execute(lambda: setattr(box, "value", getattr(obj, parameter)), schedule=True)
            return
        report("")

    describe()
    box.param.watch(to_param, "value")
    obj.param.watch(lambda event: setattr(box, "value", event.new), [parameter])
    obj.param.watch(describe, [parameter], what="bounds")
    return box


def step_buttons(obj: param.Parameterized, parameter: str, disabled=False) -> tuple[pn.widgets.Button, pn.widgets.Button]:
    """◀ and ▶ buttons that step the bounded integer param ``obj.<parameter>`` by one, within its bounds."""
    def step(delta: int) -> None:
        lo, hi = obj.param[parameter].bounds
        setattr(obj, parameter, int(min(max(getattr(obj, parameter) + delta, lo), hi)))

    prev = pn.widgets.Button(label="◀", width=45, margin=(24, 2, 5, 5), disabled=disabled, css_classes=["jetviz-prev"])
    nxt = pn.widgets.Button(label="▶", width=45, margin=(24, 5, 5, 2), disabled=disabled, css_classes=["jetviz-next"])
    prev.on_click(lambda event: step(-1))
    nxt.on_click(lambda event: step(+1))
    return prev, nxt


def bound_plot(function: Callable, *dependencies, css: str, **kwargs) -> pn.viewable.Viewable:
    """``function(*dependencies)`` (params or widgets) as a pane redrawn when they change, axes unlinked."""
    return pn.panel(pn.bind(function, *dependencies), linked_axes=False, css_classes=[css], **kwargs)


def live_plot(frame: Callable, *sources: param.Parameter, redraw: tuple = (), css: str,
              empty: Callable[[], pn.viewable.Viewable]) -> pn.Column:
    """A plot that follows the params ``sources`` *in place*: a new value patches the data of the Bokeh
    models already in the page (an ``hv.DynamicMap`` on ``sources``) instead of replacing the plot.

    Every value must give an element of one structure (element types and layers; categories and
    ranges may change); a change of a ``redraw`` param (a colour scale, a new sample) builds the plot
    anew; while the first source is None, ``empty()`` is shown. Why: docs/architecture.md, ``jetviz.ui.widgets``.

    Parameters
    ----------
    frame : callable
        ``frame(*source_values, *redraw_values) -> hv element``.
    *sources, redraw : param.Parameter
        The params the plot follows (``store.param.current``) and those whose change rebuilds it.
    css : str
        CSS class of the plot's container (for tests and the latency probes).
    empty : callable
        The placeholder shown while the first source is None.
    """
    import holoviews as hv

    box = pn.Column(css_classes=[css])
    shown: dict = {"key": None}
    names = [f"v{i}" for i in range(len(sources))]

    def rebuild(*_) -> None:
        if getattr(sources[0].owner, sources[0].name) is None:
            if shown["key"] is not None or not box.objects:
                box.objects = [empty()]
                shown["key"] = None
            return
        key = tuple(getattr(p.owner, p.name) for p in redraw)
        if shown["key"] is not None and all(a is b or a == b for a, b in zip(shown["key"], key)):
            return  # the DynamicMap follows the sources by itself
        streams = [hv.streams.Params(p.owner, [p.name], rename={p.name: name}) for p, name in zip(sources, names)]
        plot = hv.DynamicMap(lambda **values: frame(*(values[n] for n in names), *key), streams=streams)
        box.objects = [pn.pane.HoloViews(plot, linked_axes=False)]
        shown["key"] = key

    for dependency in (*sources[:1], *redraw):
        dependency.owner.param.watch(rebuild, dependency.name)
    rebuild()
    return box


@contextlib.contextmanager
def one_redraw():
    """Param changes made inside update the served page once: Bokeh re-walks the document's
    models once at the end instead of after each plot's update (with several live plots on one
    param, most of a redraw's server time was those walks). Elsewhere nothing: frozen in a
    notebook, the events page's redraw made JupyterLab request Panel's CDN stylesheets, past the
    offline rewriting of :mod:`jetviz.ui.notebook` (measured in ``tests/test_notebooks.py``)."""
    from jetviz.ui.background import served

    doc = pn.state.curdoc if served() else None
    with doc.models.freeze() if doc is not None else contextlib.nullcontext():
        yield


def bound_text(function: Callable, *dependencies, css: str, **kwargs) -> pn.pane.Markdown:
    """The Markdown ``function(*dependencies)`` returns, full width, rewritten when they change."""
    return pn.pane.Markdown(pn.bind(function, *dependencies), sizing_mode="stretch_width", css_classes=[css], **kwargs)


def plot_row(layout) -> pn.Row:
    """The panels of an ``hv.Layout`` as separate plots in a row (a ``FlexBox`` or the ``hv.Layout``
    itself squeezes fixed-size plots when served)."""
    return pn.Row(*[pn.pane.HoloViews(panel, linked_axes=False) for panel in layout])


def read_only_table(value, css: str, **kwargs) -> pn.widgets.Tabulator:
    """A read-only ``Tabulator`` of ``value`` (a frame, or a function bound to params) without the index column."""
    return pn.widgets.Tabulator(value, css_classes=[css], disabled=True, show_index=False, layout="fit_data_table",
                                **kwargs)


def action_button(parameter: param.Parameter, css: str, **kwargs) -> pn.widgets.Button:
    """The outlined button of a ``param.Event`` ``parameter``, aligned with the labelled inputs beside it."""
    return pn.widgets.Button.from_param(parameter, color="primary", variant="outline", css_classes=[css],
                                        margin=(24, 10, 5, 10), **kwargs)


def settings_card(*objects, title: str = "More settings") -> pn.Card:
    """A collapsed card of further settings for a :data:`SIDEBAR_WIDTH` control column, as wide as the
    inputs above it (their 10-pixel margins each side; a full-width Card stretched past the column,
    over the sidebar's edge)."""
    return pn.Card(*objects, title=title, collapsed=True, width=SIDEBAR_WIDTH - 20, margin=(5, 10))


def loaded_line(store: param.Parameterized) -> pn.pane.Markdown:
    """The store's ``loaded`` line (what is shown), small."""
    return pn.pane.Markdown(store.param.loaded.rx.pipe(lambda s: f"<small>{s}</small>" if s else ""),
                            sizing_mode="stretch_width", css_classes=["jetviz-loaded"])


def on_select(points, picked: Callable[[list], None]):
    """``points`` (a HoloViews element), calling ``picked(rows)`` with the rows a box, lasso or tap selects."""
    import holoviews as hv

    hv.streams.Selection1D(source=points).add_subscriber(lambda index: picked(index))  # called as index=rows
    return points
