"""Les Houches Event Files (LHEF, version 3.0): write hard-process events, read them back.

jetviz writes LHE files to hand its own parton-level generators (:mod:`jetviz.data.bsm`) to
Pythia (``Beams:frameType = 4``, ``Beams:LHEF = path``), and reads user files (MadGraph,
Whizard, BlackMax, CHARYBDIS ...) for inspection.

Array representation of hard events
-----------------------------------
One *hard event* is a mapping of equal-length 1-d numpy arrays, one entry per particle, in the
order of the file (the LHEF ``HEPEUP`` common block):

=============  =======  ===========================================================================
field          dtype    meaning
=============  =======  ===========================================================================
``pid``        int      PDG code (IDUP)
``status``     int      ISTUP: −1 incoming, +1 outgoing final, +2 intermediate (decayed) resonance
``mother1``    int      MOTHUP(1): **1-based** index of the first mother in this event, 0 = none
``mother2``    int      MOTHUP(2): second mother (1-based), 0 = none
``col``        int      ICOLUP(1): colour tag (0 = none; tags conventionally start at 501)
``acol``       int      ICOLUP(2): anticolour tag
``px py pz E`` float    PUP(1..4), GeV (lab frame of the beams)
``m``          float    PUP(5), the generated mass, GeV
``lifetime``   float    VTIMUP, mm (optional on writing, default 0)
``spin``       float    SPINUP, cosine of the helicity angle; 9 = unknown (optional, default 9)
=============  =======  ===========================================================================

:func:`write_lhe` takes a sequence of such mappings (a mapping may also carry the event-level
scalars ``scale`` = SCALUP in GeV, ``weight`` = XWGTUP, ``aqed``, ``aqcd``, ``process_id``), or an
awkward array of N events × var particle records with those fields. :func:`read_lhe` returns the
awkward form (all thirteen fields). Colour conventions Pythia checks on input: every coloured
particle carries tags, each tag appears exactly twice (as a colour and an anticolour, or as the
colour of an incoming and an outgoing particle), except the three legs of a baryon-number-violating
*junction*, which Pythia reconstructs itself — but at most one junction per vertex
(``ProcessLevel::findJunctions``), so several junctions need intermediate (status 2) particles.
"""
from __future__ import annotations

import gzip
import io as _io
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import awkward as ak
import numpy as np

from jetviz.errors import DataFileError

__all__ = [
    "LHE_FIELDS", "write_lhe", "read_lhe", "lhe_event_count", "lhe_to_events", "read_lhe_events",
    "iterate_lhe", "iterate_lhe_events", "describe_lhe",
]

LHE_FIELDS: tuple[str, ...] = (
    "pid", "status", "mother1", "mother2", "col", "acol", "px", "py", "pz", "E", "m", "lifetime", "spin",
)
_INT_FIELDS = ("pid", "status", "mother1", "mother2", "col", "acol")
_REQUIRED = LHE_FIELDS[:11]
_EVENT_SCALARS = ("scale", "weight", "aqed", "aqcd", "process_id")
_ALPHA_QED = 0.0078125  # 1/128
_ALPHA_QCD = 0.118


# ----------------------------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------------------------
def _as_event_dicts(events) -> Iterable[dict]:
    """Yield per-event dicts of numpy arrays from either accepted representation."""
    if isinstance(events, ak.Array):
        fields = set(ak.fields(events))
        missing = [f for f in _REQUIRED if f not in fields]
        if missing:
            raise ValueError(f"write_lhe: the awkward events lack the field(s) {missing}")
        counts = ak.to_numpy(ak.num(events, axis=1))
        flat = {f: ak.to_numpy(ak.flatten(events[f])) for f in LHE_FIELDS if f in fields}
        offsets = np.concatenate([[0], np.cumsum(counts)])
        for i in range(len(counts)):
            yield {k: v[offsets[i]:offsets[i + 1]] for k, v in flat.items()}
        return
    for i, event in enumerate(events):
        if not isinstance(event, Mapping):
            raise TypeError(f"write_lhe: event {i} is a {type(event).__name__}, expected a mapping of arrays")
        missing = [f for f in _REQUIRED if f not in event]
        if missing:
            raise ValueError(f"write_lhe: event {i} lacks the field(s) {missing}")
        yield event


