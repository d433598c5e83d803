"""benchmarks/gpu_full.sh: the one-shot GPU run, checked end to end by its --dry-run (toy samples, CPU).

The dry run runs every phase of the real run (parallel sample generation first, then the four
benchmark scripts with their JSON and the summary) at tiny sizes, so a GPU machine's minutes are
spent running, not debugging.
"""
from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_full.sh"
SUMMARY = ROOT / "benchmarks" / "gpu_summary.py"

#: phase → keys its JSON must have (what the summary and a reader of the results use)
EXPECTED = {
    "samples": ("samples", "workers", "wall_s"),
    "colorize": ("table", "throughput", "settings", "zero_padding", "figures", "wall_s"),
    "classify": ("table", "metrics", "throughput", "config", "wall_s"),
    "vae_emd": ("correlation_table", "beta_scan", "best", "config", "wall_s"),
    "jetclr": ("ablation", "invariance", "throughput", "config", "wall_s"),
}


def _env(tmp_path: Path) -> dict:
    return {**os.environ, "PYTHON": sys.executable, "JETVIZ_CACHE": str(tmp_path / "cache"),
            "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")  # made once: ``make test`` hands a whole file to one worker (--dist loadfile)
def dry_run(tmp_path_factory):
    """(completed process, out dir) of one ``gpu_full.sh --dry-run --out <tmp>``."""
    tmp = tmp_path_factory.mktemp("gpu-full")
    out = tmp / "out"
    done = subprocess.run(["bash", str(SCRIPT), "--dry-run", "--out", str(out)], capture_output=True, text=True,
                          env=_env(tmp), cwd=str(tmp), timeout=600)
    return done, out


def test_dry_run_exits_0_and_every_phase_ok(dry_run):
    done, out = dry_run
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    with open(out / "phases.tsv", newline="") as handle:
        phases = {row["phase"]: row for row in csv.DictReader(handle, delimiter="\t")}
    assert list(phases) == list(EXPECTED)
    for name, row in phases.items():
        assert row["status"] in ("ok", "ok-abort-at-exit"), (name, row)
        assert float(row["wall_s"]) > 0
        assert (out / "logs" / f"{name}.log").stat().st_size > 0
    # phase 0 generated the samples; the benchmark phases found every chunk in the cache
    assert int(phases["samples"]["new_sample_files"]) > 0
    assert all(int(phases[name]["new_sample_files"]) == 0 for name in EXPECTED if name != "samples"), phases
    assert "WARNING: phase" not in done.stdout


def test_dry_run_writes_each_phase_json(dry_run):
    _, out = dry_run
    for name, keys in EXPECTED.items():
        data = json.loads((out / "json" / f"{name}.json").read_text())
        assert set(keys) <= set(data), (name, sorted(set(keys) - set(data)))
    samples = json.loads((out / "json" / "samples.json").read_text())["samples"]
    assert {row["sample"] for row in samples} == {"toy_ee_6jet", "toy_bh_sph", "toy_top_qcd"}
    assert all(row["events"] == row["n"] for row in samples)
    colorize = json.loads((out / "json" / "colorize.json").read_text())
    assert [(row["n_train"], row["crf"]) for row in colorize["table"]] == [(16, False), (16, True), (24, False), (24, True)]
    assert all(0.0 <= row["accuracy_test"] <= 1.0 for row in colorize["table"])
    assert colorize["settings"]["depth"] == 1 and colorize["device"] == "cpu"
    assert all(Path(f).exists() for f in colorize["figures"])
    classify = json.loads((out / "json" / "classify.json").read_text())
    assert {row["model"] for row in classify["table"]} == {"resnet", "xgb_high"}
    assert [row["row"] for row in json.loads((out / "json" / "jetclr.json").read_text())["ablation"]] == ["all"]
    # the dry run's --seeds (2 each): mean ± std over seeds, with the per-seed values
    assert [row["row"] for row in colorize["seeds"]["rows"]] == ["circular", "circular + CRF", "zero"]
    assert all(row["n_seeds"] == 2 and len(row["accuracy_test"]["values"]) == 2 for row in colorize["seeds"]["rows"])
    assert classify["seeds"]["seeds"] == [1, 2] and all(row["accuracy"]["n"] == 2 for row in classify["seeds"]["rows"])
    vae = json.loads((out / "json" / "vae_emd.json").read_text())
    assert [(row["n_down"], row["n_seeds"]) for row in vae["seeds"]["rows"]] == [(3, 2)]
    bars = json.loads((out / "json" / "jetclr.json").read_text())["error_bars"]
    assert bars["test_sample"] == "separate" and bars["n_test"] == 100 and bars["seeds"] == [0, 1]
    assert bars["rows"][0]["auc"]["n"] == 2 and bars["rows"][0]["auc_bootstrap_std"] >= 0


def test_dry_run_summary_names_all_four_methods_with_numbers(dry_run):
    done, out = dry_run
    summary = (out / "summary.md").read_text()
    assert summary in done.stdout  # printed as well as written
    sections = re.split(r"^## ", summary, flags=re.M)
    for name in ("colorize", "classify", "vae_emd", "jetclr"):
        section = next(s for s in sections if s.startswith(f"{name}:"))
        assert "no results" not in section and "unreadable" not in section
        assert re.search(r"\| -?\d\.\d{2}", section), section  # a table of numbers (accuracy, AUC, r, loss)
    assert re.search(r"Best β 1e-07 of 1: AUC VAE loss \d\.\d{3}", summary)
    assert "colorize_loss.html" in summary


def test_summary_reports_a_failed_phase_and_keeps_the_others(dry_run, tmp_path):
    """A phase without its JSON is named in the summary, the others are summarised, exit 1."""
    _, out = dry_run
    copy = tmp_path / "run"
    (copy / "json").mkdir(parents=True)
    (copy / "figures").mkdir()
    for name in ("samples", "colorize", "vae_emd", "jetclr"):
        (copy / "json" / f"{name}.json").write_text((out / "json" / f"{name}.json").read_text())
    rows = (out / "phases.tsv").read_text().splitlines()
    rows = [re.sub(r"^classify\tok[^\t]*\t0\t", "classify\ttimeout\t124\t", row) for row in rows]
    (copy / "phases.tsv").write_text("\n".join(rows) + "\n")
    done = subprocess.run([sys.executable, str(SUMMARY), "--out", str(copy)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    summary = (copy / "summary.md").read_text()
    assert "| classify | timeout (exit 124)" in summary
    assert "no results: json/classify.json was not written" in summary
    assert re.search(r"## jetclr: .*\n\n.*\n\n\| augmentations .*\n\|---.*\n\| all \| \d\.\d{3}", summary)


def test_options_are_checked(tmp_path):
    done = subprocess.run(["bash", str(SCRIPT), "--bogus"], capture_output=True, text=True, env=_env(tmp_path), timeout=60)
    assert done.returncode == 2 and "unknown option '--bogus'" in done.stderr
    done = subprocess.run(["bash", str(SCRIPT), "--out"], capture_output=True, text=True, env=_env(tmp_path), timeout=60)
    assert done.returncode == 2 and "--out needs a directory" in done.stderr


def test_full_run_refuses_without_cuda(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU: the full run would start")
    done = subprocess.run(["bash", str(SCRIPT), "--out", str(tmp_path / "out")], capture_output=True, text=True,
                          env=_env(tmp_path), timeout=120)
    assert done.returncode == 3
    assert "no CUDA GPU visible" in done.stderr and "--dry-run" in done.stderr
    assert not (tmp_path / "out" / "phases.tsv").exists()
