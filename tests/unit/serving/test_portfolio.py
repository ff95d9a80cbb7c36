"""Portfolio tables, CRM export and the HTML page on a 30-account score frame with hand-checked
numbers."""

from __future__ import annotations

import datetime as dt
import html
import re

import numpy as np
import pandas as pd
import pytest

from healthscore.errors import DataValidationError, ParameterError
from healthscore.serving.portfolio import (
    CRM_COLUMNS,
    band_summary,
    biggest_decliners,
    crm_export,
    expansion_candidates,
    owner_summary,
    render_portfolio,
    this_week,
    top_at_risk,
)

AS_OF = dt.date(2026, 3, 1)
BANDS = ["Critical", "At risk", "Moderate", "Healthy"]
# band: (accounts, ARR per account, churn probability)
WORLD = {"Critical": (4, 10_000.0, 0.8), "At risk": (6, 20_000.0, 0.6),
         "Moderate": (8, 5_000.0, 0.4), "Healthy": (12, 30_000.0, 0.1)}
PREFIX = {"Critical": "crit", "At risk": "risk", "Moderate": "mod", "Healthy": "heal"}
META = {"model_name": "healthscore", "model_version": "7", "run_id": "abc123"}


def make_scores() -> pd.DataFrame:
    """30 accounts: per band a fixed ARR and p, so every total is known by hand."""
    rows = []
    for band, (count, arr, p) in WORLD.items():
        for i in range(count):
            rows.append({"account_id": f"{PREFIX[band]}-{i:02d}", "band": band, "arr": arr,
                         "churn_probability": p, "health": round(100 * (1 - p), 1)})
    frame = pd.DataFrame(rows)
    n = len(frame)
    frame.insert(1, "as_of", AS_OF)
    frame["segment"] = np.where(np.arange(n) % 2, "smb", "enterprise")
    frame["lifecycle_stage"] = "mature"
    frame["days_to_renewal"] = 200
    frame["in_renewal_window"] = False
    frame["hard_stops"] = ""
    frame["override"] = ""
    frame["model_health"] = frame["health"]
    frame["base_health"] = 70.0
    for k in (1, 2, 3):
        risky = frame["band"].isin(["Critical", "At risk"]) | (k == 1)
        frame[f"risk_{k}_feature"] = np.where(risky, f"feature_{k}", "")
        frame[f"risk_{k}_dimension"] = np.where(risky, "usage", "")
        frame[f"risk_{k}_value"] = np.where(risky, "3", "")
        frame[f"risk_{k}_points"] = np.where(risky, -5.0 * k, 0.0)
        frame[f"risk_{k}_reason"] = np.where(risky, f"reason {k}", "")
    for k in (1, 2):
        for field in ("feature", "dimension", "value", "reason"):
            frame[f"strength_{k}_{field}"] = ""
        frame[f"strength_{k}_points"] = 0.0
    for dim in ("usage", "engagement", "relationship", "billing", "support", "sentiment",
                "commercial"):
        frame[f"points_{dim}"] = 0.0
    frame["dominant_risk_dimension"] = "usage"
    frame["playbook"] = "Re-onboard the team."
    frame["points_json"] = "{}"
    frame["model_name"] = "healthscore"
    frame["model_version"] = "7"
    frame["run_id"] = "abc123"
    frame["config_hash"] = "cafe"
    return frame


def with_trends(scores: pd.DataFrame) -> pd.DataFrame:
    scores = scores.copy()
    change = np.full(len(scores), np.nan)
    change[[0, 5, 12, 20, 25]] = [-3.0, -20.5, 4.0, -8.0, 0.0]
    scores["health_change_30d"] = change
    scores["health_change_90d"] = change * 2
    scores["momentum"] = np.where(change < 0, "declining", "stable")
    scores["previous_band"] = scores["band"]
    scores["alerts"] = ""
    scores.loc[5, "alerts"] = "health_drop;band_down"
    scores.loc[20, "alerts"] = "health_drop"
    scores["alert_reasons"] = ""
    scores.loc[5, "alert_reasons"] = "Health fell 20.5 points in 30 days"
    return scores


