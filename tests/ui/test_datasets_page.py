"""The user's own files in the served dashboard (headless Chromium): a pandas-written top-tagging
file under the data root is offered by the jetclr page's sample selector, trains a tiny run that
shows its plots and says what it was trained on; the events page opens it by deep link."""
from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from datafiles import write_top_tagging_with_pandas

TIMEOUT_MS = 90_000
NAME = "top-tagging/train.h5"
TINY = {"n_jets": 120, "epochs": 2, "d_model": 16, "n_heads": 2, "n_layers": 1, "rep_dim": 16, "proj_dim": 8,
        "n_angles": 7, "n_invariance": 16, "batch_size": 32, "n_constituents": 20, "extra_slots": 8, "threads": 1}


@pytest.fixture(scope="module")
def data_url(tmp_path_factory, serve):
    tmp = tmp_path_factory.mktemp("served-data")
    root = tmp / "jetviz-data"
    write_top_tagging_with_pandas(root / NAME, 300)
    env = {"JETVIZ_DATA": str(root), "JETVIZ_CACHE": str(tmp / "cache"), "JETVIZ_DEFAULT_SAMPLE": "toy_ee_6jet",
           "JETVIZ_DEFAULT_N_EVENTS": "40", "JETVIZ_BACKENDS": "local"}
    with serve(tmp, env, "panel-serve-datasets.log") as url:
        yield url


@pytest.mark.ui
def test_pick_a_file_on_the_jetclr_page_and_train(page, data_url, artifacts):
    page.set_viewport_size({"width": 1440, "height": 4000})
    page.goto(f"{data_url}?page=jetclr&{urlencode({'sample': 'toy_top_qcd', **TINY})}")
    select = page.locator(".jetviz-sample select").first
    select.wait_for(timeout=TIMEOUT_MS)
    label = next(text for text in select.locator("option").all_inner_texts() if text.startswith(NAME))
    assert "300 jets" in label
    select.select_option(label=label)
    page.locator(".jetviz-train button").click()
    page.get_by_text(re.compile(rf"trained on {re.escape(NAME)} \(top-tagging-h5, 300 rows")).first.wait_for(
        timeout=TIMEOUT_MS)
    for css in (".jetviz-roc", ".jetviz-loss", ".jetviz-latent"):
        page.locator(f"{css} canvas").first.wait_for(timeout=TIMEOUT_MS)
    assert page.locator(".jetviz-error").filter(has_text=re.compile(r"\w")).count() == 0
    page.mouse.move(0, 0)
    page.screenshot(path=artifacts / "jetclr-dataset.png", full_page=True)


@pytest.mark.ui
def test_events_page_deep_link_to_a_file(page, data_url, artifacts):
    page.goto(f"{data_url}?page=events&sample={NAME}&n_events=25")
    page.get_by_text(re.compile(r"^event 0 \((signal|background)\): \d+ particles")).first.wait_for(
        timeout=TIMEOUT_MS)
    page.get_by_text(re.compile(rf"{re.escape(NAME)} · 25 events")).first.wait_for(timeout=TIMEOUT_MS)
    page.locator("canvas").first.wait_for(timeout=TIMEOUT_MS)
    page.screenshot(path=artifacts / "events-dataset.png", full_page=True)
    # a name outside the data root in the URL is refused, nothing is read
    page.goto(f"{data_url}?page=events&sample=../../etc/passwd")
    page.get_by_text(re.compile(r"Rejected value\(s\) in the URL: sample=")).first.wait_for(timeout=TIMEOUT_MS)
