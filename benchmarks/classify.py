"""Seed 003 reproduction: ResNet18 on event images vs XGBoost on features (black holes vs sphalerons).

Run:  .venv/bin/python benchmarks/classify.py            # CPU default (< 15 min on 2 cores)
      .venv/bin/python benchmarks/classify.py --full     # 20000 events, width 64, 30 epochs, for a GPU
      .venv/bin/python benchmarks/classify.py --sample toy_bh_sph --n-events 200 --n-folds 2 \\
          --epochs 1 --width 2 --figures /tmp/fig     # seconds: checks that the script runs

CPU default: 2000 ``bh_sph`` events, stratified 5-fold, all five models (ResNet18 width 8,
8 epochs, and its two ablations; XGBoost on the 45 low-level and on the 39 high-level
features). Every setting is a flag; ``--full`` only changes the defaults. ``--run-dir`` names
the run directory: a run that was killed (or timed out) resumes there from its finished
(model, fold) units when the same command is run again.

Seeds (``--seeds``, default: ``--seed`` alone, e.g. ``1``): with ``--seeds 1,2,3`` the whole
k-fold study of every model in ``--models`` (the ResNet row, its two ablation rows and the
XGBoost rows) is repeated per seed — fold assignment, initial weights, shuffles and
augmentations; the same events and detector simulation — and part 1b prints accuracy and AUC
(each a mean over the folds) as mean ± std over the seeds, with the per-seed values in the
JSON (``seeds``). Not the CPU default: each seed costs a whole run (~12 min on 2 cores, the
folds' spread already gives part 1's error bars); the seed ``--seed`` reuses the main run, the
others run in ``<run-dir>/seed-<s>`` (resumed like the main run).

Prints, in one run:
  1. the talk's table (ResNet18 low level 0.907 ± 0.007, XGBoost low level 0.861 ± 0.001,
     XGBoost high level 0.914 ± 0.002) beside ours: accuracy and AUC as mean ± std over the
     folds, number of events and folds, with the two ResNet ablation rows;
  2. the pooled out-of-fold confusion matrix and AUC of every model;
  3. per-fold accuracies, the kept ResNet epochs / XGBoost rounds and the largest XGBoost
     feature importances;
  4. training throughput (events/s) of the runner's ResNet training
     (:func:`jetviz.runners.classify.train_resnet`, augmentation on, checkpoint and progress
     callback as in a run) vs a minimal plain-PyTorch loop over the same ResNet18, events,
     batch size, optimiser and augmentation call: best of ``--repeats`` interleaved one-epoch
     runs each (target ratio ≥ 0.9).
Figures (PNG, bokeh rendered by headless Chromium): ``<figures>/classify_roc.png`` (ROC curves
of all models overlaid) and ``<figures>/classify_confusion.png``; without Chromium the same
figures are written as HTML.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _figures import save_figure  # noqa: E402  (benchmarks/_figures.py)
from _stats import finish, over_seeds, parse_seeds, pm  # noqa: E402  (benchmarks/_stats.py)

from jetviz.models.image_augment import augment_images
from jetviz.models.resnet import ResNet18, image_inputs
from jetviz.plots.classify import MODEL_NAMES, PUBLISHED_ACCURACY
from jetviz.runners.base import pick_device
from jetviz.runners.classify import (
    MODEL_INPUTS,
    MODELS,
    ClassifyConfig,
    ClassifyResult,
    ClassifyRunner,
    stratified_folds,
    train_resnet,
)

ROOT = Path(__file__).resolve().parents[1]
#: the talk's table (seed 003, Grefsrud): model → (accuracy mean, ± std)
PUBLISHED = {row["model"]: (row["accuracy"], row["std"]) for row in PUBLISHED_ACCURACY}
LABELS = MODEL_NAMES


# ----------------------------------------------------------------------------- throughput
def _plain_epoch(images: np.ndarray, labels: np.ndarray, config: ClassifyConfig, device: str, seed: int) -> float:
    """Events/s of one epoch of a minimal plain-PyTorch loop: same ResNet18, events, batch size,
    optimiser (AdamW, as :func:`train_resnet`) and augmentation call; no checkpoint, no progress,
    no per-step metrics; the images sit on the device from the start."""
    torch.manual_seed(seed)
    model = ResNet18(images.shape[1], 2, circular_phi=True, width=config.width).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss()
    x_all = torch.as_tensor(images, device=device)
    y_all = torch.as_tensor(np.asarray(labels, dtype=np.int64), device=device)
    generator = torch.Generator(device=device).manual_seed(seed + 1)
    model.train()
    if device == "cuda":
        torch.cuda.synchronize()
    started, seen = time.perf_counter(), 0
    order = torch.randperm(len(images), device=device)
    for start in range(0, len(images), config.batch_size):
        index = order[start:start + config.batch_size].sort().values
        if len(index) < 2:  # BatchNorm needs two samples (the runner skips such a batch too)
            continue
        x = augment_images(x_all[index], generator)
        loss = loss_fn(model(x), y_all[index])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        seen += len(index)
    if device == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - started)


def _runner_epoch(images, labels, val_images, val_labels, config: ClassifyConfig, device: str, seed: int,
                  checkpoint: Path) -> float:
    """Events/s of one epoch of :func:`train_resnet` as the runner calls it (its ``events_per_s``)."""
    checkpoint.unlink(missing_ok=True)  # an existing checkpoint would be resumed, not retrained
    _, history = train_resnet(images, labels, val_images, val_labels, config, circular_phi=True, use_augment=True,
                              device=device, seed=seed, checkpoint=checkpoint, progress=lambda event: None,
                              tags={"model": "resnet", "fold": 0})
    checkpoint.unlink(missing_ok=True)
    return float(history[0]["events_per_s"])


def throughput(data, config: ClassifyConfig, repeats: int = 3) -> dict:
    """Runner vs plain loop on fold 0's training events, ``repeats`` interleaved one-epoch runs each
    (so that load from other processes hits both alike); best and all rates."""
    device = pick_device(config.device)
    one_epoch = ClassifyConfig(**{**config.to_dict(), "epochs": 1})
    images = image_inputs(data.images, config.image_transform)
    folds = stratified_folds(data.labels, config.n_folds, config.seed)
    train, val = np.flatnonzero(folds != 0), np.flatnonzero(folds == 0)
    runner_rates, plain_rates = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(repeats):
            plain_rates.append(_plain_epoch(images[train], data.labels[train], one_epoch, device, config.seed + repeat))
            runner_rates.append(_runner_epoch(images[train], data.labels[train], images[val], data.labels[val],
                                              one_epoch, device, config.seed + repeat, Path(scratch) / f"ckpt-{repeat}.pt"))
    return {"n_events": int(len(train)), "batch_size": config.batch_size, "width": config.width, "device": device,
            "repeats": repeats, "runner": runner_rates, "plain": plain_rates,
            "runner_best": max(runner_rates), "plain_best": max(plain_rates),
            "ratio": max(runner_rates) / max(plain_rates)}


# ----------------------------------------------------------------------------- figures
def _figures(result: ClassifyResult):
    """(ROC overlay, confusion-matrix layout) as HoloViews objects (bokeh), from :mod:`jetviz.plots.classify`."""
    import holoviews as hv

    from jetviz.plots.classify import confusion_matrices, roc_curves

    hv.extension("bokeh", logo=False)
    names = result.metrics["class_names"]
    n, k = int(result.metrics["n_events"]), int(result.metrics["n_folds"])
    roc = roc_curves({m: result.roc(m) for m in result.models}, names, width=620, height=520,
                     title=f"ROC, pooled out-of-fold scores ({n} {result.config.sample} events, {k} folds)")
    confusion = confusion_matrices({m: result.confusion(m) for m in result.models}, names,
                                   frame_width=230, frame_height=190)
    return roc.opts(toolbar=None), confusion.opts(
        title=f"Confusion matrices, pooled out of fold ({n} {result.config.sample} events; rows: true class)", toolbar=None)


def save_figures(result: ClassifyResult, folder: Path) -> list[str]:
    """Write ``classify_roc`` and ``classify_confusion`` as PNG (HTML when Chromium is missing)."""
    return [save_figure(figure, folder, name)
            for name, figure in zip(("classify_roc", "classify_confusion"), _figures(result))]


# ----------------------------------------------------------------------------- tables
def _pm(mean: float, std: float) -> str:
    return pm({"mean": mean, "std": std}, n=False)


def print_tables(result: ClassifyResult) -> None:
    metrics = result.metrics
    names = metrics["class_names"]
    print(f"\n1. accuracy (threshold 0.5 on P({names[1]})) and AUC, mean ± std over folds; "
          f"talk: seed 003 (sample size not stated)")
    print("| model | input | talk accuracy | our accuracy | our AUC | events | folds |")
    print("|---|---|---|---|---|---|---|")
    for row in result.accuracy_table():
        m = row["model"]
        talk = _pm(*PUBLISHED[m]) if m in PUBLISHED else "–"
        print(f"| {LABELS[m]} | {row['input']} | {talk} | {_pm(row['accuracy_mean'], row['accuracy_std'])} | "
              f"{_pm(row['auc_mean'], row['auc_std'])} | {row['n_events']} | {row['n_folds']} |")
    print(f"\n2. pooled out-of-fold confusion matrices (rows true, columns predicted; class counts {metrics['class_counts']})")
    print(f"| model | {names[0]} → {names[0]} | {names[0]} → {names[1]} | {names[1]} → {names[0]} | "
          f"{names[1]} → {names[1]} | {names[0]} correct | {names[1]} correct | pooled AUC |")
    print("|---|---|---|---|---|---|---|---|")
    for m in result.models:
        c = np.asarray(metrics["models"][m]["confusion"])
        share = result.confusion(m, normalise=True)
        print(f"| {LABELS[m]} | {c[0, 0]} | {c[0, 1]} | {c[1, 0]} | {c[1, 1]} | {share[0, 0]:.1%} | {share[1, 1]:.1%} | "
              f"{metrics['models'][m]['auc_pooled']:.3f} |")
    print("\n3. per fold: accuracy, and the kept ResNet epoch / XGBoost boosting round")
    print("| model | accuracy per fold | kept epoch / round per fold |\n|---|---|---|")
    for m in result.models:
        entry = metrics["models"][m]
        print(f"| {LABELS[m]} | {', '.join(f'{a:.3f}' for a in entry['accuracy'])} | "
              f"{', '.join(str(int(b)) for b in entry['best_epoch'])} |")
    for m in result.models:
        if "importance" in metrics["models"][m]:
            top = sorted(metrics["models"][m]["importance"].items(), key=lambda kv: -kv[1])[:8]
            print(f"   {LABELS[m]}, largest gain shares: " + ", ".join(f"{c} {v:.3f}" for c, v in top))


def seed_table(results: dict[int, ClassifyResult]) -> list[dict]:
    """Per model: accuracy and AUC (means over the folds) as :func:`_stats.over_seeds` over the seeds' runs."""
    rows = []
    seeds = sorted(results)
    for model in results[seeds[0]].models:
        per_seed = [{"seed": s, "accuracy": results[s].metrics["models"][model]["accuracy_mean"],
                     "auc": results[s].metrics["models"][model]["auc_mean"]} for s in seeds]
        rows.append({"model": model, "input": MODEL_INPUTS[model][1], "n_seeds": len(seeds),
                     "n_folds": results[seeds[0]].config.n_folds,
                     "accuracy": over_seeds(r["accuracy"] for r in per_seed),
                     "auc": over_seeds(r["auc"] for r in per_seed), "per_seed": per_seed})
    return rows


