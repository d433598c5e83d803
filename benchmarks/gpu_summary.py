"""The summary of a benchmarks/gpu_full.sh run: key numbers of each phase, printed and in ``<out>/summary.md``.

Run:  .venv/bin/python benchmarks/gpu_summary.py --out benchmarks/out/gpu-full-<date> [--total-s SECONDS]

Reads ``<out>/phases.tsv`` (one line per phase: status, exit code, wall and timeout seconds, sample
chunks the phase had to generate) and ``<out>/json/<phase>.json`` as the benchmark scripts wrote
them. A phase without its JSON (failed, timed out) is listed as such; the others are summarised.
Exit status 1 when a phase is missing, failed, or a JSON file cannot be read.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path
from typing import Iterable, Sequence

from jetviz.data.io import atomic_write

__all__ = ["PHASES", "summarise", "main"]

#: phase → (method title, keys its JSON must have)
PHASES = {
    "samples": ("Phase 0: samples (Pythia, parallel)", ("samples", "wall_s")),
    "colorize": ("Colorization U-Net ± CRF (seed 000)", ("table", "throughput", "settings", "wall_s")),
    "classify": ("Classification ResNet18 vs XGBoost (seed 003)", ("table", "metrics", "wall_s")),
    "vae_emd": ("β-VAE vs EMD (seed 002)", ("correlation_table", "beta_scan", "best", "wall_s")),
    "jetclr": ("JetCLR (seed 004)", ("ablation", "invariance", "wall_s")),
}


def _f(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    value = float(value)
    return ("inf" if value > 0 else "-inf") if math.isinf(value) else "nan" if math.isnan(value) else f"{value:.{digits}f}"


def _table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A Markdown table: the header, the rule, one line per row."""
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns),
            *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)]


def _throughput(runner: float, plain: float, ratio: float, unit: str, digits: int = 1) -> str:
    """The line comparing the runner's throughput with the plain training loop's."""
    return (f"Throughput: runner {_f(runner, digits)} {unit}, plain loop {_f(plain, digits)} {unit}, "
            f"ratio {_f(ratio, 2)}.")


def _samples(data: dict) -> list[str]:
    lines = _table(("sample", "events", "seed", "params", "seconds", "events/s"),
                   ((row["sample"], row["events"], row["seed"], row["params"] or "", _f(row["seconds"], 1),
                     f"{row['events'] / max(row['seconds'], 1e-9):.0f}") for row in data["samples"]))
    lines.append(f"\n{data.get('workers', '?')} worker processes, {_f(data['wall_s'], 1)} s.")
    return lines


def _colorize(data: dict) -> list[str]:
    s = data["settings"]
    lines = [f"{s['sample']}, {s['n_test']} test events, U-Net width {s['base_channels']}, depth {s['depth']}, "
             f"batch {s['batch_size']}, device {data.get('device', '?')}.\n"]
    lines += _table(("training events", "CRF", "epochs", "loss test / K", "accuracy test", "talk loss test"),
                    ((row["n_train"], "yes" if row["crf"] else "no", row["epochs"], _f(row["loss_test_per_jet"]),
                      _f(row["accuracy_test"]), row["published_test"]) for row in data["table"]))
    largest = max(row["n_train"] for row in data["table"])
    crf = data.get(f"{largest}-True", {})
    if "test_m_w_sigma68_crf" in crf:
        lines.append(f"\nσ68(m_W) at {largest} events: U-Net + CRF {_f(crf['test_m_w_sigma68_crf'], 1)} GeV, "
                     f"anti-kt {_f(crf['test_m_w_sigma68_antikt'], 1)}, Durham truth {_f(crf['test_m_w_sigma68_truth'], 1)}.")
    t = data["throughput"]
    lines.append(_throughput(t["runner"], t["plain"], t["runner"] / t["plain"], "ev/s"))
    return lines


def _classify(data: dict) -> list[str]:
    c = data.get("config", {})
    lines = [f"{c.get('sample')}, {c.get('n_events')} events, {c.get('n_folds')} folds, ResNet18 width {c.get('width')}, "
             f"{c.get('epochs')} epochs, device {data.get('device', '?')}.\n"]
    lines += _table(("model", "accuracy", "AUC"),
                    ((row["model"], f"{_f(row['accuracy_mean'])} ± {_f(row['accuracy_std'])}",
                      f"{_f(row['auc_mean'])} ± {_f(row['auc_std'])}") for row in data["table"]))
    if "throughput" in data:
        t = data["throughput"]
        lines.append("\n" + _throughput(t["runner_best"], t["plain_best"], t["ratio"], "ev/s"))
    return lines


def _vae_emd(data: dict) -> list[str]:
    lines = [f"{data.get('sizes', '')}.\n"]
    lines += _table(("distance", "our r (p=0.5)", "our r (p=1)", "talk r (p=0.5)"),
                    ((row["row"], _f(row["ours_p0.5"], 2), _f(row["ours_p1"], 2), _f(row["talk_p0.5"], 2))
                     for row in data["correlation_table"]))
    best = data["best"]
    lines.append(f"\nBest β {best['beta']:g} of {len(data['beta_scan'])}: AUC VAE loss {_f(best['auc_vae_loss'])}, "
                 f"W_1 to the mean QCD image {_f(best['auc_emd_mean_qcd'])}, min W_1 to k-medoids {_f(best['auc_emd_medoids'])}.")
    return lines


