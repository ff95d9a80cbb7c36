"""The ``healthscore`` command line. Only this module prints."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from healthscore.errors import ExitCode, HealthscoreError, exit_code_of

# Piped output (cron logs, CI) gets wide tables instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 140)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 140)


@dataclass
class Context:
    """Options shared by every subcommand."""

    config_path: Path | None = None
    verbosity: int = 0

    def config(self, writes: bool = False):
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

    def invoke(self, ctx: click.Context):
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


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator:
    """Yield a ``progress(step, done, total)`` callback drawing a rich progress bar."""
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("{task.description:<28}"), BarColumn(),
        TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=console,
        transient=True,
    ) as bar:
        tasks: dict[str, int] = {}

        def update(step: str, done: int, total: int) -> None:
            key = step.split(":")[0]
            if key not in tasks:
                tasks[key] = bar.add_task(step, total=total)
            bar.update(tasks[key], completed=done, total=total, description=step)

        yield update


def _setup_logging(verbosity: int, quiet: bool) -> None:
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
    _setup_logging(verbose, quiet)
    console.quiet = quiet  # -q: only errors (on stderr), no summary
    ctx.obj = Context(config_path, verbose)


def _subcommand_config(ctx: click.Context, _param, value: Path | None) -> Path | None:
    if value is not None:
        ctx.ensure_object(Context).config_path = value
    return value


# `-c` is accepted after the subcommand too (`healthscore score -c my.yaml`), overriding the
# global one; added to every subcommand at the end of this module.
subcommand_config_option = click.option(
    "-c", "--config", "config_path", type=click.Path(path_type=Path), expose_value=False,
    callback=_subcommand_config, help="YAML config (same as the global -c, which it overrides).")


def _writable_workdir(config) -> None:
    """Fail before any work when the working directory cannot be written."""
    from healthscore.io import writable_dir

    writable_dir(config.workdir, "workdir")


def _table(title: str, columns: list[str], rows: list[list[object]]) -> Table:
    table = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(str(v) for v in row))
    return table


json_option = click.option(
    "--json", "as_json", is_flag=True,
    help="Print one JSON object (the summary, paths and exit code) on stdout instead of "
    "tables, for schedulers and orchestration.")


def _quiet_for_json(as_json: bool) -> None:
    """With --json the tables and progress bars stay silent; stdout carries only the JSON."""
    if as_json:
        console.quiet = True


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

    config = _with_synth_overrides(obj.config(), accounts, months, seed, as_csv, business,
                                   difficulty)
    started = time.perf_counter()
    with progress_bar() as progress:
        summary = synthesize_world(config, out, progress)
    _print_world(summary, time.perf_counter() - started)


def _with_synth_overrides(config, accounts, months, seed, as_csv, business=None,
                          difficulty=None):
    from healthscore.pipeline.config import config_from_mapping

    raw = config.model_dump(mode="json", exclude_unset=False)
    overrides = {"accounts": accounts, "months": months, "seed": seed,
                 "format": "csv" if as_csv else None, "business": business,
                 "difficulty": difficulty}
    raw["synth"].update({k: v for k, v in overrides.items() if v is not None})
    return config_from_mapping(raw, "command-line options")


def _print_world(summary, seconds: float) -> None:
    churn = summary.churn_rate_by_segment
    rows = [[name, f"{n:,}"] for name, n in summary.row_counts.items()]
    console.print(_table("Synthetic world", ["table", "rows"], rows))
    console.print(f"{summary.start_date} .. {summary.end_date}, written to {summary.out_dir} in "
                  f"{seconds:.1f}s; yearly logo churn (ground truth): "
                  + ", ".join(f"{seg} {rate:.1%}" for seg, rate in churn.items()))


@cli.command()
@click.pass_obj
def validate(obj: Context) -> None:
    """Load every input table and check it against the data contract."""
    from healthscore.pipeline.compose import open_data

    dataset = open_data(obj.config())
    _print_dataset(dataset)


def _print_dataset(dataset) -> None:
    from healthscore.data.schema import TABLES

    counts = dataset.row_counts()
    rows = []
    for name, spec in TABLES.items():
        if name not in counts:
            rows.append([name, "absent", "-", "-", "features off" if not spec.required else ""])
            continue
        first, last = dataset.con.execute(
            f"SELECT min({spec.time_column}), max({spec.time_column}) FROM {name}"
        ).fetchall()[0]
        rows.append([name, f"{counts[name]:,}", first, last, "ok"])
    console.print(_table(f"Input data valid (end date {dataset.end_date})",
                         ["table", "rows", "first", "last", "status"], rows))


@cli.command("build-features")
@click.option("--out", type=click.Path(path_type=Path),
              help="Where to write the matrix (default: <workdir>/features.parquet).")
@click.pass_obj
def build_features_cmd(obj: Context, out: Path | None) -> None:
    """Build the point-in-time feature matrix (one row per account and snapshot)."""
    from healthscore.pipeline.compose import open_data

    config = obj.config(writes=True)
    dataset = open_data(config)
    _build_and_report(config, dataset, out)


def _build_and_report(config, dataset, out: Path | None):
    from healthscore.io import write_parquet
    from healthscore.pipeline.compose import build_features

    _print_churn_definition(config, dataset)
    started = time.perf_counter()
    with progress_bar() as progress:
        matrix = build_features(config, dataset, progress)
    seconds = time.perf_counter() - started
    out = out or config.workdir / "features.parquet"
    write_parquet(matrix.frame, out)
    _print_matrix(matrix, seconds, out)
    return matrix


def _print_churn_definition(config, dataset) -> None:
    """Say which churn definition applies when the config leaves it to the data."""
    from healthscore.features.snapshots import churn_definition

    definition = churn_definition(config.features, dataset)
    if config.features.churn.definition is not None:
        return
    churn = config.features.churn
    if definition == "inactivity":
        events = ", ".join(churn.inactivity_event_types) or "any event"
        console.print(
            "[yellow]No subscriptions table: features.churn.definition is inactivity[/yellow] "
            "(an account is a customer from its first activity or created_at; it churns when "
            f"no qualifying event ({events}) happens within {config.features.horizon_days} "
            "days). Revenue at risk comes from events.amount.")
    else:
        console.print(f"Churn: contract (subscriptions end, no new one within "
                      f"{churn.grace_days} days); features.churn.definition: contract")


def _print_matrix(matrix, seconds: float, out: Path) -> None:
    from healthscore.features.registry import by_dimension

    frame = matrix.frame
    per = frame.groupby("snapshot_date").agg(
        rows=("account_id", "size"), observed=("label_observed", "mean"),
        churn=("label_churn", "mean"),
    )
    labelled = frame[frame["label_observed"]]
    rate = labelled.groupby("snapshot_date")["label_churn"].mean()
    rows = [[d, f"{int(r.rows):,}", f"{r.observed:.0%}",
             f"{rate[d]:.1%}" if d in rate.index else "unobserved"] for d, r in per.iterrows()]
    console.print(_table("Snapshots", ["snapshot", "accounts", "labelled", "churn rate"], rows))
    dims = [[d.value, len(specs), ", ".join(s.name for s in specs[:4])
             + (" ..." if len(specs) > 4 else "")]
            for d, specs in by_dimension(matrix.features).items()]
    console.print(_table("Features per dimension", ["dimension", "n", "examples"], dims))
    flagged = matrix.leakage[matrix.leakage["flagged"]]
    top = matrix.leakage.head(3)
    audit = ", ".join(f"{r.feature} {r.auc:.2f}" for r in top.itertuples())
    if flagged.empty:
        console.print(f"Leakage audit: no feature above the threshold (top: {audit})")
    else:
        console.print("[bold yellow]Leakage audit flagged[/bold yellow]: "
                      + ", ".join(f"{r.feature} (AUC {r.auc:.3f})" for r in flagged.itertuples()))
    source = "cache" if matrix.from_cache else f"built in {seconds:.1f}s"
    console.print(f"{len(frame):,} rows x {len(matrix.features)} features "
                  f"({len(labelled):,} labelled, churn {labelled['label_churn'].mean():.1%}); "
                  f"{source}; written to {out}")


@cli.command()
@click.pass_obj
def demo(obj: Context) -> None:
    """Run the whole pipeline on the embedded synthetic world:
    synth -> validate -> features -> train (MLflow) -> score -> portfolio report -> monitor."""
    from healthscore.pipeline import compose

    config = obj.config(writes=True)
    started = time.perf_counter()
    console.rule("1/6 synthetic world")
    with progress_bar() as progress:
        summary = compose.synthesize_world(config, progress=progress)
    _print_world(summary, time.perf_counter() - started)
    console.rule("2/6 validate")
    dataset = compose.open_data(config)
    _print_dataset(dataset)
    console.rule("3/6 features")
    matrix = _build_and_report(config, dataset, None)
    console.rule("4/6 train, validate, track")
    frame, metas = compose.matrix_inputs(matrix)
    with progress_bar() as progress:
        run, session, reports = compose.train(config, frame, metas, dataset.fingerprint,
                                              progress)
    _print_training(run, session, reports)
    console.rule("5/6 score the portfolio")
    model_uri = f"models:/{config.training.tracking.model_name}/{session.registered_version}"
    days = _month_starts_before(dataset.end_date + dt.timedelta(days=1), 3)
    for day in days:  # three monthly runs, so the last one has trends and alerts
        with progress_bar() as progress:
            result = compose.score(config, dataset, day, model_uri, progress=progress)
        if day != days[-1]:
            console.print(f"Scored {len(result.scores):,} accounts as of {day}")
    _print_scores(result)
    console.rule("6/6 live accuracy")
    day = dataset.end_date + dt.timedelta(days=1)
    outcome = compose.monitor(config, dataset, day)
    _print_monitor(outcome, day)
    if outcome.live is None:  # the demo scores its last months: their outcomes lie ahead
        console.print("The demo scores the last months of its data, so their outcomes are "
                      "still ahead: run `monitor` each month once they mature (exit 6 when "
                      "live recall or calibration falls below `monitoring`).")
    console.print(f"[bold green]demo finished[/bold green] in {time.perf_counter() - started:.0f}s;"
                  f" outputs in {config.workdir}/, portfolio report {result.paths['report']}, "
                  f"MLflow runs in {compose.tracking_uri(config)} (browse: mlflow ui "
                  f"--backend-store-uri {compose.tracking_uri(config)})")


def _month_starts_before(last: dt.date, n: int) -> list[dt.date]:
    """The ``n`` first-of-month dates up to ``last`` (itself when it is a first), oldest first."""
    months = [last.replace(day=1)]
    while len(months) < n:
        months.append((months[-1] - dt.timedelta(days=1)).replace(day=1))
    return months[::-1]


def _training_inputs(obj: Context, config, features: Path | None, id_column: str,
                     label_column: str, date_column: str | None,
                     positive_label: str | None = None, metadata: Path | None = None):
    """(frame, metas, fingerprint, feature table info or None) from a feature table or from
    the configured data."""
    from healthscore.pipeline.compose import check_tracking, matrix_inputs, open_data

    check_tracking(config, create=True)  # an unreachable server fails before any work
    if features is not None:
        from healthscore.pipeline.compose import read_feature_table

        table, fingerprint, info = read_feature_table(config, features, id_column,
                                                      label_column, date_column,
                                                      positive_label, metadata)
        _print_typing(table, features)
        if date_column is None:
            console.print("[yellow]No --date-column: rows are split at random (stratified); "
                          "the report says so.[/yellow]")
        return table.frame, table.metas, fingerprint, info
    if metadata is not None or positive_label is not None:
        raise click.UsageError("--feature-metadata and --positive-label go with --features")
    dataset = open_data(config)
    matrix = _build_and_report(config, dataset, None)
    frame, metas = matrix_inputs(matrix)
    return frame, metas, dataset.fingerprint, None


def _print_typing(table, source: Path) -> None:
    """The column typing report: what was kept, and every column coerced, excluded or
    dropped with the reason (also logged to MLflow as tables/column_typing.csv)."""
    kinds = {n.action for n in table.notes}
    counts = {k: sum(n.action == k for n in table.notes) for k in sorted(kinds)}
    labelled = int(table.frame["label_observed"].sum())
    churned = int(table.frame.loc[table.frame["label_observed"], "label_churn"].sum())
    console.print(f"Feature table {source}: {len(table.frame):,} rows ({labelled:,} labelled, "
                  f"churn {churned / max(labelled, 1):.1%}), {len(table.metas)} model inputs; "
                  "columns " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for note in table.notes:
        if note.warns or note.action == "label":
            err_console.print(f"[yellow]warning:[/yellow] column {escape(note.column)!s} "
                              f"{note.action}: {escape(note.reason)}", highlight=False)
    dims = {}
    for meta in table.metas:
        dims[meta.dimension] = dims.get(meta.dimension, 0) + 1
    console.print("Inputs per dimension: " + " · ".join(f"{k} {v}" for k, v in dims.items()))


def _print_training(run, session, reports) -> None:
    keys = ("roc_auc", "pr_auc", "recall", "precision", "lift_top_10pct", "ece", "brier")
    rows = []
    for name, result in run.results.items():
        o = result.test.overall
        ci = result.test.intervals.set_index("metric")
        auc = f"{o['roc_auc']:.3f}"
        if "roc_auc" in ci.index and ci.loc["roc_auc", "low"] == ci.loc["roc_auc", "low"]:
            auc += f" [{ci.loc['roc_auc', 'low']:.3f}-{ci.loc['roc_auc', 'high']:.3f}]"
        marker = " *" if name == session.best else ""
        rows.append([name + marker, auc] + [f"{o[k]:.3f}" for k in keys[1:]]
                    + [session.runs[name].run_id[:12]])
    from healthscore.training.train import split_description

    split = split_description(run)
    title = " · ".join(f"{k} {v} ({run.sizes.get(k, 0):,} rows)" for k, v in split.items())
    if run.split is None:  # no periods: the split's name, then each part's rows
        title = " · ".join([split["kind"], *(f"{k} {v:,} rows" for k, v in run.sizes.items())])
    if run.split_kind == "time":  # a fallback and overlapping windows are logged as warnings
        console.print(f"[dim]{escape(run.notes[0])}[/dim]")
    console.print(_table(f"Test-period metrics; {title}", ["model", *keys, "run"], rows))
    alias = f"registered version {session.registered_version} as @challenger"
    if session.champion_set:
        alias += " and @champion (no champion yet)"
    console.print(f"* best by validation PR-AUC: [bold]{session.best}[/bold]; {alias}")
    _print_fitting(run)
    for name, path in reports.items():
        console.print(f"  report {name}: {path}")


def _print_fitting(run) -> None:
    """Directions, the LightGBM search and its TreeSHAP cost, and the run's notes."""
    some = next(iter(run.results.values()))
    d = some.directions
    if not d.empty:
        learned = d[d["source"] == "learned"]
        console.print(
            f"  directions: {int(d['source'].isin(['registry', 'config']).sum())} declared "
            f"({int((d['monotone'] != 0).sum())} constrained), {len(learned)} learned "
            f"({int((learned['direction'] != 'none').sum())} beyond noise); "
            f"{int(d['contradicted'].sum())} declared contradicted by the training rows")
    lgbm = run.results.get("lightgbm")
    if lgbm is not None:
        p = lgbm.params
        chosen = ", ".join(f"{k} {p[k]}" for k in ("num_leaves", "max_depth",
                                                    "min_child_samples", "learning_rate",
                                                    "colsample_bytree") if k in p)
        console.print(f"  lightgbm: {p.get('search_trials', 0)} settings tried; chosen {chosen}, "
                      f"{p.get('best_iteration')} trees; TreeSHAP "
                      f"{float(p.get('shap_ms_per_row', float('nan'))):.3f} ms/row")
    for note in run.notes:
        console.print(f"  [yellow]note:[/yellow] {note}")


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
    frame, metas, fingerprint, table = _training_inputs(obj, config, features, id_column,
                                                        label_column, date_column,
                                                        positive_label, metadata)
    with progress_bar() as progress:
        run, session, reports = compose.train(config, frame, metas, fingerprint, progress,
                                              table=table)
    _print_training(run, session, reports)


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
    for note in prepared.warnings:
        err_console.print(f"[yellow]warning:[/yellow] column {escape(note.column)} "
                          f"{note.action}: {escape(note.reason)}", highlight=False)
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
    frame, metas, _, _ = _training_inputs(obj, config, features, id_column, label_column,
                                          date_column, positive_label)
    with progress_bar() as progress:
        folds, plan = compose.backtest(config, frame, metas, progress)
    _print_backtest(folds, plan.summary())


