"""Background work for UI stores: a thread puts messages on a queue; the session drains it.

The Bokeh event loop never blocks: work runs in a thread that touches no param and no Panel
object; a periodic callback on the session's loop (``panel serve`` or a Jupyter kernel) drains
the queue and updates params. Where there is no loop (a script, a test) work runs inline.
"""
from __future__ import annotations

import asyncio
import sys

import panel as pn

__all__ = ["POLL_MS", "served", "in_jupyter_kernel", "QueuePolling"]

POLL_MS = 150  # how often a session drains its store's queue


def served() -> bool:
    """True inside a ``panel serve`` session."""
    doc = pn.state.curdoc
    return doc is not None and doc.session_context is not None


def in_jupyter_kernel() -> bool:
    """True inside a Jupyter (IPython) kernel, whose asyncio loop can drain a queue."""
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class QueuePolling:
    """Mixin for stores that drain a work queue with ``self._drain`` on the session's loop.

    The store sets ``self._callback = None``, ``self._cleanup_registered = False`` and
    ``self._token = 0`` in its ``__init__`` and defines ``_drain()``. When the browser session
    ends, :meth:`_on_session_destroyed` runs (default: drop results of running work).
    """

    def _start_polling(self) -> bool:
        """Start draining the queue on the session's event loop; False where there is none."""
        is_served = served()
        if not is_served:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return False
        if self._callback is None:
            self._callback = pn.state.add_periodic_callback(self._drain, period=POLL_MS, start=True)
        if is_served and not self._cleanup_registered:
            pn.state.on_session_destroyed(self._session_destroyed)
            self._cleanup_registered = True
        return True

    def _stop_polling(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

    def _session_destroyed(self, session_context) -> None:
        self._on_session_destroyed()
        self._stop_polling()

    def _on_session_destroyed(self) -> None:
        self._token += 1  # a running job's result is dropped
