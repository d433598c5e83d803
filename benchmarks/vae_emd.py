"""Seed 002 reproduction: β-VAE on QCD jet images vs the Energy Mover's Distance (top vs QCD).

Run:  .venv/bin/python benchmarks/vae_emd.py            # CPU default (< 15 min on 2 cores, + ~6 min for 3 seeds)
      .venv/bin/python benchmarks/vae_emd.py --full     # 20000 jets, 50 epochs, 32 channels, for a GPU
      .venv/bin/python benchmarks/vae_emd.py --sample toy_top_qcd --n-jets 200 --epochs 1 --channels 2 \\
          --n-corr 10 --n-pool 10 --n-anomaly 20 --betas 0,1e-7 --emd-jets 12 --figures /tmp/fig
                                                        # seconds: checks that the script runs

CPU default: part 1 on 200 jets (19,900 pairs, 3 rounds, ~2 min) and 2000 jets on dask (~9 min); part 2 on 3000 ``top_qcd`` jets (900 QCD
training jets), 40×40 images, VAE with 8 first-block channels and a 64-d latent, 40 epochs,
r over the 11,175 pairs of 150 QCD test jets, k-medoids (k = 10) of 150 QCD training jets,
600 jets scored by EMD; 10 VAEs in all (8 β values + n_down 1 and 2; 6 more for the seeds, below), the scan two at a
time. Measured on 2 shared cores: ~1–2.5 s per epoch of 600 images (n_down 3, one thread),
~3000 image-EMD pairs/s per process, measured with 40 epochs: ≈ 14 min on 2 cores shared with the test suite (two invocations on one run directory). Every setting is a
flag; ``--full`` only changes the defaults.

Two parts, in one run (``--emd-only`` / ``--no-emd-bench`` pick one):

1. **EMD throughput.** ``--emd-jets`` (200) ``top_qcd`` jets (anti-kt R = 1.0, 450 < pT < 1000
   GeV), each centred on its pT-weighted axis (φ wrapped about it first, so no pair needs a
   periodic φ), as zero-padded-then-cut (pT, η, φ) event arrays. The symmetric pairwise EMD
   matrix with energyflow's default ``emds`` definition — p (energyflow's ``beta``) = 1, R = 1,
   unnormalised (``norm=False``: the |ΣpT − ΣpT′| term), ``periodic_phi=False`` — computed by
   jetviz's :func:`jetviz.models.emd.emd_matrix` (the documented drop-in, docs/emd.md) and by
   ``energyflow.emd.emds`` (wasserstein library) with 1 and 2 workers each, on the same jets:
   energyflow runs in its reference environment ``benchmarks/.refenv`` (:mod:`_refenv`), reads
   the jets from ``.npy`` files, times itself and writes its matrices and seconds back. The
   two alternate in ``--emd-rounds`` (3) rounds; the best time of each counts. Printed: pairs/s
   of each, the ratio jetviz / energyflow per worker count (target ≥ 2.0× on one worker), the
   1 → 2 worker scaling of each (target ≥ 1.8× for jetviz), the largest relative difference of
   the matrices (must be ≤ 1e-6) and the machine's load average before each round. Then the
   **dask row**: the matrix of ``--dask-jets`` (2000; 1,999,000 pairs) jets on a
   ``distributed.LocalCluster`` of ``--dask-workers`` (1, 2) single-threaded worker processes
   (pairs/s, speedup over one worker, and that every cluster returns the same matrix).
2. **The study** (:mod:`jetviz.runners.vae_emd`, one shared sample and one shared EMD study
   in ``<run-dir>/shared``): one β-VAE per number of downsampling blocks n_down ∈ {1, 2, 3}
   at β = ``--beta`` (the talk's optimum 1e-7) — Pearson r of the input-space MSE (baseline),
   of each block's output and of the latent means with W_0.5 and W_1 over all pairs of
   ``--n-corr`` QCD test jets — and a β scan (``beta_scan``, n_down = 3, ``--workers``
   processes) over the talk's β values: AUC of the VAE loss and latent r vs β, and the AUCs
   of the three anomaly scores (VAE loss, W_1 to the mean QCD image, minimum W_1 to the
   k-medoids) at the best β (highest VAE-loss AUC). The n_down = 3 row is the scan's run at
   ``--beta`` when the scan contains it. Printed next to the talk's table (docs/reference.md,
   seed 002), with our sample sizes.

Convergence and seeds: every VAE trains with early stopping on its validation loss
(``--patience``, default 5 epochs without a lower loss; ``--epochs`` is the most; 0 turns it
off), and the n_down rows (1, 2, 3 at β = ``--beta``) are trained once per seed of ``--seeds``
(default 3: ``--seed`` and the next two) — initial weights and shuffles; the same jets, split
and EMD study — and printed (part 2b) as mean ± std over the seeds of the latent r (p = 0.5,
1), the VAE-loss AUC and the epochs trained, with the per-seed values in the JSON
(``seeds``). The seed ``--seed`` reuses the runs above; each further seed costs one VAE per
n_down (CPU default: ~1 min each, ~6 min for the default 3 seeds); ``--seeds 0`` as before.

``--run-dir`` names the study's directory; finished runs in it are reopened (not retrained),
an unfinished one resumes from its last epoch, so a killed run continues when the same
command is run again. Figures (PNG via headless Chromium, HTML without it):
``<figures>/vae_emd_roc.png`` (ROC of the three scores at the best β) and
``<figures>/vae_emd_beta.png`` (AUC and latent r vs β). ``--json`` writes every number.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _figures import save_figure  # noqa: E402  (benchmarks/_figures.py)
from _refenv import REFENV, refenv_python  # noqa: E402  (benchmarks/_refenv.py)
from _stats import finish, over_seeds, parse_seeds, pm  # noqa: E402  (benchmarks/_stats.py)

#: the talk's correlation table (seed 002, docs/reference.md): row → {p: r}; None where not stated
TALK = {
    "input": {"p0.5": 0.55, "p1": 0.44},
    "latent, 1 block": {"p0.5": 0.68, "p1": None},
    "latent, 2 blocks": {"p0.5": 0.76, "p1": None},
    "latent, 3 blocks": {"p0.5": 0.79, "p1": 0.70},
}
TALK_BEST_BETA = 1e-7
SCORES = {"vae_loss": "β-VAE loss", "emd_mean_qcd": "W_1 to the mean QCD image", "emd_medoids": "min W_1 to k-medoids"}

REF_SCRIPT = r'''
# energyflow's side of one round: emds on the jets of jets.npy (zero-padded (N, P, 3) pT, y, phi)
# with counts.npy, once per worker count after a warm-up; matrices and seconds written back.
import json, sys, time
import numpy as np
import energyflow
import wasserstein
from energyflow.emd import emds

jets, counts = np.load(sys.argv[1]), np.load(sys.argv[2])
out, jobs, tag = sys.argv[3], [int(j) for j in sys.argv[4].split(",")], sys.argv[5]
events = [np.ascontiguousarray(x[:c]) for x, c in zip(jets, counts)]
emds(events[:8], R=1.0, beta=1.0, norm=False, periodic_phi=False, n_jobs=1, verbose=0)  # warm-up
seconds = {}
for j in jobs:
    start = time.perf_counter()
    matrix = emds(events, R=1.0, beta=1.0, norm=False, periodic_phi=False, n_jobs=j, verbose=0)
    seconds[j] = time.perf_counter() - start
    np.save(f"{out}/ef_{j}.npy", matrix)
json.dump({"seconds": seconds, "energyflow": energyflow.__version__, "wasserstein": wasserstein.__version__,
           "numpy": np.__version__}, open(f"{out}/ef_{tag}.json", "w"))
'''

#: the documented drop-in for energyflow.emd.emds(X, R=1.0, beta=1.0, norm=False) (docs/emd.md)
EMD_OPTIONS = dict(R=1.0, p=1.0, norm=False, periodic_phi=False)


def machine_load() -> str:
    """The 1-minute load average and the CPU count (the benchmark shares its cores)."""
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


# ----------------------------------------------------------------------------- part 1: EMD throughput
def emd_jets(sample: str, n_jets: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Zero-padded ``(N, P, 3)`` (pT, η, φ) of ``n_jets`` jets centred on their pT-weighted axis, and ``(N,)`` counts."""
    import awkward as ak

    from jetviz.data.samples import load_sample

    events = load_sample(sample, n_jets, seed, R=1.0, pt_min=450.0, pt_max=1000.0, show_progress=False)
    particles = events.particles
    counts = ak.to_numpy(ak.num(particles, axis=1)).astype(np.int64)
    p = int(counts.max())

    def pad(field: str) -> np.ndarray:
        return ak.to_numpy(ak.fill_none(ak.pad_none(particles[field], p, axis=1, clip=True), 0.0)).astype(np.float64)

    pt, eta, phi = pad("pt"), pad("eta"), pad("phi")
    real = np.arange(p)[None, :] < counts[:, None]
    lead = phi[:, :1]  # wrap φ about the leading constituent, then centre on the pT-weighted axis
    phi = np.where(real, np.mod(phi - lead + np.pi, 2 * np.pi) - np.pi, 0.0)
    total = pt.sum(axis=1, keepdims=True)
    eta = np.where(real, eta - (pt * eta).sum(axis=1, keepdims=True) / total, 0.0)
    phi = np.where(real, phi - (pt * phi).sum(axis=1, keepdims=True) / total, 0.0)
    return np.stack([pt, eta, phi], axis=-1), counts