def _print_backtest(folds, summary: str) -> None:
    keys = ("roc_auc", "pr_auc", "recall", "precision", "ece")
    rows = [[r.fold, r.model, f"{r.test_start} .. {r.test_end}", f"{r.test_rows:,}"]
            + [f"{getattr(r, k):.3f}" for k in keys] for r in folds.itertuples()]
    console.print(_table("Backtest: would this have predicted past churn?",
                         ["fold", "model", "test period", "rows", *keys], rows))
    style = "yellow" if "skipped" in summary else "dim"
    console.print(f"[{style}]{escape(summary)}[/{style}]")


VERDICT_STYLE = {"better": "bold green", "worse": "bold red"}


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
    _print_comparison(comparison, path, run_id)


def _print_comparison(comparison, path: Path, run_id: str) -> None:
    from healthscore.training.compare import (
        formatted_differences,
        formatted_side_by_side,
        holdout_summary,
    )

    side = formatted_side_by_side(comparison)
    console.print(_table(f"Side by side on the same rows: {holdout_summary(comparison)}",
                         list(side.columns), side.to_numpy().tolist()))
    diffs = formatted_differences(comparison)
    diffs["verdict"] = [f"[{VERDICT_STYLE[v]}]{v}[/]" if v in VERDICT_STYLE else v
                        for v in diffs["verdict"]]
    console.print(_table(f"Each run minus {comparison.reference} (paired bootstrap, "
                         f"{comparison.n_boot} resamples, 95 %)", list(diffs.columns),
                         diffs.to_numpy().tolist()))
    console.print(f"  comparison report: {path}\n  MLflow comparison run: {run_id}")


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

    _quiet_for_json(as_json)
    config = obj.config(writes=True)
    frame, metas, fingerprint, _ = _training_inputs(obj, config, None, "", "", None)
    with progress_bar(not as_json) as progress:
        outcome = compose.retrain(config, frame, metas, fingerprint, progress)
    if as_json:
        _emit_json(retrain_summary(outcome, config.training.tracking.model_name))
        if outcome.promoted_version is None:
            raise click.exceptions.Exit(ExitCode.NOT_PROMOTED)
        return
    _print_training(outcome.run, outcome.session, outcome.reports)
    _print_backtest(outcome.folds, outcome.backtest_summary)
    if outcome.comparison is not None:
        _print_comparison(outcome.comparison, outcome.comparison_path, outcome.comparison_run_id)
    _print_gate(outcome, config.training.tracking.model_name)
    if outcome.promoted_version is None:
        raise click.exceptions.Exit(ExitCode.NOT_PROMOTED)


