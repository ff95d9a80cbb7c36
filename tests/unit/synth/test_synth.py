"""The synthetic world: determinism, the data contract, realism and writing it out."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from healthscore.data.schema import (
    ACCOUNT_ID,
    INVOICE_STATUSES,
    ROLES,
    SEVERITIES,
    TABLES,
    Kind,
)
from healthscore.data.settings import SynthConfig
from healthscore.synth import (
    GROUND_TRUTH,
    METRICS,
    PURCHASE,
    World,
    annual_churn_rates,
    event_directions,
    generate_world,
    synthesize,
    write_world,
)

SMALL = SynthConfig(accounts=1500, months=24, seed=11)
REALISTIC = SynthConfig(accounts=3000, months=36, seed=5)
EASY = REALISTIC.model_copy(update={"difficulty": "easy"})
MONTHLY = SynthConfig(accounts=3000, months=24, seed=5, business="monthly")
SHOP = SynthConfig(accounts=3000, months=24, seed=5, business="transactional")


@pytest.fixture(scope="module")
def small() -> World:
    return generate_world(SMALL)


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(REALISTIC)


@pytest.fixture(scope="module")
def easy() -> World:
    return generate_world(EASY)


@pytest.fixture(scope="module")
def monthly() -> World:
    return generate_world(MONTHLY)


@pytest.fixture(scope="module")
def shop() -> World:
    return generate_world(SHOP)


@pytest.fixture(scope="module")
def worlds(world: World, monthly: World, shop: World) -> dict[str, tuple[SynthConfig, World]]:
    """Every business shape at its default (realistic) difficulty."""
    return {"saas": (REALISTIC, world), "monthly": (MONTHLY, monthly),
            "transactional": (SHOP, shop)}


def _dates(table: str) -> list[str]:
    return [c.name for c in TABLES[table].columns if c.kind in (Kind.DATE, Kind.TIMESTAMP)]


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_tables(small: World) -> None:
    again = generate_world(SMALL)
    assert list(again.tables) == list(small.tables)
    for name, frame in small.tables.items():
        pd.testing.assert_frame_equal(again.tables[name], frame, obj=name)
    pd.testing.assert_frame_equal(again.ground_truth, small.ground_truth)
    assert (again.start_date, again.end_date) == (small.start_date, small.end_date)


def test_different_seed_gives_different_tables(small: World) -> None:
    other = generate_world(SMALL.model_copy(update={"seed": SMALL.seed + 1}))
    for name in ("accounts", "events", "invoices"):
        assert not other.tables[name].equals(small.tables[name]), name


def test_period_matches_config(small: World) -> None:
    assert small.start_date == SMALL.start_date
    assert small.end_date == dt.date(2025, 12, 31)
    months = small.ground_truth["month"]
    assert months.min() == pd.Timestamp(SMALL.start_date)
    assert months.nunique() == SMALL.months
    assert (months.dt.day == 1).all()


# --------------------------------------------------------------------------- contract


def test_every_contract_column_present_with_types(world: World) -> None:
    assert set(world.tables) == set(TABLES)
    for name, spec in TABLES.items():
        frame = world.tables[name]
        optional_absent = [c.name for c in spec.columns
                           if not c.required and c.name not in frame.columns]
        assert optional_absent in ([], ["amount"]), name  # the SaaS world sells no baskets
        assert list(frame.columns) == [c for c in spec.column_names if c in frame.columns], name
        assert len(frame) > 0, name
        for col in spec.columns:
            if col.name in optional_absent:
                continue
            series = frame[col.name]
            if col.kind in (Kind.DATE, Kind.TIMESTAMP):
                assert pd.api.types.is_datetime64_dtype(series), (name, col.name)
                assert (series.dropna().dt.normalize() == series.dropna()).all()
            elif col.kind in (Kind.ID, Kind.INT):
                assert series.dtype == np.int64, (name, col.name)
            elif col.kind == Kind.FLOAT:
                assert series.dtype == np.float64, (name, col.name)
            elif col.kind == Kind.BOOL:
                assert series.dtype == bool, (name, col.name)
            if not col.nullable and col.kind != Kind.FLOAT:
                assert series.notna().all(), (name, col.name)


def test_keys_unique_and_accounts_known(world: World) -> None:
    accounts = world.tables["accounts"]
    n = len(accounts)
    assert accounts[ACCOUNT_ID].tolist() == list(range(1, n + 1))
    known = set(accounts[ACCOUNT_ID])
    for name, spec in TABLES.items():
        frame = world.tables[name]
        if spec.key:
            assert not frame.duplicated(list(spec.key)).any(), name
        assert set(frame[ACCOUNT_ID].unique()) <= known, name
    assert set(world.ground_truth[ACCOUNT_ID].unique()) <= known


def test_dates_ranges_and_allowed_values(world: World) -> None:
    end = pd.Timestamp(world.end_date)
    for name, spec in TABLES.items():
        frame = world.tables[name]
        for col in spec.columns:
            if col.name not in frame.columns:
                continue
            values = frame[col.name]
            if col.not_after_end:
                assert (values.dropna() <= end).all(), (name, col.name)
            if col.min is not None:
                assert (values.dropna() >= col.min).all(), (name, col.name)
            if col.max is not None:
                assert (values.dropna() <= col.max).all(), (name, col.name)
            if col.allowed:
                assert values.isin(col.allowed).all(), (name, col.name)
        for rule in spec.order_rules:
            both = frame[[rule.earlier, rule.later]].dropna()
            assert (both[rule.later] >= both[rule.earlier]).all(), (name, rule)
    t = world.tables
    assert t["contacts"]["role"].isin(ROLES).all()
    assert t["tickets"]["severity"].isin(SEVERITIES).all()
    assert t["invoices"]["status"].isin(INVOICE_STATUSES).all()
    assert set(t["subscriptions"]["term_months"].unique()) <= {1, 12, 24}
    nps = t["surveys"]["nps"]
    assert nps.between(0, 10).all()
    csat = t["tickets"]["csat"]
    assert csat.dropna().isin([1.0, 2.0, 3.0, 4.0, 5.0]).all()
    assert 0.3 < csat.isna().mean() < 0.6


def test_passes_the_project_validator(world: World) -> None:
    from healthscore.data.dataset import dataset_from_frames

    dataset = dataset_from_frames(world.tables, world.end_date)
    assert set(dataset.tables) == set(TABLES)


def test_subscription_rows_chain_without_gaps(world: World) -> None:
    subs = world.tables["subscriptions"].sort_values([ACCOUNT_ID, "start_date"])
    accounts = world.tables["accounts"].set_index(ACCOUNT_ID)
    assert set(subs[ACCOUNT_ID]) == set(accounts.index)
    nxt = subs.groupby(ACCOUNT_ID)["start_date"].shift(-1)
    chained = nxt.notna()
    # a change ends one row and starts the next on the same day
    assert (subs.loc[chained, "end_date"] == nxt[chained]).all()
    # only an account's last row may be open; churned accounts have no open row
    assert subs.loc[chained, "end_date"].notna().all()
    first = subs.groupby(ACCOUNT_ID)["start_date"].min()
    assert (first >= accounts["created_at"]).all()
    assert ((first - accounts["created_at"]).dt.days <= 7).all()
    monthly = subs["plan"].str.endswith("_monthly")
    assert (subs.loc[monthly, "term_months"] == 1).all()
    assert (subs.loc[~monthly, "term_months"] >= 12).all()


def test_churn_matches_subscriptions(world: World) -> None:
    subs = world.tables["subscriptions"]
    last = subs.sort_values("start_date").groupby(ACCOUNT_ID).tail(1).set_index(ACCOUNT_ID)
    ended = last.index[last["end_date"].notna()]
    truth = world.ground_truth
    churned = truth.loc[truth["churned"], ACCOUNT_ID]
    assert churned.is_unique
    assert set(churned) == set(ended)
    month = truth.loc[truth["churned"]].set_index(ACCOUNT_ID)["month"]
    assert (last.loc[month.index, "end_date"].dt.to_period("M")
            == month.dt.to_period("M")).all()
    # nothing after churn: no customer months, no events after the churn date
    after = truth.merge(month.rename("churn_month"), on=ACCOUNT_ID)
    assert (after["month"] <= after["churn_month"]).all()
    events = world.tables["events"].merge(last["end_date"].dropna().rename("churn_day"),
                                          on=ACCOUNT_ID)
    assert (events["occurred_at"] < events["churn_day"]).all()


def test_annual_plans_churn_only_on_anniversaries(world: World) -> None:
    subs = world.tables["subscriptions"]
    first = subs.groupby(ACCOUNT_ID)["start_date"].min().rename("anchor")
    last = subs.sort_values("start_date").groupby(ACCOUNT_ID).tail(1)
    churned = last[last["end_date"].notna() & (last["term_months"] >= 12)].merge(
        first, on=ACCOUNT_ID)
    assert len(churned) > 20
    months = ((churned["end_date"].dt.year - churned["anchor"].dt.year) * 12
              + churned["end_date"].dt.month - churned["anchor"].dt.month)
    assert (months % 12 == 0).all() and (months >= 12).all()


def test_one_champion_at_a_time(world: World) -> None:
    contacts = world.tables["contacts"]
    champions = contacts[contacts["role"] == "champion"].sort_values([ACCOUNT_ID, "started_at"])
    assert set(champions[ACCOUNT_ID]) == set(world.tables["accounts"][ACCOUNT_ID])
    nxt = champions.groupby(ACCOUNT_ID)["started_at"].shift(-1)
    has_next = nxt.notna()
    assert champions.loc[has_next, "ended_at"].notna().all()
    assert (champions.loc[has_next, "ended_at"] <= nxt[has_next]).all()
    created = world.tables["accounts"].set_index(ACCOUNT_ID)["created_at"]
    assert (contacts["started_at"].to_numpy()
            >= created.loc[contacts[ACCOUNT_ID]].to_numpy()).all()


def test_events_one_row_per_user_and_week(world: World) -> None:
    # helpful usage: one row per active user and week; harmful rows come on top
    directions = event_directions("saas")
    events = world.tables["events"]
    events = events[events["event_type"].map(directions) == "helpful"]
    week = (events["occurred_at"] - pd.Timestamp(world.start_date)).dt.days // 7
    assert not pd.DataFrame({"a": events[ACCOUNT_ID], "u": events["user_id"], "w": week}
                            ).duplicated().any()
    assert (events["user_id"] // 10_000 == events[ACCOUNT_ID]).all()
    assert (events["quantity"] >= 1).all()
    assert events["event_type"].nunique() >= 5


# --------------------------------------------------------------------------- realism


@pytest.mark.parametrize("business", ["saas", "monthly", "transactional"])
def test_yearly_churn_per_segment_in_configured_range(worlds, business: str) -> None:
    # churned accounts / customer-years (every account-month as a customer counts 1/12)
    config, world = worlds[business]
    rates = annual_churn_rates(world.ground_truth)
    for segment, profile in config.segment_profiles().items():
        low, high = profile.annual_churn
        assert low <= rates[segment] <= high, (segment, rates[segment])
    if business == "saas":
        assert rates["smb"] > rates["enterprise"]
        assert 0.10 <= rates["all"] <= 0.20


def test_yearly_churn_of_the_easy_world_in_configured_range(easy: World) -> None:
    rates = annual_churn_rates(easy.ground_truth)
    for segment, profile in EASY.segment_profiles().items():
        low, high = profile.annual_churn
        assert low <= rates[segment] <= high, (segment, rates[segment])


def test_monthly_world_churns_one_to_three_percent_a_month_front_loaded(monthly: World) -> None:
    subs = monthly.tables["subscriptions"]
    assert (subs["term_months"] == 1).all()
    assert subs["plan"].str.endswith("_monthly").all()
    truth = monthly.ground_truth
    assert 0.01 <= truth["churned"].mean() <= 0.03
    created = truth[ACCOUNT_ID].map(monthly.tables["accounts"].set_index(ACCOUNT_ID)["created_at"])
    age = (truth["month"] - created).dt.days / 30.4
    new = created >= pd.Timestamp(monthly.start_date)
    young = truth.loc[new & age.between(1, 9), "churned"].mean()
    settled = truth.loc[age >= 12, "churned"].mean()
    assert young > 1.2 * settled, (young, settled)


def _churn_within(truth: pd.DataFrame, months: int) -> pd.Series:
    """Per account-month: did the account churn in this month or the next ``months - 1``."""
    churn_month = truth.loc[truth["churned"]].set_index(ACCOUNT_ID)["month"]
    when = truth[ACCOUNT_ID].map(churn_month)
    gap = (when.dt.year - truth["month"].dt.year) * 12 + when.dt.month - truth["month"].dt.month
    return gap.between(0, months - 1)


def test_champion_departure_raises_churn(world: World) -> None:
    # a departure makes accounts renewing within months give notice at once, and tips others
    # into a decline that churns at a later renewal: churn within 4 months rises sharply
    truth = world.ground_truth
    last = truth["month"].max() - pd.DateOffset(months=4)
    within = _churn_within(truth, 4)[truth["month"] <= last]
    left = truth.loc[truth["month"] <= last, "champion_left"]
    assert left.sum() > 150
    after_departure, baseline = within[left].mean(), within[~left].mean()
    assert after_departure > 3 * baseline, (after_departure, baseline)


def test_shocks_lower_latent_health(world: World) -> None:
    truth = world.ground_truth
    for shock in ("champion_left", "p1_outage", "payment_failure"):
        hit = truth[shock]
        assert hit.sum() > 50, shock
        assert truth.loc[hit, "latent_health"].mean() < truth.loc[~hit, "latent_health"].mean()


def test_usage_declines_before_churn(easy: World) -> None:
    # a strong-signal check, so on the easy world (the realistic one: see the event-type
    # tests below); helpful usage falls in the months before churn
    world = easy
    subs = world.tables["subscriptions"]
    first = subs.groupby(ACCOUNT_ID)["start_date"].min()
    last = subs.sort_values("start_date").groupby(ACCOUNT_ID).tail(1).set_index(ACCOUNT_ID)
    churn_day = last["end_date"].dropna()
    churn_day = churn_day[(churn_day - pd.Timedelta(days=270)
                           >= np.maximum(first.loc[churn_day.index],
                                         pd.Timestamp(world.start_date)))]
    assert len(churn_day) > 100
    events = world.tables["events"].merge(churn_day.rename("churn_day"), on=ACCOUNT_ID)
    events = events[events["event_type"].map(event_directions("saas")) == "helpful"]
    before = (events["churn_day"] - events["occurred_at"]).dt.days
    recent = events.loc[before.between(1, 90), "quantity"].sum() / 90
    earlier = events.loc[before.between(91, 270), "quantity"].sum() / 180
    assert recent < 0.95 * earlier, (recent, earlier)
    active_recent = before.between(1, 90).sum() / 90
    active_earlier = before.between(91, 270).sum() / 180
    assert active_recent < 0.97 * active_earlier


def test_low_health_shows_in_observables(world: World) -> None:
    truth = world.ground_truth
    health = truth.groupby(ACCOUNT_ID)["latent_health"].mean()
    low = health[health < health.quantile(0.2)].index
    high = health[health > health.quantile(0.8)].index
    nps = world.tables["surveys"].groupby(ACCOUNT_ID)["nps"].mean()
    assert nps.reindex(low).mean() < nps.reindex(high).mean() - 1
    invoices = world.tables["invoices"]
    late = ((invoices["paid_at"] - invoices["due_at"]).dt.days > 0).groupby(
        invoices[ACCOUNT_ID]).mean()
    assert late.reindex(low).mean() > late.reindex(high).mean()


def test_metrics_history_is_irregular_and_follows_health(world: World) -> None:
    metrics = world.tables["metrics"]
    assert set(metrics["metric"]) == {n for n, _ in METRICS}
    month = metrics["measured_at"].dt.to_period("M").dt.to_timestamp()
    health = world.ground_truth.set_index([ACCOUNT_ID, "month"])["latent_health"]
    joined = metrics.assign(health=health.reindex(
        pd.MultiIndex.from_arrays([metrics[ACCOUNT_ID], month])).to_numpy())
    assert joined["health"].notna().all(), "measured only in months the account is a customer"
    for name in ("seats_used", "api_calls", "crm_health_field"):
        rows = joined[joined["metric"] == name]
        assert rows["value"].corr(rows["health"], method="spearman") > 0.1, name
    gaps = (metrics.sort_values("measured_at").groupby([ACCOUNT_ID, "metric"])["measured_at"]
            .diff().dt.days.dropna())
    assert gaps.nunique() > 20 and gaps.min() == 0, "no fixed cadence"
    covered = metrics.loc[metrics["metric"] == "crm_health_field", ACCOUNT_ID].nunique()
    assert 0.2 < covered / len(world.tables["accounts"]) < 0.8, "some CSMs keep the field"


def test_metrics_stop_when_an_account_churns(world: World) -> None:
    subs = world.tables["subscriptions"]
    last = subs.sort_values("start_date").groupby(ACCOUNT_ID).tail(1).set_index(ACCOUNT_ID)
    churned = last["end_date"].dropna()
    metrics = world.tables["metrics"].merge(churned.rename("churn_day"), on=ACCOUNT_ID)
    assert len(metrics) and (metrics["measured_at"] < metrics["churn_day"]).all()


def test_new_accounts_keep_arriving(world: World) -> None:
    created = world.tables["accounts"]["created_at"]
    new = created[created >= pd.Timestamp(world.start_date)]
    assert 0.3 < len(new) / len(created) < 0.5
    assert new.dt.to_period("M").nunique() == REALISTIC.months
    assert (created < pd.Timestamp(world.start_date)).any()


def test_some_subscriptions_expand_and_some_contract(world: World) -> None:
    subs = world.tables["subscriptions"].sort_values([ACCOUNT_ID, "start_date"])
    previous = subs.groupby(ACCOUNT_ID)["seats"].shift(1)
    grew = subs["seats"] > previous
    shrank = subs["seats"] < previous
    assert grew.sum() > 50 and shrank.sum() > 20
    ratio = subs.loc[grew, "arr"] / subs.groupby(ACCOUNT_ID)["arr"].shift(1)[grew]
    assert ratio.between(1.1 - 1e-6, 1.5 + 1e-6).all()


# --------------------------------------------------------------------------- writing


def _read_parquet(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas(date_as_object=False)


def test_write_world_parquet_round_trip(small: World, tmp_path: Path) -> None:
    paths = write_world(small, tmp_path)
    assert set(paths) == {*TABLES, GROUND_TRUTH}
    for name, frame in small.tables.items():
        assert paths[name] == tmp_path / f"{name}.parquet"
        schema = pq.read_schema(paths[name])
        for col in _dates(name):
            assert str(schema.field(col).type) == "date32[day]", (name, col)
        pd.testing.assert_frame_equal(_read_parquet(paths[name]), frame, obj=name)
    pd.testing.assert_frame_equal(_read_parquet(tmp_path / "ground_truth.parquet"),
                                  small.ground_truth)
    manifest = json.loads((tmp_path / "world.json").read_text())
    assert manifest["seed"] == SMALL.seed
    assert manifest["months"] == SMALL.months
    assert manifest["end_date"] == small.end_date.isoformat()
    assert manifest["row_counts"]["events"] == len(small.tables["events"])


def test_write_world_csv(small: World, tmp_path: Path) -> None:
    write_world(small, tmp_path / "parquet_first")
    paths = write_world(small, tmp_path, fmt="csv")
    assert (tmp_path / "ground_truth.parquet").exists()
    for name, frame in small.tables.items():
        assert paths[name] == tmp_path / f"{name}.csv"
        back = pd.read_csv(paths[name], parse_dates=_dates(name))
        assert list(back.columns) == list(frame.columns)
        assert len(back) == len(frame), name
        for col in _dates(name):
            pd.testing.assert_series_equal(back[col].astype("datetime64[ms]"), frame[col],
                                           check_names=False)
    accounts = pd.read_csv(paths["accounts"])
    assert accounts[ACCOUNT_ID].tolist() == small.tables["accounts"][ACCOUNT_ID].tolist()


def test_write_world_replaces_other_format(small: World, tmp_path: Path) -> None:
    write_world(small, tmp_path, fmt="csv")
    write_world(small, tmp_path)
    assert not list(tmp_path.glob("*.csv"))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_synthesize_streams_events_and_matches_generate(small: World, tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    summary = synthesize(SMALL, tmp_path, progress=lambda *a: calls.append(a))
    parts = sorted((tmp_path / "events").glob("part-*.parquet"))
    assert len(parts) == SMALL.months
    events = pd.concat([_read_parquet(p) for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(events, small.tables["events"])
    pd.testing.assert_frame_equal(_read_parquet(tmp_path / "subscriptions.parquet"),
                                  small.tables["subscriptions"])
    assert summary.row_counts == {name: len(f) for name, f in small.tables.items()}
    assert summary.churn_rate_by_segment == annual_churn_rates(small.ground_truth)
    assert (summary.start_date, summary.end_date) == (small.start_date, small.end_date)
    assert summary.paths["events"] == tmp_path / "events"
    assert ("simulate", SMALL.months, SMALL.months) in calls
    assert calls[-1][0] == "write" and calls[-1][1] == calls[-1][2]
    assert json.loads((tmp_path / "world.json").read_text())["end_date"] == "2025-12-31"


# --------------------------------------------------------------------------- event types


def _churn_days(world: World) -> pd.Series:
    """Churn day per churned account, from the ground truth (the month's first day)."""
    truth = world.ground_truth
    return truth.loc[truth["churned"]].set_index(ACCOUNT_ID)["month"]


def _rate_by_type_before_churn(world: World, near: tuple[int, int], far: tuple[int, int]
                               ) -> pd.DataFrame:
    """Per event type: rows a day per churner in the ``near`` and ``far`` windows (days
    before the churn month), over churners observed for the whole ``far`` window."""
    churn = _churn_days(world)
    first = world.tables["accounts"].set_index(ACCOUNT_ID)["created_at"].clip(
        lower=pd.Timestamp(world.start_date))
    churn = churn[(churn - pd.Timedelta(days=far[1])) >= first.loc[churn.index]]
    assert len(churn) > 100
    events = world.tables["events"].merge(churn.rename("churn_day"), on=ACCOUNT_ID)
    before = (events["churn_day"] - events["occurred_at"]).dt.days
    rates = {}
    for name, (lo, hi) in (("near", near), ("far", far)):
        rows = events[before.between(lo, hi)]
        rates[name] = rows.groupby("event_type").size() / (hi - lo + 1) / len(churn)
    return pd.DataFrame(rates).fillna(0.0)


@pytest.mark.parametrize("business", ["saas", "monthly", "transactional"])
def test_harmful_event_types_rise_before_churn_and_helpful_fall(worlds, business: str) -> None:
    _, world = worlds[business]
    directions = event_directions(business)
    assert set(world.tables["events"]["event_type"]) == set(directions)
    assert {"harmful", "helpful"} == set(directions.values())
    rates = _rate_by_type_before_churn(world, (1, 90), (180, 360))
    change = rates["near"] / rates["far"]
    for event_type, direction in directions.items():
        if direction == "harmful":
            assert change[event_type] > 1.05, (business, event_type, change.to_dict())
        else:
            assert change[event_type] < 0.95, (business, event_type, change.to_dict())


def _counts_and_labels(world: World, months_back: int = 3, horizon: int = 3) -> pd.DataFrame:
    """Per account-month as a customer: each event type's rows in the ``months_back``
    months before it, and whether the account churns within ``horizon`` months."""
    events = world.tables["events"]
    month = events["occurred_at"].dt.to_period("M").dt.to_timestamp()
    monthly = (events.assign(month=month).groupby([ACCOUNT_ID, "month", "event_type"]).size()
               .unstack("event_type", fill_value=0))
    truth = world.ground_truth.set_index([ACCOUNT_ID, "month"])
    grid = monthly.reindex(truth.index, fill_value=0).sort_index()
    window = (grid.groupby(level=0).rolling(months_back, min_periods=months_back).sum()
              .droplevel(0).shift(0))
    previous = window.groupby(level=0).shift(1)  # the months before, not the month itself
    churn_month = _churn_days(world)
    snap = previous.index.get_level_values("month")
    when = pd.Series(previous.index.get_level_values(ACCOUNT_ID)).map(churn_month).to_numpy()
    gap = (pd.DatetimeIndex(when).to_period("M") - snap.to_period("M"))
    label = pd.Series([g.n if g is not pd.NaT else -1 for g in gap], index=previous.index)
    out = previous.assign(churn=label.between(0, horizon - 1)).dropna()
    return out


@pytest.mark.parametrize("business", ["saas", "monthly", "transactional"])
def test_each_event_types_association_with_churn_has_its_true_sign(worlds, business: str
                                                                   ) -> None:
    _, world = worlds[business]
    table = _counts_and_labels(world)
    assert table["churn"].sum() > 100
    for event_type, direction in event_directions(business).items():
        corr = table[event_type].corr(table["churn"].astype(float), method="spearman")
        expected = 1 if direction == "harmful" else -1
        assert np.sign(corr) == expected, (business, event_type, corr)


def test_directions_are_ground_truth_in_world_json_only(shop: World, tmp_path: Path) -> None:
    synthesize(SHOP.model_copy(update={"accounts": 300}), tmp_path)
    manifest = json.loads((tmp_path / "world.json").read_text())
    assert manifest["event_types"] == event_directions("transactional")
    assert manifest["business"] == "transactional"
    assert manifest["difficulty"] == "realistic"
    events = pd.concat([_read_parquet(p) for p in (tmp_path / "events").glob("*.parquet")])
    assert "direction" not in " ".join(events.columns)


# --------------------------------------------------------------------------- business shapes


def test_transactional_world_writes_no_subscriptions(shop: World, tmp_path: Path) -> None:
    assert "subscriptions" not in shop.tables and "invoices" not in shop.tables
    write_world(generate_world(SMALL), tmp_path)  # a saas world first: stale tables go
    summary = synthesize(SHOP.model_copy(update={"accounts": 300}), tmp_path)
    assert not list(tmp_path.glob("subscriptions*")) and not list(tmp_path.glob("invoices*"))
    assert "subscriptions" not in summary.row_counts
    assert set(summary.paths) == {"accounts", "events", "tickets", "surveys", GROUND_TRUTH}


def test_transactional_purchases_carry_an_amount(shop: World) -> None:
    events = shop.tables["events"]
    assert list(events.columns) == list(TABLES["events"].column_names)  # amount is last
    purchase = events["event_type"] == PURCHASE
    assert purchase.sum() > 1000
    assert (events.loc[purchase, "amount"] > 0).all()
    assert events.loc[~purchase, "amount"].isna().all()
    # heterogeneous rates: the busiest customers buy far more often than the median one
    per_account = events[purchase].groupby(ACCOUNT_ID).size()
    assert per_account.quantile(0.9) > 4 * per_account.median()
    churned = _churn_days(shop)
    after = events.merge(churned.rename("churn_month"), on=ACCOUNT_ID)
    assert (after["occurred_at"] < after["churn_month"] + pd.offsets.MonthEnd(1)
            + pd.Timedelta(days=1)).all()


def test_realistic_is_harder_than_easy(world: World, easy: World) -> None:
    # on easy, churners' helpful usage collapses before they leave; on realistic much less
    drops = {}
    for name, w in (("realistic", world), ("easy", easy)):
        rates = _rate_by_type_before_churn(w, (1, 60), (150, 330))
        helpful = [t for t, d in event_directions("saas").items() if d == "helpful"]
        drops[name] = rates.loc[helpful, "near"].sum() / rates.loc[helpful, "far"].sum()
    assert drops["easy"] < drops["realistic"] < 1.0, drops


def test_knobs_override_the_difficulty() -> None:
    knobs = SynthConfig(knobs={"silent_churners": 0.9}).resolved().knobs
    assert knobs.silent_churners == 0.9
    assert knobs.hidden_drivers > 0  # the rest from `realistic`
    easy = SynthConfig(difficulty="easy").resolved()
    assert easy.knobs.hidden_drivers == 0 and easy.churn_health_slope == 8.0


def test_segments_must_belong_to_the_business() -> None:
    with pytest.raises(ValueError, match="unknown segment"):
        SynthConfig(business="monthly",
                    segments={"smb": SynthConfig().segment_profiles()["smb"].model_copy(
                        update={"share": 1.0})})
