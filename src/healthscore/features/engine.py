"""Build the point-in-time feature matrix in DuckDB: spine, families, fills, audit, cache."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from healthscore import __version__
from healthscore.data.dataset import Dataset
from healthscore.data.loaders import fetch_row
from healthscore.data.schema import EVENT_TYPE, TABLES, Table
from healthscore.data.schema import Kind as ColumnKind
from healthscore.errors import ConfigError
from healthscore.features.families import FAMILIES, METRICS_FAMILY, SPINE_FAMILY, Family
from healthscore.features.labels import LabelSpec, label_specs
from healthscore.features.metrics import (
    TEMPLATE_NAMES,
    candidate_metric_features,
    metric_features,
)
from healthscore.features.registry import (
    Direction,
    FeatureSpec,
    Kind,
    all_features,
    all_templates,
    known_names,
    slug,
    unknown_name_message,
)
from healthscore.features.scratch import Scratch
from healthscore.features.settings import FeatureConfig, FeatureSelection, MetricFeatures
from healthscore.features.snapshots import (
    CONTEXT_COLUMNS,
    LABEL_COLUMNS,
    SPINE,
    build_spine,
    churn_definition,
    data_start,
    snapshot_dates,
)
from healthscore.features.sql import Renderer, duckdb_renderer
from healthscore.io import write_parquet, write_text
from healthscore.progress import Progress
from healthscore.sql import Dialect, Params, identifier

log = logging.getLogger(__name__)

FEATURE_MODULES = (
    "usage", "lifetime", "relationship", "billing", "support", "sentiment", "engagement",
    "commercial",
)
MAX_TEMPLATE_VALUES = 12
AUDIT_ROWS = 200_000
KEY_COLUMNS = ("account_id", "snapshot_date")


def load_feature_modules() -> None:
    """Import every feature module so its features are registered (idempotent)."""
    for name in FEATURE_MODULES:
        importlib.import_module(f"healthscore.features.{name}")


@dataclass
class FeatureMatrix:
    """One row per (account, snapshot): context, labels and feature columns."""

    frame: pd.DataFrame
    features: list[FeatureSpec]
    dates: list[dt.date]
    leakage: pd.DataFrame
    cache_key: str
    from_cache: bool = False
    # the cache's Parquet file holding this very frame (written when built, or read), if any
    cache_path: Path | None = None
    # what each label column means (label_churn, label_expansion), from the config and data
    labels: dict[str, LabelSpec] = field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        """Model input columns, in order."""
        return [f.name for f in self.features]

    def labelled(self) -> pd.DataFrame:
        """Rows whose label horizon is fully observed (usable for training and validation)."""
        return self.frame[self.frame["label_observed"]]


def available_families(dataset: Dataset) -> set[str]:
    """Families whose tables are present (and whose probe, if any, finds data)."""
    families = {SPINE_FAMILY}
    for family in FAMILIES.values():
        if not all(dataset.has(t) for t in family.requires):
            continue
        if family.probe and not fetch_row(dataset.con, family.probe)[0]:
            log.info("feature family %r has no data: switched off", family.name)
            continue
        families.add(family.name)
    return families


def template_table(column: str) -> Table | None:
    """The contract table a template's column belongs to (the first in the data schema that
    has a text column of that name), None when no table has it."""
    for table in TABLES.values():
        if column in table.column_names and table.column(column).kind is ColumnKind.TEXT:
            return table
    return None


def template_values(dataset: Dataset, column: str, limit: int = MAX_TEMPLATE_VALUES,
                    before: dt.date | None = None) -> list[str]:
    """The most frequent values of a text column (the table it belongs to: see
    :func:`template_table`), for template expansion; with ``before`` only rows dated before
    that day count (so later data cannot change the column set)."""
    table = template_table(column)
    if table is None or not dataset.has(table.name):
        return []
    params = Params()
    name = identifier(column)
    when = ""
    if before is not None and table.time_column is not None:
        when = f" AND {identifier(table.time_column)} < {params.bind('before', before)}"
    rows = dataset.con.execute(
        f"SELECT {name} FROM {identifier(table.name)} WHERE {name} IS NOT NULL{when} "
        f"GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT {params.bind('limit', int(limit))}",
        params.values,
    ).fetchall()
    by_slug: dict[str, str] = {}
    for (value,) in rows:  # two spellings with one column name: the more frequent wins
        by_slug.setdefault(slug(str(value)), str(value))
    return list(by_slug.values())


def per_type_cutoff(dates: list[dt.date], end_date: dt.date, horizon_days: int,
                    grace_days: int, test_days: int) -> dt.date | None:
    """The first day of the test period a time split of these snapshot dates would use (the
    last ``test_days`` before the newest snapshot whose label is observed); events dated
    before it choose the per-event-type columns. None when no snapshot is labelled."""
    labelled = [d for d in dates
                if d + dt.timedelta(days=horizon_days + grace_days - 1) <= end_date]
    return max(labelled) - dt.timedelta(days=test_days) if labelled else None


def event_type_values(dataset: Dataset, config: FeatureConfig | None,
                      before: dt.date | None) -> list[str]:
    """The event types that get per-type columns: ``features.event_types`` when set, else the
    most frequent before ``before``; types that only appear later are reported."""
    if config is not None and config.event_types is not None:
        present = set(template_values(dataset, EVENT_TYPE, limit=10_000))
        absent = [t for t in config.event_types if t not in present]
        if absent:
            log.warning("features.event_types: %s never occur in the events table; their "
                        "columns stay 0", absent)
        return list(dict.fromkeys(config.event_types))
    chosen = template_values(dataset, EVENT_TYPE, before=before)
    if before is not None:
        earlier = set(template_values(dataset, EVENT_TYPE, limit=10_000, before=before))
        later = [t for t in template_values(dataset, EVENT_TYPE, limit=10_000)
                 if t not in earlier]
        if later:
            log.warning("event types first seen on or after %s get no per-type columns (the "
                        "column set comes from the rows before the test period): %s; list "
                        "them in features.event_types to add them", before, later)
    return chosen


def candidate_features(dataset: Dataset, metrics: MetricFeatures | None = None,
                       config: FeatureConfig | None = None,
                       types_before: dt.date | None = None) -> list[FeatureSpec]:
    """Every feature that can be built on this dataset, templates expanded (per event type:
    see :func:`event_type_values`); the metric features (one set per metric of the
    ``metrics`` table, read as ``metrics`` says) last."""
    load_feature_modules()
    families = available_families(dataset)
    specs = [f for f in all_features()
             if f.family in families and all(dataset.has(t) for t in f.requires)]
    types: list[str] | None = None
    for template in all_templates():
        if template.spec.family in families:
            if template.over == EVENT_TYPE:
                types = types if types is not None else event_type_values(
                    dataset, config, types_before)
                values = types
            else:
                values = template_values(dataset, template.over)
            specs.extend(template.expand(v) for v in values)
    if METRICS_FAMILY in families:
        specs.extend(candidate_metric_features(dataset, metrics or MetricFeatures()))
    return specs


def declared_directions(names: list[tuple[str, str | None, str | None]],
                        directions: dict[str, str], extra_known: Iterable[str] = (),
                        key_path: str = "features.directions") -> dict[str, Direction]:
    """Which feature columns ``features.directions`` declares, and how.

    ``names``: (column, template, parameter) of every candidate column. A key may name a
    column, a template (all its columns) or a template parameter such as an event type (all
    its per-type columns); the most specific wins. An unknown key is one ConfigError with
    suggestions.
    """
    known = ({n for n, _, _ in names} | {t for _, t, _ in names if t}
             | {p for _, _, p in names if p} | {slug(p) for _, _, p in names if p}
             | set(extra_known))
    problems = [f"{key_path}.{key}: {unknown_name_message(key, known)} (not a feature, "
                "template or event type of this data)" for key in directions if key not in known]
    if problems:
        raise ConfigError(key_path, problems)
    out: dict[str, Direction] = {}
    for name, template, parameter in names:
        for key in (name, parameter, slug(parameter) if parameter else None, template):
            if key is not None and key in directions:
                out[name] = Direction(directions[key])
                break
    return out


def with_directions(specs: list[FeatureSpec], directions: dict[str, str],
                    extra_known: Iterable[str] = ()) -> list[FeatureSpec]:
    """``specs`` with the directions ``features.directions`` declares (source "config")."""
    if not directions:
        return specs
    declared = declared_directions([(s.name, s.template, s.parameter) for s in specs],
                                   directions, extra_known)
    return [replace(s, direction=declared[s.name],
                    direction_source="config" if declared[s.name].sign else "learned")
            if s.name in declared else s for s in specs]


def select_features(candidates: list[FeatureSpec], selection: FeatureSelection,
                    ) -> list[FeatureSpec]:
    """Apply the config's selection; unknown names are one error with suggestions."""
    known = set(known_names()) | set(TEMPLATE_NAMES) | {c.name for c in candidates}
    problems = [
        f"features.select.{key}[{i}]: {unknown_name_message(name, known)}"
        for key in ("names", "exclude")
        for i, name in enumerate(getattr(selection, key))
        if name not in known
    ]
    if problems:
        raise ConfigError("features.select", problems)

    def named(spec: FeatureSpec, names: Iterable[str]) -> bool:
        return spec.name in names or (spec.template is not None and spec.template in names)

    chosen = [
        c for c in candidates
        if (not selection.dimensions and not selection.names)
        or c.dimension.value in selection.dimensions
        or named(c, selection.names)
    ]
    chosen = [c for c in chosen if not named(c, selection.exclude)]
    for name in selection.names:
        if not any(named(c, [name]) for c in candidates):
            log.warning("feature %r was selected but its source table is absent: skipped", name)
    return chosen


