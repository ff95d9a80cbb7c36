"""Trend features from the optional ``metrics`` table: any account metric, no code needed.

Every metric found in the data (a CRM field, seats used, open opportunities, ...) gets the
same ten features, named ``metric_<statistic>__<metric>``, with the dimension, direction and
words its :class:`~healthscore.features.settings.MetricDefinition` gives (default: usage,
neutral). They are computed as of each snapshot *s* from measurements dated strictly before
*s*; with ``L`` = ``features.metrics.stale_after_days``:

- the **value as of a day d** is the latest measurement dated strictly before *d* (several
  on that day: their mean), provided it is at most ``L`` days older than *d*
  (``d - measured_at <= L``); otherwise it is unknown;
- ``last`` is the value as of *s*; ``change_30d`` is it minus the value as of *s* - 30
  (``change_90d``: *s* - 90), unknown when either is; ``pct_change_30d``/``_90d`` divide that
  change by the earlier value's magnitude (±100 % when the earlier value is 0, 0 when both
  are; capped at ±500 %);
- ``slope_90d``, ``min_90d``, ``max_90d`` use every measurement dated in [*s* - 90, *s*):
  the least-squares slope of value on day, per 30 days (unknown with fewer than two
  measurement days), and the extremes;
- ``days_since`` is *s* minus the latest measurement's date at any age (unknown if never
  measured); ``stale`` is 1 when there is no measurement within ``L`` days (never measured
  included), else 0.

Measurement dates may be irregular: nothing assumes a cadence.

Why not SQL like the other families: 100k accounts x 20 metrics x weekly measurements for
two years are 208M rows, and every exact SQL formulation measured on 2 cores was too slow
(a window over the rows: 67 s; sufficient statistics per account, metric and segment between
window boundaries: 27 s for the aggregation alone). Here DuckDB streams the rows once (in a
few passes over account chunks when they are many), a compiled kernel groups them by
(account, metric) with a counting sort, orders each short series by day and walks the
snapshots with three pointers. The point-in-time cut-off of this family is
:func:`_first_not_before`: the only comparison of a measurement date with a snapshot date.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import math
import time
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
from numba import njit, prange

from healthscore.data.dataset import Dataset
from healthscore.data.loaders import fetch_row
from healthscore.features.families import FAMILIES, METRICS_FAMILY
from healthscore.features.registry import Dimension, Direction, FeatureSpec, slug
from healthscore.features.scratch import Scratch
from healthscore.features.settings import MetricDefinition, MetricFeatures
from healthscore.features.snapshots import SPINE
from healthscore.sql import Params, literal

log = logging.getLogger(__name__)

# Measurements read per pass (about 28 bytes each in memory while a pass is grouped). A pass
# reads the rows of a range of account ids: the whole table when it is not sorted by account,
# only its share when it is (Parquet statistics skip the rest).
CHUNK_ROWS = 128_000_000
PCT_CAP = 5.0
SLOPE_PER_DAYS = 30


@dataclass(frozen=True)
class Statistic:
    """One of the features every metric gets; ``{label}``/``{unit}``/``{limit}`` are filled
    per metric. ``directed``: follows the metric's direction (else neutral)."""

    name: str
    unit: str
    description: str
    explain: str
    directed: bool = True
    fill: float | None = None


STATISTICS = (
    Statistic("last", "{unit}", "Latest {label} measured before the snapshot (unknown when it "
              "is more than {limit} days old).", "{label}: {{value:,.4g}}"),
    Statistic("change_30d", "{unit}", "{label} now minus its value as of 30 days earlier "
              "(each the latest measurement before the day, at most {limit} days old).",
              "{label} {{value:+,.4g}} vs 30 days earlier"),
    Statistic("pct_change_30d", "ratio", "Relative change of {label} vs its value as of 30 "
              "days earlier (±100 % from 0, capped at ±500 %).",
              "{label} {{value:+.0%}} vs 30 days earlier"),
    Statistic("change_90d", "{unit}", "{label} now minus its value as of 90 days earlier "
              "(each the latest measurement before the day, at most {limit} days old).",
              "{label} {{value:+,.4g}} vs 90 days earlier"),
    Statistic("pct_change_90d", "ratio", "Relative change of {label} vs its value as of 90 "
              "days earlier (±100 % from 0, capped at ±500 %).",
              "{label} {{value:+.0%}} vs 90 days earlier"),
    Statistic("slope_90d", "{unit} per 30 days", "Least-squares slope of {label} over its "
              "measurements in the 90 days before the snapshot, per 30 days.",
              "{label} trending {{value:+,.3g}} per 30 days over the last 90 days"),
    Statistic("min_90d", "{unit}", "Lowest {label} measured in the 90 days before the "
              "snapshot.", "{label} as low as {{value:,.4g}} in the last 90 days"),
    Statistic("max_90d", "{unit}", "Highest {label} measured in the 90 days before the "
              "snapshot.", "{label} as high as {{value:,.4g}} in the last 90 days"),
    Statistic("days_since", "days", "Days since {label} was last measured (unknown if never).",
              "{label} last measured {{value:.0f}} days ago", directed=False),
    Statistic("stale", "flag", "1 when {label} has no measurement in the {limit} days before "
              "the snapshot (or none at all), else 0.",
              "{label} not measured in {limit} days: {{value:.0f}} (1 = yes)", directed=False,
              fill=1.0),
)
TEMPLATE_NAMES = tuple(f"metric_{s.name}" for s in STATISTICS)
_STALE = len(STATISTICS) - 1


