"""Generic widgets of the pages: inputs bound to bounded params that report what they reject.

Panel's widgets built with ``from_param`` follow a param; the ones here add what a physicist
needs to see when a value is refused (out of range, not allowed), instead of a silent reset.
"""
from __future__ import annotations

from typing import Callable

import panel as pn
import param

__all__ = ["bounded_input", "step_buttons"]


def bounded_input(
    obj: param.Parameterized,
    parameter: str,
    report: Callable[[str], None],
    widget: type[pn.widgets.Widget] = pn.widgets.IntInput,
    **kwargs,
) -> pn.widgets.Widget:
    """A number input for the bounded param ``obj.<parameter>`` that rejects out-of-range values visibly.

    A Bokeh spinner given ``start``/``end`` silently keeps its old value when a typed number is
    out of range, so the bounds are checked here instead: a value outside the param's bounds is
    reset in the widget and ``report(message)`` is called (``report("")`` after the next
    accepted value). The widget follows the param's value; its tooltip states the bounds.

    Parameters
    ----------
    obj : param.Parameterized
        Owner of the parameter.
    parameter : str
        Name of a ``param.Integer`` / ``param.Number`` with bounds.
    report : callable
        ``report(message: str)``, e.g. :meth:`EventsStore.report`.
    widget : type
        ``pn.widgets.IntInput`` (default) or ``pn.widgets.FloatInput``.
    **kwargs
        Further widget arguments (``label`` defaults to the param's label).
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
