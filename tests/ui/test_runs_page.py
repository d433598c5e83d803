"""The runs page served for real (``panel serve app/``) in headless Chromium.

The server of this module gets its own run registry (``$JETVIZ_REGISTRY``) and runs directory
(``$JETVIZ_RUNS``), pre-filled here with two finished tiny jetclr runs and one cancelled run
(the conftest's shared server knows nothing of them). Screenshots go to
``test-artifacts/ui/runs*.png``. The store itself is tested without a browser in
``tests/test_ui_registry.py``.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from jetviz.compute import Registry, submit
from jetviz.runners.jetclr import JetclrConfig

TIMEOUT_MS = 60_000
TALL = {"width": 1440, "height": 1600}
DONE = re.compile(r"Resumed run \w+: done")
#: a jetclr run of toy jets: well under a second per epoch on a busy CPU
TINY = dict(sample="toy_top_qcd", n_jets=160, d_model=8, n_heads=2, n_layers=1, rep_dim=8, proj_dim=4, batch_size=16,
            n_angles=5, n_invariance=16, threads=1, n_constituents=20, extra_slots=4)
def _fill(registry: Registry) -> dict:
    """Two finished runs (2 and 3 epochs) and one cancelled run of 120 epochs (its first few done)."""
    ids = {}
    for name, epochs in (("done2", 2), ("done3", 3)):
        job = submit("jetclr", JetclrConfig(**TINY, epochs=epochs), "local", registry=registry)
        job.result(120)
        ids[name] = job.id
    job = submit("jetclr", JetclrConfig(**TINY, epochs=120), "local", registry=registry)
    for event in job.stream(poll=0.2):
        if event.get("kind") == "epoch":
            job.cancel()
            break
    assert job.wait(120) and job.status == "cancelled", job.error
    ids["cancelled"] = job.id
    return ids


@pytest.fixture(scope="module")
def runs_app(serve):
    """``(url, run ids, registry)`` of ``panel serve app/`` reading a pre-filled temporary registry.

    Its own temporary directory, not pytest's ``tmp_path_factory``: pytest sessions running
    beside this one prune all but the three newest base directories, run directories included.
    """
    tmp = Path(tempfile.mkdtemp(prefix="jetviz-runs-page-"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JETVIZ_RUNS", str(tmp / "runs"))
        registry = Registry(tmp / "registry.sqlite")
        ids = _fill(registry)
    env = {"JETVIZ_CACHE": str(tmp / "cache"), "JETVIZ_RUNS": str(tmp / "runs"), "JETVIZ_REGISTRY": str(registry.path)}
    try:
        with serve(tmp, env, "panel-serve-runs.log") as url:
            yield url, ids, registry
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _row(page, run_id: str):
    return page.locator(".jetviz-runs-table .tabulator-row").filter(has_text=run_id).first


def _tick(page, run_id: str) -> None:
    """Tick the selection checkbox of run ``run_id``'s row."""
    _row(page, run_id).locator("input[type='checkbox']").first.click()


@pytest.mark.ui
def test_list_compare_and_resume(page, runs_app, artifacts):
    url, ids, registry = runs_app
    page.set_viewport_size(TALL)
    page.goto(f"{url}?page=runs")
    table = page.locator(".jetviz-runs-table").first
    for run_id in ids.values():
        _row(page, run_id).wait_for(timeout=TIMEOUT_MS)
    assert table.locator(".tabulator-row").count() == 3
    assert _row(page, ids["cancelled"]).locator("[tabulator-field='status']").inner_text() == "cancelled"
    assert _row(page, ids["done2"]).locator("[tabulator-field='status']").inner_text() == "done"
    assert page.locator(".jetviz-error").filter(has_text=re.compile(r"\w")).count() == 0

    # two finished runs selected: their curves compared, the last one's metrics and reopen link
    _tick(page, ids["done2"])
    _tick(page, ids["done3"])
    page.locator(".jetviz-compare canvas").first.wait_for(timeout=TIMEOUT_MS)
    link = page.locator("a.jetviz-reopen-link").first
    run_dir = registry.get(ids["done3"], history=False).run_dir
    # the link follows the last ticked run (the first tick shows done2's link until the second lands)
    expect(link).to_have_attribute("href", f"?page=jetclr&run={Path(run_dir).name}", timeout=TIMEOUT_MS)
    page.locator(".jetviz-run-metrics").get_by_text("auc", exact=True).wait_for(timeout=TIMEOUT_MS)
    page.mouse.move(0, 0)
    page.wait_for_timeout(800)
    page.screenshot(path=artifacts / "runs-compare.png", full_page=True)

    # the cancelled run: Resume, watch the bar move, the run ends done
    _tick(page, ids["cancelled"])  # a third run: the first of the two is dropped
    expect(_row(page, ids["done2"]).locator("input[type='checkbox']").first).not_to_be_checked(timeout=15_000)
    resume = page.locator(".jetviz-resume button")
    page.locator(".jetviz-focus").get_by_text("Interrupted").wait_for(timeout=TIMEOUT_MS)
    resume.click()
    bar = page.locator(".jetviz-resume-progress progress").first
    final = page.locator(".jetviz-final-status").first
    values = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        value = bar.get_attribute("value") if bar.count() else None
        if value is not None:
            values.append(int(float(value)))
        if final.get_by_text(DONE).count():
            break
        if len(values) == 3:
            page.screenshot(path=artifacts / "runs-resuming.png", full_page=True)
        page.wait_for_timeout(150)
    assert final.get_by_text(DONE).count(), (values[-5:], page.locator(".jetviz-status").all_inner_texts(),
                                          page.locator(".jetviz-error").all_inner_texts())
    assert any(0 < v < 100 for v in values), values  # the bar moved
    assert values[-1] == 100 or int(float(bar.get_attribute("value"))) == 100
    _row(page, ids["cancelled"]).locator("[tabulator-field='status']").filter(has_text="done").wait_for(
        timeout=TIMEOUT_MS)
    assert [h["epoch"] for h in registry.get(ids["cancelled"]).history] == list(range(1, 121))
    assert page.locator(".jetviz-error").filter(has_text=re.compile(r"\w")).count() == 0
    page.mouse.move(0, 0)
    page.wait_for_timeout(800)
    page.screenshot(path=artifacts / "runs.png", full_page=True)