def _default_scale(pid, status, px, py, pz, E) -> float:
    """SCALUP default: invariant mass of the incoming (status −1) particles, else of the outgoing."""
    pick = status == -1
    if not pick.any():
        pick = status == 1
    p = np.array([E[pick].sum(), px[pick].sum(), py[pick].sum(), pz[pick].sum()])
    return float(np.sqrt(max(p[0] ** 2 - p[1] ** 2 - p[2] ** 2 - p[3] ** 2, 0.0)))


def _format_event(i: int, event: Mapping) -> str:
    columns = {}
    n = None
    for name in LHE_FIELDS:
        if name in event:
            values = np.asarray(event[name])
        elif name == "lifetime":
            values = np.zeros(n or 0)
        elif name == "spin":
            values = np.full(n or 0, 9.0)
        if values.ndim != 1:
            raise ValueError(f"write_lhe: event {i} field {name!r} is not one-dimensional")
        if n is None:
            n = len(values)
        if len(values) != n:
            raise ValueError(f"write_lhe: event {i} field {name!r} has {len(values)} entries, expected {n}")
        if name in _INT_FIELDS:
            if values.size and not np.all(np.asarray(values, dtype=float) == np.round(np.asarray(values, dtype=float))):
                raise ValueError(f"write_lhe: event {i} field {name!r} must hold integers")
            values = np.asarray(values, dtype=np.int64)
        else:
            values = np.asarray(values, dtype=np.float64)
            if not np.all(np.isfinite(values)):
                raise ValueError(f"write_lhe: event {i} field {name!r} holds NaN or infinite values")
        columns[name] = values
    if not n:
        raise ValueError(f"write_lhe: event {i} has no particles")
    mothers = np.stack([columns["mother1"], columns["mother2"]])
    if np.any(mothers < 0) or np.any(mothers > n):
        raise ValueError(f"write_lhe: event {i} has a mother index outside 0..{n} (they are 1-based)")
    scale = event.get("scale")
    if scale is None:
        scale = _default_scale(columns["pid"], columns["status"], columns["px"], columns["py"], columns["pz"], columns["E"])
    weight = float(event.get("weight", 1.0))
    aqed = float(event.get("aqed", _ALPHA_QED))
    aqcd = float(event.get("aqcd", _ALPHA_QCD))
    process_id = int(event.get("process_id", 1))
    lines = ["<event>", f"{n:d} {process_id:d} {weight:.10e} {float(scale):.10e} {aqed:.10e} {aqcd:.10e}"]
    for j in range(n):
        lines.append(
            f"{columns['pid'][j]:9d} {columns['status'][j]:3d} {columns['mother1'][j]:4d} {columns['mother2'][j]:4d}"
            f" {columns['col'][j]:4d} {columns['acol'][j]:4d}"
            f" {columns['px'][j]:+.17e} {columns['py'][j]:+.17e} {columns['pz'][j]:+.17e}"
            f" {columns['E'][j]:.17e} {columns['m'][j]:.17e} {columns['lifetime'][j]:.6e} {columns['spin'][j]:.4f}"
        )
    lines.append("</event>")
    return "\n".join(lines) + "\n"


