"""Out-of-core preparation of a 10⁶-jet top-tagging file vs reading it whole with pandas.

Run:  .venv/bin/python benchmarks/datasets.py [--jets 1000000] [--chunk 20000] [--repeats 2]
                                               [--file ~/.cache/jetviz/bench/top-tagging-1M.h5]
                                               [--only constituents|images]

What it does, in one run:

1. The file (made once and kept, outside the repository): a synthetic file in the public
   top-tagging layout written with pandas — ``HDFStore.append(key="table", format="table")``,
   200 constituents × (E, PX, PY, PZ) float32 columns named ``E_i, PX_i, PY_i, PZ_i``, then
   ``truthE, truthPX, truthPY, truthPZ`` (float32), ``ttv``, ``is_signal_new`` (int64),
   uncompressed like the public files (≈ 3.2 kB per jet). Jets are generated 50 000 at a time:
   pT 550–650 GeV, |η| < 2; QCD one prong, top three prongs ~0.3 apart; multiplicities from a
   gamma distribution (QCD mean 42, top mean 68, clipped to 15–140 of 200); constituent pT
   fractions steeply falling, massless constituents (E = |p| computed in float64, stored as
   float32), pT-ordered, zero-padded; ``truth*`` a top four-vector (m = 173 GeV) near the jet
   for tops, zeros for QCD; ``ttv`` 0.
2. Two preparations a runner needs, each measured in its own subprocess (peak RSS = that
   process's ``VmHWM`` from /proc, imports done before the clock starts): JetCLR constituents
   (:func:`jetviz.models.constituents.pad_constituent_block`, 50 + 20 slots, as the jetclr
   config's defaults) and vae_emd jet images (:func:`jetviz.data.pixelate.jet_images`, 40 × 40,
   width 2.0, rotated, flipped, unit sum, as vae_emd's ``prepare``) — by
   - **baseline**: what a user would write: ``pandas.read_hdf(file, key="table")`` of the whole
     file → numpy ``(N, 200, 4)`` float32 → the same transform, in chunks of ``--chunk`` rows,
     into preallocated output arrays;
   - **jetviz**: :func:`jetviz.data.prepared.prepare_cached` (rows straight from PyTables, one
     chunk in memory, outputs written chunk by chunk into memory-mapped ``.npy`` files), with
     a fresh cache;
   - **jetviz, cached**: the same call again, served from the cache (reported separately: one
     full pass over the memory-mapped outputs, what a training epoch reads).
3. Equal work: every method reports (untimed) the float64 sum of each output and its first 200
   rows; the baseline's and jetviz's must agree exactly.

Each method runs ``--repeats`` times, the methods alternating (each cold jetviz run with an empty
cache), so that load from other processes on the shared machine hits all alike; the best run of
each is compared. Prints jets/s, peak RSS, the ratios against the targets (rate ≥ 1.0× baseline,
RSS ≤ 2 GB, cached ≥ 10× faster), the load average around each measurement, and Markdown rows
for docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

N_SLOTS = 200
COLUMNS = [f"{c}_{i}" for i in range(N_SLOTS) for c in ("E", "PX", "PY", "PZ")]
N_CONSTITUENTS, EXTRA_SLOTS = 50, 20
N_PIX, WIDTH = 40, 2.0
DEFAULT_FILE = Path.home() / ".cache" / "jetviz" / "bench" / "top-tagging-1M.h5"


# ----------------------------------------------------------------------------------------------
# the synthetic file
# ----------------------------------------------------------------------------------------------
def synthetic_jets(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """``n`` jets in the top-tagging layout: ``block`` (n, 200, 4) float32 and the other columns."""
    label = rng.integers(0, 2, n)
    mean = np.where(label == 1, 68.0, 42.0)
    counts = np.clip(np.rint(rng.gamma(8.0, mean / 8.0)), 15, 140).astype(int)
    jet_pt = rng.uniform(550.0, 650.0, n)
    jet_eta = rng.uniform(-2.0, 2.0, n)
    jet_phi = rng.uniform(-np.pi, np.pi, n)
    slot = np.arange(N_SLOTS)[None, :]
    present = slot < counts[:, None]
    # steeply falling pT fractions, normalised to the jet pT, hardest first
    z = rng.random((n, N_SLOTS)) ** 4 * present
    z = -np.sort(-z, axis=1)
    z /= z.sum(axis=1, keepdims=True)
    prongs = np.where(label[:, None] == 1, rng.normal(0.0, 0.3, (n, 3, 2)).reshape(n, 6), 0.0).reshape(n, 3, 2)
    prongs[:, 0] = 0.0
    which = rng.integers(0, 3, (n, N_SLOTS))
    spread = 0.02 + 0.12 * (1.0 - z / z[:, :1])
    d_eta = np.take_along_axis(prongs[..., 0], which, 1) + rng.normal(0.0, 1.0, (n, N_SLOTS)) * spread
    d_phi = np.take_along_axis(prongs[..., 1], which, 1) + rng.normal(0.0, 1.0, (n, N_SLOTS)) * spread
    pt = z * jet_pt[:, None]
    eta = jet_eta[:, None] + d_eta
    phi = jet_phi[:, None] + d_phi
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    energy = np.sqrt(px**2 + py**2 + pz**2)  # massless, in float64, then stored as float32
    block = np.where(present[..., None], np.stack([energy, px, py, pz], axis=-1), 0.0).astype(np.float32)
    top_pt = jet_pt * rng.normal(1.0, 0.05, n)
    t_px, t_py, t_pz = top_pt * np.cos(jet_phi), top_pt * np.sin(jet_phi), top_pt * np.sinh(jet_eta)
    t_e = np.sqrt(t_px**2 + t_py**2 + t_pz**2 + 173.0**2)
    truth = np.where(label[:, None] == 1, np.stack([t_e, t_px, t_py, t_pz], axis=1), 0.0).astype(np.float32)
    return {"block": block, "truth": truth, "label": label.astype(np.int64)}


def make_file(path: Path, n_jets: int, seed: int = 1, chunk: int = 50_000) -> None:
    """Write the synthetic file with pandas, ``chunk`` jets at a time (to a temporary name first)."""
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.unlink(missing_ok=True)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    with pd.HDFStore(tmp, mode="w") as store:
        for begin in range(0, n_jets, chunk):
            m = min(chunk, n_jets - begin)
            jets = synthetic_jets(rng, m)
            frame = pd.DataFrame(jets["block"].reshape(m, -1), columns=COLUMNS, index=np.arange(begin, begin + m))
            for k, name in enumerate(("truthE", "truthPX", "truthPY", "truthPZ")):
                frame[name] = jets["truth"][:, k]
            frame["ttv"] = np.zeros(m, dtype=np.int64)
            frame["is_signal_new"] = jets["label"]
            store.append("table", frame, format="table", index=False)
            print(f"  wrote {begin + m}/{n_jets} jets ({time.perf_counter() - start:.0f} s)", flush=True)
    os.replace(tmp, path)


def file_rows(path: Path) -> int | None:
    import pandas as pd

    try:
        with pd.HDFStore(path, mode="r") as store:
            return int(store.get_storer("table").nrows)
    except Exception:
        return None


# ----------------------------------------------------------------------------------------------
# the transforms (what the jetclr and vae_emd runners prepare) and the methods
# ----------------------------------------------------------------------------------------------
def constituents(block) -> dict[str, np.ndarray]:
    from jetviz.models.constituents import pad_constituent_block

    x, mask = pad_constituent_block(block.p4, N_CONSTITUENTS, EXTRA_SLOTS)
    return {"x": x, "mask": mask, "label": block.label}


def images(block) -> dict[str, np.ndarray]:
    from jetviz.data.kinematics import pt_eta_phi
    from jetviz.data.pixelate import jet_images

    p4 = block.p4
    pt, eta, phi = pt_eta_phi(p4[..., 1], p4[..., 2], p4[..., 3])
    return {"image": jet_images(pt, eta, phi, n_pix=N_PIX, width=WIDTH, rotate=True, flip=True, normalize=True),
            "label": block.label}


TRANSFORMS = {"constituents": constituents, "images": images}
PARAMS = {"constituents": {"n_constituents": N_CONSTITUENTS, "extra_slots": EXTRA_SLOTS},
          "images": {"n_pix": N_PIX, "width": WIDTH, "rotate": True, "flip": True}}


def summary(read, names, n: int, chunk: int) -> dict:
    """float64 sums (read chunk by chunk with ``read(name, slice)``) and the first rows: the equal-work check."""
    out = {}
    for name in names:
        total = sum(float(read(name, slice(b, b + chunk)).astype(np.float64).sum()) for b in range(0, n, chunk))
        out[name] = {"sum": total, "head": read(name, slice(0, 200)).astype(np.float64).round(6).ravel()[:2000].tolist()}
    return out


def run_baseline(path: Path, what: str, chunk: int) -> dict:
    import pandas as pd

    from jetviz.data.formats import JetBlock

    start = time.perf_counter()
    frame = pd.read_hdf(path, key="table")
    p4 = frame[COLUMNS].to_numpy(np.float32).reshape(len(frame), N_SLOTS, 4)
    labels = frame["is_signal_new"].to_numpy()
    del frame
    n = len(p4)
    outputs: dict[str, np.ndarray] = {}
    for begin in range(0, n, chunk):
        result = TRANSFORMS[what](JetBlock(begin, p4[begin : begin + chunk], labels[begin : begin + chunk]))
        for name, values in result.items():
            if name not in outputs:
                outputs[name] = np.empty((n, *values.shape[1:]), dtype=values.dtype)
            outputs[name][begin : begin + len(values)] = values
    seconds = time.perf_counter() - start
    check = summary(lambda name, rows: outputs[name][rows], outputs, n, chunk)  # not timed
    return {"seconds": seconds, "jets": n, "check": check}


def run_jetviz(path: Path, what: str, chunk: int) -> dict:
    from jetviz.data.prepared import prepare_cached

    start = time.perf_counter()
    prepared = prepare_cached(path, TRANSFORMS[what], PARAMS[what], chunk_size=chunk, version="bench-1")
    seconds = time.perf_counter() - start
    check = summary(prepared.rows, prepared.arrays, len(prepared), chunk)  # one pass over the outputs: an epoch's reads
    return {"seconds": seconds, "pass_seconds": time.perf_counter() - start - seconds, "jets": len(prepared),
            "from_cache": prepared.from_cache, "check": check,
            "cache_bytes": sum((prepared.path / f"{k}.npy").stat().st_size for k in prepared.arrays)}


def peak_rss_bytes() -> int:
    """This process's peak resident set (``VmHWM`` of /proc/self/status: the high-water mark of
    its own address space since exec; ``ru_maxrss`` would also count the parent's RSS at fork)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def worker(args) -> None:
    import pandas  # noqa: F401  - imports outside the timed region, for every method alike
    import tables  # noqa: F401

    import jetviz.data.pixelate  # noqa: F401
    import jetviz.data.prepared  # noqa: F401
    import jetviz.models.constituents  # noqa: F401

    method = {"baseline": run_baseline, "jetviz": run_jetviz}[args.worker]
    result = method(Path(args.file), args.what, args.chunk)
    result["peak_rss_bytes"] = peak_rss_bytes()
    Path(args.out).write_text(json.dumps(result))


