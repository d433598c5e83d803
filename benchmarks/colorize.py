"""Seed 000 reproduction: U-Net jet colorization (± CRF) on ee_6jet, next to the talk's table.

Run:  .venv/bin/python benchmarks/colorize.py            # CPU default (< 15 min on 2 cores, + ~6 min for 3 seeds)
      .venv/bin/python benchmarks/colorize.py --full     # the talk's sizes (140, 900, 11500), for a GPU
      .venv/bin/python benchmarks/colorize.py --sample toy_ee_6jet --sizes 16,24 --epochs 1,1 --n-test 16 \\
          --base-channels 2 --depth 1 --n-pix 16 --max-particles 32 --repeats 1 --figures /tmp/fig      # seconds: checks that the script runs

Every size is a flag (``--sizes``, ``--epochs``, ``--n-test``, ``--base-channels``, ``--depth``,
``--batch-size``, ``--device``); ``--full`` only changes the defaults. The ablation and the
throughput use the middle size (the second of ``--sizes``).

Seeds (``--seeds``, default 3: ``--seed`` and the next two, e.g. ``1,2,3``): the middle size's
U-Net, U-Net + CRF and zero-φ-padding rows (part 3) are trained once per seed — initial
weights, shuffles; the same events (the sample of ``--seed``) — and printed as mean ± std over
the seeds, with the per-seed values in the JSON (``seeds``). The seed ``--seed`` reuses the
size table's runs, so each further seed costs three trainings at the middle size (CPU default:
~1 min each on 2 cores, ~6 min for the default 3 seeds); ``--seeds 1`` runs them once, as before.

Prints, in one run:
  1. train/test loss vs training-set size, without and with CRF, beside the published rows;
  2. energy-weighted assignment accuracy (Hungarian-matched) for each run;
  3. the circular-vs-zero φ padding ablation and the CRF's effect at one size, mean ± std over
     ``--seeds``;
  4. W and top mass median / σ68 from Durham truth, U-Net, U-Net+CRF and plain anti-kt
     assignments (largest training set);
  5. training throughput (events/s) of ColorizeRunner vs a minimal plain-PyTorch loop over the
     same model, data and loss (target ≥ 0.9×).
Figure (``--figures``, default docs/figures; PNG via headless Chromium, HTML without it):
``colorize_loss.png``, train/test loss vs epoch of the largest U-Net + CRF run.
"""
from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

import torch

from _figures import save_figure  # noqa: E402  (benchmarks/_figures.py)
from _stats import aggregate_rows, finish, parse_seeds, pm  # noqa: E402  (benchmarks/_stats.py)
from jetviz.models.colorize import colorize_loss
from jetviz.plots.colorize import metrics_table
from jetviz.runners.base import pick_device
from jetviz.runners.colorize import ColorizeConfig, ColorizeRunner, build_model

PUBLISHED = {  # (training events, CRF) -> (loss train, loss test), seed 000 (ZHH → 6 jets)
    (140, False): (0.185, 1.78),
    (11500, False): (0.502, 0.646),
    (900, True): (0.308, 1.25),
    (11500, True): (0.485, 0.642),
}


ROOT = Path(__file__).resolve().parents[1]


def run(config: ColorizeConfig, root: str, data=None) -> tuple[dict, list[dict]]:
    """(metrics with ``wall_s``, per-epoch history) of one fitted run; ``data``: prepared
    (train, test, K) to train on instead of loading ``config.sample`` with ``config.seed``."""
    started = time.perf_counter()
    name = f"n{config.n_train}-crf{int(config.crf)}-circ{int(config.circular_phi)}-seed{config.seed}"
    result = ColorizeRunner(config, run_dir=os.path.join(root, name), data=data).fit()
    metrics = dict(result.metrics)
    metrics["wall_s"] = time.perf_counter() - started
    return metrics, list(result.history)


