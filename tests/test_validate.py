"""The validation layer's tolerance and messages (jetviz.data.validate)."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from datafiles import save_frame

from jetviz.data.formats.top_tagging import read_top_tagging_h5
from jetviz.data.validate import E_ABS_TOL, E_REL_TOL, as_integers, require_energy_above_momentum
from jetviz.errors import DataFileError, SchemaError


def massless_block(n: int, slots: int, seed: int, float32_arithmetic: bool) -> np.ndarray:
    """(n, slots, 4) massless constituents (E, px, py, pz), |η| up to 5, pT from 0.01 to 1000 GeV."""
    rng = np.random.default_rng(seed)
    pt = 10 ** rng.uniform(-2, 3, (n, slots))
    eta, phi = rng.uniform(-5, 5, (n, slots)), rng.uniform(-np.pi, np.pi, (n, slots))
    p = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=-1)
    if float32_arithmetic:  # E computed in float32 from float32 momenta, as a float32 pipeline would
        p = p.astype(np.float32)
        energy = np.sqrt((p * p).sum(-1, dtype=np.float32))
    else:  # E = |p| in float64, both rounded to float32 when stored
        energy = np.linalg.norm(p, axis=-1)
    return np.concatenate([energy[..., None], p], axis=-1).astype(np.float32)


@pytest.mark.parametrize("float32_arithmetic", [False, True])
def test_float32_massless_constituents_written_by_pandas_pass(tmp_path, float32_arithmetic):
    block = massless_block(400, 50, seed=int(float32_arithmetic), float32_arithmetic=float32_arithmetic)
    columns = [f"{c}_{i}" for i in range(50) for c in ("E", "PX", "PY", "PZ")]
    frame = pd.DataFrame(block.reshape(400, -1), columns=columns)
    frame["is_signal_new"] = np.arange(400) % 2
    events = read_top_tagging_h5(save_frame(frame, tmp_path / "f32.h5"))
    assert len(events) == 400


@pytest.mark.parametrize("shortfall, ok", [(0.5 * E_REL_TOL, True), (2 * E_REL_TOL, False), (1e-4, False)])
def test_energy_tolerance_is_relative_plus_absolute(shortfall, ok):
    p = np.array([300.0, 0.0, 400.0])  # |p| = 500 GeV
    energy = np.array([500.0 * (1 - shortfall) - 0.5 * E_ABS_TOL])
    args = (energy, p[:1], p[1:2], p[2:], "test sample", "E")
    if ok:
        require_energy_above_momentum(*args)
    else:
        with pytest.raises(SchemaError, match=r"test sample: column 'E', event 0: E = .* GeV is below \|p\| = 500 GeV"):
            require_energy_above_momentum(*args)


def test_soft_particle_uses_the_absolute_tolerance():
    require_energy_above_momentum(np.array([0.0]), np.array([0.5e-6]), np.zeros(1), np.zeros(1), "x", "E")
    with pytest.raises(SchemaError):
        require_energy_above_momentum(np.array([0.0]), np.array([5e-6]), np.zeros(1), np.zeros(1), "x", "E")


def test_integers_never_truncated_and_errors_name_the_file():
    assert as_integers(np.array([211.0, -11.0]), "x", "pid").tolist() == [211, -11]
    with pytest.raises(DataFileError, match=r"f.root: column 'pid', event 7: 211.5 is not an integer") as info:
        as_integers(np.array([22.0, 211.5]), Path("f.root"), "pid", rows=np.array([3, 4]), offset=3)
    assert info.value.path == Path("f.root")
