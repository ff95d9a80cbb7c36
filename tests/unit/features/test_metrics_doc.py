"""The wide CRM export of docs/data-contract.md loads with its config and gives the numbers the
page states (the page's table and YAML are read from the page itself)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from tiny_world import tiny_frames

from healthscore.data.dataset import open_dataset
from healthscore.data.settings import DataConfig
from healthscore.features.engine import build_feature_matrix
from healthscore.features.settings import FeatureConfig

DOC = Path(__file__).parents[3] / "docs" / "data-contract.md"
SECTION = "## Metric histories: a wide CRM export"
SNAPSHOT = dt.date(2024, 6, 1)


def example() -> tuple[pd.DataFrame, dict]:
    """The page's CSV table and YAML config."""
    text = DOC.read_text().split(SECTION, 1)[1]
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [[c.strip() or None for c in line.strip("|").split("|")] for line in lines[2:]]
    frame = pd.DataFrame(rows, columns=header)
    config = yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, re.S).group(1))
    return frame, config


@pytest.fixture
def matrix(tmp_path, monkeypatch):
    crm, config = example()
    crm.to_csv(tmp_path / "crm_weekly.csv", index=False)
    frames = tiny_frames()
    ids = {1: "acc_001", 2: "acc_002", 3: "acc_003"}
    del frames["metrics"]
    for name, frame in frames.items():
        frame["account_id"] = frame["account_id"].map(ids)
        frame.to_parquet(tmp_path / f"{name}.parquet")
    subs = frames["subscriptions"]  # keep both accounts customers on the snapshot date
    subs["end_date"] = pd.NaT
    subs.to_parquet(tmp_path / "subscriptions.parquet")
    monkeypatch.chdir(tmp_path)
    data = DataConfig(dir=tmp_path, end_date=dt.date(2024, 12, 31), **config["data"])
    features = FeatureConfig(**config["features"])
    return build_feature_matrix(open_dataset(data), features, dates=[SNAPSHOT])


def test_the_documented_example_gives_the_documented_values(matrix):
    frame = matrix.frame.set_index("account_id")
    seats = frame.loc["acc_001"]
    assert seats["metric_last__seats_used"] == 33
    assert seats["metric_days_since__seats_used"] == 8
    assert seats["metric_stale__seats_used"] == 0
    assert pd.isna(seats["metric_change_30d__seats_used"])
    assert (seats["metric_min_90d__seats_used"], seats["metric_max_90d__seats_used"]) == (33, 41)
    assert seats["metric_slope_90d__seats_used"] == pytest.approx(-11.5, abs=0.05)


def test_the_documented_definitions_reach_the_features(matrix):
    specs = {s.name: s for s in matrix.features}
    assert specs["metric_last__seats_used"].sentence(33) == "33 seats in use"
    assert specs["metric_last__open_opportunities"].dimension.value == "commercial"
    assert specs["metric_slope_90d__csm_health"].direction.value == "higher_is_healthier"
    assert specs["metric_last__api_calls"].direction.value == "learned"
    assert len([s for s in specs if s.startswith("metric_")]) == 40
