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
   **Error bars** (part 1b): the linear classifier test again, for every row, on a separate
   test sample of ``--n-test-jets`` jets (default 50000; the same recipe and jet window, seed
   ``--test-seed``, default ``--seed`` + 1000; generated once — ~15 min of one core at ~57 jets/s —
   then read from the sample cache; 0: the runs' own test split): the classifier trained on the run's LCT jets, applied to the
   frozen representations of those jets; 1/ε_b at ε_s = 0.5 and AUC with a bootstrap error
   (``--bootstrap`` resamples of the test sample, default 200), as mean ± std over the training
   seeds ``--seeds`` (default: ``--seed`` only — each seed is a whole ablation, ~15 min of CPU
   on 2 cores; e.g. ``--seeds 0,1,2`` for three; every seed trains on the same jets, in
   ``<run-dir>/seed-<s>``). Then the talk's ordering none < translations ≤ rotations <
   soft+collinear < all, step by step: whether it holds and whether each step's difference is
   beyond its error (the seeds' standard error of the mean difference and the paired bootstrap
   of the test sample, the same resampled jets for both rows, in quadrature).
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
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))

from _stats import finish, over_seeds, paired_bootstrap, parse_seeds, pm, ordering  # noqa: E402  (benchmarks/_stats.py)
from jetviz.models.constituents import ABLATION  # noqa: E402
from jetviz.models.jetclr import linear_classifier_test, nt_xent, representations  # noqa: E402
from jetviz.models.metrics import background_rejection, roc_auc  # noqa: E402
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

#: the talk's ordering of the ablation rows (strict < or ≤ between neighbours)
ORDER = ("none", "translations", "rotations", "soft+collinear", "all")
ORDER_STRICT = (True, False, True, True)
METRICS = {"rejection": lambda labels, scores: background_rejection(labels, scores, 0.5), "auc": roc_auc}


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
    auc = {row["row"]: row["auc"] for row in rows}
    if list(auc) == list(ORDER):
        steps = [auc[b] > auc[a] if strict else auc[b] >= auc[a] for a, b, strict in zip(ORDER, ORDER[1:], ORDER_STRICT)]
        print("   the talk's ordering none < translations ≤ rotations < soft+collinear < all (AUC): "
              f"{'holds' if all(steps) else 'does not hold'} here (error bars: part 1b)")


