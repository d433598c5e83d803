"""Background work for UI stores: a thread puts messages on a queue; the session drains it.

Design notes: docs/architecture.md, section ``jetviz.ui.background``.
"""
from __future__ import annotations

import asyncio
import queue
import sys
import threading
from typing import Callable, Iterator

import panel as pn
import param

__all__ = ["POLL_MS", "served", "in_jupyter_kernel", "QueuePolling", "WorkStatus"]

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


def _run_work(work: Callable[..., None], token: int, messages: queue.SimpleQueue, *args) -> None:
    """Run ``work(token, messages, *args)``; its exceptions become "cancelled" / "error" messages."""
    from jetviz.compute import JobFailed
    from jetviz.errors import Cancelled

    try:
        work(token, messages, *args)
    except Cancelled as err:
        messages.put(("cancelled", token, str(err)))
    except JobFailed as err:  # its message already says what failed where
        messages.put(("error", token, str(err)))
    except Exception as err:  # shown in the page
        messages.put(("error", token, f"{type(err).__name__}: {err}"))


class QueuePolling:
    """Mixin for stores that run work in a thread and drain its queue with ``self._drain`` on the session's loop.

    The store starts a job with :meth:`_start_work` and defines ``_drain()``, which reads the
    current job's messages with :meth:`_messages` and calls :meth:`_finish` on the last one.
    When the browser session ends, :meth:`_on_session_destroyed` runs (default: drop results of
    running work).
    """

    _token = 0  # the current job; messages of older ones are dropped
    _queue: queue.SimpleQueue | None = None  # the current job's messages, None when none runs
    _callback = None  # the periodic callback draining the queue
    _cleanup_registered = False

    def _start_work(self, work: Callable[..., None], args: tuple, blocking: bool | None, thread_name: str) -> None:
        """Start a new job ``work(token, messages, *args)``; older jobs' messages are dropped from now on.

        ``work`` touches no param and no Panel object, it only puts messages on the queue; what it raises
        is reported as a "cancelled" or "error" message. ``blocking``: True works in this thread, then
        drains (scripts, tests); False in a background thread named ``thread_name``, drained by a periodic
        callback on the session's loop (or a running asyncio loop; with no loop at all: blocking); None
        (default) in the background when served or in a Jupyter kernel, blocking anywhere else.
        """
        self._token += 1
        messages: queue.SimpleQueue = queue.SimpleQueue()
        self._queue = messages
        if blocking is None:
            blocking = not (served() or in_jupyter_kernel())
        args = (work, self._token, messages, *args)
        if not blocking and self._start_polling():
            threading.Thread(target=_run_work, args=args, daemon=True, name=thread_name).start()
        else:
            _run_work(*args)
            self._drain()

    def _messages(self) -> Iterator[tuple[str, list]]:
        """``(kind, payload)`` of the current job's queued messages, until the queue is empty."""
        messages = self._queue
        if messages is None:
            return
        while True:
            try:
                kind, token, *payload = messages.get_nowait()
            except queue.Empty:
                return
            if token == self._token:  # else from an older job
                yield kind, payload

    def _finish(self) -> None:
        """The current job is over: no more draining."""
        self._queue = None
        self._stop_polling()

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


class WorkStatus(param.Parameterized):
    """Params a store shows about its background work: progress, status, errors, notices, what is loaded."""

    loaded = param.String(default="", precedence=-1, doc="what is shown, one line")
    progress = param.Integer(default=0, bounds=(0, 100), precedence=-1, doc="progress of the work, percent")
    status = param.String(default="", precedence=-1, doc="what the worker is doing")
    error = param.String(default="", precedence=-1, doc="last error, shown in the page; '' for none")
    notice = param.String(default="", precedence=-1,
                          doc="a rejected input (URL or widget) or a cancelled run; '' for none")

    #: ``{event param: method name}``: the store's buttons and what each calls (a subclass adds its own)
    buttons: dict[str, str] = {}

    def __init__(self, **params):
        super().__init__(**params)
        actions = {k: v for cls in reversed(type(self).__mro__) for k, v in vars(cls).get("buttons", {}).items()}
        for event, method in actions.items():
            self.param.watch(lambda _event, method=method: getattr(self, method)(), event)

    def progress_panes(self, busy) -> tuple:
        """``(progress, status)``: the progress bar and the status line, visible while ``busy`` (a boolean param)."""
        return (pn.indicators.Progress(value=self.param.progress, max=100, visible=busy, bar_color="info",
                                       css_classes=["jetviz-progress"], sizing_mode="stretch_width"),
                pn.pane.Markdown(self.param.status, visible=busy, margin=(0, 10), css_classes=["jetviz-status"]))

    def alert_panes(self) -> tuple:
        """``(error, notice)``: the error and the notice alerts, visible when set."""
        wide = {"sizing_mode": "stretch_width"}
        return (pn.pane.Alert(self.param.error, alert_type="danger", visible=self.param.error.rx.bool(),
                              css_classes=["jetviz-error"], **wide),
                pn.pane.Alert(self.param.notice, alert_type="warning", visible=self.param.notice.rx.bool(),
                              css_classes=["jetviz-notice"], **wide))

    def report(self, message: str) -> None:
        """Show ``message`` as a warning in the page (a rejected URL or input value); '' clears it."""
        self.notice = message

    def report_url_rejected(self, rejected: list[str]) -> None:
        """Report the URL query's rejected ``name='value'`` items (nothing when there are none)."""
        if rejected:
            self.report(f"Rejected value(s) in the URL: {', '.join(rejected)} (out of range or unknown); "
                        "kept the defaults.")
