"""Bring your own features: train, score and monitor a ready-made table instead of the matrix.

A table nobody prepared for us is typed column by column, and every decision is reported
(:class:`ColumnNote`): numbers stored as text are coerced (blanks become missing), id-like
columns, text columns with too many levels and dates are excluded, constant, all-missing and
duplicate or perfectly correlated columns are dropped. Labels may be 0/1, booleans or
yes/no/true/false; anything else needs ``--positive-label``. An optional feature metadata
file (:func:`read_feature_metadata`, a starter one from :func:`starter_metadata`) gives each
column a dimension, direction, unit, label and sentence; without it a column's direction is
learned, its dimension is ``other`` and its sentence reads "Label: value".
"""

from __future__ import annotations

import difflib
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from healthscore.errors import ConfigError, DataSourceError, HealthscoreError
from healthscore.features.engine import declared_directions, load_feature_modules
from healthscore.features.registry import Direction, get_spec
from healthscore.features.snapshots import LABEL_COLUMNS
from healthscore.model.artifact import FeatureMeta
from healthscore.training.train import feature_meta

log = logging.getLogger(__name__)
CONTEXT = ("segment", "arr")
KEYS = ("account_id", "label_churn", "snapshot_date", "label_observed")
OTHER = "other"
DIMENSIONS = ("usage", "engagement", "relationship", "billing", "support", "sentiment",
              "commercial", OTHER)
POSITIVE = {"1", "1.0", "true", "yes", "y", "t"}
NEGATIVE = {"0", "0.0", "false", "no", "n", "f"}
MAX_LEVELS = 100  # a text column with more distinct values is excluded (LightGBM overfits it)
ID_SHARE = 0.95  # a column whose values are (almost) all distinct identifies rows
MIN_ID_ROWS = 50
CORRELATION_ROWS = 50_000
DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$")
DOC = "docs/feature-tables.md"


class FeatureTableError(HealthscoreError):
    """A feature table (or its metadata file) cannot be used as given; says what to change."""

    def __init__(self, source: str, problem: str, hint: str = "") -> None:
        self.source = source
        super().__init__(f"{source}: {problem}" + (f"\n{hint}" if hint else "")
                         + f"\nSee {DOC} for what a feature table needs.")


@dataclass(frozen=True)
class ColumnNote:
    """One typing decision about a column: kept as is, coerced, excluded or dropped."""

    column: str
    action: str  # numeric | categorical | coerced | excluded | dropped | context
    reason: str
    count: int = 0

    @property
    def warns(self) -> bool:
        """Whether the user should hear about it (anything but a plain column)."""
        return self.action in ("coerced", "excluded", "dropped")


@dataclass(frozen=True)
class PreparedTable:
    """A feature table in the pipeline's names, the model inputs' metadata and the report."""

    frame: pd.DataFrame
    metas: list[FeatureMeta]
    notes: list[ColumnNote]

    def report(self) -> pd.DataFrame:
        """The column typing report: column, action, reason, count."""
        return pd.DataFrame([vars(n) for n in self.notes],
                            columns=["column", "action", "reason", "count"])

    @property
    def warnings(self) -> list[ColumnNote]:
        """The decisions a person should read."""
        return [n for n in self.notes if n.warns]


def read_table(path: Path) -> pd.DataFrame:
    """Read a Parquet or CSV file, or a folder of Parquet files (partitioned as
    ``column=value/`` folders, like the matrix ``build-features`` writes with
    ``features.matrix_layout: partitioned``); errors name the file, exit code 2."""
    if not path.exists():
        raise DataSourceError(f"feature table {path} does not exist")
    try:
        if path.is_dir():
            dataset, partitions = open_parquet(path)
            return arrow_frame([dataset.to_table()], dataset.schema, partitions)
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, low_memory=False)
        return pd.read_parquet(path)
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataSourceError(f"feature table {path}: cannot read it as "
                              f"{'CSV' if path.suffix.lower() == '.csv' else 'Parquet'}: "
                              f"{first}") from None


def open_parquet(path: Path):
    """A pyarrow dataset over a Parquet file or a folder of them (files in path order; hidden
    and ``_``-prefixed files such as Spark's ``_SUCCESS`` skipped), and the names of the
    partition columns read from ``column=value`` folder names."""
    import pyarrow.dataset as pads

    if not path.is_dir():
        return pads.dataset(str(path), format="parquet"), []
    files = sorted(p for p in path.rglob("*.parquet") if not any(
        part.startswith((".", "_")) for part in p.relative_to(path).parts))
    if not files:
        raise DataSourceError(f"feature table {path}: the folder holds no Parquet file")
    partitions = list(dict.fromkeys(part.split("=", 1)[0] for f in files
                                    for part in f.relative_to(path).parts[:-1] if "=" in part))
    hive = pads.HivePartitioning.discover(infer_dictionary=False)
    return pads.dataset([str(f) for f in files], format="parquet", partitioning=hive,
                        partition_base_dir=str(path)), partitions


