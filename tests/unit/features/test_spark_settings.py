"""``features.engine: spark`` without pyspark is one clear configuration error, and the key is
checked like every other (default tier: no Spark needed)."""

from __future__ import annotations

import sys

import pytest

from healthscore.errors import ConfigError
from healthscore.features.settings import FeatureConfig, SparkSettings
from healthscore.features.spark import spark_session


def test_a_spark_build_without_pyspark_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)  # an import of it now fails
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(ConfigError, match=r"pip install healthscore\[spark\]"):
        spark_session(SparkSettings())


def test_the_engine_is_duckdb_or_spark():
    assert FeatureConfig().engine == "duckdb"
    assert FeatureConfig(engine="spark", spark={"master": "local[2]"}).spark.master == "local[2]"
    with pytest.raises(ValueError, match="engine"):
        FeatureConfig(engine="polars")
