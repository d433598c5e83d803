"""Panel components (``pn.viewable.Viewer``): the only layer that imports panel.

Each page is a data store (settings and loaded results as params) plus views that depend on it,
composed by a page ``Viewer``; :class:`Dashboard` puts the pages in one template.
"""
from jetviz.ui.dashboard import Dashboard
from jetviz.ui.events import EventsPage, EventsStore

__all__ = ["Dashboard", "EventsPage", "EventsStore"]
