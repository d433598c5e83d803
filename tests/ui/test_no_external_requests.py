"""Nothing is fetched from outside: every page of the served dashboard requests only its own origin
(fonts, CSS and JS are bundled or served locally), so it works on a cluster behind a firewall."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

PAGES = ("events", "colorize", "classify", "vae_emd", "jetclr", "runs")


@pytest.mark.ui
@pytest.mark.parametrize("name", PAGES)
def test_page_requests_only_its_own_origin(page, app_url, name):
    origin = urlsplit(app_url).netloc
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{app_url}?page={name}")
    # the first *visible* sign that the page rendered (a page may hold hidden placeholders)
    page.locator(".jetviz-loaded, .jetviz-empty, canvas, .jetviz-runs-table").filter(visible=True).first.wait_for(
        timeout=90_000)
    page.wait_for_timeout(1500)  # late requests (fonts, lazily loaded bundles)
    outside = [url for url in requested if urlsplit(url).scheme in ("http", "https", "ws", "wss")
               and urlsplit(url).netloc != origin]
    assert requested and not outside, outside