def _fill(spec: FeatureSpec, expr: str, render: Renderer) -> str:
    if spec.kind is Kind.CATEGORICAL:
        return f"CAST({expr} AS {render.text_type()})"
    value = f"CAST({expr} AS DOUBLE)"
    return value if spec.fill is None else f"coalesce({value}, {spec.fill})"


def family_relation(family: Family, members: list[FeatureSpec], render: Renderer,
                    scratch: Scratch | None = None) -> str:
    """One family's feature columns (one row per spine row) as a relation for the matrix query:
    a parenthesised query composed into it, or, given ``scratch``, a table of this build (the
    family's prepared source too), so that its time can be measured on its own."""
    source = None
    if family.prepare is not None:
        values = sorted({m.parameter for m in members if m.parameter})
        source = family.prepare(values, render)
        if scratch is not None:
            source = f"SELECT * FROM {scratch.table(f'{family.name}_source', source)}"
    sql = family.features_sql({m.name: m.render(render) for m in members}, source, render)
    return f"({sql})" if scratch is None else scratch.table(f"feat_{family.name}", sql)


def compute_features(
    dataset: Dataset, specs: list[FeatureSpec], progress: Progress | None = None,
    metrics: MetricFeatures | None = None, render: Renderer | None = None,
    profile: bool = False, materialise: bool = False,
) -> pd.DataFrame:
    """Compute ``specs`` for every spine row; return context, labels and features.

    Every family's SQL is a relation composed into one matrix query, no table per family (no
    slower, measured with bench/features.py: see docs/architecture.md). With ``profile`` each
    family's columns are a query of their own instead, run and timed one after another (the
    seconds logged at INFO: ``build-features -v``) and added to the matrix as they arrive: the
    same SQL per column and the same row order, so the same values, and nothing is kept in the
    engine after a family's query. With ``materialise`` (Spark) each family is a table of this
    build, timed, and the matrix query joins the tables. ``render``: the engine's SQL renderer
    (DuckDB by default).
    """
    con = dataset.con
    render = render or duckdb_renderer()
    by_family: dict[str, list[FeatureSpec]] = {}
    for spec in specs:
        by_family.setdefault(spec.family, []).append(spec)
    families = [f for f in by_family if f not in (SPINE_FAMILY, METRICS_FAMILY)]
    with Scratch(con, render) as scratch:
        frame = None
        if profile and not materialise:
            frame = _family_by_family(con, specs, by_family, families, render, progress)
        if frame is None:
            frame = _composed(con, specs, by_family, families, render, progress,
                              scratch if materialise else None)
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"]).dt.date
    if METRICS_FAMILY in by_family:
        started = time.perf_counter()
        members = by_family[METRICS_FAMILY]
        kernel = metric_features
        if render.dialect is Dialect.SPARK:  # the same kernel, run per account group in Spark
            from healthscore.features.spark import spark_metric_features as kernel
        extra = kernel(dataset, members, metrics or MetricFeatures())
        frame = pd.concat([frame, extra], axis=1)
        log.info("family %s: %d features in %.1fs", METRICS_FAMILY, len(members),
                 time.perf_counter() - started)
    return frame


