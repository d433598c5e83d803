"""Jet-image throughput: jetviz ``jet_images`` (vectorised) vs energyflow's ``pixelate`` (per jet).

Run:  .venv/bin/python benchmarks/pixelate.py [--jets 5000] [--sample auto|top_qcd|synthetic]
                                              [--npix 33] [--width 1.6] [--repeats 5]

What it does, in one run:

1. Jets: the leading anti-kt R=0.8 jets of the ``top_qcd`` sample (``load_sample``: generated
   with Pythia on first use, then read from the cache) or, with ``--sample synthetic`` or when
   the sample cannot be loaded, synthetic jets made here with numpy (~50 constituents of a
   600 GeV jet around axes spread over the whole φ circle). Zero-padded ``(N, P)`` arrays
   of pT, η, φ.
2. energyflow's side runs in its own virtual environment ``benchmarks/.refenv`` (built once
   with ``python3 -m venv``; energyflow never enters jetviz's environment): ``energyflow
   --no-deps`` plus what ``import energyflow`` needs (h5py, wasserstein, and numpy<2 since
   wasserstein has no NumPy 2 build). A subprocess with that Python times the usage of
   energyflow's own CNN example, ``np.asarray([pixelate(x, npix, img_width, nb_chan=1,
   norm=True) for x in X])`` on the same ``(N, P, 3)`` jets (read from ``.npy`` files),
   and writes its images back (a jet whose image comes out empty, which energyflow reports
   with ``FloatingPointError``, is caught and stored as zeros).
3. jetviz's side: ``jet_images(pt, eta, phi, n_pix, width)`` (pT-centroid centring) and the
   same with energyflow's centring convention (the centroid snapped to energyflow's
   absolute pixel grid, computed vectorised). The three are timed in turn, ``--repeats``
   times, so that load from other processes hits all alike; best and median are reported.
4. Equal work check: the images of the second call are compared pixel by pixel with
   energyflow's (transposed: energyflow stores ``[φ, y]``) on the jets that do not straddle
   φ = ±π; energyflow ignores φ periodicity, so on jets that straddle it loses pT or shifts
   the jet, and those are counted separately.

Prints the rates (jets/s), the ratios (target ≥ 20×), the maximum absolute pixel
difference, and a Markdown row for docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _refenv import REFENV, refenv_python  # noqa: E402  (benchmarks/_refenv.py)
from jetviz.data.pixelate import jet_images  # noqa: E402

REF_SCRIPT = r'''
# energyflow's side, driven line by line from stdin so that its timings interleave with jetviz's:
#   "time" -> time one pass over all jets, answer one JSON line;  "save PATH" -> save the images.
import json, sys, time
import numpy as np
import energyflow
from energyflow.utils import pixelate

X = np.load(sys.argv[1])
npix, width = int(sys.argv[2]), float(sys.argv[3])
failed = []

def image(x):
    try:
        return pixelate(x, npix=npix, img_width=width, nb_chan=1, norm=True)
    except FloatingPointError:  # "Image had no particles!": a jet split at phi = +-pi
        failed.append(1)
        return np.zeros((npix, npix, 1))

for x in X[:50]:  # warm-up
    image(x)
images = None
for line in sys.stdin:
    command = line.split()
    if command[0] == "time":
        failed.clear()
        start = time.perf_counter()
        images = np.asarray([image(x) for x in X])
        seconds = time.perf_counter() - start
        print(json.dumps({"seconds": seconds, "failed": len(failed), "energyflow": energyflow.__version__,
                          "numpy": np.__version__}), flush=True)
    elif command[0] == "save":
        np.save(command[1], images)
        print("{}", flush=True)
'''


# ----------------------------------------------------------------------------- jets
def synthetic_jets(n_jets: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Zero-padded (N, P) pT (GeV), η, φ of 600 GeV jets with ~50 constituents and 2-3 prongs."""
    rng = np.random.default_rng(seed)
    n_const = np.clip(rng.poisson(50, n_jets), 10, 120)
    p = int(n_const.max())
    real = np.arange(p)[None, :] < n_const[:, None]
    axis_eta = rng.uniform(-2.0, 2.0, n_jets)
    axis_phi = rng.uniform(-np.pi, np.pi, n_jets)
    # prongs: 3 sub-axes within ΔR ~ 0.4 of the jet axis; constituents scatter around a prong
    prong_eta = rng.normal(0.0, 0.2, (n_jets, 3))
    prong_phi = rng.normal(0.0, 0.2, (n_jets, 3))
    which = rng.integers(0, 3, (n_jets, p))
    r = rng.exponential(0.05, (n_jets, p))
    a = rng.uniform(0, 2 * np.pi, (n_jets, p))
    rows = np.arange(n_jets)[:, None]
    eta = axis_eta[:, None] + prong_eta[rows, which] + r * np.cos(a)
    phi = axis_phi[:, None] + prong_phi[rows, which] + r * np.sin(a)
    phi = np.mod(phi + np.pi, 2 * np.pi) - np.pi
    frac = rng.exponential(1.0, (n_jets, p)) * real
    pt = 600.0 * frac / frac.sum(axis=1, keepdims=True)
    order = np.argsort(-pt, axis=1)  # pT-ordered, as in the public datasets
    take = lambda a: np.where(real, np.take_along_axis(a, order, axis=1), 0.0)  # noqa: E731
    return take(pt), take(eta), take(phi)


