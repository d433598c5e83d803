"""With reference runs on (``JETVIZ_REFERENCE=1``), every method page opens showing its shipped
reference run, labelled as such, with its plots drawn, nothing trained, and nothing requested from
another host than the dashboard's.

The other browser tests serve with ``JETVIZ_REFERENCE=0`` (pages open empty). Screenshots go to
``test-artifacts/ui/reference-<page>.png``.
"""
from __future__ import annotations

import re

import pytest

TIMEOUT_MS = 90_000
#: a page's first session on a fresh server imports torch and the page's modules: slow on 2 busy cores
FIRST_LOAD_MS = 240_000
TALL = {"width": 1440, "height": 4000}
#: page → plots (css classes) that hold a canvas once the reference run is shown
PLOTS = {
    "colorize": (".jetviz-energy-map", ".jetviz-predicted", ".jetviz-truth", ".jetviz-heatmaps", ".jetviz-loss",
                 ".jetviz-masses"),
    "classify": (".jetviz-accuracy-bars", ".jetviz-roc", ".jetviz-confusion", ".jetviz-importance", ".jetviz-curves",
                 ".jetviz-event-images", ".jetviz-examples"),
    "vae_emd": (".jetviz-roc", ".jetviz-densities", ".jetviz-pairs", ".jetviz-transport", ".jetviz-pair-images",
                ".jetviz-latent", ".jetviz-loss"),
    "jetclr": (".jetviz-roc", ".jetviz-loss", ".jetviz-invariance", ".jetviz-latent", ".jetviz-aug-plots",
               ".jetviz-rotated", ".jetviz-ablation-bars"),
}


@pytest.fixture(scope="module")
def reference_url(serve, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("panel-serve-reference")
    env = {"JETVIZ_REFERENCE": "1", "JETVIZ_WARM": "1", "JETVIZ_CACHE": str(tmp / "cache"),
           "JETVIZ_RUNS": str(tmp / "runs")}
    with serve(tmp, env, log_name="panel-serve-reference.log") as url:
        yield url, tmp / "runs"


@pytest.mark.ui
@pytest.mark.parametrize("name", list(PLOTS))
def test_method_page_opens_with_its_reference_run(page, reference_url, artifacts, outside_requests, name):
    url, runs = reference_url
    page.set_viewport_size(TALL)
    page.goto(f"{url}?page={name}")
    label = page.locator(".jetviz-reference").first.get_by_text(
        re.compile(r"Reference run — .+, \d+ (events|jets), \d+ epochs, (cpu|cuda), \d{4}-\d\d-\d\d")).first
    label.wait_for(timeout=FIRST_LOAD_MS)
    assert "jetviz reference build" in label.inner_text()
    for css in PLOTS[name]:
        page.locator(f"{css} canvas").first.wait_for(timeout=TIMEOUT_MS)
    assert page.locator(".jetviz-error").filter(has_text=re.compile(r"\w")).count() == 0
    assert page.locator(".jetviz-train button").first.is_enabled()
    page.wait_for_timeout(1000)  # late requests (fonts, lazily loaded bundles)
    requested, outside = outside_requests(url)
    assert requested and not outside, outside
    page.screenshot(path=str(artifacts / f"reference-{name}.png"), full_page=True)
    assert not (runs.exists() and any(runs.glob(f"{name}-*")))  # nothing trained, no run directory made