def _matrix_query(specs: list[FeatureSpec], by_family: dict[str, list[FeatureSpec]],
                  relations: dict[str, str], render: Renderer, base_columns: bool = True,
                  ) -> str:
    """The matrix query over the spine joined with each family's relation in ``relations``
    (family -> relation): every spine row, in the matrix's row order; with ``base_columns`` the
    keys, context (unless a feature has its name), labels and spine features first, then the
    families' feature columns."""
    joins, outputs = [], {}
    for family_name, relation in relations.items():
        alias = f"feat_{family_name}"
        joins.append(f"LEFT JOIN {relation} AS {alias} USING (account_id, snapshot_date)")
        outputs.update({m.name: _fill(m, f"{alias}.{m.name}", render)
                        for m in by_family[family_name]})
    columns = []
    if base_columns:
        outputs.update({m.name: _fill(m, m.render(render), render)
                        for m in by_family.get(SPINE_FAMILY, [])})
        named = {s.name for s in specs if s.family != METRICS_FAMILY}
        columns = ["s.account_id", f"{render.date_out('s.snapshot_date')} AS snapshot_date"]
        columns += [f"s.{c}" for c in CONTEXT_COLUMNS if c not in named]
        columns += [f"s.{c}" for c in LABEL_COLUMNS]
    columns += [f"{outputs[s.name]} AS {s.name}" for s in specs if s.name in outputs]
    return (f"SELECT {', '.join(columns)} FROM {SPINE} s {' '.join(joins)} "
            "ORDER BY s.snapshot_date, s.account_id")