def write_lhe(
    path: str | Path,
    events: Sequence[Mapping] | ak.Array,
    beams: tuple[int, int, float, float] = (2212, 2212, 7000.0, 7000.0),
    overwrite: bool = False,
    cross_section_pb: float = 1.0,
    comment: str | None = None,
) -> Path:
    """Write hard-process events as a Les Houches Event File (version 3.0), atomically.

    Parameters
    ----------
    path
        the ``.lhe`` file to create (parent directories are created).
    events
        a sequence of per-event mappings of numpy arrays, or an awkward array of
        events × particles, with the fields in :data:`LHE_FIELDS` (``lifetime`` and ``spin``
        optional; see the module docstring for meanings; mother indices are 1-based).
        A mapping may add the event scalars ``scale`` (SCALUP, GeV; default: invariant
        mass of the incoming particles), ``weight`` (XWGTUP, default 1), ``aqed``,
        ``aqcd`` and ``process_id`` (IDPRUP, default 1).
    beams
        ``(IDBMUP1, IDBMUP2, EBMUP1, EBMUP2)``: beam PDG codes and energies (GeV).
    overwrite
        replace an existing file (default False: raise :class:`DataFileError`).
    cross_section_pb
        XSECUP written in ``<init>`` (pb); a placeholder for generators
        that compute no cross section (the jetviz BSM samples).
    comment
        optional text written in a ``<header>`` comment (no ``--`` or ``<``).

    Returns
    -------
        The path written.

    Raises
    ------
    DataFileError
        ``path`` exists and ``overwrite`` is False.
    ValueError
        an event is malformed (missing field, NaN, bad mother index); nothing is
        written then.

    The ``<init>`` block declares one process (LPRUP 1) with weighting strategy IDWTUP = 3
    (unweighted events, weight +1) and PDFGUP = PDFSUP = 0 (Pythia uses its own PDFs for the
    shower and beam remnants). The file is written to a temporary file in the same directory
    and renamed onto ``path`` only when complete.
    """
    from jetviz.data.io import atomic_write

    path = Path(path)
    if not overwrite and path.exists():
        raise DataFileError(path, "exists; refusing to overwrite it (pass overwrite=True to replace it)")
    id_a, id_b, e_a, e_b = beams
    # format every event before touching the disk, so a malformed event writes nothing
    body = [_format_event(i, event) for i, event in enumerate(_as_event_dicts(events))]
    header = ""
    if comment:
        text = str(comment).replace("--", "-").replace("<", "(").replace(">", ")")
        header = f"<header>\n<!-- {text} -->\n</header>\n"
    init = (
        "<init>\n"
        f"{int(id_a):d} {int(id_b):d} {float(e_a):.10e} {float(e_b):.10e} 0 0 0 0 3 1\n"
        f"{float(cross_section_pb):.10e} {0.0:.10e} {1.0:.10e} 1\n"
        "</init>\n"
    )
    with atomic_write(path, "w", overwrite=overwrite) as handle:
        handle.write('<LesHouchesEvents version="3.0">\n')
        handle.write(header)
        handle.write(init)
        for block in body:
            handle.write(block)
        handle.write("</LesHouchesEvents>\n")
    return path


# ----------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------
def _open_text(path: Path):
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return _io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _event_error(path: Path, index: int, line_no: int, problem: str) -> DataFileError:
    return DataFileError(path, f"event {index} (line {line_no}): {problem}")


def _is_tag(line: str, tag: str) -> bool:
    """``line`` opens ``<tag`` exactly (``<event>``, ``<event attr=...>``; not ``<eventgroup>``)."""
    n = len(tag) + 1
    return line.startswith("<" + tag) and (len(line) == n or line[n] in " >/\t")


def _is_particle_line(line: str) -> bool:
    fields = line.split()
    if len(fields) != 13:
        return False
    try:
        [float(x) for x in fields]
    except ValueError:
        return False
    return True


def _chunk_array(
    path: Path, rows: list[str], lines: list[int], counts: list[int], first_event: int, validate: bool
) -> ak.Array:
    """Parse and check the particle lines of complete events ``first_event ...``; the LHE records."""
    counts_arr = np.asarray(counts, dtype=np.int64)
    event_of = first_event + np.repeat(np.arange(len(counts_arr)), counts_arr)
    line_of = np.asarray(lines, dtype=np.int64)
    try:
        table = np.array(" ".join(rows).split(), dtype=np.float64).reshape(-1, 13) if rows else np.zeros((0, 13))
    except ValueError:
        for k, row in enumerate(rows):
            try:
                [float(x) for x in row.split()]
            except ValueError:
                raise _event_error(path, int(event_of[k]), int(line_of[k]), f"particle line is not numeric: {row[:60]!r}") from None
        raise  # pragma: no cover - every row parsed on its own
    ints = table[:, :6]
    with np.errstate(invalid="ignore"):
        bad_int = np.any(~np.isfinite(ints) | (ints != np.round(ints)), axis=1)
    if bad_int.any():
        k = int(np.flatnonzero(bad_int)[0])
        raise _event_error(path, int(event_of[k]), int(line_of[k]), "IDUP/ISTUP/MOTHUP/ICOLUP must be integers")
    if validate:
        momenta = table[:, 6:11]
        bad = ~np.isfinite(momenta).all(axis=1)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise _event_error(path, int(event_of[k]), int(line_of[k]), "PUP (px, py, pz, E, m) is NaN or infinite")
        bad = table[:, 9] < 0
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise _event_error(path, int(event_of[k]), int(line_of[k]), f"negative energy E = {table[k, 9]:.6g} GeV")
        nup = np.repeat(counts_arr, counts_arr)
        bad = ((table[:, 2:4] < 0) | (table[:, 2:4] > nup[:, None])).any(axis=1)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise _event_error(path, int(event_of[k]), int(line_of[k]),
                               f"mother index {table[k, 2]:.0f}/{table[k, 3]:.0f} outside 0..NUP = {int(nup[k])}")
    columns = {
        name: table[:, k].astype(np.int64) if name in _INT_FIELDS else table[:, k].copy()
        for k, name in enumerate(LHE_FIELDS)
    }
    return ak.unflatten(ak.zip(columns, depth_limit=1), counts_arr)


