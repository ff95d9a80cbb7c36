"""The notebooks in notebooks/: stored without outputs, and run top to bottom on a small
synthetic world.

Execution uses nbclient with the ``python3`` kernel (ipykernel, the interpreter running the
tests) in a temporary working directory. The world size is set the way papermill does it: a
cell assigning ``SMALL_WORLD`` is inserted right after the cell tagged ``parameters``. Each
notebook puts MLflow in a temporary folder in its first cell, so nothing here touches
./mlflow.db. CI runs the execution tests in the slow tier (``make test-slow``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
SMALL_WORLD = {"ACCOUNTS": 600, "MONTHS": 24, "SEED": 5, "BOOTSTRAP": 20,
               "ACCOUNTS_PER_WEEK": 5}  # a capacity that fits the small world
TRAINING_NOTEBOOKS = {"02-validate-model", "03-compare-runs"}
TIMEOUT_SECONDS = 300  # per cell; each notebook takes well under a minute on 2 cores


def test_there_are_notebooks():
    assert [p.name for p in PATHS] == ["01-explore-snapshots.ipynb", "02-validate-model.ipynb",
                                       "03-compare-runs.ipynb"]


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_is_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    dirty = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, (f"{path.name}: code cells {dirty} have outputs or execution counts; "
                       "clear them before committing (Jupyter: Edit > Clear All Outputs, or "
                       "`jupyter nbconvert --clear-output --inplace`)")
    tagged = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: expected one cell tagged 'parameters'"
    sources = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert "MLFLOW_TRACKING_URI" in notebook.cells[1].source, (
        f"{path.name}: the first code cell must point MLflow at a temporary folder")
    assert "import healthscore" in sources or "from healthscore" in sources


def with_parameters(notebook, values: dict[str, object]):
    """``notebook`` with a cell assigning ``values`` inserted after its parameters cell."""
    index = next(i for i, c in enumerate(notebook.cells)
                 if "parameters" in c.get("metadata", {}).get("tags", []))
    source = "\n".join(f"{k} = {v!r}" for k, v in values.items())
    cell = nbformat.v4.new_code_cell(f"# injected by tests/notebooks\n{source}")
    cell.metadata["tags"] = ["injected-parameters"]
    notebook.cells.insert(index + 1, cell)
    return notebook


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook's temporary folder goes here
    notebook = with_parameters(nbformat.read(path, as_version=4), SMALL_WORLD)
    started = time.perf_counter()
    NotebookClient(notebook, timeout=TIMEOUT_SECONDS, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    seconds = time.perf_counter() - started
    errors = [o for c in notebook.cells for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    images = sum("image/png" in o.get("data", {}) for c in notebook.cells
                 for o in c.get("outputs", []))
    assert images >= 2, f"{path.name}: expected plots in the outputs, got {images}"
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "healthscore-out").exists()
    if path.stem in TRAINING_NOTEBOOKS:  # their MLflow store is the notebook's temp folder
        assert list(tmp_path.glob("healthscore-*/mlflow.db"))
    print(f"{path.name}: {seconds:.1f}s")
    if os.environ.get("HEALTHSCORE_KEEP_NOTEBOOKS"):
        nbformat.write(notebook, Path(os.environ["HEALTHSCORE_KEEP_NOTEBOOKS"]) / path.name)
