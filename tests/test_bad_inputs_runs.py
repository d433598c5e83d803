"""Bad-input suite, run directories: every damaged file of a finished run of each runner is a clear
``DataFileError`` naming the file and the problem when the run is reopened, and nothing on disk changes.

A finished tiny run of each runner is made once; each case copies it, damages one file the way a
killed write, a foreign tool or a hand edit would, snapshots every byte of the directory, reopens
the run with its ``Result.load`` and checks the error and that the bytes are unchanged.
"""
from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from jetviz.errors import DataFileError
from jetviz.runners.catalog import runner_spec

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: tiny configs (toy samples, one or two epochs): a finished run of each in seconds
TINY = {
    "colorize": dict(sample="toy_ee_6jet", n_train=32, n_test=16, n_eta=16, n_phi=16, base_channels=2, depth=1,
                     epochs=1, batch_size=16, crf_iterations=1),
    "classify": dict(sample="toy_bh_sph", n_events=40, n_folds=2, models=["resnet", "xgb_low"], width=2, epochs=1,
                     batch_size=16, xgb_n_estimators=5, xgb_early_stopping=2, threads=1),
    "vae_emd": dict(sample="toy_top_qcd", n_jets=60, n_pix=16, n_down=1, latent=4, channels=2, epochs=1,
                    batch_size=16, n_corr=6, n_pool=6, n_medoids=2, n_anomaly=10, emd_jobs=1, threads=1),
    "jetclr": dict(sample="toy_top_qcd", n_jets=80, d_model=8, n_heads=2, n_layers=1, rep_dim=4, proj_dim=4,
                   batch_size=16, epochs=1, n_constituents=10, extra_slots=4, n_angles=3, n_invariance=8, threads=1),
}
#: the arrays file of each runner (None: it has none) and one array its Result requires
ARRAYS = {"colorize": None, "classify": ("predictions", "label"), "vae_emd": ("arrays", "score_vae"),
          "jetclr": ("arrays", "rep")}
#: a metrics entry each Result requires
METRIC = {"colorize": "n_colours", "classify": "models", "vae_emd": "auc", "jetclr": "rejection"}
#: a config change that gives the runner's model other weight shapes (None: the runner has no model.pt)
OTHER_MODEL = {"colorize": {"base_channels": 4}, "classify": None, "vae_emd": {"latent": 6}, "jetclr": {"d_model": 12}}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> dict[str, Path]:
    """One finished tiny run directory per runner."""
    root = tmp_path_factory.mktemp("finished")
    runs = {}
    for name, values in TINY.items():
        spec = runner_spec(name)
        spec.runner(spec.config(**values), root / name).fit()
        runs[name] = root / name
    return runs


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _write(name: str, content: bytes | str):
    def damage(run: Path, runner: str) -> None:
        path = run / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return damage


def _remove(name: str):
    return lambda run, runner: (run / name).unlink()


def _edit_json(name: str, change):
    def damage(run: Path, runner: str) -> None:
        values = json.loads((run / name).read_text())
        change(values, runner)
        (run / name).write_text(json.dumps(values))
    return damage


def _arrays_file(run: Path, runner: str) -> Path:
    return run / f"{ARRAYS[runner][0]}.npz"


def _arrays(damage_file):
    def damage(run: Path, runner: str) -> None:
        damage_file(_arrays_file(run, runner), runner)
    return damage


def _truncate(path: Path, runner: str) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _object_array(path: Path, runner: str) -> None:
    with np.load(path) as stored:
        arrays = {k: stored[k] for k in stored.files}
    arrays[ARRAYS[runner][1]] = np.array([{"a": 1}, None], dtype=object)
    np.savez(path, **arrays)


def _drop_array(path: Path, runner: str) -> None:
    with np.load(path) as stored:
        arrays = {k: stored[k] for k in stored.files if k != ARRAYS[runner][1]}
    np.savez(path, **arrays)


def _zip_without_arrays(path: Path, runner: str) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not arrays")


def _other_model(run: Path, runner: str) -> None:
    spec = runner_spec(runner)
    config = spec.config(**{**TINY[runner], **OTHER_MODEL[runner]})
    metrics = json.loads((run / "metrics.json").read_text())
    torch.save(spec.result.build_model(config, metrics).state_dict(), run / "model.pt")