def _lhe_chunks(path: Path, max_events: int | None, step_size: int, validate: bool) -> Iterator[ak.Array]:
    """Stream an LHE file: LHE-record arrays of ``step_size`` complete, checked events."""
    if not path.exists():
        raise DataFileError(path, "no such LHE file")
    if path.is_dir():
        raise DataFileError(path, "is a directory, not an LHE file")
    if int(step_size) < 1:
        raise ValueError("step_size must be positive")
    rows: list[str] = []
    lines: list[int] = []
    counts: list[int] = []
    chunk_first = 0
    seen_root = seen_init = closed = False
    in_event = False
    n_expected = n_read = 0
    event_index = -1
    event_line = 0
    try:
        handle = _open_text(path)
    except OSError as exc:
        raise DataFileError(path, f"cannot be opened: {exc.strerror or exc}") from None
    with handle:
        try:
            for line_no, raw in enumerate(handle, start=1):
                line = raw.strip()
                if not in_event:
                    if line.startswith("<LesHouchesEvents"):
                        seen_root = True
                    elif _is_tag(line, "init"):
                        seen_init = True  # not <initrwgt> (a MadGraph header block)
                    elif line.startswith("</LesHouchesEvents"):
                        closed = True
                        break
                    elif _is_tag(line, "event"):
                        if not (seen_root and seen_init):
                            raise DataFileError(path, f"line {line_no}: <event> before <LesHouchesEvents> and <init>")
                        if max_events is not None and event_index + 1 >= max_events:
                            closed = True
                            break
                        in_event = True
                        event_index += 1
                        event_line = line_no
                        n_expected = -1
                        n_read = 0
                    continue
                # inside an <event> block
                if _is_tag(line, "event"):
                    raise _event_error(path, event_index, line_no,
                                       f"a new <event> starts before the </event> of this event (begun on line {event_line})")
                if line.startswith("</LesHouchesEvents"):
                    raise _event_error(path, event_index, line_no, f"</LesHouchesEvents> inside the event begun on line {event_line} (no </event>)")
                if line.startswith("</event"):
                    if n_expected < 0:
                        raise _event_error(path, event_index, line_no, "no header line (NUP IDPRUP XWGTUP SCALUP AQEDUP AQCDUP)")
                    if n_read != n_expected:
                        raise _event_error(path, event_index, line_no, f"has {n_read} particle lines, its header says NUP = {n_expected}")
                    counts.append(n_read)
                    in_event = False
                    if len(counts) == int(step_size):
                        yield _chunk_array(path, rows, lines, counts, chunk_first, validate)
                        chunk_first += len(counts)
                        rows, lines, counts = [], [], []
                    continue
                if not line or line.startswith("#"):
                    continue
                if n_expected < 0:
                    fields = line.split()
                    if len(fields) != 6:
                        raise _event_error(path, event_index, line_no, f"header line has {len(fields)} entries, expected 6")
                    try:
                        n_expected = int(fields[0])
                        [float(x) for x in fields[1:]]
                    except ValueError:
                        raise _event_error(path, event_index, line_no, f"header line is not numeric: {line[:60]!r}") from None
                    if n_expected < 1:
                        raise _event_error(path, event_index, line_no, f"NUP = {n_expected}, expected at least 1")
                    continue
                if n_read < n_expected:
                    if line.startswith("<"):
                        raise _event_error(path, event_index, line_no, f"has {n_read} particle lines, its header says NUP = {n_expected}")
                    if len(line.split()) != 13:
                        raise _event_error(
                            path, event_index, line_no,
                            f"particle line has {len(line.split())} entries, expected 13: {line[:60]!r}",
                        )
                    rows.append(line)
                    lines.append(line_no)
                    n_read += 1
                elif not line.startswith("<") and _is_particle_line(line):
                    raise _event_error(path, event_index, line_no,
                                       f"more particle lines than its header's NUP = {n_expected}")
                # other lines (<wgt>, <rwgt>, <mgrwt>, <scales> ...) are optional LHEF3 extras
        except DataFileError:
            raise
        except (OSError, EOFError) as exc:  # truncated gzip stream
            raise DataFileError(path, f"cannot be read (truncated or corrupted?): {exc}") from None
    if not seen_root:
        raise DataFileError(path, "is not a Les Houches Event File (no <LesHouchesEvents> tag)")
    if not seen_init:
        raise DataFileError(path, "has no <init> block")
    if in_event:
        raise DataFileError(path, f"is truncated: it ends inside event {event_index} (started on line {event_line})")
    if not closed:
        raise DataFileError(path, f"is truncated: no </LesHouchesEvents> after {event_index + 1} complete events")
    if counts:
        yield _chunk_array(path, rows, lines, counts, chunk_first, validate)


