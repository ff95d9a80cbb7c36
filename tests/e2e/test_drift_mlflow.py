"""Drift end to end: the reference travels inside the logged model, the training world with
shifted usage triggers the warning (an independent unshifted world does not), and
`healthscore drift` writes its files."""

from __future__ import annotations

import logging
import re

import pandas as pd
import pytest
from click.testing import CliRunner

from healthscore import tracking
from healthscore.data.dataset import dataset_from_frames
from healthscore.data.settings import SynthConfig
from healthscore.features.engine import build_feature_matrix
from healthscore.pipeline import compose
from healthscore.pipeline.cli import cli
from healthscore.pipeline.config import Config
from healthscore.serving.drift import ACT, HEALTH, REPORT_COLUMNS, check_drift
from healthscore.synth import generate_world

WORLD = {"accounts": 500, "months": 24, "seed": 5}
CHAMPION = "models:/healthscore@champion"
# event counts triple when every event's quantity does; ratios, users and days do not move
COUNTS = ["events_7d", "events_30d", "events_90d"]

# A tiny search and refit budget keeps the suite quick (the mechanisms still run).
TINY_BUDGET = {"lightgbm": {"search": {"trials": 2}}, "refit_folds": 2}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("drift")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        raw = {"workdir": str(root / "work"), "seed": 5, "data": {"dir": str(root / "data")},
               "synth": WORLD, "training": {"models": ["logistic"], "bootstrap": 0, **TINY_BUDGET}}
        config = Config.model_validate(raw)
        compose.synthesize_world(config)
        dataset = compose.open_data(config)
        frame, metas = compose.matrix_inputs(compose.build_features(config, dataset))
        run, _, _ = compose.train(config, frame, metas, dataset.fingerprint)
        labelled = frame[frame["label_observed"]]
        # the registered model is refit on every labelled row: those are its training rows
        assert run.results["logistic"].refit
        config_file = root / "c.yaml"
        config_file.write_text(f"workdir: {root / 'work'}\ndata:\n  dir: {root / 'data'}\n")
        yield {"config": config, "config_file": config_file, "dataset": dataset,
               "model": run.results["logistic"].health_model,
               "train_dates": sorted(labelled["snapshot_date"].unique())}


def world_features(seed: int, dates, quantity_scale: float = 1.0) -> pd.DataFrame:
    """Features of a synthetic world on ``dates``, every event's quantity scaled."""
    world = generate_world(SynthConfig(**(WORLD | {"seed": seed})))
    events = world.tables["events"]
    tables = world.tables | {"events": events.assign(quantity=events["quantity"]
                                                      * quantity_scale)}
    dataset = dataset_from_frames(tables, world.end_date)
    return build_feature_matrix(dataset, Config().features, dates=dates).frame


def test_the_reference_survives_the_mlflow_round_trip(trained):
    tracking.configure(trained["config"].training.tracking, trained["config"].workdir)
    loaded = tracking.load_health_model(CHAMPION)
    assert loaded.reference is not None
    assert loaded.reference == trained["model"].reference
    names = [r.name for r in loaded.reference.features]
    assert names == loaded.feature_names and loaded.reference.health.name == HEALTH


def test_shifted_usage_triggers_the_drift_warning(trained, caplog):
    tracking.configure(trained["config"].training.tracking, trained["config"].workdir)
    model = tracking.load_health_model(CHAMPION)  # only the registered model: no training data
    config = trained["config"].scoring.drift
    dims = {m.name: m.dimension for m in model.features}
    dates = trained["train_dates"]
    with caplog.at_level(logging.WARNING, logger="healthscore.serving.drift"):
        report = check_drift(model, world_features(WORLD["seed"], dates, 3.0), config)
    by_name = report.set_index("feature")
    counts = COUNTS + [n for n in dims if n.startswith("events_30d_by_type__")]
    assert (by_name.loc[counts, "status"] == ACT).all(), by_name.loc[counts, "psi"]
    unshifted = [n for n, d in dims.items() if d != "usage"] + [
        "events_change_30d", "active_users_30d", "weeks_active_12w", "days_since_last_activity"]
    assert (by_name.loc[unshifted, "psi"] < config.watch).all(), by_name.loc[unshifted, "psi"]
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "events_30d" in warning and "healthscore drift" in warning


def test_an_independent_unshifted_world_does_not_warn(trained, caplog):
    tracking.configure(trained["config"].training.tracking, trained["config"].workdir)
    model = tracking.load_health_model(CHAMPION)
    config = trained["config"].scoring.drift
    with caplog.at_level(logging.WARNING, logger="healthscore.serving.drift"):
        report = check_drift(model, world_features(WORLD["seed"] + 1, trained["train_dates"]),
                             config)
    assert report["psi"].max() < config.act, report.head()  # sampling noise only
    assert report["psi"].median() < config.watch / 4
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_drift_command_writes_csv_and_html(trained):
    day = trained["dataset"].end_date.replace(day=1)
    result = CliRunner().invoke(cli, ["-c", str(trained["config_file"]), "drift",
                                      "--as-of", day.isoformat()])
    assert result.exit_code == 0, result.output
    folder = trained["config"].workdir / "drift"
    table = pd.read_csv(folder / f"{day}.csv")
    assert list(table.columns) == list(REPORT_COLUMNS)
    assert set(table["feature"]) == {*trained["model"].feature_names, HEALTH}
    page = (folder / f"{day}.html").read_text()
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 2
    assert "<script" not in page
    output = " ".join(result.output.split())
    assert f"Drift as of {day}" in output and f"{day}.html" in output and "health PSI" in output


def test_drift_command_model_and_date_errors(trained):
    config = str(trained["config_file"])
    result = CliRunner().invoke(cli, ["-c", config, "drift", "--model",
                                      "models:/healthscore@nosuchalias"])
    assert result.exit_code == 3, result.output
    assert "cannot load model 'models:/healthscore@nosuchalias'" in " ".join(
        result.output.split())
    result = CliRunner().invoke(cli, ["-c", config, "drift", "--as-of", "2999-01-01"])
    assert result.exit_code == 2, result.output
    assert "--as-of" in result.output


@pytest.mark.parametrize("fail_on", ["act", "watch"])
def test_drift_fail_on_exits_5_exactly_when_a_status_is_reached(trained, fail_on):
    day = trained["dataset"].end_date.replace(day=1)
    result = CliRunner().invoke(cli, ["-q", "drift", "-c", str(trained["config_file"]),
                                      "--as-of", day.isoformat(), "--fail-on", fail_on])
    table = pd.read_csv(trained["config"].workdir / "drift" / f"{day}.csv")
    levels = ["act"] if fail_on == "act" else ["act", "watch"]
    reached = table[table["status"].isin(levels)]["feature"].tolist()
    assert result.exit_code == (5 if reached else 0), result.output
    assert "Drift as of" not in result.output  # -q: no summary
    if reached:
        assert f"at or above --fail-on {fail_on}" in " ".join(result.output.split())


def test_drift_reached_orders_the_statuses():
    from healthscore.pipeline.cli import drift_reached

    report = pd.DataFrame({"feature": ["a", "b", "c"], "status": ["stable", "watch", "act"]})
    assert drift_reached(report, "never") == []
    assert drift_reached(report, "act") == ["c"]
    assert drift_reached(report, "watch") == ["b", "c"]