def metric_label(metric: str, definition: MetricDefinition) -> str:
    """The words for a metric in sentences: its configured label, else its name spaced out."""
    if definition.label:
        return definition.label
    words = " ".join(str(metric).replace("_", " ").split())
    return words[:1].upper() + words[1:]


def metric_specs(metric: str, definition: MetricDefinition, limit: int) -> list[FeatureSpec]:
    """The ten feature columns of one metric."""
    label = metric_label(metric, definition)
    safe = label.replace("{", "{{").replace("}", "}}")
    direction = Direction(definition.direction)
    specs = []
    for stat in STATISTICS:
        explain = stat.explain.format(label=safe, limit=limit)
        if stat.name == "last" and definition.explain:
            explain = definition.explain
        specs.append(FeatureSpec(
            name=f"metric_{stat.name}__{slug(metric)}", family=METRICS_FAMILY,
            dimension=Dimension(definition.dimension),
            direction=direction if stat.directed else Direction.NEUTRAL,
            unit=stat.unit.format(unit=definition.unit),
            description=stat.description.format(label=label, limit=limit),
            explain=explain, sql=f"metric {stat.name} of {metric!r}, stale after {limit} days",
            fill=stat.fill, template=f"metric_{stat.name}", parameter=metric,
        ))
    return specs


def metric_names(dataset: Dataset, config: MetricFeatures) -> list[str]:
    """The metrics that get features: defined ones first, then the most often measured, at
    most ``max_metrics``; one per column name (the more frequent spelling wins)."""
    rows = dataset.con.execute(
        f"SELECT metric, count(*) FROM ({FAMILIES[METRICS_FAMILY].source}) "
        "GROUP BY 1 ORDER BY 2 DESC, 1"
    ).fetchall()
    found = [str(metric) for metric, _ in rows]
    given = "definitions" in config.model_fields_set  # the defaults describe the demo world
    missing = [name for name in config.definitions if given and name not in found]
    for name in missing:
        close = difflib.get_close_matches(name, found, n=2)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        log.warning("features.metrics.definitions.%s: no such metric in the metrics table%s",
                    name, hint)
    defined = [m for m in found if m in config.definitions]
    others = [] if config.only_defined else [m for m in found if m not in config.definitions]
    by_slug: dict[str, str] = {}
    for metric in [*defined, *others]:
        kept = by_slug.setdefault(slug(metric), metric)
        if kept != metric:
            log.warning("metric %r gets no features: its column name collides with %r's",
                        metric, kept)
    chosen = list(by_slug.values())
    if len(chosen) > config.max_metrics:
        log.warning("%d metrics found; features for the first %d (features.metrics.max_metrics),"
                    " skipped: %s", len(chosen), config.max_metrics,
                    ", ".join(chosen[config.max_metrics:][:20]))
    return chosen[:config.max_metrics]


def candidate_metric_features(dataset: Dataset, config: MetricFeatures) -> list[FeatureSpec]:
    """Every metric feature this dataset supports under ``config``."""
    specs = []
    for metric in metric_names(dataset, config):
        definition = config.definitions.get(metric, MetricDefinition())
        specs.extend(metric_specs(metric, definition, config.stale_after_days))
    return specs


# --------------------------------------------------------------------------- the kernel

_NO_DAY = -(2**31)


@njit(cache=True, nogil=True)
def _count_series(series: np.ndarray, counts: np.ndarray) -> None:  # pragma: no cover - jit
    for r in range(series.shape[0]):
        counts[series[r] + 1] += 1


