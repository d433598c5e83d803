"""The vae_emd page served for real (``panel serve app/``) in headless Chromium.

The server's vae_emd defaults are a toy run (``VAE_EMD_ENV`` in ``conftest.py``: toy_top_qcd,
200 jets, 16 × 16 images, 4 channels, 2 epochs, 12 jets for the correlation pairs, one thread);
the URL query overrides them. Screenshots go to ``test-artifacts/ui/vae_emd*.png``. The store
itself is tested without a browser in ``tests/test_ui_vae_emd_store.py``.
"""
from __future__ import annotations

import re

import pytest

TIMEOUT_MS = 60_000
TALL = {"width": 1440, "height": 4200}
R_VALUE = re.compile(r"^-?\d\.\d{2}$")


def _number_input(page, name: str):
    return page.get_by_role("spinbutton", name=name).or_(page.get_by_role("textbox", name=name)).first


@pytest.mark.ui
def test_train_then_pick_two_jets(page, app_url, artifacts):
    page.set_viewport_size(TALL)  # the template scrolls inside its main area: show the whole page
    page.goto(f"{app_url}?page=vae_emd&epochs=1&n_jets=abc")
    train = page.locator(".jetviz-train button")
    train.wait_for(timeout=TIMEOUT_MS)
    page.get_by_text("Rejected value(s) in the URL: n_jets='abc'").first.wait_for(timeout=TIMEOUT_MS)
    table = page.locator(".jetviz-correlations").first
    table.get_by_text("0.79", exact=True).wait_for(timeout=TIMEOUT_MS)  # the talk's table before any run
    assert _number_input(page, "Epochs").input_value() == "1"

    train.click()
    # results: our r next to the talk's, ROC curves of the three scores, densities, pairs, latent space
    page.locator(".jetviz-roc canvas").first.wait_for(timeout=TIMEOUT_MS)
    table.locator(".tabulator-cell[tabulator-field='this run r (p=0.5)']").filter(
        has_text=R_VALUE).first.wait_for(timeout=TIMEOUT_MS)
    assert table.get_by_text("latent means μ").count() == 1
    for css in (".jetviz-densities", ".jetviz-pairs", ".jetviz-transport", ".jetviz-pair-images", ".jetviz-latent",
                ".jetviz-loss"):
        page.locator(f"{css} canvas").first.wait_for(timeout=TIMEOUT_MS)
    assert page.locator(".jetviz-error").filter(has_text=re.compile(r"\w")).count() == 0
    page.mouse.move(0, 0)
    page.wait_for_timeout(500)
    page.screenshot(path=artifacts / "vae_emd.png", full_page=True)

    # pick two jets by number: the summary and the transport plan follow
    summary = page.locator(".jetviz-pair-summary").first
    summary.get_by_text(re.compile(r"total flow 1\.000")).wait_for(timeout=15_000)
    jet_a, jet_b = _number_input(page, "Jet A"), _number_input(page, "Jet B")
    jet_a.fill("7")
    jet_a.press("Enter")
    jet_b.fill("150")
    jet_b.press("Enter")
    summary.get_by_text(re.compile(r"Jet 7 \((QCD|top)\) → jet 150 \((QCD|top)\)")).wait_for(timeout=15_000)
    assert "total flow 1.000" in summary.locator("p").first.inner_text()
    plan = page.locator(".jetviz-transport").first
    plan.locator("canvas").first.wait_for(timeout=15_000)
    page.mouse.move(0, 0)
    page.wait_for_timeout(800)
    plan.screenshot(path=artifacts / "vae_emd-transport.png")
    page.locator(".jetviz-pair-images").first.screenshot(path=artifacts / "vae_emd-pair.png")
    page.screenshot(path=artifacts / "vae_emd-pair-page.png", full_page=True)
