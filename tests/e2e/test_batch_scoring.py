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
    # the synthetic world's names and CSMs travel from accounts into the score file and export
    accounts = scored["dataset"].frame("accounts").set_index("account_id")
    first = scores.iloc[0]
    assert first["name"] == accounts.loc[int(first["account_id"]), "name"] != ""
    assert first["owner"] == accounts.loc[int(first["account_id"]), "owner"] != ""
    assert list(crm.columns[:3]) == ["account_id", "name", "owner"]
    segments = scores["segment"].nunique()
    assert crm["owner"].notna().all() and crm["owner"].nunique() == 2 * segments  # 2 CSMs each
    assert (crm["name"] == scores["name"]).all()


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
    # the page names each alerted account with its owner, and sums alerts per owner
    page = result.paths["report"].read_text()
    some = alerted.iloc[0]
    assert f"<b>{some['name']}</b>" in page and f"owner {some['owner']}" in page
    assert "What to do this week" in page and "<h2>By owner</h2>" in page


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


def test_score_for_one_owner_prints_their_accounts_and_writes_their_page(scored) -> None:
    runner = CliRunner()
    config = scored["root"] / "config.yaml"
    config.write_text(f"workdir: {scored['config'].workdir}\n"
                      f"data:\n  dir: {scored['root'] / 'data'}\n")
    owners = scored["dataset"].frame("accounts")["owner"]
    owner = owners.iat[0]
    ok = runner.invoke(cli, ["-c", str(config), "score", "--as-of", "2025-11-01",
                             "--owner", owner])
    assert ok.exit_code == 0, ok.output
    assert f"{owner}: " in ok.output and "accounts (top 10 by ARR at risk)" in ok.output
    page = scored["config"].workdir / "scores" / f"2025-11-01.owner-{owner}.html"
    mine = pd.read_parquet(scored["config"].workdir / "scores" / "2025-11-01.parquet")
    mine = mine[mine["owner"] == owner]
    text = page.read_text()
    assert (f'<div class="value">{len(mine):,}</div><div class="label">accounts scored'
            in text)
    others = set(owners) - {owner}
    assert not any(f"owner {o}<" in text or f"owner {o} " in text for o in others)


def test_an_unknown_owner_exits_2_before_any_scoring(scored) -> None:
    runner = CliRunner()
    config = scored["root"] / "config.yaml"
    config.write_text(f"workdir: {scored['config'].workdir}\n"
                      f"data:\n  dir: {scored['root'] / 'data'}\n")
    owner = scored["dataset"].frame("accounts")["owner"].iat[0]
    out = scored["config"].workdir / "scores"
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*")} if out.exists() else {}
    typo = runner.invoke(cli, ["-c", str(config), "score", "--as-of", "2025-09-01",
                               "--owner", owner.lower()])
    assert typo.exit_code == 2, typo.output
    assert "--owner" in typo.output and f"Did you mean {owner!r}?" in typo.output
    assert "Traceback" not in typo.output
    nobody = runner.invoke(cli, ["-c", str(config), "score", "--as-of", "2025-09-01",
                                 "--owner", "Zzyzx Qwerty"])
    assert nobody.exit_code == 2 and "owners: " in nobody.output
    assert "Did you mean" not in nobody.output
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("*")} if out.exists() else {}
    assert after == before  # refused before any scoring work: nothing written


def test_scoring_with_a_matrix_that_holds_the_date_equals_building_the_date(scored) -> None:
    """The demo scores its month starts from the training matrix it built (the schedule holds
    them): the same scores, drivers and trends as a build of that date alone."""
    config, dataset = scored["config"], scored["dataset"]
    matrix = compose.build_features(config, dataset)  # the training schedule, as the demo
    assert DATES[1] in matrix.dates
    alone = run(scored, DATES[1])

    def no_build(*args, **kwargs):
        raise AssertionError("the date's features were built again")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batch, "build_feature_matrix", no_build)
        reused = run(scored, DATES[1], matrix=matrix)
    assert "features" in reused.seconds and len(reused.scores) == len(alone.scores)
    pd.testing.assert_frame_equal(reused.scores.drop(columns="scored_at"),
                                  alone.scores.drop(columns="scored_at"))