def retrain_summary(outcome, model_name: str) -> dict:
    """The --json summary of retrain."""
    before = outcome.champion_before
    return {
        "command": "retrain", "model_name": model_name,
        "exit_code": int(ExitCode.OK if outcome.promoted_version is not None
                         else ExitCode.NOT_PROMOTED),
        "promoted": outcome.promoted_version is not None,
        "promoted_version": outcome.promoted_version,
        "candidate": {"model": outcome.session.best, "run_id": outcome.candidate_run_id},
        "champion_before": ({"version": before[0], "run_id": before[1]} if before else None),
        "checks": [{"name": c.name, "status": c.status, "detail": c.detail}
                   for c in outcome.decision.checks],
        "test_metrics": {k: outcome.run.results[outcome.session.best].test.overall.get(k)
                         for k in ("roc_auc", "pr_auc", "recall", "precision", "ece")},
        "reports": {name: str(path) for name, path in outcome.reports.items()},
        "comparison_report": str(outcome.comparison_path) if outcome.comparison_path else None,
    }


def _print_gate(outcome, model_name: str) -> None:
    marks = {"pass": "[green]pass[/]", "fail": "[bold red]fail[/]", "skipped": "skipped"}
    rows = [[c.name, marks[c.status], c.detail] for c in outcome.decision.checks]
    console.print(_table("Promotion gate (training.promotion)", ["check", "result", "numbers"],
                         rows))
    best = f"{outcome.session.best} (run {outcome.candidate_run_id})"
    before = outcome.champion_before
    if outcome.promoted_version is not None:
        was = f"; was version {before[0]} (run {before[1]})" if before else " (first champion)"
        console.print(f"[bold green]promoted[/bold green]: {best} is {model_name}@champion, "
                      f"version {outcome.promoted_version}{was}")
    else:
        failed = ", ".join(c.name for c in outcome.decision.failed)
        kept = (f"{model_name}@champion stays version {before[0]} (run {before[1]})" if before
                else "no champion set")
        console.print(f"[bold yellow]not promoted[/bold yellow]: {best} failed {failed}; "
                      f"{kept}. Promote by hand with `healthscore promote RUN_ID` if intended.")