def arrow_frame(parts: list, schema, partitions: list[str]) -> pd.DataFrame:
    """Arrow tables or batches read from :func:`open_parquet` as one pandas frame: partition
    columns first, their ISO dates as dates (as in a matrix file)."""
    import pyarrow as pa

    table = pa.Table.from_batches([b for p in parts for b in (
        p.to_batches() if isinstance(p, pa.Table) else [p])], schema=schema)
    frame = table.to_pandas()
    for column in partitions:
        values = frame[column]
        text = values.astype("string")
        if text.dropna().str.fullmatch(r"\d{4}-\d{2}-\d{2}").all():
            frame[column] = pd.to_datetime(text).dt.date.astype(object).where(values.notna(),
                                                                                None)
    return frame[[*partitions, *(c for c in frame.columns if c not in partitions)]]


def missing_columns_message(frame: pd.DataFrame, missing: list[str]) -> str:
    """Which required columns are absent, every column present, and close names."""
    present = [str(c) for c in frame.columns]
    close = {m: difflib.get_close_matches(m, present, n=1) for m in missing}
    hints = "; ".join(f"did you mean {c[0]!r} for {m!r}?" for m, c in close.items() if c)
    return (f"column(s) {missing} not found; its {len(present)} columns are: "
            f"{', '.join(present)}" + (f" ({hints})" if hints else ""))


def parse_labels(labels: pd.Series, positive_label: str | None, source: str,
                 column: str, ids: pd.Series) -> pd.Series:
    """Churn labels as a nullable boolean series (missing stays missing: not labelled).

    0/1, booleans and yes/no/true/false (any case) are recognised; with ``positive_label``
    that value (compared as text) is churn and every other present value is not.
    """
    present = labels.notna()
    text = labels.astype("string").str.strip()
    if positive_label is not None:
        wanted = str(positive_label).strip()
        if not (text[present] == wanted).any():
            raise FeatureTableError(source, f"--positive-label {positive_label!r} does not occur "
                                    f"in column {column!r}; its values are "
                                    f"{_values(labels)}")
        churned = text == wanted
    else:
        lower = text.str.lower()
        churned = lower.isin(POSITIVE)
        bad = present & ~churned & ~lower.isin(NEGATIVE)
        if bad.any():
            sample = ", ".join(f"{i!s}: {v!s}" for i, v in zip(ids[bad].head(5),
                                                                  labels[bad].head(5),
                                                                  strict=True))
            raise FeatureTableError(
                source, f"column {column!r} holds {int(bad.sum()):,} label(s) that are not 0/1, "
                f"true/false or yes/no; its values are {_values(labels)} (rows: {sample})",
                "Name the value that means churn with --positive-label VALUE (config: "
                "training.positive_label).")
    return churned.astype("boolean").where(present, pd.NA)


def _values(series: pd.Series, n: int = 6) -> str:
    counts = series.astype("string").value_counts(dropna=False)
    shown = ", ".join(f"{v!s} ({c:,})" for v, c in counts.head(n).items())
    return shown + (f" and {len(counts) - n} more" if len(counts) > n else "")


def _text_as_number(column: pd.Series) -> tuple[pd.Series, int] | None:
    """A text column whose every non-blank value is a number: (numbers, blanks made missing)."""
    text = column.astype("string").str.strip()
    blank = text.isna() | (text == "")
    if blank.all():
        return None
    numbers = pd.to_numeric(text.where(~blank), errors="coerce")
    if numbers[~blank].isna().any():
        return None
    return numbers.astype(float), int((blank & column.notna()).sum())


