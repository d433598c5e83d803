"""Bad input to jetviz.compute and its run registry: a clear jetviz error naming the file or field (or the
documented accepted behaviour), and every file saved before byte-identical afterwards.

Each case gets the same saved state (a registry with two finished runs, one run directory of a
classify run, one of a jetclr run) and snapshots its bytes before and after.
"""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from jetviz.compute import Registry, allowed_backends, backend, choose_backend, submit
from jetviz.errors import ConfigError, DataFileError
from jetviz.runners.catalog import runner_spec
from jetviz.runners.rundir import RunDir

JETCLR = dict(sample="toy_top_qcd", n_jets=160, d_model=8, n_heads=2, n_layers=1, rep_dim=8, proj_dim=4, batch_size=16,
              epochs=2, threads=1)


@pytest.fixture
def saved(tmp_path, monkeypatch):
    """(root, registry path): what was saved before the bad input arrives."""
    monkeypatch.setenv("JETVIZ_RUNS", str(tmp_path / "runs"))
    for name in ("JETVIZ_BACKENDS", "JETVIZ_GATEWAY_URL", "JETVIZ_GATEWAY_TOKEN", "JUPYTER_TOKEN", "JETVIZ_REGISTRY"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "registry.sqlite"
    registry = Registry(path)
    for run_id, auc in (("good1", 0.8), ("good2", 0.9)):
        registry.create(run_id, "jetclr", tmp_path / "runs" / run_id, "local", JETCLR)
        registry.set_status(run_id, "running", device="cpu")
        for epoch in (1, 2, 3):
            registry.add_epoch(run_id, {"epoch": epoch, "train_loss": 1.0 / epoch})
        registry.set_status(run_id, "done", metrics={"auc": auc})
    RunDir(tmp_path / "runs" / "classify-x").claim(runner_spec("classify").config())
    RunDir(tmp_path / "runs" / "jetclr-y").claim(runner_spec("jetclr").config(**JETCLR))
    return tmp_path, path


def snapshot(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith(("-wal", "-shm"))}


@pytest.fixture
def unchanged(saved):
    """Asserts after the case that every file saved before is byte-identical."""
    before = snapshot(saved[0])
    yield saved
    after = snapshot(saved[0])
    assert {p: after.get(p) for p in before} == before, "a file saved before the bad input changed"


def spoil(path: Path, sql: str) -> dict[Path, bytes]:
    """A raw write to the registry, as a crash, another tool or a hand edit would leave it; the bytes after it."""
    db = sqlite3.connect(path)
    with db:
        db.execute(sql)
    db.close()
    return snapshot(path.parent)


# ----------------------------------------------------------------------------- damaged registry rows
DAMAGE = {
    "config not JSON": ("UPDATE runs SET config = '{\"epochs\": 2' WHERE id = 'good2'", "config is not valid JSON"),
    "config a JSON list": ("UPDATE runs SET config = '[1, 2]' WHERE id = 'good2'", "config holds a JSON list"),
    "metrics not JSON": ("UPDATE runs SET metrics = 'auc=0.9' WHERE id = 'good2'", "metrics is not valid JSON"),
    "metrics a number": ("UPDATE runs SET metrics = '0.9' WHERE id = 'good2'", "metrics holds a JSON float"),
    "unknown status": ("UPDATE runs SET status = 'exploded' WHERE id = 'good2'", "unknown status 'exploded'"),
    "status a number": ("UPDATE runs SET status = 7 WHERE id = 'good2'", "unknown status '7'"),  # (TEXT affinity)
    "created time text": ("UPDATE runs SET created = 'yesterday' WHERE id = 'good2'", "created time 'yesterday'"),
    "started time blob": ("UPDATE runs SET started = X'00ff' WHERE id = 'good2'", "started time"),
    "history row not JSON": ("UPDATE history SET row = '{epoch: 2' WHERE run_id = 'good2' AND epoch = 2",
                             "history row of epoch 2 is not valid JSON"),
    "history row a string": ("UPDATE history SET row = '\"2\"' WHERE run_id = 'good2' AND epoch = 2",
                             "history row of epoch 2 holds a JSON str"),
}


@pytest.mark.parametrize("case", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_row_is_marked_and_the_others_are_whole(saved, case):
    root, path = saved
    sql, reason = DAMAGE[case]
    before = spoil(path, sql)  # what the damage left: reading must not change it
    registry = Registry(path)
    runs = {r.id: r for r in registry.runs()}
    assert sorted(runs) == ["good1", "good2"]  # the damaged row does not hide the others
    assert runs["good1"].damaged == "" and runs["good1"].metrics == {"auc": 0.8} and runs["good1"].config["epochs"] == 2
    assert [h["epoch"] for h in registry.get("good1").history] == [1, 2, 3]
    record = registry.get("good2")  # opening the damaged run does not raise either
    assert reason in record.damaged, record.damaged
    assert [h["epoch"] for h in record.history] == ([1, 3] if "history" in case else [1, 2, 3])
    assert record.seconds is None or record.seconds >= 0
    if "history" not in case:
        assert reason in runs["good2"].damaged
    assert snapshot(root) == before


def test_credentials_written_into_the_backend_column_are_not_shown(saved):
    root, path = saved
    before = spoil(path, "UPDATE runs SET backend = 'gateway:https://bob:hunter2@gpu:8888/b?token=abc' WHERE id = 'good1'")
    shown = Registry(path).get("good1").backend
    assert shown == "gateway:https://gpu:8888/b" and "hunter2" not in shown and "abc" not in shown
    assert snapshot(root) == before


# ----------------------------------------------------------------------------- registry files that are not registries
def foreign_files(root: Path) -> dict[str, tuple[Path, str]]:
    """name → (a bad registry file, the words its DataFileError must hold)."""
    text = root / "notes.sqlite"
    text.write_text("run 1: auc 0.9\n" * 50)
    other = root / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE events (pt REAL, eta REAL)")
        db.execute("INSERT INTO events VALUES (500.0, 0.1)")
    narrow = root / "narrow.sqlite"
    with sqlite3.connect(narrow) as db:
        db.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, runner TEXT)")
    truncated = root / "truncated.sqlite"
    truncated.write_bytes((root / "registry.sqlite").read_bytes()[:1500])
    folder = root / "a-folder.sqlite"
    folder.mkdir()
    return {"text file": (text, "not a jetviz run registry"), "other database": (other, "of something else"),
            "runs table of another schema": (narrow, "without the column\\(s\\)"),
            "truncated registry": (truncated, "SQLite"), "a folder": (folder, "SQLite")}


@pytest.mark.parametrize("case", ["text file", "other database", "runs table of another schema", "truncated registry",
                                  "a folder"])
def test_a_file_that_is_not_a_registry_is_a_data_file_error_and_stays_as_it_was(saved, case):
    root, _ = saved
    bad, words = foreign_files(root)[case]
    before = snapshot(root)
    with pytest.raises(DataFileError, match=words) as raised:
        Registry(bad).runs()
    assert raised.value.path == bad and bad.name in str(raised.value)
    assert snapshot(root) == before


def test_an_empty_file_becomes_a_new_registry(saved):  # documented: nothing was in it to lose
    root, _ = saved
    empty = root / "empty.sqlite"
    empty.touch()
    assert Registry(empty).runs() == []


def test_a_non_registry_file_refuses_a_job_before_it_starts(unchanged, monkeypatch):
    root, _ = unchanged
    shutil.copy(root / "runs" / "jetclr-y" / "config.json", root / "fake.sqlite")
    monkeypatch.setenv("JETVIZ_REGISTRY", str(root / "fake.sqlite"))
    runs_before = sorted((root / "runs").iterdir())
    with pytest.raises(DataFileError, match="fake.sqlite"):
        submit("jetclr", JETCLR, "local")
    assert sorted((root / "runs").iterdir()) == runs_before  # no run directory made


# ----------------------------------------------------------------------------- JETVIZ_BACKENDS
BAD_BACKENDS = {
    "unknown scheme": ("local,ssh://gpu-node", "entry 'ssh://gpu-node': unknown backend"),
    "process with arguments": ("local,process:--gpus=all", "'process:--gpus=all' takes no arguments"),
    "kernel name with a path": ("kernel:../../bin/sh", "not a kernelspec name"),
    "gateway without host": ("https://", "must be http\\(s\\)://host:port"),
    "gateway port out of range": ("https://gpu:99999", "Port out of range"),
    "gateway kernel name bad": ("https://gpu:8888?kernel=a%20b", "not a kernelspec name"),
    "dask address without port": ("tcp://scheduler", "must be tcp\\|tls\\|ucx://host:port"),
    "dask address with a password": ("tcp://u:pw@scheduler:8786", "must be tcp"),
    "the same backend twice": ("local,process,thread", "names the backend 'local' twice"),
    "no entry at all": (" , ,", "names no backend"),
}


@pytest.mark.parametrize("case", BAD_BACKENDS, ids=list(BAD_BACKENDS))
def test_a_bad_backends_list_is_a_config_error_naming_the_variable(unchanged, monkeypatch, case):
    value, words = BAD_BACKENDS[case]
    monkeypatch.setenv("JETVIZ_BACKENDS", value)
    with pytest.raises(ConfigError, match="JETVIZ_BACKENDS") as raised:
        allowed_backends()
    assert raised.match(words)
    assert "pw" not in str(raised.value)
    with pytest.raises(ConfigError, match="JETVIZ_BACKENDS"):  # the page's choice fails the same way: nothing starts
        choose_backend("local")


def test_credentials_in_a_bad_entry_are_not_echoed(monkeypatch):
    monkeypatch.setenv("JETVIZ_BACKENDS", "ftp://carol:s3cr3t@files.example.org/x?token=t0k3n")
    with pytest.raises(ConfigError, match="ftp://files.example.org/x") as raised:
        allowed_backends()
    assert "s3cr3t" not in str(raised.value) and "t0k3n" not in str(raised.value)


@pytest.mark.parametrize("visitor", ["process", "kernel", "dask", "tcp://203.0.113.9:8786",
                                     "https://evil.example.org?token=stolen", "local ; rm -rf /", None, 3, "x" * 5000])
def test_a_backend_not_allowed_is_refused_before_anything_starts(unchanged, monkeypatch, visitor):
    root, path = unchanged
    monkeypatch.setenv("JETVIZ_BACKENDS", "local")
    runs_before = sorted((root / "runs").iterdir())
    with pytest.raises(ConfigError, match="not one this server offers; choose one of \\['local'\\]") as raised:
        submit("jetclr", JETCLR, choose_backend(visitor), registry=Registry(path))
    assert "stolen" not in str(raised.value) and len(str(raised.value)) < 400
    assert sorted((root / "runs").iterdir()) == runs_before and len(Registry(path).runs()) == 2


# ----------------------------------------------------------------------------- submit
def test_a_run_dir_of_another_runners_settings_is_refused(unchanged):
    root, path = unchanged
    with pytest.raises(ConfigError, match="classify-x holds a run with other settings"):
        submit("jetclr", JETCLR, "local", run_dir=root / "runs" / "classify-x", registry=Registry(path))
    with pytest.raises(ConfigError, match=r"jetclr-y holds a run with other settings \(\['epochs'\]\)"):
        submit("jetclr", dict(JETCLR, epochs=5), "local", run_dir=root / "runs" / "jetclr-y", registry=Registry(path))
    assert len(Registry(path).runs()) == 2


@pytest.mark.parametrize("content, words", [("{\"epochs\": 2", "config.json: is not valid JSON"),
                                            ("[2]", "config.json: holds a JSON list"), ("", "config.json: is empty")])
def test_a_run_dir_with_a_broken_config_is_a_data_file_error(unchanged, content, words):
    root, path = unchanged
    broken = root / "runs" / "jetclr-broken"
    broken.mkdir()
    (broken / "config.json").write_text(content)
    before = (broken / "config.json").read_bytes()
    with pytest.raises(DataFileError, match=words):
        submit("jetclr", JETCLR, "local", run_dir=broken, registry=Registry(path))
    assert (broken / "config.json").read_bytes() == before and len(Registry(path).runs()) == 2


@pytest.mark.parametrize("runner, config, spec, words", [
    ("gan", {}, "local", "unknown runner 'gan'"),
    ("jetclr", dict(JETCLR, epochs=-3), "local", "epochs"),
    ("jetclr", dict(JETCLR, n_jets="many"), "local", "n_jets"),
    ("jetclr", JETCLR, "kernel:a b", "not a kernelspec name"),
    ("jetclr", JETCLR, "gopher://x", "unknown backend 'gopher://x'"),
])
def test_a_bad_submit_is_refused_before_anything_is_recorded(unchanged, runner, config, spec, words):
    root, path = unchanged
    runs_before = sorted((root / "runs").iterdir())
    with pytest.raises(ConfigError, match=words):
        submit(runner, config, spec, registry=Registry(path))
    assert sorted((root / "runs").iterdir()) == runs_before and len(Registry(path).runs()) == 2


def test_a_backend_string_is_free_in_python_but_validated(unchanged):
    assert backend("kernel:gpu-py").name == "kernel:gpu-py"
    with pytest.raises(ConfigError, match="unknown backend 'ssh://h'"):  # the user and password are not echoed
        backend("ssh://u:secret@h")