@pytest.fixture
def scores() -> pd.DataFrame:
    return make_scores()


def test_band_summary_matches_hand_numbers(scores):
    summary = band_summary(scores, BANDS).set_index("band")
    assert list(summary.index) == BANDS
    assert summary["accounts"].tolist() == [4, 6, 8, 12]
    assert summary["arr"].tolist() == [40_000, 120_000, 40_000, 360_000]
    assert summary["expected_arr_loss"].tolist() == pytest.approx([32_000, 72_000, 16_000,
                                                                   36_000])
    assert summary["share"].tolist() == pytest.approx([4 / 30, 6 / 30, 8 / 30, 12 / 30])
    assert summary["arr_share"].sum() == pytest.approx(1.0)
    assert summary.loc["At risk", "arr_share"] == pytest.approx(120_000 / 560_000)
    assert summary["mean_health"].tolist() == pytest.approx([20, 40, 60, 90])


def test_band_summary_lists_empty_and_unknown_bands(scores):
    scores.loc[scores["band"] == "Moderate", "band"] = "Watch"
    summary = band_summary(scores, BANDS)
    assert summary["band"].tolist() == [*BANDS, "Watch"]
    assert summary.set_index("band").loc["Moderate", "accounts"] == 0
    assert summary.set_index("band").loc["Moderate", "arr"] == 0
    assert summary["accounts"].sum() == 30


def test_top_at_risk_ranks_by_expected_arr_loss(scores):
    top = top_at_risk(scores, n=10)
    # expected loss per account: At risk 12,000 > Critical 8,000 > Healthy 3,000 > Moderate 2,000
    assert top["band"].tolist() == ["At risk"] * 6 + ["Critical"] * 4
    assert top["rank"].tolist() == list(range(1, 11))
    assert top["expected_arr_loss"].is_monotonic_decreasing
    assert top["account_id"].tolist()[:6] == sorted(top["account_id"].tolist()[:6])
    for column in ("health", "risk_1_reason", "risk_2_reason", "risk_3_reason",
                   "dominant_risk_dimension", "playbook", "hard_stops", "override"):
        assert column in top


def test_top_at_risk_a_large_healthy_account_can_lead(scores):
    scores.loc[scores["account_id"] == "heal-03", "arr"] = 1_000_000.0  # 100,000 expected loss
    top = top_at_risk(scores, n=3)
    assert top["account_id"].tolist() == ["heal-03", "risk-00", "risk-01"]
    assert len(top_at_risk(scores, n=0)) == 0


def test_top_at_risk_rejects_a_negative_n(scores):
    with pytest.raises(ParameterError, match="'n' parameter must be an int >= 0"):
        top_at_risk(scores, n=-1)


def test_biggest_decliners_order_and_only_declines(scores):
    decliners = biggest_decliners(with_trends(scores))
    assert decliners["health_change_30d"].tolist() == [-20.5, -8.0, -3.0]
    assert decliners["account_id"].tolist() == [scores.loc[i, "account_id"] for i in (5, 20, 0)]
    assert biggest_decliners(with_trends(scores), n=1)["health_change_30d"].tolist() == [-20.5]


@pytest.mark.parametrize("trend", ["absent", "all_nan"])
def test_biggest_decliners_empty_without_trend_data(scores, trend):
    if trend == "all_nan":
        scores["health_change_30d"] = np.nan
    decliners = biggest_decliners(scores)
    assert decliners.empty
    assert "health_change_30d" in decliners and "account_id" in decliners


