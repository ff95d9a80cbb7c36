"""The ``healthscore`` commands: parse the arguments, call :mod:`~healthscore.pipeline.compose`,
hand the result to a view (:mod:`~healthscore.pipeline.views` for a person,
:mod:`~healthscore.pipeline.summaries` for ``--json``) and exit with the command's code.
Only the command line prints."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from healthscore.errors import ExitCode
from healthscore.pipeline import views
from healthscore.pipeline.cli_shared import (
    Context,
    HealthscoreGroup,
    as_of_option,
    build_and_report,
    config_data_and_day,
    json_option,
    model_option,
    quiet_for_json,
    setup_logging,
    subcommand_config_option,
    table_options,
    training_inputs,
    with_synth_overrides,
)
from healthscore.pipeline.summaries import (
    drift_summary,
    monitor_summary,
    retrain_summary,
    score_summary,
)
from healthscore.pipeline.terminal import console, progress_bar

if TYPE_CHECKING:
    import pandas as pd


@click.group(cls=HealthscoreGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config", "config_path", type=click.Path(path_type=Path),
              help="YAML config (default: the embedded demo config, see configs/demo.yaml).")
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug); shows tracebacks.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.version_option(package_name="healthscore")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: int, quiet: bool) -> None:
    """healthscore: point-in-time churn prediction and explainable customer health scores.

    Typical flow: synth (or your warehouse export) -> validate -> build-features -> train ->
    score -> report. `healthscore demo` runs it all on a synthetic SaaS world.
    """
    setup_logging(verbose, quiet)
    console.quiet = quiet  # -q: only errors (on stderr), no summary
    ctx.obj = Context(config_path, verbose)


def _emit_json(payload: dict) -> None:
    """Write ``payload`` as one JSON line on stdout (paths, dates and numpy numbers as text
    or plain numbers; NaN as null)."""
    import json
    import math

    def plain(value):
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if hasattr(value, "item") and not isinstance(value, (str, bytes)):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        return str(value)

    click.echo(json.dumps(plain(payload), ensure_ascii=False))


@cli.command()
@click.option("--accounts", type=int, help="Number of accounts (default from config).")
@click.option("--months", type=int, help="Months of history (default from config).")
@click.option("--seed", type=int, help="Random seed (default from config).")
@click.option("--out", type=click.Path(path_type=Path), help="Output folder (default: data dir).")
@click.option("--csv", "as_csv", is_flag=True, help="Write CSV instead of Parquet.")
@click.option("--business", type=click.Choice(["saas", "monthly", "transactional"]),
              help="Business shape (default from config: saas).")
@click.option("--difficulty", type=click.Choice(["realistic", "easy"]),
              help="How hard churn is to predict (default from config: realistic).")
@click.pass_obj
def synth(obj: Context, accounts: int | None, months: int | None, seed: int | None,
          out: Path | None, as_csv: bool, business: str | None,
          difficulty: str | None) -> None:
    """Generate a synthetic world (contract tables + ground truth): a SaaS business, a
    monthly consumer app or a shop without subscriptions."""
    from healthscore.pipeline.compose import synthesize_world

    config = with_synth_overrides(obj.config(), accounts, months, seed, as_csv, business,
                                  difficulty)
    started = time.perf_counter()
    with progress_bar() as progress:
        summary = synthesize_world(config, out, progress)
    views.print_world(summary, time.perf_counter() - started)


@cli.command()
@click.pass_obj
def validate(obj: Context) -> None:
    """Load every input table and check it against the data contract."""
    from healthscore.pipeline.compose import open_data

    dataset = open_data(obj.config())
    views.print_dataset(dataset)


@cli.command("build-features")
@click.option("--out", type=click.Path(path_type=Path),
              help="Where to write the matrix (default: <workdir>/features.parquet).")
@click.pass_obj
def build_features_cmd(obj: Context, out: Path | None) -> None:
    """Build the point-in-time feature matrix (one row per account and snapshot)."""
    from healthscore.pipeline.compose import open_data

    config = obj.config(writes=True)
    dataset = open_data(config)
    build_and_report(config, dataset, out)


@cli.command()
@click.pass_obj
def demo(obj: Context) -> None:
    """Run the whole pipeline on the embedded synthetic world:
    synth -> validate -> features -> train (MLflow) -> score -> portfolio report -> monitor."""
    from healthscore.pipeline import compose

    outcome = compose.demo(obj.config(writes=True), views.DemoConsole())
    views.print_demo_finished(outcome)


@cli.command()
@click.option("--features", type=click.Path(path_type=Path),
              help="Train on a ready-made feature table (Parquet/CSV) instead of building one.")
@click.option("--id-column", default="account_id", show_default=True)
@click.option("--label-column", default="label_churn", show_default=True)
@click.option("--date-column", default=None,
              help="Snapshot date column of --features (without it: stratified random split).")
@click.option("--positive-label", default=None, help="The label value that means churn, when "
              "the labels are not 0/1, booleans or yes/no/true/false (config: "
              "training.positive_label).")
@click.option("--feature-metadata", "metadata", type=click.Path(path_type=Path), default=None,
              help="YAML giving the --features columns a label, dimension, direction, unit and "
              "sentence (a starter file: describe-features).")
@click.pass_obj
def train(obj: Context, features: Path | None, id_column: str, label_column: str,
          date_column: str | None, positive_label: str | None, metadata: Path | None) -> None:
    """Train the configured models, validate on an unseen period, track them in MLflow."""
    from healthscore.pipeline import compose

    config = obj.config(writes=True)
    frame, metas, fingerprint, table, labels = training_inputs(
        config, features, id_column, label_column, date_column, positive_label, metadata)
    with progress_bar() as progress:
        run, session, reports = compose.train(config, frame, metas, fingerprint, progress,
                                              table=table, labels=labels)
    views.print_training(run, session, reports)


@cli.command("describe-features")
@click.argument("table", type=click.Path(path_type=Path))
@click.option("--id-column", default="account_id", show_default=True)
@click.option("--label-column", default="label_churn", show_default=True)
@click.option("--date-column", default=None)
@click.option("--positive-label", default=None, help="As for train.")
@click.pass_obj
def describe_features(obj: Context, table: Path, id_column: str, label_column: str,
                      date_column: str | None, positive_label: str | None) -> None:
    """Write a starter feature metadata YAML for a feature table to standard output.

    Every column the models would use, with its label, dimension (``other`` until you map
    it), direction (``learned``), unit and sentence; excluded columns as comments. Edit it and
    pass it to ``train --features TABLE --feature-metadata FILE``.
    """
    from healthscore.pipeline.compose import read_feature_table
    from healthscore.training.feature_table import starter_metadata

    config = obj.config()
    prepared, _, _ = read_feature_table(config, table, id_column, label_column, date_column,
                                        positive_label)
    views.print_column_warnings(prepared.warnings)
    click.echo(starter_metadata(prepared, table.name), nl=False)


@cli.command()
@click.option("--features", type=click.Path(path_type=Path), default=None,
              help="Backtest on a feature table (needs --date-column) instead of the "
              "configured data.")
@click.option("--id-column", default="account_id", show_default=True)
@click.option("--label-column", default="label_churn", show_default=True)
@click.option("--date-column", default=None, help="Snapshot date column of --features.")
@click.option("--positive-label", default=None, help="As for train.")
@click.pass_obj
def backtest(obj: Context, features: Path | None, id_column: str, label_column: str,
             date_column: str | None, positive_label: str | None) -> None:
    """Rolling-origin backtest: refit at each of the last K quarters, score the next one."""
    from healthscore.pipeline import compose

    if features is not None and date_column is None:
        raise click.UsageError("backtest --features needs --date-column: a backtest refits "
                               "at past dates and scores the rows after each")
    config = obj.config(writes=True)
    frame, metas, _, _, _ = training_inputs(config, features, id_column, label_column,
                                         date_column, positive_label)
    with progress_bar() as progress:
        folds, plan = compose.backtest(config, frame, metas, progress)
    views.print_backtest(folds, plan.summary())


@cli.command()
@click.argument("runs", nargs=-1, required=True, metavar="RUN_A RUN_B [RUN_C ...]")
@click.option("--out", type=click.Path(path_type=Path),
              help="HTML file to write (default: <workdir>/reports/compare-<run ids>.html).")
@click.pass_obj
def compare(obj: Context, runs: tuple[str, ...], out: Path | None) -> None:
    """Compare model runs (run ids or @aliases) on the same rows: the newest run's test period.

    RUN_A is the reference: every other run gets paired-bootstrap intervals of its difference
    and a verdict (better / worse / no significant difference) on ROC-AUC, PR-AUC and recall at
    the at-risk threshold. Writes an HTML comparison and logs a comparison run to MLflow.
    Exit codes: 0 ok, 2 bad arguments or config, 3 run not found or runs not comparable.
    """
    from healthscore.pipeline import compose

    if len(runs) < 2:
        raise click.UsageError("give at least two runs to compare (the first is the reference)")
    with progress_bar() as progress:
        comparison, path, run_id = compose.compare(obj.config(writes=True), list(runs), out,
                                                   progress)
    views.print_comparison(comparison, path, run_id)


@cli.command()
@json_option
@click.pass_obj
def retrain(obj: Context, as_json: bool) -> None:
    """Retrain; promote the new best model only if the promotion gate passes.

    Builds features through the latest labelled date, trains the configured models,
    backtests, compares the best with @champion on the new test period and promotes it if
    every check of training.promotion passes (no champion yet: the first model that passes
    becomes champion). Prints each check with its numbers.

    Exit codes: 0 promoted, 4 gate failed and the champion kept (not an error), 2 bad input or
    config, 3 model error, 75 retry later (tracking server unreachable).
    """
    from healthscore.pipeline import compose

    quiet_for_json(as_json)
    config = obj.config(writes=True)
    frame, metas, fingerprint, _, labels = training_inputs(config, None, "", "", None)
    with progress_bar(not as_json) as progress:
        outcome = compose.retrain(config, frame, metas, fingerprint, progress, labels)
    if as_json:
        _emit_json(retrain_summary(outcome, config.training.tracking.model_name))
        if outcome.promoted_version is None:
            raise click.exceptions.Exit(ExitCode.NOT_PROMOTED)
        return
    views.print_retrain(outcome, config.training.tracking.model_name)
    if outcome.promoted_version is None:
        raise click.exceptions.Exit(ExitCode.NOT_PROMOTED)


@cli.command()
@click.argument("run_id")
@click.option("--alias", default="champion", show_default=True)
@click.pass_obj
def promote(obj: Context, run_id: str, alias: str) -> None:
    """Point the registered model's alias (default champion) at RUN_ID's model."""
    from healthscore import tracking
    from healthscore.pipeline.compose import use_tracking

    config = obj.config(writes=True)
    use_tracking(config)
    name = config.training.tracking.model_name
    version = tracking.promote(name, tracking.resolve_run_id(run_id, name), alias)
    console.print(f"{name}@{alias} -> version {version} (run {run_id})")


@cli.command()
@click.argument("run_id")
@click.option("--out", type=click.Path(path_type=Path), help="HTML file to write.")
@click.pass_obj
def report(obj: Context, run_id: str, out: Path | None) -> None:
    """Write the validation report of a model run (a run id or @alias) as one HTML file."""
    from healthscore.pipeline.compose import write_validation_report

    path = write_validation_report(obj.config(writes=True), run_id, out)
    console.print(f"validation report: {path}")


@cli.command()
@as_of_option("Scoring date (features use data before it).")
@model_option
@click.option("--shadow", "shadow_uri", help="Also score with this model (e.g. "
              "models:/healthscore@challenger) and store it beside, without changing outputs.")
@table_options
@click.option("--owner", help="Also print this owner's accounts (accounts.owner) and write "
              "their portfolio page, DATE.owner-NAME.html.")
@json_option
@click.pass_obj
def score(obj: Context, as_of, model_uri: str | None, shadow_uri: str | None,
          features: Path | None, id_column: str, date_column: str | None,
          owner: str | None, as_json: bool) -> None:
    """Score every active account as of a date: health, band, drivers, trends, alerts.

    Writes <workdir>/scores/DATE.parquet, DATE.csv (CRM import) and DATE.html (portfolio
    report) and a row per account in the score history. Re-running a date replaces it.
    Exit codes: 0 ok, 2 bad input or config, 3 model not found, 75 retry later (history
    locked, tracking server or history database unreachable).
    """
    from healthscore.pipeline import compose

    quiet_for_json(as_json)
    if features is not None and owner is not None:
        raise click.UsageError("--owner needs the configured data (accounts.owner), not "
                               "--features")
    if features is not None:  # a feature table: its rows, not the configured data
        config = obj.config(writes=True)
        compose.check_tracking(config, create=False)
        with progress_bar(not as_json) as progress:
            result = compose.score_feature_table(config, features, id_column, date_column,
                                                 as_of.date() if as_of else None, model_uri,
                                                 shadow_uri, progress)
    else:
        config, dataset, day = config_data_and_day(obj, as_of)
        if owner is not None:
            compose.check_owner(dataset, owner)
        with progress_bar(not as_json) as progress:
            result = compose.score(config, dataset, day, model_uri, shadow_uri, progress)
        dataset.remember()  # the data's fingerprint and passed checks, for the next run
    if owner is not None:
        result.paths["owner_report"] = compose.owner_portfolio(result, owner)
    if as_json:
        _emit_json(score_summary(result))
        return
    views.print_scores(result)
    if owner is not None:
        views.print_owner(result, owner, result.band_order)


@cli.command()
@as_of_option("Compare the accounts active on this date (features use data before it) with "
              "the model's training rows.")
@model_option
@click.option("--fail-on", type=click.Choice(["never", "watch", "act"]), default="never",
              show_default=True, help="Exit 5 when any feature or health reaches this PSI "
              "status (for schedulers: `--fail-on act`).")
@table_options
@json_option
@click.pass_obj
def drift(obj: Context, as_of, model_uri: str | None, fail_on: str, features: Path | None,
          id_column: str, date_column: str | None, as_json: bool) -> None:
    """Population stability (PSI) of every model input and of health: the model's training
    rows vs the accounts scored as of a date; thresholds in scoring.drift.

    Writes <workdir>/drift/DATE.csv and DATE.html (table and plots of the most drifted).
    Exit codes: 0 ok, 5 drift at or above --fail-on, 2 bad input or config, 3 model not found
    or trained without a drift reference, 75 retry later.
    """
    from healthscore.pipeline import compose

    quiet_for_json(as_json)
    if features is not None:  # a feature table's rows vs the model's training rows
        config = obj.config(writes=True)
        compose.check_tracking(config, create=False)
        rows, day = compose.feature_table_rows(features, id_column, date_column,
                                               as_of.date() if as_of else None)
        report, paths, meta = compose.drift(config, None, day, model_uri, rows)
    else:
        config, dataset, day = config_data_and_day(obj, as_of)
        report, paths, meta = compose.drift(config, dataset, day, model_uri)
        dataset.remember()
    reached = drift_reached(report, fail_on)
    if as_json:
        _emit_json(drift_summary(report, paths, meta, day, fail_on, reached))
        if reached:
            raise click.exceptions.Exit(ExitCode.DRIFT)
        return
    views.print_drift(report, paths, meta, day, config.scoring.drift)
    if reached:
        views.print_drift_reached(reached, fail_on)
        raise click.exceptions.Exit(ExitCode.DRIFT)


def drift_reached(report: pd.DataFrame, fail_on: str) -> list[str]:
    """The features (and health) whose PSI status is ``fail_on`` or worse."""
    levels = {"stable": 0, "watch": 1, "act": 2}
    if fail_on == "never":
        return []
    worse = report[report["status"].map(levels) >= levels[fail_on]]
    return [str(f) for f in worse["feature"]]


@cli.command()
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Judge the scores with the outcomes known on this date. Default: the day "
              "after the data ends.")
@json_option
@click.pass_obj
def monitor(obj: Context, as_of, as_json: bool) -> None:
    """Is the score still right? Live accuracy from the score history.

    Joins every scoring date whose outcome has matured (horizon plus grace days before
    --as-of) with what happened, by the label definition training uses: recall, TNR,
    precision, accuracy and F1 at the at-risk threshold per date and cumulatively, beside the
    seeds' targets and the validation report's figures; churn rate per band; calibration;
    the misses and false alarms with their drivers when scored. Writes
    <workdir>/monitor/DATE.html, DATE.csv, DATE-accounts.csv; logs a monitor run and tags on
    the model version in MLflow.
    Exit codes: 0 ok (or nothing matured yet), 6 live recall or calibration outside the
    monitoring thresholds, 2 bad input or config, 3 model or run problem, 75 retry later.
    """
    from healthscore.pipeline import compose

    quiet_for_json(as_json)
    config, dataset, day = config_data_and_day(obj, as_of)
    outcome = compose.monitor(config, dataset, day)
    dataset.remember()
    failed = outcome.live is not None and bool(outcome.live.failed)
    if as_json:
        _emit_json(monitor_summary(outcome, day))
        if failed:
            raise click.exceptions.Exit(ExitCode.LIVE_ACCURACY)
        return
    views.print_monitor(outcome, day)
    if failed:
        views.print_monitor_failed(outcome)
        raise click.exceptions.Exit(ExitCode.LIVE_ACCURACY)


for _command in cli.commands.values():
    subcommand_config_option(_command)


def main() -> None:
    """Console-script entry point. SIGTERM (a scheduler's timeout) unwinds like an error, so
    MLflow runs end FAILED, temporary files are removed and the exit code is 143 (a call into
    the tracking store finishes first: see healthscore.interrupt)."""
    from healthscore.interrupt import terminate_on

    terminate_on(signal.SIGTERM)
    cli(prog_name="healthscore")


if __name__ == "__main__":
    sys.exit(main())
