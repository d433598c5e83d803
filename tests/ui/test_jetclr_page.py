"""The jetclr page served for real (``panel serve app/``) in headless Chromium.

The run is made tiny through the page's deep link (toy_top_qcd, 120 jets, a one-layer encoder
of width 16, 2 epochs, one thread): every config param of ``jetviz.ui.jetclr.URL_PARAMS`` can
be set in the URL, as ``JETVIZ_JETCLR_<PARAM>`` env vars of the server could. Screenshots go to
``test-artifacts/ui/jetclr*.png``. The store itself is tested without a browser in
``tests/test_ui_jetclr_store.py``.
"""
from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

TIMEOUT_MS = 60_000
TALL = {"width": 1440, "height": 4000}
TINY = {"sample": "toy_top_qcd", "n_jets": 120, "epochs": 2, "d_model": 16, "n_heads": 2, "n_layers": 1,
        "rep_dim": 16, "proj_dim": 8, "n_angles": 7, "n_invariance": 16, "batch_size": 32, "n_constituents": 20,
        "extra_slots": 8, "threads": 1}
SIMILARITY = re.compile(r"trained (-?\d\.\d{6})")


def _number_input(page, name: str):
    return page.get_by_role("spinbutton", name=name).or_(page.get_by_role("textbox", name=name)).first


def _similarity(locator) -> str:
    match = SIMILARITY.search(locator.locator("p").first.inner_text())
    return match.group(1) if match else ""


@pytest.mark.ui
def test_explore_train_and_rotate(page, app_url, artifacts):
    page.set_viewport_size(TALL)  # the template scrolls inside its main area: show the whole page
    page.goto(f"{app_url}?page=jetclr&{urlencode(TINY)}&seed=abc")
    train = page.locator(".jetviz-train button")
    train.wait_for(timeout=TIMEOUT_MS)
    page.get_by_text("Rejected value(s) in the URL: seed='abc'").first.wait_for(timeout=TIMEOUT_MS)
    assert _number_input(page, "Epochs").input_value() == "2"
    table = page.locator(".jetviz-ablation").first
    table.get_by_text("181", exact=True).wait_for(timeout=TIMEOUT_MS)  # the talk's table before any run

    # the augmentation explorer works before any training: the jets load with the page
    page.locator(".jetviz-aug-plots canvas").first.wait_for(timeout=TIMEOUT_MS)
    summary = page.locator(".jetviz-aug-summary").first
    summary.get_by_text(re.compile(r"Jet 0 \((QCD|top)\).*draw 0")).wait_for(timeout=15_000)
    page.locator(".jetviz-new-draw button").click()
    summary.get_by_text(re.compile(r"draw 1")).wait_for(timeout=15_000)
    page.locator(".jetviz-rotated canvas").first.wait_for(timeout=TIMEOUT_MS)

    train.click()
    similarity = page.locator(".jetviz-similarity").first
    similarity.get_by_text(SIMILARITY).wait_for(timeout=TIMEOUT_MS)
    table.locator(".tabulator-cell[tabulator-field='ours AUC']").filter(
        has_text=re.compile(r"^\d\.\d{3}$")).first.wait_for(timeout=TIMEOUT_MS)
    page.locator(".jetviz-numbers").get_by_text("trained AUC").wait_for(timeout=TIMEOUT_MS)
    for css in (".jetviz-roc", ".jetviz-loss", ".jetviz-invariance", ".jetviz-latent", ".jetviz-ablation-bars"):
        page.locator(f"{css} canvas").first.wait_for(timeout=TIMEOUT_MS)
    assert page.locator(".jetviz-error").filter(has_text=re.compile(r"\w")).count() == 0

    # the angle slider rotates the jet: s of the trained encoder changes from 1 at θ = 0
    at_zero = _similarity(similarity)
    handle = page.locator(".jetviz-angle .noUi-handle").first
    handle.focus()
    for _ in range(12):  # 12 steps of 5°
        handle.press("ArrowRight")
    similarity.get_by_text(re.compile(r"θ = 60°")).wait_for(timeout=15_000)
    page.wait_for_timeout(500)
    assert _similarity(similarity) not in ("", at_zero)
    page.mouse.move(0, 0)
    page.wait_for_timeout(500)
    page.screenshot(path=artifacts / "jetclr.png", full_page=True)
    page.locator(".jetviz-invariance").first.screenshot(path=artifacts / "jetclr-invariance.png")

    # a box selection (the active drag tool) in the representation space shows the selected jets' constituents
    latent = page.locator(".jetviz-latent").first
    box = latent.locator("canvas").first.bounding_box()
    page.mouse.move(box["x"] + 0.2 * box["width"], box["y"] + 0.15 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.97 * box["width"], box["y"] + 0.8 * box["height"], steps=8)
    page.mouse.up()
    selection = page.locator(".jetviz-latent-selection").first
    selection.get_by_text(re.compile(r"\d+ jets selected")).wait_for(timeout=15_000)
    selection.locator("canvas").first.wait_for(timeout=15_000)
    page.mouse.move(0, 0)
    page.wait_for_timeout(500)
    page.screenshot(path=artifacts / "jetclr-selection.png", full_page=True)
