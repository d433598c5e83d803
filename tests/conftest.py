"""Shared fixtures: every test run gets its own sample cache and data root (never the user's)."""
from __future__ import annotations

import os

import pytest

#: one compute thread per process: ``make test`` runs two xdist workers on two cores, and the servers,
#: kernels and worker processes the tests start inherit this; torch's spinning OpenMP threads on
#: oversubscribed cores slow every training several-fold
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    if "JETVIZ_CACHE" not in os.environ or not os.environ.get("JETVIZ_TEST_KEEP_CACHE"):
        os.environ["JETVIZ_CACHE"] = str(tmp_path_factory.mktemp("jetviz-cache"))
    os.environ["JETVIZ_DATA"] = str(tmp_path_factory.mktemp("jetviz-data"))  # never the user's data root
    yield


@pytest.fixture
def one_torch_thread():
    """Small convolutions are fastest on one thread; several threads on shared cores spin and crawl.

    Modules that train use it for every test: ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def reset_panel_state():
    """Panel's global state (sessions, periodic callbacks, caches) cleared after the test.

    Store and page test modules use it for every test: ``pytestmark = pytest.mark.usefixtures("reset_panel_state")``.
    """
    yield
    import panel as pn

    pn.state.reset()


@pytest.fixture()
def runs(tmp_path, monkeypatch):
    """An empty runs directory for this test (``$JETVIZ_RUNS``)."""
    monkeypatch.setenv("JETVIZ_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


@pytest.fixture(scope="session")
def train_rendered():
    """``train(make_page, root) -> (page, seen)``: a page (made with ``$JETVIZ_RUNS=root``) is
    rendered and its store trains one run, blocking, so every view's watchers run during the
    training; ``seen`` holds the history length at each update. The rendered document is
    cleaned up afterwards, so later tests can change the store's params without it."""
    def train(make_page, root):
        import panel as pn

        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("JETVIZ_RUNS", str(root))
            page = make_page()
            view = pn.panel(page)
            model = view.get_root()
            seen: list[int] = []
            page.store.param.watch(lambda e: seen.append(len(e.new)), "history")
            page.store.train(blocking=True)
            view._cleanup(model)
        pn.state.reset()
        return page, seen

    return train


@pytest.fixture(scope="session")
def train_then_cancel():
    """``run(store, polls, timeout) -> progress values``: train in the background under a running
    event loop (so the work goes to a thread), press Cancel as soon as the live history has a
    row, and wait until the store stops. The loop runs in a thread of its own, since
    pytest-playwright keeps an event loop running in the main thread."""
    import asyncio
    import threading

    def run(store, polls: int = 1200, timeout: float = 120) -> list:
        seen: list = []
        store.param.watch(lambda e: seen.append(e.new), "progress")

        async def main():
            store.train(blocking=False)
            assert store.running and store.training  # returned at once
            for _ in range(polls):
                if store.history:  # the live history arrived: cancel
                    store.cancel_button = True
                if not store.running:
                    return
                await asyncio.sleep(0.05)

        loop = threading.Thread(target=asyncio.run, args=(main(),))
        loop.start()
        loop.join(timeout=timeout)
        return seen

    return run


#: test files that run longest (real JupyterLab, served pages in Chromium): ``make test`` hands whole
#: files to its two workers (``--dist loadfile``, so a module's fixtures are made once) in collection
#: order, and starting with the long ones keeps a long file from running alone at the end
LONG_FIRST = ("tests/test_notebooks.py", "tests/ui/", "tests/test_gpu_full.py", "tests/test_runner_classify.py")


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        path = item.nodeid.split("::")[0]
        return next((i for i, prefix in enumerate(LONG_FIRST) if path.startswith(prefix)), len(LONG_FIRST))

    items.sort(key=rank)  # stable: the order inside a file is kept