def _composed(con, specs: list[FeatureSpec], by_family: dict[str, list[FeatureSpec]],
              families: list[str], render: Renderer, progress: Progress | None,
              scratch: Scratch | None) -> pd.DataFrame:
    """The matrix in one query (each family a composed relation, or with ``scratch`` a table
    of this build, timed)."""
    relations = {}
    for i, family_name in enumerate(families):
        members = by_family[family_name]
        started = time.perf_counter()
        relations[family_name] = family_relation(FAMILIES[family_name], members, render,
                                                 scratch)
        if scratch is not None:
            log.info("family %s: %d features in %.1fs", family_name, len(members),
                     time.perf_counter() - started)
            if progress:
                progress(f"features: {family_name}", i + 1, len(families))
    started = time.perf_counter()
    if progress and scratch is None:
        progress("features: " + ", ".join(families), 0, 1)
    frame = con.sql(_matrix_query(specs, by_family, relations, render)).df()
    if progress and scratch is None:
        progress("features: " + ", ".join(families), 1, 1)
    log.info("matrix of %d families %s in %.1fs", len(families),
             "assembled" if scratch is not None else "computed", time.perf_counter() - started)
    return frame


def family_columns(con, specs: list[FeatureSpec], by_family: dict[str, list[FeatureSpec]],
                   family_name: str, render: Renderer) -> pd.DataFrame:
    """One family's matrix columns (filled as in the matrix), one row per spine row in the
    matrix's row order."""
    relation = family_relation(FAMILIES[family_name], by_family[family_name], render)
    return con.sql(_matrix_query(specs, by_family, {family_name: relation}, render,
                                 base_columns=False)).df()