def iterate_lhe(
    path: str | Path, step_size: int = 10_000, max_events: int | None = None, validate: bool = True
) -> Iterator[ak.Array]:
    """Read the hard-process particles of an LHE file, ``step_size`` events at a time.

    Parameters
    ----------
    path, max_events, validate
        As for :func:`read_lhe`.
    step_size : int
        Events per chunk; the file is streamed, one chunk in memory at a time.

    Yields
    ------
    ak.Array
        LHE records (see :func:`read_lhe`).
    """
    yield from _lhe_chunks(Path(path), max_events, step_size, validate)


def read_lhe(path: str | Path, max_events: int | None = None, validate: bool = True) -> ak.Array:
    """Read the hard-process particles of every event in a Les Houches Event File.

    Parameters
    ----------
    path : str or Path
        A ``.lhe`` file, optionally gzip-compressed (``.lhe.gz``).
    max_events : int, optional
        Stop after this many events (None: all).
    validate : bool
        Check values: finite PUP, E ≥ 0, mother indices in 0…NUP. False skips them; the
        structure (below) is always checked.

    Returns
    -------
    ak.Array
        N events × var particle records with the fields :data:`LHE_FIELDS` (ints for
        ``pid, status, mother1, mother2, col, acol``; float64 otherwise; mothers 1-based as in
        the file).

    Raises
    ------
    DataFileError
        The file is missing, is not an LHE file (no ``<LesHouchesEvents>`` or ``<init>``), is
        truncated (ends inside an event or without ``</LesHouchesEvents>``), or has a malformed
        event: a new ``<event>`` before ``</event>``, NUP ≠ the number of particle lines, a
        wrong number of entries, non-numeric or non-integer codes, bad values. The message names
        the event (counted from 0) and the line.
    """
    path = Path(path)
    chunks = list(_lhe_chunks(path, max_events, 10_000, validate))
    if not chunks:
        return _chunk_array(path, [], [], [], 0, validate)
    return chunks[0] if len(chunks) == 1 else ak.concatenate(chunks)


def lhe_event_count(path: str | Path) -> int:
    """Number of ``<event>`` blocks in an LHE file (a quick scan; no validation)."""
    path = Path(path)
    if not path.exists():
        raise DataFileError(path, "no such LHE file")
    n = 0
    with _open_text(path) as handle:
        for line in handle:
            stripped = line.lstrip()
            if stripped.startswith("<event") and (len(stripped.rstrip()) == 6 or stripped[6] in " >"):
                n += 1
    return n


