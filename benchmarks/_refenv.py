"""The energyflow reference environment ``benchmarks/.refenv``, shared by the benchmarks.

energyflow never enters jetviz's environment: it lives in its own virtual environment, built
once with ``python3 -m venv`` from PyPI: ``energyflow --no-deps`` plus what ``import
energyflow`` needs (h5py, and wasserstein — the library behind ``energyflow.emd.emds`` — which
has no NumPy 2 build, hence ``numpy<2``). Benchmarks run energyflow's side as a subprocess
with :func:`refenv_python` and exchange jets and results as ``.npy``/JSON files.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REFENV = Path(__file__).resolve().parent / ".refenv"
EF_VERSION = "1.4.0"
# energyflow imports h5py and wasserstein at package import; wasserstein has no NumPy 2 build
REF_DEPS = ["numpy<2", "h5py", "wasserstein"]
#: what the environment must be able to import (checked when it is built)
REF_CHECK = "from energyflow.utils import pixelate; from energyflow.emd import emds; import wasserstein"


def refenv_python() -> Path:
    """Python of the energyflow environment, built on first use."""
    python = REFENV / "bin" / "python"
    marker = REFENV / ".ready"
    if marker.exists() and python.exists():
        return python
    base = shutil.which("python3") or sys.executable
    print(f"building the energyflow reference environment in {REFENV} (once) ...", flush=True)
    subprocess.run([base, "-m", "venv", "--clear", str(REFENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run(pip + ["--no-deps", f"energyflow=={EF_VERSION}"], check=True)
    subprocess.run(pip + ["--only-binary=:all:"] + REF_DEPS, check=True)
    subprocess.run([str(python), "-c", REF_CHECK], check=True)
    marker.write_text(f"energyflow=={EF_VERSION} {' '.join(REF_DEPS)}\n")
    return python