def _looks_like_dates(column: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(column):
        return True
    sample = column.dropna().astype(str).str.strip().head(200)
    return len(sample) > 0 and bool(sample.map(lambda v: bool(DATE_TEXT.match(v))).all())


def type_columns(frame: pd.DataFrame, columns: list[str], max_levels: int = MAX_LEVELS
                 ) -> tuple[pd.DataFrame, list[ColumnNote]]:
    """Type the feature columns of ``frame``: (frame with coerced columns, one note each).

    Only the columns noted ``numeric``, ``categorical`` or ``coerced`` become model inputs.
    """
    out = frame.copy()
    notes: list[ColumnNote] = []
    for name in columns:
        column = out[name]
        present = int(column.notna().sum())
        if present == 0:
            notes.append(ColumnNote(name, "dropped", "every value is missing"))
            continue
        if pd.api.types.is_bool_dtype(column):
            out[name] = column.astype(float)
            column = out[name]
        numeric = pd.api.types.is_numeric_dtype(column)
        if not numeric and not _looks_like_dates(column):
            coerced = _text_as_number(column)
            if coerced is not None:
                out[name], blanks = coerced
                notes.append(ColumnNote(name, "coerced", f"numbers stored as text; {blanks:,} "
                                        "blank value(s) read as missing", blanks))
                continue
        if _looks_like_dates(column):
            notes.append(ColumnNote(name, "excluded", "a date: give the age in days as a "
                                    "number column instead"))
            continue
        levels = int(column.nunique(dropna=True))
        if levels <= 1:
            notes.append(ColumnNote(name, "dropped", "constant (one value)"))
            continue
        integral = numeric and bool(np.all(np.mod(column.dropna().to_numpy(float), 1) == 0))
        if (not numeric or integral) and present >= MIN_ID_ROWS and levels >= ID_SHARE * present:
            notes.append(ColumnNote(name, "excluded", f"id-like: {levels:,} distinct values in "
                                    f"{present:,} rows", levels))
            continue
        if not numeric and levels > max_levels:
            notes.append(ColumnNote(name, "excluded", f"text with {levels:,} levels (more than "
                                    f"{max_levels})", levels))
            continue
        notes.append(ColumnNote(name, "numeric" if numeric else "categorical",
                                f"{levels:,} levels" if not numeric else ""))
    return out, _drop_redundant(out, notes)


def _drop_redundant(frame: pd.DataFrame, notes: list[ColumnNote]) -> list[ColumnNote]:
    """Notes with duplicate columns and numeric columns perfectly correlated with an earlier
    kept one marked dropped."""
    kept = [n.column for n in notes if n.action in ("numeric", "categorical", "coerced")]
    sample = frame[kept].head(CORRELATION_ROWS)
    dropped: dict[str, str] = {}
    hashes: dict[int, str] = {}
    for name in kept:
        key = int(pd.util.hash_pandas_object(sample[name].astype("string"), index=False).sum())
        if key in hashes and sample[name].astype("string").equals(
                sample[hashes[key]].astype("string")):
            dropped[name] = f"duplicate of {hashes[key]!r}"
        else:
            hashes[key] = name
    numeric = [n for n in kept if n not in dropped
               and pd.api.types.is_numeric_dtype(sample[n])]
    if len(numeric) > 1:
        corr = sample[numeric].corr().abs().to_numpy()
        for j, name in enumerate(numeric):
            earlier = [numeric[i] for i in range(j) if numeric[i] not in dropped
                       and corr[i, j] >= 1 - 1e-9]
            if earlier:
                dropped[name] = f"perfectly correlated with {earlier[0]!r}"
    return [ColumnNote(n.column, "dropped", dropped[n.column]) if n.column in dropped else n
            for n in notes]


def humanise(name: str) -> str:
    """A column name as a label: ``total_charges`` -> ``Total charges``."""
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", str(name)).replace("_", " ").split()
    text = " ".join(words)
    return text[:1].upper() + text[1:] if text else str(name)


def default_sentence(label: str, unit: str, categorical: bool) -> str:
    """``Contract: {value}`` for text, ``Tenure: {value:g} months`` for numbers."""
    if categorical:
        return f"{label}: {{value}}"
    return f"{label}: {{value:,.4g}}" + (f" {unit}" if unit else "")


def _meta(column: pd.Series, name: str, categorical: bool) -> FeatureMeta:
    load_feature_modules()
    try:
        meta = feature_meta([get_spec(name)])[0]
        return replace(meta, direction=Direction.LEARNED.value, direction_source="learned")
    except KeyError:
        label = humanise(name)
        return FeatureMeta(name, OTHER, Direction.LEARNED.value, "", label,
                           default_sentence(label, "", categorical), categorical,
                           direction_source="learned")


def prepare_feature_table(frame: pd.DataFrame, id_column: str, label_column: str | None,
                          date_column: str | None, source: str = "feature table",
                          directions: dict[str, str] | None = None, *,
                          positive_label: str | None = None,
                          metadata: dict[str, dict] | None = None,
                          max_levels: int = MAX_LEVELS) -> PreparedTable:
    """Rename the key columns to the pipeline's names, type and describe every other column.

    Columns named like a registered feature keep its dimension, unit and sentence; others get
    dimension ``other`` and a "Label: value" sentence unless ``metadata`` (see
    :func:`read_feature_metadata`) says otherwise. Directions are learned on the training rows
    unless the metadata or ``directions`` (``features.directions``) declare them. ``segment``
    and ``arr`` are context only. Without ``label_column`` (scoring) no label is read.
    """
    needed = [c for c in (id_column, label_column, date_column) if c]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise FeatureTableError(source, missing_columns_message(frame, missing),
                                "Name them with --id-column, --label-column and --date-column.")
    ids = frame[id_column]
    if ids.isna().any():
        raise FeatureTableError(source, f"id column {id_column!r} is missing in "
                                f"{int(ids.isna().sum()):,} row(s)")
    renames = {id_column: "account_id"}
    if label_column:
        renames[label_column] = "label_churn"
    if date_column:
        renames[date_column] = "snapshot_date"
    clash = [c for c in KEYS if c in frame.columns and c not in renames]
    # the matrix build-features writes: its other label columns are outcomes, not inputs
    outcomes = [c for c in LABEL_COLUMNS if c in frame.columns and c not in renames
                and c not in clash]
    out = frame.drop(columns=clash + outcomes).rename(columns=renames)
    notes = [ColumnNote(c, "dropped", "a name the pipeline uses for its own columns")
             for c in clash if c != "label_observed"]
    notes += [ColumnNote(c, "dropped", "a label column of the feature matrix (an outcome, "
                         "not known at the snapshot)") for c in outcomes]
    if label_column:
        labels = parse_labels(frame[label_column], positive_label, source, label_column, ids)
        if "label_observed" in clash and pd.api.types.is_bool_dtype(frame["label_observed"]):
            # the matrix marks rows whose horizon is not over yet: not labelled
            labels = labels.where(frame["label_observed"].to_numpy(), pd.NA)
            notes.append(ColumnNote("label_observed", "label", "rows it marks False have no "
                                    "label yet (their horizon is not over)"))
        elif "label_observed" in clash:
            notes.append(ColumnNote("label_observed", "dropped",
                                    "a name the pipeline uses for its own columns"))
        out["label_observed"] = labels.notna().to_numpy()
        out["label_churn"] = labels.fillna(False).astype(bool).to_numpy()
        unlabelled = int((~out["label_observed"]).sum())
        if unlabelled:
            notes.append(ColumnNote(label_column, "label", f"{unlabelled:,} row(s) without a "
                                    "label: scored, not trained on", unlabelled))
        if out["label_observed"].sum() == 0 or out.loc[out["label_observed"],
                                                       "label_churn"].nunique() < 2:
            raise FeatureTableError(source, f"column {label_column!r} needs both churned and "
                                    f"retained rows; its values are {_values(frame[label_column])}")
    if date_column:
        dates = pd.to_datetime(out["snapshot_date"], errors="coerce")
        bad = dates.isna()
        if bad.any():
            raise FeatureTableError(source, f"date column {date_column!r} has {int(bad.sum()):,} "
                                    f"value(s) that are not dates, e.g. "
                                    f"{frame.loc[bad, date_column].head(3).tolist()}")
        out["snapshot_date"] = dates.dt.date
    keys = {*KEYS, *CONTEXT}
    candidates = [c for c in out.columns if c not in keys]
    out, typing = type_columns(out, candidates, max_levels)
    notes += typing + [ColumnNote(c, "context", "kept beside the scores, not a model input")
                       for c in CONTEXT if c in out.columns]
    inputs = {n.column: n.action for n in typing
              if n.action in ("numeric", "categorical", "coerced")}
    if not inputs:
        raise FeatureTableError(source, "no column is left to learn from: "
                                + "; ".join(f"{n.column} {n.reason}" for n in typing))
    metas = [_meta(out[c], c, action == "categorical") for c, action in inputs.items()]
    metas = with_metadata(metas, metadata or {}, source)
    return PreparedTable(out, with_declared_directions(metas, directions or {}), notes)


def with_declared_directions(metas: list[FeatureMeta], directions: dict[str, str]
                             ) -> list[FeatureMeta]:
    """``metas`` with the directions ``features.directions`` declares for the table's
    columns (unknown names: one ConfigError with suggestions)."""
    if not directions:
        return metas
    declared = declared_directions([(m.name, None, None) for m in metas], directions)
    return [replace(m, direction=declared[m.name].value,
                    direction_source="config" if declared[m.name].sign else "learned")
            if m.name in declared else m for m in metas]


# --------------------------------------------------------------------- feature metadata file

METADATA_KEYS = ("label", "dimension", "direction", "unit", "sentence")
DIRECTIONS = ("higher_is_healthier", "lower_is_healthier", "learned")


def read_feature_metadata(path: Path) -> dict[str, dict]:
    """Read and check a feature metadata YAML file (``columns:`` -> per column ``label``,
    ``dimension``, ``direction``, ``unit``, ``sentence``); one ConfigError lists every bad key."""
    import yaml

    if not path.is_file():
        raise ConfigError(str(path), [f"feature metadata file {path} does not exist"])
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"not valid YAML: {str(exc).splitlines()[0]}"]) from None
    columns = doc.get("columns") if isinstance(doc, dict) else None
    if not isinstance(columns, dict):
        raise ConfigError(str(path), ["columns: a mapping from column name to its metadata is "
                                      "required (write a starter file with `describe-features`)"])
    problems = []
    for name, entry in columns.items():
        entry = entry or {}
        if not isinstance(entry, dict):
            problems.append(f"columns.{name}: must be a mapping of {', '.join(METADATA_KEYS)}")
            continue
        for key, value in entry.items():
            if key not in METADATA_KEYS:
                problems.append(f"columns.{name}.{key}: unknown key; expected one of "
                                f"{', '.join(METADATA_KEYS)}")
            elif key == "dimension" and value not in DIMENSIONS:
                problems.append(f"columns.{name}.dimension must be one of {', '.join(DIMENSIONS)}"
                                f"; got {value!r}")
            elif key == "direction" and value not in DIRECTIONS:
                problems.append(f"columns.{name}.direction must be one of "
                                f"{', '.join(DIRECTIONS)}; got {value!r}")
            elif key == "sentence" and value is not None:
                problem = _sentence_problem(str(value))
                if problem:
                    problems.append(f"columns.{name}.sentence: {problem}")
    if problems:
        raise ConfigError(str(path), problems)
    return {str(k): dict(v or {}) for k, v in columns.items()}


