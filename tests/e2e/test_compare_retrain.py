"""`healthscore retrain` and `healthscore compare` end to end, through click's CliRunner, with
MLflow in a temporary SQLite store: the gate's pass and fail paths and their exit codes, verdicts
on the same holdout rows, the HTML comparison, the comparison run, incompatible runs refused."""

from __future__ import annotations

import logging
import re

import pytest
import yaml
from click.testing import CliRunner

from healthscore import tracking
from healthscore.errors import ExitCode
from healthscore.pipeline import compose
from healthscore.pipeline.cli import cli
from healthscore.pipeline.config import config_from_mapping, load_config
from healthscore.training.compare import TAG_COMPARED, TAG_HOLDOUT

MODEL_NAME = "healthscore"
RUN = re.compile(r"\(run ([0-9a-f]{32})\)")

# A tiny search and refit budget keeps the suite quick (the mechanisms still run).
TINY_BUDGET = {"lightgbm": {"search": {"trials": 2}}, "refit_folds": 2}


def flat(text: str) -> str:
    """Undo rich's line wrapping so assertions do not depend on the terminal width."""
    return " ".join(text.split())


def write_config(path, base: dict, promotion: dict | None = None):
    raw = yaml.safe_load(yaml.safe_dump(base))
    if promotion:
        raw["training"]["promotion"] = promotion
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def retrained(tmp_path_factory):
    """Three retrains on one small synthetic world: a gate nobody passes (no champion yet),
    the default gate (first champion), then a gate demanding a better PR-AUC (champion kept)."""
    root = tmp_path_factory.mktemp("retrain")
    logger = logging.getLogger()
    handlers, level = logger.handlers[:], logger.level
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        base = {"workdir": str(root / "work"), "seed": 5, "data": {"dir": str(root / "data")},
                "synth": {"accounts": 1200, "months": 24, "seed": 5},
                "training": {"models": ["scorecard", "lightgbm"], "bootstrap": 50,
                             "backtest": {"folds": 1}, **TINY_BUDGET}}
        compose.synthesize_world(config_from_mapping(base))
        default = write_config(root / "default.yaml", base)
        steps = {
            "no_champion_fail": write_config(root / "strict.yaml", base, {"max_ece": 1e-6}),
            "first_champion": default,
            "champion_kept": write_config(root / "better.yaml", base, {"pr_auc": "better"}),
        }
        results = {}
        for name, config in steps.items():
            args = (["retrain", "--config", str(config)] if config == default  # both spellings
                    else ["-c", str(config), "retrain"])
            result = CliRunner().invoke(cli, args)
            results[name] = (result, tracking.alias_version(MODEL_NAME, tracking.CHAMPION))
        yield {"root": root, "config": default, "results": results}
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_retrain_with_no_champion_and_a_failing_gate_sets_no_champion(retrained):
    result, champion = retrained["results"]["no_champion_fail"]
    assert result.exit_code == ExitCode.NOT_PROMOTED == 4, result.output
    output = flat(result.output)
    assert "ECE <= 1e-06 │ fail │ ECE 0.0" in output
    assert "not promoted: lightgbm" in output and "no champion set" in output
    assert champion is None  # training registered a challenger but did not claim @champion


def test_retrain_makes_the_first_passing_model_champion(retrained):
    result, champion = retrained["results"]["first_champion"]
    assert result.exit_code == 0, result.output
    output = flat(result.output)
    assert "PR-AUC not worse than the champion │ skipped │ no champion yet" in output
    assert "a new model or new data │ skipped │ no champion yet" in output
    assert "Backtest: would this have predicted past churn?" in output
    assert "1 of 1 backtest folds fit" in output  # how many folds fit, and why not the rest
    promoted = re.search(r"promoted: (\w+) \(run ([0-9a-f]{32})\) is healthscore@champion, "
                         r"version (\d+) \(first champion\)", output)
    assert promoted, output
    assert champion == (promoted.group(3), promoted.group(2))


