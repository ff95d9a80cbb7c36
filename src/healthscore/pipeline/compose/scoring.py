"""Serving-side commands: score a date (or a feature table's rows), one owner's portfolio
page and the drift report, each with the registered model."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from healthscore.data.dataset import Dataset
from healthscore.features.engine import FeatureMatrix
from healthscore.features.settings import SparkSettings
from healthscore.pipeline.compose.inputs import feature_table_rows
from healthscore.pipeline.compose.workspace import use_tracking
from healthscore.pipeline.config import Config
from healthscore.progress import Progress


def scoring_spark(config: Config) -> SparkSettings | None:
    """The Spark session settings to score with (``scoring.engine: spark``, or ``auto`` with
    ``features.engine: spark``), None to score in this process."""
    engine = config.scoring.engine
    if engine == "auto":
        engine = "spark" if config.features.engine == "spark" else "local"
    return config.features.spark if engine == "spark" else None


def score(config: Config, dataset: Dataset, as_of: dt.date, model_uri: str | None = None,
          shadow_uri: str | None = None, progress: Progress | None = None,
          matrix: FeatureMatrix | None = None):
    """Batch-score every active account as of ``as_of`` (see serving.batch).

    ``matrix``: a feature matrix built from ``dataset`` with ``config`` (the training matrix
    the demo just built); when its snapshots include ``as_of``, its rows of that date are the
    date's features: the values a build of that date alone computes (features are as of their
    snapshot), without scanning the events again.
    """
    from healthscore.serving.batch import (
        account_labels,
        check_as_of,
        config_hash,
        run_batch,
        score_rows,
    )

    use_tracking(config)
    rows = None
    if matrix is not None and as_of in matrix.dates and all(
            stop.feature in matrix.frame for stop in config.scoring.hard_stops):
        frame = matrix.frame
        rows = frame[(frame["snapshot_date"] == as_of).to_numpy()].reset_index(drop=True)
    if rows is None or rows.empty:  # built for the date alone (an empty date: its error)
        return run_batch(dataset, config.features, config.scoring, config.workdir, as_of,
                         model_uri, shadow_uri, progress, scoring_spark(config))
    check_as_of(as_of, dataset)
    return score_rows(lambda: rows, config_hash(config.features, config.scoring),
                      config.scoring, config.workdir, as_of, model_uri, shadow_uri, progress,
                      account_labels(dataset), scoring_spark(config))


def score_feature_table(config: Config, path: Path, id_column: str, date_column: str | None,
                        as_of: dt.date | None, model_uri: str | None = None,
                        shadow_uri: str | None = None, progress: Progress | None = None):
    """Score a feature table's rows as of a date with the registered model: the same files,
    history, trends and alerts as :func:`score` (see serving.batch)."""
    from healthscore.serving.batch import config_hash, score_rows

    use_tracking(config)
    rows, day = feature_table_rows(path, id_column, date_column, as_of)
    return score_rows(lambda: rows, config_hash(config.scoring), config.scoring,
                      config.workdir, day, model_uri, shadow_uri, progress,
                      spark=scoring_spark(config))


def check_owner(dataset: Dataset, owner: str) -> None:
    """Refuse an owner that no account has (before any scoring work), listing the owners."""
    from healthscore.serving.batch import account_labels

    owners = sorted({o for o in account_labels(dataset)["owner"] if o})
    if owner not in owners:
        raise unknown_owner(owner, owners, "an owner in accounts.owner")


def unknown_owner(owner: str, owners: list[str], expected: str) -> Exception:
    """The error for an ``--owner`` no account has: the owners there are (up to 20) and the
    closest spellings (the same name in other case first, else ``difflib``'s nearest)."""
    import difflib

    from healthscore.errors import ParameterError

    known = ", ".join(owners[:20]) + (" ..." if len(owners) > 20 else "")
    close = [o for o in owners if o.casefold() == owner.casefold()] or difflib.get_close_matches(
        owner, owners, n=2, cutoff=0.6)
    hint = f"Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    where = f"owners: {known}" if owners else "no account has one"
    return ParameterError("--owner", f"{expected} ({where})", owner, hint)


def owner_portfolio(result, owner: str) -> Path:
    """Write the portfolio page of one owner's accounts beside the scoring run's files
    (``DATE.owner-NAME.html``). An owner no account has is a user error that lists the
    owners there are."""
    import re

    from healthscore.io import write_text
    from healthscore.serving.portfolio import render_portfolio

    scores = result.scores
    owners = sorted({o for o in scores["owner"].astype(str) if o})
    mine = scores[scores["owner"].astype(str) == owner]
    if mine.empty:
        raise unknown_owner(owner, owners, "an owner of some scored account (accounts.owner)")
    band_order = result.band_order  # the bands frozen into the model that scored
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", owner).strip("-") or "owner"
    path = result.paths["report"].with_name(f"{result.as_of.isoformat()}.owner-{slug}.html")
    return write_text(render_portfolio(mine, result.as_of, band_order, result.model), path)


def drift(config: Config, dataset: Dataset | None, as_of: dt.date, model_uri: str | None = None,
          rows: pd.DataFrame | None = None,
          ) -> tuple[pd.DataFrame, dict[str, Path], dict[str, str]]:
    """PSI of the model's inputs and health, training rows vs the accounts active at
    ``as_of`` (or the feature-table ``rows`` given); writes ``<workdir>/drift/DATE.csv`` and
    ``DATE.html`` (see serving.drift).

    Returns (drift report, {"csv": path, "html": path}, model description).
    """
    from healthscore.io import write_csv, write_text
    from healthscore.serving.batch import check_as_of, features_as_of, load_model
    from healthscore.serving.drift import drift_bins, drift_table, reference_of, render_drift

    if dataset is not None:
        check_as_of(as_of, dataset)
    use_tracking(config)
    model, meta = load_model(model_uri or config.scoring.model, {})
    reference = reference_of(model)
    frame = rows if rows is not None else features_as_of(dataset, config.features, as_of,
                                                         config.workdir / "cache")
    bins = drift_bins(model, frame)
    report = drift_table(bins, model, config.scoring.drift, len(frame))
    page = render_drift(report, bins, as_of, meta, config.scoring.drift, reference.rows)
    out = config.workdir / "drift"
    paths = {"csv": write_csv(report, out / f"{as_of.isoformat()}.csv"),
             "html": write_text(page, out / f"{as_of.isoformat()}.html")}
    return report, paths, meta