def _sentence_problem(template: str) -> str:
    from string import Formatter

    try:
        fields = [f for _, f, _, _ in Formatter().parse(template) if f is not None]
    except ValueError as exc:
        return f"not a valid template ({exc})"
    unknown = [f for f in fields if f not in ("value", "")]
    return f"only {{value}} may be used; got {unknown}" if unknown else ""


def with_metadata(metas: list[FeatureMeta], metadata: dict[str, dict], source: str
                  ) -> list[FeatureMeta]:
    """``metas`` with the metadata file's label, dimension, direction, unit and sentence.

    A column the file names but the model does not use is logged (it may have been excluded
    by the typing report); a name no column has is an error with a suggestion.
    """
    if not metadata:
        return metas
    by_name = {m.name: m for m in metas}
    unknown = [n for n in metadata if n not in by_name]
    if unknown:
        log.warning("feature metadata names %d column(s) the model does not use: %s",
                    len(unknown), ", ".join(unknown[:10]))
    out = []
    for meta in metas:
        entry = metadata.get(meta.name)
        if entry is None:
            out.append(meta)
            continue
        label = str(entry.get("label") or meta.description)
        unit = str(entry.get("unit") or meta.unit or "")
        sentence = entry.get("sentence") or (
            default_sentence(label, unit, meta.categorical) if meta.dimension == OTHER
            or "label" in entry or "unit" in entry else meta.explain)
        direction = entry.get("direction") or meta.direction
        out.append(replace(meta, description=label, unit=unit, explain=str(sentence),
                           dimension=entry.get("dimension") or meta.dimension,
                           direction=direction,
                           direction_source="config" if direction != "learned" else "learned"))
    return out


def starter_metadata(table: PreparedTable, source: str) -> str:
    """A feature metadata YAML to edit: every model input with its defaults, the excluded
    columns as comments."""
    import yaml

    lines = [f"# Feature metadata for {source} (healthscore describe-features).",
             "# Per column: label, dimension (" + ", ".join(DIMENSIONS) + "),",
             "# direction (higher_is_healthier, lower_is_healthier, learned), unit and the",
             "# sentence of a driver ({value} is the column's value). Playbooks come only from",
             "# the dimensions you map; 'other' gets none. Use it with --feature-metadata.",
             ]
    for note in table.notes:
        if note.warns and note.action != "coerced":
            lines.append(f"# {note.column}: {note.action}, {note.reason}")
    entries = {m.name: {"label": m.description, "dimension": m.dimension,
                        "direction": m.direction, "unit": m.unit, "sentence": m.explain}
               for m in table.metas}
    lines.append(yaml.safe_dump({"columns": entries}, sort_keys=False, allow_unicode=True,
                                width=100).rstrip())
    return "\n".join(lines) + "\n"
