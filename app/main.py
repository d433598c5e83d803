"""The jetviz dashboard: ``panel serve app/`` → http://localhost:5006/app (deep links ``?page=events``)."""
from pathlib import Path

from jetviz.ui import Dashboard

#: ``?page=<name>`` → sibling module ``app/<module>.py`` whose ``page()`` returns the page's component.
#: A new page is a new module plus one line here.
PAGES = {
    "events": "events",
    "colorize": "colorize",
    "classify": "classify",
    "vae_emd": "vae_emd",
    "jetclr": "jetclr",
    "runs": "runs",
}

Dashboard(pages=PAGES, app_dir=Path(__file__).parent).servable()
