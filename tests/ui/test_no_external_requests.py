"""Nothing is fetched from outside: the pages of the served dashboard request only their own origin
(fonts, CSS and JS are bundled or served locally), so they work on a cluster behind a firewall.

The method pages are checked showing their reference runs, every plot drawn, in
``test_reference_runs.py``; here the pages without one.
"""
from __future__ import annotations

import pytest

PAGES = ("events", "runs", "colorize")  # colorize: a method page as it opens without a reference run


@pytest.mark.ui
@pytest.mark.parametrize("name", PAGES)
def test_page_requests_only_its_own_origin(page, app_url, outside_requests, name):
    page.goto(f"{app_url}?page={name}")
    # the first *visible* sign that the page rendered (a page may hold hidden placeholders)
    page.locator(".jetviz-loaded, .jetviz-empty, canvas, .jetviz-runs-table").filter(visible=True).first.wait_for(
        timeout=90_000)
    page.wait_for_timeout(1500)  # late requests (fonts, lazily loaded bundles)
    requested, outside = outside_requests(app_url)
    assert requested and not outside, outside
