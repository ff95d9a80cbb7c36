"""One small world and one trained model per session, shared by every reliability test.

The bad-input corpus runs the real command (`healthscore score`, in-process through click's
CliRunner) on a copy of this world with one thing broken, so each case costs a config load and
a validation, not a process start or a training run.
"""

from __future__ import annotations

import copy
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner, Result

from healthscore.data.settings import SynthConfig
from healthscore.pipeline.cli import cli
from healthscore.synth import generate_world, write_world

MODEL_CONFIG = {"training": {"models": ["logistic"], "bootstrap": 0}, "seed": 3}


@dataclass(frozen=True)
class World:
    """A written synthetic world, its end date and an MLflow store holding a champion."""

    root: Path
    data: Path
    end_date: str
    tracking_uri: str


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("reliability")
    synthetic = generate_world(SynthConfig(accounts=300, months=30, seed=3))
    write_world(synthetic, root / "data")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    end = synthetic.end_date.isoformat()
    config = root / "train.yaml"
    config.write_text(yaml.safe_dump(
        MODEL_CONFIG | {"workdir": str(root / "train-work"),
                        "data": {"dir": str(root / "data"), "end_date": end}}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        result = CliRunner().invoke(cli, ["-c", str(config), "-q", "train"])
        assert result.exit_code == 0, result.output
    return World(root, root / "data", end, uri)


@pytest.fixture(autouse=True)
def restore_root_logging():
    """The CLI reconfigures the root logger; leave it as we found it for other tests."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def flat(text: str) -> str:
    """Undo rich's line wrapping so assertions do not depend on the terminal width."""
    return " ".join(text.split())


def files_under(folder: Path) -> list[Path]:
    """Every file below ``folder`` (none when it does not exist or is not a folder)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file())


def base_config(world: World, tmp: Path) -> dict:
    """A run config on the copied world in ``tmp/data``, writing to ``tmp/work``."""
    return copy.deepcopy(MODEL_CONFIG) | {
        "workdir": str(tmp / "work"), "data": {"dir": str(tmp / "data"),
                                               "end_date": world.end_date}}


def copy_world(world: World, tmp: Path) -> Path:
    data = tmp / "data"
    shutil.copytree(world.data, data)
    return data


def invoke(argv: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, argv, env=env)


# --------------------------------------------------------------------------------------------
# reading and writing one table of a world folder (a file or a folder of parts)

def table_path(data: Path, name: str) -> Path | None:
    for candidate in (data / f"{name}.parquet", data / f"{name}.csv", data / name):
        if candidate.exists():
            return candidate
    return None


def read_table(data: Path, name: str) -> pd.DataFrame:
    path = table_path(data, name)
    assert path is not None, f"the world has no {name}"
    if path.suffix == ".csv":
        return pd.read_csv(path)
    return pd.read_parquet(path)


def remove_table(data: Path, name: str) -> None:
    path = table_path(data, name)
    if path is None:
        return
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


def write_table(data: Path, name: str, frame: pd.DataFrame, fmt: str = "parquet",
                **csv_options) -> Path:
    """Replace table ``name`` by ``frame`` as one file."""
    remove_table(data, name)
    path = data / f"{name}.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False, **csv_options)
    else:
        frame.to_parquet(path, index=False)
    return path
