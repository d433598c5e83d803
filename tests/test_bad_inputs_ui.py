"""Bad input from a visitor: every page store's URL query (the way a link or a script reaches a
served page) with values that are not numbers, out of bounds, NaN, another runner's sample, a file
outside the data root, a backend the operator did not allow or a run that is not there. Each is
rejected by name in the page's notice, the config keeps its value, nothing starts, and every file
of the runs directory and the data root is byte-identical afterwards."""
from __future__ import annotations

from pathlib import Path

import pytest

from jetviz.ui.classify import ClassifyStore
from jetviz.ui.colorize import ColorizeStore
from jetviz.ui.jetclr import JetclrStore
from jetviz.ui.vae_emd import VaeEmdStore

pytestmark = pytest.mark.usefixtures("reset_panel_state")

STORES = {"colorize": ColorizeStore, "classify": ClassifyStore, "jetclr": JetclrStore, "vae_emd": VaeEmdStore}
#: one integer param of each page (the size of its sample)
SIZE = {"colorize": "n_train", "classify": "n_events", "jetclr": "n_jets", "vae_emd": "n_jets"}
BAD_VALUES = ["abc", "", "1e400", "nan", "-5", "99999999999", "3.5", "0x10", "1; import os"]
OTHER = {"colorize": "top_qcd", "classify": "top_qcd", "jetclr": "ee_6jet", "vae_emd": "bh_sph"}
ESCAPES = ["../outside.h5", "/etc/passwd", "~/x.h5", "a/../../outside.h5", "link/outside.h5", "x\\..\\y.h5"]


@pytest.fixture()
def guarded(tmp_path, monkeypatch):
    """A data root with a symlink out of it, a runs dir with a file; returns a snapshot checker."""
    root, runs = tmp_path / "data", tmp_path / "runs"
    root.mkdir()
    runs.mkdir()
    (tmp_path / "outside.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    (root / "link").symlink_to(tmp_path, target_is_directory=True)
    (runs / "keep.txt").write_text("a user's note")
    monkeypatch.setenv("JETVIZ_DATA", str(root))
    monkeypatch.setenv("JETVIZ_RUNS", str(runs))
    monkeypatch.setenv("JETVIZ_BACKENDS", "local")

    def snapshot() -> dict[Path, bytes]:
        return {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file() and not p.is_symlink()}

    return snapshot


def _check(store, query: dict[str, str], field: str, snapshot) -> None:
    before_files, before = snapshot(), store.config.to_dict()
    rejected = store.read_url_query({k: [v.encode()] for k, v in query.items()})
    assert any(item.startswith(f"{field}=") for item in rejected), rejected
    assert f"{field}=" in store.notice and "Rejected value(s) in the URL" in store.notice
    assert store.config.to_dict() == before  # nothing taken
    assert not store.running and store.result is None  # nothing started
    assert snapshot() == before_files


@pytest.mark.parametrize("value", BAD_VALUES)
@pytest.mark.parametrize("page", STORES)
def test_a_bad_number_in_the_url_is_rejected_by_name(page, value, guarded):
    _check(STORES[page](), {SIZE[page]: value}, SIZE[page], guarded)


@pytest.mark.parametrize("name", ESCAPES)
@pytest.mark.parametrize("page", STORES)
def test_a_sample_outside_the_data_root_is_rejected_and_nothing_read(page, name, guarded):
    _check(STORES[page](), {"sample": name}, "sample", guarded)


@pytest.mark.parametrize("page", STORES)
def test_another_runners_sample_an_unlisted_backend_or_run_are_rejected(page, guarded):
    _check(STORES[page](), {"sample": OTHER[page]}, "sample", guarded)
    store = STORES[page]()
    store.read_url_query({"backend": [b"tcp://evil.example:8786"]})
    assert "tcp://evil.example:8786" in store.notice and store.backend == "local"
    _check(STORES[page](), {"run": "../../etc"}, "run", guarded)
