"""Datasets: recipe names and the user's files under the data root, by name.

The data root is ``$JETVIZ_DATA`` (default ``~/jetviz-data``), created on first use. A dataset
is named either by a recipe (``ee_6jet``, ``top_qcd``, ... : generated and cached by
:func:`jetviz.data.samples.load_sample`) or by a path *relative to the data root*
(``top-tagging/train.h5``, ``delphes/run1.root``, ``mine.parquet``), read by the format its
content and suffix say (:mod:`jetviz.data.formats`).

Names are confined: :func:`resolve` refuses absolute paths, ``~``, ``..`` components, and
anything whose real path (symlinks followed) lies outside the data root, before any file is
opened. That is for names that come from the UI or a URL; a Python caller who has a path uses
:func:`from_path`, which takes any path.

:func:`list_datasets` describes every file under the root from headers and footers only (a
damaged file is listed with its problem, never raised); :func:`fingerprint` identifies a file's
content cheaply (size, mtime and a SHA-256 of its first and last MiB) so that a run can record
what it was trained on and notice a changed file.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterator

import awkward as ak
import param
from param.parameterized import Undefined

from jetviz.errors import ConfigError, DataFileError, JetvizError

__all__ = [
    "SampleName",
    "is_file_name",
    "sample_dataset",
    "sample_menu",
    "sample_choices",
    "sample_description",
    "DATA_ENV",
    "Dataset",
    "data_root",
    "resolve",
    "dataset",
    "from_path",
    "list_datasets",
    "fingerprint",
    "fingerprint_changes",
]

#: Environment variable naming the data root.
DATA_ENV = "JETVIZ_DATA"
_FINGERPRINT_SPAN = 2**20  # bytes hashed at each end of a file
_RECIPE_TRUTH = ("ee_6jet", "ee_zh_4jet", "lhe", "toy_ee_6jet", "toy_ee_zh_4jet")
_describe_memo: dict[tuple[str, int, int], dict] = {}


def data_root(create: bool = True) -> Path:
    """The data root: ``$JETVIZ_DATA`` or ``~/jetviz-data``, made absolute (and created if ``create``).

    Raises
    ------
    DataFileError
        The directory cannot be created, or the path is not a directory.
    """
    root = Path(os.environ.get(DATA_ENV) or Path.home() / "jetviz-data").expanduser().absolute()
    if create:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataFileError(root, f"cannot create the data root: {exc.strerror or exc} (set ${DATA_ENV})") from None
    if root.exists() and not root.is_dir():
        raise DataFileError(root, f"the data root is not a directory (set ${DATA_ENV})")
    return root


def _is_recipe(name: str) -> bool:
    from jetviz.data.recipes import RECIPES

    return name in RECIPES


def resolve(name: str, root: Path | None = None) -> Path:
    """The file a dataset name means, confined to the data root; nothing is opened.

    Parameters
    ----------
    name : str
        A path relative to the data root, ``/``-separated (``top-tagging/train.h5``).
    root : Path, optional
        The data root (default :func:`data_root`).

    Returns
    -------
    Path
        The absolute path of an existing regular file inside the root (symlinks inside the root
        are followed; their target must lie inside it too).

    Raises
    ------
    ConfigError
        Not a string, empty, absolute, starting with ``~``, with a ``..`` component, a NUL or a
        backslash, or resolving outside the root.
    DataFileError
        Inside the root but missing, or a directory.
    """
    root = (root or data_root()).resolve()
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"a dataset name must be a non-empty string, got {name!r}")
    shown = name if len(name) < 200 else name[:197] + "..."
    if "\x00" in name or "\\" in name:
        raise ConfigError(f"dataset name {shown!r} holds a NUL or backslash; names are '/'-separated paths under the data root {root}")
    pure = PurePosixPath(name)
    if pure.is_absolute() or name.startswith("~"):
        raise ConfigError(f"dataset name {shown!r} is absolute; names are paths relative to the data root {root}")
    if ".." in pure.parts:
        raise ConfigError(f"dataset name {shown!r} climbs out with '..'; names are paths inside the data root {root}")
    candidate = root.joinpath(*pure.parts)
    real = candidate.resolve(strict=False)
    if real != root and root not in real.parents:
        raise ConfigError(f"dataset name {shown!r} resolves outside the data root {root} (a symlink pointing out?)")
    if not real.exists():
        raise DataFileError(candidate, f"no such dataset under the data root {root}")
    if not real.is_file():
        raise DataFileError(candidate, "is a directory, not a dataset file; name a file inside it")
    return real


def fingerprint(path: str | Path) -> dict[str, Any]:
    """A cheap identity of a file's content.

    Returns
    -------
    dict
        ``size_bytes``, ``mtime_ns``, ``head_tail_sha256`` (SHA-256 of the size and the first and
        last MiB) and ``id`` (16 hex digits over all three: a cache key).
    """
    path = Path(path)
    try:
        stat = path.stat()
        digest = hashlib.sha256(str(stat.st_size).encode())
        with open(path, "rb") as handle:
            digest.update(handle.read(_FINGERPRINT_SPAN))
            if stat.st_size > _FINGERPRINT_SPAN:
                handle.seek(max(stat.st_size - _FINGERPRINT_SPAN, _FINGERPRINT_SPAN))
                digest.update(handle.read(_FINGERPRINT_SPAN))
    except OSError as exc:
        raise DataFileError(path, f"cannot be read for its fingerprint: {exc.strerror or exc}") from None
    record = {"size_bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head_tail_sha256": digest.hexdigest()}
    record["id"] = hashlib.sha256(repr(sorted(record.items())).encode()).hexdigest()[:16]
    return record


def fingerprint_changes(recorded: dict, path: str | Path) -> str | None:
    """What changed in ``path`` since ``recorded`` (a :func:`fingerprint`), or None if nothing did.

    A missing file is a change too (the message says so); mtime alone changing counts.
    """
    path = Path(path)
    if not path.is_file():
        return f"{path} is gone"
    now = fingerprint(path)
    changes = [f"{key}: {recorded.get(key)} → {now[key]}" for key in ("size_bytes", "head_tail_sha256", "mtime_ns")
               if recorded.get(key) != now[key]]
    return "; ".join(changes) or None


@dataclass(frozen=True)
class Dataset:
    """A named dataset: a recipe or one file.

    Attributes
    ----------
    name : str
        The recipe name, the path relative to the data root, or (from :func:`from_path`) the path.
    path : Path or None
        The file; None for a recipe.
    """

    name: str
    path: Path | None = None

    @property
    def is_recipe(self) -> bool:
        return self.path is None

    def describe(self) -> dict:
        """What a listing shows (see :func:`list_datasets`); raises for a damaged file."""
        if self.path is None:
            return _recipe_description(self.name)
        return {"name": self.name, "source": "file", **_describe_file(self.path)}

    def read(self, **options: Any) -> ak.Array:
        """The whole file as schema events (:func:`jetviz.data.formats.read`); not for recipes."""
        from jetviz.data import formats

        return formats.read(self._file(), **options)

    def iterate(self, step_size: int = 10_000, **options: Any) -> Iterator[ak.Array]:
        """The file in chunks of ``step_size`` events (:func:`jetviz.data.formats.iterate`)."""
        from jetviz.data import formats

        return formats.iterate(self._file(), step_size=step_size, **options)

    def head(self, n: int, progress: Callable[[int, int], None] | None = None) -> ak.Array:
        """The file's first ``n`` events (all of them when it holds fewer), read chunk by chunk,
        never the whole file; ``progress(done, n)`` after each chunk."""
        chunks, have = [], 0
        for chunk in self.iterate(step_size=min(max(int(n), 1), 10_000)):
            chunks.append(chunk[: n - have])
            have += len(chunks[-1])
            if progress is not None:
                progress(have, n)
            if have >= n:
                break
        if not chunks:
            raise DataFileError(self._file(), "holds no events")
        return chunks[0] if len(chunks) == 1 else ak.to_packed(ak.concatenate(chunks))

    def fingerprint(self) -> dict:
        """:func:`fingerprint` of the file; recipes are identified by name (and their own cache)."""
        return fingerprint(self._file())

    def record(self) -> dict:
        """What a run stores in ``config.json``: name, format, size, events and fingerprint."""
        if self.path is None:
            return {"name": self.name, "source": "recipe"}
        info = self.describe()
        return {"name": self.name, "source": "file", "format": info["format"], "n_events": info["n_events"],
                "fingerprint": self.fingerprint()}

    def _file(self) -> Path:
        if self.path is None:
            raise ConfigError(f"{self.name!r} is a recipe: load it with jetviz.data.samples.load_sample")
        return self.path


def dataset(name: str, root: Path | None = None) -> Dataset:
    """The dataset a (UI or URL) name means: a recipe, or a file confined to the data root (:func:`resolve`)."""
    if isinstance(name, str) and _is_recipe(name):
        return Dataset(name)
    root = (root or data_root()).resolve()
    path = resolve(name, root)
    return Dataset(path.relative_to(root).as_posix() if root in path.parents else name, path)


def from_path(path: str | Path) -> Dataset:
    """A dataset for any file a Python caller names (no confinement)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataFileError(path, "no such file" if not path.exists() else "is not a file")
    return Dataset(str(path), path.resolve())


