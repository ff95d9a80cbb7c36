"""The CLI turns user errors into exit code 2 and one readable paragraph, run in-process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from healthscore.pipeline.cli import cli


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def flat(text: str) -> str:
    """Undo rich's line wrapping so assertions do not depend on the terminal width."""
    return " ".join(text.split())


@pytest.fixture
def data_dir(tmp_path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    pd.DataFrame({"account_id": [1, 2], "segment": ["smb", "smb"],
                  "created_at": ["2023-01-01", "2023-02-01"]}).to_parquet(
        folder / "accounts.parquet")
    pd.DataFrame({"account_id": [1, 2], "subscription_id": [10, 20],
                  "start_date": ["2023-01-01", "2023-02-01"], "end_date": [None, None],
                  "arr": [1200.0, 600.0]}).to_csv(folder / "subscriptions.csv", index=False)
    pd.DataFrame({"account_id": [1, 2], "occurred_at": ["2024-01-01", "2024-01-02"],
                  "event_type": ["login", "login"]}).to_parquet(folder / "events.parquet")
    return folder


def write_config(tmp_path: Path, data_dir: Path) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(f"workdir: {tmp_path / 'out'}\ndata:\n  dir: {data_dir}\n"
                    "  end_date: 2024-06-30\n")
    return path


def break_surveys(data_dir: Path) -> None:
    pd.DataFrame({"account_id": [1, 2], "responded_at": ["2024-01-01", "2024-01-01"],
                  "nps": [11, 8]}).to_parquet(data_dir / "surveys.parquet")


def test_the_cli_imports_no_heavy_library_before_a_command_runs():
    # `healthscore --help` stays instant: pandas, mlflow, shap, lightgbm load lazily
    code = ("import sys, healthscore.pipeline.cli; "
            "print(sorted(m for m in ('pandas', 'mlflow', 'shap', 'lightgbm', 'duckdb', "
            "'sklearn', 'numba') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_help_lists_the_subcommands():
    result = run("--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    for command in ("synth", "validate", "build-features", "demo"):
        assert command in result.output


def test_subcommand_help_works():
    result = run("validate", "--help")
    assert result.exit_code == 0
    assert "check it against the data" in flat(result.output)


def test_bad_config_exits_2_with_the_key_path(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("features:\n  horizon_days: 0\n  churn: {definitoin: contract}\n")
    result = run("-c", str(config), "validate")
    assert result.exit_code == 2
    output = flat(result.output)
    assert output.startswith(f"error: {config}: 2 configuration problem(s):")
    assert "features.horizon_days: Input should be greater than or equal to 1; got 0" in output
    assert "features.churn.definitoin: unknown name 'definitoin'; did you mean 'definition'?" \
        in output
    assert "Traceback" not in result.output


def test_missing_config_file_exits_2(tmp_path):
    result = run("-c", str(tmp_path / "nope.yaml"), "validate")
    assert result.exit_code == 2
    assert "nope.yaml: 1 configuration problem(s): - <file>: no such file" in flat(result.output)
    assert "Traceback" not in result.output


def test_validate_accepts_good_data(tmp_path, data_dir):
    result = run("-c", str(write_config(tmp_path, data_dir)), "validate")
    assert result.exit_code == 0, result.output
    assert "Input data valid (end date 2024-06-30)" in result.output
    assert "features off" in result.output


def test_validate_broken_table_exits_2_naming_table_and_column(tmp_path, data_dir):
    break_surveys(data_dir)
    result = run("-c", str(write_config(tmp_path, data_dir)), "validate")
    assert result.exit_code == 2
    output = flat(result.output)
    assert output.startswith("error: input data breaks the data contract in 1 way(s):")
    assert "surveys.nps: above maximum 10 (1 row)" in output
    assert "Traceback" not in result.output
    assert result.stderr.strip().startswith("error:")


def test_validate_missing_required_table_exits_2(tmp_path, data_dir):
    (data_dir / "events.parquet").unlink()
    result = run("-c", str(write_config(tmp_path, data_dir)), "validate")
    assert result.exit_code == 2
    assert "required table(s) ['events'] have no source" in flat(result.output)


def test_verbose_shows_the_traceback(tmp_path, data_dir):
    break_surveys(data_dir)
    result = run("-v", "-c", str(write_config(tmp_path, data_dir)), "validate")
    assert result.exit_code == 2
    output = flat(result.output)
    assert "Traceback (most recent call last)" in output
    assert "healthscore.errors.DataValidationError" in output
    assert "error: input data breaks the data contract" in output
