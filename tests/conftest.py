"""Shared fixtures: every test run gets its own sample cache (never the user's)."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    if "JETVIZ_CACHE" not in os.environ or not os.environ.get("JETVIZ_TEST_KEEP_CACHE"):
        os.environ["JETVIZ_CACHE"] = str(tmp_path_factory.mktemp("jetviz-cache"))
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
