"""Generation throughput: jetviz recipes vs a bare pythia8mc + fastjet loop with identical settings.

Run:  .venv/bin/python benchmarks/generation.py [--n-ee 2000] [--n-top 300]

For each sample it prints events/s of
  * bare:      the textbook loop — ``pythia.next()``, a list of ``fastjet.PseudoJet`` per event,
               one ``ClusterSequence`` per event, labels/selection in Python — same Pythia
               settings, same jet definition, same outputs (per-particle Durham labels for
               ee_6jet; leading anti-kt jet in the pT window, matched to a hadronic top, for
               top_qcd);
  * jetviz ×1: ``load_sample(..., workers=1)`` into an empty cache (includes writing Parquet);
  * jetviz ×2: ``load_sample(..., workers=2)`` into another empty cache;
and the ratios jetviz×1 / bare (target ≥ 0.9, i.e. overhead ≤ 10 % per core) and
jetviz×2 / bare (target ≥ 1.8 on 2 cores).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

import numpy as np

from jetviz.data import pythia as py8
from jetviz.data.recipes import _ee_settings, _pp_settings


def bare_ee_6jet(n_events: int, seed: int) -> float:
    """Events/s of the bare loop for ee_6jet (ttbar at 500 GeV, Durham exclusive 6 jets)."""
    import fastjet

    pythia = py8.make_pythia(_ee_settings("ttbar", 500.0), seed)
    jet_def = fastjet.JetDefinition0Param(fastjet.ee_kt_algorithm)
    start = time.perf_counter()
    done = 0
    while done < n_events:
        if not pythia.next():
            continue
        pseudojets, rows = [], []
        for particle in pythia.event:
            if not particle.isFinal():
                continue
            rows.append((particle.px(), particle.py(), particle.pz(), particle.e(), particle.charge(), particle.id()))
            if abs(particle.id()) not in (12, 14, 16):
                pj = fastjet.PseudoJet(particle.px(), particle.py(), particle.pz(), particle.e())
                pj.set_user_index(len(rows) - 1)
                pseudojets.append(pj)
        sequence = fastjet.ClusterSequence(pseudojets, jet_def)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            jets = sorted(sequence.exclusive_jets(6), key=lambda j: -j.e())
        labels = np.full(len(rows), -1)
        for k, jet in enumerate(jets):
            for constituent in jet.constituents():
                labels[constituent.user_index()] = k
        np.asarray(rows)
        done += 1
    return n_events / (time.perf_counter() - start)


def bare_top_qcd(n_events: int, seed: int, R: float = 0.8, pt_min: float = 550.0, pt_max: float = 650.0) -> float:
    """Events/s of the bare loop for top_qcd (half tt̄ with top matching, half QCD)."""
    import fastjet

    jet_def = fastjet.JetDefinition(fastjet.antikt_algorithm, R)
    start = time.perf_counter()
    for process, n_wanted in (("ttbar", n_events // 2), ("qcd", n_events - n_events // 2)):
        pythia = py8.make_pythia(_pp_settings(process, 0.9 * pt_min, 1.1 * pt_max), seed)
        accepted = 0
        while accepted < n_wanted:
            if not pythia.next():
                continue
            event = pythia.event
            pseudojets = []
            for i in range(event.size()):
                particle = event[i]
                if particle.isFinal() and abs(particle.id()) not in (12, 14, 16):
                    pj = fastjet.PseudoJet(particle.px(), particle.py(), particle.pz(), particle.e())
                    pj.set_user_index(i)
                    pseudojets.append(pj)
            sequence = fastjet.ClusterSequence(pseudojets, jet_def)
            jets = fastjet.sorted_by_pt(sequence.inclusive_jets())
            if not jets:
                continue
            jet = jets[0]
            if not (pt_min < jet.pt() < pt_max and abs(jet.eta()) < 2.0):
                continue
            if process == "ttbar":
                matched = False
                for sign in (1, -1):
                    quarks = []
                    for i in range(event.size()):
                        p = event[i]
                        if abs(p.status()) not in (22, 23):
                            continue
                        mother = event[p.mother1()].id()
                        if (p.id() == 5 * sign and abs(mother) == 6) or (1 <= abs(p.id()) <= 5 and mother == 24 * sign):
                            quarks.append(fastjet.PseudoJet(p.px(), p.py(), p.pz(), p.e()))
                    if len(quarks) == 3:
                        top = quarks[0] + quarks[1] + quarks[2]
                        if all(jet.delta_R(q) < R for q in (top, *quarks)):
                            matched = True
                if not matched:
                    continue
            constituents = sorted(jet.constituents(), key=lambda c: -c.pt())[:200]
            np.asarray([(c.px(), c.py(), c.pz(), c.e()) for c in constituents])
            accepted += 1
    return n_events / (time.perf_counter() - start)


def jetviz_rate(name: str, n_events: int, seed: int, workers: int) -> float:
    from jetviz.data.samples import load_sample

    with tempfile.TemporaryDirectory() as cache:
        os.environ["JETVIZ_CACHE"] = cache
        start = time.perf_counter()
        load_sample(name, n_events, seed, workers=workers, show_progress=False)
        return n_events / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-ee", type=int, default=2000)
    parser.add_argument("--n-top", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}  pythia8mc {py8.pythia_versions()['pythia8mc']}  fastjet {py8.pythia_versions()['fastjet']}")
    print(f"{'sample':<10} {'events':>7} {'bare ev/s':>10} {'jetviz x1':>10} {'jetviz x2':>10} {'x1/bare':>8} {'x2/bare':>8}")
    for name, n, bare in (("ee_6jet", args.n_ee, bare_ee_6jet), ("top_qcd", args.n_top, bare_top_qcd)):
        rate_bare = bare(n, args.seed)
        rate_1 = jetviz_rate(name, n, args.seed, workers=1)
        rate_2 = jetviz_rate(name, n, args.seed, workers=2)
        print(f"{name:<10} {n:>7} {rate_bare:>10.1f} {rate_1:>10.1f} {rate_2:>10.1f} {rate_1 / rate_bare:>8.2f} {rate_2 / rate_bare:>8.2f}")


if __name__ == "__main__":
    main()
