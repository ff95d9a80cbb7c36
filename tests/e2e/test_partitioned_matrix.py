"""build-features writing the matrix partitioned by snapshot date, and train reading that
folder under a row cap (``training.max_rows``) that the command line states."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from healthscore.pipeline.cli import cli


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A small synthetic world and its matrix written partitioned."""
    root = tmp_path_factory.mktemp("partitioned")
    config = root / "run.yaml"
    config.write_text(
        f"workdir: {root / 'out'}\nseed: 3\ndata:\n  dir: {root / 'data'}\n"
        "synth:\n  accounts: 300\n  months: 18\n  seed: 3\n"
        "features:\n  matrix_layout: partitioned\n"
        "training:\n  models: [logistic]\n  bootstrap: 0\n  refit: false\n  max_rows: 2000\n"
        f"  tracking:\n    uri: sqlite:///{root / 'mlflow.db'}\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        assert run("-c", str(config), "synth").exit_code == 0
        result = run("-c", str(config), "build-features")
        assert result.exit_code == 0, result.output
        yield {"root": root, "config": str(config), "output": result.output, "patch": patch}


def test_build_features_writes_one_folder_per_snapshot_date(built) -> None:
    folder = built["root"] / "out" / "features"
    parts = sorted(p.name for p in folder.iterdir())
    assert parts and all(re.fullmatch(r"snapshot_date=\d{4}-\d{2}-\d{2}", p) for p in parts)
    assert f"written to {folder}" in flat(built["output"])
    frame = pd.read_parquet(folder)  # a Hive-partitioned table to any reader
    assert len(frame) > 2000 and "snapshot_date" in frame.columns


def test_train_reads_the_folder_and_says_it_sampled(built) -> None:
    folder = built["root"] / "out" / "features"
    total = len(pd.read_parquet(folder))
    result = run("-c", built["config"], "train", "--features", str(folder), "--date-column",
                 "snapshot_date")
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert (f"sampled 2,000 of {total:,} rows (training.max_rows; stratified by "
            "snapshot_date and label_observed and label_churn; seed 3)") in text
    assert "label_expansion dropped" in text  # an outcome of the matrix, not an input


def test_train_on_the_configured_data_caps_the_built_matrix_and_says_so(built) -> None:
    result = run("-c", built["config"], "train")
    assert result.exit_code == 0, result.output
    assert "Training rows: sampled 2,000 of" in flat(result.output)