def _recipe_description(name: str) -> dict:
    from jetviz.data.recipes import get_recipe

    recipe = get_recipe(name)
    return {
        "name": name, "source": "recipe", "format": "recipe", "title": recipe.description,
        "kind": "jets" if name.endswith("top_qcd") else "events", "n_events": None,
        "labels": list(range(len(recipe.classes))) if len(recipe.classes) > 1 else [0],
        "classes": list(recipe.classes), "label_source": "label",
        "has_particle_truth": name in _RECIPE_TRUTH, "toy": recipe.toy,
    }


def _describe_file(path: Path) -> dict:
    """:func:`jetviz.data.formats.describe`, remembered per (path, size, mtime) for repeated listings."""
    from jetviz.data import formats

    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _describe_memo:
        if len(_describe_memo) > 4096:
            _describe_memo.clear()
        _describe_memo[key] = formats.describe(path)
    return dict(_describe_memo[key])


def _candidates(root: Path) -> Iterator[Path]:
    """Files under ``root`` (not hidden, symlinks listed but not followed into directories)."""
    for directory, subdirs, files in os.walk(root, followlinks=False):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(directory) / name


def list_datasets(root: Path | None = None, recipes: bool = False) -> list[dict]:
    """Every dataset file under the data root, described cheaply; damaged files included.

    Files are listed when their suffix is one jetviz reads or their first bytes are a format it
    reads; other files (notes, scripts) are skipped. Only headers and footers are read.

    Parameters
    ----------
    root : Path, optional
        The data root (default :func:`data_root`).
    recipes : bool
        Also list the (non-toy) recipes first.

    Returns
    -------
    list of dict
        Per dataset: ``name`` (relative to the root), ``source`` (``"file"``/``"recipe"``),
        ``format``, ``title``, ``kind`` (``"jets"``/``"events"``), ``n_events`` (None when only
        a full read could tell), ``labels``, ``label_source``, ``has_particle_truth``,
        ``size_bytes`` and ``damaged``: None, or what is wrong (truncated, not the layout, a
        symlink out of the root ...).
    """
    from jetviz.data import formats
    from jetviz.data.recipes import RECIPES

    root = (root or data_root()).resolve()
    out: list[dict] = []
    if recipes:
        out += [{**_recipe_description(name), "damaged": None} for name in RECIPES if not RECIPES[name].toy]
    for path in _candidates(root):
        name = path.relative_to(root).as_posix()
        entry: dict[str, Any] = {"name": name, "source": "file", "format": None, "title": None, "kind": None,
                                 "n_events": None, "labels": None, "label_source": None,
                                 "has_particle_truth": False, "size_bytes": None, "damaged": None}
        try:
            real = resolve(name, root)
            entry["size_bytes"] = real.stat().st_size
            try:
                known = formats.format_of(real)
            except DataFileError:
                known = formats.format_for_suffix(real)
                if known is None:
                    continue  # not a data file: skipped, not listed
                raise
            entry.update(format=known.name, title=known.title, kind=known.kind)
            entry.update({k: v for k, v in _describe_file(real).items() if k in entry or k == "fields"})
        except JetvizError as err:
            entry["damaged"] = getattr(err, "problem", None) or str(err)
        except Exception as err:  # a reader library failing in a way not foreseen: still listed
            entry["damaged"] = f"cannot be described: {type(err).__name__}: {err}"[:300]
        out.append(entry)
    return out


