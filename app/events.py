"""Events page: generate or load a sample, pass it through the detector, look at single events.

``JETVIZ_DEFAULT_SAMPLE`` / ``JETVIZ_DEFAULT_N_EVENTS`` change what the page loads first
(tests use a ``toy_*`` sample); the URL query (``?sample=ee_6jet&n_events=100``) overrides both.
"""
import os

from jetviz.ui.events import EventsPage


def page() -> EventsPage:
    """A new events page for this session."""
    sample = os.environ.get("JETVIZ_DEFAULT_SAMPLE", "ee_6jet")
    n_events = int(os.environ.get("JETVIZ_DEFAULT_N_EVENTS", "200"))
    return EventsPage(sample=sample, n_events=n_events, sync_url=True, autoload=True)