def print_seed_table(rows: list[dict], seeds: list[int]) -> None:
    print(f"\n1b. accuracy and AUC (each the mean over the folds) as mean ± std over seeds {seeds} "
          f"(same events; seed: folds, initial weights, shuffles, augmentations)")
    print("| model | input | accuracy | AUC | seeds | accuracy per seed |\n|---|---|---|---|---|---|")
    for row in rows:
        per = ", ".join(f"{r['accuracy']:.3f}" for r in row["per_seed"])
        print(f"| {LABELS[row['model']]} | {row['input']} | {pm(row['accuracy'], n=False)} | {pm(row['auc'], n=False)} | "
              f"{row['n_seeds']} | {per} |")


# ----------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="GPU sizes: 20000 events, width 64, 30 epochs, device cuda")
    parser.add_argument("--sample", default="bh_sph", choices=["bh_sph", "toy_bh_sph"])
    parser.add_argument("--n-events", type=int, help="events (default 2000; --full 20000)")
    parser.add_argument("--n-folds", type=int, default=5)
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    parser.add_argument("--width", type=int, help="ResNet18 first-stage channels (default 8; --full 64)")
    parser.add_argument("--epochs", type=int, help="ResNet epochs (default 8; --full 30)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=0, help="torch/XGBoost CPU threads (0: library default)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="default auto; --full cuda")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sample, the detector simulation and the main run")
    parser.add_argument("--seeds", type=parse_seeds, help="comma-separated seeds of part 1b (default: --seed only)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved one-epoch runs per side for part 4")
    parser.add_argument("--run-dir", help="run directory (resumed if it holds an unfinished run with the same settings)")
    parser.add_argument("--figures", default=str(ROOT / "docs" / "figures"), help="folder for the PNG figures")
    parser.add_argument("--no-figures", action="store_true")
    parser.add_argument("--no-throughput", action="store_true", help="skip part 4")
    parser.add_argument("--throughput-only", action="store_true", help="only part 4")
    parser.add_argument("--json", help="also write all numbers to this JSON file")
    args = parser.parse_args()
    full = dict(n_events=20000, width=64, epochs=30, device="cuda") if args.full else \
        dict(n_events=2000, width=8, epochs=8, device="auto")
    for key in full:
        if getattr(args, key) is not None:
            full[key] = getattr(args, key)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    config = ClassifyConfig(sample=args.sample, n_events=full["n_events"], n_folds=args.n_folds, models=models,
                            width=full["width"], epochs=full["epochs"], batch_size=args.batch_size,
                            learning_rate=args.learning_rate, threads=args.threads, device=full["device"], seed=args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(config.device)
    print(f"device: {device}  torch threads: {torch.get_num_threads()}  cores: {os.cpu_count()}  sample: {config.sample}  "
          f"events: {config.n_events}  folds: {config.n_folds}  models: {', '.join(models)}  ResNet width {config.width}, "
          f"{config.epochs} epochs, batch {config.batch_size}", flush=True)

    scratch = tempfile.TemporaryDirectory() if args.throughput_only and not args.run_dir else None
    runner = ClassifyRunner(config, run_dir=scratch.name if scratch else args.run_dir)
    print(f"run directory: {runner.run_dir}", flush=True)
    started = time.perf_counter()
    data = runner.load_data()
    wall = {"data_s": time.perf_counter() - started}
    print(f"  sample + detector simulation + features of {len(data)} events: {wall['data_s']:.0f} s "
          f"(class counts {np.bincount(data.labels, minlength=2).tolist()})", flush=True)
    out: dict = {"config": config.to_dict(), "run_dir": str(runner.run_dir), "device": device,
                 "torch_threads": torch.get_num_threads(), "published": PUBLISHED}

    if not args.throughput_only:
        def progress(event: dict) -> None:
            if event["kind"] == "unit":
                print(f"  [{event['done']}/{event['total']}] {event['message']}  ({time.perf_counter() - started:.0f} s)", flush=True)
            elif event["kind"] == "stage" and event.get("stage") == "resume":
                print(f"  {event['model']} fold {event['fold'] + 1}: {event['message']}", flush=True)

        fit_started = time.perf_counter()
        result = ClassifyRunner(config, run_dir=runner.run_dir, data=data).fit(progress=progress)
        wall["fit_s"] = time.perf_counter() - fit_started
        epoch_rates = [h["events_per_s"] for h in result.history if "events_per_s" in h]
        print(f"  trained and evaluated in {wall['fit_s']:.0f} s"
              + (f"; ResNet training {np.median(epoch_rates):.0f} events/s (median over epochs)" if epoch_rates else ""))
        print_tables(result)
        out.update(table=result.accuracy_table(), metrics=result.metrics)
        seeds = args.seeds or [args.seed]
        if seeds != [args.seed]:
            results = {}
            for seed in seeds:
                if seed == args.seed:
                    results[seed] = result
                    continue
                seed_config = ClassifyConfig(**{**config.to_dict(), "seed": seed})
                seed_dir = Path(runner.run_dir) / f"seed-{seed}"
                print(f"  seed {seed}: run directory {seed_dir}", flush=True)
                results[seed] = ClassifyRunner(seed_config, run_dir=seed_dir, data=data).fit(progress=progress)
            out["seeds"] = {"seeds": seeds, "rows": seed_table(results)}
            print_seed_table(out["seeds"]["rows"], seeds)
        if not args.no_figures:
            out["figures"] = save_figures(result, Path(args.figures))
            print("\nfigures: " + ", ".join(out["figures"]))

    if not args.no_throughput and any(m.startswith("resnet") for m in models):
        rates = throughput(data, config, args.repeats)
        out["throughput"] = rates
        print(f"\n4. ResNet training throughput ({rates['n_events']} events, width {config.width}, batch {config.batch_size}, "
              f"{device}, 1 epoch, best of {args.repeats} interleaved): runner (train_resnet) {rates['runner_best']:.1f} ev/s, "
              f"plain PyTorch loop {rates['plain_best']:.1f} ev/s, ratio {rates['ratio']:.2f} (target ≥ 0.9)")
    wall["total_s"] = time.perf_counter() - started
    out["wall_s"] = wall
    print(f"\nwall time {wall['total_s']:.0f} s; run directory: {runner.run_dir}")
    if scratch is not None:
        scratch.cleanup()
    finish(out, args.json)


if __name__ == "__main__":
    main()