class SampleName(param.String):
    """A runner's sample: one of its ``recipes`` (generated and cached), or a dataset file.

    A file is named by its path relative to the data root (``top-tagging/train.h5``; confined to
    ``$JETVIZ_DATA`` when it comes from a page or a URL) or, from Python, by any path; see
    :mod:`jetviz.data.datasets`. A bare word that is no recipe of the runner is refused (so a typo
    or another runner's recipe is not taken for a file).
    """

    __slots__ = ["recipes"]
    _slot_defaults = {**param.String._slot_defaults, "recipes": ()}

    def __init__(self, default=Undefined, *, recipes=Undefined, **params):
        self.recipes = recipes
        super().__init__(default=default, **params)

    def _validate_value(self, val, allow_None):
        super()._validate_value(val, allow_None)
        if val is None or self.recipes is Undefined:
            return
        if not val.strip():
            raise ValueError(f"{self.name}: give a recipe ({', '.join(self.recipes)}) or a dataset file name")
        if val not in self.recipes and not is_file_name(val):
            raise ValueError(f"{self.name}: {val!r} is neither a sample of this runner ({', '.join(self.recipes)}) nor a "
                             "dataset file (a path such as top-tagging/train.h5)")


def is_file_name(name: str) -> bool:
    """Whether a sample name means a file (it has a directory part or a suffix) rather than a recipe."""
    return "/" in name or "\\" in name or "." in Path(name).name


