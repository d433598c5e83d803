"""Command line: ``jetviz generate SAMPLE -n N --seed S --out PATH`` and ``jetviz info PATH``."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

__all__ = ["main"]


def _parse_param(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--param takes NAME=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value  # a plain string, e.g. a path


def _write(events, out: Path, metadata: dict, force: bool) -> None:
    suffix = "".join(out.suffixes[-1:]).lower()
    if suffix in (".h5", ".hdf5"):
        from jetviz.data.readers import write_top_tagging_h5

        write_top_tagging_h5(events, out, overwrite=force)
    elif suffix == ".npz":
        from jetviz.data.readers import write_npz

        write_npz(events, out, overwrite=force)
    else:
        from jetviz.data.io import save_events

        save_events(events, out, metadata, overwrite=force)


def _read(path: Path):
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        from jetviz.data.readers import read_top_tagging_h5

        return read_top_tagging_h5(path), {"format": "top-tagging HDF5"}
    if suffix == ".npz":
        from jetviz.data.readers import read_npz

        return read_npz(path), {"format": "energyflow npz"}
    if suffix == ".root":
        from jetviz.data.readers import read_delphes

        return read_delphes(path), {"format": "Delphes ROOT"}
    from jetviz.data.io import load_events

    events, meta = load_events(path)
    return events, {"format": "jetviz Parquet", **meta}


def _generate(args) -> int:
    import numpy as np

    from jetviz.data.samples import load_sample

    params = dict(args.param or [])
    events = load_sample(args.sample, args.n, args.seed, workers=args.workers, **params)
    metadata = {"recipe": args.sample, "params": params, "seed": args.seed, "n_events": len(events)}
    if args.sample not in ("lhe",) and not args.sample.startswith("toy_"):
        from jetviz.data.pythia import pythia_versions

        metadata["generators"] = pythia_versions()
    _write(events, Path(args.out), metadata, args.force)
    labels, counts = np.unique(events.label.to_numpy(), return_counts=True)
    print(f"wrote {len(events)} events to {args.out} (labels: {dict(zip(labels.tolist(), counts.tolist()))})")
    return 0


def _info(args) -> int:
    import awkward as ak
    import numpy as np

    path = Path(args.path)
    events, meta = _read(path)
    n_particles = ak.num(events.particles, axis=1).to_numpy()
    labels, counts = np.unique(events.label.to_numpy(), return_counts=True)
    summary = {
        "path": str(path),
        **meta,
        "events": len(events),
        "labels": dict(zip(labels.tolist(), counts.tolist())),
        "particles_per_event": {"mean": float(n_particles.mean()), "min": int(n_particles.min()), "max": int(n_particles.max())},
        "event_fields": [f for f in ak.fields(events) if f != "particles"],
        "particle_fields": ak.fields(events.particles),
    }
    print(json.dumps(summary, indent=2, default=str))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jetviz`` command; returns the exit status."""
    from jetviz.data.recipes import RECIPES
    from jetviz.errors import JetvizError

    parser = argparse.ArgumentParser(prog="jetviz", description="jetviz: ML on collider events")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="generate (or reuse from the cache) a sample and write it to a file")
    gen.add_argument("sample", choices=sorted(RECIPES), help="sample recipe")
    gen.add_argument("-n", type=int, required=True, help="number of events")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--out", required=True, help="output: .parquet (jetviz), .h5 (top-tagging layout) or .npz")
    gen.add_argument("--param", type=_parse_param, action="append", metavar="NAME=VALUE", help="recipe parameter")
    gen.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    gen.add_argument("--force", action="store_true", help="overwrite an existing output file")
    gen.set_defaults(func=_generate)
    info = sub.add_parser("info", help="summarise an events file (.parquet, .h5, .npz, .root)")
    info.add_argument("path")
    info.set_defaults(func=_info)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except JetvizError as err:
        print(f"jetviz: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