def test_crm_export_columns_and_values(scores):
    scores.loc[0, "churn_probability"] = 0.123456
    scores.loc[0, "risk_3_reason"] = np.nan
    scores.loc[1, "override"] = "set to 40 by ana\nuntil 2026-04-01"
    export = crm_export(with_trends(scores))
    assert tuple(export.columns) == CRM_COLUMNS
    assert len(export) == 30
    assert export.loc[0, "churn_probability"] == 0.123
    assert export.loc[0, "as_of"] == "2026-03-01"
    assert export.loc[0, "top_risk_reasons"] == "reason 1 | reason 2"
    assert export.loc[29, "top_risk_reasons"] == "reason 1"  # healthy: one driver only
    assert export.loc[1, "override"] == "set to 40 by ana until 2026-04-01"
    assert export.loc[5, "alerts"] == "health_drop;band_down"
    text = [c for c in CRM_COLUMNS if c not in ("health", "churn_probability",
                                                "health_change_30d")]
    assert not export[text].isna().any().any()


def test_crm_export_without_trend_columns(scores):
    export = crm_export(scores)
    assert tuple(export.columns) == CRM_COLUMNS
    assert (export["momentum"] == "").all() and (export["alerts"] == "").all()
    assert export["health_change_30d"].isna().all()
    text = [c for c in CRM_COLUMNS if c not in ("health", "churn_probability",
                                                "health_change_30d")]
    assert not export[text].isna().any().any()


def test_crm_export_carries_expansion_and_horizon_columns_when_scored(scores):
    n = len(scores)
    scored = scores.assign(
        expansion_score=np.linspace(0, 100, n),
        expansion_1_reason=["=cmd()"] + ["Seats in use up 30 %"] * (n - 1),
        expansion_2_reason=["Seats in use up 30 %", "NPS 9"] + [""] * (n - 2),
        churn_within_365d=0.4444, churn_within_30d=0.11111, churn_within_90d=0.2,
        expected_months_24=np.full(n, 20.04))
    export = crm_export(scored)
    assert tuple(export.columns) == CRM_COLUMNS + (
        "expansion_score", "top_expansion_reasons", "churn_within_30d", "churn_within_90d",
        "churn_within_365d", "expected_months_24")
    assert export["expansion_score"].between(0, 100).all()
    assert export.loc[n - 1, "expansion_score"] == 100.0
    assert export.loc[0, "top_expansion_reasons"] == "'=cmd() | Seats in use up 30 %"
    assert export.loc[1, "top_expansion_reasons"] == "Seats in use up 30 % | NPS 9"
    assert export.loc[2, "top_expansion_reasons"] == "Seats in use up 30 %"
    assert export.loc[0, "churn_within_30d"] == 0.111
    assert export.loc[0, "expected_months_24"] == 20.0
    # a survival model without an expansion model: the horizon columns alone
    horizons_only = crm_export(scored.drop(columns=["expansion_score"]))
    assert tuple(horizons_only.columns) == CRM_COLUMNS + (
        "churn_within_30d", "churn_within_90d", "churn_within_365d", "expected_months_24")


