"""Serve the real dashboard (``panel serve app/``) in a subprocess and drive it with Playwright.

System Chromium (``/usr/bin/chromium``), headless; browser downloads are impossible here.
The server gets its own sample cache and a toy default sample (``JETVIZ_DEFAULT_SAMPLE``), so
pages load instantly; a test that wants a real Pythia sample asks for it in the URL.
Screenshots go to ``test-artifacts/ui/`` (gitignored).
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import pytest

from jetviz.serve import free_port, running_server

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "ui"
CHROMIUM = "/usr/bin/chromium"
#: toy sample and size the served page loads by default during tests
TEST_SAMPLE, TEST_N_EVENTS = "toy_ee_6jet", 60
#: the classify page's defaults during tests: a toy run that trains in seconds on one thread
CLASSIFY_ENV = {"SAMPLE": "toy_bh_sph", "N_EVENTS": "120", "N_FOLDS": "2", "WIDTH": "2", "EPOCHS": "1",
                "XGB_N_ESTIMATORS": "20", "THREADS": "1"}
#: the vae_emd page's defaults during tests: a toy run (EMDs and VAE) that finishes in seconds on one thread
VAE_EMD_ENV = {"SAMPLE": "toy_top_qcd", "N_JETS": "200", "N_PIX": "16", "LATENT": "8", "CHANNELS": "4", "EPOCHS": "2",
               "N_CORR": "12", "N_POOL": "12", "N_MEDOIDS": "3", "N_ANOMALY": "30", "EMD_JOBS": "1", "THREADS": "1"}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright: use Debian's Chromium, headless, without sandbox or GPU."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A desktop-sized window so the two event plots sit side by side."""
    return {**browser_context_args, "viewport": {"width": 1440, "height": 1000}}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Directory for screenshots (``test-artifacts/ui``)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


#: logs of the servers running now (printed when a browser test fails)
_SERVER_LOGS: list[Path] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test's report ends with the tail of each running server's log (the
    server's side of what went wrong: a traceback of a callback, a worker's error)."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "page" in getattr(item, "fixturenames", ()):
        for log in list(_SERVER_LOGS):
            with contextlib.suppress(OSError):
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-60:])
                report.sections.append((f"server log {log.name} (last 60 lines)", tail))


@contextlib.contextmanager
def serve_app(tmp: Path, env: dict[str, str], log_name: str = "panel-serve.log"):
    """``panel serve app/`` on a free port with ``env`` added to the environment; yields its
    ``http://localhost:P/app`` URL; stops it and keeps its log under ``test-artifacts/ui``.

    The method pages open empty (``JETVIZ_REFERENCE=0``: no reference run) and the server warms
    no page (``JETVIZ_WARM=0``: no page module imported before it is shown) unless ``env`` says
    otherwise."""
    port = free_port()
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:  # each xdist worker serves its own app: keep both logs
        log_name = log_name.replace(".log", f"-{worker}.log")
    log = tmp / log_name
    cmd = [
        sys.executable, "-m", "panel", "serve", "app/", "--port", str(port), "--address", "127.0.0.1",
        "--allow-websocket-origin", f"localhost:{port}", "--allow-websocket-origin", f"127.0.0.1:{port}",
    ]
    url = f"http://localhost:{port}/app"
    _SERVER_LOGS.append(log)
    try:
        with running_server(cmd, url, log, env={**os.environ, "BOKEH_LOG_LEVEL": "info", "JETVIZ_REFERENCE": "0",
                                                "JETVIZ_WARM": "0", **env}, cwd=ROOT):
            yield url
    finally:
        _SERVER_LOGS.remove(log)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        if log.exists():
            (ARTIFACTS / log_name).write_text(log.read_text(errors="replace"))


@pytest.fixture(scope="session")
def serve():
    """:func:`serve_app` for tests that need a server with an environment of their own."""
    return serve_app


@pytest.fixture(scope="session")
def app_runs(tmp_path_factory) -> Path:
    """The runs directory (``$JETVIZ_RUNS``) of the session's server (:func:`app_url`): a test may
    put a finished run there for the pages to list."""
    return tmp_path_factory.mktemp("panel-serve") / "runs"


@pytest.fixture(scope="session")
def app_url(app_runs) -> str:
    """Base URL of ``panel serve app/`` running for this test session (``http://localhost:P/app``)."""
    tmp = app_runs.parent
    env = {
        "JETVIZ_CACHE": str(tmp / "cache"),
        "JETVIZ_RUNS": str(app_runs),
        "JETVIZ_DEFAULT_SAMPLE": TEST_SAMPLE,
        "JETVIZ_DEFAULT_N_EVENTS": str(TEST_N_EVENTS),
        "JETVIZ_BACKENDS": "local,process,kernel:python3",  # the operator allows a second kernel (offload test)
        **{f"JETVIZ_CLASSIFY_{k}": v for k, v in CLASSIFY_ENV.items()},
        **{f"JETVIZ_VAE_EMD_{k}": v for k, v in VAE_EMD_ENV.items()},
    }
    with serve_app(tmp, env) as url:
        yield url


@pytest.fixture()
def wait_changed():
    """``wait_changed(locator, before, timeout_ms=15000)``: screenshots of ``locator`` until they
    differ from the ``before`` bytes; returns the new screenshot or fails the test."""
    def wait(locator, before: bytes, timeout_ms: int = 15_000) -> bytes:
        page = locator.page
        for _ in range(timeout_ms // 250):
            after = locator.screenshot()
            if after != before:
                return after
            page.wait_for_timeout(250)
        raise AssertionError("the plot did not change")

    return wait


@pytest.fixture
def outside_requests(page):
    """``outside(app_url) -> (requested, outside)``: every URL the page requested since the fixture
    was made, and those to another host than the app's (nothing may leave the machine: fonts, CSS
    and JS are bundled or served locally)."""
    from urllib.parse import urlsplit

    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    def outside(app_url: str) -> tuple[list[str], list[str]]:
        origin = urlsplit(app_url).netloc
        return requested, [url for url in requested if urlsplit(url).scheme in ("http", "https", "ws", "wss")
                           and urlsplit(url).netloc != origin]

    return outside
