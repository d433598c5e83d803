"""The dashboard shell: one template, a sidebar of pages, deep links ``?page=<name>``.

Design notes: docs/architecture.md, section ``jetviz.ui.dashboard``.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
import time
from pathlib import Path

import panel as pn
import panel.theme.fast
import param
from panel.viewable import Viewer

from jetviz.ui.background import served

__all__ = ["Dashboard", "OfflineFast", "load_page_module", "warm_pages"]

log = logging.getLogger(__name__)

#: system fonts only: the page fetches nothing from outside (a cluster behind a firewall has no Google Fonts)
FONT = "'DejaVu Sans', 'Helvetica Neue', Helvetica, Arial, sans-serif"


class Fast(panel.theme.fast.Fast):
    """Panel's Fast design without its Google-hosted font, so the dashboard requests nothing but its own origin.

    The class keeps the name ``Fast``: Panel resolves a design's relative resource paths
    (``fast/js/fast_design.js``) from the lower-cased class name.
    """

    _resources = {kind: urls for kind, urls in panel.theme.fast.Fast._resources.items() if kind != "font"}


OfflineFast = Fast


def load_page_module(module: str, app_dir: str | Path):
    """Import ``app_dir/<module>.py`` (once per process) and return the module.

    Works outside the Bokeh app runner, which puts the app directory on ``sys.path`` only
    while ``main.py`` runs; the directory is put on ``sys.path`` while the module is imported
    so that it may import its own siblings.
    """
    app_dir = Path(app_dir).resolve()
    key = f"jetviz_app_pages.{module}"
    with _IMPORTING:  # a session's page and the warm-up thread may ask at once
        if key in sys.modules:
            return sys.modules[key]
        path = app_dir / f"{module}.py"
        if not path.is_file():
            raise ModuleNotFoundError(f"no page module {path}")
        spec = importlib.util.spec_from_file_location(key, path)
        mod = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(app_dir))
        try:
            spec.loader.exec_module(mod)
        finally:
            sys.path.remove(str(app_dir))
        sys.modules[key] = mod
        return mod


_IMPORTING = threading.RLock()
_WARMING: dict[str, threading.Thread] = {}


def warm_pages(pages: dict, app_dir: str | Path) -> threading.Thread:
    """Call ``warm()`` of every page module of ``pages`` (``{page name: module name or callable}`` as
    :class:`Dashboard` takes it; callables are skipped) in ``app_dir``, in one daemon thread per
    ``app_dir`` and process (a second call returns the first call's thread).
    """
    app_dir = Path(app_dir).resolve()
    with _IMPORTING:
        thread = _WARMING.get(str(app_dir))
        if thread is None:
            modules = [spec for spec in pages.values() if isinstance(spec, str)]
            thread = threading.Thread(target=_warm, args=(modules, app_dir), name="jetviz-warm-pages", daemon=True)
            _WARMING[str(app_dir)] = thread
            thread.start()
    return thread


def warm_enabled() -> bool:
    """Whether served dashboards warm their pages: not when ``JETVIZ_WARM`` is ``0``/``false``/``no``/``off``."""
    return os.environ.get("JETVIZ_WARM", "1").strip().lower() not in ("0", "false", "no", "off")


def _warm(modules: list[str], app_dir: Path) -> None:
    for module in modules:
        try:
            warm = getattr(load_page_module(module, app_dir), "warm", None)
            if callable(warm):
                start = time.perf_counter()
                warm()
                log.info("page module %r warmed in %.1f s", module, time.perf_counter() - start)
        except Exception:  # the page does the work itself when opened (and shows what fails)
            log.exception("warming page module %r failed", module)


class Dashboard(Viewer):
    """All pages in one ``FastListTemplate`` with a sidebar menu and ``?page=`` deep links.

    ``pages``: ``{page name: spec}``, a spec a module name in ``app_dir`` (``app/``; its ``page()``
    builds the page) or a zero-argument callable returning the page's component; ``page``: the page
    shown, synced with the URL query ``page`` when served.
    """

    page = param.String(default="events", doc="name of the page shown (URL: ?page=<name>)")
    pages = param.Dict(default={}, precedence=-1, doc="page name -> module name or callable")
    app_dir = param.Parameter(default=None, precedence=-1, doc="directory of the page modules")
    title = param.String(default="jetviz", precedence=-1)

    def __init__(self, **params):
        super().__init__(**params)
        self._built: dict[str, pn.viewable.Viewable] = {}
        self._buttons = {name: pn.widgets.Button(label=name, sizing_mode="stretch_width", color="primary")
                         for name in self.pages}
        for name, button in self._buttons.items():
            button.on_click(lambda event, name=name: setattr(self, "page", name))
        self._style_buttons()
        if served() and self.app_dir is not None and warm_enabled():
            warm_pages(self.pages, self.app_dir)
        if served() and pn.state.location is not None:
            location = pn.state.location
            location.sync(self, {"page": "page"})
            # the browser only hears of query changes made after the page is up, and sends its own
            # query when it connects (which may come after onload): whenever the query lacks the
            # page, it is put back, so the address bar shows it and can be bookmarked
            def show_page(_event) -> None:
                if "page" not in location.query_params:
                    location.update_query(page=self.page)

            location.param.watch(show_page, "search")
            pn.state.onload(lambda: location.update_query(page=self.page))

    @param.depends("page", watch=True)
    def _style_buttons(self) -> None:
        for name, button in self._buttons.items():
            button.variant = "solid" if name == self.page else "outline"

    def _build(self, name: str) -> tuple[pn.viewable.Viewable, pn.viewable.Viewable | None]:
        spec = self.pages[name]
        if callable(spec):
            component = spec()
        else:
            component = load_page_module(spec, self.app_dir or Path.cwd()).page()
        if callable(getattr(component, "controls", None)) and callable(getattr(component, "body", None)):
            return pn.panel(component.body()), pn.panel(component.controls())
        return pn.panel(component), None

    def _page(self) -> tuple[pn.viewable.Viewable, pn.viewable.Viewable | None]:
        name = self.page
        if name not in self.pages:
            known = ", ".join(f"`{p}`" for p in self.pages)
            return pn.pane.Alert(
                f"### Unknown page `{name}`\nThis dashboard has the pages {known}; "
                f"pick one in the menu or open `?page=<name>`.",
                alert_type="warning", css_classes=["jetviz-unknown-page"], sizing_mode="stretch_width",
            ), None
        if name not in self._built:
            try:
                self._built[name] = self._build(name)
            except Exception as err:  # shown in the page, not only in the server log
                log.exception("page %r failed to load", name)
                return pn.pane.Alert(f"### Page `{name}` failed to load\n`{type(err).__name__}: {err}`",
                                     alert_type="danger", sizing_mode="stretch_width"), None
        return self._built[name]

    @param.depends("page")
    def content(self) -> pn.viewable.Viewable:
        """The current page's main part (built once per session), or a message."""
        return self._page()[0]

    @param.depends("page")
    def page_controls(self) -> pn.viewable.Viewable:
        """The current page's controls (for the sidebar), or an empty column."""
        return self._page()[1] or pn.Column()

    def sidebar(self) -> pn.viewable.Viewable:
        """The page menu."""
        return pn.Column("### Pages", *self._buttons.values(), pn.layout.Divider(),
                         pn.panel(self.page_controls), sizing_mode="stretch_width")

    def template(self) -> pn.template.BaseTemplate:
        """The whole dashboard in a ``FastListTemplate``."""
        return pn.template.FastListTemplate(
            title=self.title, sidebar=[self.sidebar()], main=[pn.panel(self.content, sizing_mode="stretch_width")],
            sidebar_width=320, main_layout=None, accent="#0072B2", design=OfflineFast, font=FONT,
        )

    def servable(self, title: str | None = None, location: bool = True, area: str = "main",
                 target: str | None = None):
        """Mark the templated dashboard servable (``panel serve``)."""
        return self.template().servable(title=title or self.title, location=location)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Row(pn.Column(self.sidebar(), width=320), pn.panel(self.content), sizing_mode="stretch_width")
