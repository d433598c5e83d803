"""Seed 000 reproduction: U-Net jet colorization (± CRF) on ee_6jet, next to the talk's table.

Run:  .venv/bin/python benchmarks/colorize.py            # CPU default (< 15 min on 2 cores)
      .venv/bin/python benchmarks/colorize.py --full     # the talk's sizes (140, 900, 11500), for a GPU

Prints, in one run:
  1. train/test loss vs training-set size, without and with CRF, beside the published rows;
  2. energy-weighted assignment accuracy (Hungarian-matched) for each run;
  3. the circular-vs-zero φ padding ablation at one size;
  4. W and top mass median / σ68 from Durham truth, U-Net, U-Net+CRF and plain anti-kt
     assignments (largest training set);
  5. training throughput (events/s) of ColorizeRunner vs a minimal plain-PyTorch loop over the
     same model, data and loss (target ≥ 0.9×).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time

import numpy as np
import torch

from jetviz.models.colorize import colorize_loss
from jetviz.runners.colorize import ColorizeConfig, ColorizeModel, ColorizeRunner

PUBLISHED = {  # (training events, CRF) -> (loss train, loss test), seed 000 (ZHH → 6 jets)
    (140, False): (0.185, 1.78),
    (11500, False): (0.502, 0.646),
    (900, True): (0.308, 1.25),
    (11500, True): (0.485, 0.642),
}


def run(config: ColorizeConfig, root: str) -> dict:
    started = time.perf_counter()
    result = ColorizeRunner(config, run_dir=os.path.join(root, f"n{config.n_train}-crf{int(config.crf)}-circ{int(config.circular_phi)}")).fit()
    metrics = dict(result.metrics)
    metrics["wall_s"] = time.perf_counter() - started
    return metrics


def _plain_epoch(config: ColorizeConfig, train, n_colours: int, device: str) -> float:
    """Events/s of one epoch of a minimal plain-PyTorch loop: same model, data, loss, batches."""
    torch.manual_seed(0)
    model = ColorizeModel(config, n_colours).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    images = torch.as_tensor(train.images, device=device)
    tensors = {k: torch.as_tensor(getattr(train, k), device=device) for k in ("pixel", "energy", "truth", "direction", "mask")}
    model.train()
    started = time.perf_counter()
    order = torch.randperm(len(train))
    for step in range(math.ceil(len(train) / config.batch_size)):
        index = order[step * config.batch_size:(step + 1) * config.batch_size].sort().values.to(device)
        batch = {"images": images[index], **{k: v[index] for k, v in tensors.items()}}
        loss = colorize_loss(model(batch), batch["energy"], batch["truth"], batch["mask"], config.matching)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    if device == "cuda":
        torch.cuda.synchronize()
    return len(train) / (time.perf_counter() - started)


def plain_loop_rate(config: ColorizeConfig, root: str, repeats: int = 3) -> tuple[float, float]:
    """(runner events/s, plain loop events/s), best of ``repeats`` interleaved one-epoch runs each,
    so that load from other processes hits both alike."""
    runner = ColorizeRunner(config, run_dir=os.path.join(root, "throughput"))
    train, _, n_colours = runner.load_data()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    config_one = ColorizeConfig(**{**config.to_dict(), "epochs": 1})
    runner_rates, plain_rates = [], []
    for repeat in range(repeats):
        plain_rates.append(_plain_epoch(config_one, train, n_colours, device))
        result = ColorizeRunner(config_one, run_dir=os.path.join(root, f"throughput-runner-{repeat}"), events=None).fit()
        runner_rates.append(result.history[0]["events_per_s"])
    return max(runner_rates), max(plain_rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="the talk's sizes and longer training (GPU)")
    parser.add_argument("--json", help="also write all metrics to this JSON file")
    parser.add_argument("--throughput-only", action="store_true", help="only part 5")
    args = parser.parse_args()
    if args.full:
        sizes, n_test, base, epochs_for = [140, 900, 11500], 2000, 32, {140: 60, 900: 40, 11500: 20}
    else:
        sizes, n_test, base, epochs_for = [140, 900, 2500], 300, 8, {140: 30, 900: 12, 2500: 6}
    common = dict(sample="ee_6jet", n_test=n_test, base_channels=base, seed=1)
    print(f"device: {'cuda' if torch.cuda.is_available() else 'cpu'}  torch threads: {torch.get_num_threads()}  "
          f"sizes: {sizes}  test events: {n_test}  U-Net base channels: {base}")
    if args.throughput_only:
        with tempfile.TemporaryDirectory() as root:
            runner_rate, plain_rate = plain_loop_rate(ColorizeConfig(n_train=sizes[1], epochs=1, **common), root)
        print(f"5. training throughput ({sizes[1]} events, 1 epoch, best of 3): ColorizeRunner {runner_rate:.1f} ev/s, "
              f"plain PyTorch loop {plain_rate:.1f} ev/s, ratio {runner_rate / plain_rate:.2f}")
        return
    table = {}
    with tempfile.TemporaryDirectory() as root:
        for n_train in sizes:
            for crf in (False, True):
                config = ColorizeConfig(n_train=n_train, crf=crf, epochs=epochs_for[n_train], **common)
                table[(n_train, crf)] = run(config, root)
                m = table[(n_train, crf)]
                print(f"  ran n_train={n_train} crf={crf}: {m['wall_s']:.0f} s", flush=True)
        ablation_size = sizes[1]
        zero = run(ColorizeConfig(n_train=ablation_size, crf=False, circular_phi=False, epochs=epochs_for[ablation_size], **common), root)
        runner_rate, plain_rate = plain_loop_rate(ColorizeConfig(n_train=sizes[1], epochs=1, **common), root)

    print("\n1-2. loss L = -(1/N) Σ_jet Σ_track (E/E_jet) log y (Hungarian-matched colours) and accuracy")
    print("| training events | CRF | epochs | loss train | loss test | loss train / K | loss test / K | accuracy test | published train | published test |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (n_train, crf), m in sorted(table.items()):
        key = "crf" if crf else "unet"
        pub = PUBLISHED.get((n_train, crf), ("–", "–"))
        k = m["n_colours"]
        print(f"| {n_train} | {'yes' if crf else 'no'} | {epochs_for[n_train]} | {m[f'train_loss_{key}']:.3f} | "
              f"{m[f'test_loss_{key}']:.3f} | {m[f'train_loss_{key}'] / k:.3f} | {m[f'test_loss_{key}'] / k:.3f} | "
              f"{m[f'test_accuracy_{key}']:.3f} | {pub[0]} | {pub[1]} |")
    circ = table[(ablation_size, False)]
    print(f"\n3. φ padding ablation ({ablation_size} training events, no CRF)")
    print("| padding | loss test | accuracy test |\n|---|---|---|")
    print(f"| circular | {circ['test_loss_unet']:.3f} | {circ['test_accuracy_unet']:.3f} |")
    print(f"| zero | {zero['test_loss_unet']:.3f} | {zero['test_accuracy_unet']:.3f} |")
    largest = table[(sizes[-1], True)]
    print(f"\n4. masses from {n_test} test events (GeV), U-Net+CRF run with {sizes[-1]} training events")
    print("| assignment | m_W median | σ68(m_W) | m_top median | σ68(m_top) |\n|---|---|---|---|---|")
    for label, key in (("Durham truth", "truth"), ("U-Net", "unet"), ("U-Net + CRF", "crf"), ("anti-kt R=0.7, 6 hardest", "antikt")):
        print(f"| {label} | {largest[f'test_m_w_median_{key}']:.1f} | {largest[f'test_m_w_sigma68_{key}']:.1f} | "
              f"{largest[f'test_m_top_median_{key}']:.1f} | {largest[f'test_m_top_sigma68_{key}']:.1f} |")
    print(f"\n5. training throughput ({sizes[1]} events, 1 epoch, best of 3): ColorizeRunner {runner_rate:.1f} ev/s, "
          f"plain PyTorch loop {plain_rate:.1f} ev/s, ratio {runner_rate / plain_rate:.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({f"{k[0]}-{k[1]}": v for k, v in table.items()} | {"zero_padding": zero,
                       "throughput": {"runner": runner_rate, "plain": plain_rate}}, handle, indent=2, default=str)


if __name__ == "__main__":
    main()