#: case → (damage(run, runner), file named in the message, problem (regex), runners it applies to)
CASES = {
    "config missing": (_remove("config.json"), "config.json", "missing", None),
    "config empty": (_write("config.json", ""), "config.json", "is empty", None),
    "config not JSON": (_write("config.json", '{"epochs": 1,'), "config.json", "not valid JSON", None),
    "config a list": (_write("config.json", "[1, 2]"), "config.json", "JSON list, expected a dict", None),
    "config not UTF-8": (_write("config.json", b"\xff\xfe\x00junk"), "config.json", "cannot be read", None),
    "config out of bounds": (_edit_json("config.json", lambda v, r: v.update(epochs=-5)), "config.json",
                             "valid .*Config settings.*epochs", None),
    "config unknown key": (_edit_json("config.json", lambda v, r: v.update(colour="red")), "config.json",
                           "valid .*Config settings.*colour", None),
    "config wrong type": (_edit_json("config.json", lambda v, r: v.update(seed="seven")), "config.json",
                          "valid .*Config settings.*seed", None),
    "metrics missing": (_remove("metrics.json"), "metrics.json", "missing", None),
    "metrics empty": (_write("metrics.json", "  \n"), "metrics.json", "is empty", None),
    "metrics truncated": (lambda run, r: (run / "metrics.json").write_text((run / "metrics.json").read_text()[:40]),
                          "metrics.json", "not valid JSON", None),
    "metrics a string": (_write("metrics.json", '"done"'), "metrics.json", "JSON str, expected a dict", None),
    "metrics lacks an entry": (_edit_json("metrics.json", lambda v, r: v.pop(METRIC[r])), "metrics.json", "lacks the entr",
                               None),
    "arrays missing": (lambda run, r: _arrays_file(run, r).unlink(), ".npz", "missing", ("classify", "vae_emd", "jetclr")),
    "arrays not a zip": (_arrays(lambda p, r: p.write_text("x,y\n1,2\n")), ".npz", "not an .npz archive",
                         ("classify", "vae_emd", "jetclr")),
    "arrays empty file": (_arrays(lambda p, r: p.write_bytes(b"")), ".npz", "not an .npz archive",
                          ("classify", "vae_emd", "jetclr")),
    "arrays truncated": (_arrays(_truncate), ".npz", "not a readable .npz archive", ("classify", "vae_emd", "jetclr")),
    "arrays with objects": (_arrays(_object_array), ".npz", "object \\(pickled\\) arrays",
                            ("classify", "vae_emd", "jetclr")),
    "arrays lack one": (_arrays(_drop_array), ".npz", "lacks the array", ("classify", "vae_emd", "jetclr")),
    "arrays zip of other files": (_arrays(_zip_without_arrays), ".npz", "lacks the array",
                                  ("classify", "vae_emd", "jetclr")),
    "model missing": (_remove("model.pt"), "model.pt", "missing", ("colorize", "vae_emd", "jetclr")),
    "model garbage": (_write("model.pt", b"\x00\x01garbage"), "model.pt", "not a", ("colorize", "vae_emd", "jetclr")),
    "model truncated": (lambda run, r: _truncate(run / "model.pt", r), "model.pt", "not a readable torch file",
                        ("colorize", "vae_emd", "jetclr")),
    "model of another config": (_other_model, "model.pt", "another model configuration",
                                ("colorize", "vae_emd", "jetclr")),
    "model not a state dict": (lambda run, r: torch.save([1, 2, 3], run / "model.pt"), "model.pt", "not a state dict",
                               ("colorize", "vae_emd", "jetclr")),
    "model pickled object": (lambda run, r: torch.save({"x": Path("/")}, run / "model.pt"), "model.pt",
                             "pickled objects", ("colorize", "vae_emd", "jetclr")),
    "history not text": (_write("history.csv", b"\xff\xd8\xff\xe0 jpeg"), "history.csv", "not a readable CSV", None),
}


def _cases():
    for case, (_, _, _, runners) in CASES.items():
        for runner in runners or TINY:
            yield pytest.param(runner, case, id=f"{runner}: {case}")


@pytest.mark.parametrize("runner, case", list(_cases()))
def test_damaged_run_file_is_a_clear_error_and_nothing_changes(finished, tmp_path, runner, case):
    damage, name, problem, _ = CASES[case]
    run = tmp_path / "run"
    shutil.copytree(finished[runner], run)
    damage(run, runner)
    before = snapshot(run)
    with pytest.raises(DataFileError) as caught:
        runner_spec(runner).result.load(run)
    message = str(caught.value)
    assert str(run) in message and name in message, message
    assert re.search(problem, message), message
    assert snapshot(run) == before


@pytest.mark.parametrize("runner", list(TINY))
def test_accepted_without_history_and_with_a_stale_checkpoint(finished, tmp_path, runner):
    """Documented accepted behaviour: a run without ``history.csv`` reopens with an empty history,
    and a leftover ``checkpoint.pt`` of a finished run is ignored (the finished files win)."""
    run = tmp_path / "run"
    shutil.copytree(finished[runner], run)
    (run / "history.csv").unlink()
    (run / "checkpoint.pt").write_bytes(b"left over")
    before = snapshot(run)
    result = runner_spec(runner).result.load(run)
    assert result.history == [] and result.metrics == json.loads((run / "metrics.json").read_text())
    assert snapshot(run) == before
