"""Drivers, bands, hard stops and overrides on a hand-built linear model with known answers."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from healthscore.errors import DataValidationError
from healthscore.model.artifact import FeatureMeta, HealthModel
from healthscore.model.explain import explain, health_points
from healthscore.serving.scorer import (
    apply_hard_stops,
    apply_overrides,
    assign_bands,
    read_overrides,
    score_accounts,
)
from healthscore.serving.settings import ScoringConfig

AS_OF = dt.date(2026, 3, 1)
FEATURES = {
    # name: (dimension, direction, weight on churn log-odds, training mean)
    "active_users_30d": ("usage", "higher_is_healthier", -0.5, 10.0),
    "days_past_due": ("billing", "higher_is_riskier", 0.08, 5.0),
    "open_p1_tickets": ("support", "higher_is_riskier", 1.2, 0.2),
    "has_champion": ("relationship", "higher_is_healthier", -1.5, 0.8),
    "days_to_renewal": ("commercial", "neutral", -0.01, 180.0),
}


class LinearModel:
    """z = base + sum w_i (x_i - mean_i): contributions known exactly."""

    name = "linear"

    def __init__(self, base: float = -2.0) -> None:
        self.base = base
        self.feature_names = list(FEATURES)
        self.w = np.array([v[2] for v in FEATURES.values()])
        self.mean = np.array([v[3] for v in FEATURES.values()])

    def contributions(self, x: pd.DataFrame) -> tuple[float, np.ndarray]:
        return self.base, (x[self.feature_names].to_numpy(float) - self.mean) * self.w

    def raw_score(self, x: pd.DataFrame) -> np.ndarray:
        base, phi = self.contributions(x)
        return base + phi.sum(axis=1)

    def raw_to_proba(self, z: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-z))


class Identity:
    def transform(self, p: np.ndarray) -> np.ndarray:
        return p


class Squash:
    """A monotone, non-linear calibrator (to test the log-odds -> points conversion)."""

    def transform(self, p: np.ndarray) -> np.ndarray:
        return p**1.5


def model(calibrator=None) -> HealthModel:
    metas = [FeatureMeta(n, d, direction, "u", f"{n} description", n + " is {value}", False)
             for n, (d, direction, _, _) in FEATURES.items()]
    return HealthModel(LinearModel(), calibrator or Identity(), metas)


def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "account_id": [1, 2, 3, 4],
        "segment": ["smb", "enterprise", "smb", "smb"],
        "lifecycle_stage": ["mature", "mature", "onboarding", "mature"],
        "arr": [1000.0, 50000.0, 2000.0, 3000.0],
        "in_renewal_window": [0, 1, 0, 0],
        "active_users_30d": [2.0, 12.0, 10.0, 14.0],
        "days_past_due": [45.0, 0.0, 5.0, 0.0],
        "open_p1_tickets": [0.0, 0.0, 2.0, 0.0],
        "has_champion": [0.0, 1.0, 1.0, 1.0],
        "days_to_renewal": [200.0, 40.0, 180.0, 300.0],
    })


@pytest.mark.parametrize("calibrator", [Identity(), Squash()], ids=["identity", "nonlinear"])
def test_points_add_up_to_the_health_difference(calibrator):
    m = model(calibrator)
    base_health, points, health = health_points(m, frame())
    np.testing.assert_allclose(points.sum(axis=1), health - base_health, atol=1e-9)
    z = -2.0 + ((frame()[list(FEATURES)].to_numpy() - LinearModel().mean) * LinearModel().w).sum(1)
    np.testing.assert_allclose(health, 100 * (1 - calibrator.transform(1 / (1 + np.exp(-z)))))
    # the conversion keeps each feature's share of the log-odds difference
    shares = points / points.sum(axis=1, keepdims=True)
    phi = LinearModel().contributions(frame())[1]
    np.testing.assert_allclose(shares, phi / phi.sum(axis=1, keepdims=True))


def test_rounded_drivers_add_up_within_a_tenth():
    out = explain(model(Squash()), frame())
    dims = out[[c for c in out.columns if c.startswith("points_") and c != "points_json"]]
    np.testing.assert_allclose(dims.sum(axis=1), out["model_health"] - out["base_health"],
                               atol=0.1)


def test_top_drivers_name_the_riskiest_features_with_sentences():
    out = explain(model(), frame(), playbooks={"billing": "fix payment method",
                                               "support": "escalate root cause"})
    first = out.iloc[0]  # few users, 45 days past due, no champion
    risks = {first[f"risk_{k}_feature"] for k in (1, 2, 3)}
    assert risks == {"active_users_30d", "days_past_due", "has_champion"}
    assert first["risk_1_points"] <= first["risk_2_points"] <= first["risk_3_points"] < 0
    assert first["risk_1_reason"].startswith(f"{first['risk_1_feature']} is ")
    third = out.iloc[2]  # two open P1 tickets
    assert third["risk_1_feature"] == "open_p1_tickets"
    assert third["dominant_risk_dimension"] == "support"
    assert third["playbook"] == "escalate root cause"
    fourth = out.iloc[3]  # healthy: strengths, no risks beyond what is there
    assert fourth["strength_1_points"] > 0 and fourth["strength_1_feature"] == "active_users_30d"


def test_commercial_timing_never_picks_the_playbook():
    rows = frame().assign(days_to_renewal=[1.0, 1.0, 1.0, 1.0])
    out = explain(model(), rows)
    assert (out["dominant_risk_dimension"] != "commercial").all()


def test_unmapped_columns_are_other_never_usage_and_pick_no_playbook():
    """A feature table's columns nobody mapped are filed under "other": their points are
    kept apart from usage, and no playbook is chosen from them."""
    m = model()
    m.features = [replace(f, dimension="other") for f in m.features]
    out = explain(m, frame(), playbooks={"usage": "re-onboard", "billing": "fix payment"})
    assert (out["points_usage"] == 0).all() and (out["points_billing"] == 0).all()
    np.testing.assert_allclose(out["points_other"], out["model_health"] - out["base_health"],
                               atol=0.1)
    dims = out[[f"risk_{k}_dimension" for k in (1, 2, 3)]].to_numpy().ravel()
    assert set(dims) - {""} == {"other"}
    assert (out["dominant_risk_dimension"] == "").all() and (out["playbook"] == "").all()


def test_hard_stops_cap_health_and_record_the_rule():
    config = ScoringConfig()
    health = np.array([90.0, 90.0, 90.0, 10.0])
    rows = frame().assign(days_past_due=[45.0, 0.0, 30.0, 60.0])
    capped, applied = apply_hard_stops(health, rows, config.hard_stops)
    assert list(capped) == [20.0, 90.0, 20.0, 10.0]  # 30 days is ">= 30"; 10 is already below
    assert list(applied) == ["seriously_past_due", "", "seriously_past_due,open_p1_ticket", ""]


def test_manual_overrides_apply_until_they_expire(tmp_path):
    table = pd.DataFrame({
        "account_id": [1, 2, 3],
        "value": [80.0, None, 55.0],
        "cap": [None, 30.0, None],
        "reason": ["signed renewal early", "legal dispute", "old note"],
        "author": ["ana", "bo", "cy"],
        "expires_at": ["2026-04-01", "2026-03-02", "2026-03-01"],
    })
    path = tmp_path / "overrides.csv"
    table.to_csv(path, index=False)
    overrides = read_overrides(path)
    health, applied = apply_overrides(np.array([40.0, 70.0, 70.0, 70.0]),
                                      frame()["account_id"], overrides, AS_OF)
    assert list(health) == [80.0, 30.0, 70.0, 70.0]  # account 3's override expired on AS_OF
    assert applied[0].startswith("set to 80 by ana until 2026-04-01")
    assert applied[1].startswith("capped at 30 by bo") and applied[2] == ""
    later, _ = apply_overrides(np.array([40.0, 70.0, 70.0, 70.0]), frame()["account_id"],
                               overrides, dt.date(2026, 3, 2))
    assert list(later) == [80.0, 70.0, 70.0, 70.0]


def test_bad_overrides_table_names_the_problem(tmp_path):
    path = tmp_path / "o.csv"
    pd.DataFrame({"account_id": [1], "value": [120.0], "cap": [None], "reason": ["x"],
                  "author": ["a"], "expires_at": ["2026-05-01"]}).to_csv(path, index=False)
    with pytest.raises(DataValidationError, match="overrides.value, cap: value/cap outside 0-100"):
        read_overrides(path)
    pd.DataFrame({"account_id": [1], "value": [50.0]}).to_csv(path, index=False)
    with pytest.raises(DataValidationError, match="overrides.reason: required column missing"):
        read_overrides(path)


def test_band_overrides_by_renewal_window_segment_and_stage():
    config = ScoringConfig.model_validate({"band_overrides": [
        {"segment": "enterprise", "bands": [
            {"name": "Critical", "low": 0, "high": 40}, {"name": "At risk", "low": 40, "high": 70},
            {"name": "Moderate", "low": 70, "high": 85}, {"name": "Healthy", "low": 85,
                                                          "high": 100}]},
        {"in_renewal_window": True, "bands": [
            {"name": "Critical", "low": 0, "high": 25}, {"name": "At risk", "low": 25, "high": 65},
            {"name": "Moderate", "low": 65, "high": 75}, {"name": "Healthy", "low": 75,
                                                          "high": 100}]},
    ]})
    context = frame().assign(in_renewal_window=[1, 1, 0, 0])
    bands = assign_bands(np.array([60.0, 60.0, 60.0, 100.0]), context, config)
    # smb in the renewal window: at risk below 65; enterprise rule wins for account 2
    assert list(bands) == ["At risk", "At risk", "Moderate", "Healthy"]
    assert list(assign_bands(np.array([24.9, 25.0, 74.9, 75.0]), frame().assign(
        in_renewal_window=0, segment="smb"), ScoringConfig())) == [
        "Critical", "At risk", "Moderate", "Healthy"]


def test_score_accounts_combines_model_stops_overrides_and_bands():
    rows = frame().assign(days_past_due=[45.0, 35.0, 5.0, 0.0])
    scores = score_accounts(model(), rows, ScoringConfig(), AS_OF)
    assert list(scores.columns[:3]) == ["account_id", "as_of", "segment"]
    assert scores.iloc[0]["hard_stops"] == ""  # the model already scores it below the cap
    second = scores.iloc[1]
    assert second["hard_stops"] == "seriously_past_due" and second["health"] == 20
    assert second["model_health"] > 20 and second["band"] == "Critical"
    third = scores.iloc[2]
    assert "open_p1_ticket" in third["hard_stops"] and third["health"] <= 40
    assert set(scores["band"]) <= {"Critical", "At risk", "Moderate", "Healthy"}
    assert scores["health"].between(0, 100).all()


def test_a_healthy_account_gets_a_playbook_only_for_a_material_risk():
    """Healthy accounts whose worst dimension costs a few points carry no playbook into the
    CRM export; every account outside the healthiest band keeps its playbook."""
    plays = {"usage": "re-onboard", "billing": "fix payment", "support": "escalate",
             "relationship": "find a champion"}
    rows = frame().assign(active_users_30d=[2.0, 6.0, 8.0, 9.5], days_past_due=0.0,
                          open_p1_tickets=0.0, has_champion=1.0, days_to_renewal=300.0)
    everyone = score_accounts(model(), rows, ScoringConfig(playbooks=plays,
                                                           playbook_min_points=0), AS_OF)
    material = score_accounts(model(), rows, ScoringConfig(playbooks=plays), AS_OF)
    healthy = (everyone["band"] == "Healthy").to_numpy()
    cost = -everyone["points_usage"].to_numpy()
    assert healthy.any() and (~healthy).any()
    assert (everyone["playbook"] == "re-onboard").all()  # usage is every account's worst risk
    small = healthy & (cost < 5)
    assert small.any()  # the 9.5-user account loses a point to usage: nothing to do
    assert (material.loc[small, "playbook"] == "").all()
    assert (material.loc[~small, "playbook"] == "re-onboard").all()
