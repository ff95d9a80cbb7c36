"""What the ``healthscore`` commands share: the context object, error handling, logging, the
common options and the input steps several commands run (feature matrix, training inputs)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.logging import RichHandler
from rich.markup import escape

from healthscore.errors import HealthscoreError, exit_code_of
from healthscore.pipeline import views
from healthscore.pipeline.terminal import console, err_console, progress_bar

if TYPE_CHECKING:
    import pandas as pd

    from healthscore.data.dataset import Dataset
    from healthscore.features.engine import FeatureMatrix
    from healthscore.features.labels import LabelSpec
    from healthscore.pipeline.compose import FeatureTableInfo
    from healthscore.pipeline.config import Config


# the strata of a row cap on the built matrix (training.max_rows)
MATRIX_STRATA = ("snapshot_date", "label_observed", "label_churn")


@dataclass
class Context:
    """Options shared by every subcommand."""

    config_path: Path | None = None
    verbosity: int = 0

    def config(self, writes: bool = False) -> Config:
        """Load the config (lazily, so ``--help`` stays instant); with ``writes``, check that
        the working directory can be written before any work starts."""
        from healthscore.pipeline.config import load_config

        config = load_config(self.config_path)
        if writes:
            _writable_workdir(config)
        return config


class HealthscoreGroup(click.Group):
    """Turns user errors into a one-paragraph message and the exit code that
    :func:`healthscore.errors.exit_code_of` decides; every message is scrubbed of secrets."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; a user error exits with its code, a bug with its traceback."""
        from healthscore.redact import scrub

        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except HealthscoreError as exc:
            obj = ctx.find_object(Context)
            if obj is not None and obj.verbosity > 0:
                err_console.print(scrub(traceback.format_exc()), highlight=False, markup=False)
            err_console.print("[bold red]error:[/bold red] " + escape(scrub(str(exc))),
                              highlight=False)
            ctx.exit(exit_code_of(exc))
        except Exception as exc:  # a bug: keep the traceback, but never a secret in it
            err_console.print(scrub(traceback.format_exc()), highlight=False, markup=False)
            err_console.print("[bold red]unexpected error[/bold red] (a bug, please report it "
                              "with the traceback above): " + escape(scrub(repr(exc))),
                              highlight=False)
            ctx.exit(exit_code_of(exc))