def _family_by_family(con, specs: list[FeatureSpec], by_family: dict[str, list[FeatureSpec]],
                      families: list[str], render: Renderer, progress: Progress | None,
                      ) -> pd.DataFrame | None:
    """The matrix as the spine's columns plus one query per family, each timed and logged;
    None when a family's query alone runs out of DuckDB's memory (the caller then builds the
    matrix in one query, which can spill where a family's fetched result cannot)."""
    import duckdb

    started = time.perf_counter()
    parts = [con.sql(_matrix_query(specs, by_family, {}, render)).df()]
    for i, family_name in enumerate(families):
        begun = time.perf_counter()
        try:
            parts.append(family_columns(con, specs, by_family, family_name, render))
        except duckdb.OutOfMemoryException as exc:
            log.warning("family %s ran out of DuckDB's memory on its own (%s): no timing of "
                        "the remaining families; the matrix is built in one query instead",
                        family_name, str(exc).splitlines()[0])
            return None
        log.info("family %s: %d features in %.1fs", family_name, len(by_family[family_name]),
                 time.perf_counter() - begun)
        if progress:
            progress(f"features: {family_name}", i + 1, len(families))
    frame = pd.concat(parts, axis=1)
    log.info("matrix of %d families computed family by family in %.1fs", len(families),
             time.perf_counter() - started)
    names = {s.name for s in specs}
    # the composed query's column order: keys, context and labels, then features as specified
    return frame[[c for c in parts[0].columns if c not in names]
                 + [s.name for s in specs if s.name in frame.columns]]