def sample_dataset(name: str):
    """The :class:`~jetviz.data.datasets.Dataset` of a file sample name, None for a recipe.

    A path relative to the data root is confined to it (a name from a page or a URL); an
    absolute path, or one starting with ``./``, ``../`` or ``~``, is taken as given (Python callers).
    """
    if not is_file_name(name):
        return None
    if Path(name).expanduser().is_absolute() or name.startswith(("./", "../", "~")):
        return from_path(name)
    return dataset(name)


def sample_menu(recipes, entries: list[dict], kind: str | None = None) -> dict[str, str]:
    """``{label: name}`` of a sample menu: the ``recipes``, then the readable dataset files of a
    :func:`list_datasets` listing (labelled with format and size) of ``kind`` ("jets", "events", or
    "events+truth": with per-particle truth; None: any)."""
    menu = {name: name for name in recipes}
    for entry in entries:
        fits = kind is None or (entry["kind"] == kind.split("+")[0] and (not kind.endswith("+truth")
                                                                         or entry["has_particle_truth"]))
        if entry["damaged"] is None and fits:
            size = f", {entry['n_events']} {entry['kind']}" if entry["n_events"] else ""
            menu[f"{entry['name']} ({entry['format']}{size})"] = entry["name"]
    return menu


def sample_choices(config_class: type, kind: str) -> dict[str, str]:
    """:func:`sample_menu` of a runner: the recipes of ``config_class.param.sample`` and the files under the
    data root of ``kind`` (no data root: the recipes only)."""
    try:
        files = list_datasets()
    except Exception:  # no data root: recipes only
        files = []
    return sample_menu(config_class.param["sample"].recipes, files, kind)


def sample_description(name: str, entries: list[dict]) -> str:
    """One line about a sample: the recipe's description, or a file's format, size and labels."""
    from jetviz.data.recipes import RECIPES

    if name in RECIPES:
        return RECIPES[name].description
    entry = next((e for e in entries if e["name"] == name), None)
    if entry is None:
        return f"{name}: not listed under the data root (press ↻)"
    size = f"{entry['n_events']} {entry['kind']}" if entry["n_events"] else entry["kind"]
    labels = f"; labels from `{entry['label_source']}`" if entry.get("label_source") else "; no labels"
    return f"file under the data root: {entry['title'] or entry['format']}, {size}{labels}"