def _plain_epoch(config: ColorizeConfig, train, n_colours: int, device: str) -> float:
    """Events/s of one epoch of a minimal plain-PyTorch loop: same model, data, loss, batches."""
    torch.manual_seed(0)
    model = build_model(config, n_colours).to(device)
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
    device = pick_device(config.device)
    config_one = ColorizeConfig(**{**config.to_dict(), "epochs": 1})
    runner_rates, plain_rates = [], []
    for repeat in range(repeats):
        plain_rates.append(_plain_epoch(config_one, train, n_colours, device))
        result = ColorizeRunner(config_one, run_dir=os.path.join(root, f"throughput-runner-{repeat}"), events=None).fit()
        runner_rates.append(result.history[0]["events_per_s"])
    return max(runner_rates), max(plain_rates)


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def save_figures(history: list[dict], n_train: int, folder: Path) -> list[str]:
    """``colorize_loss`` (train/test loss vs epoch of one run) as PNG (HTML without Chromium)."""
    import holoviews as hv

    from jetviz.plots.colorize import loss_curves

    hv.extension("bokeh", logo=False)
    figure = loss_curves(history, title=f"U-Net + CRF, {n_train} training events: loss vs epoch")
    return [save_figure(figure.opts(toolbar=None), folder, "colorize_loss")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="the talk's sizes 140, 900, 11500, epochs 60, 40, 30, "
                        "2000 test events, base channels 32, depth 4, device cuda")
    parser.add_argument("--sample", default="ee_6jet", choices=["ee_6jet", "toy_ee_6jet"])
    parser.add_argument("--truth", default="durham", choices=["durham", "parton"],
                        help="training truth: Durham exclusive-6 (the talk's) or the event history's partons, "
                             "which clustering can lose to (Durham then is a baseline row)")
    parser.add_argument("--sizes", type=_ints, help="comma-separated training-set sizes, at least 2 "
                        "(default 140,900,2500; --full 140,900,11500)")
    parser.add_argument("--epochs", type=_ints, help="comma-separated epochs, one per size (default 30,12,6; --full 60,40,30)")
    parser.add_argument("--n-test", type=int, help="test events (default 300; --full 2000)")
    parser.add_argument("--base-channels", type=int, help="U-Net width of the first level (default 8; --full 32)")
    parser.add_argument("--depth", type=int, help="U-Net down-samplings (default 3; --full 4)")
    parser.add_argument("--batch-size", type=int, help="default 32; --full 32")
    parser.add_argument("--n-pix", type=int, default=64, help="map size in η and in φ (pixels)")
    parser.add_argument("--max-particles", type=int, default=256, help="particles kept per event (highest E first)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="default auto; --full cuda")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sample and of the size table's runs")
    parser.add_argument("--seeds", type=parse_seeds, help="comma-separated training seeds of part 3 "
                        "(default: --seed and the next two)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved one-epoch runs per side for part 5")
    parser.add_argument("--figures", default=str(ROOT / "docs" / "figures"), help="folder for the figure")
    parser.add_argument("--no-figures", action="store_true")
    parser.add_argument("--json", help="also write all metrics to this JSON file")
    parser.add_argument("--throughput-only", action="store_true", help="only part 5")
    args = parser.parse_args()
    sizes = dict(sizes=[140, 900, 11500], epochs=[60, 40, 30], n_test=2000, base_channels=32, depth=4, batch_size=32,
                 device="cuda") if args.full else \
        dict(sizes=[140, 900, 2500], epochs=[30, 12, 6], n_test=300, base_channels=8, depth=3, batch_size=32, device="auto")
    for key in sizes:
        if getattr(args, key) is not None:
            sizes[key] = getattr(args, key)
    if len(sizes["sizes"]) < 2 or len(sizes["epochs"]) != len(sizes["sizes"]):
        parser.error(f"--sizes needs at least 2 sizes and --epochs one value per size "
                     f"(got sizes {sizes['sizes']}, epochs {sizes['epochs']})")
    n_sizes, n_test = sizes["sizes"], sizes["n_test"]
    seeds = args.seeds or [args.seed, args.seed + 1, args.seed + 2]
    epochs_for = dict(zip(n_sizes, sizes["epochs"]))
    common = dict(sample=args.sample, n_test=n_test, base_channels=sizes["base_channels"], depth=sizes["depth"],
                  batch_size=sizes["batch_size"], device=sizes["device"], seed=args.seed, n_eta=args.n_pix,
                  n_phi=args.n_pix, max_particles=args.max_particles, truth=args.truth)
    device = pick_device(sizes["device"])
    print(f"device: {device}  torch threads: {torch.get_num_threads()}  sample: {args.sample}  sizes: {n_sizes}  "
          f"epochs: {sizes['epochs']}  test events: {n_test}  U-Net base channels: {sizes['base_channels']}, "
          f"depth {sizes['depth']}, batch {sizes['batch_size']}, maps {args.n_pix}², ≤ {args.max_particles} particles",
          flush=True)
    started = time.perf_counter()
    mid = n_sizes[1]
    if args.throughput_only:
        with tempfile.TemporaryDirectory() as root:
            runner_rate, plain_rate = plain_loop_rate(ColorizeConfig(n_train=mid, epochs=1, **common), root, args.repeats)
        print(f"5. training throughput ({mid} events, 1 epoch, best of {args.repeats}): ColorizeRunner {runner_rate:.1f} "
              f"ev/s, plain PyTorch loop {plain_rate:.1f} ev/s, ratio {runner_rate / plain_rate:.2f}")
        return
    table, histories = {}, {}
    with tempfile.TemporaryDirectory() as root:
        for n_train in n_sizes:
            for crf in (False, True):
                config = ColorizeConfig(n_train=n_train, crf=crf, epochs=epochs_for[n_train], **common)
                table[(n_train, crf)], histories[(n_train, crf)] = run(config, root)
                m = table[(n_train, crf)]
                print(f"  ran n_train={n_train} crf={crf}: {m['wall_s']:.0f} s", flush=True)
        ablation_size = mid
        shared = ColorizeRunner(ColorizeConfig(n_train=mid, epochs=1, **common), run_dir=os.path.join(root, "shared")).load_data()
        variants = {"circular": dict(crf=False), "circular + CRF": dict(crf=True), "zero": dict(crf=False, circular_phi=False)}
        per_seed: dict[str, list[dict]] = {name: [] for name in variants}
        for seed in seeds:
            for name, switches in variants.items():
                if seed == args.seed and name != "zero":
                    m = table[(mid, switches["crf"])]
                else:
                    config = ColorizeConfig(n_train=mid, epochs=epochs_for[mid], **{**common, "seed": seed, **switches})
                    m, _ = run(config, root, data=shared)
                    print(f"  ran n_train={mid} {name} seed={seed}: {m['wall_s']:.0f} s", flush=True)
                key = "crf" if switches["crf"] else "unet"
                per_seed[name].append({"seed": seed, "loss_test": m[f"test_loss_{key}"],
                                       "accuracy_test": m[f"test_accuracy_{key}"], "loss_train": m[f"train_loss_{key}"]})
                if name == "zero" and seed == seeds[0]:
                    zero = m  # the first seed's zero-padding run (JSON "zero_padding", as before)
        runner_rate, plain_rate = plain_loop_rate(ColorizeConfig(n_train=mid, epochs=1, **common), root, args.repeats)

    print("\n1-2. loss L = -(1/N) Σ_jet Σ_track (E/E_jet) log y (Hungarian-matched colours) and accuracy")
    print("| training events | CRF | epochs | loss train | loss test | loss train / K | loss test / K | accuracy test | published train | published test |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for (n_train, crf), m in sorted(table.items()):
        key = "crf" if crf else "unet"
        pub = PUBLISHED.get((n_train, crf), ("–", "–"))
        k = m["n_colours"]
        rows.append({"n_train": n_train, "crf": crf, "epochs": epochs_for[n_train], "loss_train": m[f"train_loss_{key}"],
                     "loss_test": m[f"test_loss_{key}"], "loss_train_per_jet": m[f"train_loss_{key}"] / k,
                     "loss_test_per_jet": m[f"test_loss_{key}"] / k, "accuracy_test": m[f"test_accuracy_{key}"],
                     "published_train": pub[0], "published_test": pub[1]})
        print(f"| {n_train} | {'yes' if crf else 'no'} | {epochs_for[n_train]} | {m[f'train_loss_{key}']:.3f} | "
              f"{m[f'test_loss_{key}']:.3f} | {m[f'train_loss_{key}'] / k:.3f} | {m[f'test_loss_{key}'] / k:.3f} | "
              f"{m[f'test_accuracy_{key}']:.3f} | {pub[0]} | {pub[1]} |")
    print(f"\n3. φ padding ablation and CRF ({ablation_size} training events, {epochs_for[ablation_size]} epochs), "
          f"mean ± std over seeds {seeds} (same events; seed: initial weights and shuffles)")
    print("| variant (φ padding, CRF) | loss test | accuracy test | loss train | seeds | accuracy test per seed |\n|---|---|---|---|---|---|")
    seed_rows = []
    for name, runs in per_seed.items():
        agg = aggregate_rows(runs, ("loss_test", "accuracy_test", "loss_train"))
        seed_rows.append({"row": name, "n_train": ablation_size, "n_seeds": len(runs), **agg, "per_seed": runs})
        per = ", ".join(f"{r['accuracy_test']:.3f}" for r in runs)
        print(f"| {name} | {pm(agg['loss_test'], n=False)} | {pm(agg['accuracy_test'], n=False)} | "
              f"{pm(agg['loss_train'], n=False)} | {len(runs)} | {per} |")
    largest = table[(n_sizes[-1], True)]
    print(f"\n4. assignment quality against the {args.truth} truth and masses from {n_test} test events (GeV), "
          f"U-Net+CRF run with {n_sizes[-1]} training events (all pure: events whose six jets are each ≥ 90 % pure; "
          "merged / split: shares of the truth jets)")
    quality = metrics_table(largest, truth=args.truth)
    print("| " + " | ".join(quality.columns) + " |\n" + "|---" * len(quality.columns) + "|")
    for row in quality.itertuples(index=False):
        print("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) and k in ("accuracy", "all pure", "merged", "split")
                               else f"{v:.1f}" if isinstance(v, float) else str(v)
                               for k, v in zip(quality.columns, row)) + " |")
    print(f"\n5. training throughput ({mid} events, 1 epoch, best of {args.repeats}): ColorizeRunner {runner_rate:.1f} ev/s, "
          f"plain PyTorch loop {plain_rate:.1f} ev/s, ratio {runner_rate / plain_rate:.2f}")
    out = {f"{k[0]}-{k[1]}": v for k, v in table.items()} | {
        "zero_padding": zero, "seeds": {"seeds": seeds, "n_train": ablation_size, "rows": seed_rows}, "throughput": {"runner": runner_rate, "plain": plain_rate, "ratio": runner_rate / plain_rate},
        "table": rows, "settings": {**common, "sizes": n_sizes, "epochs": sizes["epochs"]}, "device": device}
    if not args.no_figures:
        out["figures"] = save_figures(histories[(n_sizes[-1], True)], n_sizes[-1], Path(args.figures))
        print("\nfigures: " + ", ".join(out["figures"]))
    finish(out, args.json, started)


if __name__ == "__main__":
    main()
