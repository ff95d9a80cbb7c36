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


def healthscore_imports(source: str) -> set[str]:
    """Every ``healthscore`` module a cell's code imports, or reaches by attribute from the
    package (``healthscore.pipeline.compose.x`` gives ``healthscore.pipeline``); IPython
    magics left out."""
    import ast

    code = "\n".join(line for line in source.splitlines()
                     if not line.lstrip().startswith(("%", "!")))
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "healthscore"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == \
                "healthscore":
            found += ([f"healthscore.{a.name}" for a in node.names]
                      if node.module == "healthscore" else [node.module])
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                node.value.id == "healthscore":
            found.append(f"healthscore.{node.attr}")
    return set(found)


@pytest.mark.parametrize("source, expected", [
    ("from healthscore import api\napi.open_data(c)", {"healthscore.api"}),
    ("%matplotlib inline\nimport healthscore.api as hs", {"healthscore.api"}),
    ("from healthscore.pipeline import compose", {"healthscore.pipeline"}),
    ("from healthscore import tracking, api", {"healthscore.tracking", "healthscore.api"}),
    ("import healthscore\nhealthscore.pipeline.compose.open_data(c)",
     {"healthscore", "healthscore.pipeline"}),
    ("from healthscore.api import churn_rates", {"healthscore.api"}),
    ("import pandas as pd\npd.read_csv('healthscore.csv')", set()),
])
def test_healthscore_imports_finds_every_way_in(source, expected):
    assert healthscore_imports(source) == expected


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_uses_only_the_public_api(path):
    """Notebooks are start points for users: they import healthscore.api (docs/api.md), never
    an internal module, so what they show keeps working as the internals move."""
    notebook = nbformat.read(path, as_version=4)
    internal = sorted({name for cell in notebook.cells if cell.cell_type == "code"
                       for name in healthscore_imports(cell.source)
                       if name not in ("healthscore", "healthscore.api")})
    assert not internal, (f"{path.name} uses {internal}; import what it needs from "
                          "healthscore.api (export it there and list it in docs/api.md)")


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
