"""A feature table end to end through the CLI: train, score and drift with --features, the
MLflow pyfunc on rows with missing whole numbers, and every user error exiting 2 without a
traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from healthscore.pipeline.cli import cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))
from byo_table import raw_customer_table  # noqa: E402


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A dated customer table (two months) trained with a small, quick config."""
    root = tmp_path_factory.mktemp("table")
    months = []
    for k, day in enumerate(["2025-01-01", "2025-02-01", "2025-03-01"]):
        part = raw_customer_table(1500, seed=k).assign(as_of=day)
        part["customer_id"] = [f"c{i}" for i in range(len(part))]
        months.append(part)
    table = pd.concat(months, ignore_index=True)
    table.loc[table["as_of"] == "2025-03-01", "churned"] = None  # the newest: not yet known
    path = root / "customers.csv"
    table.to_csv(path, index=False)
    config = root / "run.yaml"
    config.write_text(f"workdir: {root / 'out'}\ntraining:\n  models: [lightgbm]\n"
                      "  bootstrap: 10\n  refit_folds: 2\n  lightgbm:\n    search:\n"
                      "      trials: 2\n  tracking:\n"
                      f"    uri: sqlite:///{root / 'mlflow.db'}\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        result = run("-c", str(config), "train", "--features", str(path), "--id-column",
                     "customer_id", "--label-column", "churned", "--date-column", "as_of")
        assert result.exit_code == 0, result.output
        yield {"root": root, "config": str(config), "table": path, "output": result.output,
               "uri": f"sqlite:///{root / 'mlflow.db'}"}


def test_training_reports_the_columns_and_logs_the_typing_report(trained) -> None:
    import mlflow

    text = flat(trained["output"])
    assert "column total_charges coerced" in text and "column referral_code dropped" in text
    assert "1,500 row(s) without a label: scored, not trained on" in text
    mlflow.set_tracking_uri(trained["uri"])
    version = mlflow.MlflowClient().get_model_version_by_alias("healthscore", "champion")
    local = mlflow.artifacts.download_artifacts(
        run_id=version.run_id, artifact_path="tables/column_typing.csv",
        dst_path=str(trained["root"] / "typing"))
    report = pd.read_csv(local).set_index("column")
    assert report.loc["account_number", "action"] == "excluded"
    assert report.loc["total_charges", "count"] == 33  # 11 blanks a month


def test_the_pyfunc_returns_ids_and_health_for_rows_with_missing_whole_numbers(trained
                                                                              ) -> None:
    import mlflow

    mlflow.set_tracking_uri(trained["uri"])
    model = mlflow.pyfunc.load_model("models:/healthscore@champion")
    rows = pd.read_csv(trained["table"]).head(6)
    assert rows["tenure"].dtype == np.int64
    rows["tenure"] = rows["tenure"].astype(float)
    rows.loc[[1, 3], "tenure"] = np.nan  # a missing value in a whole-number column
    # the signature wants numbers where the model does (the CLI coerces text itself)
    rows["total_charges"] = pd.to_numeric(rows["total_charges"], errors="coerce")
    out = model.predict(rows)
    assert out["customer_id"].tolist() == rows["customer_id"].tolist()
    assert out["health"].between(0, 100).all() and out["health"].notna().all()
    assert {"band", "churn_probability", "risk_1_reason"} <= set(out.columns)
    assert "customer_id" not in model.predict(rows.drop(columns="customer_id")).columns


def test_score_and_drift_use_the_rows_of_the_date(trained) -> None:
    common = ("--features", str(trained["table"]), "--id-column", "customer_id",
              "--date-column", "as_of")
    result = run("-c", trained["config"], "score", *common)
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(trained["root"] / "out" / "scores" / "2025-03-01.parquet")
    assert len(scores) == 1500 and scores["account_id"].is_unique
    assert (trained["root"] / "out" / "scores" / "2025-03-01.html").exists()
    earlier = run("-c", trained["config"], "score", *common, "--as-of", "2025-02-01")
    assert earlier.exit_code == 0, earlier.output
    again = run("-c", trained["config"], "score", *common)
    assert again.exit_code == 0, again.output
    scores = pd.read_parquet(trained["root"] / "out" / "scores" / "2025-03-01.parquet")
    assert scores["health_change_30d"].notna().any()  # trends from the score history
    drift = run("-c", trained["config"], "drift", *common)
    assert drift.exit_code == 0, drift.output
    assert (trained["root"] / "out" / "drift" / "2025-03-01.csv").exists()


@pytest.mark.parametrize("args, message", [
    (("train", "--label-column", "churn"), "did you mean 'churned'"),
    (("train", "--label-column", "contract"), "--positive-label VALUE"),
    (("train", "--label-column", "churned", "--positive-label", "Lost"),
     "'Lost' does not occur"),
    (("train", "--label-column", "churned", "--feature-metadata", "nope.yaml"),
     "does not exist"),
    (("score", "--as-of", "2024-01-01", "--date-column", "as_of"), "a date of column 'as_of'"),
    (("score",), "appear more than once"),
    (("drift", "--id-column", "customer"), "not found"),
    (("describe-features",), "not found"),
    (("backtest", "--label-column", "churned"), "needs --date-column"),
])
def test_user_errors_exit_2_without_a_traceback(trained, args, message) -> None:
    name, rest = args[0], list(args[1:])
    if name == "describe-features":
        argv = ["-c", trained["config"], name, str(trained["table"])]
    else:
        argv = ["-c", trained["config"], name, "--features", str(trained["table"])]
        if "--id-column" not in rest:
            argv += ["--id-column", "customer_id"]
    result = run(*argv, *rest)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert message in flat(result.output)


def test_an_unreadable_table_exits_2(trained, tmp_path) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(b"\xff\xfe\x00broken\x00")
    result = run("-c", trained["config"], "train", "--features", str(path))
    assert result.exit_code == 2 and "Traceback" not in result.output