@cli.command()
@click.argument("run_id")
@click.option("--alias", default="champion", show_default=True)
@click.pass_obj
def promote(obj: Context, run_id: str, alias: str) -> None:
    """Point the registered model's alias (default champion) at RUN_ID's model."""
    from healthscore import tracking

    config = obj.config(writes=True)
    tracking.configure(config.training.tracking, config.workdir / "mlartifacts", create=False)
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


def _as_of_option(help_text: str):
    return click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]),
                        help=help_text + " Default: the day after the data ends.")


def _table_options(command):
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


_model_option = click.option("--model", "model_uri", help="MLflow model URI (default: "
                             "scoring.model, models:/healthscore@champion).")


def _config_data_and_day(obj: Context, as_of: dt.datetime | None):
    """(config, validated dataset, the as-of date: given, else the day after the data)."""
    from healthscore.pipeline import compose

    config = obj.config(writes=True)
    compose.check_tracking(config, create=False)
    dataset = compose.open_data(config)
    return config, dataset, as_of.date() if as_of else dataset.end_date + dt.timedelta(days=1)


@cli.command()
@_as_of_option("Scoring date (features use data before it).")
@_model_option
@click.option("--shadow", "shadow_uri", help="Also score with this model (e.g. "
              "models:/healthscore@challenger) and store it beside, without changing outputs.")
