"""JetCLR (seed 004): the augmentation ablation next to the talk's table, the invariance curve,
and the runner's training throughput vs a plain PyTorch loop.

Run:  .venv/bin/python benchmarks/jetclr.py                 # CPU default (< 20 min on 2 cores)
      .venv/bin/python benchmarks/jetclr.py --full          # ≥ 10⁵ jets, wider encoder, for a GPU
      .venv/bin/python benchmarks/jetclr.py --sample toy_top_qcd --n-jets 400 --epochs 1 --d-model 16 \\
          --n-heads 2 --throughput-jets 128 --figures /tmp/fig      # seconds (smoke test)

1. **Ablation** (:func:`jetviz.runners.jetclr.ablation`): one contrastive training per row of the
   seed's table — none, translations, rotations, soft+collinear, all — on the same ``top_qcd``
   jets (anti-kt R = 0.8, 550 < pT < 650 GeV; half top), ``--workers`` runs at a time; then the
   linear classifier test on frozen representations: AUC and 1/ε_b at ε_s = 0.5 (ours beside
   the talk's, with our sample sizes and epochs), the untrained encoder's, alignment and
   uniformity. ``--run-dir`` keeps the runs: an interrupted benchmark resumes, a finished one
   only reprints.
2. **Invariance**: ⟨s(r(x), r(R(θ)x))⟩ over test jets vs the rotation angle θ for the encoder
   trained with all augmentations, with rotations only, and untrained.
3. **Throughput**: jets/s of one epoch of :func:`jetviz.runners.jetclr.train_jetclr` (with its
   checkpoint, progress and cancel hooks) vs a minimal plain-PyTorch loop over the same encoder,
   jets, augmentations and batches; best of ``--repeats`` interleaved runs (target ≥ 0.9×).

Figures (``--figures``, default docs/figures): ``jetclr_roc.png`` (1/ε_b vs ε_s of the ablation
rows) and ``jetclr_invariance.png`` (all augmentations, or the first row run, vs untrained). ``--json`` writes every number.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))

from jetviz.models.constituents import ABLATION  # noqa: E402
from jetviz.models.jetclr import nt_xent  # noqa: E402
from jetviz.data.io import json_default  # noqa: E402
from jetviz.runners.base import pick_device  # noqa: E402
from jetviz.runners.rundir import RunDir  # noqa: E402
from jetviz.runners.jetclr import (  # noqa: E402
    TALK,
    JetclrConfig,
    JetclrResult,
    JetclrRunner,
    _encoder,
    _views,
    ablation,
    train_jetclr,
)


# ----------------------------------------------------------------------------- throughput
def _plain_epoch(x: np.ndarray, mask: np.ndarray, config: JetclrConfig, device: str) -> float:
    """Jets/s of one epoch of a minimal loop: same encoder, jets, augmentations, batch size, optimiser."""
    torch.manual_seed(config.seed)
    model = _encoder(config).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    generator = torch.Generator().manual_seed(config.seed + 1)
    xt, mt = torch.as_tensor(x), torch.as_tensor(mask)
    order = torch.randperm(len(x), generator=generator)
    n_steps = max(1, len(x) // config.batch_size)
    model.train()
    start = time.perf_counter()
    for step in range(n_steps):
        rows = order[step * config.batch_size:(step + 1) * config.batch_size]
        (xa, ma), (xb, mb) = _views(xt[rows], mt[rows], config, generator)
        loss = nt_xent(model(xa.to(device), ma.to(device))[1], model(xb.to(device), mb.to(device))[1], config.temperature)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return n_steps * config.batch_size / (time.perf_counter() - start)


def throughput(x: np.ndarray, mask: np.ndarray, config: JetclrConfig, repeats: int = 3) -> dict:
    """Runner vs plain loop, ``repeats`` interleaved one-epoch runs each; best rates and their ratio."""
    one = JetclrConfig.from_dict(dict(config.to_dict(), epochs=1))
    device = pick_device(config.device)
    runner, plain = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(repeats):
            checkpoint = Path(scratch) / f"checkpoint-{repeat}.pt"
            _, history = train_jetclr(x, mask, one, device, progress=lambda event: None, cancel=lambda: False,
                                      checkpoint=checkpoint)
            runner.append(history[0]["jets_per_s"])
            plain.append(_plain_epoch(x, mask, one, device))
    return {"n_jets": len(x), "device": device, "repeats": repeats, "runner": runner, "plain": plain,
            "ratio": max(runner) / max(plain)}


# ----------------------------------------------------------------------------- output
def print_ablation(rows: list[dict], config: JetclrConfig, sizes: dict) -> None:
    print(f"\n1. Ablation, linear classifier test on frozen representations (top vs QCD)\n"
          f"   ours: {config.sample}, {config.n_jets} jets (half top), R = {config.jet_R}, {config.pt_min:g} < pT < "
          f"{config.pt_max:g} GeV, ≤ {config.n_constituents} constituents; {sizes['n_train']} jets for contrastive "
          f"training, {sizes['n_lct']} for the classifier, {sizes['n_test']} test; {config.epochs} epochs, "
          f"d_model {config.d_model}, {config.n_layers} layers\n"
          f"   talk: Dillon et al. arXiv:2108.04253 (top-tagging reference dataset, ~10⁶ jets, GPU training)")
    print("| augmentations | talk 1/ε_b (ε_s=0.5) | talk AUC | our 1/ε_b | our AUC | untrained AUC | alignment | uniformity |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        talk_rej, talk_auc = TALK[row["row"]]
        print(f"| {row['row']} | {talk_rej} | {talk_auc:.3f} | {row['rejection']:.1f} | {row['auc']:.3f} | "
              f"{row['auc_untrained']:.3f} | {row['alignment']:.3f} | {row['uniformity']:.2f} |")
    aucs = [row["auc"] for row in rows]
    order = "holds" if all(a < b for a, b in zip(aucs, aucs[1:])) else "does not hold"
    print(f"   the talk's ordering none < translations < rotations < soft+collinear < all (AUC): {order} here")


def print_invariance(curves: dict[str, np.ndarray], angles: np.ndarray) -> None:
    print("\n2. Invariance: ⟨s(r(x), r(R(θ)x))⟩ over test jets")
    step = max(1, len(angles) // 8)
    shown = list(range(0, len(angles), step))
    print("| encoder | " + " | ".join(f"{np.degrees(angles[k]):.0f}°" for k in shown) + " | min |")
    print("|---|" + "---|" * (len(shown) + 1))
    for name, curve in curves.items():
        print(f"| {name} | " + " | ".join(f"{curve[k]:.3f}" for k in shown) + f" | {curve.min():.3f} |")


def save_figures(results: dict[str, JetclrResult], curves: dict[str, np.ndarray], angles: np.ndarray,
                 folder: Path) -> list[str]:
    from _figures import save_figure

    from jetviz.plots.jetclr import invariance_plot, rejection_curves

    rocs = {row: result.roc() for row, result in results.items()}
    trained = next(curve for name, curve in curves.items() if name != "untrained")
    return [save_figure(rejection_curves(rocs), folder, "jetclr_roc"),
            save_figure(invariance_plot(angles, trained, curves["untrained"]), folder, "jetclr_invariance")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="10⁵ jets, 30 epochs, d_model 128, 4 layers, cuda")
    parser.add_argument("--sample", default="top_qcd", choices=["top_qcd", "toy_top_qcd"])
    parser.add_argument("--n-jets", type=int, help="jets in all (default 12000; --full 100000)")
    parser.add_argument("--epochs", type=int, help="default 12; --full 30")
    parser.add_argument("--d-model", type=int, help="default 32; --full 128")
    parser.add_argument("--n-heads", type=int, default=4)
    parser.add_argument("--n-layers", type=int, help="default 2; --full 4")
    parser.add_argument("--n-constituents", type=int, default=50)
    parser.add_argument("--batch-size", type=int, help="default 128; --full 256")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="default auto; --full cuda")
    parser.add_argument("--rows", default=",".join(ABLATION), help="ablation rows to run")
    parser.add_argument("--workers", type=int, default=2, help="ablation runs at a time (processes)")
    parser.add_argument("--throughput-jets", type=int, default=2048, help="jets of the throughput epoch")
    parser.add_argument("--n-invariance", type=int, default=512, help="test jets of the invariance curve")
    parser.add_argument("--n-angles", type=int, default=37, help="rotation angles of the invariance curve, over [0, 2π]")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--run-dir", help="keep (and resume) the runs here")
    parser.add_argument("--figures", default=str(Path(__file__).parent.parent / "docs" / "figures"))
    parser.add_argument("--no-figures", action="store_true")
    parser.add_argument("--json", help="also write all numbers to this JSON file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = dict(n_jets=100_000, epochs=30, d_model=128, n_layers=4, batch_size=256, device="cuda") if args.full \
        else dict(n_jets=12_000, epochs=12, d_model=32, n_layers=2, batch_size=128, device="auto")
    for key in sizes:
        if getattr(args, key) is not None:
            sizes[key] = getattr(args, key)
    config = JetclrConfig(sample=args.sample, n_jets=sizes["n_jets"], epochs=sizes["epochs"], d_model=sizes["d_model"],
                          n_heads=args.n_heads, n_layers=sizes["n_layers"], rep_dim=sizes["d_model"],
                          proj_dim=max(2, sizes["d_model"] // 2), n_constituents=args.n_constituents,
                          batch_size=sizes["batch_size"], learning_rate=args.learning_rate, device=sizes["device"],
                          seed=args.seed, n_invariance=args.n_invariance, n_angles=args.n_angles)
    started = time.perf_counter()
    root = Path(args.run_dir) if args.run_dir else RunDir.new("jetclr-bench").path
    root.mkdir(parents=True, exist_ok=True)
    rows_wanted = [r.strip() for r in args.rows.split(",") if r.strip()]
    print(f"device {pick_device(config.device)}; run directory {root}", flush=True)
    last = [0.0]

    def log(event: dict) -> None:
        now = time.perf_counter()
        if event["kind"] == "unit" or (event["kind"] == "stage" and now - last[0] > 10):
            last[0] = now
            print(f"  [{now - started:.0f} s] {event.get('message', '')}", flush=True)

    rows = ablation(config, rows_wanted, workers=args.workers, root=root, progress=log)
    results = {row["row"]: JetclrResult.load(row["run_dir"]) for row in rows}
    any_result = next(iter(results.values()))
    m = any_result.metrics
    out: dict = {"talk": TALK, "config": config.to_dict(), "run_dir": str(root), "ablation": rows,
                 "sizes": {"n_train": m["n_train"], "n_lct": m["n_lct"], "n_test": m["n_test"]}}
    print_ablation(rows, config, out["sizes"])

    angles = any_result.arrays["angles"]
    curves = {f"trained ({row})": results[row].arrays["invariance"] for row in ("all", "rotations", "none")
              if row in results}
    curves["untrained"] = any_result.arrays["invariance_untrained"]
    print_invariance(curves, angles)
    out["invariance"] = {"angles": angles.tolist(), **{k: v.tolist() for k, v in curves.items()}}
    out["ablation_s"] = time.perf_counter() - started

    if not args.no_throughput:
        data = JetclrRunner(config, root / "shared").load_data()
        train = np.flatnonzero(data.split == 0)[: args.throughput_jets]
        rates = throughput(data.x[train], data.mask[train], config, args.repeats)
        out["throughput"] = rates
        print(f"\n3. Training throughput ({rates['n_jets']} jets, d_model {config.d_model}, batch {config.batch_size}, "
              f"{rates['device']}, best of {rates['repeats']}): runner {max(rates['runner']):.0f} jets/s, plain loop "
              f"{max(rates['plain']):.0f} jets/s, ratio {rates['ratio']:.2f} (target ≥ 0.9)")
    if not args.no_figures:
        out["figures"] = save_figures(results, curves, angles, Path(args.figures))
        print("\nfigures: " + ", ".join(out["figures"]))
    out["wall_s"] = time.perf_counter() - started
    print(f"\nwall time {out['wall_s']:.0f} s")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(out, handle, indent=2, default=json_default)
        print(f"numbers written to {args.json}")


if __name__ == "__main__":
    main()
