"""The shipped reference runs open with the current code; ``jetviz reference build`` makes them.

A reference run whose config no longer validates, whose weights no longer fit the model, or
whose files are missing fails here (a stale reference run must fail CI, not show wrong plots):
rebuild it with ``jetviz reference build``.
"""
from __future__ import annotations

import json

import pytest

from jetviz.cli import main
from jetviz.errors import DataFileError
from jetviz.reference import (
    DATA_NAME,
    INFO_FILE,
    REFERENCE_CONFIGS,
    build,
    has_reference,
    load_data,
    open_reference,
    reference_dir,
    reference_info,
    reference_label,
    references_enabled,
    run_label,
    store_data,
)
from jetviz.runners.catalog import RUNNER_NAMES, runner_spec
from jetviz.runners.rundir import RunDir

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: the shipped reference runs together stay small (package data; the issue's limit is 30 MB)
MAX_TOTAL_BYTES = 30_000_000


def _files(path):
    return [f for f in path.rglob("*") if f.is_file()]


def test_every_runner_ships_a_reference_run_within_the_size_limit():
    total = 0
    for name in RUNNER_NAMES:
        assert has_reference(name), f"no reference run of {name}: run `jetviz reference build --runner {name}`"
        total += sum(f.stat().st_size for f in _files(reference_dir(name)))
    assert total <= MAX_TOTAL_BYTES


@pytest.mark.parametrize("name", RUNNER_NAMES)
def test_shipped_reference_config_validates_against_the_current_config_class(name):
    spec = runner_spec(name)
    run = RunDir(reference_dir(name))
    config = run.read_config(spec.config)  # a parameter renamed, dropped or re-bounded since: DataFileError
    stored = {k: v for k, v in run.read_json(RunDir.CONFIG).items() if k != RunDir.DATASET}
    assert config.to_dict() == stored, "the current config class reads the stored settings differently"
    expected = spec.config.from_dict(REFERENCE_CONFIGS[name]).to_dict()
    changed = sorted(k for k in expected if expected[k] != stored.get(k))
    assert not changed, f"REFERENCE_CONFIGS[{name!r}] changed in {changed}: rebuild with `jetviz reference build`"


@pytest.mark.parametrize("name", RUNNER_NAMES)
def test_shipped_reference_run_opens_with_its_data_and_without_writing(name, runs, monkeypatch):
    def no_generation(*args, **kwargs):
        raise AssertionError("opening a reference run generated or read its sample")

    monkeypatch.setattr("jetviz.runners.base.load_run_sample", no_generation)
    monkeypatch.setattr("jetviz.runners.base.Runner.read_events", no_generation)
    path = reference_dir(name)
    before = {f: f.stat().st_mtime_ns for f in _files(path)}
    result, data = open_reference(name)
    info = reference_info(name)
    assert result.run_dir == path and result.metrics and result.history
    n = sum(len(part) for part in data[:2]) if isinstance(data, tuple) else len(data)  # colorize: (train, test, K)
    assert n == info["n"]
    assert info["sample"] == result.config.sample and info["runner"] == name
    if hasattr(result, "model") and runner_spec(name).result.build_model(result.config, result.metrics) is not None:
        assert result.model is not None
    assert {f: f.stat().st_mtime_ns for f in _files(path)} == before  # read-only
    label = run_label(path)
    assert label.startswith("**Reference run** — ") and "jetviz reference build" in label
    assert not (runs.exists() and any(runs.iterdir()))  # no run directory made either


def test_build_command_makes_an_openable_reference_run(tmp_path, runs, capsys):
    out = tmp_path / "reference"
    args = ["reference", "build", "--runner", "classify", "--out", str(out), "--param", "sample=toy_bh_sph",
            "--param", "n_events=40", "--param", "n_folds=2", "--param", 'models=["xgb_low"]',
            "--param", "xgb_n_estimators=5"]
    assert main(args) == 0
    assert "wrote" in capsys.readouterr().out
    path = out / "classify"
    for file in (RunDir.CONFIG, RunDir.METRICS, INFO_FILE, f"{DATA_NAME}.npz", "predictions.npz"):
        assert (path / file).is_file(), file
    assert not any(p.name.startswith(".") for p in out.iterdir())  # no building directory left
    info = json.loads((path / INFO_FILE).read_text())
    assert info["n"] == 40 and info["unit"] == "events" and info["sample"] == "toy_bh_sph"
    assert info["command"].startswith("jetviz reference build --runner classify")
    result, data = open_reference("classify", out)
    assert len(data) == 40 and result.config.n_events == 40 and result.config.models == ["xgb_low"]
    assert "toy_bh_sph, 40 events" in reference_label(info)
    # a rebuild replaces the run as a whole (a file the old one had is gone), nothing left beside it
    (path / "left-over.txt").write_text("from the old run")
    assert main(args) == 0
    assert not (path / "left-over.txt").exists() and (path / INFO_FILE).is_file()
    assert sorted(p.name for p in out.iterdir()) == ["classify"]


def test_build_refuses_a_dataset_file_and_overrides_for_several_runners(tmp_path, capsys):
    assert main(["reference", "build", "--out", str(tmp_path), "--param", "epochs=1"]) == 2
    assert "one runner" in capsys.readouterr().err
    with pytest.raises(Exception, match="recipes"):
        build("classify", tmp_path, {"sample": "some/file.parquet"})
    assert not list(tmp_path.iterdir())


def test_a_stale_or_missing_reference_run_is_a_clear_error(tmp_path):
    with pytest.raises(DataFileError, match="reference build"):
        open_reference("jetclr", tmp_path)
    stale = tmp_path / "classify"
    stale.mkdir()
    for f in _files(reference_dir("classify")):
        target = stale / f.relative_to(reference_dir("classify"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f.read_bytes())
    config = json.loads((stale / RunDir.CONFIG).read_text())
    config["a_parameter_since_removed"] = 1
    (stale / RunDir.CONFIG).write_text(json.dumps(config))
    with pytest.raises(DataFileError, match="a_parameter_since_removed"):
        open_reference("classify", tmp_path)


def test_references_can_be_switched_off():
    assert references_enabled({})
    assert references_enabled({"JETVIZ_REFERENCE": "1"})
    assert not any(references_enabled({"JETVIZ_REFERENCE": v}) for v in ("0", "false", "off", "No"))


def test_prepared_data_round_trips_and_a_foreign_or_changed_layout_is_refused(tmp_path):
    import numpy as np

    from jetviz.runners.classify import ClassifyData

    data = ClassifyData(images=np.ones((2, 3, 4, 4), np.float32), low=np.zeros((2, 45)), high=np.zeros((2, 39)),
                        labels=np.array([0, 1]), index=np.arange(2))
    run = RunDir(tmp_path / "run")
    layout = store_data(run, (data, data.subset([1]), 7))
    back = load_data(run, layout)
    assert isinstance(back, tuple) and back[2] == 7 and isinstance(back[0], ClassifyData)
    assert np.array_equal(back[0].images, data.images) and back[1].labels.tolist() == [1]
    foreign = {**layout, "items": [{**layout["items"][0], "dataclass": "subprocess:Popen"}, *layout["items"][1:]]}
    with pytest.raises(DataFileError, match="data layout"):
        load_data(run, foreign)
    changed = json.loads(json.dumps(layout))
    del changed["items"][0]["fields"]["index"]
    with pytest.raises(DataFileError, match="fields"):
        load_data(run, changed)
    with pytest.raises(Exception, match="cannot store"):
        store_data(run, {"a dict": 1})


@pytest.mark.usefixtures("reset_panel_state")
def test_page_store_shows_the_reference_run_until_the_user_trains(runs, monkeypatch):
    from jetviz.ui.classify.store import ClassifyStore

    tiny = {"sample": "toy_bh_sph", "n_events": 40, "n_folds": 2, "models": ["xgb_low"], "xgb_n_estimators": 5}
    monkeypatch.setenv("JETVIZ_REFERENCE", "0")
    store = ClassifyStore(**tiny)
    store.open_reference(blocking=True)
    assert store.result is None and store.reference == ""  # switched off

    monkeypatch.setenv("JETVIZ_REFERENCE", "1")
    store.open_reference(blocking=True)
    assert store.error == "" and store.result is not None and store.result.run_dir == reference_dir("classify")
    assert store.reference.startswith("**Reference run** — bh_sph, 400 events, 3 epochs")
    assert store.config.sample == "toy_bh_sph" and store.config.n_events == 40  # the page's own settings stay
    shown = store.result
    store.open_reference(blocking=True)
    assert store.result is shown  # a run is shown already: not opened again

    store.train(blocking=True)
    assert store.error == "" and store.reference == ""
    assert store.result.run_dir.parent == runs and store.result.config.n_events == 40


# ----------------------------------------------------------------------------- one opening shared by the sessions
@pytest.fixture()
def shared_runs(monkeypatch):
    """The process's shared reference openings, empty for this test; ``calls`` counts ``open_run``."""
    from jetviz import reference

    monkeypatch.setattr(reference, "_SHARED", {})
    calls = []
    real = reference.open_run

    def counted(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(reference, "open_run", counted)
    return calls


@pytest.mark.usefixtures("reset_panel_state")
def test_a_reference_run_is_opened_once_and_every_page_store_shows_the_same_objects(shared_runs, runs, monkeypatch):
    import threading

    from jetviz import reference
    from jetviz.reference import open_shared, shared_if_ready
    from jetviz.ui.classify.store import ClassifyStore

    path = reference_dir("classify")
    derive = ClassifyStore().derivation()
    assert shared_if_ready("classify", path, derive) is None  # nothing opened yet
    opened = []
    threads = [threading.Thread(target=lambda: opened.append(open_shared("classify", path, derive))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(shared_runs) == 1  # four sessions asked at once: one opening
    assert all(o[0] is opened[0][0] and o[1] is opened[0][1] for o in opened)
    assert shared_if_ready("classify", path, derive)[0] is opened[0][0]

    def broken(*args, **kwargs):
        raise AssertionError("opened again")

    monkeypatch.setattr(reference, "open_run", broken)
    store = ClassifyStore(sample="toy_bh_sph", n_events=40)
    store.open_reference()  # from the shared opening, in this call: no work started
    assert store.result is opened[0][0] and not store.running and store.error == ""
    assert store.reference.startswith("**Reference run** — bh_sph, 400 events")
    assert store.config.sample == "toy_bh_sph"  # the page's own settings stay


def test_a_failed_or_rebuilt_reference_opening_is_not_kept_and_a_users_run_is_never_shared(shared_runs, tmp_path,
                                                                                           monkeypatch):
    import os
    import shutil

    from jetviz import reference
    from jetviz.reference import open_shared, shared_if_ready

    copy = tmp_path / "classify"
    shutil.copytree(reference_dir("classify"), copy)
    derive = lambda result, data, progress, max_display=3: (max_display,)  # noqa: E731
    real = reference.open_run
    fail = [True]

    def flaky(*args, **kwargs):
        if fail.pop() if fail else False:
            raise OSError("disk went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(reference, "open_run", flaky)
    with pytest.raises(OSError, match="disk went away"):
        open_shared("classify", copy, derive)
    assert shared_if_ready("classify", copy, derive) is None  # the failure is not kept
    first = open_shared("classify", copy, derive)
    assert first[2] == (3,) and open_shared("classify", copy, derive)[0] is first[0]
    import functools

    assert shared_if_ready("classify", copy, functools.partial(derive, max_display=5)) is None  # other options

    stamp = (copy / RunDir.CONFIG).stat().st_mtime_ns
    os.utime(copy / RunDir.CONFIG, ns=(stamp + 10**9, stamp + 10**9))  # rebuilt in place
    assert shared_if_ready("classify", copy, derive) is None
    assert open_shared("classify", copy, derive)[0] is not first[0]

    (copy / INFO_FILE).unlink()  # now an ordinary finished run: opened for each caller
    assert open_shared("classify", copy, derive)[0] is not open_shared("classify", copy, derive)[0]
    assert shared_if_ready("classify", copy, derive) is None


@pytest.mark.usefixtures("reset_panel_state")
def test_the_dashboard_warms_each_page_module_once_per_process(shared_runs, tmp_path, caplog):
    from jetviz.reference import shared_if_ready
    from jetviz.ui.classify import ClassifyPage
    from jetviz.ui.classify.store import ClassifyStore
    from jetviz.ui.dashboard import warm_pages

    ClassifyPage.warm()  # what app/classify.py's warm() does
    assert shared_runs == [reference_dir("classify")]
    assert shared_if_ready("classify", reference_dir("classify"), ClassifyStore().derivation()) is not None

    app = tmp_path / "app"
    app.mkdir()
    (app / "jvwarm_a.py").write_text("calls = []\n\ndef page():\n    return None\n\ndef warm():\n    calls.append(1)\n")
    (app / "jvwarm_b.py").write_text("def page():\n    return None\n")  # nothing to warm
    (app / "jvwarm_c.py").write_text("def warm():\n    raise RuntimeError('no GPU')\n")
    pages = {"a": "jvwarm_c", "b": "jvwarm_b", "c": "jvwarm_a", "d": lambda: None}
    thread = warm_pages(pages, app)
    thread.join(30)
    assert warm_pages(pages, app) is thread  # once per process
    import sys

    assert sys.modules["jetviz_app_pages.jvwarm_a"].calls == [1]  # after a page whose warm() failed
    assert "warming page module 'jvwarm_c' failed" in caplog.text
