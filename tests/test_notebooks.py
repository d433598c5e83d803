"""The notebooks in ``notebooks/``, run in a real JupyterLab driven by headless Chromium, offline.

One ``jupyter lab`` serves a copy of each notebook with its parameters shrunk (papermill style:
:data:`PARAMETERS` injected as a cell right after the cell tagged ``parameters``). For each
notebook the test opens it, runs *Run All Cells* from the menu, and checks that

- every cell ran and none produced an error (the notebook is saved and its outputs read back);
- its plots are live Bokeh canvases, in the cell outputs and in the ipywidget (``jupyter_bokeh``)
  view of its interactive page;
- moving a widget of the interactive page redraws its plot (the kernel answered);
- the page requested nothing from any host but the JupyterLab server (no CDN, no fonts).

Each notebook is executed once, here. Screenshots go to ``test-artifacts/notebooks/``.
"""
from __future__ import annotations

import os
import secrets
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest

from jetviz.serve import free_port, running_server

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts" / "notebooks"
CHROMIUM = "/usr/bin/chromium"
#: notebook file name → parameter values for the tests (small samples, few epochs)
PARAMETERS: dict[str, dict] = {
    "01_events.ipynb": {"sample": "ee_6jet", "n_events": 60, "seed": 1},
    "02_colorize.ipynb": {"sample": "ee_6jet", "n_train": 32, "n_test": 16, "epochs": 1, "base_channels": 4,
                          "depth": 2, "n_show": 4},
    "03_classify.ipynb": {"sample": "toy_bh_sph", "n_events": 60, "n_folds": 2, "width": 2, "epochs": 1,
                          "batch_size": 16, "threads": 1},
    "04_vae_emd.ipynb": {"sample": "toy_top_qcd", "n_jets": 80, "epochs": 1, "channels": 2, "latent": 8, "n_corr": 8,
                         "n_pool": 8, "n_medoids": 2, "n_anomaly": 16, "emd_jobs": 1, "threads": 1},
    "05_jetclr.ipynb": {"sample": "toy_top_qcd", "n_jets": 120, "epochs": 1, "d_model": 16, "n_heads": 2,
                        "rep_dim": 16, "proj_dim": 8, "batch_size": 32, "n_constituents": 20, "extra_slots": 8,
                        "n_angles": 7, "n_invariance": 16, "threads": 1},
}
#: notebook → (how to move a widget of its interactive page, the plot that must redraw)
INTERACTIONS: dict[str, tuple[tuple[str, str], str]] = {
    "01_events.ipynb": (("slider", ".jetviz-event-slider"), ".jetviz-scatter"),
    "02_colorize.ipynb": (("slider", ".jetviz-crf-slider"), ".jetviz-predicted"),
    "03_classify.ipynb": (("button:class average", ".jetviz-examples-show"), ".jetviz-examples"),
    "04_vae_emd.ipynb": (("number", ".jetviz-jet-a"), ".jetviz-pair-images"),
    "05_jetclr.ipynb": (("slider", ".jetviz-angle"), ".jetviz-rotated"),
}
RUN_TIMEOUT_S = int(os.environ.get('JETVIZ_NOTEBOOK_TIMEOUT', 420))


