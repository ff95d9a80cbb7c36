"""Loading sources into DuckDB: files, folders, DuckDB, SQL, column mapping, mrr, fingerprints."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from healthscore.data.dataset import open_dataset
from healthscore.data.loaders import fingerprint_sources, resolve_sources
from healthscore.data.settings import DataConfig, TableSource
from healthscore.errors import DataSourceError, DataValidationError

END = dt.date(2024, 6, 30)


def accounts_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "account_id": [1, 2],
        "segment": ["smb", "enterprise"],
        "created_at": pd.to_datetime(["2023-01-01", "2023-02-01"]),
    })


def subscriptions_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "account_id": [1, 2],
        "subscription_id": [10, 20],
        "start_date": pd.to_datetime(["2023-01-01", "2023-02-01"]),
        "end_date": pd.to_datetime([None, "2024-02-01"]),
        "arr": [1200.0, 9000.0],
    })


def events_frame(account_ids: tuple[int, ...] = (1, 2, 2)) -> pd.DataFrame:
    n = len(account_ids)
    return pd.DataFrame({
        "account_id": list(account_ids),
        "occurred_at": pd.to_datetime(["2024-01-02"] * n),
        "event_type": ["login"] * n,
    })


@pytest.fixture
def required(tmp_path) -> dict[str, TableSource]:
    """Valid Parquet files for the three required tables."""
    folder = tmp_path / "required"
    folder.mkdir()
    sources = {}
    for name, frame in (("accounts", accounts_frame()), ("subscriptions", subscriptions_frame()),
                        ("events", events_frame())):
        frame.to_parquet(folder / f"{name}.parquet")
        sources[name] = TableSource(path=folder / f"{name}.parquet")
    return sources


def open_with(required: dict[str, TableSource], **overrides: TableSource):
    return open_dataset(DataConfig(dir=None, end_date=END, tables={**required, **overrides}))


def test_parquet_files(required):
    dataset = open_with(required)
    assert dataset.row_counts() == {"accounts": 2, "subscriptions": 2, "events": 3}
    assert dataset.frame("accounts")["segment"].tolist() == ["smb", "enterprise"]


def test_csv_file(required, tmp_path):
    path = tmp_path / "subs.csv"
    subscriptions_frame().to_csv(path, index=False)
    subs = open_with(required, subscriptions=TableSource(path=path)).frame("subscriptions")
    assert subs["arr"].tolist() == [1200.0, 9000.0]
    assert subs["end_date"].isna().tolist() == [True, False]
    assert subs["start_date"].dt.date.tolist() == [dt.date(2023, 1, 1), dt.date(2023, 2, 1)]


def test_csv_with_declared_format_and_odd_suffix(required, tmp_path):
    path = tmp_path / "subs.txt"
    subscriptions_frame().to_csv(path, index=False)
    dataset = open_with(required, subscriptions=TableSource(path=path, format="csv"))
    assert dataset.row_counts()["subscriptions"] == 2


def test_unknown_format_is_a_source_error(required, tmp_path):
    path = tmp_path / "subs.txt"
    path.write_text("account_id\n1\n")
    with pytest.raises(DataSourceError, match=r"cannot tell the format of .*subs\.txt"):
        open_with(required, subscriptions=TableSource(path=path))


def test_folder_of_parquet_parts(required, tmp_path):
    folder = tmp_path / "events"
    folder.mkdir()
    events_frame((1, 1)).to_parquet(folder / "part-0.parquet")
    events_frame((2, 2, 2)).to_parquet(folder / "part-1.parquet")
    events = open_with(required, events=TableSource(path=folder)).frame("events")
    assert sorted(events["account_id"]) == [1, 1, 2, 2, 2]


def test_glob_of_parquet_parts(required, tmp_path):
    for i in range(3):
        events_frame((1,)).to_parquet(tmp_path / f"events-{i}.parquet")
    (tmp_path / "other.parquet").write_bytes(b"not matched by the glob")
    dataset = open_with(required, events=TableSource(path=tmp_path / "events-*.parquet"))
    assert dataset.row_counts()["events"] == 3


def test_duckdb_database_tables(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(db))
    for name, frame in (("dim_accounts", accounts_frame()), ("subs", subscriptions_frame()),
                        ("usage", events_frame())):
        con.register("frame", frame)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
        con.unregister("frame")
    con.close()
    dataset = open_with({
        "accounts": TableSource(duckdb=db, table="dim_accounts"),
        "subscriptions": TableSource(duckdb=db, table="subs"),
        "events": TableSource(duckdb=db, table="usage"),
    })
    assert dataset.row_counts() == {"accounts": 2, "subscriptions": 2, "events": 3}


def test_missing_duckdb_table_names_the_table(required, tmp_path):
    db = tmp_path / "empty.duckdb"
    duckdb.connect(str(db)).close()
    with pytest.raises(DataSourceError, match=r"table 'events': cannot read .*empty\.duckdb:evts"):
        open_with(required, events=TableSource(duckdb=db, table="evts"))


def test_sql_query_through_sqlalchemy(required, tmp_path):
    db = tmp_path / "app.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE tracks (acct INTEGER, day TEXT, name TEXT)")
        con.executemany("INSERT INTO tracks VALUES (?, ?, ?)",
                        [(1, "2024-01-02", "login"), (2, "2024-01-03", "export"),
                         (2, "2025-01-01", "future")])
    source = TableSource(
        url=f"sqlite:///{db}",
        query="SELECT acct AS account_id, day AS occurred_at, name AS event_type FROM tracks "
              "WHERE day <= '2024-06-30'",
    )
    events = open_with(required, events=source).frame("events")
    assert events["event_type"].tolist() == ["login", "export"]
    assert events["occurred_at"].dt.date.tolist() == [dt.date(2024, 1, 2), dt.date(2024, 1, 3)]


def test_failing_sql_query_names_the_table_and_hides_the_password(required):
    source = TableSource(url="sqlite:///:memory:", query="SELECT * FROM no_such_table")
    with pytest.raises(DataSourceError, match="table 'events': query against sqlite:///:memory:"):
        open_with(required, events=source)
    with pytest.raises(DataSourceError) as info:
        open_with(required, events=TableSource(url="postgresql://bob:s3cret@localhost:1/db",
                                               query="select 1"))
    assert "s3cret" not in str(info.value)
    assert "postgresql://bob:***@localhost:1/db" in str(info.value)


def test_columns_mapping_renames_user_columns(required, tmp_path):
    path = tmp_path / "crm.parquet"
    accounts_frame().rename(columns={"account_id": "AccountId", "segment": "Tier",
                                     "created_at": "CreatedDate"}).assign(
        extra=["x", "y"]).to_parquet(path)
    source = TableSource(path=path, columns={"account_id": "AccountId", "segment": "tier",
                                             "created_at": "CreatedDate"})
    accounts = open_with(required, accounts=source).frame("accounts")
    assert list(accounts.columns) == ["account_id", "name", "owner", "segment", "industry",
                                      "created_at"]
    assert accounts["segment"].tolist() == ["smb", "enterprise"]
    assert accounts["account_id"].tolist() == [1, 2]


def test_owner_is_optional_in_the_accounts_table(required, tmp_path):
    from healthscore.serving.batch import account_labels

    without = open_with(required)  # accounts_frame() has no name or owner column
    assert without.frame("accounts")["owner"].isna().all()
    assert account_labels(without)["owner"].tolist() == ["", ""]  # empty text, never NaN
    path = tmp_path / "accounts.parquet"
    accounts_frame().assign(owner=["Ana", None]).to_parquet(path)
    owned = open_with(required, accounts=TableSource(path=path))
    assert account_labels(owned)["owner"].tolist() == ["Ana", ""]


def test_mrr_is_multiplied_by_twelve(required, tmp_path):
    path = tmp_path / "billing.csv"
    subscriptions_frame().rename(columns={"arr": "mrr_usd"}).assign(
        mrr_usd=[100.0, 750.5]).to_csv(path, index=False)
    source = TableSource(path=path, columns={"arr": "mrr_usd"}, mrr=True)
    subs = open_with(required, subscriptions=source).frame("subscriptions")
    assert subs["arr"].tolist() == [1200.0, 9006.0]


def test_without_mrr_flag_arr_is_kept(required):
    subs = open_with(required).frame("subscriptions")
    assert subs["arr"].tolist() == [1200.0, 9000.0]


def test_nonexistent_path_names_the_table(required, tmp_path):
    missing = tmp_path / "nope" / "events.parquet"
    with pytest.raises(DataSourceError) as info:
        open_with(required, events=TableSource(path=missing))
    assert str(info.value) == f"table 'events': {missing} does not exist"


def test_nonexistent_duckdb_file_names_the_table(required, tmp_path):
    with pytest.raises(DataSourceError, match=r"table 'accounts': DuckDB file .*nope\.duckdb"):
        open_with(required, accounts=TableSource(duckdb=tmp_path / "nope.duckdb", table="a"))


def test_missing_required_table_is_named(required, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    data = DataConfig(dir=empty, end_date=END,
                      tables={k: v for k, v in required.items() if k != "events"})
    with pytest.raises(DataSourceError) as info:
        open_dataset(data)
    message = str(info.value)
    assert message.startswith("required table(s) ['events'] have no source")
    assert f"looked in {empty}/<table>.parquet|.csv|/" in message


def test_dir_convention_finds_parquet_csv_and_folders(tmp_path):
    accounts_frame().to_parquet(tmp_path / "accounts.parquet")
    subscriptions_frame().to_csv(tmp_path / "subscriptions.csv", index=False)
    (tmp_path / "events").mkdir()
    events_frame().to_parquet(tmp_path / "events" / "part-0.parquet")
    data = DataConfig(dir=tmp_path, end_date=END)
    sources = resolve_sources(data)
    assert sources == {
        "accounts": TableSource(path=tmp_path / "accounts.parquet"),
        "subscriptions": TableSource(path=tmp_path / "subscriptions.csv"),
        "events": TableSource(path=tmp_path / "events"),
    }
    assert open_dataset(data).tables == ("accounts", "subscriptions", "events")


def test_tables_entries_override_the_dir(tmp_path, required):
    accounts_frame().iloc[:1].to_parquet(tmp_path / "accounts.parquet")
    data = DataConfig(dir=tmp_path, end_date=END, tables=required)
    assert resolve_sources(data)["accounts"] == required["accounts"]


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path)


def test_fingerprint_of_a_file_follows_its_content(tmp_path):
    path = tmp_path / "events.parquet"
    write_parquet(events_frame(), path)
    sources = {"events": TableSource(path=path)}
    first = fingerprint_sources(sources)
    assert fingerprint_sources(sources) == first
    write_parquet(events_frame(), path)  # same content rewritten
    assert fingerprint_sources(sources) == first
    write_parquet(events_frame((1, 2, 3)), path)
    assert fingerprint_sources(sources) != first


def test_fingerprint_of_a_folder_follows_its_parts(tmp_path):
    folder = tmp_path / "events"
    write_parquet(events_frame(), folder / "part-0.parquet")
    sources = {"events": TableSource(path=folder)}
    first = fingerprint_sources(sources)
    write_parquet(events_frame((1,)), folder / "part-1.parquet")
    second = fingerprint_sources(sources)
    assert second != first
    write_parquet(events_frame((2,)), folder / "part-1.parquet")
    assert fingerprint_sources(sources) != second


def test_fingerprint_depends_on_the_source_settings(tmp_path):
    path = tmp_path / "subs.parquet"
    write_parquet(subscriptions_frame(), path)
    plain = fingerprint_sources({"subscriptions": TableSource(path=path)})
    assert fingerprint_sources({"subscriptions": TableSource(path=path, mrr=True)}) != plain
    query = {"events": TableSource(url="sqlite:///x.db", query="select 1")}
    assert fingerprint_sources(query) == fingerprint_sources(dict(query))
    other = {"events": TableSource(url="sqlite:///x.db", query="select 2")}
    assert fingerprint_sources(query) != fingerprint_sources(other)


def test_dataset_fingerprint_changes_with_the_data(required):
    first = open_with(required).fingerprint
    assert open_with(required).fingerprint == first
    write_parquet(events_frame((1, 1, 1, 2)), required["events"].path)
    assert open_with(required).fingerprint != first


def test_fingerprint_of_a_glob_follows_its_files(tmp_path):
    write_parquet(events_frame(), tmp_path / "events-0.parquet")
    sources = {"events": TableSource(path=tmp_path / "events-*.parquet")}
    first = fingerprint_sources(sources)
    write_parquet(events_frame((1, 2, 3)), tmp_path / "events-0.parquet")
    assert fingerprint_sources(sources) != first


def crm_export(path: Path) -> TableSource:
    """A wide CRM export: one column per metric, empty where not measured."""
    pd.DataFrame({
        "Account": [1, 1, 2], "Snapshot": ["2024-01-05", "2024-02-05", "2024-01-07"],
        "Seats Used": [3, None, 40], "Open Opps": [1.5, 2.0, None], "Owner": ["a", "b", "c"],
    }).to_csv(path, index=False)
    return TableSource(path=path, wide=True, value_columns=["Seats Used", "open opps"],
                       columns={"account_id": "Account", "measured_at": "Snapshot"})


def test_a_wide_metrics_export_is_melted(required, tmp_path):
    metrics = open_with(required, metrics=crm_export(tmp_path / "crm.csv")).frame("metrics")
    rows = metrics.sort_values(["account_id", "measured_at", "metric"])
    assert rows.assign(measured_at=rows.measured_at.dt.strftime("%Y-%m-%d")).to_dict(
        "records") == [
        {"account_id": 1, "measured_at": "2024-01-05", "metric": "Open Opps", "value": 1.5},
        {"account_id": 1, "measured_at": "2024-01-05", "metric": "Seats Used", "value": 3.0},
        {"account_id": 1, "measured_at": "2024-02-05", "metric": "Open Opps", "value": 2.0},
        {"account_id": 2, "measured_at": "2024-01-07", "metric": "Seats Used", "value": 40.0},
    ], "empty cells are not measurements; other columns (Owner) are ignored"


def test_a_text_value_column_is_validated_cell_by_cell(required, tmp_path):
    source = crm_export(tmp_path / "crm.csv").model_copy(
        update={"value_columns": ["Seats Used", "Owner"]})
    with pytest.raises(DataValidationError) as info:
        open_with(required, metrics=source)
    (violation,) = info.value.violations
    assert (violation.table, violation.column, violation.rule, violation.count) == (
        "metrics", "value", "not coercible to float", 3)
    assert set(violation.samples["metric"]) == {"Owner"}


def test_a_missing_value_column_suggests_the_closest(required, tmp_path):
    source = crm_export(tmp_path / "crm.csv").model_copy(update={"value_columns": ["Seat Used"]})
    with pytest.raises(DataSourceError, match=r"value_columns 'Seat Used' \(did you mean "
                                              r"'Seats Used'\?\) not found in"):
        open_with(required, metrics=source)


def test_a_wide_export_missing_its_date_column_names_the_mapping(required, tmp_path):
    source = crm_export(tmp_path / "crm.csv").model_copy(
        update={"columns": {"account_id": "Account", "measured_at": "Date"}})
    with pytest.raises(DataValidationError, match=r"metrics.measured_at: required column "
                                                  r"missing \(mapped from 'Date', not found\)"):
        open_with(required, metrics=source)


@pytest.mark.parametrize(("source", "message"), [
    ({"path": "x.csv", "wide": True}, "a wide source needs `value_columns`"),
    ({"path": "x.csv", "value_columns": ["a"]}, "`value_columns` is only read with `wide: true`"),
    ({"path": "x.csv", "wide": True, "value_columns": ["a", "a"]}, "lists ['a'] more than once"),
])
def test_wide_source_settings_are_checked(source, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        TableSource(**source)


def test_wide_is_for_the_metrics_table_only_and_maps_only_its_keys():
    with pytest.raises(ValueError) as info:
        DataConfig(tables={
            "events": {"path": "e.csv", "wide": True, "value_columns": ["x"]},
            "metrics": {"path": "m.csv", "wide": True, "value_columns": ["Date", "y"],
                        "columns": {"measured_at": "date", "metric": "name"}},
        })
    message = str(info.value)
    assert "events.wide: only the metrics table can be a wide export" in message
    assert "metrics.columns maps column(s) ['metric']" in message
    assert "metrics.value_columns: ['Date'] are the account id or measurement date" in message


# ------------------------------------------------------------------- CSV reader options


def write_events(path: Path, text: str) -> TableSource:
    path.write_text(text)
    return TableSource(path=path)


def test_whitespace_separated_csv(required, tmp_path):
    source = write_events(tmp_path / "events.csv", "account_id   occurred_at\tevent_type\n"
                                                   "1  2024-01-02   login\n2 2024-01-03 export\n")
    events = open_with(required, events=source.model_copy(update={"whitespace": True}))
    assert events.frame("events")["event_type"].tolist() == ["login", "export"]


def test_delimiter_header_and_date_format(required, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("1;02/01/2024;login\n2;31/01/2024;export\n")
    source = TableSource(path=path, delimiter=";", header=False, date_format="%d/%m/%Y",
                         columns={"account_id": "column0", "occurred_at": "column1",
                                  "event_type": "column2"})
    events = open_with(required, events=source).frame("events")
    assert events["occurred_at"].dt.date.tolist() == [dt.date(2024, 1, 2), dt.date(2024, 1, 31)]


def test_a_date_that_does_not_match_the_format_is_a_violation(required, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("account_id,occurred_at,event_type\n1,02/01/2024,login\n2,2024-13-45,x\n")
    with pytest.raises(DataValidationError) as info:
        open_with(required, events=TableSource(path=path, date_format="%d/%m/%Y"))
    assert "events.occurred_at: not coercible to date (1 row)" in str(info.value)


def test_a_missing_column_lists_the_columns_found_and_hints_at_the_delimiter(required,
                                                                             tmp_path):
    source = write_events(tmp_path / "events.csv", "account_id occurred_at event_type\n"
                                                   "1 2024-01-02 login\n")
    with pytest.raises(DataValidationError) as info:
        open_with(required, events=source)
    message = str(info.value)
    assert ("events.occurred_at: required column missing; columns found in "
            f"{tmp_path / 'events.csv'}: 'account_id occurred_at event_type'") in message
    assert ("Only one column was found: the file is probably not comma-separated; set "
            "data.tables.events.delimiter (e.g. ';' or '\\t') or whitespace: true") in message


def test_a_missing_column_among_several_lists_them_without_the_hint(required, tmp_path):
    source = write_events(tmp_path / "events.csv", "account_id,day,event_type\n1,2024-01-02,x\n")
    with pytest.raises(DataValidationError) as info:
        open_with(required, events=source)
    message = str(info.value)
    assert "columns found in" in message and "'account_id', 'day', 'event_type'" in message
    assert "delimiter" not in message


@pytest.mark.parametrize(("options", "problem"), [
    ({"delimiter": ";", "whitespace": True}, "either `delimiter` or `whitespace: true`"),
    ({"whitespace": True, "format": "parquet"}, "CSV options need a CSV `path` source"),
    ({"header": False, "duckdb": "x.duckdb", "table": "t"}, "CSV options need a CSV"),
])
def test_csv_options_that_cannot_apply_are_config_errors(options, problem):
    source = {"path": "events.csv"} if "duckdb" not in options else {}
    with pytest.raises(ValueError, match=re.escape(problem)):
        TableSource(**source, **options)


def test_csv_options_on_a_parquet_file_are_an_error(required):
    source = required["events"].model_copy(update={"delimiter": ";"})
    with pytest.raises(DataSourceError, match="is Parquet; delimiter, whitespace and header "
                                              "apply to CSV files only"):
        open_with(required, events=source)


# ------------------------------------------------------------------ SQL driver packages


@pytest.mark.parametrize(("url", "package"), [
    ("snowflake://bob:s3cret@acct/db", "pip install snowflake-sqlalchemy"),
    ("nosuchdialect://host/db", "install the SQLAlchemy driver package for 'nosuchdialect'"),
])
def test_a_missing_sql_driver_names_the_package_to_install(required, url, package):
    with pytest.raises(DataSourceError) as info:
        open_with(required, events=TableSource(url=url, query="select 1"))
    message = str(info.value)
    assert "table 'events': no SQLAlchemy driver for" in message
    assert package in message
    assert "s3cret" not in message


def test_the_duckdb_driver_message_names_duckdb_engine_and_the_direct_source():
    from healthscore.data.loaders import missing_driver_message

    message = missing_driver_message(
        "duckdb:///warehouse.duckdb", "events",
        ImportError("Can't load plugin: sqlalchemy.dialects:duckdb"))
    assert "pip install duckdb-engine" in message
    assert "`duckdb: <file>` and `table:` instead of `url:`" in message
    assert "Can't load plugin: sqlalchemy.dialects:duckdb" in message