@_table_options
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

    _quiet_for_json(as_json)
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
        config, dataset, day = _config_data_and_day(obj, as_of)
        if owner is not None:
            compose.check_owner(dataset, owner)
        with progress_bar(not as_json) as progress:
            result = compose.score(config, dataset, day, model_uri, shadow_uri, progress)
    if owner is not None:
        result.paths["owner_report"] = compose.owner_portfolio(result, owner)
    if as_json:
        _emit_json(score_summary(result))
        return
    _print_scores(result)
    if owner is not None:
        _print_owner(result, owner, result.band_order)


def _print_owner(result, owner: str, band_order: list[str]) -> None:
    from healthscore.serving.portfolio import account_label, this_week

    mine = result.scores[result.scores["owner"].astype(str) == owner]
    for headline, accounts in this_week(mine, band_order):
        console.print(f"[bold]{escape(headline)}[/bold]: "
                      + escape(", ".join(account_label(r) for _, r in accounts.iterrows())))
    top = mine.assign(risk=mine["arr"].fillna(0) * mine["churn_probability"]).nlargest(
        10, "risk")
    rows = [[account_label(r), f"{r.health:.1f}", r.band, f"{r.arr:,.0f}", r.risk_1_reason,
             r.playbook] for _, r in top.iterrows()]
    console.print(_table(f"{owner}: {len(mine):,} accounts (top 10 by ARR at risk)",
                         ["account", "health", "band", "ARR", "top risk", "playbook"], rows))