def rank_auc(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ROC-AUC of every column of ``x`` against binary ``y`` (Mann-Whitney, ties averaged).

    A positive's average rank is (values below it + values up to it + 1) / 2, found by
    binary search in the sorted column: faster than ranking every row.
    """
    positives = y.astype(bool)
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return np.full(x.shape[1], np.nan)
    columns = np.array(x.T, dtype=float, order="C")  # a copy: sorted below, x untouched
    chosen = columns[:, positives]
    columns.sort(axis=1)
    rank_sums = np.empty(x.shape[1])
    for j in range(x.shape[1]):
        below = np.searchsorted(columns[j], chosen[j], side="left")
        upto = np.searchsorted(columns[j], chosen[j], side="right")
        rank_sums[j] = (below.sum() + upto.sum() + n_pos) / 2
    return (rank_sums - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def leakage_audit(frame: pd.DataFrame, specs: list[FeatureSpec], threshold: float) -> pd.DataFrame:
    """Single-feature ROC-AUC on labelled rows; features above ``threshold`` are flagged.

    The AUC is direction-free (max of AUC and 1 - AUC): a feature that alone separates
    churners almost perfectly is more likely leaking the label than predicting it. Missing
    values take the column median; large matrices are audited on a fixed sample of rows.
    """
    names = [s.name for s in specs if s.kind is Kind.NUMERIC]
    rows = pd.Series(frame.index[frame["label_observed"].to_numpy(dtype=bool)])
    if len(rows) > AUDIT_ROWS:  # AUC on 200k rows is within about 0.002 of the full one
        rows = rows.sample(n=AUDIT_ROWS, random_state=0)  # rows first: no copy of the matrix
    labelled = frame.loc[rows.to_numpy(), [*names, "label_churn"]]
    columns = labelled[names].to_numpy(dtype=float).T.copy()  # one contiguous row per feature
    for column in columns:
        missing = np.isnan(column)
        if missing.any():
            column[missing] = np.median(column[~missing]) if not missing.all() else 0.0
    x = columns.T
    auc = rank_auc(x, labelled["label_churn"].to_numpy()) if len(labelled) else np.array([])
    audit = pd.DataFrame({"feature": names, "auc": np.fmax(auc, 1 - auc)} if len(auc) else
                         {"feature": [], "auc": []})
    audit["flagged"] = audit["auc"] > threshold
    return audit.sort_values("auc", ascending=False, ignore_index=True)


def cache_key(dataset: Dataset, config: FeatureConfig, dates: list[dt.date],
              specs: list[FeatureSpec]) -> str:
    """Hash of everything the matrix depends on: inputs, config, dates and feature SQL."""
    digest = hashlib.blake2b(digest_size=12)
    payload = {
        "version": __version__,
        "data": dataset.fingerprint,
        "end_date": dataset.end_date.isoformat(),
        "config": config.model_dump(mode="json", exclude={"cache_dir", "matrix_layout"}),
        "dates": [d.isoformat() for d in dates],
        "features": [(s.name, s.render(), s.fill, s.kind.value) for s in specs],
    }
    digest.update(json.dumps(payload, sort_keys=True).encode())
    return digest.hexdigest()


def _read_cache(path: Path, specs: list[FeatureSpec], dates: list[dt.date], key: str):
    meta = json.loads(path.with_suffix(".json").read_text())
    frame = pd.read_parquet(path)
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"]).dt.date
    leakage = pd.DataFrame(meta["leakage"], columns=["feature", "auc", "flagged"])
    return FeatureMatrix(frame, specs, dates, leakage, key, from_cache=True)


def build_feature_matrix(
    dataset: Dataset,
    config: FeatureConfig,
    *,
    dates: list[dt.date] | None = None,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    types_before: dt.date | None = None,
) -> FeatureMatrix:
    """Build (or load from cache) the feature matrix for ``dates`` (default: the schedule).

    ``types_before``: per-event-type columns come from events dated before this day (the
    test period's start, see :func:`per_type_cutoff`); None = every event.
    """
    if dates is None:
        dates = snapshot_dates(config.snapshots, data_start(dataset), dataset.end_date)
    specs = select_features(candidate_features(dataset, config.metrics, config, types_before),
                            config.select)
    specs = with_directions(specs, config.directions,
                            template_values(dataset, EVENT_TYPE, limit=10_000))
    key = cache_key(dataset, config, dates, specs)
    labels = label_specs(config, churn_definition(config, dataset))
    cache_dir = config.cache_dir or cache_dir
    cached = cache_dir / f"features-{key}.parquet" if cache_dir else None
    if cached is not None and cached.exists() and cached.with_suffix(".json").exists():
        log.info("feature matrix %s loaded from cache %s", key, cached)
        return replace(_read_cache(cached, specs, dates, key), labels=labels,
                       cache_path=cached)
    started = time.perf_counter()
    if config.engine == "spark":  # the same declarations in Spark SQL (pyspark imported there)
        from healthscore.features.spark import spark_features

        frame = spark_features(dataset, config, dates, specs, progress)
        log.info("matrix built in Spark in %.1fs", time.perf_counter() - started)
    else:
        build_spine(dataset, config, dates)
        log.info("spine built in %.1fs", time.perf_counter() - started)
        # -v: each family's query on its own, timed (the profile); otherwise one composed query
        frame = compute_features(dataset, specs, progress, config.metrics,
                                 profile=log.isEnabledFor(logging.INFO))
    started = time.perf_counter()
    leakage = leakage_audit(frame, specs, config.leakage_auc_threshold)
    log.info("leakage audit in %.1fs", time.perf_counter() - started)
    for name in leakage.loc[leakage["flagged"], "feature"]:
        log.warning("possible leakage: feature %r alone reaches ROC-AUC > %.2f", name,
                    config.leakage_auc_threshold)
    matrix = FeatureMatrix(frame, specs, dates, leakage, key, labels=labels)
    if cached is not None:
        write_parquet(frame, cached)
        meta = {"features": matrix.feature_names, "leakage": leakage.to_dict("records")}
        write_text(json.dumps(meta, indent=1), cached.with_suffix(".json"))
        matrix = replace(matrix, cache_path=cached)
    return matrix
