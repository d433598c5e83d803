"""The ``jetviz`` command line, run as a real subprocess where it matters."""
import json
import subprocess
import sys

import pytest

from jetviz.cli import main


def test_generate_then_info(tmp_path, capsys):
    out = tmp_path / "ee.parquet"
    assert main(["generate", "ee_6jet", "-n", "12", "--seed", "3", "--out", str(out), "--workers", "1"]) == 0
    assert "wrote 12 events" in capsys.readouterr().out
    assert main(["info", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["events"] == 12 and summary["recipe"] == "ee_6jet" and summary["seed"] == 3
    assert "jet" in summary["particle_fields"]


def test_generate_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "toy.parquet"
    out.write_bytes(b"precious user data")
    assert main(["generate", "toy_top_qcd", "-n", "5", "--out", str(out)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"precious user data"
    assert main(["generate", "toy_top_qcd", "-n", "5", "--out", str(out), "--force"]) == 0


@pytest.mark.parametrize("suffix", [".h5", ".npz"])
def test_generate_exchange_formats(tmp_path, capsys, suffix):
    out = tmp_path / f"jets{suffix}"
    assert main(["generate", "toy_top_qcd", "-n", "6", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == 6


def test_info_on_a_broken_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"PAR1 not really")
    result = subprocess.run([sys.executable, "-m", "jetviz.cli", "info", str(bad)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "broken.parquet" in result.stderr and "Traceback" not in result.stderr


def test_param_and_unknown_param(tmp_path, capsys):
    out = tmp_path / "t.parquet"
    assert main(["generate", "toy_top_qcd", "-n", "4", "--param", "max_constituents=7", "--out", str(out)]) == 0
    assert main(["generate", "toy_top_qcd", "-n", "4", "--param", "radius=1", "--out", str(tmp_path / "u.parquet")]) == 2
    assert "no parameter" in capsys.readouterr().err