@njit(cache=True, nogil=True)
def _scatter(series: np.ndarray, day: np.ndarray, value: np.ndarray, cursor: np.ndarray,
             days: np.ndarray, values: np.ndarray) -> None:  # pragma: no cover - jit
    for r in range(series.shape[0]):
        j = cursor[series[r]]
        cursor[series[r]] = j + 1
        days[j] = day[r]
        values[j] = value[r]


@njit(cache=True, nogil=True)
def _sort_by_day(days: np.ndarray, values: np.ndarray, lo: int, hi: int) -> None:
    """Stable sort of rows lo..hi-1 by day: insertion sort for short series."""
    if hi - lo > 64:
        order = np.argsort(days[lo:hi], kind="mergesort")
        days[lo:hi] = days[lo:hi][order]
        values[lo:hi] = values[lo:hi][order]
        return
    for i in range(lo + 1, hi):
        d, v = days[i], values[i]
        j = i - 1
        while j >= lo and days[j] > d:
            days[j + 1] = days[j]
            values[j + 1] = values[j]
            j -= 1
        days[j + 1] = d
        values[j + 1] = v


@njit(cache=True, nogil=True)
def _first_not_before(days: np.ndarray, start: int, hi: int, cutoff: int) -> int:
    """THE point-in-time cut-off: the first row at or after ``start`` dated on or after
    ``cutoff``; rows before it are dated strictly before ``cutoff`` (the series is sorted)."""
    j = start
    while j < hi and days[j] < cutoff:
        j += 1
    return j


@njit(cache=True, nogil=True)
def _value_as_of(days: np.ndarray, values: np.ndarray, lo: int, end: int, cutoff: int,
                 limit: int) -> tuple[int, float]:
    """(day, value) of the latest measurement among rows lo..end-1 (all dated before
    ``cutoff``); the value is NaN when none is at most ``limit`` days old."""
    if end == lo:
        return _NO_DAY, np.nan
    latest = days[end - 1]
    total, n, k = 0.0, 0, end - 1
    while k >= lo and days[k] == latest:
        total += values[k]
        n += 1
        k -= 1
    if cutoff - latest > limit:
        return latest, np.nan
    return latest, total / n


@njit(cache=True, nogil=True)
def _relative(now: float, prior: float, cap: float) -> float:
    if math.isnan(now) or math.isnan(prior):
        return np.nan
    if prior == 0.0:
        return 0.0 if now == 0.0 else (1.0 if now > 0.0 else -1.0)
    return min(max((now - prior) / abs(prior), -cap), cap)


@njit(cache=True, nogil=True)
def _put(out: np.ndarray, row: int, col: int, value: float) -> None:
    if col >= 0:
        out[row, col] = value


@njit(cache=True, parallel=True)
def _series_features(bounds: np.ndarray, days: np.ndarray, values: np.ndarray, n_metrics: int,
                     first: int, snapshot_days: np.ndarray, rowmap: np.ndarray,
                     colmap: np.ndarray, limit: int, out: np.ndarray) -> None:
    """Every metric feature of every (account, metric) series of one chunk (accounts from
    index ``first``), written to ``out`` at the series' spine rows (``rowmap``) and the
    statistic's column (``colmap``)."""
    n_series = bounds.shape[0] - 1
    for s in prange(n_series):  # pragma: no cover - jit
        lo, hi = bounds[s], bounds[s + 1]
        if hi == lo:
            continue
        account = first + s // n_metrics
        cols = colmap[s % n_metrics]
        _sort_by_day(days, values, lo, hi)
        p_now, p_30, p_90 = lo, lo, lo
        for i in range(snapshot_days.shape[0]):
            snap = snapshot_days[i]
            p_now = _first_not_before(days, p_now, hi, snap)
            p_30 = _first_not_before(days, p_30, hi, snap - 30)
            p_90 = _first_not_before(days, p_90, hi, snap - 90)
            row = rowmap[account, i]
            if row < 0:
                continue
            latest, last = _value_as_of(days, values, lo, p_now, snap, limit)
            if latest == _NO_DAY:
                continue  # never measured: everything unknown, stale stays 1
            _put(out, row, cols[0], last)
            _, prior = _value_as_of(days, values, lo, p_30, snap - 30, limit)
            _put(out, row, cols[1], last - prior)
            _put(out, row, cols[2], _relative(last, prior, PCT_CAP))
            _, prior = _value_as_of(days, values, lo, p_90, snap - 90, limit)
            _put(out, row, cols[3], last - prior)
            _put(out, row, cols[4], _relative(last, prior, PCT_CAP))
            n = p_now - p_90  # the window [snap - 90, snap)
            if n > 0:
                low, high, mean_x, mean_v = np.inf, -np.inf, 0.0, 0.0
                for k in range(p_90, p_now):
                    low = min(low, values[k])
                    high = max(high, values[k])
                    mean_x += days[k] - snap
                    mean_v += values[k]
                mean_x /= n
                mean_v /= n
                sxx, sxv = 0.0, 0.0
                for k in range(p_90, p_now):
                    dx = days[k] - snap - mean_x
                    sxx += dx * dx
                    sxv += dx * (values[k] - mean_v)
                _put(out, row, cols[5], sxv / sxx * SLOPE_PER_DAYS if sxx > 0 else np.nan)
                _put(out, row, cols[6], low)
                _put(out, row, cols[7], high)
            _put(out, row, cols[8], float(snap - latest))
            _put(out, row, cols[9], 0.0 if snap - latest <= limit else 1.0)