# ----------------------------------------------------------------------------- error bars
def _std(values: np.ndarray) -> float:
    """Standard deviation (ddof 1) of the finite values (1/ε_b is infinite where no background passes)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def test_scores(result: JetclrResult, data, test, device: str) -> tuple[np.ndarray, np.ndarray]:
    """(labels, LCT scores) of one run's encoder on the test jets ``test`` (a :class:`JetclrData`, every
    jet), the classifier trained on the run's LCT jets (``data.split == 1``); ``test`` None: the run's
    own test split (its stored scores)."""
    if test is None:
        return result.arrays["labels"][result.arrays["test_index"]], result.arrays["scores"]
    model = result.model.to(device)
    lct = np.flatnonzero(data.split == 1)
    rep_lct = representations(model, data.x[lct], data.mask[lct], device)
    rep_test = representations(model, test.x, test.mask, device)
    return test.labels, linear_classifier_test(rep_lct, data.labels[lct], rep_test, test.labels)["scores"]


def error_bars(by_seed: dict[int, dict[str, JetclrResult]], data, test, device: str, n_resamples: int) -> dict:
    """Part 1b: per row, 1/ε_b (ε_s = 0.5) and AUC on the test jets with bootstrap errors, over the seeds;
    the ordering check on the paired bootstrap of each step's difference."""
    seeds = sorted(by_seed)
    names = [row for row in ORDER if all(row in by_seed[s] for s in seeds)]
    per_seed, boots = {}, {}
    for s in seeds:
        labels, scores = None, []
        for name in names:
            labels, sc = test_scores(by_seed[s][name], data, test, device)
            scores.append(sc)
        per_seed[s] = {key: [float(f(labels, sc)) for sc in scores] for key, f in METRICS.items()}
        boots[s] = {key: paired_bootstrap(f, labels, scores, n_resamples, seed=s) for key, f in METRICS.items()}
        n_test = int(len(labels))
    rows = []
    for i, name in enumerate(names):
        row = {"row": name, "n_seeds": len(seeds), "n_test": n_test, "per_seed": []}
        for key in METRICS:
            values = [per_seed[s][key][i] for s in seeds]
            boot_std = [_std(boots[s][key][:, i]) for s in seeds]
            row[key] = over_seeds(values)
            row[f"{key}_bootstrap_std"] = float(np.mean(boot_std))
        row["per_seed"] = [{"seed": s, **{key: per_seed[s][key][i] for key in METRICS},
                            **{f"{key}_bootstrap_std": _std(boots[s][key][:, i]) for key in METRICS}}
                           for s in seeds]
        rows.append(row)
    checks = {}
    if names == list(ORDER):
        for key in METRICS:
            differences = []
            for i in range(len(names) - 1):
                d = [per_seed[s][key][i + 1] - per_seed[s][key][i] for s in seeds]
                with np.errstate(invalid="ignore"):  # inf − inf where no background passes
                    d_boot = float(np.mean([_std(boots[s][key][:, i + 1] - boots[s][key][:, i]) for s in seeds]))
                    seed_error = _std(d) / np.sqrt(len(d)) if len(d) > 1 else 0.0
                differences.append({"mean": float(np.mean(d)), "std": float(np.hypot(seed_error, d_boot))})
            checks[key] = ordering(names, differences, ORDER_STRICT)
    return {"seeds": seeds, "n_test": n_test, "n_resamples": n_resamples,
            "test_sample": "separate" if test is not None else "the runs' test split", "rows": rows, "ordering": checks}