def measure(method: str, what: str, file: Path, chunk: int, cache: Path, scratch: Path) -> dict:
    """Run one method in a subprocess; its peak RSS (its own VmHWM), the load around it."""
    out = scratch / f"{method}-{what}-{time.time_ns()}.json"
    env = {**os.environ, "JETVIZ_CACHE": str(cache), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    load_before = os.getloadavg()
    process = subprocess.Popen([sys.executable, __file__, "--worker", method, "--what", what, "--file", str(file),
                                "--chunk", str(chunk), "--out", str(out)], env=env)
    if process.wait() != 0:
        raise SystemExit(f"{method} {what} failed (status {process.returncode})")
    result = json.loads(out.read_text())
    result.update(peak_rss_gb=result["peak_rss_bytes"] / 1e9, load_before=load_before[0], load_after=os.getloadavg()[0],
                  rate=result["jets"] / result["seconds"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jets", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=20_000)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--only", choices=sorted(TRANSFORMS), default=None)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each method, alternating")
    parser.add_argument("--worker", choices=["baseline", "jetviz"], help=argparse.SUPPRESS)
    parser.add_argument("--what", choices=sorted(TRANSFORMS), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    file = args.file.expanduser()
    if file_rows(file) != args.jets:
        print(f"making {file} ({args.jets} jets, kept for later runs) ...", flush=True)
        make_file(file, args.jets)
    print(f"file: {file} ({file.stat().st_size / 1e9:.2f} GB, {args.jets} jets); chunk {args.chunk}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}")
    scratch = file.parent / "runs"
    cache = file.parent / "cache"
    rows = []
    for what in [args.only] if args.only else sorted(TRANSFORMS):
        scratch.mkdir(parents=True, exist_ok=True)
        runs: dict[str, list[dict]] = {"baseline": [], "jetviz": [], "jetviz, cached": []}
        for repeat in range(args.repeats):  # alternate the methods, so that load from others hits both
            for label, method in (("baseline", "baseline"), ("jetviz", "jetviz"), ("jetviz, cached", "jetviz")):
                if label == "jetviz":
                    shutil.rmtree(cache, ignore_errors=True)  # a cold cache for every cold run
                print(f"{what}: {label} (run {repeat + 1}/{args.repeats}) ...", flush=True)
                r = measure(method, what, file, args.chunk, cache, scratch)
                runs[label].append(r)
                print(f"  {r['rate']:,.0f} jets/s ({r['seconds']:.2f} s), peak RSS {r['peak_rss_gb']:.2f} GB, "
                      f"load {r['load_before']:.1f} → {r['load_after']:.1f}"
                      + (f", from cache: {r['from_cache']}, then one pass over the outputs {r['pass_seconds']:.1f} s"
                         if "from_cache" in r else ""), flush=True)
        best = {label: min(rs, key=lambda r: r["seconds"]) for label, rs in runs.items()}
        base, cold, warm = best["baseline"], best["jetviz"], best["jetviz, cached"]
        assert not any(r["from_cache"] for r in runs["jetviz"]) and all(r["from_cache"] for r in runs["jetviz, cached"])
        equal = all(r["check"] == base["check"] for rs in runs.values() for r in rs)
        print(f"{what}: one pass over the cached outputs {warm['pass_seconds']:.1f} s "
              f"({warm['jets'] / warm['pass_seconds']:,.0f} jets/s)")
        print(f"{what}: equal outputs: {equal}; best of {args.repeats}: rate {cold['rate'] / base['rate']:.2f}× baseline "
              f"(target ≥ 1.0×); peak RSS {max(r['peak_rss_gb'] for r in runs['jetviz']):.2f} GB vs "
              f"{max(r['peak_rss_gb'] for r in runs['baseline']):.2f} GB (target ≤ 2 GB); "
              f"cached {cold['seconds'] / warm['seconds']:.0f}× faster (target ≥ 10×); cache {cold['cache_bytes'] / 1e9:.2f} GB")
        for label, rs in runs.items():
            seconds = ", ".join(f"{r['seconds']:.2f}" for r in rs)
            loads = ", ".join(f"{r['load_before']:.1f}–{r['load_after']:.1f}" for r in rs)
            rows.append(f"| {what} | {label} | {best[label]['rate']:,.0f} | {seconds} | "
                        f"{max(r['peak_rss_gb'] for r in rs):.2f} | {loads} |")
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    print("\n| preparation | method | best jets/s | seconds (each run) | peak RSS (GB, max) | load avg (each run) |"
          "\n|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
