"""benchmarks/ui_latency.py imports and parses its options (the benchmark itself is never run in tests)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "ui_latency.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("ui_latency", PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["ui_latency"] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("ui_latency", None)


def test_defaults_quick_and_subsets(bench):
    args = bench.parse_args([])
    assert (args.pages, args.interactions, args.sessions, args.repeats) == (list(bench.PAGES), 30, 10, 5)
    quick = bench.parse_args(["--quick"])
    assert (quick.pages, quick.interactions, quick.sessions) == (["events"], 5, 3)
    assert bench.parse_args(["--quick", "--pages", "jetclr", "runs"]).pages == ["jetclr"]
    args = bench.parse_args(["--pages", "jetclr", "runs", "--interactions", "7", "--sessions", "4", "--port", "5123"])
    assert (args.pages, args.interactions, args.sessions, args.port) == (["jetclr", "runs"], 7, 4, 5123)


@pytest.mark.parametrize("argv", [["--pages", "nope"], ["--sessions", "0"], ["--interactions", "-3"]])
def test_bad_options_are_refused(bench, argv):
    with pytest.raises(SystemExit):
        bench.parse_args(argv)


def test_every_page_has_a_spec_and_the_verdicts(bench):
    assert set(bench.SPECS) == set(bench.PAGES)
    for spec in bench.SPECS.values():
        assert {it.kind for it in spec.interactions} <= set(bench.KINDS)
        assert spec.train is None or spec.train in bench.TRAIN_QUERY
    assert bench.verdict(149.0, 150.0) == "PASS" and bench.verdict(150.0, 150.0) == "MISS"
    assert bench.verdict(None, 150.0) == "n/a"
    assert bench.percentiles([]) == {"n": 0, "p50": None, "p95": None}
    assert bench.percentiles([1.0, 2.0, 3.0])["p50"] == 2.0
