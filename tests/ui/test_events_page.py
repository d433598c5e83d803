"""The served dashboard's events page, driven in headless Chromium (``panel serve app/``).

The server loads a toy sample by default (fast); ``test_real_pythia_sample`` asks for a real
Pythia ``ee_6jet`` sample through the URL. Screenshots: ``test-artifacts/ui/*.png``.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.ui

LOAD_TIMEOUT_MS = 60_000


def _open(page, url: str):
    page.goto(url)
    page.get_by_text(re.compile(r"event \d+\b.*particles")).first.wait_for(timeout=LOAD_TIMEOUT_MS)
    page.locator(".jetviz-scatter canvas").first.wait_for(timeout=LOAD_TIMEOUT_MS)
    page.locator(".jetviz-detector-image canvas").first.wait_for(timeout=LOAD_TIMEOUT_MS)


def _summary(page) -> str:
    return page.locator(".jetviz-event-summary p").first.inner_text()


def _wait_changed(locator, before: bytes, timeout_ms: int = 15_000) -> bytes:
    """Screenshots of ``locator`` until it differs from ``before``."""
    page = locator.page
    for _ in range(timeout_ms // 250):
        after = locator.screenshot()
        if after != before:
            return after
        page.wait_for_timeout(250)
    raise AssertionError("the plot did not change")


def test_events_page_renders_and_channel_changes_the_image(page, app_url, artifacts):
    _open(page, f"{app_url}?page=events")
    assert page.locator("canvas").count() >= 2  # bokeh plots drew
    assert re.match(r"event 0: \d+ particles, 6 truth jets", _summary(page))
    page.get_by_text("toy_ee_6jet · 60 events").first.wait_for()
    for name in ("ECal", "HCal", "tracks", "Particles", "Truth jets", "Sample", "Load sample"):
        assert page.get_by_text(name, exact=True).count() >= 1, name
    page.screenshot(path=artifacts / "events.png", full_page=True)

    image = page.locator(".jetviz-detector-image").first
    before = image.screenshot()
    page.locator(".jetviz-channel").get_by_text("tracks", exact=True).click()
    _wait_changed(image, before)
    page.locator(".bk-tab").get_by_text("Sample", exact=True).click()
    page.wait_for_timeout(1000)
    page.screenshot(path=artifacts / "events-tracks-sample.png", full_page=True)


def test_deep_link_without_page_opens_events(page, app_url):
    _open(page, f"{app_url}?seed=3")  # no page: the events page, and the URL says so
    page.get_by_text("toy_ee_6jet · 60 events · seed 3").first.wait_for()
    expect(page).to_have_url(re.compile(r"page=events"))
    assert "seed=3" in page.url


def test_event_index_changes_the_plots(page, app_url, artifacts):
    _open(page, f"{app_url}?page=events")
    scatter = page.locator(".jetviz-scatter").first
    before = scatter.screenshot()
    page.locator(".jetviz-next button").click()
    page.get_by_text(re.compile(r"^event 1: ")).first.wait_for()
    _wait_changed(scatter, before)

    field = page.locator(".jetviz-event-input input")
    field.fill("17")
    field.press("Enter")
    page.get_by_text(re.compile(r"^event 17: ")).first.wait_for()
    expect(page.locator(".jetviz-event-slider .bk-slider-title")).to_contain_text("17")  # the slider followed

    field.fill("5000")  # out of range: rejected with a message, the event stays
    field.press("Enter")
    page.get_by_text("Event index 5000 is out of range").first.wait_for()
    assert _summary(page).startswith("event 17: ")
    page.screenshot(path=artifacts / "events-out-of-range.png", full_page=True)


def test_bad_values_are_reported_and_detector_settings_apply(page, app_url, artifacts):
    _open(page, f"{app_url}?page=events&n_events=5")
    page.get_by_text("Rejected value(s) in the URL").first.wait_for()
    page.get_by_text("toy_ee_6jet · 60 events").first.wait_for()  # kept the default

    page.get_by_text("Detector", exact=True).click()
    cells = page.get_by_role("textbox", name="η cells")
    cells.fill("1000")
    cells.press("Enter")
    page.get_by_text("η cells 1000 is out of range: allowed 4 … 512").first.wait_for()
    expect(cells).to_have_value("50")

    image = page.locator(".jetviz-detector-image").first
    before = image.screenshot()
    cells.fill("10")  # coarser calorimeter: re-simulated in the background, the image changes
    cells.press("Enter")
    _wait_changed(image, before)
    expect(page.get_by_text("out of range")).to_have_count(0)
    page.mouse.move(0, 0)
    page.screenshot(path=artifacts / "events-detector.png", full_page=True)


def test_unknown_page_shows_a_message(page, app_url, artifacts):
    page.goto(f"{app_url}?page=no_such_page")
    page.get_by_text("Unknown page").first.wait_for(timeout=LOAD_TIMEOUT_MS)
    assert page.get_by_text("no_such_page").count() >= 1
    page.screenshot(path=artifacts / "unknown-page.png", full_page=True)
    page.get_by_role("button", name="events").click()  # the menu leads back
    page.get_by_text(re.compile(r"event 0\b.*particles")).first.wait_for(timeout=LOAD_TIMEOUT_MS)
    assert "page=events" in page.url


@pytest.mark.slow
def test_real_pythia_sample(page, app_url, artifacts):
    """A real e+e- → tt̄ → 6 jets sample, generated by Pythia in the served page."""
    page.goto(f"{app_url}?page=events&sample=ee_6jet&n_events=100")
    page.get_by_text("ee_6jet · 100 events · seed 0").first.wait_for(timeout=180_000)
    page.locator(".jetviz-scatter canvas").first.wait_for()
    assert re.match(r"event 0: \d+ particles, 6 truth jets, ΣE = \d+\.\d GeV — sqrt_s = 500", _summary(page))
    scatter = page.locator(".jetviz-scatter").first
    before = scatter.screenshot()
    page.locator(".jetviz-next button").click()
    page.get_by_text(re.compile(r"^event 1: ")).first.wait_for()
    _wait_changed(scatter, before)
    expect(page.locator(".jetviz-event-slider .bk-slider-title")).to_contain_text("1")
    page.mouse.move(0, 0)
    page.screenshot(path=artifacts / "events-ee_6jet-pythia.png", full_page=True)