def _benchmark_events(sample: str, n_jets: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """:func:`emd_jets`, and the jets as a list of ``(M, 3)`` events (energyflow's input, as it is); prints their sizes."""
    started = time.perf_counter()
    jets, counts = emd_jets(sample, n_jets, seed)
    n = len(jets)
    print(f"  {n} {sample} jets (R = 1.0, 450 < pT < 1000 GeV; {counts.mean():.0f} constituents on average, "
          f"max {counts.max()}), {n * (n - 1) // 2} pairs; loaded in {time.perf_counter() - started:.0f} s", flush=True)
    return jets, counts, [np.ascontiguousarray(x[:c]) for x, c in zip(jets, counts)]


def emd_throughput(sample: str, n_jets: int, jobs: list[int], seed: int = 0, rounds: int = 3) -> dict:
    """jetviz ``emd_matrix`` vs energyflow ``emds`` on the same jets, interleaved, best of ``rounds``.

    Each round runs energyflow (its reference environment, one subprocess: a warm-up, then one
    matrix per worker count) and then jetviz (one matrix per worker count) on the same jets;
    the best time of each over the rounds gives pairs/s and the ratios.
    """
    from jetviz.models.emd import emd_matrix

    jets, counts, events = _benchmark_events(sample, n_jets, seed)
    n = len(jets)
    pairs = n * (n - 1) // 2
    python = refenv_python()
    emd_matrix(events[:8], **EMD_OPTIONS)  # warm-up (compiled code from numba's disk cache)
    ours, seconds, ef_seconds, loads = {}, {j: [] for j in jobs}, {j: [] for j in jobs}, []
    with tempfile.TemporaryDirectory(dir=REFENV) as scratch:
        np.save(f"{scratch}/jets.npy", jets)
        np.save(f"{scratch}/counts.npy", counts)
        Path(f"{scratch}/run_emds.py").write_text(REF_SCRIPT)
        for r in range(rounds):
            loads.append(machine_load())
            subprocess.run([str(python), f"{scratch}/run_emds.py", f"{scratch}/jets.npy", f"{scratch}/counts.npy",
                            scratch, ",".join(map(str, jobs)), str(r)], check=True)
            ref = json.loads(Path(f"{scratch}/ef_{r}.json").read_text())
            for j in jobs:
                ef_seconds[j].append(float(ref["seconds"][str(j)]))
                start = time.perf_counter()
                ours[j] = emd_matrix(events, n_jobs=j, **EMD_OPTIONS)
                seconds[j].append(time.perf_counter() - start)
            print(f"  round {r + 1}/{rounds} ({loads[-1]}): " + ", ".join(
                f"{j} worker(s): jetviz {pairs / seconds[j][-1]:.0f}, energyflow {pairs / ef_seconds[j][-1]:.0f} pairs/s"
                for j in jobs), flush=True)
        ef = {j: np.load(f"{scratch}/ef_{j}.npy") for j in jobs}
    loads.append(machine_load())
    iu = np.triu_indices(n, 1)
    reference = ef[jobs[0]][iu]
    rel = max(float(np.max(np.abs(ours[j][iu] - ef[k][iu]) / np.maximum(np.abs(reference), 1e-300)))
              for j in jobs for k in jobs)
    rows = []
    for j in jobs:
        ours_s, ef_s = min(seconds[j]), min(ef_seconds[j])
        rows.append({"workers": j, "jetviz_s": ours_s, "energyflow_s": ef_s, "jetviz_pairs_per_s": pairs / ours_s,
                     "energyflow_pairs_per_s": pairs / ef_s, "ratio": ef_s / ours_s,
                     "jetviz_s_all": seconds[j], "energyflow_s_all": ef_seconds[j]})
    scaling = {}
    if 1 in jobs:
        for j in jobs:
            if j != 1:
                scaling[j] = {"jetviz": min(seconds[1]) / min(seconds[j]), "energyflow": min(ef_seconds[1]) / min(ef_seconds[j])}
    return {"sample": sample, "n_jets": n, "n_pairs": pairs, "mean_constituents": float(counts.mean()),
            "definition": "p=1 (energyflow beta=1), R=1, norm=False, periodic_phi=False, jets centred",
            "rounds": rounds, "rows": rows, "scaling": scaling, "max_rel_diff": rel, "loads": loads,
            "energyflow": ref["energyflow"], "wasserstein": ref["wasserstein"], "refenv_numpy": ref["numpy"]}


def _process_seconds() -> float:
    return time.process_time()


def emd_dask(sample: str, n_jets: int, workers: list[int], seed: int = 0) -> dict:
    """jetviz ``emd_matrix`` of ``n_jets`` jets on a dask ``LocalCluster`` of 1, 2 ... single-threaded worker processes.

    Besides the wall time, each row has the workers' CPU seconds during the matrix (their
    ``time.process_time``) and how busy they were (task compute time / wall, from dask's task
    stream): on a machine whose other sessions take cores the wall time stops being linear in
    the workers, while pairs per CPU second and the busy fraction still show whether dask
    itself costs anything.
    """
    from distributed import Client, LocalCluster, get_task_stream

    from jetviz.models.emd import emd_matrix

    jets, counts, events = _benchmark_events(sample, n_jets, seed)
    n = len(jets)
    pairs = n * (n - 1) // 2
    rows, first = [], None
    for w in workers:
        with LocalCluster(n_workers=w, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            emd_matrix(events[:8], client=client, **EMD_OPTIONS)  # warm-up: every worker loads the compiled code
            load = machine_load()
            cpu_before = client.run(_process_seconds)
            start = time.perf_counter()
            with get_task_stream(client) as stream:
                matrix = emd_matrix(events, client=client, **EMD_OPTIONS)
            wall = time.perf_counter() - start
            cpu = sum(client.run(_process_seconds)[k] - cpu_before[k] for k in cpu_before)
            busy = sum(part["stop"] - part["start"] for task in stream.data for part in task["startstops"]
                       if part["action"] == "compute")
        if first is None:
            first = matrix
        rows.append({"workers": w, "seconds": wall, "pairs_per_s": pairs / wall, "worker_cpu_s": cpu,
                     "pairs_per_cpu_s": pairs / cpu, "busy": busy / (w * wall), "load_before": load,
                     "load_after": machine_load(), "same_matrix": bool(np.array_equal(matrix, first))})
        print(f"  {w} dask worker(s): {pairs / wall:.0f} pairs/s ({wall:.0f} s; {pairs / cpu:.0f} pairs per worker CPU "
              f"second, workers busy {100 * busy / (w * wall):.0f} %; {load})", flush=True)
    for row in rows:
        row["speedup"] = rows[0]["seconds"] / row["seconds"]
    return {"sample": sample, "n_jets": n, "n_pairs": pairs, "rows": rows}


#: energyflow's emd/emds options vs the documented jetviz call, on random events (docs/emd.md):
#: name -> (energyflow keywords, jetviz keywords, columns per particle)
OPTION_CASES = {
    "default (R=1, beta=1, unnormalised)": ({}, {"periodic_phi": False}, 3),
    "norm=True, beta=0.5, R=0.4": ({"norm": True, "beta": 0.5, "R": 0.4}, {"norm": True, "p": 0.5, "R": 0.4, "periodic_phi": False}, 3),
    "beta=2, R=0.8": ({"beta": 2.0, "R": 0.8}, {"p": 2.0, "R": 0.8, "periodic_phi": False}, 3),
    "periodic_phi=True (phi in [0, 2pi))": ({"periodic_phi": True}, {"periodic_phi": True}, 3),
    "gdim=1": ({"gdim": 1}, {"gdim": 1, "periodic_phi": False}, 2),
    "gdim=3": ({"gdim": 3}, {"gdim": 3, "periodic_phi": False}, 4),
    "(pT, y, phi, pid), gdim=2": ({"gdim": 2}, {"gdim": 2, "periodic_phi": False}, 4),
    "gdim=4, norm=True": ({"gdim": 4, "norm": True}, {"gdim": 4, "norm": True, "periodic_phi": False}, 5),
    "float32": ({"dtype": "float32"}, {"dtype": "float32", "periodic_phi": False}, 3),
}

REF_OPTIONS_SCRIPT = r"""
# energyflow's side of the options check: emds and emd (with its flow) on the events of events_<k>.npz
import json, sys, warnings
import numpy as np
from energyflow.emd import emd, emds
warnings.simplefilter("ignore")
folder, cases = sys.argv[1], json.loads(open(sys.argv[2]).read())
for k, kw in enumerate(cases):
    data = np.load(f"{folder}/events_{k}.npz")
    events = [data[f"e{i}"] for i in range(len(data.files))]
    if kw.get("dtype") == "float32":
        events = [e.astype(np.float32) for e in events]
    value, flow = emd(events[0], events[1], return_flow=True, **kw)
    np.savez(f"{folder}/ef_{k}.npz", matrix=emds(events, n_jobs=1, **kw), value=np.array([value]), flow=flow)
"""


def emd_options_check(seed: int = 0) -> dict:
    """Each of :data:`OPTION_CASES` by energyflow (reference environment) and by jetviz: largest relative differences."""
    from jetviz.models.emd import emd, emd_matrix

    rng = np.random.default_rng(seed)
    cases = list(OPTION_CASES.items())
    rows = []
    with tempfile.TemporaryDirectory(dir=REFENV) as scratch:
        all_events = []
        for k, (_, (_, _, columns)) in enumerate(cases):
            events = []
            for _ in range(8):
                size = int(rng.integers(1, 25))
                x = np.empty((size, columns))
                x[:, 0] = rng.exponential(30.0, size)
                x[:, 1:] = rng.normal(0.0, 0.8, (size, columns - 1))
                if columns >= 3:
                    x[:, 2] = rng.uniform(0.0, 2 * np.pi, size)
                if columns == 4 and "pid" in cases[k][0]:
                    x[:, 3] = rng.choice([-211.0, 22.0, 211.0, 2112.0], size)
                events.append(x)
            np.savez(f"{scratch}/events_{k}.npz", **{f"e{i}": e for i, e in enumerate(events)})
            all_events.append(events)
        Path(f"{scratch}/cases.json").write_text(json.dumps([ef_kw for _, (ef_kw, _, _) in cases]))
        Path(f"{scratch}/run_options.py").write_text(REF_OPTIONS_SCRIPT)
        subprocess.run([str(refenv_python()), f"{scratch}/run_options.py", scratch, f"{scratch}/cases.json"], check=True)
        for k, (name, (_, kw, _)) in enumerate(cases):
            ef = np.load(f"{scratch}/ef_{k}.npz")
            events = all_events[k]
            if kw.get("dtype") == "float32":
                events = [e.astype(np.float32) for e in events]
            matrix = emd_matrix(events, **kw)
            value, flow = emd(events[0], events[1], return_flow=True, flow_with_extra=True, **kw)
            scale = np.maximum(np.abs(ef["matrix"]), 1e-30)
            rows.append({"case": name, "matrix_rel": float(np.max(np.abs(matrix - ef["matrix"]) / scale)),
                         "value_rel": float(abs(value - ef["value"][0]) / abs(ef["value"][0])),
                         "flow_shape_equal": flow.shape == ef["flow"].shape, "dtype": str(matrix.dtype)})
    return {"rows": rows}


def print_options(out: dict) -> None:
    print("\n   energyflow's options, emds vs emd_matrix and emd vs emd on 8 random events each:")
    print("| case | matrix: max relative difference | one pair | plan shape (with the extra particle) | dtype |")
    print("|---|---|---|---|---|")
    for row in out["rows"]:
        print(f"| {row['case']} | {row['matrix_rel']:.1e} | {row['value_rel']:.1e} | "
              f"{'same' if row['flow_shape_equal'] else 'DIFFERENT'} | {row['dtype']} |")


def print_throughput(out: dict) -> None:
    print(f"\n1. EMD matrix throughput: {out['n_jets']} jets, {out['n_pairs']} pairs ({out['definition']}); "
          f"energyflow {out['energyflow']} (wasserstein {out['wasserstein']}, numpy {out['refenv_numpy']}); "
          f"best of {out['rounds']} interleaved rounds")
    print("| workers | jetviz emd_matrix (pairs/s) | energyflow emds (pairs/s) | ratio jetviz/energyflow (target ≥ 2.0× per core) |")
    print("|---|---|---|---|")
    for row in out["rows"]:
        flag = "" if row["ratio"] >= 2.0 or row["workers"] != 1 else "  (below target)"
        print(f"| {row['workers']} | {row['jetviz_pairs_per_s']:.0f} ({row['jetviz_s']:.2f} s) | "
              f"{row['energyflow_pairs_per_s']:.0f} ({row['energyflow_s']:.2f} s) | {row['ratio']:.2f}×{flag} |")
    for j, s in out["scaling"].items():
        flag = "" if s["jetviz"] >= 1.8 else "  (below the 1.8× target)"
        print(f"   scaling 1 → {j} workers: jetviz {s['jetviz']:.2f}×{flag}, energyflow {s['energyflow']:.2f}×")
    ok = "ok" if out["max_rel_diff"] <= 1e-6 else "FAILED"
    print(f"   max relative difference of the matrices: {out['max_rel_diff']:.2e} (must be ≤ 1e-6: {ok})")
    print(f"   machine: {'; '.join(out['loads'])}")


def print_dask(out: dict) -> None:
    print(f"\n   dask LocalCluster, {out['n_jets']} jets ({out['n_pairs']} pairs), one thread per worker process:")
    print("| dask workers | jetviz emd_matrix (pairs/s) | seconds | speedup vs 1 worker | pairs per worker CPU second "
          "| workers busy | load before → after | same matrix |")
    print("|---|---|---|---|---|---|---|---|")
    for row in out["rows"]:
        print(f"| {row['workers']} | {row['pairs_per_s']:.0f} | {row['seconds']:.0f} | {row['speedup']:.2f}× | "
              f"{row['pairs_per_cpu_s']:.0f} | {100 * row['busy']:.0f} % | {row['load_before'].split()[2]} → "
              f"{row['load_after'].split()[2]} | {'yes' if row['same_matrix'] else 'NO'} |")


# ----------------------------------------------------------------------------- part 2: the study
def _row(result) -> dict:
    """A β-scan summary row (the keys of :func:`jetviz.runners.vae_emd.beta_scan`) of a finished run."""
    m = result.metrics
    return {"beta": result.config.beta, "run_dir": str(result.run_dir), **{f"auc_{k}": v for k, v in m["auc"].items()},
            **{f"r_{name}_{p}": r for name, rs in m["correlations"].items() for p, r in rs.items()},
            "final_train_loss": m["final_train_loss"], "epochs_trained": m.get("epochs_trained", len(result.history))}


def _finished(run_dir: Path):
    from jetviz.runners.vae_emd import VaeEmdResult

    return VaeEmdResult.load(run_dir) if (run_dir / "metrics.json").exists() else None


def study(config, root: Path, betas: list[float], n_downs: list[int], workers: int, log,
          seeds: list[int] | None = None) -> dict:
    """n_down runs and the β scan on one shared sample and EMD study; finished runs are reopened.

    ``seeds``: training seeds of the n_down runs (``config.seed``'s are the runs above; the
    others are trained in ``<root>/n_down-<k>-seed-<s>`` on the same data and EMD study).
    """
    from jetviz.runners.vae_emd import VaeEmdRunner, beta_scan

    wall = {}
    started = time.perf_counter()
    base = VaeEmdRunner(config, root / "shared")
    data = base.load_data(log)
    wall["sample_s"] = time.perf_counter() - started
    print(f"  {len(data)} jet images {data.images.shape[1:]} ({int((data.labels == 1).sum())} top, "
          f"{int((data.labels == 0).sum())} QCD; {int((data.split == 0).sum())} QCD for training) in {wall['sample_s']:.0f} s",
          flush=True)
    started = time.perf_counter()
    emd = base.emd_part(data, log)  # computed once, kept in <root>/shared/emd.npz; beta_scan reads it there
    wall["emd_study_s"] = time.perf_counter() - started
    print(f"  EMD study ({len(emd['w_p1'])} pairs × 2 p, k-medoids of {len(emd['pool_index'])}, "
          f"{len(emd['anomaly_index'])} jets scored) in {wall['emd_study_s']:.0f} s", flush=True)

    # β scan (n_down of the config): only the β values without a finished run are trained
    started = time.perf_counter()
    todo = [b for b in betas if _finished(root / f"beta-{b:g}") is None]
    if todo:
        print(f"  β scan: training {len(todo)} VAE(s) (n_down = {config.n_down}) in {workers} process(es) ...", flush=True)
        beta_scan(config, todo, workers=workers, root=root, progress=log)
    scan = sorted((_row(_finished(root / f"beta-{b:g}")) for b in betas), key=lambda r: r["beta"])
    wall["beta_scan_s"] = time.perf_counter() - started

    # n_down runs at config.beta; the scan's run is the n_down = config.n_down one when it has that β
    started = time.perf_counter()
    runs = {}
    for k in n_downs:
        if k == config.n_down and config.beta in betas:
            runs[k] = _finished(root / f"beta-{config.beta:g}")
            continue
        run_dir = root / f"n_down-{k}"
        result = _finished(run_dir)
        if result is None:
            print(f"  training n_down = {k} (β = {config.beta:g}) ...", flush=True)
            sub = config.__class__.from_dict(dict(config.to_dict(), n_down=k))
            result = VaeEmdRunner(sub, run_dir, data=data, emd=emd).fit(progress=log)
        runs[k] = result
    wall["n_down_s"] = time.perf_counter() - started

    started = time.perf_counter()
    seed_runs = {k: {config.seed: runs[k]} for k in n_downs}
    for s in seeds or [config.seed]:
        for k in n_downs:
            if s == config.seed:
                continue
            run_dir = root / f"n_down-{k}-seed-{s}"
            result = _finished(run_dir)
            if result is None:
                print(f"  training n_down = {k} (β = {config.beta:g}), seed {s} ...", flush=True)
                sub = config.__class__.from_dict(dict(config.to_dict(), n_down=k, seed=s))
                result = VaeEmdRunner(sub, run_dir, data=data, emd=emd).fit(progress=log)
            seed_runs[k][s] = result
    wall["seeds_s"] = time.perf_counter() - started
    return {"data": data, "scan": scan, "runs": runs, "seed_runs": seed_runs, "seeds": seeds or [config.seed],
            "wall": wall}


def seed_rows(seed_runs: dict, seeds: list[int]) -> list[dict]:
    """Per n_down: latent r (p = 0.5, 1), VAE-loss AUC and epochs trained, :func:`_stats.over_seeds` over the seeds."""
    rows = []
    for k, by_seed in sorted(seed_runs.items()):
        per_seed = [{"seed": s, "r_latent_p0.5": r.metrics["correlations"]["latent"]["p0.5"],
                     "r_latent_p1": r.metrics["correlations"]["latent"]["p1"], "auc_vae_loss": r.metrics["auc"]["vae_loss"],
                     "epochs_trained": r.metrics.get("epochs_trained", len(r.history))}
                    for s, r in ((s, by_seed[s]) for s in seeds if s in by_seed)]
        rows.append({"n_down": k, "n_seeds": len(per_seed), "per_seed": per_seed,
                     **{key: over_seeds(row[key] for row in per_seed)
                        for key in ("r_latent_p0.5", "r_latent_p1", "auc_vae_loss", "epochs_trained")}})
    return rows


def _r(value) -> str:
    return "–" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.2f}"


def print_study(config, out: dict) -> dict:
    """Print the tables; return their numbers (for --json)."""
    runs, scan = out["runs"], out["scan"]
    any_run = next(iter(runs.values()))
    m = any_run.metrics
    n_corr = len(any_run.arrays["corr_index"])
    sizes = (f"{config.n_jets} {config.sample} jets (half top), R = {config.jet_R:g}, {config.pt_min:g} < pT < {config.pt_max:g} "
             f"GeV, {config.n_pix}×{config.n_pix} images; {m['n_train']} QCD training jets, {config.epochs} epochs, "
             f"{config.channels} channels, latent {config.latent}; r over {m['n_pairs']} pairs of {n_corr} QCD test jets")
    print(f"\n2. Pearson r of each distance with W_p (p = 0.5 and 1), β = {config.beta:g}\n   ours: {sizes}\n"
          "   talk: Mishra et al. (zenodo 4614656 top/QCD jets, 3 downsampling blocks at most; sample sizes not stated)")
    print("| where the distance is taken | talk r (p=0.5) | our r (p=0.5) | talk r (p=1) | our r (p=1) |")
    print("|---|---|---|---|---|")
    table = []
    base = m["correlations"]["input"]
    rows = [("input", "input space (MSE between images), baseline", base)]
    for k, result in sorted(runs.items()):
        rows.append((f"latent, {k} block{'s' if k > 1 else ''}", f"latent space, {k} downsampling block{'s' if k > 1 else ''}",
                     result.metrics["correlations"]["latent"]))
    for key, label, ours in rows:
        talk = TALK.get(key, {"p0.5": None, "p1": None})
        print(f"| {label} | {_r(talk['p0.5'])} | {_r(ours['p0.5'])} | {_r(talk['p1'])} | {_r(ours['p1'])} |")
        table.append({"row": label, "talk_p0.5": talk["p0.5"], "ours_p0.5": ours["p0.5"], "talk_p1": talk["p1"],
                      "ours_p1": ours["p1"]})
    print("\n   r of every downsampling block's output and of the latent means, per network (p = 0.5 / p = 1):")
    print("| network | " + " | ".join(f"block {i}" for i in range(1, max(runs) + 1)) + " | latent |")
    print("|---|" + "---|" * (max(runs) + 1))
    blocks = {}
    for k, result in sorted(runs.items()):
        c = result.metrics["correlations"]
        cells = [f"{_r(c[f'block{i}']['p0.5'])} / {_r(c[f'block{i}']['p1'])}" if f"block{i}" in c else ""
                 for i in range(1, max(runs) + 1)]
        print(f"| n_down = {k} | " + " | ".join(cells) + f" | {_r(c['latent']['p0.5'])} / {_r(c['latent']['p1'])} |")
        blocks[k] = c

    seeds = out.get("seeds", [config.seed])
    by_seed = seed_rows(out["seed_runs"], seeds) if "seed_runs" in out else []
    if by_seed:
        print(f"\n2b. n_down rows (β = {config.beta:g}) as mean ± std over seeds {seeds} (same jets, split and EMD study; "
              f"seed: initial weights, shuffles; early stopping patience {config.patience}, at most {config.epochs} epochs)")
        print("| network | latent r (p=0.5) | latent r (p=1) | AUC VAE loss | epochs trained | seeds | r (p=0.5) per seed |")
        print("|---|---|---|---|---|---|---|")
        for row in by_seed:
            per = ", ".join(_r(r["r_latent_p0.5"]) for r in row["per_seed"])
            print(f"| n_down = {row['n_down']} | {pm(row['r_latent_p0.5'], '.2f', n=False)} | "
                  f"{pm(row['r_latent_p1'], '.2f', n=False)} | {pm(row['auc_vae_loss'], n=False)} | "
                  f"{pm(row['epochs_trained'], '.1f', n=False)} | {row['n_seeds']} | {per} |")

    print(f"\n3. β scan (n_down = {config.n_down}): AUC (top = anomaly vs QCD test jets) and latent r; talk: best β = 1e-7")
    print("| β | AUC VAE loss | latent r (p=0.5) | latent r (p=1) | final train loss | epochs trained |")
    print("|---|---|---|---|---|---|")
    for row in scan:
        print(f"| {row['beta']:g} | {row['auc_vae_loss']:.3f} | {_r(row['r_latent_p0.5'])} | {_r(row['r_latent_p1'])} | "
              f"{row['final_train_loss']:.4g} | {row['epochs_trained']} |")
    best = max(scan, key=lambda r: r["auc_vae_loss"])
    n_anomaly = len(any_run.arrays["anomaly_index"])
    print(f"\n4. anomaly scores at the best β = {best['beta']:g} (talk: the three give similar ROC curves and AUCs)")
    print("| score | AUC | test jets |\n|---|---|---|")
    n_test = m["n_test"]
    for key, label in SCORES.items():
        print(f"| {label} | {best[f'auc_{key}']:.3f} | {n_test if key == 'vae_loss' else n_anomaly} |")
    return {"sizes": sizes, "correlation_table": table, "blocks": blocks, "beta_scan": scan, "best_beta": best["beta"],
            "best": best, "talk": TALK, "seeds": {"seeds": seeds, "beta": config.beta, "rows": by_seed}}


def _figures(config, out: dict, best_beta: float):
    """(ROC of the three scores at the best β, β scan) as HoloViews objects, from :mod:`jetviz.plots.vae_emd`."""
    import holoviews as hv

    from jetviz.plots.vae_emd import anomaly_rocs, beta_scan_plot

    hv.extension("bokeh", logo=False)
    row = next(row for row in out["scan"] if row["beta"] == best_beta)
    result = _finished(Path(row["run_dir"]))
    roc = anomaly_rocs({key: result.roc(key) for key in SCORES}, width=620, height=520,
                       title=f"Top (anomaly) vs QCD, β = {best_beta:g}, n_down = {config.n_down} "
                             f"({config.n_jets} {config.sample} jets)")
    scan = beta_scan_plot(out["scan"], width=500, height=400)
    return roc.opts(toolbar=None), scan.opts(title=f"β scan, n_down = {config.n_down} ({config.n_jets} {config.sample} jets)",
                                              toolbar=None)


def save_figures(config, out: dict, best_beta: float, folder: Path) -> list[str]:
    return [save_figure(figure, folder, name) for name, figure in zip(("vae_emd_roc", "vae_emd_beta"),
                                                                       _figures(config, out, best_beta))]


# ----------------------------------------------------------------------------- main
def main() -> None:
    from jetviz.runners.base import pick_device
    from jetviz.runners.rundir import RunDir
    from jetviz.runners.vae_emd import BETAS, VaeEmdConfig

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="GPU sizes: 20000 jets, 50 epochs, 32 channels, n_corr 300, "
                        "n_pool 300, n_anomaly 2000, device cuda, 8 EMD threads")
    parser.add_argument("--sample", default="top_qcd", choices=["top_qcd", "toy_top_qcd"], help="sample of the study")
    parser.add_argument("--n-jets", type=int, help="jets of the study, half top (default 3000; --full 20000)")
    parser.add_argument("--epochs", type=int, help="VAE epochs (default 40; --full 50)")
    parser.add_argument("--channels", type=int, help="channels of the first VAE block (default 8; --full 32)")
    parser.add_argument("--latent", type=int, default=64)
    parser.add_argument("--n-corr", type=int, help="QCD test jets whose pairs enter the correlations (default 150; --full 300)")
    parser.add_argument("--n-pool", type=int, help="QCD training jets for the k-medoids (default 150; --full 300)")
    parser.add_argument("--n-medoids", type=int, default=10)
    parser.add_argument("--n-anomaly", type=int, help="test jets scored by EMD, half top (default 600; --full 2000)")
    parser.add_argument("--n-pix", type=int, default=40)
    parser.add_argument("--beta", type=float, default=TALK_BEST_BETA, help="β of the n_down runs (talk's optimum)")
    parser.add_argument("--betas", default=",".join(f"{b:g}" for b in BETAS), help="comma-separated β of the scan")
    parser.add_argument("--n-downs", default="1,2,3", help="comma-separated downsampling blocks of the correlation study")
    parser.add_argument("--n-down", type=int, default=3, help="downsampling blocks of the β scan")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--workers", type=int, default=2, help="parallel β-scan processes")
    parser.add_argument("--emd-workers", type=int, help="threads for the study's EMD matrices (default 2; --full 8)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="default auto; --full cuda")
    parser.add_argument("--loss", choices=["mse", "sliced_w1"], default="mse",
                        help="the VAE's reconstruction term: pixel MSE (the talk) or sliced W_1 (the EMD-trained variant)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample, the split and the main runs")
    parser.add_argument("--seeds", type=parse_seeds, help="comma-separated training seeds of the n_down rows "
                        "(default: --seed and the next two)")
    parser.add_argument("--patience", type=int, default=5,
                        help="early stopping: epochs without a lower validation loss (0: off, every epoch runs)")
    parser.add_argument("--emd-jets", type=int, default=200, help="jets of part 1 (EMD throughput)")
    parser.add_argument("--emd-sample", default="top_qcd", choices=["top_qcd", "toy_top_qcd"])
    parser.add_argument("--emd-jobs", default="1,2", help="comma-separated worker counts of part 1")
    parser.add_argument("--emd-rounds", type=int, default=3, help="interleaved jetviz/energyflow rounds (best of)")
    parser.add_argument("--dask-jets", type=int, default=2000, help="jets of part 1's dask LocalCluster row (0: skip)")
    parser.add_argument("--dask-workers", default="1,2", help="comma-separated dask worker processes of that row")
    parser.add_argument("--run-dir", help="study directory (finished runs reopened, an unfinished one resumed)")
    parser.add_argument("--figures", default=str(ROOT / "docs" / "figures"), help="folder for the PNG figures")
    parser.add_argument("--no-figures", action="store_true")
    parser.add_argument("--no-emd-bench", action="store_true", help="skip part 1")
    parser.add_argument("--emd-only", action="store_true", help="only part 1")
    parser.add_argument("--json", help="also write all numbers to this JSON file")
    args = parser.parse_args()
    sizes = dict(n_jets=20000, epochs=50, channels=32, n_corr=300, n_pool=300, n_anomaly=2000, device="cuda",
                 emd_workers=8) if args.full \
        else dict(n_jets=3000, epochs=40, channels=8, n_corr=150, n_pool=150, n_anomaly=600, device="auto", emd_workers=2)
    for key in sizes:
        if getattr(args, key) is not None:
            sizes[key] = getattr(args, key)
    started = time.perf_counter()
    out: dict = {"talk": TALK}

    if not args.no_emd_bench:
        jobs = [int(j) for j in args.emd_jobs.split(",")]
        print(f"part 1: EMD throughput, jetviz vs energyflow, workers {jobs}  (cores: {os.cpu_count()})", flush=True)
        out["emd_throughput"] = emd_throughput(args.emd_sample, args.emd_jets, jobs, args.seed, args.emd_rounds)
        print_throughput(out["emd_throughput"])
        out["emd_options"] = emd_options_check(args.seed)
        print_options(out["emd_options"])
        if args.dask_jets:
            workers = [int(w) for w in args.dask_workers.split(",")]
            print(f"\n  dask LocalCluster row: {args.dask_jets} jets, workers {workers}", flush=True)
            out["emd_dask"] = emd_dask(args.emd_sample, args.dask_jets, workers, args.seed)
            print_dask(out["emd_dask"])
        out["emd_throughput_s"] = time.perf_counter() - started

    if not args.emd_only:
        betas = [float(b) for b in args.betas.split(",") if b.strip()]
        n_downs = [int(k) for k in args.n_downs.split(",") if k.strip()]
        config = VaeEmdConfig(sample=args.sample, n_jets=sizes["n_jets"], epochs=sizes["epochs"], channels=sizes["channels"],
                              latent=args.latent, n_corr=sizes["n_corr"], n_pool=sizes["n_pool"], n_medoids=args.n_medoids,
                              n_anomaly=sizes["n_anomaly"], n_pix=args.n_pix, n_down=args.n_down, beta=args.beta,
                              batch_size=args.batch_size, learning_rate=args.learning_rate, emd_jobs=sizes["emd_workers"],
                              device=sizes["device"], seed=args.seed, loss=args.loss, patience=args.patience)
        root = Path(args.run_dir) if args.run_dir else RunDir.new("vae_emd-bench").path
        root.mkdir(parents=True, exist_ok=True)
        print(f"\npart 2: the study; device {pick_device(config.device)}, {args.workers} scan process(es); "
              f"run directory {root}", flush=True)
        last = [0.0]

        def log(event: dict) -> None:
            now = time.perf_counter()
            if event["kind"] == "unit" or (event["kind"] == "stage" and now - last[0] > 10) or \
                    (event["kind"] == "epoch" and now - last[0] > 10):
                last[0] = now
                text = event.get("message") or (f"epoch {event['epoch']}/{event['epochs']}: loss {event['train_loss']:.4g}, "
                                                f"{event['jets_per_s']:.0f} jets/s")
                print(f"  [{now - started:.0f} s] {text}", flush=True)

        seeds = args.seeds or [args.seed, args.seed + 1, args.seed + 2]
        result = study(config, root, betas, n_downs, args.workers, log, seeds)
        tables = print_study(config, result)
        out.update(config=config.to_dict(), run_dir=str(root), wall=result["wall"], **tables)
        if not args.no_figures:
            out["figures"] = save_figures(config, result, tables["best_beta"], Path(args.figures))
            print("\nfigures: " + ", ".join(out["figures"]))

    finish(out, args.json, started)


if __name__ == "__main__":
    main()
