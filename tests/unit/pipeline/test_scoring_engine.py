"""Where `healthscore score` scores: ``scoring.engine`` (auto follows ``features.engine``), and
pyspark stays unimported until a Spark run starts (default tier: no Spark needed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from healthscore.pipeline.compose.scoring import scoring_spark
from healthscore.pipeline.config import Config


@pytest.mark.parametrize(("features", "scoring", "on_spark"), [
    ("duckdb", "auto", False), ("spark", "auto", True), ("spark", "local", False),
    ("duckdb", "spark", True)])
def test_the_scoring_engine_follows_the_feature_engine_unless_set(features, scoring, on_spark):
    config = Config.model_validate({
        "features": {"engine": features, "spark": {"master": "local[3]"}},
        "scoring": {"engine": scoring}})
    settings = scoring_spark(config)
    assert (settings is not None) == on_spark
    if on_spark:  # the session the feature build would start
        assert settings.master == "local[3]"


def test_an_unknown_scoring_engine_is_a_config_error():
    with pytest.raises(ValueError, match="engine"):
        Config.model_validate({"scoring": {"engine": "dask"}})


def test_the_command_line_does_not_import_pyspark():
    code = ("import sys\n"
            "from click.testing import CliRunner\n"
            "from healthscore.pipeline.cli import cli\n"
            "assert CliRunner().invoke(cli, ['score', '--help']).exit_code == 0\n"
            "import healthscore.serving.batch\n"
            "print('pyspark' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


def test_where_scoring_runs_leaves_the_config_hash_of_the_scores_alone():
    from healthscore.serving.batch import config_hash
    from healthscore.serving.settings import ScoringConfig

    assert config_hash(ScoringConfig(engine="spark")) == config_hash(ScoringConfig())
    assert config_hash(ScoringConfig(top_risks=2)) != config_hash(ScoringConfig())


def test_scoring_on_spark_without_pyspark_says_how_to_install_it(monkeypatch, tmp_path):
    import datetime as dt

    import pandas as pd

    from healthscore.errors import ConfigError
    from healthscore.serving.settings import ScoringConfig
    from healthscore.serving.spark import score_on_spark

    monkeypatch.setitem(sys.modules, "pyspark", None)  # an import of it now fails
    with pytest.raises(ConfigError, match=r"scoring.engine: spark needs pyspark.*"
                                          r"pip install healthscore\[spark\]"):
        score_on_spark(None, pd.DataFrame({"account_id": [1]}), ScoringConfig(),
                       dt.date(2026, 1, 1), tmp_path / "scores")