def lhe_to_events(
    hard: ak.Array, label: int = 0, source: str | Path = "LHE events", validate: bool = True, offset: int = 0
) -> ak.Array:
    """The outgoing particles (ISTUP = +1) of hard LHE events as schema events.

    Parameters
    ----------
    hard : ak.Array
        N events × var LHE particle records (:func:`read_lhe`).
    label : int
        The per-event label (an LHE file holds one process).
    source : str or Path
        What to call the data in errors (a Path: the file).
    validate : bool
        Check values (E ≥ |p| ...; :mod:`jetviz.data.validate`).
    offset : int
        File index of the first event.

    Returns
    -------
    ak.Array
        Schema events: ``px, py, pz, E`` from PUP, ``pid`` = IDUP, ``charge`` from
        :mod:`jetviz.data.pdg`, ``jet`` = −1 (no truth clustering).
    """
    from jetviz.data import pdg
    from jetviz.data.schema import make_events

    outgoing = hard[hard.status == 1]
    counts = ak.to_numpy(ak.num(outgoing, axis=1))
    flat = {f: ak.to_numpy(ak.flatten(outgoing[f])) for f in ("px", "py", "pz", "E", "pid")}
    flat["charge"] = pdg.charge(flat["pid"])
    return make_events(flat, counts, label, source=source, validate=validate, offset=offset)


def read_lhe_events(path: str | Path, max_events: int | None = None, label: int = 0, validate: bool = True) -> ak.Array:
    """Read an LHE file as schema events: its outgoing hard-process particles (:func:`lhe_to_events`)."""
    path = Path(path)
    hard = read_lhe(path, max_events=max_events, validate=validate)
    if len(hard) == 0:
        raise DataFileError(path, "holds no events")
    return lhe_to_events(hard, label, source=path, validate=validate)


def iterate_lhe_events(
    path: str | Path, step_size: int = 10_000, label: int = 0, validate: bool = True
) -> Iterator[ak.Array]:
    """Read an LHE file as schema events, streaming ``step_size`` events at a time."""
    path = Path(path)
    offset = 0
    for hard in _lhe_chunks(path, None, step_size, validate):
        yield lhe_to_events(hard, label, source=path, validate=validate, offset=offset)
        offset += len(hard)


_COUNT_LIMIT = 64 * 2**20  # bytes: count <event> tags of plain files up to this size when listing


def describe_lhe(path: str | Path) -> dict:
    """Cheap facts about an LHE file: beams from ``<init>`` and, for plain files ≤ 64 MiB, the event count.

    Returns
    -------
    dict
        ``kind`` ``"events"``, ``n_events`` (None for gzip files and large files: only a full
        read counts them), ``labels`` None, ``label_source`` None, ``has_particle_truth`` False,
        ``fields`` ``["label"]``, ``beams`` (the first ``<init>`` line's four numbers) where found.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "no such LHE file")
    beams = None
    seen_root = False
    with _open_text(path) as handle:
        try:
            for k, line in enumerate(handle):
                stripped = line.strip()
                if stripped.startswith("<LesHouchesEvents"):
                    seen_root = True
                elif stripped.startswith("<init") and (len(stripped) == 5 or stripped[5] in " >"):
                    fields = next(handle).split()
                    beams = [float(x) for x in fields[:4]] if len(fields) >= 4 else None
                    break
                if k > 100_000:
                    break
        except (OSError, EOFError, ValueError, StopIteration) as exc:
            raise DataFileError(path, f"cannot be read as LHE (truncated or corrupted?): {exc}") from None
    if not seen_root:
        raise DataFileError(path, "is not a Les Houches Event File (no <LesHouchesEvents> tag)")
    n_events = None
    with open(path, "rb") as raw:
        plain = raw.read(2) != b"\x1f\x8b"
    if plain and path.stat().st_size <= _COUNT_LIMIT:
        n_events = lhe_event_count(path)
    return {
        "kind": "events",
        "n_events": n_events,
        "labels": None,
        "label_source": None,
        "has_particle_truth": False,
        "fields": ["label"],
        "beams": beams,
    }
