"""Training end to end with MLflow in a temporary SQLite store: what a run records can be
read back, aliases move, the report embeds its plots and the pyfunc model round-trips."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from healthscore import tracking
from healthscore.data.dataset import dataset_from_frames
from healthscore.data.settings import SynthConfig
from healthscore.features.engine import build_feature_matrix
from healthscore.model.artifact import health_from_probability
from healthscore.pipeline import compose
from healthscore.pipeline.config import Config
from healthscore.synth import generate_world
from healthscore.training.record import SAMPLE_FOR_DRIVERS

MODEL_NAME = "healthscore"

# A tiny search and refit budget keeps the suite quick (the mechanisms still run).
TINY_BUDGET = {"lightgbm": {"search": {"trials": 2}}, "refit_folds": 2}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        config = Config.model_validate({"workdir": str(root / "work"), "seed": 5,
                                        "training": {"bootstrap": 50, **TINY_BUDGET}})
        world = generate_world(SynthConfig(accounts=1200, months=24, seed=5))
        dataset = dataset_from_frames(world.tables, world.end_date)
        matrix = build_feature_matrix(dataset, config.features)
        frame, metas = compose.matrix_inputs(matrix)
        run, session, reports = compose.train(config, frame, metas, dataset.fingerprint)
        yield {"config": config, "run": run, "session": session, "reports": reports,
               "frame": frame, "metas": metas, "root": root, "patch": patch}


def test_each_model_run_records_params_metrics_and_artifacts(trained):
    session = trained["session"]
    assert set(session.runs) == {"scorecard", "logistic", "lightgbm"}
    best = tracking.read_run(session.runs[session.best].run_id, trained["root"] / "read")
    assert best.params["model"] == session.best
    assert {"split_train", "split_validation", "split_test", "rows_test", "data_inputs",
            "data_features", "calibration"} <= set(best.params)
    for name in ("test_roc_auc", "test_pr_auc", "test_log_loss", "test_brier", "test_ece",
                 "test_recall", "test_precision", "test_lift_top_10pct", "test_roc_auc_ci_low",
                 "test_seg_smb_roc_auc", "test_band_healthy_churn_rate"):
        assert name in best.metrics, name
    files = {p.relative_to(best.artifact_dir).as_posix()
             for p in best.artifact_dir.rglob("*") if p.is_file()}
    for name in ("tables/band_table.csv", "tables/segment_metrics.csv",
                 "tables/test_predictions.parquet", "tables/test_features.parquet",
                 "tables/global_drivers.csv", "tables/at_risk_dimensions.csv",
                 "plots/roc.png", "plots/pr.png", "plots/calibration.png",
                 "plots/band_churn.png", "plots/score_distribution.png",
                 "plots/shap_summary.png", "features.json", "config.json",
                 "report/validation_report.html"):
        assert name in files, name
    recorded = pd.read_parquet(best.artifact_dir / "tables" / "test_predictions.parquet")
    expected = trained["run"].results[session.best].test_rows
    np.testing.assert_allclose(recorded["p"], expected["p"])
    features = pd.read_parquet(best.artifact_dir / "tables" / "test_features.parquet")
    assert features["account_id"].tolist() == expected["account_id"].tolist()
    # the test predictions are the evaluation fit's (the registered model was refit on them)
    result = trained["run"].results[session.best]
    np.testing.assert_allclose(result.evaluated_model.predict_proba(features), expected["p"])
    assert result.health_model.evaluation is result.evaluated_model


def test_runs_record_directions_the_refit_and_the_search(trained):
    session = trained["session"]
    run = tracking.read_run(session.runs["lightgbm"].run_id, trained["root"] / "read-lgbm")
    directions = pd.read_csv(run.artifact_dir / "tables" / "directions.csv")
    assert set(directions["source"]) <= {"registry", "config", "learned", "categorical"}
    assert {"feature", "declared", "source", "direction", "strength", "z", "monotone",
            "contradicted"} <= set(directions.columns)
    per_type = directions[directions["feature"].str.startswith("events_30d_by_type__")]
    assert len(per_type) and (per_type["source"] == "learned").all()
    # monotone: directed: a learned direction beyond noise is a constraint of its sign
    signs = per_type["direction"].map({"higher_is_healthier": 1, "lower_is_healthier": -1,
                                       "none": 0})
    assert (per_type["monotone"] == signs).all()
    assert run.params["refit"] == "True" and int(run.params["refit_rows"]) > 0
    assert run.params["metrics_from"].startswith("evaluation fit")
    assert "shap_ms_per_row" in run.metrics
    search = pd.read_csv(run.artifact_dir / "tables" / "lightgbm_search.csv")
    assert len(search) == 2 and search["chosen"].sum() == 1
    page = trained["reports"]["lightgbm"].read_text()
    assert "Feature directions" in page and "was refit on all" in page
    assert "LightGBM settings search" in page and "TreeSHAP" in page


def test_runs_log_their_datasets_and_the_version_describes_the_model(trained):
    import mlflow

    session, config = trained["session"], trained["config"]
    experiment = mlflow.get_experiment_by_name(config.training.tracking.experiment)
    assert experiment.tags[tracking.EXPERIMENT_KIND_TAG] == "custom_model_development"
    best_run = mlflow.get_run(session.runs[session.best].run_id)
    inputs = {i.dataset.name: (i.dataset, {t.key: t.value for t in i.tags})
              for i in best_run.inputs.dataset_inputs}
    assert set(inputs) == {"training rows", "test rows"}
    train_set, train_tags = inputs["training rows"]
    test_set, test_tags = inputs["test rows"]
    assert train_tags["mlflow.data.context"] == "training"
    assert test_tags["mlflow.data.context"] == "test"
    run = trained["run"]
    assert json.loads(train_set.profile)["num_rows"] == run.sizes["train"]
    assert json.loads(test_set.profile)["num_rows"] == run.sizes["test"]
    assert train_set.digest != test_set.digest
    tags = best_run.data.tags
    assert len(tags[tracking.TAG_MODEL_FINGERPRINT]) == len(tags[tracking.TAG_DATA_FINGERPRINT])
    description = tracking.version_description(MODEL_NAME, session.registered_version)
    overall = run.results[session.best].test.overall
    assert description.startswith("Probability p that an account churns within 90 days")
    assert f"Model: {session.best}" in description
    assert f"ROC-AUC {overall['roc_auc']:.3f} [" in description
    assert f"recall {overall['recall']:.3f}" in description
    assert "health < 50" in description


def test_metric_names_line_up_across_runs(trained):
    runs = trained["session"].runs
    names = [set(tracking.read_run(r.run_id, trained["root"] / f"m-{n}").metrics)
             for n, r in runs.items()]
    shared = set.intersection(*names)
    assert {"test_roc_auc", "test_pr_auc", "test_ece"} <= shared


def test_best_model_is_registered_as_challenger_and_first_champion(trained):
    session = trained["session"]
    challenger = tracking.alias_version(MODEL_NAME, tracking.CHALLENGER)
    champion = tracking.alias_version(MODEL_NAME, tracking.CHAMPION)
    assert challenger == (session.registered_version, session.runs[session.best].run_id)
    assert champion == challenger and session.champion_set


def test_pyfunc_round_trips_through_mlflow(trained):
    import mlflow

    session = trained["session"]
    best = trained["run"].results[session.best]
    rows = best.test_rows[["account_id", "snapshot_date"]].head(200)
    features = rows.merge(trained["frame"], on=["account_id", "snapshot_date"])
    loaded = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@challenger")
    out = loaded.predict(features[best.health_model.feature_names])
    expected = best.health_model.predict_proba(features)
    np.testing.assert_allclose(out["churn_probability"], expected)
    np.testing.assert_allclose(out["health"], np.round(100 * (1 - expected), 1))
    assert set(out["band"]) <= {"Critical", "At risk", "Moderate", "Healthy"}


@pytest.mark.slow
def test_mlflow_models_predict_serves_the_pyfunc(trained, tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    best = trained["run"].results[trained["session"].best]
    rows = best.test_rows[["account_id", "snapshot_date"]].head(20)
    features = rows.merge(trained["frame"], on=["account_id", "snapshot_date"])
    features[best.health_model.feature_names].to_csv(tmp_path / "in.csv", index=False)
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    subprocess.run([str(mlflow_cli), "models", "predict", "-m", f"models:/{MODEL_NAME}@challenger",
                    "-i", str(tmp_path / "in.csv"), "-t", "csv", "--env-manager", "local",
                    "-o", str(tmp_path / "out.json")], check=True, capture_output=True,
                   env=os.environ.copy(), timeout=300)
    out = pd.DataFrame(json.loads((tmp_path / "out.json").read_text())["predictions"])
    np.testing.assert_allclose(out["churn_probability"],
                               best.health_model.predict_proba(features), rtol=1e-6)
    assert {"health", "band", "risk_1_reason", "playbook"} <= set(out.columns)


def test_report_embeds_its_plots_and_compares_with_the_scorecard(trained):
    path = trained["reports"][trained["session"].best]
    page = path.read_text()
    assert len(re.findall(r'src="data:image/png;base64,', page)) >= 6
    assert "scorecard baseline" in page and "Health bands" in page
    assert "<script" not in page  # self-contained and static
    # what to do this week: the worklist size at the run's own threshold and the precision
    config = trained["config"]
    threshold = config.training.at_risk_threshold
    assert f"Work the accounts with health below {threshold:g} first" in page
    run = tracking.read_run(trained["session"].runs[trained["session"].best].run_id,
                            trained["root"] / "read-report")
    assert float(run.params["at_risk_threshold"]) == threshold
    assert f"Expect about {run.metrics['test_precision']:.0%}" in page
    rows = pd.read_parquet(run.artifact_dir / "tables" / "test_predictions.parquet")
    flagged = (health_from_probability(rows["p"].to_numpy()) < threshold).astype(int)
    per_run = pd.Series(flagged).groupby(rows["snapshot_date"].to_numpy()).sum().mean()
    assert f"held about {per_run:,.0f} account" in page and " per scoring run" in page
    dimensions = pd.read_csv(run.artifact_dir / "tables" / "at_risk_dimensions.csv")
    assert dimensions["flagged_rows"].sum() <= SAMPLE_FOR_DRIVERS
    top = dimensions[dimensions["dimension"] != "(none)"].iloc[0]
    assert f"{top['dimension']}: {top['share']:.0%} of the flagged accounts → " \
        f"{config.scoring.playbooks[top['dimension']]}" in page


def test_promote_moves_the_champion_alias(trained):
    scorecard = trained["session"].runs["scorecard"].run_id
    version = tracking.promote(MODEL_NAME, scorecard)
    assert tracking.alias_version(MODEL_NAME, tracking.CHAMPION) == (version, scorecard)
    assert tracking.alias_version(MODEL_NAME, tracking.CHALLENGER)[1] != scorecard


def test_report_command_accepts_an_alias(trained, tmp_path):
    from healthscore.pipeline.cli import cli

    config = tmp_path / "c.yaml"
    config.write_text(f"workdir: {trained['config'].workdir}\n")
    out = tmp_path / "r.html"
    result = CliRunner().invoke(cli, ["-c", str(config), "report", "@challenger",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists() and "Health score validation" in out.read_text()


def test_unknown_run_is_a_clear_error(trained, tmp_path):
    from healthscore.pipeline.cli import cli

    config = tmp_path / "c.yaml"
    config.write_text(f"workdir: {trained['config'].workdir}\n")
    result = CliRunner().invoke(cli, ["-c", str(config), "report", "nosuchrun"])
    assert result.exit_code == 3  # model/run errors exit 3, input errors 2
    assert "no MLflow run 'nosuchrun'" in " ".join(result.output.split())


def test_training_is_deterministic(trained):
    from healthscore.training.train import train_and_evaluate

    config = trained["config"].training.model_copy(update={"models": ["lightgbm"],
                                                           "bootstrap": 0})
    again = train_and_evaluate(trained["frame"], trained["metas"], config, 90, 5)
    first = trained["run"].results["lightgbm"].test_rows["p"].to_numpy()
    np.testing.assert_array_equal(again.results["lightgbm"].test_rows["p"].to_numpy(), first)
