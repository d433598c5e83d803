"""Figures of the benchmarks as PNG: HoloViews (bokeh) → HTML → headless Chromium screenshot.

:func:`save_figure` writes ``<folder>/<name>.png``; without Chromium (or Playwright) it keeps
the figure as ``<folder>/<name>.html`` instead, and so it does when the environment variable
``JETVIZ_BENCH_FIGURES`` is ``html`` (quick runs: no browser start per figure).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"


def screenshot(html: Path, png: Path) -> None:
    """PNG of the bokeh plots in ``html``, cropped to their canvases."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900}, device_scale_factor=2)
            page.goto(html.resolve().as_uri())
            page.wait_for_function("() => window.Bokeh !== undefined && Bokeh.documents.length > 0", timeout=30_000)
            page.wait_for_timeout(800)
            boxes = [b for b in (loc.bounding_box() for loc in page.locator("canvas, .bk-Div").all()) if b and b["width"] > 0]
            left, top = min(b["x"] for b in boxes), min(b["y"] for b in boxes)
            right = max(b["x"] + b["width"] for b in boxes)
            bottom = max(b["y"] + b["height"] for b in boxes)
            page.screenshot(path=str(png), clip={"x": max(left - 8, 0), "y": max(top - 8, 0),
                                                 "width": right - left + 16, "height": bottom - top + 16})
        finally:
            browser.close()


def save_figure(figure, folder: Path, name: str) -> str:
    """Write ``figure`` (a HoloViews object) as ``folder/name.png`` (HTML if no PNG); return the path."""
    import holoviews as hv
    from bokeh.resources import CDN, INLINE

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if Path(CHROMIUM).exists() and os.environ.get("JETVIZ_BENCH_FIGURES", "png") != "html":
        try:
            with tempfile.TemporaryDirectory() as scratch:
                html = Path(scratch) / f"{name}.html"
                hv.save(figure, html, backend="bokeh", resources=INLINE)
                screenshot(html, folder / f"{name}.png")
            return str(folder / f"{name}.png")
        except Exception as err:  # no playwright / browser failure: keep the HTML instead
            print(f"  PNG export of {name} failed ({type(err).__name__}: {err}); writing HTML")
    hv.save(figure, folder / f"{name}.html", backend="bokeh", resources=CDN)
    return str(folder / f"{name}.html")