def inject_parameters(nb: nbformat.NotebookNode, values: dict) -> nbformat.NotebookNode:
    """A copy of ``nb`` with ``name = value`` lines in a cell after the ``parameters`` cell."""
    import copy

    nb = copy.deepcopy(nb)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not tagged:
        raise AssertionError("notebook has no cell tagged 'parameters'")
    source = "\n".join(f"{name} = {value!r}" for name, value in values.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(tagged[0] + 1, cell)
    return nb


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A ``jupyter lab`` on loopback serving shrunk copies of the notebooks: ``(base URL, token, root)``."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)")
    root = tmp_path_factory.mktemp("lab")
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nb = inject_parameters(nb, PARAMETERS.get(path.name, {}))
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
        nbformat.write(nb, root / path.name)
    outside = tmp_path_factory.mktemp("lab-config")
    settings = outside / "lab-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # every cell in the DOM (no windowing), so the test sees every prompt and output
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none", "autoStartDefaultKernel": true}')
    (outside / "lab-settings" / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (outside / "lab-settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}')
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JETVIZ_RUNS": str(outside / "runs"), "PYTHONPATH": str(ROOT)}
    log = outside / "lab.log"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--allow-root",
               f"--LabApp.user_settings_dir={outside / 'lab-settings'}", f"--LabApp.workspaces_dir={outside}",
               "--LabApp.news_url=",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    base = f"http://127.0.0.1:{port}"
    try:
        with running_server(command, f"{base}/api/status?token={token}", log, env=env, cwd=root, timeout=90):
            yield base, token, root
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        if log.exists():
            (ARTIFACTS / "jupyterlab.log").write_text(log.read_text(errors="replace"))


@pytest.fixture(scope="module")
def chromium(playwright):
    """Debian's Chromium, launched from pytest-playwright's session-wide Playwright (one per worker:
    a second ``sync_playwright()`` beside it, once a browser test has run on the worker, is refused)."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
    yield browser
    browser.close()


def _unexecuted(page) -> int:
    return page.evaluate("""() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
                              .filter(p => !/\\[\\d+\\]/.test(p.textContent)).length""")


def _saved(path: Path, timeout_s: float = 60.0) -> nbformat.NotebookNode:
    """The notebook as JupyterLab saved it, with outputs (waits for the save to complete)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            nb = nbformat.read(path, as_version=4)
            if any(c.get("outputs") for c in nb.cells if c.cell_type == "code"):
                return nb
        except Exception:  # mid-write
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            return nb
        time.sleep(0.5)


def _select_kernel(page) -> None:
    """Answer JupyterLab's "Select Kernel" dialog (it can come when the kernel preference is not read)."""
    select = page.locator(".jp-Dialog").get_by_role("button", name="Select")
    if select.count():
        select.first.click()


def _move(page, how: tuple[str, str]) -> None:
    kind, selector = how
    widget = page.locator(f".jp-OutputArea {selector}").first
    widget.scroll_into_view_if_needed()
    if kind == "slider":
        widget.locator(".noUi-handle").first.press("ArrowRight")
    elif kind.startswith("button:"):
        widget.get_by_role("button", name=kind.partition(":")[2]).first.click()
    else:
        box = widget.locator("input").first
        value = int(box.input_value() or 0)
        box.fill(str(value + 1))
        box.press("Tab")  # the change commits on blur (JupyterLab takes Enter for its own shortcut)


def _changed(locator, before: bytes, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if locator.screenshot() != before:
            return True
        locator.page.wait_for_timeout(300)
    return False


def test_notebooks_are_committed_without_outputs():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{path.name}: outputs committed"
        assert path.name in PARAMETERS and path.name in INTERACTIONS, f"{path.name} has no test parameters"


@pytest.mark.notebook
@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebook_runs_and_reacts_in_jupyterlab_offline(lab, chromium, name):
    base, token, root = lab
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        page.goto(f"{base}/lab/tree/{name}?reset&token={token}")  # a fresh workspace: this notebook only
        page.locator(".jp-Notebook .jp-CodeCell").first.wait_for(timeout=120_000)
        page.wait_for_timeout(2000)  # a "Select Kernel" dialog, when it comes, comes now
        _select_kernel(page)
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=120_000)
        page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})  # focus the notebook
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells").first.click()
        page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt", has_text="*").first.wait_for(timeout=30_000)
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while _unexecuted(page) and time.monotonic() < deadline:
            _select_kernel(page)
            page.wait_for_timeout(1000)
        if _unexecuted(page):
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=ARTIFACTS / f"{Path(name).stem}-stuck.png")
        assert _unexecuted(page) == 0, f"{name}: cells still running after {RUN_TIMEOUT_S} s"
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=120_000)
        page.wait_for_timeout(2000)  # the last outputs render

        # every cell ran without an error (read back from the saved notebook)
        page.keyboard.press("Control+s")
        saved = _saved(root / name)
        errors = [o for c in saved.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.output_type == "error"]
        assert not errors, f"{name}: {errors[0]['ename']}: {errors[0]['evalue']}"
        assert all(c.get("execution_count") for c in saved.cells if c.cell_type == "code" and c.source.strip())

        # live plots, in the outputs and in the ipywidget view of the page (the last cell)
        assert page.locator(".jp-OutputArea canvas").count() >= 3, f"{name}: no live Bokeh plots"
        widget_view = page.locator(".jp-Notebook .jp-CodeCell").last
        widget_view.scroll_into_view_if_needed()
        widget_view.locator("canvas").first.wait_for(timeout=60_000)

        # moving a widget of the interactive page redraws its plot: the kernel answered
        how, plot = INTERACTIONS[name]
        target = page.locator(f".jp-OutputArea {plot}").first
        target.scroll_into_view_if_needed()
        target.locator("canvas").first.wait_for(timeout=60_000)
        before = target.screenshot()
        _move(page, how)
        assert _changed(target, before), f"{name}: moving {how[1]} did not redraw {plot}"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"{Path(name).stem}.png")

        # nothing but the JupyterLab server was asked for anything
        origin = urlsplit(base).netloc
        outside = sorted({u for u in requested if urlsplit(u).scheme in ("http", "https", "ws", "wss")
                          and urlsplit(u).netloc != origin})
        assert not outside, f"{name} requested {outside[:5]}"
    finally:
        context.close()