def test_retrain_keeps_the_champion_when_the_gate_fails(retrained):
    result, champion = retrained["results"]["champion_kept"]
    assert result.exit_code == ExitCode.NOT_PROMOTED, result.output
    output = flat(result.output)
    # the same data and seed give the same model: not significantly better than the champion
    assert re.search(r"PR-AUC better than the champion │ fail │ PR-AUC (0\.\d{3}) vs champion "
                     r"\1: difference \+0\.000, 95 % interval \[\+0\.000, \+0\.000\]: "
                     r"[│ ]*no significant difference", output), output  # the cell may wrap
    assert "comparable with the champion │ pass" in output
    # retraining on unchanged data rebuilds the champion: refused whatever the other checks say
    assert "a new model or new data │ fail │ model and data unchanged since the" in output
    first = retrained["results"]["first_champion"][1]
    assert champion == first
    assert f"healthscore@champion stays version {first[0]} (run {first[1]})" in output
    assert "Side by side on the same rows" in output


@pytest.fixture(scope="module")
def session_runs(retrained):
    """Run ids of the scorecard and LightGBM runs of the session that became champion."""
    champion = retrained["results"]["first_champion"][1][1]
    record = tracking.read_run(champion, retrained["root"] / "read")
    runs = {record.params["model"]: champion}
    runs |= {r.tags[tracking.TAG_MODEL]: r.run_id for r in tracking.sibling_runs(record)}
    return runs


def test_lightgbm_is_better_than_the_scorecard_on_the_same_rows(retrained, session_runs):
    config = load_config(retrained["config"])
    scorecard, lightgbm = session_runs["scorecard"], session_runs["lightgbm"]
    comparison, path, run_id = compose.compare(config, [scorecard, lightgbm])
    name = comparison.names[1]
    roc = comparison.difference(name, "roc_auc")
    print(f"\nlightgbm - scorecard ROC-AUC {roc['estimate']:+.4f} "
          f"[{roc['low']:+.4f}, {roc['high']:+.4f}] on {len(comparison.y)} rows")
    assert roc["verdict"] == "better" and roc["low"] > 0
    assert comparison.holdout.run_id == lightgbm  # the newer of the two
    page = path.read_text()
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 4
    assert "Where the runs disagree most" in page and "<script" not in page
    logged = tracking.read_run(run_id, retrained["root"] / "comparison")
    assert logged.tags[tracking.TAG_KIND] == "comparison"
    assert logged.tags[TAG_COMPARED] == f"{scorecard},{lightgbm}"
    assert logged.tags[TAG_HOLDOUT] == lightgbm
    assert f"diff_{name.replace(' ', '_')}_roc_auc_low" in logged.metrics
    assert (logged.artifact_dir / "comparison.html").exists()


def test_a_run_compared_with_itself_shows_no_significant_difference(retrained, tmp_path):
    out = tmp_path / "self.html"
    result = CliRunner().invoke(cli, ["-c", str(retrained["config"]), "compare", "@champion",
                                      "@champion", "--out", str(out)])
    assert result.exit_code == 0, result.output
    output = flat(result.output)
    assert output.count("no significant difference") == 3, result.output
    assert "better" not in output and "worse" not in output
    assert out.exists()


def test_compare_needs_two_runs(retrained):
    result = CliRunner().invoke(cli, ["-c", str(retrained["config"]), "compare", "@champion"])
    assert result.exit_code == 2
    assert "give at least two runs to compare" in flat(result.output)


def test_incompatible_runs_are_refused_with_a_message(retrained):
    """A newer session trained without one feature: the champion cannot be scored on its rows."""
    config = load_config(retrained["config"])
    config = config.model_copy(update={"training": config.training.model_copy(
        update={"models": ["scorecard"], "bootstrap": 0})})
    frame, metas = compose.matrix_inputs(compose.build_features(config,
                                                                compose.open_data(config)))
    dropped = "events_30d"
    _, session, _ = compose.train(config, frame.drop(columns=[dropped]),
                                  [m for m in metas if m.name != dropped], "without-events")
    newer = session.runs["scorecard"].run_id
    champion = retrained["results"]["first_champion"][1][1]
    result = CliRunner().invoke(cli, ["-c", str(retrained["config"]), "compare", "@champion",
                                      newer])
    assert result.exit_code == 3, result.output
    output = flat(result.output)
    assert f"cannot be compared on the holdout rows of run {newer}" in output
    assert f"run {champion} (lightgbm@champion) needs 1 feature(s) the holdout rows lack: " \
           f"{dropped}" in output
    assert "Traceback" not in result.output