def score_summary(result) -> dict:
    """The --json summary of score."""
    import pandas as pd

    scores = result.scores
    bands = scores.groupby("band", sort=False).agg(accounts=("account_id", "size"),
                                                   arr=("arr", "sum"), health=("health", "mean"))
    alerts = (scores["alerts"] if "alerts" in scores else pd.Series([], dtype=object)
              ).fillna("").str.split(";").explode()
    counts = alerts[alerts != ""].value_counts()
    return {
        "command": "score", "exit_code": 0, "as_of": result.as_of.isoformat(),
        "accounts": len(scores), "model": dict(result.model),
        "bands": {band: {"accounts": int(r.accounts), "arr": float(r.arr),
                         "mean_health": round(float(r.health), 1)}
                  for band, r in bands.sort_values("health").iterrows()},
        "alerts": {str(k): int(v) for k, v in counts.items()},
        "arr_at_risk": float((scores["arr"].fillna(0) * scores["churn_probability"]).sum()),
        "paths": {name: str(path) for name, path in result.paths.items()},
        "history": result.history,
        "seconds": {k: round(v, 2) for k, v in result.seconds.items()},
    }


def _print_scores(result) -> None:
    import pandas as pd

    from healthscore.serving.portfolio import account_label

    scores = result.scores
    meta = result.model
    console.print(f"Scored {len(scores):,} accounts as of {result.as_of} with "
                  f"{meta['name'] or meta['uri']} v{meta['version']} (run {meta['run_id'][:12]})")
    has_arr = "arr" in scores and scores["arr"].notna().any()
    arr = scores["arr"] if has_arr else pd.Series(0.0, index=scores.index)
    bands = scores.assign(arr=arr).groupby("band", sort=False).agg(
        accounts=("account_id", "size"), arr=("arr", "sum"), health=("health", "mean"))
    rows = [[band, f"{int(r.accounts):,}", f"{r.arr:,.0f}" if has_arr else "-",
             f"{r.health:.1f}"] for band, r in bands.sort_values("health").iterrows()]
    console.print(_table("Portfolio by band", ["band", "accounts", "ARR", "mean health"], rows))
    alerts = scores["alerts"].fillna("").str.split(";").explode()
    counts = alerts[alerts != ""].value_counts()
    if not counts.empty:
        console.print("Alerts: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    risk = arr.fillna(0) * scores["churn_probability"] if has_arr else scores[
        "churn_probability"]
    top = scores.assign(risk=risk.to_numpy(), arr=arr.to_numpy()).nlargest(5, "risk")
    rows = [[account_label(r._asdict()), f"{r.health:.1f}", r.band,
             f"{r.arr:,.0f}" if has_arr else "-", r.risk_1_reason, r.playbook]
            for r in top.itertuples()]
    console.print(_table("Top 5 by ARR at risk" if has_arr else "Top 5 by churn probability",
                         ["account", "health", "band", "ARR", "top risk", "playbook"], rows))
    if result.shadow is not None:
        console.print(f"Shadow: {len(result.shadow):,} accounts also scored with "
                      f"{result.shadow['model_name'].iat[0] or 'the shadow model'} "
                      f"v{result.shadow['model_version'].iat[0]} (stored, outputs unchanged)")
    for name, path in result.paths.items():
        console.print(f"  {name}: {path}")
    console.print(f"  history: {result.history}")
    timing = ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items())
    console.print(f"  timings: {timing}")


@cli.command()
@_as_of_option("Compare the accounts active on this date (features use data before it) with "
               "the model's training rows.")
@_model_option
@click.option("--fail-on", type=click.Choice(["never", "watch", "act"]), default="never",
              show_default=True, help="Exit 5 when any feature or health reaches this PSI "
              "status (for schedulers: `--fail-on act`).")
