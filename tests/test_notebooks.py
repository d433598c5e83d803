"""Execute the notebooks in ``notebooks/`` with their parameters shrunk (papermill style).

For each notebook, the values in :data:`PARAMETERS` are injected as a new cell right after the
cell tagged ``parameters``, then the notebook runs top to bottom in a fresh kernel (nbclient, the
engine nbmake uses). The sample cache is the test session's (``tests/conftest.py``).
``pytest --nbmake notebooks/`` runs them unshrunk instead.
"""
from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
#: notebook file name → parameter values for the tests (small samples, few epochs)
PARAMETERS: dict[str, dict] = {
    "01_events.ipynb": {"sample": "ee_6jet", "n_events": 60, "seed": 1},
    "02_colorize.ipynb": {"sample": "ee_6jet", "n_train": 32, "n_test": 16, "epochs": 1, "base_channels": 4,
                          "depth": 2, "n_show": 4},
    "03_classify.ipynb": {"sample": "toy_bh_sph", "n_events": 60, "n_folds": 2, "width": 2, "epochs": 1,
                          "batch_size": 16, "threads": 1},
    "04_vae_emd.ipynb": {"sample": "toy_top_qcd", "n_jets": 80, "epochs": 1, "channels": 2, "latent": 8, "n_corr": 8,
                         "n_pool": 8, "n_medoids": 2, "n_anomaly": 16, "emd_jobs": 1, "threads": 1},
    "05_jetclr.ipynb": {"sample": "toy_top_qcd", "n_jets": 120, "epochs": 1, "d_model": 16, "n_heads": 2,
                        "rep_dim": 16, "proj_dim": 8, "batch_size": 32, "n_constituents": 20, "extra_slots": 8,
                        "n_angles": 7, "n_invariance": 16, "threads": 1},
}
CELL_TIMEOUT_S = 120


def inject_parameters(nb: nbformat.NotebookNode, values: dict) -> nbformat.NotebookNode:
    """A copy of ``nb`` with ``name = value`` lines in a cell after the ``parameters`` cell."""
    nb = copy.deepcopy(nb)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not tagged:
        raise AssertionError("notebook has no cell tagged 'parameters'")
    source = "\n".join(f"{name} = {value!r}" for name, value in values.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(tagged[0] + 1, cell)
    return nb


@pytest.mark.notebook
@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_executes(path: Path):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    nb = inject_parameters(nb, PARAMETERS.get(path.name, {}))
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
