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
    assert not args.skip_load and bench.parse_args(["--skip-load"]).skip_load


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


def test_table_of_full_and_partial_results(bench):
    full = {"page": "events", "reference": False, "plots_present": ["jetviz-scatter"], "plots_absent": [],
            "first_render": {"samples": [1000.0, 2000.0]},
            "alone": {"slider": {"interaction": "a → .b", "samples": [100.0] * 3, "misses": 0},
                      "select": {"interaction": "c → .d", "samples": [90.0], "misses": 2},
                      "tap": {"absent": "the page has no widget of this kind"}},
            "sessions": {"n": 10, "ms": 12_000.0}}
    partial = {"page": "jetclr", "phase": "10 sessions at once", "error": "TimeoutError: slow",
               "reference": False, "plots_present": [], "plots_absent": ["jetviz-roc"],
               "first_render": {"samples": [4000.0]}, "alone": {}}
    text = bench.table([full, partial, {"page": "runs", "phase": "first render", "error": "RuntimeError: x"}])
    assert "| events | first render | 2 | 1.50 s |" in text and "< 3.00 s | PASS |" in text
    assert "| events | slider, 1 session | 3 | 100 ms | 100 ms | p95 < 150 ms | PASS |" in text
    assert "| events | select, 1 session | 1 | 90 ms | 90 ms | p95 < 150 ms | MISS (2 without redraw" in text
    assert "none: the page has no widget of this kind" in text
    assert "| events | 10 sessions at once → all rendered | 1 | 12.00 s | | < 10.00 s | MISS |" in text
    assert "| jetclr | first render | 1 | 4.00 s | 4.00 s | < 3.00 s | MISS |" in text
    assert "| jetclr | error in 10 sessions at once |" in text and "| runs | error in first render |" in text
