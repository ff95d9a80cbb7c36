"""Batch scoring end to end: files, history, idempotent re-runs, failures that leave the
previous outputs intact, shadow mode, trends over three dates, and the CLI's exit codes."""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import pytest
from click.testing import CliRunner

from healthscore.data.dataset import dataset_from_frames
from healthscore.data.settings import SynthConfig
from healthscore.features.engine import build_feature_matrix
from healthscore.pipeline import compose
from healthscore.pipeline.cli import cli
from healthscore.pipeline.config import Config
from healthscore.serving import batch
from healthscore.serving.history import PRIMARY, SHADOW, open_history
from healthscore.synth import generate_world, write_world

DATES = [dt.date(2025, 10, 1), dt.date(2025, 11, 1), dt.date(2025, 12, 1)]

# A tiny search and refit budget keeps the suite quick (the mechanisms still run).
TINY_BUDGET = {"lightgbm": {"search": {"trials": 2}}, "refit_folds": 2}


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A trained champion (LightGBM) and challenger (logistic), and a world to score."""
    root = tmp_path_factory.mktemp("score")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        world = generate_world(SynthConfig(accounts=1200, months=24, seed=5))
        write_world(world, root / "data")
        raw = {"workdir": str(root / "work"), "seed": 5, "data": {"dir": str(root / "data")},
               "training": {"bootstrap": 0, **TINY_BUDGET}}
        dataset = dataset_from_frames(world.tables, world.end_date)
        for models in (["lightgbm"], ["logistic"]):  # the first session sets @champion
            config = Config.model_validate(raw | {"training": {"bootstrap": 0, **TINY_BUDGET,
                                                               "models": models}})
            matrix = build_feature_matrix(dataset, config.features)
            frame, metas = compose.matrix_inputs(matrix)
            compose.train(config, frame, metas, dataset.fingerprint)
        config = Config.model_validate(raw)
        yield {"config": config, "dataset": compose.open_data(config), "root": root,
               "patch": patch}


def run(scored, day: dt.date, **kwargs) -> batch.ScoringResult:
    return compose.score(scored["config"], scored["dataset"], day, **kwargs)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_scoring_writes_files_and_history_rows_with_their_provenance(scored) -> None:
    result = run(scored, DATES[0])
    assert set(result.paths) == {"scores", "crm_csv", "report"}
    assert all(p.exists() for p in result.paths.values())
    scores = pd.read_parquet(result.paths["scores"])
    assert len(scores) == len(result.scores) > 300
    assert scores["account_id"].is_unique
    assert scores["health"].between(0, 100).all()
    assert set(scores["band"]) <= {"Critical", "At risk", "Moderate", "Healthy"}
    for column in ("model_name", "model_version", "run_id", "config_hash"):
        assert scores[column].nunique() == 1 and scores[column].iat[0] != "", column
    assert scores["model_name"].iat[0] == "healthscore" and scores["model_version"].iat[0] == "1"
    history = open_history(None, scored["config"].workdir).read()
    assert len(history) == len(scores) and set(history["as_of"]) == {DATES[0]}
    assert (history["run_id"] == scores["run_id"].iat[0]).all()
    assert "<html" in result.paths["report"].read_text()
    crm = pd.read_csv(result.paths["crm_csv"])
    assert len(crm) == len(scores) and "playbook" in crm.columns


def test_rerunning_a_date_replaces_it(scored) -> None:
    first = run(scored, DATES[0])
    second = run(scored, DATES[0])
    history = open_history(None, scored["config"].workdir)
    rows = history.read()
    assert len(rows[rows["as_of"] == DATES[0]]) == len(first.scores)
    keep = [c for c in first.scores.columns if c != "scored_at"]
    pd.testing.assert_frame_equal(first.scores[keep], second.scores[keep])  # deterministic


def test_a_failure_mid_write_leaves_the_previous_outputs_intact(scored, monkeypatch) -> None:
    result = run(scored, DATES[0])
    before = {name: digest(path) for name, path in result.paths.items()}
    history = open_history(None, scored["config"].workdir)
    rows_before = history.read()

    def broken(*args, **kwargs):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(batch, "render_portfolio", broken)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        run(scored, DATES[0], model_uri="models:/healthscore@challenger")
    assert {name: digest(path) for name, path in result.paths.items()} == before
    pd.testing.assert_frame_equal(history.read(), rows_before)
    leftovers = [p for p in result.paths["scores"].parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # no temporary files left behind


def test_a_failed_history_write_leaves_the_files_intact(scored, monkeypatch) -> None:
    result = run(scored, DATES[0])
    before = {name: digest(path) for name, path in result.paths.items()}

    def broken(self, as_of, rows):
        raise RuntimeError("database went away")

    monkeypatch.setattr(type(open_history(None, scored["config"].workdir)), "replace", broken)
    with pytest.raises(RuntimeError, match="database went away"):
        run(scored, DATES[0], model_uri="models:/healthscore@challenger")
    assert {name: digest(path) for name, path in result.paths.items()} == before


def test_shadow_scores_are_stored_beside_without_changing_the_outputs(scored) -> None:
    plain = run(scored, DATES[0])
    scores = pd.read_parquet(plain.paths["scores"])
    shadowed = run(scored, DATES[0], shadow_uri="models:/healthscore@challenger")
    keep = [c for c in scores.columns if c != "scored_at"]
    pd.testing.assert_frame_equal(pd.read_parquet(shadowed.paths["scores"])[keep], scores[keep])
    shadow = pd.read_parquet(shadowed.paths["shadow"])
    assert shadow["model_version"].iat[0] == "2" and scores["model_version"].iat[0] == "1"
    history = open_history(None, scored["config"].workdir)
    assert len(history.read(role=SHADOW, since=DATES[0], until=DATES[0])) == len(shadow)
    assert len(history.read(role=PRIMARY, since=DATES[0], until=DATES[0])) == len(scores)


def test_three_dates_give_trends_and_alerts(scored) -> None:
    for day in DATES:
        result = run(scored, day)
    scores = result.scores
    assert scores["health_change_30d"].notna().mean() > 0.9  # most were scored a month ago
    assert scores["health_change_90d"].isna().all()  # two months of history only
    assert set(scores["momentum"]) <= {"improving", "stable", "declining", ""}
    alerted = scores[scores["alerts"] != ""]
    assert len(alerted) > 0 and (alerted["alert_reasons"] != "").all()
    codes = set(alerted["alerts"].str.split(";").explode())
    assert codes <= {"health_drop", "entered_at_risk", "entered_critical", "renewal_at_risk",
                     "expansion_play"}
    dropped = scores[scores["alerts"].str.contains("health_drop")]
    assert (dropped["health_change_30d"] <= -15).all()


def test_score_command_prints_a_summary_and_exit_codes(scored) -> None:
    runner = CliRunner()
    config = scored["root"] / "config.yaml"
    config.write_text(f"workdir: {scored['config'].workdir}\n"
                      f"data:\n  dir: {scored['root'] / 'data'}\n")
    ok = runner.invoke(cli, ["-c", str(config), "score", "--as-of", "2025-11-01"])
    assert ok.exit_code == 0, ok.output
    assert "Portfolio by band" in ok.output and "history:" in ok.output
    missing = runner.invoke(cli, ["-c", str(config), "score", "--as-of", "2025-11-01",
                                  "--model", "models:/healthscore@nosuchalias"])
    assert missing.exit_code == 3 and "nosuchalias" in missing.output
    late = runner.invoke(cli, ["-c", str(config), "score", "--as-of", "2030-01-01"])
    assert late.exit_code == 2 and "--as-of" in late.output
    quiet = runner.invoke(cli, ["-q", "score", "-c", str(config), "--as-of", "2025-11-01"])
    assert quiet.exit_code == 0 and quiet.output.strip() == "", quiet.output  # -q: errors only
