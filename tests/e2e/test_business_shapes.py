"""Business shapes end to end through the CLI: a short history trains without split settings
(by account, said in the CLI, the report and MLflow)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from healthscore.pipeline.cli import cli


def flat(text: str) -> str:
    """Undo rich's line wrapping so assertions do not depend on the terminal width."""
    return " ".join(text.split())


def write_config(folder: Path, body: str) -> Path:
    path = folder / "shape.yaml"
    path.write_text(f"workdir: {folder / 'out'}\ndata: {{dir: {folder / 'data'}}}\n{body}")
    return path


@pytest.mark.slow
def test_a_twelve_month_world_trains_without_split_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    config = write_config(tmp_path, "synth: {accounts: 400, months: 12, seed: 3}\n"
                                    "training: {bootstrap: 20}\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["-c", str(config), "synth"]).exit_code == 0
    result = runner.invoke(cli, ["-c", str(config), "train"])
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "Split by account (60/20/20, every account in one part)" in text
    assert "too short for a time split with gaps of 90 days, which needs at least 273" in text
    assert "Test-period metrics; by account 60/20/20 · train" in text

    from healthscore import tracking

    record = tracking.read_run(tracking.resolve_run_id("@champion", "healthscore"),
                               tmp_path / "artifacts")
    assert record.tags["healthscore.split"] == "account"
    assert record.tags["healthscore.split_notes"].startswith("Split by account")
    assert record.params["split_kind"] == "by account 60/20/20"
    report = next((tmp_path / "out" / "reports").glob("validation-*.html")).read_text()
    assert "Split by account (60/20/20, every account in one part)" in report
