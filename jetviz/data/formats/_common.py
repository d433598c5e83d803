"""Helpers shared by the format modules: file checks, library errors in one line, padding."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import awkward as ak
import numpy as np

from jetviz.data.schema import make_events
from jetviz.data.validate import as_integers
from jetviz.errors import DataFileError

__all__ = [
    "DEFAULT_STEP",
    "JetBlock",
    "short",
    "require_file",
    "refuse_overwrite",
    "build_events",
    "warn_dropped",
    "integer_labels",
    "concat",
    "each_chunk",
    "all_chunks",
    "from_padded",
    "padded_by_pt",
]

#: Events per chunk when a reader iterates a file.
DEFAULT_STEP = 10_000


@dataclass(frozen=True)
class JetBlock:
    """A range of jets as padded arrays: what consumers of fixed-size constituent arrays read.

    Attributes
    ----------
    offset : int
        File index of the first jet.
    p4 : (n, S, 4) float array
        Constituents (E, px, py, pz) in GeV, zero-padded; a slot is a constituent when any of
        its four components is non-zero. In the file's order for the top-tagging layout (the
        public files are pT-ordered), by decreasing pT otherwise.
    label : (n,) int64
    fields : dict of (n,) arrays
        Per-jet fields the file has (``ttv``, ``truth_E`` ...).
    """

    offset: int
    p4: np.ndarray
    label: np.ndarray
    fields: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.p4)

    @property
    def mask(self) -> np.ndarray:
        """``(n, S)`` True for constituent slots."""
        return (self.p4 != 0).any(axis=2)

    @property
    def counts(self) -> np.ndarray:
        """``(n,)`` constituents per jet."""
        return self.mask.sum(axis=1)


def short(exc: BaseException, limit: int = 200) -> str:
    """One line saying what a library exception says: its type and the gist of its message."""
    text = str(exc).strip()
    if text.startswith("HDF5 error back trace"):  # PyTables: the innermost reason is the useful one
        reasons = [
            line.strip()
            for line in text.split("End of HDF5 error back trace")[0].splitlines()[1:]
            if line.strip() and not line.strip().startswith("File ")
        ]
        text = reasons[-1] if reasons else "HDF5 error"
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}".rstrip(": ")


def require_file(path: Path) -> None:
    """Raise :class:`DataFileError` unless ``path`` is an existing regular file."""
    if not path.exists():
        raise DataFileError(path, "no such file")
    if path.is_dir():
        raise DataFileError(path, "is a directory, not a file")


def refuse_overwrite(path: Path, overwrite: bool) -> None:
    """Raise :class:`DataFileError` if ``path`` exists and ``overwrite`` is False."""
    if not overwrite and path.exists():
        raise DataFileError(path, "exists; refusing to overwrite it (pass overwrite=True to replace it)")


def build_events(
    path: Path,
    particles: dict[str, np.ndarray],
    counts: np.ndarray,
    label: np.ndarray,
    event_fields: dict[str, np.ndarray] | None,
    offset: int,
    drop_empty: bool,
    padded: bool = False,
    validate: bool = True,
) -> tuple[ak.Array, int]:
    """Turn one chunk read from ``path`` into schema events, dropping or refusing empty events.

    Parameters
    ----------
    path : Path
        The file (named in errors).
    particles : dict of (n,) arrays
        Flat particle fields (see :func:`jetviz.data.schema.make_events`).
    counts : (N,) int array
        Particles per event.
    label : (N,) int array or int
    event_fields : dict of (N,) arrays, optional
    offset : int
        File index of the chunk's first event, so that messages name events as counted in the file.
    drop_empty : bool
        Drop events without particles instead of raising.
    padded : bool
        The format zero-pads (for the wording of the empty-event message).
    validate : bool
        Check values (:mod:`jetviz.data.validate`); False skips finite/E ≥ |p|/pT ≥ 0.

    Returns
    -------
    (events, n_dropped)
    """
    counts = np.asarray(counts, dtype=np.int64)
    n_events = len(counts)
    label = np.broadcast_to(np.asarray(label), (n_events,))
    event_fields = dict(event_fields or {})
    empty = counts == 0
    n_empty = int(empty.sum())
    if n_empty:
        if not drop_empty:
            first = offset + int(np.flatnonzero(empty)[0])
            raise DataFileError(
                path,
                f"event {first} is empty ({'an all-zero row' if padded else 'no particles'}); "
                f"{n_empty} empty event(s) in events {offset}..{offset + n_events - 1}; "
                "pass drop_empty=True to drop them",
            )
        keep = ~empty
        counts, label = counts[keep], label[keep]
        event_fields = {k: np.asarray(v)[keep] for k, v in event_fields.items()}
    events = make_events(particles, counts, label, event_fields=event_fields, source=path, validate=validate, offset=offset)
    return events, n_empty


def warn_dropped(path: Path, n_dropped: int) -> None:
    """Warn that ``n_dropped`` empty events of ``path`` were dropped (nothing if 0)."""
    if n_dropped:
        warnings.warn(f"{path}: dropped {n_dropped} empty event(s) (no particles)", stacklevel=3)


def integer_labels(path: Path, values: np.ndarray, name: str, offset: int = 0) -> np.ndarray:
    """``values`` as int64 labels; raise naming ``name`` and the first bad event if they are not integers."""
    return as_integers(values, path, name, offset=offset)


def each_chunk(path: Path, chunks: Iterator[tuple[ak.Array, int]]) -> Iterator[ak.Array]:
    """Yield the events of ``(events, n_dropped)`` chunks, warning per chunk about dropped events."""
    for events, n_dropped in chunks:
        warn_dropped(path, n_dropped)
        yield events


def all_chunks(path: Path, chunks: Iterator[tuple[ak.Array, int]]) -> ak.Array:
    """The events of all ``(events, n_dropped)`` chunks as one array, one warning for all dropped events."""
    arrays, dropped = [], 0
    for events, n_dropped in chunks:
        arrays.append(events)
        dropped += n_dropped
    warn_dropped(path, dropped)
    return concat(path, arrays)


def concat(path: Path, chunks: list[ak.Array]) -> ak.Array:
    """Chunks of one file as one array; a file without events is an error naming it."""
    if not chunks:
        raise DataFileError(path, "holds no events in the requested range")
    return chunks[0] if len(chunks) == 1 else ak.to_packed(ak.concatenate(chunks, axis=0))


def from_padded(block: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Strip zero padding from ``(N, M, C)``: returns (mask (N, M), counts (N,), flat (n, C)).

    A slot is a particle when any of its C values is non-zero (NaN counts as non-zero, so a
    NaN in a padding slot is reported, not silently dropped).
    """
    mask = (block != 0).any(axis=2)
    return mask, mask.sum(axis=1), block[mask]


def padded_by_pt(particles: ak.Array, fields: Sequence[str], n_slots: int, dtype) -> np.ndarray:
    """``(N, n_slots, len(fields))`` array of particle fields, hardest pT first, zero-padded."""
    order = ak.argsort(particles.pt, axis=1, ascending=False, stable=True)
    ordered = particles[order]
    out = np.zeros((len(particles), n_slots, len(fields)), dtype=dtype)
    for j, name in enumerate(fields):
        padded = ak.fill_none(ak.pad_none(ordered[name], n_slots, axis=1, clip=True), 0)
        out[:, :, j] = ak.to_numpy(padded)
    return out