@_table_options
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

    _quiet_for_json(as_json)
    if features is not None:  # a feature table's rows vs the model's training rows
        config = obj.config(writes=True)
        compose.check_tracking(config, create=False)
        rows, day = compose.feature_table_rows(features, id_column, date_column,
                                               as_of.date() if as_of else None)
        report, paths, meta = compose.drift(config, None, day, model_uri, rows)
    else:
        config, dataset, day = _config_data_and_day(obj, as_of)
        report, paths, meta = compose.drift(config, dataset, day, model_uri)
    reached = drift_reached(report, fail_on)
    if as_json:
        _emit_json(drift_summary(report, paths, meta, day, fail_on, reached))
        if reached:
            raise click.exceptions.Exit(ExitCode.DRIFT)
        return
    _print_drift(report, paths, meta, day, config.scoring.drift)
    if reached:
        err_console.print(f"[bold red]drift:[/bold red] {len(reached)} input(s) at or above "
                          f"--fail-on {fail_on}: {', '.join(reached[:10])}"
                          + (" ..." if len(reached) > 10 else ""), highlight=False)
        raise click.exceptions.Exit(ExitCode.DRIFT)


def drift_summary(report, paths, meta, day: dt.date, fail_on: str, reached: list[str]) -> dict:
    """The --json summary of drift."""
    health = report.set_index("feature").loc["health"]
    return {
        "command": "drift", "as_of": day.isoformat(),
        "exit_code": int(ExitCode.DRIFT if reached else ExitCode.OK),
        "model": dict(meta), "fail_on": fail_on, "reached": reached,
        "status_counts": {str(k): int(v) for k, v in report["status"].value_counts().items()},
        "health_psi": float(health["psi"]), "health_status": str(health["status"]),
        "top": [{"feature": r.feature, "psi": float(r.psi), "status": r.status}
                for r in report.head(10).itertuples()],
        "paths": {name: str(path) for name, path in paths.items()},
    }


def drift_reached(report, fail_on: str) -> list[str]:
    """The features (and health) whose PSI status is ``fail_on`` or worse."""
    levels = {"stable": 0, "watch": 1, "act": 2}
    if fail_on == "never":
        return []
    worse = report[report["status"].map(levels) >= levels[fail_on]]
    return [str(f) for f in worse["feature"]]


def _print_drift(report, paths, meta, day, config) -> None:
    colors = {"stable": "green", "watch": "yellow", "act": "bold red"}
    rows = [[r.feature, r.dimension, f"{r.psi:.3f}", f"[{colors[r.status]}]{r.status}[/]",
             f"{r.top_bin}: {r.top_bin_reference:.1%} -> {r.top_bin_current:.1%}"]
            for r in report.head(config.top).itertuples()]
    model = f"{meta['name'] or meta['uri']}" + (f" v{meta['version']}" if meta["version"] else "")
    console.print(_table(f"Drift as of {day}: {model} training rows vs "
                         f"{int(report['current_rows'].iloc[0]):,} accounts (top {len(rows)})",
                         ["feature", "dimension", "PSI", "status", "largest move"], rows))
    counts = report["status"].value_counts()
    health = report.set_index("feature").loc["health"]
    console.print(f"act (PSI >= {config.act:g}): {counts.get('act', 0)} · watch (>= "
                  f"{config.watch:g}): {counts.get('watch', 0)} · stable: "
                  f"{counts.get('stable', 0)}; health PSI {health['psi']:.3f} "
                  f"({health['status']})")
    for name, path in paths.items():
        console.print(f"  {name}: {path}")


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

    _quiet_for_json(as_json)
    config, dataset, day = _config_data_and_day(obj, as_of)
    outcome = compose.monitor(config, dataset, day)
    failed = outcome.live is not None and bool(outcome.live.failed)
    if as_json:
        _emit_json(monitor_summary(outcome, day))
        if failed:
            raise click.exceptions.Exit(ExitCode.LIVE_ACCURACY)
        return
    _print_monitor(outcome, day)
    if failed:
        err_console.print("[bold red]monitor:[/bold red] "
                          + "; ".join(f"{c.name} failed: {c.detail}" for c in outcome.live.failed),
                          highlight=False)
        raise click.exceptions.Exit(ExitCode.LIVE_ACCURACY)


def monitor_summary(outcome, day: dt.date) -> dict:
    """The --json summary of monitor."""
    live = outcome.live
    base = {"command": "monitor", "as_of": day.isoformat(), "window_days": outcome.window_days,
            "scored_dates": [d.isoformat() for d in outcome.scored_dates]}
    if live is None:
        return base | {"exit_code": 0, "matured_dates": [], "checks": []}

    def figures(table) -> dict:
        return {r.metric: {"value": r.value, "low": r.low, "high": r.high,
                           "target": r.target, "promised": r.promised,
                           "promised_low": r.promised_low, "promised_high": r.promised_high,
                           "intervals_overlap": r.reproduced} for r in table.itertuples()}

    return base | {
        "exit_code": int(ExitCode.LIVE_ACCURACY if live.failed else ExitCode.OK),
        "model": dict(outcome.model),
        "matured_dates": [d.isoformat() for d in sorted(set(live.rows["as_of"]))],
        "waiting_dates": [d.isoformat() for d in live.waiting],
        "cumulative": figures(live.cumulative), "recent": figures(live.recent),
        "bands": {r.band: {"rows": r.rows, "churners": r.churners, "churn_rate": r.churn_rate,
                           "low": r.low, "high": r.high,
                           "promised": getattr(r, "promised", None),
                           "intervals_overlap": getattr(r, "reproduced", "n/a")}
                  for r in live.bands.itertuples()},
        "checks": [{"name": c.name, "status": c.status, "detail": c.detail}
                   for c in live.checks],
        "misses": len(live.misses), "false_alarms": len(live.false_alarms),
        "paths": {name: str(path) for name, path in outcome.paths.items()},
        "mlflow_run": outcome.run_id,
    }