def _jetclr(data: dict) -> list[str]:
    c = data.get("config", {})
    lines = [f"{c.get('sample')}, {c.get('n_jets')} jets, d_model {c.get('d_model')}, {c.get('n_layers')} layers, "
             f"{c.get('epochs')} epochs, batch {c.get('batch_size')}.\n"]
    lines += _table(("augmentations", "AUC", "1/ε_b (ε_s=0.5)", "untrained AUC"),
                    ((row["row"], _f(row["auc"]), _f(row["rejection"], 1), _f(row["auc_untrained"]))
                     for row in data["ablation"]))
    curves = {k: v for k, v in data["invariance"].items() if k != "angles"}
    lines.append("\nInvariance min over θ: " + ", ".join(f"{k} {_f(min(v))}" for k, v in curves.items()) + ".")
    if "throughput" in data:
        t = data["throughput"]
        lines.append(_throughput(max(t["runner"]), max(t["plain"]), t["ratio"], "jets/s", digits=0))
    bars = data.get("error_bars")
    if bars:
        lines += [f"\nError bars: linear classifier test on {bars['n_test']} test jets ({bars['test_sample']}), seeds "
                  f"{bars['seeds']}, {bars['n_resamples']} bootstrap resamples (± bootstrap / ± over seeds).\n"]
        lines += _table(("augmentations", "1/ε_b (ε_s=0.5)", "AUC"), (
            (row["row"],
             f"{_f(row['rejection']['mean'], 1)} ± {_f(row['rejection_bootstrap_std'], 1)} / {_f(row['rejection']['std'], 1)}",
             f"{_f(row['auc']['mean'], 4)} ± {_f(row['auc_bootstrap_std'], 4)} / {_f(row['auc']['std'], 4)}")
            for row in bars["rows"]))
        for key, label in (("rejection", "1/ε_b"), ("auc", "AUC")):
            steps = bars.get("ordering", {}).get(key)
            if steps:
                lines.append(f"\nTalk's ordering ({label}): " + "; ".join(
                    f"{st['lower']} {st['relation']} {st['upper']} {'holds' if st['holds'] else 'fails'}"
                    f" ({'beyond' if st['beyond_errors'] else 'contradicted beyond' if st['contradicted'] else 'within'}"
                    f" the error)" for st in steps) + ".")
    return lines


FORMATTERS = {"samples": _samples, "colorize": _colorize, "classify": _classify, "vae_emd": _vae_emd, "jetclr": _jetclr}


def _read_phases(out: Path) -> dict[str, dict]:
    path = out / "phases.tsv"
    if not path.exists():
        return {}
    with open(path, newline="") as handle:
        return {row["phase"]: row for row in csv.DictReader(handle, delimiter="\t")}


def summarise(out: Path, total_s: float | None = None) -> tuple[str, bool]:
    """(summary markdown, all phases ok) of the run in ``out``."""
    phases = _read_phases(out)
    ok = True
    lines = [f"# GPU benchmark run: {out.name}", ""]
    if total_s is not None:
        lines += [f"Wall time, all phases: {total_s:.1f} s.", ""]
    lines += _table(("phase", "status", "wall s", "timeout s", "sample chunks generated in the phase"), ())
    for name in PHASES:
        row = phases.get(name)
        if row is None:
            lines.append(f"| {name} | not run | – | – | – |")
            ok = False
            continue
        ok = ok and row["status"] in ("ok", "ok-abort-at-exit")  # the latter: see gpu_full.sh's run_phase
        lines.append(f"| {name} | {row['status']} (exit {row['rc']}) | {row['wall_s']} | {row['timeout_s']} | "
                     f"{row['new_sample_files']} |")
    for name, (title, keys) in PHASES.items():
        lines += ["", f"## {name}: {title}", ""]
        path = out / "json" / f"{name}.json"
        if not path.exists():
            lines.append(f"no results: {path.relative_to(out)} was not written (see logs/{name}.log).")
            ok = False
            continue
        try:
            data = json.loads(path.read_text())
            missing = [k for k in keys if k not in data]
            if missing:
                raise KeyError(f"missing key(s) {missing}")
            lines += FORMATTERS[name](data)
            if "wall_s" in data:
                wall = data["wall_s"]["total_s"] if isinstance(data["wall_s"], dict) else data["wall_s"]
                lines.append(f"\nWall time (the script's own clock): {_f(wall, 1)} s.")
        except (ValueError, KeyError, TypeError) as err:
            lines.append(f"unreadable results in {path.relative_to(out)}: {type(err).__name__}: {err}")
            ok = False
    figures = sorted(p.name for p in (out / "figures").glob("*") if p.suffix in (".png", ".html"))
    lines += ["", "## Figures", "", ", ".join(figures) if figures else "none written"]
    return "\n".join(lines) + "\n", ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="the gpu_full.sh output directory")
    parser.add_argument("--total-s", type=float, help="wall time of all phases (printed)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if not out.is_dir():
        parser.error(f"--out {out}: not a directory")
    text, ok = summarise(out, args.total_s)
    with atomic_write(out / "summary.md", "w", encoding="utf-8") as handle:
        handle.write(text)
    print(text)
    print(f"summary written to {out / 'summary.md'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
