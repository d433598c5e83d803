"""Command line.

``jetviz generate SAMPLE -n N --seed S --out PATH``
    Generate (or reuse from the cache) a sample and write it; the format follows the suffix of
    PATH (``.parquet``, ``.h5``/``.hdf5`` top-tagging layout, ``.npz``). An unknown suffix, an
    existing file (without ``--force``) or a directory that cannot be written is refused before
    anything is generated.
``jetviz info PATH_OR_NAME``
    Summarise an events file of any format jetviz reads: a path, a dataset name relative to the
    data root (``top-tagging/train.h5``), or a recipe name.
``jetviz datasets``
    List the datasets under the data root (``$JETVIZ_DATA``, default ``~/jetviz-data``) from
    their headers: format, kind, events, labels, per-particle truth; damaged files say why.
``jetviz summary SAMPLE -n N``
    The per-label observables table of ``docs/samples.md`` (:func:`jetviz.data.observables.label_summary`).
``jetviz reference build [--runner NAME ...] [--out DIR] [--param NAME=VALUE ...]``
    Train the reference runs the method pages open with (:mod:`jetviz.reference`;
    default: every runner, into the package's ``jetviz/reference/``), one after the other.
    ``--param`` overrides a setting of the reference configuration (one runner only).

Every error is one line ``jetviz: error: FILE: problem`` on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import json
import os
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


def _check_output(out: Path, force: bool) -> None:
    """Refuse an output that cannot be written, before any work: suffix, existing file, directory."""
    from jetviz.data.formats import FORMATS, format_for_suffix
    from jetviz.errors import DataFileError

    fmt = format_for_suffix(out)
    writable = ", ".join(f"{' '.join(f.suffixes)} ({f.title})" for f in FORMATS.values() if f.writer)
    if fmt is None or fmt.writer is None:
        what = f"{fmt.title} files" if fmt else f"files named {out.suffix or '(no extension)'!r}"
        raise DataFileError(out, f"jetviz cannot write {what}; --out takes {writable}")
    if out.is_dir():
        raise DataFileError(out, "is a directory; --out takes a file name")
    if out.exists() and not force:
        raise DataFileError(out, "exists; refusing to overwrite it (pass --force to replace it)")
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise DataFileError(out, f"cannot be written: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataFileError(out, f"cannot be written: no permission to write in {parent}")


def _generate(args) -> int:
    import numpy as np

    from jetviz.data.formats import format_for_suffix, write
    from jetviz.data.samples import load_sample

    out = Path(args.out)
    _check_output(out, args.force)
    params = dict(args.param or [])
    events = load_sample(args.sample, args.n, args.seed, workers=args.workers, **params)
    metadata = {"recipe": args.sample, "params": params, "seed": args.seed, "n_events": len(events)}
    if args.sample not in ("lhe",) and not args.sample.startswith("toy_"):
        from jetviz.data.pythia import pythia_versions

        metadata["generators"] = pythia_versions()
    options = {"metadata": metadata} if format_for_suffix(out).name == "jetviz-parquet" else {}
    write(events, out, overwrite=args.force, **options)
    labels, counts = np.unique(events.label.to_numpy(), return_counts=True)
    print(f"wrote {len(events)} events to {out} (labels: {dict(zip(labels.tolist(), counts.tolist()))})")
    return 0


def _summary_of(path: Path) -> dict:
    import awkward as ak
    import numpy as np

    from jetviz.data.formats import format_of, read
    from jetviz.errors import DataFileError

    fmt = format_of(path)
    events = read(path)
    if len(events) == 0:
        raise DataFileError(path, "holds no events")
    meta = {}
    if fmt.name == "jetviz-parquet":
        from jetviz.data.formats.parquet import file_metadata

        meta = file_metadata(path)
    n_particles = ak.num(events.particles, axis=1).to_numpy()
    labels, counts = np.unique(events.label.to_numpy(), return_counts=True)
    return {
        "path": str(path),
        "format": fmt.title,
        **meta,
        "events": len(events),
        "labels": dict(zip(labels.tolist(), counts.tolist())),
        "particles_per_event": {"mean": float(n_particles.mean()), "min": int(n_particles.min()), "max": int(n_particles.max())},
        "event_fields": [f for f in ak.fields(events) if f != "particles"],
        "particle_fields": ak.fields(events.particles),
    }


def _info(args) -> int:
    from jetviz.data.datasets import data_root, dataset

    target = Path(args.path).expanduser()
    if target.exists() or target.is_absolute() or args.path.startswith(("./", "../", "~")):
        summary = _summary_of(target)  # a path typed by the user at their own shell: not confined
    else:
        found = dataset(args.path)
        if found.is_recipe:
            summary = found.describe()
        else:
            summary = {"name": found.name, "data_root": str(data_root()), **_summary_of(found.path)}
    print(json.dumps(summary, indent=2, default=str))
    return 0


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return "?"  # pragma: no cover


def _datasets(args) -> int:
    from jetviz.data.datasets import data_root, list_datasets

    root = data_root()
    entries = list_datasets(root, recipes=args.recipes)
    if args.json:
        print(json.dumps({"data_root": str(root), "datasets": entries}, indent=2, default=str))
        return 0
    print(f"data root: {root}" + ("" if entries else "  (empty: copy files here, e.g. top-tagging/train.h5)"))
    rows = [("name", "format", "kind", "events", "labels", "truth", "size", "status")]
    for e in entries:
        labels = "?" if e["labels"] is None else ",".join(map(str, e["labels"]))
        if e["labels"] is None and e.get("label_source"):
            labels = e["label_source"]
        rows.append((e["name"], e["format"] or "?", e["kind"] or "?", "?" if e["n_events"] is None else str(e["n_events"]),
                     labels, "yes" if e["has_particle_truth"] else "no",
                     "" if e["source"] == "recipe" else _size(e["size_bytes"]),
                     f"damaged: {e['damaged']}" if e["damaged"] else "ok"))
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1])
    return 0


def _summary(args) -> int:
    from jetviz.data.observables import label_summary
    from jetviz.data.samples import load_sample

    events = load_sample(args.sample, args.n, args.seed, workers=args.workers, **dict(args.param or []))
    summary = label_summary(events)
    labels = sorted(summary)
    names = [k for k in summary[labels[0]] if not k.endswith("_std") and k != "n_events"]
    print("| observable (mean ± std) | " + " | ".join(f"label {k}, {int(summary[k]['n_events'])} ev" for k in labels) + " |")
    print("|---|" + "---|" * len(labels))
    for name in names:
        cells = " | ".join(f"{summary[k][name]:.3g} ± {summary[k][name + '_std']:.2g}" for k in labels)
        print(f"| {name} | {cells} |")
    return 0


def _reference_build(args) -> int:
    from jetviz.errors import ConfigError
    from jetviz.reference import REFERENCE_ROOT, build
    from jetviz.runners.catalog import RUNNER_NAMES

    names = args.runner or list(RUNNER_NAMES)
    overrides = dict(args.param or [])
    if overrides and len(names) != 1:
        raise ConfigError("--param overrides the settings of one runner: name it with --runner")
    out = Path(args.out) if args.out else REFERENCE_ROOT
    for name in names:
        shown: dict = {}

        def progress(event: dict, name=name, shown=shown) -> None:  # each stage once, and when it is done
            message = event.get("message") if event.get("kind") in ("stage", "unit") else None
            if not message:
                return
            stage, done = message.split(":")[0], event.get("total") is not None and event.get("done") == event.get("total")
            if stage != shown.get("stage") or done:
                shown["stage"] = stage
                print(f"  {name}: {message}", flush=True)

        print(f"building the {name} reference run into {out / name} …", flush=True)
        path = build(name, out, overrides, progress=progress)
        size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
        print(f"wrote {path} ({_size(size)})", flush=True)
    return 0


def _parser() -> argparse.ArgumentParser:
    from jetviz.data.recipes import RECIPES
    from jetviz.runners.catalog import RUNNER_NAMES

    parser = argparse.ArgumentParser(prog="jetviz", description="jetviz: ML on collider events")
    sub = parser.add_subparsers(dest="command", required=True)

    def sample_arguments(command) -> None:
        command.add_argument("sample", choices=sorted(RECIPES), help="sample recipe")
        command.add_argument("-n", type=int, required=True, help="number of events")
        command.add_argument("--seed", type=int, default=0)
        command.add_argument("--param", type=_parse_param, action="append", metavar="NAME=VALUE", help="recipe parameter")
        command.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")

    gen = sub.add_parser("generate", help="generate (or reuse from the cache) a sample and write it to a file")
    sample_arguments(gen)
    gen.add_argument("--out", required=True, help="output: .parquet (jetviz), .h5 (top-tagging layout) or .npz")
    gen.add_argument("--force", action="store_true", help="overwrite an existing output file")
    gen.set_defaults(func=_generate)
    info = sub.add_parser("info", help="summarise an events file (.parquet, .h5, .npz, .root, .lhe) or a dataset name")
    info.add_argument("path", metavar="PATH_OR_NAME")
    info.set_defaults(func=_info)
    datasets = sub.add_parser("datasets", help="list the datasets under the data root ($JETVIZ_DATA)")
    datasets.add_argument("--json", action="store_true", help="print JSON instead of a table")
    datasets.add_argument("--recipes", action="store_true", help="list the generated recipes too")
    datasets.set_defaults(func=_datasets)
    summary = sub.add_parser("summary", help="per-label observables of a sample (multiplicities, sphericity ...)")
    sample_arguments(summary)
    summary.set_defaults(func=_summary)
    reference = sub.add_parser("reference", help="the reference runs the method pages open with")
    reference_sub = reference.add_subparsers(dest="reference_command", required=True)
    ref_build = reference_sub.add_parser("build", help="train the reference runs (small CPU settings) and store them")
    ref_build.add_argument("--runner", action="append", choices=RUNNER_NAMES,
                           help="runner to build (repeatable; default: all)")
    ref_build.add_argument("--out", default=None, help="reference root (default: the package's jetviz/reference)")
    ref_build.add_argument("--param", type=_parse_param, action="append", metavar="NAME=VALUE",
                           help="a setting over the reference configuration (with one --runner)")
    ref_build.set_defaults(func=_reference_build)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jetviz`` command; returns the exit status."""
    from jetviz.errors import JetvizError

    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except JetvizError as err:
        print(f"jetviz: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
