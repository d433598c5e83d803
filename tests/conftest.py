"""Shared fixtures: every test run gets its own sample cache (never the user's)."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    if "JETVIZ_CACHE" not in os.environ or not os.environ.get("JETVIZ_TEST_KEEP_CACHE"):
        os.environ["JETVIZ_CACHE"] = str(tmp_path_factory.mktemp("jetviz-cache"))
    yield
