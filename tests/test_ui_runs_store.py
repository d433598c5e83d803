"""jetviz.ui.registry without a browser: the runs page lists real runs of a temporary registry,
compares two runs' curves, resumes a cancelled run to the end and reports a bad registry file."""
from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

import holoviews as hv
import panel as pn
import pytest

from jetviz.compute import Registry, submit
from jetviz.runners.jetclr import JetclrConfig
from jetviz.ui import runs as ui

pytestmark = pytest.mark.usefixtures("reset_panel_state", "one_torch_thread")

#: a jetclr run of toy jets: well under a second per epoch on a busy CPU
TINY = dict(sample="toy_top_qcd", n_jets=160, d_model=8, n_heads=2, n_layers=1, rep_dim=8, proj_dim=4, batch_size=16,
            n_angles=5, n_invariance=16, threads=1, n_constituents=20, extra_slots=4)


def first_epoch(job, timeout: float = 120.0) -> None:
    deadline, index = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        new = job.events(index, timeout=0.5)
        if any(e.get("kind") == "epoch" for e in new):
            return
        index += len(new)
        if job.done and not new:
            break
    raise AssertionError(f"no epoch event from {job} ({job.error})")


@pytest.fixture(scope="module")
def filled():
    """A registry with two finished tiny jetclr runs (2 and 3 epochs) and one cancelled run (of 100 epochs).

    In its own temporary directory: pytest sessions running beside this one prune all but the
    three newest of pytest's base directories, run directories included.
    """
    tmp = Path(tempfile.mkdtemp(prefix="jetviz-runs-registry-"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JETVIZ_RUNS", str(tmp / "runs"))
        reg = Registry(tmp / "r.sqlite")
        done = []
        for epochs in (2, 3):
            job = submit("jetclr", JetclrConfig(**TINY, epochs=epochs), "local", registry=reg)
            job.result(120)
            done.append(job.id)
        job = submit("jetclr", JetclrConfig(**TINY, epochs=100), "local", registry=reg)
        first_epoch(job)
        job.cancel()
        assert job.wait(120) and job.status == "cancelled"
        yield reg, done, job.id
    shutil.rmtree(tmp, ignore_errors=True)


def test_the_table_lists_the_runs_with_their_status(filled):
    reg, done, cancelled = filled
    store = ui.RunsStore(path=str(reg.path))
    assert store.error == "" and [r.id for r in store.records] == [cancelled, *reversed(done)]
    frame = store.frame.set_index("id")
    assert list(store.frame.columns) == list(ui.TABLE_COLUMNS)
    assert frame.loc[done[0], "status"] == frame.loc[done[1], "status"] == "done"
    assert frame.loc[cancelled, "status"] == "cancelled"
    assert frame.loc[done[0], "epochs"] == 2 and frame.loc[done[1], "epochs"] == 3
    assert 1 <= frame.loc[cancelled, "epochs"] < 100
    assert frame.loc[done[0], "metric"].startswith("auc ") and frame.loc[cancelled, "metric"] == ""
    assert (frame["runner"] == "jetclr").all() and (frame["backend"] == "local").all()
    assert frame.loc[done[0], "device"] == "cpu" and frame.loc[done[0], "seconds"] > 0
    assert "3 run(s)" in store.loaded
    store.runner = "colorize"  # the filter reads the registry again
    assert store.records == [] and store.frame.empty
    store.runner = "all"
    assert len(store.records) == 3


def test_compare_two_runs_and_reopen_a_finished_one(filled):
    reg, done, cancelled = filled
    page = ui.RunsPage(path=str(reg.path))
    store = page.store
    pn.panel(page).get_root()  # renders, table included
    assert store.comparison() is None
    # selecting rows of the table selects the runs (two at most)
    rows = page._rows(done)
    page._table.selection = rows
    assert store.selected == done and set(store.histories) == set(done)
    assert "train_loss" in store.param.metric.objects and store.metric == "train_loss"
    overlay = store.comparison()
    curves = [e for e in overlay if isinstance(e, hv.Curve)]
    assert isinstance(overlay, hv.Overlay) and len(curves) == 2
    assert [c.label for c in curves] == done and [len(c) for c in curves] == [2, 3]
    store.metric = "alignment"
    assert list(store.comparison())[0].vdims[0].name == "alignment"
    # the run selected last is the focus: a finished run links to its runner's page
    focus = store.focus
    assert focus.id == done[1] and focus.status == "done"
    assert store.reopen_href == f"?page=jetclr&run={focus.run_dir.rsplit('/', 1)[-1]}"
    table = ui.metrics_rows(focus.metrics).set_index("metric")
    assert float(table.loc["auc", "value"]) == pytest.approx(focus.metrics["auc"], abs=1e-3)
    assert not store.can_resume
    store.select([done[0], done[1], cancelled])  # the last two win
    assert store.selected == [done[1], cancelled] and page._table.selection == page._rows([done[1], cancelled])


def test_a_cancelled_run_resumes_to_the_end_without_losing_epochs(filled):
    reg, done, cancelled = filled
    before = [row["epoch"] for row in reg.get(cancelled).history]
    store = ui.RunsStore(path=str(reg.path))
    store.select([cancelled])
    assert store.can_resume and store.reopen_href == ""

    # resumed, then cancelled again (as the Cancel button does) once it recorded a new epoch
    def cancel_after_an_epoch():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(reg.get(cancelled).history) <= len(before):
            time.sleep(0.05)
        store._cancel_event.set()

    watcher = threading.Thread(target=cancel_after_an_epoch, daemon=True)
    watcher.start()
    store.resume(blocking=True)
    watcher.join(5)
    assert store.final_status == "cancelled" and "Cancelled" in store.notice and store.error == ""
    assert reg.get(cancelled, history=False).status == "cancelled" and store.can_resume
    middle = [row["epoch"] for row in reg.get(cancelled).history]
    assert middle == list(range(1, len(middle) + 1)) and len(before) < len(middle) < 100

    seen = []
    store.param.watch(lambda e: seen.append(e.new), "progress")
    store.resume(blocking=True)
    assert store.error == "", store.error
    assert store.final_status == "done" and not store.resuming and store.progress == 100
    assert seen[0] < 100 and len(seen) > 3  # the bar moved during the run
    assert store.latest["epoch"] == 100 and "loss" in store.latest
    record = reg.get(cancelled)
    assert record.status == "done" and record.metrics["auc"] > 0
    epochs = [row["epoch"] for row in record.history]
    assert epochs == list(range(1, 101)) and epochs[:len(before)] == before  # continued, nothing lost
    assert store.focus.status == "done" and store.frame.set_index("id").loc[cancelled, "status"] == "done"
    store.resume()  # a finished run is not resumed again
    assert "only a failed or cancelled run" in store.notice


def test_a_failing_resume_is_shown_not_raised(filled, tmp_path):
    reg, done, cancelled = filled
    path = tmp_path / "r.sqlite"
    other = Registry(path)
    other.create("gone1", "jetclr", tmp_path / "no-such-dir", "local", dict(TINY, epochs=2))
    other.set_status("gone1", "failed", error="killed")
    store = ui.RunsStore(path=str(path))
    store.select(["gone1"])
    store.resume(blocking=True)
    assert store.final_status == "failed" and "is gone" in store.error and not store.resuming
    with pytest.raises(ValueError):  # the Resume backend is a select over the allowed ones
        store.backend = "nonsense"
    refused = ui.RunsStore(path=str(path), backend="tcp://elsewhere:8786")
    assert "not allowed" in refused.notice and refused.backend == "local" and not refused.resuming


def test_a_resume_on_an_allowed_backend_that_fails_is_shown(filled, tmp_path, monkeypatch):
    path = tmp_path / "r.sqlite"
    other = Registry(path)
    other.create("gone2", "jetclr", tmp_path, "local", dict(TINY, epochs=2))
    other.set_status("gone2", "cancelled")
    monkeypatch.setenv("JETVIZ_BACKENDS", "local,kernel:no-such-kernel")
    store = ui.RunsStore(path=str(path), backend="kernel:no-such-kernel")
    assert store.chosen_backend.name == "kernel:no-such-kernel"
    store.select(["gone2"])
    store.resume(blocking=True)
    assert store.final_status == "failed" and "no-such-kernel" in store.error and not store.resuming


def test_an_empty_registry_shows_a_friendly_message(tmp_path):
    page = ui.RunsPage(path=str(tmp_path / "empty.sqlite"))
    assert page.store.records == [] and page.store.error == ""
    pn.panel(page).get_root()
    empty = [p for p in page.body().select(pn.pane.Alert) if "jetviz-empty" in p.css_classes]
    assert empty and empty[0].visible and "No runs yet — train one on a runner page" in empty[0].object


def test_a_bad_registry_file_is_an_error_in_the_page(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"\x00garbage, not SQLite\xff" * 100)
    page = ui.RunsPage(path=str(bad))
    store = page.store
    assert "Cannot read the run registry" in store.error and str(bad) in store.error
    assert "not a jetviz run registry" in store.error
    assert store.records == [] and store.frame.empty
    pn.panel(page).get_root()
    store.refresh()  # still an error, no exception
    assert "Cannot read the run registry" in store.error


def test_the_table_refreshes_itself_only_while_a_run_is_active(tmp_path, monkeypatch):
    reg = Registry(tmp_path / "r.sqlite")
    reg.create("live1", "jetclr", tmp_path / "live", "local", dict(TINY, epochs=2))
    reg.set_status("live1", "running")
    assert ui.RunsStore(path=str(reg.path))._auto is None  # not served: no periodic callback
    started, cleanups = [], []

    class Callback:
        def stop(self):
            started.remove(self)

    def add(callback, period, start):
        started.append(Callback())
        return started[-1]

    monkeypatch.setattr(ui.store, "served", lambda: True)
    monkeypatch.setattr(pn.state, "add_periodic_callback", add)
    monkeypatch.setattr(pn.state, "on_session_destroyed", cleanups.append)
    store = ui.RunsStore(path=str(reg.path))
    assert len(started) == 1 and store._auto is started[0] and len(cleanups) == 1
    store.refresh()
    assert len(started) == 1  # one callback, not one per refresh
    reg.add_epoch("live1", {"epoch": 1, "train_loss": 3.0})
    reg.set_status("live1", "done", metrics={"auc": 0.9})
    store.refresh()
    assert started == [] and store._auto is None  # stopped once nothing runs
    assert store.frame.loc[0, "epochs"] == 1 and store.frame.loc[0, "metric"] == "auc 0.9"
    reg.set_status("live1", "running")
    store.refresh()
    assert len(started) == 1
    cleanups[0](None)  # the session ends: the callback stops
    assert started == []


def test_a_damaged_row_is_shown_as_damaged_and_the_page_works(tmp_path):
    """One registry row with broken JSON: listed as damaged, the other runs listed and selectable."""
    import sqlite3

    path = tmp_path / "r.sqlite"
    reg = Registry(path)
    for run_id in ("good", "broken"):
        reg.create(run_id, "jetclr", tmp_path / run_id, "local", dict(TINY, epochs=2))
        reg.set_status(run_id, "done", metrics={"auc": 0.8})
    with sqlite3.connect(path) as db:
        db.execute("UPDATE runs SET config = '{\"epochs\": 2' WHERE id = 'broken'")
    page = ui.RunsPage(path=str(path))
    store = page.store
    assert store.error == "" and {r.id for r in store.records} == {"good", "broken"}
    frame = store.frame.set_index("id")
    assert "config" in frame.loc["broken", "damaged"] and frame.loc["good", "damaged"] == ""
    store.select(["broken"])
    focus = page._focus(store.focus, False, store.backend)
    assert any("damaged" in getattr(part, "object", "") for part in focus)
    store.select(["good"])
    assert store.focus.id == "good" and store.histories
    pn.panel(page).get_root()  # the whole page renders
