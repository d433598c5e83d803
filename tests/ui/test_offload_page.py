"""Training from the served app on another backend (a second Jupyter kernel), with live progress,
while a second browser session keeps working (``panel serve app/`` in headless Chromium)."""
from __future__ import annotations

import re

import pytest

TIMEOUT_MS = 180_000
TALL = {"width": 1440, "height": 4200}


def _progress_value(page) -> int | None:
    bar = page.locator(".jetviz-progress progress").first
    if not bar.count() or not bar.is_visible():
        return None
    value = bar.get_attribute("value")
    return int(float(value)) if value not in (None, "") else None


@pytest.mark.ui
def test_train_in_a_kernel_with_live_progress_while_another_session_works(browser, app_url, artifacts):
    trainer = browser.new_context(viewport=TALL).new_page()
    other = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    # a backend the operator did not allow, from a deep link: refused, nothing starts
    trainer.goto(f"{app_url}?page=vae_emd&epochs=10000&batch_size=2&backend=nowhere://x")  # hours: cancelled below
    trainer.locator(".jetviz-train button").wait_for(timeout=TIMEOUT_MS)
    trainer.get_by_text(re.compile(r"Backend 'nowhere://x' is not allowed")).first.wait_for(timeout=30_000)
    backend = trainer.locator(".jetviz-backend select").first
    assert backend.input_value() == "local"
    options = backend.locator("option").all_inner_texts()
    assert options == ["local", "process", "kernel:python3"], options  # the operator's list, nothing to type
    backend.select_option("kernel:python3")
    trainer.locator(".jetviz-train button").click()
    where = trainer.locator(".jetviz-where").first
    where.get_by_text(re.compile(r"Training on .+ device cpu; no GPU\) via kernel:python3")).wait_for(
        timeout=TIMEOUT_MS)

    # a second session loads and draws another page while the kernel trains
    other.goto(f"{app_url}?page=events")
    other.locator("canvas").first.wait_for(timeout=TIMEOUT_MS)
    still_training = trainer.locator(".jetviz-cancel button").first.is_enabled()
    other.screenshot(path=artifacts / "offload-second-session.png")

    # the trainer's progress bar moves with the kernel's events; then Cancel stops the kernel's run
    seen = set()
    for _ in range(TIMEOUT_MS // 250):
        value = _progress_value(trainer)
        if value is not None:
            seen.add(value)
        if any(0 < v < 100 for v in seen) and trainer.locator(".jetviz-loss canvas").count():
            break
        trainer.wait_for_timeout(250)
    assert still_training, "the second session finished loading only after the training"
    assert any(0 < v < 100 for v in seen), f"no intermediate progress seen: {sorted(seen)}"
    trainer.mouse.move(0, 0)
    trainer.wait_for_timeout(500)
    trainer.screenshot(path=artifacts / "offload-kernel.png", full_page=True)
    trainer.locator(".jetviz-cancel button").click()
    trainer.locator(".jetviz-notice").get_by_text(re.compile(r"Cancelled: .*checkpoint is kept")).wait_for(
        timeout=TIMEOUT_MS)
    assert trainer.locator(".jetviz-error").filter(has_text=re.compile(r"\w")).count() == 0
    assert trainer.locator(".jetviz-train button").is_enabled()  # the page is ready for the next run