def _epoch_days(dates: list) -> np.ndarray:
    return (pd.to_datetime(pd.Series(dates)).to_numpy().astype("datetime64[D]")
            .astype(np.int64).astype(np.int32))


@dataclass(frozen=True)
class _Codes:
    """This build's tables numbering the metrics (``metric``, ``code``) and the spine's
    accounts (``account_id``, ``idx``)."""

    metrics: str
    accounts: str


def _register_codes(scratch: Scratch, metrics: list[str]) -> _Codes:
    values = ", ".join(f"({literal(m)}, {i})" for i, m in enumerate(metrics))
    codes = scratch.table("metric_codes", "SELECT metric, CAST(code AS INTEGER) AS code "
                          f"FROM (VALUES {values}) AS v(metric, code)")
    accounts = scratch.table("metric_accounts", f"""
        SELECT account_id, CAST(row_number() OVER (ORDER BY account_id) - 1 AS INTEGER) AS idx
        FROM (SELECT DISTINCT account_id FROM {SPINE})
    """)
    return _Codes(codes, accounts)


def _spine_rows(con: duckdb.DuckDBPyConnection, codes: _Codes,
                snapshot_days: np.ndarray) -> np.ndarray:
    """(account index, snapshot index) -> row of the matrix (ordered by date, account)."""
    spine = con.execute(f"""
        SELECT a.idx, CAST(s.snapshot_date - DATE '1970-01-01' AS INTEGER) AS day
        FROM {SPINE} s JOIN {codes.accounts} a USING (account_id)
        ORDER BY s.snapshot_date, s.account_id
    """).fetchnumpy()
    (accounts,) = fetch_row(con, f"SELECT count(*) FROM {codes.accounts}")
    rowmap = np.full((int(accounts), len(snapshot_days)), -1, dtype=np.int64)
    snap = np.searchsorted(snapshot_days, spine["day"])
    rowmap[np.asarray(spine["idx"]), snap] = np.arange(len(snap))
    return rowmap


def _chunk_arrays(con: duckdb.DuckDBPyConnection, codes: _Codes, first: int, stop: int,
                  n_metrics: int, before: dt.date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pass over the family's rows of the accounts with index first..stop-1 (a range of
    account ids), grouped by series (account - first) * n_metrics + metric code."""
    family = FAMILIES[METRICS_FAMILY]
    low, high = con.execute(f"SELECT min(account_id), max(account_id) FROM {codes.accounts} "
                            "WHERE idx >= $first AND idx < $stop",
                            {"first": first, "stop": stop}).fetchall()[0]
    params = Params()
    reader = con.sql(f"""
        SELECT (a.idx - {params.bind("first", first)}) * {params.bind("n", n_metrics)}
               + c.code AS series,
               CAST(m.{family.time_column} - DATE '1970-01-01' AS INTEGER) AS day,
               CAST(m.value AS DOUBLE) AS value
        FROM (SELECT * FROM ({family.source}) WHERE account_id >= {params.bind("low", low)}
              AND account_id <= {params.bind("high", high)}
              AND {family.time_column} < {params.bind("before", before)}) m
        JOIN {codes.accounts} a USING (account_id) JOIN {codes.metrics} c USING (metric)
    """, params=params.values).to_arrow_reader(1 << 20)
    batches = [[b.column(i).to_numpy() for i in range(3)] for b in reader]
    return group_by_series(batches, (stop - first) * n_metrics)


def group_by_series(batches: list[list[np.ndarray]], n_series: int,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Measurements given as batches of (series, day, value) arrays, grouped by series with
    a counting sort: ``bounds`` (series ``i`` is ``bounds[i]:bounds[i + 1]``), days, values.
    The batches list is emptied as it is read."""
    bounds = np.zeros(n_series + 1, dtype=np.int64)
    for series, _, _ in batches:
        _count_series(series, bounds)
    bounds = np.cumsum(bounds)
    cursor = bounds[:-1].copy()
    days = np.empty(int(bounds[-1]), dtype=np.int32)
    values = np.empty(int(bounds[-1]), dtype=np.float64)
    while batches:
        series, day, value = batches.pop(0)
        _scatter(series, day, value, cursor, days, values)
    return bounds, days, values


