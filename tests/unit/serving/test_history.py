"""The score history: both stores replace a date's rows per role in one transaction."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from healthscore.errors import ConfigError, LockHeldError
from healthscore.serving.history import (
    PRIMARY,
    SHADOW,
    DuckDBHistory,
    SQLHistory,
    history_rows,
    open_history,
)

D1, D2 = dt.date(2025, 1, 1), dt.date(2025, 2, 1)


def scores(health: list[float], ids=(1, 2, 3), version: str = "1") -> pd.DataFrame:
    return pd.DataFrame({
        "account_id": list(ids), "health": health, "band": ["Healthy"] * len(ids),
        "churn_probability": [1 - h / 100 for h in health], "arr": [1000.0] * len(ids),
        "points_json": ['{"events_30d": -1.5}'] * len(ids), "model_name": "healthscore",
        "model_version": version, "run_id": "abc", "config_hash": "h",
        "scored_at": pd.Timestamp("2025-01-01 06:00"), "unrelated_column": 1,
    })


@pytest.fixture(params=["duckdb", "sqlite"])
def store(request, tmp_path):
    if request.param == "duckdb":
        return DuckDBHistory(tmp_path / "history.duckdb")
    return SQLHistory(f"sqlite:///{tmp_path / 'history.db'}")


def test_an_empty_store_reads_as_no_rows(store) -> None:
    frame = store.read()
    assert frame.empty and "health" in frame.columns
    assert store.dates() == []


def test_replace_writes_rows_and_reads_them_back_typed(store) -> None:
    store.replace(D1, {PRIMARY: scores([90.0, 50.0, 20.0])})
    back = store.read()
    assert back["as_of"].tolist() == [D1] * 3
    assert back["account_id"].tolist() == ["1", "2", "3"]  # ids are stored as text
    assert back["health"].tolist() == [90.0, 50.0, 20.0]
    assert set(back["role"]) == {PRIMARY}
    assert back["points_json"].iat[0] == '{"events_30d": -1.5}'
    assert "unrelated_column" not in back


def test_rerunning_a_date_replaces_its_rows_and_keeps_other_dates(store) -> None:
    store.replace(D1, {PRIMARY: scores([90.0, 50.0, 20.0])})
    store.replace(D2, {PRIMARY: scores([80.0, 40.0, 10.0])})
    store.replace(D2, {PRIMARY: scores([81.0, 41.0], ids=(1, 2), version="2")})
    back = store.read()
    assert len(back) == 5
    assert back.loc[back["as_of"] == D2, "health"].tolist() == [81.0, 41.0]
    assert set(back.loc[back["as_of"] == D2, "model_version"]) == {"2"}
    assert back.loc[back["as_of"] == D1, "health"].tolist() == [90.0, 50.0, 20.0]
    assert store.dates() == [D1, D2]


def test_roles_are_kept_apart(store) -> None:
    store.replace(D1, {PRIMARY: scores([90.0, 50.0, 20.0]), SHADOW: scores([70.0, 60.0, 5.0])})
    store.replace(D1, {PRIMARY: scores([91.0, 51.0, 21.0])})  # leaves the shadow rows alone
    assert store.read(role=SHADOW)["health"].tolist() == [70.0, 60.0, 5.0]
    assert store.read(role=PRIMARY)["health"].tolist() == [91.0, 51.0, 21.0]
    store.replace(D2, {SHADOW: scores([70.0, 60.0, 5.0])})
    assert store.dates(SHADOW) == [D1, D2] and store.dates() == [D1]


def test_read_filters_by_date_range(store) -> None:
    store.replace(D1, {PRIMARY: scores([90.0, 50.0, 20.0])})
    store.replace(D2, {PRIMARY: scores([80.0, 40.0, 10.0])})
    assert set(store.read(until=D1)["as_of"]) == {D1}
    assert set(store.read(since=D2)["as_of"]) == {D2}
    assert store.read(until=D1 - dt.timedelta(days=1)).empty


def test_a_failed_write_leaves_the_history_as_it_was(store, monkeypatch) -> None:
    from healthscore.serving import history

    store.replace(D1, {PRIMARY: scores([90.0, 50.0, 20.0])})
    real = history.history_rows

    def failing(frame, as_of, role):
        if role == PRIMARY:  # the shadow rows of the same call are already inserted
            raise RuntimeError("disk full")
        return real(frame, as_of, role)

    monkeypatch.setattr(history, "history_rows", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        store.replace(D1, {SHADOW: scores([70.0, 60.0, 5.0]), PRIMARY: scores([1.0, 2.0, 3.0])})
    monkeypatch.undo()
    assert store.read()["health"].tolist() == [90.0, 50.0, 20.0]
    assert store.read(role=SHADOW).empty  # rolled back with the rest


def test_history_rows_fill_missing_columns_and_type_ids() -> None:
    rows = history_rows(scores([90.0], ids=(np.int64(7),)).drop(columns=["arr", "points_json"]),
                        D1, PRIMARY)
    assert rows["account_id"].tolist() == ["7"]
    assert np.isnan(rows["arr"].iat[0])
    assert rows["points_json"].iat[0] == ""


def test_open_history_picks_the_store(tmp_path) -> None:
    assert isinstance(open_history(None, tmp_path), DuckDBHistory)
    assert open_history(None, tmp_path).location == str(tmp_path / "history.duckdb")
    assert isinstance(open_history(str(tmp_path / "h.duckdb"), tmp_path), DuckDBHistory)
    assert isinstance(open_history(f"sqlite:///{tmp_path / 'h.db'}", tmp_path), SQLHistory)


def test_a_bad_url_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="scoring.history: nosuchdialect://x is not a usable"):
        open_history("nosuchdialect://x", tmp_path)


def test_the_location_shown_hides_a_password(tmp_path) -> None:
    history = SQLHistory(f"sqlite:///{tmp_path / 'h.db'}")
    assert history.location.startswith("sqlite:///")
    with pytest.raises(ConfigError) as info:
        open_history("nosuchdialect://user:s3cret@host/db", tmp_path)
    assert "s3cret" not in str(info.value) and "user:***@host" in str(info.value)


def test_a_raw_at_sign_in_the_password_asks_for_percent_encoding(tmp_path) -> None:
    with pytest.raises(ConfigError) as info:
        open_history("postgresql+psycopg2://user:p@ss@host/db", tmp_path)
    message = str(info.value)
    assert "percent-encode" in message and "%40" in message
    assert "p@ss" not in message and "ss@host" not in message


def test_a_duckdb_history_locked_by_another_process_is_retryable(tmp_path) -> None:
    path = tmp_path / "history.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('locked', flush=True); time.sleep(60)", str(path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeldError) as info:
            open_history(str(path), tmp_path).replace(dt.date(2025, 1, 1), {})
        assert info.value.exit_code == 75
        assert f"score history {path} is locked by another process" in str(info.value)
    finally:
        holder.kill()
        holder.wait()


def old_store(kind: str, tmp_path) -> DuckDBHistory | SQLHistory:
    """A history written before ``expansion_score`` existed: the old table with one date."""
    from healthscore.serving import history

    old = {c: t for c, t in history.COLUMNS.items() if c not in history.ADDED_COLUMNS}
    rows = history_rows(scores([90.0, 50.0], ids=(1, 2)), D1, PRIMARY)[list(old)]
    if kind == "duckdb":
        import duckdb

        path = tmp_path / "old.duckdb"
        con = duckdb.connect(str(path))
        con.execute(f"CREATE TABLE health_scores ({', '.join(f'{c} {t}' for c, t in old.items())})"
                    .replace("DOUBLE PRECISION", "DOUBLE"))
        con.register("old_rows", rows)
        con.execute("INSERT INTO health_scores SELECT * FROM old_rows")
        con.close()
        return DuckDBHistory(path)
    import sqlalchemy

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(
            f"CREATE TABLE health_scores ({', '.join(f'{c} {t}' for c, t in old.items())})"))
        rows.to_sql("health_scores", connection, if_exists="append", index=False)
    engine.dispose()
    return SQLHistory(url)


def stored_columns(store) -> list[str]:
    if isinstance(store, DuckDBHistory):
        import duckdb

        con = duckdb.connect(str(store.path), read_only=True)
        try:
            return [r[0] for r in con.execute("DESCRIBE health_scores").fetchall()]
        finally:
            con.close()
    import sqlalchemy

    return [c["name"] for c in sqlalchemy.inspect(store.engine).get_columns("health_scores")]


@pytest.mark.parametrize("kind", ["duckdb", "sqlite"])
def test_a_history_written_before_the_expansion_score_is_migrated_on_write(kind, tmp_path
                                                                             ) -> None:
    store = old_store(kind, tmp_path)
    assert "expansion_score" not in stored_columns(store)
    before = store.read()  # readable as it is: the new column reads empty
    assert before["health"].tolist() == [90.0, 50.0] and before["expansion_score"].isna().all()
    newer = scores([80.0, 40.0], ids=(1, 2)).assign(expansion_score=[30.0, 5.0])
    store.replace(D2, {PRIMARY: newer})
    assert "expansion_score" in stored_columns(store)
    back = store.read()
    assert back.loc[back["as_of"] == D1, "expansion_score"].isna().all()  # old rows: empty
    assert back.loc[back["as_of"] == D2, "expansion_score"].tolist() == [30.0, 5.0]
    assert back.loc[back["as_of"] == D1, "health"].tolist() == [90.0, 50.0]  # kept as they were
    store.replace(D2, {PRIMARY: newer.assign(health=[81.0, 41.0], expansion_score=[31.0, 6.0])})
    assert store.read(since=D2)["expansion_score"].tolist() == [31.0, 6.0]  # and again
    assert stored_columns(store).count("expansion_score") == 1