def setup_logging(verbosity: int, quiet: bool) -> None:
    """Log to stderr through rich, secrets redacted: warnings, -v info, -vv debug; -q errors."""
    from healthscore.redact import RedactingFilter

    level = logging.ERROR if quiet else [logging.WARNING, logging.INFO, logging.DEBUG][
        min(verbosity, 2)]
    handler = RichHandler(console=err_console, show_path=verbosity > 1)
    handler.addFilter(RedactingFilter())
    logging.basicConfig(level=level, format="%(message)s", datefmt="[%X]", handlers=[handler],
                        force=True)
    for noisy in ("mlflow", "alembic", "urllib3", "git", "numba", "matplotlib"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    # MLflow configures its own loggers when first imported (lazily, later): tell it by env.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "INFO" if verbosity > 1 else "ERROR")


def _subcommand_config(ctx: click.Context, _param: click.Parameter, value: Path | None,
                       ) -> Path | None:
    if value is not None:
        ctx.ensure_object(Context).config_path = value
    return value


# `-c` is accepted after the subcommand too (`healthscore score -c my.yaml`), overriding the
# global one; added to every subcommand at the end of pipeline/cli.py.
subcommand_config_option = click.option(
    "-c", "--config", "config_path", type=click.Path(path_type=Path), expose_value=False,
    callback=_subcommand_config, help="YAML config (same as the global -c, which it overrides).")


def _writable_workdir(config: Config) -> None:
    """Fail before any work when the working directory cannot be written."""
    from healthscore.io import writable_dir

    writable_dir(config.workdir, "workdir")


json_option = click.option(
    "--json", "as_json", is_flag=True,
    help="Print one JSON object (the summary, paths and exit code) on stdout instead of "
    "tables, for schedulers and orchestration.")


def quiet_for_json(as_json: bool) -> None:
    """With --json the tables and progress bars stay silent; stdout carries only the JSON."""
    if as_json:
        console.quiet = True


def with_synth_overrides(config: Config, accounts: int | None, months: int | None,
                         seed: int | None, as_csv: bool, business: str | None = None,
                         difficulty: str | None = None) -> Config:
    """The config with the ``synth`` command's options in place of its ``synth`` keys."""
    from healthscore.pipeline.config import config_from_mapping

    raw = config.model_dump(mode="json", exclude_unset=False)
    overrides = {"accounts": accounts, "months": months, "seed": seed,
                 "format": "csv" if as_csv else None, "business": business,
                 "difficulty": difficulty}
    raw["synth"].update({k: v for k, v in overrides.items() if v is not None})
    return config_from_mapping(raw, "command-line options")


def build_and_report(config: Config, dataset: Dataset, out: Path | None) -> FeatureMatrix:
    """Build and write the feature matrix, printing the churn definition before and the
    matrix summary after; returns the matrix."""
    from healthscore.pipeline.compose import write_features

    views.print_churn_definition(config, dataset)
    with progress_bar() as progress:
        built = write_features(config, dataset, out, progress)
    views.print_matrix(built)
    return built.matrix


def training_inputs(config: Config, features: Path | None, id_column: str,
                    label_column: str, date_column: str | None,
                    positive_label: str | None = None, metadata: Path | None = None,
                    ) -> tuple[pd.DataFrame, list, str, FeatureTableInfo | None,
                               dict[str, LabelSpec] | None]:
    """(frame, metas, fingerprint, feature table info or None, what the label columns mean or
    None) from a feature table or from the configured data."""
    from healthscore.pipeline.compose import check_tracking, matrix_inputs, open_data
    from healthscore.training.sample import cap_rows

    check_tracking(config, create=True)  # an unreachable server fails before any work
    if features is not None:
        from healthscore.pipeline.compose import read_feature_table

        table, fingerprint, info = read_feature_table(config, features, id_column,
                                                      label_column, date_column,
                                                      positive_label, metadata)
        views.print_typing(table, features)
        if info.sample is not None:
            console.print(f"[yellow]Rows: {info.sample.describe()}.[/yellow]")
        if date_column is None:
            console.print("[yellow]No --date-column: rows are split at random (stratified); "
                          "the report says so.[/yellow]")
        return table.frame, table.metas, fingerprint, info, None
    if metadata is not None or positive_label is not None:
        raise click.UsageError("--feature-metadata and --positive-label go with --features")
    dataset = open_data(config)
    matrix = build_and_report(config, dataset, None)
    frame, metas = matrix_inputs(matrix)
    frame, sample = cap_rows(frame, config.training.max_rows, config.seed, MATRIX_STRATA)
    if sample is not None:
        console.print(f"[yellow]Training rows: {sample.describe()}.[/yellow]")
    return frame, metas, dataset.fingerprint, None, matrix.labels


def as_of_option(help_text: str) -> Callable:
    """``--as-of DATE`` with ``help_text`` and the default said."""
    return click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]),
                        help=help_text + " Default: the day after the data ends.")


def table_options(command: click.Command) -> click.Command:
    """--features, --id-column and --date-column: score or check a feature table's rows."""
    for option in reversed([
        click.option("--features", type=click.Path(path_type=Path), default=None,
                     help="A feature table (Parquet/CSV) with the model's input columns, "
                     "instead of the configured data (a model trained with train --features)."),
        click.option("--id-column", default="account_id", show_default=True,
                     help="The id column of --features."),
        click.option("--date-column", default=None, help="Date column of --features: the rows "
                     "dated --as-of (default the newest date) are used; without it every row, "
                     "as of today."),
    ]):
        command = option(command)
    return command


model_option = click.option("--model", "model_uri", help="MLflow model URI (default: "
                             "scoring.model, models:/healthscore@champion).")


def config_data_and_day(obj: Context, as_of: dt.datetime | None,
                        ) -> tuple[Config, Dataset, dt.date]:
    """(config, validated dataset, the as-of date: given, else the day after the data)."""
    from healthscore.pipeline import compose

    config = obj.config(writes=True)
    compose.check_tracking(config, create=False)
    dataset = compose.open_data(config, reuse_checks=True)
    return config, dataset, as_of.date() if as_of else dataset.end_date + dt.timedelta(days=1)