def column_map(specs: list[FeatureSpec]) -> tuple[list[str], np.ndarray]:
    """The metrics of ``specs`` (in order) and the (metric, statistic) -> output column map
    (-1: not built)."""
    metrics = list(dict.fromkeys(s.parameter for s in specs if s.parameter is not None))
    stats = {f"metric_{s.name}": i for i, s in enumerate(STATISTICS)}
    colmap = np.full((len(metrics), len(STATISTICS)), -1, dtype=np.int64)
    for col, spec in enumerate(specs):
        colmap[metrics.index(spec.parameter), stats[spec.template]] = col
    return metrics, colmap


def rows_features(spine_index: np.ndarray, spine_days: np.ndarray, series: np.ndarray,
                  days: np.ndarray, values: np.ndarray, n_accounts: int,
                  snapshot_days: np.ndarray, colmap: np.ndarray, stale_after_days: int,
                  ) -> np.ndarray:
    """The metric features of a few accounts from their rows in memory (the kernel of
    :func:`metric_features`, for an engine that hands it one group of accounts at a time).

    ``spine_index``/``spine_days``: each spine row's account index (0..n_accounts-1) and
    snapshot day number; ``series``: each measurement's account index * metrics + metric
    code, with its day number (dated before the last snapshot) and value. Returns one row
    per spine row, one column per feature of ``colmap``."""
    n_metrics = colmap.shape[0]
    rowmap = np.full((n_accounts, len(snapshot_days)), -1, dtype=np.int64)
    rowmap[spine_index, np.searchsorted(snapshot_days, spine_days)] = np.arange(len(spine_days))
    out = np.full((len(spine_days), int(colmap.max()) + 1), np.nan)
    stale_cols = colmap[:, _STALE][colmap[:, _STALE] >= 0]
    out[:, stale_cols] = 1.0
    bounds, days, values = group_by_series(
        [[series.astype(np.int64), days.astype(np.int32), values.astype(np.float64)]],
        n_accounts * n_metrics)
    _series_features(bounds, days, values, n_metrics, 0, snapshot_days, rowmap, colmap,
                     stale_after_days, out)
    return out


def metric_features(dataset: Dataset, specs: list[FeatureSpec],
                    config: MetricFeatures) -> pd.DataFrame:
    """The metric feature columns for every row of the spine (built for the dates in
    ``snapshot_dates``), in the matrix's row order (snapshot date, account)."""
    con = dataset.con
    if not specs:
        return pd.DataFrame(index=pd.RangeIndex(0))
    dates = [row[0] for row in con.execute(
        "SELECT snapshot_date FROM snapshot_dates ORDER BY 1").fetchall()]
    metrics, colmap = column_map(specs)
    snapshot_days = np.sort(_epoch_days(dates))
    with Scratch(con) as scratch:
        codes = _register_codes(scratch, metrics)
        rowmap = _spine_rows(con, codes, snapshot_days)
        out = np.full((int((rowmap >= 0).sum()), len(specs)), np.nan)
        stale_cols = colmap[:, _STALE][colmap[:, _STALE] >= 0]
        out[:, stale_cols] = 1.0
        (rows,) = fetch_row(con, "SELECT count(*) FROM metrics")  # Parquet: from its metadata
        chunks = max(1, -(-int(rows) // CHUNK_ROWS))
        before = pd.Timestamp(max(dates)).date()
        edges = np.linspace(0, rowmap.shape[0], chunks + 1).astype(np.int64)
        for chunk in range(chunks):
            started = time.perf_counter()
            bounds, days, values = _chunk_arrays(con, codes, int(edges[chunk]),
                                                 int(edges[chunk + 1]), len(metrics), before)
            fetched = time.perf_counter()
            _series_features(bounds, days, values, len(metrics), int(edges[chunk]),
                             snapshot_days, rowmap, colmap, config.stale_after_days, out)
            log.debug("metrics chunk %d/%d: %d rows fetched in %.1fs, features in %.1fs",
                      chunk + 1, chunks, len(days), fetched - started,
                      time.perf_counter() - fetched)
    return pd.DataFrame(out, columns=[s.name for s in specs], copy=False)
