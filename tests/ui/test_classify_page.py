"""The classify page served for real (``panel serve app/``) in headless Chromium.

The server's classify defaults are a toy run (``CLASSIFY_ENV`` in ``conftest.py``: toy_bh_sph,
120 events, 2 folds, width-2 ResNet18 for 1 epoch, 20 XGBoost rounds, one thread); the URL query
overrides them. Screenshots go to ``test-artifacts/ui/classify*.png``. The store itself is
tested without a browser in ``tests/test_ui_classify_store.py``.
"""
from __future__ import annotations

import re

import pytest

TIMEOUT_MS = 60_000
TALL = {"width": 1440, "height": 5000}
PLUS_MINUS = re.compile(r"^\d\.\d{3} ± \d\.\d{3}$")


@pytest.mark.ui
def test_train_then_inspect_a_misclassified_event(page, app_url, artifacts):
    page.set_viewport_size(TALL)  # the template scrolls inside its main area: show the whole page
    page.goto(f"{app_url}?page=classify&epochs=2&n_folds=abc")
    train = page.locator(".jetviz-train button")
    train.wait_for(timeout=TIMEOUT_MS)
    # a bad URL value is reported, a good one is taken; the talk's table is there before any run
    page.get_by_text("Rejected value(s) in the URL: n_folds='abc'").first.wait_for(timeout=TIMEOUT_MS)
    accuracy = page.locator(".jetviz-accuracy").first
    accuracy.get_by_text("0.907 ± 0.007").wait_for(timeout=TIMEOUT_MS)
    assert accuracy.get_by_text("AUC (this run)").count() == 1
    assert page.get_by_role("spinbutton", name="Epochs").or_(
        page.get_by_role("textbox", name="Epochs")).first.input_value() == "2"

    train.click()
    # results: our accuracy (± std) and AUC next to the talk's, ROC, confusion matrices, importances
    count = page.locator(".jetviz-misclassified-count").first
    count.get_by_text(re.compile(r"gets \d+ of 120 events wrong")).wait_for(timeout=TIMEOUT_MS)
    assert accuracy.get_by_text(PLUS_MINUS).count() == 9  # 3 models × (this run, talk, AUC)
    for css in (".jetviz-accuracy-bars", ".jetviz-roc", ".jetviz-confusion", ".jetviz-importance", ".jetviz-curves",
                ".jetviz-event-images", ".jetviz-examples"):
        page.locator(f"{css} canvas").first.wait_for(timeout=TIMEOUT_MS)
    assert page.locator(".jetviz-error").filter(has_text=re.compile(r"\w")).count() == 0
    page.mouse.move(0, 0)
    page.wait_for_timeout(500)
    page.screenshot(path=artifacts / "classify.png", full_page=True)

    # click the second misclassified event: its images, features and scores are shown
    rows = page.locator(".jetviz-misclassified .tabulator-row")
    assert rows.count() >= 2, "the tiny ResNet should get at least two events wrong"
    event = rows.nth(1).locator(".tabulator-cell[tabulator-field='event']").inner_text().strip()
    summary = page.locator(".jetviz-event-summary").first
    assert summary.locator("p").first.inner_text().startswith("event ")  # the most confidently wrong one
    assert not summary.locator("p").first.inner_text().startswith(f"event {event}:")
    rows.nth(1).click()
    summary.get_by_text(re.compile(rf"^event {event}: true class (sphaleron|black hole)")).wait_for(timeout=15_000)
    assert "(wrong)" in summary.locator("p").first.inner_text()
    low = page.locator(".jetviz-low-features").first
    high = page.locator(".jetviz-high-features").first
    low.get_by_text("ECal hit 0", exact=True).wait_for(timeout=15_000)
    assert low.get_by_text("track 4", exact=True).count() == 1
    assert high.get_by_text("MET", exact=True).count() == 1 and high.get_by_text("jet 7", exact=True).count() == 1
    assert page.locator(".jetviz-scores").first.get_by_text("XGBoost high level").count() == 1
    page.locator(".jetviz-event-images canvas").first.wait_for(timeout=15_000)
    page.mouse.move(0, 0)
    page.wait_for_timeout(500)
    page.locator(".jetviz-event-images").first.screenshot(path=artifacts / "classify-event.png")
    page.screenshot(path=artifacts / "classify-misclassified.png", full_page=True)