def _print_monitor(outcome, day: dt.date) -> None:
    import math

    live = outcome.live
    if live is None:
        first = outcome.scored_dates[0] if outcome.scored_dates else None
        when = (f"; the first scoring date ({first}) matures on "
                f"{first + dt.timedelta(days=outcome.window_days)}" if first else
                "; the score history is empty (run `healthscore score` first)")
        console.print(f"No scoring date has matured by {day} (an outcome needs "
                      f"{outcome.window_days} days after its scoring date){when}. Nothing written.")
        return

    def pct(v: float) -> str:
        return f"{v:.1%}" if math.isfinite(v) else "-"

    def with_ci(fmt, value: float, low: float, high: float) -> str:
        if not math.isfinite(value):
            return ""
        if not (math.isfinite(low) and math.isfinite(high)):
            return fmt(value)
        return f"{fmt(value)} [{fmt(low)}-{fmt(high)}]"

    rows = [[r.as_of, r.model_version, f"{r.accounts:,}", f"{r.churners:,}", f"{r.flagged:,}",
             f"{pct(r.recall)} [{pct(r.recall_low)}-{pct(r.recall_high)}]", pct(r.tnr),
             pct(r.precision), pct(r.accuracy), pct(r.f1), f"{r.observed_over_expected:.2f}"]
            for r in live.per_date.itertuples()]
    console.print(_table(f"Live accuracy as of {day} (at risk: health < {live.threshold:g})",
                         ["scored", "version", "accounts", "churned", "at risk", "recall [95 %]",
                          "TNR", "precision", "accuracy", "F1", "obs/exp"], rows))
    rows = []
    for r in live.cumulative.itertuples():
        if r.metric in ("expected_rate",):
            continue
        fmt = (lambda v: f"{v:.2f}" if math.isfinite(v) else "-") \
            if r.metric == "observed_over_expected" else pct
        rows.append([r.metric, with_ci(fmt, r.value, r.low, r.high),
                     f"> {r.target:.0%}" if math.isfinite(r.target) else "",
                     with_ci(fmt, r.promised, r.promised_low, r.promised_high), r.reproduced])
    console.print(_table("All matured dates", ["figure", "live [95 %]", "target",
                                               "validation report", "overlap"], rows))
    nan = float("nan")
    bands = [[r.band, f"{r.rows:,}", with_ci(pct, r.churn_rate, r.low, r.high),
              with_ci(pct, getattr(r, "promised", nan), getattr(r, "promised_low", nan),
                      getattr(r, "promised_high", nan)), getattr(r, "reproduced", "n/a")]
             for r in live.bands.itertuples()]
    console.print(_table("Churn rate per band", ["band", "rows", "live [95 %]",
                                                 "validation report", "overlap"], bands))
    marks = {"pass": "[green]pass[/]", "fail": "[bold red]fail[/]", "skipped": "skipped"}
    console.print(_table("Checks (monitoring)", ["check", "result", "numbers"],
                         [[c.name, marks[c.status], c.detail] for c in live.checks]))
    top = [[r.account_id, r.as_of, f"{r.health:.1f}", r.band, r.drivers or "-"]
           for r in live.misses.head(5).itertuples()]
    console.print(_table(f"Misses: {len(live.misses):,} churned while not at risk (top 5); "
                         f"false alarms: {len(live.false_alarms):,}",
                         ["account", "scored", "health", "band", "drivers then"], top))
    if live.waiting:
        console.print(f"{len(live.waiting)} later scoring date(s) wait for their outcome "
                      f"({live.waiting[0]} .. {live.waiting[-1]})")
    for name, path in outcome.paths.items():
        console.print(f"  {name}: {path}")
    console.print(f"  MLflow monitor run: {outcome.run_id}")


for _command in cli.commands.values():
    subcommand_config_option(_command)


def _terminate(signum: int, _frame) -> None:
    """SIGTERM (a scheduler's timeout) unwinds like an error, so MLflow runs end FAILED and
    temporary files are removed."""
    raise SystemExit(128 + signum)


def main() -> None:
    """Console-script entry point."""
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    cli(prog_name="healthscore")


if __name__ == "__main__":
    sys.exit(main())