def print_error_bars(out: dict) -> None:
    print(f"\n1b. Linear classifier test on {out['n_test']} test jets ({out['test_sample']}), mean ± std over seeds "
          f"{out['seeds']}; [bootstrap error of the test sample, {out['n_resamples']} resamples]")
    print("| augmentations | 1/ε_b (ε_s=0.5) | [bootstrap] | AUC | [bootstrap] | seeds | 1/ε_b per seed |")
    print("|---|---|---|---|---|---|---|")
    for row in out["rows"]:
        per = ", ".join(f"{r['rejection']:.1f}" for r in row["per_seed"])
        print(f"| {row['row']} | {pm(row['rejection'], '.1f', n=False)} | ± {row['rejection_bootstrap_std']:.1f} | "
              f"{pm(row['auc'], '.4f', n=False)} | ± {row['auc_bootstrap_std']:.4f} | {row['n_seeds']} | {per} |")
    if not out["ordering"]:
        print("   ordering check: needs all five rows")
        return
    for key, label in (("rejection", "1/ε_b"), ("auc", "AUC")):
        steps = out["ordering"][key]
        claim = " ".join([steps[0]["lower"]] + [f"{st['relation']} {st['upper']}" for st in steps])
        verdict = "holds" if all(st["holds"] for st in steps) else "does not hold"
        print(f"   the talk's ordering {claim} ({label}): {verdict} here")
        for st in steps:
            if not (np.isfinite(st["difference"]) and np.isfinite(st["error"])):
                print(f"     {st['lower']} {st['relation']} {st['upper']}: not finite (1/ε_b infinite: no background "
                      "jet passes at ε_s = 0.5; use more test jets)")
                continue
            state = "beyond the error" if st["beyond_errors"] else ("contradicted beyond the error" if st["contradicted"]
                                                                     else "within the error")
            print(f"     {st['lower']} {st['relation']} {st['upper']}: difference {st['difference']:+.4g} ± {st['error']:.2g} "
                  f"— {'holds' if st['holds'] else 'fails'}, {state}")


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
    parser.add_argument("--seed", type=int, default=0, help="seed of the jets, their split and the main ablation")
    parser.add_argument("--seeds", type=parse_seeds, help="comma-separated training seeds of part 1b (default: --seed)")
    parser.add_argument("--n-test-jets", type=int, default=50_000,
                        help="jets of part 1b's separate test sample (0: the runs' own test split)")
    parser.add_argument("--test-seed", type=int, help="seed of that sample (default: --seed + 1000)")
    parser.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples of the test sample")
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

    data = JetclrRunner(config, root / "shared").load_data(log)
    rows = ablation(config, rows_wanted, workers=args.workers, root=root, progress=log, data=data)
    results = {row["row"]: JetclrResult.load(row["run_dir"]) for row in rows}
    any_result = next(iter(results.values()))
    m = any_result.metrics
    out: dict = {"talk": TALK, "config": config.to_dict(), "run_dir": str(root), "ablation": rows,
                 "sizes": {"n_train": m["n_train"], "n_lct": m["n_lct"], "n_test": m["n_test"]}}
    print_ablation(rows, config, out["sizes"])

    seeds = args.seeds or [args.seed]
    by_seed = {args.seed: results} if args.seed in seeds else {}
    for seed in seeds:
        if seed not in by_seed:
            seed_config = JetclrConfig.from_dict(dict(config.to_dict(), seed=seed))
            print(f"  ablation with training seed {seed} (same jets) in {root / f'seed-{seed}'}", flush=True)
            seed_rows = ablation(seed_config, rows_wanted, workers=args.workers, root=root / f"seed-{seed}", progress=log,
                                 data=data)
            by_seed[seed] = {row["row"]: JetclrResult.load(row["run_dir"]) for row in seed_rows}
    test = None
    if args.n_test_jets:
        test_seed = args.seed + 1000 if args.test_seed is None else args.test_seed
        test_config = JetclrConfig.from_dict(dict(config.to_dict(), n_jets=args.n_test_jets, seed=test_seed))
        test_started = time.perf_counter()
        test = JetclrRunner(test_config, root / "test-sample").load_data(log)
        print(f"  separate test sample: {len(test.labels)} jets (seed {test_seed}, {int(test.labels.sum())} top) in "
              f"{time.perf_counter() - test_started:.0f} s", flush=True)
    out["error_bars"] = error_bars(by_seed, data, test, pick_device(config.device), args.bootstrap)
    if test is not None:
        out["error_bars"]["test_seed"] = test_seed
    print_error_bars(out["error_bars"])

    angles = any_result.arrays["angles"]
    curves = {f"trained ({row})": results[row].arrays["invariance"] for row in ("all", "rotations", "none")
              if row in results}
    curves["untrained"] = any_result.arrays["invariance_untrained"]
    print_invariance(curves, angles)
    out["invariance"] = {"angles": angles.tolist(), **{k: v.tolist() for k, v in curves.items()}}
    out["ablation_s"] = time.perf_counter() - started

    if not args.no_throughput:
        train = np.flatnonzero(data.split == 0)[: args.throughput_jets]
        rates = throughput(data.x[train], data.mask[train], config, args.repeats)
        out["throughput"] = rates
        print(f"\n3. Training throughput ({rates['n_jets']} jets, d_model {config.d_model}, batch {config.batch_size}, "
              f"{rates['device']}, best of {rates['repeats']}): runner {max(rates['runner']):.0f} jets/s, plain loop "
              f"{max(rates['plain']):.0f} jets/s, ratio {rates['ratio']:.2f} (target ≥ 0.9)")
    if not args.no_figures:
        out["figures"] = save_figures(results, curves, angles, Path(args.figures))
        print("\nfigures: " + ", ".join(out["figures"]))
    finish(out, args.json, started)


if __name__ == "__main__":
    main()