def sample_jets(n_jets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import awkward as ak

    from jetviz.data.samples import load_sample

    events = load_sample("top_qcd", n_jets, seed=0)
    particles = events.particles
    p = int(ak.max(ak.num(particles, axis=1)))

    def pad(field: str) -> np.ndarray:
        return ak.to_numpy(ak.fill_none(ak.pad_none(particles[field], p, axis=1, clip=True), 0.0)).astype(np.float64)

    return pad("pt"), pad("eta"), pad("phi")


# ----------------------------------------------------------------------------- energyflow's centring
def ef_axis(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, npix: int, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Image centre that energyflow's pixelate uses: the linear pT centroid snapped to its pixel grid.

    energyflow's pixel k holds y/Δ − ½ in (k − 1, k] (Δ = width / npix, absolute grid through 0);
    the centroid's pixel c becomes column floor(npix/2), so the image spans
    ((c − floor(npix/2) − ½)Δ, (c − floor(npix/2) − ½ + npix)Δ].
    """
    pix = width / npix
    total = pt.sum(axis=1)
    centres = []
    for coord in (eta, phi):
        mean = (pt * coord).sum(axis=1) / total
        c = np.ceil(mean / pix - 0.5)
        centres.append((c - np.floor(npix / 2) - 0.5 + npix / 2) * pix)
    return centres[0], centres[1]


def timed(fn) -> tuple[float, np.ndarray]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jets", type=int, default=5000)
    parser.add_argument("--sample", choices=["auto", "top_qcd", "synthetic"], default="auto")
    parser.add_argument("--npix", type=int, default=33)
    parser.add_argument("--width", type=float, default=1.6, help="full image width in η and φ (2R for R=0.8 jets)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    note = ""
    if args.sample == "synthetic":
        source = "synthetic"
        pt, eta, phi = synthetic_jets(args.jets)
    else:
        try:
            pt, eta, phi = sample_jets(args.jets)
            source = "top_qcd"
        except Exception as exc:  # the sample module or Pythia may be unavailable
            if args.sample == "top_qcd":
                raise
            note = f"top_qcd unavailable ({type(exc).__name__}: {exc}); synthetic jets used"
            source = "synthetic"
            pt, eta, phi = synthetic_jets(args.jets)
    n = len(pt)
    n_const = (pt > 0).sum(axis=1)

    python = refenv_python()
    data = REFENV / "data"
    data.mkdir(exist_ok=True)
    jets_file, ef_file = data / "jets.npy", data / "ef_images.npy"
    np.save(jets_file, np.stack([pt, eta, phi], axis=-1))
    script = REFENV / "run_energyflow.py"
    script.write_text(REF_SCRIPT)
    cmd = [str(python), str(script), str(jets_file), str(args.npix), str(args.width)]
    ref_proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(command: str) -> dict:
        ref_proc.stdin.write(command + "\n")
        ref_proc.stdin.flush()
        line = ref_proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the energyflow process ended (exit code {ref_proc.wait()})")
        return json.loads(line)

    def ours_centroid() -> np.ndarray:
        return jet_images(pt, eta, phi, n_pix=args.npix, width=args.width)

    def ours_ef_convention() -> np.ndarray:
        a_eta, a_phi = ef_axis(pt, eta, phi, args.npix, args.width)
        return jet_images(pt, eta, phi, n_pix=args.npix, width=args.width, jet_eta=a_eta, jet_phi=a_phi)

    # interleave: energyflow, jetviz, jetviz (ef centring), ... so that load from other
    # processes on the machine hits both sides alike; report the best and the median of each
    ours_centroid(), ours_ef_convention()  # warm-up
    times: dict[str, list[float]] = {"ef": [], "ours": [], "same": []}
    for _ in range(args.repeats):
        ref = ask("time")
        times["ef"].append(ref["seconds"])
        elapsed, ours = timed(ours_centroid)
        times["ours"].append(elapsed)
        elapsed, same = timed(ours_ef_convention)
        times["same"].append(elapsed)
    ask(f"save {ef_file}")
    ref_proc.stdin.close()
    ref_proc.wait()
    ef_images = np.load(ef_file)  # (N, npix, npix, 1), [φ, y]

    # equal-work check on jets that do not straddle φ = ±π
    real = pt > 0
    span = np.where(real, phi, -np.inf).max(axis=1) - np.where(real, phi, np.inf).min(axis=1)
    seam = span > np.pi
    ef = np.transpose(ef_images[..., 0], (0, 2, 1))
    diff = np.abs(same[:, 0].astype(np.float64) - ef)
    max_diff = float(diff[~seam].max()) if (~seam).any() else float("nan")
    # on those, compare energyflow with jetviz's own (periodic) centroid-centred images
    seam_diff = np.abs(ours[seam, 0].astype(np.float64) - ef[seam]).sum(axis=(1, 2))

    best = {k: n / min(v) for k, v in times.items()}
    median = {k: n / float(np.median(v)) for k, v in times.items()}
    print(f"jets: {n} from {source}, {n_const.mean():.1f} constituents on average (max {n_const.max()})")
    if note:
        print(f"note: {note}")
    print(f"grid: {args.npix}×{args.npix} pixels, width {args.width} in η and φ, pT-normalised; "
          f"{args.repeats} interleaved repeats, jets/s best (median)")
    print(f"energyflow {ref['energyflow']} pixelate (numpy {ref['numpy']}, per jet): "
          f"{best['ef']:10,.0f} ({median['ef']:,.0f})")
    for key, label in (("ours", "centroid centring"), ("same", "energyflow's centring")):
        print(f"jetviz jet_images, {label:22s} (numpy {np.__version__}): {best[key]:10,.0f} ({median[key]:,.0f})"
              f"   ratio {best[key] / best['ef']:5.1f}× ({median[key] / median['ef']:.1f}×)")
    print(f"max |jetviz − energyflow| per pixel on the {int((~seam).sum())} jets off the φ seam: {max_diff:.2e}")
    if seam.any():
        print(f"{int(seam.sum())} jets straddle φ = ±π: energyflow raises 'Image had no particles!' on "
              f"{ref['failed']} of them and splits or mis-centres the others (Σ|ef − jetviz| per image, "
              f"images sum to 1: median {np.median(seam_diff):.2f}, max {seam_diff.max():.2f})")
    print()
    print("Markdown for docs/benchmarks.md:")
    print(f"| jets | grid | energyflow {ref['energyflow']} jets/s | jetviz (centroid) | jetviz (ef centring) | ratio | max abs diff |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {n} {source}, ⟨{n_const.mean():.0f}⟩ const. | {args.npix}², w={args.width} | "
          f"{best['ef']:,.0f} ({median['ef']:,.0f}) | {best['ours']:,.0f} ({median['ours']:,.0f}) | "
          f"{best['same']:,.0f} ({median['same']:,.0f}) | {best['ours'] / best['ef']:.1f}× ({median['ours'] / median['ef']:.1f}×) | "
          f"{max_diff:.1e} |")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")


if __name__ == "__main__":
    main()