def with_expansion(scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` with an expansion score rising with the row number (a tie at the top broken
    by ARR) and one expansion driver per account."""
    n = len(scores)
    readiness = np.linspace(0.0, 60.0, n)
    readiness[0] = 60.0  # a Critical account as ready as the best: never a candidate
    return scores.assign(expansion_score=readiness,
                         expansion_1_reason=[f"seats up {i}" for i in range(n)],
                         expansion_1_points=np.linspace(0.0, 6.0, n))


def test_expansion_candidates_rank_the_healthiest_band_by_readiness(scores):
    scored = with_expansion(scores)
    ready = expansion_candidates(scored, BANDS, n=5)
    healthy = scored[scored["band"] == "Healthy"].sort_values("expansion_score",
                                                             ascending=False)
    assert list(ready["account_id"]) == list(healthy["account_id"].head(5))
    assert list(ready["rank"]) == [1, 2, 3, 4, 5]
    assert (ready["band"] == "Healthy").all()
    assert ready["expansion_score"].is_monotonic_decreasing
    assert ready.loc[0, "expansion_1_reason"] == healthy["expansion_1_reason"].iloc[0]
    # ties: the larger ARR first
    tied = scored.assign(expansion_score=np.where(scored["band"] == "Healthy", 50.0, 0.0),
                         arr=np.arange(len(scored), dtype=float))
    top = expansion_candidates(tied, BANDS, n=2)
    assert list(top["arr"]) == sorted(tied.loc[tied["band"] == "Healthy", "arr"])[::-1][:2]


def test_expansion_candidates_empty_without_an_expansion_score(scores):
    ready = expansion_candidates(scores, BANDS)
    assert ready.empty and "expansion_score" in ready.columns


def test_portfolio_page_shows_expansion_only_with_an_expansion_model(scores):
    plain = render_portfolio(scores, AS_OF, BANDS, META)
    assert "Ready to expand" not in plain
    scored = with_expansion(scores)
    page = render_portfolio(scored, AS_OF, BANDS, META, top_n=3)
    section = page.split("<h2>Ready to expand</h2>", 1)[1].split("<h2>", 1)[0]
    best = expansion_candidates(scored, BANDS, n=3)
    for account, reason in zip(best["account_id"], best["expansion_1_reason"], strict=True):
        assert html.escape(account) in section and html.escape(reason) in section
    assert "crit-00" not in section  # ready but Critical


def test_missing_required_column_is_named(scores):
    with pytest.raises(DataValidationError, match=r"scores\.arr: required column missing"):
        band_summary(scores.drop(columns="arr"), BANDS)


def test_band_order_must_be_distinct_names(scores):
    with pytest.raises(ParameterError, match="band_order"):
        band_summary(scores, [])
    with pytest.raises(ParameterError, match="band_order"):
        band_summary(scores, ["Critical", "Critical"])


def test_render_portfolio_page(scores):
    scores = with_trends(scores)
    scores.loc[scores["account_id"] == "risk-00", "account_id"] = "<b>x</b>"
    scores.loc[1, "risk_1_reason"] = '<img src=x onerror="alert(1)">'
    scores.loc[2, "hard_stops"] = "seriously_past_due"
    scores.loc[3, "override"] = "set to 30 by ana until 2026-04-01: sponsor left"
    page = render_portfolio(scores, AS_OF, BANDS, META)
    assert page.startswith("<!doctype html>")
    assert "2026-03-01" in page
    assert "healthscore v7" in page and "abc123" in page
    for band in BANDS:
        assert html.escape(band) in page
    assert page.count("data:image/png;base64,") >= 2
    assert "<script" not in page.lower()
    assert "http://" not in page and "https://" not in page
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    top = page.index("Top 20 accounts at risk")
    assert page.index("&lt;b&gt;x&lt;/b&gt;", top) < page.index("risk-01", top)  # ranked first
    assert "Biggest decliners" in page and "-20.5" in page
    assert "<h2>Alerts</h2>" in page and "Health fell 20.5 points in 30 days" in page
    assert "capped by seriously_past_due" in page
    assert "override: set to 30 by ana until 2026-04-01: sponsor left" in page
    assert "560.0k" in page  # total ARR
    assert "160.0k" in page  # ARR in At risk + Critical
    assert "156.0k" in page  # expected ARR loss


def test_render_portfolio_without_trends_and_custom_bands(scores):
    names = {"Critical": "Red", "At risk": "Amber", "Moderate": "Yellow", "Healthy": "Green"}
    scores["band"] = scores["band"].map(names)
    page = render_portfolio(scores, AS_OF, list(names.values()),
                            {"name": "hs", "version": "2", "run_id": "r1"})
    for band in names.values():
        assert band in page
    assert "hs v2" in page
    assert "<h2>Alerts</h2>" not in page
    assert "No decliners to show" in page
    assert "ARR in Amber + Red" in page
    assert len(re.findall("data:image/png;base64,", page)) >= 2


def test_crm_export_neutralises_cells_that_would_run_as_formulas(scores):
    scores = scores.assign(account_id=["=HYPERLINK(\"http://x\")", "@SUM(A1)"]
                           + list(scores["account_id"].astype(str))[2:])
    export = crm_export(scores)
    assert export["account_id"].iloc[0] == "'=HYPERLINK(\"http://x\")"
    assert export["account_id"].iloc[1] == "'@SUM(A1)"
    assert not export["account_id"].iloc[2:].str.startswith("'").any()


# --------------------------------------------------------------------------- names and owners


def with_names(scores: pd.DataFrame) -> pd.DataFrame:
    scores = scores.copy()
    scores.insert(1, "name", [f"Company {i}" for i in range(len(scores))])
    scores.insert(2, "owner", ["ana" if i % 3 == 0 else "ben" if i % 3 == 1 else ""
                               for i in range(len(scores))])
    return scores


def test_crm_export_and_top_accounts_carry_name_and_owner(scores):
    named = with_names(scores)
    export = crm_export(named)
    assert list(export.columns[:3]) == ["account_id", "name", "owner"]
    assert export.loc[3, "name"] == "Company 3" and export.loc[3, "owner"] == "ana"
    assert export.loc[2, "owner"] == ""
    top = top_at_risk(named, n=3)
    assert top["name"].tolist() == ["Company 4", "Company 5", "Company 6"]  # risk-00 .. 02
    assert crm_export(scores)["name"].eq("").all()  # no names: empty, never NaN


def test_owner_summary_counts_each_owners_accounts(scores):
    summary = owner_summary(with_names(scores), BANDS).set_index("owner")
    assert summary["accounts"].to_dict() == {"ana": 10, "ben": 10, "(no owner)": 10}
    assert summary["accounts"].sum() == 30
    named = with_names(scores)
    ana = named[named["owner"] == "ana"]
    assert summary.loc["ana", "expected_arr_loss"] == pytest.approx(
        (ana["arr"] * ana["churn_probability"]).sum())
    assert summary.loc["ana", "at_risk"] == ana["band"].isin(BANDS[:2]).sum()
    assert owner_summary(scores, BANDS).empty  # no owner column: no section


def test_this_week_lists_low_band_renewals_and_big_drops_first_by_loss(scores):
    named = with_trends(with_names(scores))
    named.loc[named["account_id"] == "crit-01", "days_to_renewal"] = 30
    named.loc[named["account_id"] == "risk-02", "days_to_renewal"] = 60
    named.loc[named["account_id"] == "heal-00", "days_to_renewal"] = 10  # healthy: not a save
    actions = dict(this_week(named, BANDS))
    renewals = next(v for k, v in actions.items() if k.startswith("Call before the renewal"))
    assert renewals["account_id"].tolist() == ["risk-02", "crit-01"]  # 12,000 before 8,000
    drops = next(v for k, v in actions.items() if k.startswith("Check in"))
    assert drops["health_change_30d"].max() <= -10
    assert "2 account(s)" in next(k for k in actions if k.startswith("Call before"))


def test_the_page_shows_names_owners_and_what_to_do(scores):
    named = with_trends(with_names(scores))
    named.loc[named["account_id"] == "crit-01", "days_to_renewal"] = 30
    page = render_portfolio(named, AS_OF, BANDS, META)
    assert "What to do this week" in page and "By owner" in page
    assert "<b>Company 4</b>" in page  # risk-00 leads the at-risk table by name
    assert "owner ana" in page
    assert 'Company 1 (crit-01) <span class="muted">· ben</span>' in page  # the renewal call
    plain = render_portfolio(scores, AS_OF, BANDS, META)
    assert "By owner" not in plain and "What to do this week" in plain
