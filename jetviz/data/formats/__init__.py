"""The file formats jetviz reads and writes, behind one dispatch.

=====================  ============================  =================  ========  ========
format                 what                          suffixes           kind      writes
=====================  ============================  =================  ========  ========
``top-tagging-h5``     public top-tagging layout     ``.h5 .hdf5``      jets      yes
``delphes-root``       Delphes ROOT (uproot)         ``.root``          events    no
``energyflow-npz``     energyflow ``X``, ``y``       ``.npz``           jets      yes
``lhe``                Les Houches Event File        ``.lhe .lhe.gz``   events    no
``jetviz-parquet``     jetviz events + provenance    ``.parquet``       either    yes
=====================  ============================  =================  ========  ========

:func:`read`, :func:`iterate` and :func:`describe` choose the format by the file's *content*
(its first bytes: HDF5, ROOT, zip, Parquet signatures, an ``<LesHouchesEvents`` tag, gzip with
an ``.lhe.gz`` name) and fall back on the suffix when the content is not recognised (so a
damaged file gets its format's own message). :func:`write` chooses by ``format`` or the suffix
and refuses an unknown or read-only one before anything is written. Every format module also
has its own functions (:func:`~jetviz.data.formats.top_tagging.read_top_tagging_h5` ...) with
the format's options.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import awkward as ak
import numpy as np

from jetviz.data.formats._common import DEFAULT_STEP, JetBlock, require_file
from jetviz.errors import DataFileError

__all__ = [
    "Format", "FORMATS", "JetBlock", "format_of", "format_for_suffix", "read", "iterate", "iterate_jet_blocks",
    "write", "describe",
]


@dataclass(frozen=True)
class Format:
    """One file format: its name, suffixes and the functions that handle it.

    The functions are named ``"module:function"`` inside :mod:`jetviz.data.formats` and imported
    on first use (so reading a Parquet file never imports uproot).
    """

    name: str
    title: str
    suffixes: tuple[str, ...]
    kind: str
    reader: str
    iterator: str
    describer: str
    writer: str | None = None

    def function(self, role: str) -> Callable:
        """The function for ``role`` (``"reader"``, ``"iterator"``, ``"describer"``, ``"writer"``)."""
        module, name = getattr(self, role).split(":")
        return getattr(importlib.import_module(f"jetviz.data.formats.{module}"), name)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("top-tagging-h5", "top-tagging HDF5", (".h5", ".hdf5"), "jets",
               "top_tagging:read_top_tagging_h5", "top_tagging:iterate_top_tagging_h5",
               "top_tagging:describe_top_tagging_h5", "top_tagging:write_top_tagging_h5"),
        Format("delphes-root", "Delphes ROOT", (".root",), "events",
               "delphes:read_delphes", "delphes:iterate_delphes", "delphes:describe_delphes"),
        Format("energyflow-npz", "energyflow npz", (".npz",), "jets",
               "energyflow:read_npz", "energyflow:iterate_npz", "energyflow:describe_npz", "energyflow:write_npz"),
        Format("lhe", "Les Houches Event File", (".lhe", ".lhe.gz"), "events",
               "lhe:read_lhe_events", "lhe:iterate_lhe_events", "lhe:describe_lhe"),
        Format("jetviz-parquet", "jetviz Parquet", (".parquet",), "either",
               "parquet:read_parquet_events", "parquet:iterate_parquet_events", "parquet:describe_parquet",
               "parquet:write_parquet_events"),
    )
}

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_HEAD_BYTES = 4096


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".lhe.gz" if name.endswith(".lhe.gz") else path.suffix.lower()


def format_for_suffix(path: str | Path) -> Format | None:
    """The format whose suffix ``path`` has (``.lhe.gz`` counts as one suffix), or None."""
    suffix = _suffix(Path(path))
    return next((f for f in FORMATS.values() if suffix in f.suffixes), None)


def _by_content(path: Path, head: bytes) -> str | None:
    if any(head[k : k + 8] == _HDF5_SIGNATURE for k in (0, 512, 1024, 2048)):
        return "top-tagging-h5"
    if head.startswith(b"root"):
        return "delphes-root"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")):
        return "energyflow-npz"
    if head.startswith(b"PAR1"):
        return "jetviz-parquet"
    if head.startswith(b"\x1f\x8b"):
        return "lhe" if _suffix(path) == ".lhe.gz" else None
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<?xml"):
        text = text[text.find(b"?>") + 2 :].lstrip() if b"?>" in text else b""
    while text.startswith(b"<!--") and b"-->" in text:
        text = text[text.find(b"-->") + 3 :].lstrip()
    if text.startswith(b"<LesHouchesEvents"):
        return "lhe"
    return None


def format_of(path: str | Path) -> Format:
    """The format of an existing file, by content, else by suffix.

    Raises
    ------
    DataFileError
        Missing file, a directory, an empty file, or neither content nor suffix known.
    """
    path = Path(path)
    require_file(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError as exc:
        raise DataFileError(path, f"cannot be opened: {exc.strerror or exc}") from None
    if not head:
        raise DataFileError(path, "is empty (0 bytes)")
    name = _by_content(path, head)
    if name is not None:
        return FORMATS[name]
    by_suffix = format_for_suffix(path)
    if by_suffix is not None:
        return by_suffix
    known = ", ".join(f"{f.title} ({' '.join(f.suffixes)})" for f in FORMATS.values())
    raise DataFileError(path, f"is not in a format jetviz reads; it reads {known}")


def read(path: str | Path, **options: Any) -> ak.Array:
    """Read a whole file as schema events, whatever its format (chosen by :func:`format_of`).

    Parameters
    ----------
    path : str or Path
    **options
        Passed to the format's reader (e.g. ``drop_empty``, ``validate``, ``max_constituents``,
        ``collections``; see the format modules).

    Returns
    -------
    ak.Array
        Schema events (:mod:`jetviz.data.schema`).
    """
    return format_of(path).function("reader")(Path(path), **options)


def iterate(path: str | Path, step_size: int = DEFAULT_STEP, **options: Any) -> Iterator[ak.Array]:
    """Read a file chunk by chunk (``step_size`` events at a time); one chunk in memory at a time."""
    return format_of(path).function("iterator")(Path(path), step_size=step_size, **options)


def iterate_jet_blocks(
    path: str | Path, step_size: int = DEFAULT_STEP, max_constituents: int = 200, validate: bool = True, **options: Any
) -> Iterator[JetBlock]:
    """Read a file of jets as padded constituent arrays, ``step_size`` jets at a time.

    The top-tagging layout is read straight into ``(n, S, 4)`` blocks
    (:func:`~jetviz.data.formats.top_tagging.iterate_top_tagging_arrays`: no DataFrame, no
    awkward records); any other format is read as schema events chunk by chunk and each event's
    particles padded by decreasing pT (the hardest ``max_constituents`` kept).

    Parameters
    ----------
    path : str or Path
    step_size : int
        Jets per block.
    max_constituents : int
        Slots S per jet.
    validate : bool
    **options
        Passed to the format's iterator (not used for the top-tagging layout).

    Yields
    ------
    JetBlock
        ``p4`` (E, px, py, pz) float32 (the top-tagging file's own dtype), ``label``, and the
        per-jet numeric fields.
    """
    from jetviz.data.formats._common import padded_by_pt

    path = Path(path)
    fmt = format_of(path)
    if fmt.name == "top-tagging-h5":
        from jetviz.data.formats.top_tagging import iterate_top_tagging_arrays

        yield from iterate_top_tagging_arrays(path, step_size, max_constituents=max_constituents, validate=validate)
        return
    offset = 0
    for events in fmt.function("iterator")(path, step_size=step_size, validate=validate, **options):
        p4 = padded_by_pt(events.particles, ("E", "px", "py", "pz"), int(max_constituents), np.float32)
        fields = {name: ak.to_numpy(events[name]) for name in ak.fields(events)
                  if name not in ("particles", "jets", "label") and events[name].ndim == 1}
        yield JetBlock(offset, p4, ak.to_numpy(events.label).astype(np.int64), fields)
        offset += len(events)


def describe(path: str | Path) -> dict:
    """What is cheap to know about a file (headers and footers only, never the whole file).

    Returns
    -------
    dict
        ``format`` (name), ``title``, ``kind`` (``"jets"``: one jet per entry, ``"events"``),
        ``n_events`` (None where only a full scan could tell), ``labels`` (label values where
        cheap, else None), ``label_source`` (the column/field labels come from, or None),
        ``has_particle_truth`` (per-particle truth-jet indices present), ``fields`` and
        ``size_bytes``, plus format-specific entries (e.g. ``metadata`` for Parquet).
    """
    path = Path(path)
    fmt = format_of(path)
    info = fmt.function("describer")(path)
    return {"format": fmt.name, "title": fmt.title, "size_bytes": path.stat().st_size, **info}


def write(
    events: ak.Array, path: str | Path, *, format: str | None = None, overwrite: bool = False, **options: Any
) -> Path:
    """Write schema events in the format named by ``format`` or by the suffix of ``path``.

    Parameters
    ----------
    events : ak.Array
        Schema events (validated before anything is written).
    path : str or Path
    format : str, optional
        One of :data:`FORMATS` that writes (``jetviz-parquet``, ``top-tagging-h5``,
        ``energyflow-npz``); default: from the suffix.
    overwrite : bool
        Replace an existing file (default: refuse, the file untouched).
    **options
        Passed to the writer (``metadata`` for Parquet, ``max_constituents``/``dtype`` for HDF5).

    Raises
    ------
    DataFileError
        Unknown suffix or a format jetviz cannot write, raised before anything is written.
    """
    path = Path(path)
    writable = [f for f in FORMATS.values() if f.writer]
    listing = ", ".join(f"{' '.join(f.suffixes)} ({f.title})" for f in writable)
    if format is not None:
        fmt = FORMATS.get(format)
        if fmt is None:
            raise DataFileError(path, f"unknown format {format!r}; jetviz writes {', '.join(f.name for f in writable)}")
    else:
        fmt = format_for_suffix(path)
        if fmt is None:
            raise DataFileError(path, f"unknown extension {_suffix(path) or '(none)'!r}; jetviz writes {listing}")
    if fmt.writer is None:
        raise DataFileError(path, f"jetviz cannot write {fmt.title} files; it writes {listing}")
    return fmt.function("writer")(events, path, overwrite=overwrite, **options)
