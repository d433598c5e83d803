"""Panel and HoloViews in a notebook that works offline: JupyterLab, VS Code or Colab without a CDN.

Design notes: docs/architecture.md, section ``jetviz.ui.notebook``.
"""
from __future__ import annotations

import base64
import functools
import mimetypes
import re
from typing import Any

import panel as pn

__all__ = ["extension", "ipywidget", "offline_urls"]


@functools.lru_cache(maxsize=None)
def _data_url(path: str) -> str | None:
    from panel.io.resources import DIST_DIR

    file = DIST_DIR / path
    if not file.is_file():
        return None
    kind = mimetypes.guess_type(file.name)[0] or ("text/javascript" if file.suffix == ".js" else "text/css")
    return f"data:{kind};base64,{base64.b64encode(file.read_bytes()).decode()}"


@functools.lru_cache(maxsize=1)
def _cdn_pattern() -> re.Pattern:
    from panel.io.resources import CDN_DIST

    return re.compile(re.escape(CDN_DIST) + r"""([^"'\s)?\\]+)(\?v=[^"'\s)\\]*)?""")


def offline_urls(text: str) -> str:
    """``text`` with every URL of Panel's CDN replaced by a ``data:`` URL of the installed file (when there is one)."""
    def replace(match: re.Match) -> str:
        local = _data_url(match.group(1).replace("%5E", "^"))
        return local if local is not None else match.group(0)

    return _cdn_pattern().sub(replace, text)


def _offline_bundle(data: Any) -> Any:
    if isinstance(data, str):
        return offline_urls(data)
    if isinstance(data, dict):
        return {key: _offline_bundle(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_offline_bundle(value) for value in data]
    return data


def _install_rewriting() -> None:
    """Rewrite CDN URLs in everything the kernel sends the page: display_data, execute_result and comm messages."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or getattr(shell, "_jetviz_offline", False):
        return
    publisher, hook = shell.display_pub, shell.displayhook
    publish, write = publisher.publish, hook.write_format_data

    def offline_publish(data, metadata=None, *args, **kwargs):
        return publish(_offline_bundle(data), metadata, *args, **kwargs)

    def offline_write(format_dict, md_dict=None):
        return write(_offline_bundle(format_dict), md_dict)

    publisher.publish, hook.write_format_data = offline_publish, offline_write
    try:  # what changes later (a widget moved, a plot redrawn) reaches the page over comms
        from ipykernel.comm.comm import Comm
    except ImportError:  # not an ipykernel
        Comm = None
    if Comm is not None and not getattr(Comm.publish_msg, "_jetviz_offline", False):
        send = Comm.publish_msg

        def offline_send(self, msg_type, data=None, metadata=None, buffers=None, **keys):
            return send(self, msg_type, _offline_bundle(data), metadata, buffers, **keys)

        offline_send._jetviz_offline = True
        Comm.publish_msg = offline_send
    shell._jetviz_offline = True


def extension(*extensions: str, **config) -> None:
    """``pn.extension(*extensions, inline=True, **config)`` and HoloViews' Bokeh backend, offline.

    Parameters
    ----------
    *extensions : str
        Panel extensions (``"tabulator"`` …).
    **config
        Further ``pn.extension`` settings.
    """
    import holoviews as hv

    _install_rewriting()
    pn.extension(*extensions, inline=True, **config)
    hv.extension("bokeh", inline=True, logo=False)


def ipywidget(obj: Any):
    """``obj`` (a Panel component or anything ``pn.panel`` takes) as an ipywidget (``jupyter_bokeh``).

    Its stylesheets are inlined, so it renders offline in any front end that shows ipywidgets.
    """
    from bokeh.document import Document
    from bokeh.models import UIElement
    from jupyter_bokeh.widgets import BokehModel
    from panel.io.notebook import patch_inline_stylesheets

    model = pn.panel(obj).get_root(doc=Document())
    for element in model.select({"type": UIElement}):
        patch_inline_stylesheets(element)
    return BokehModel(model, combine_events=True)
