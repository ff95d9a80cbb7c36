"""What the commands print for a person: tables and short lines read from what each compose
function returned. Only the command line (:mod:`~healthscore.pipeline.cli`) calls these."""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from healthscore.pipeline.terminal import console, err_console, progress_bar, table

if TYPE_CHECKING:
    import pandas as pd

    from healthscore.data.dataset import Dataset
    from healthscore.pipeline.compose import BuiltMatrix, DemoOutcome, MonitorOutcome
    from healthscore.pipeline.config import Config
    from healthscore.progress import Progress
    from healthscore.serving.batch import ScoringResult
    from healthscore.serving.settings import DriftConfig
    from healthscore.synth.world import WorldSummary
    from healthscore.training.compare import Comparison
    from healthscore.training.feature_table import ColumnNote, PreparedTable
    from healthscore.training.gate import RetrainOutcome
    from healthscore.training.record import RecordedSession
    from healthscore.training.train import ModelResult, TrainingRun

VERDICT_STYLE = {"better": "bold green", "worse": "bold red"}
CHECK_MARKS = {"pass": "[green]pass[/]", "fail": "[bold red]fail[/]", "skipped": "skipped"}


def print_world(summary: WorldSummary, seconds: float) -> None:
    """Rows per table, the period and the ground-truth churn of a synthetic world."""
    churn = summary.churn_rate_by_segment
    rows = [[name, f"{n:,}"] for name, n in summary.row_counts.items()]
    console.print(table("Synthetic world", ["table", "rows"], rows))
    console.print(f"{summary.start_date} .. {summary.end_date}, written to {summary.out_dir} in "
                  f"{seconds:.1f}s; yearly logo churn (ground truth): "
                  + ", ".join(f"{seg} {rate:.1%}" for seg, rate in churn.items()))


def print_dataset(dataset: Dataset) -> None:
    """Rows and date range of every contract table (absent optional ones said so)."""
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
    console.print(table(f"Input data valid (end date {dataset.end_date})",
                        ["table", "rows", "first", "last", "status"], rows))


def print_churn_definition(config: Config, dataset: Dataset) -> None:
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


def print_matrix(built: BuiltMatrix) -> None:
    """Snapshots, features per dimension, the leakage audit and where the matrix went."""
    from healthscore.features.registry import by_dimension

    matrix = built.matrix
    frame = matrix.frame
    per = frame.groupby("snapshot_date").agg(
        rows=("account_id", "size"), observed=("label_observed", "mean"),
        churn=("label_churn", "mean"),
    )
    labelled = frame[frame["label_observed"]]
    rate = labelled.groupby("snapshot_date")["label_churn"].mean()
    rows = [[d, f"{int(r.rows):,}", f"{r.observed:.0%}",
             f"{rate[d]:.1%}" if d in rate.index else "unobserved"] for d, r in per.iterrows()]
    console.print(table("Snapshots", ["snapshot", "accounts", "labelled", "churn rate"], rows))
    dims = [[d.value, len(specs), ", ".join(s.name for s in specs[:4])
             + (" ..." if len(specs) > 4 else "")]
            for d, specs in by_dimension(matrix.features).items()]
    console.print(table("Features per dimension", ["dimension", "n", "examples"], dims))
    flagged = matrix.leakage[matrix.leakage["flagged"]]
    top = matrix.leakage.head(3)
    audit = ", ".join(f"{r.feature} {r.auc:.2f}" for r in top.itertuples())
    if flagged.empty:
        console.print(f"Leakage audit: no feature above the threshold (top: {audit})")
    else:
        console.print("[bold yellow]Leakage audit flagged[/bold yellow]: "
                      + ", ".join(f"{r.feature} (AUC {r.auc:.3f})" for r in flagged.itertuples()))
    source = "cache" if matrix.from_cache else f"built in {built.seconds:.1f}s"
    console.print(f"{len(frame):,} rows x {len(matrix.features)} features "
                  f"({len(labelled):,} labelled, churn {labelled['label_churn'].mean():.1%}); "
                  f"{source}; written to {built.path}")


def print_typing(prepared: PreparedTable, source: Path) -> None:
    """The column typing report: what was kept, and every column coerced, excluded or
    dropped with the reason (also logged to MLflow as tables/column_typing.csv)."""
    kinds = {n.action for n in prepared.notes}
    counts = {k: sum(n.action == k for n in prepared.notes) for k in sorted(kinds)}
    labelled = int(prepared.frame["label_observed"].sum())
    churned = int(prepared.frame.loc[prepared.frame["label_observed"], "label_churn"].sum())
    console.print(f"Feature table {source}: {len(prepared.frame):,} rows ({labelled:,} labelled, "
                  f"churn {churned / max(labelled, 1):.1%}), {len(prepared.metas)} model inputs; "
                  "columns " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print_column_warnings([n for n in prepared.notes if n.warns or n.action == "label"])
    dims = {}
    for meta in prepared.metas:
        dims[meta.dimension] = dims.get(meta.dimension, 0) + 1
    console.print("Inputs per dimension: " + " · ".join(f"{k} {v}" for k, v in dims.items()))


def roc_auc_with_interval(result: ModelResult) -> str:
    """A model's test ROC-AUC, with its bootstrap interval when there is one."""
    auc = f"{result.test.overall['roc_auc']:.3f}"
    ci = result.test.intervals.set_index("metric")
    if "roc_auc" in ci.index and ci.loc["roc_auc", "low"] == ci.loc["roc_auc", "low"]:
        auc += f" [{ci.loc['roc_auc', 'low']:.3f}-{ci.loc['roc_auc', 'high']:.3f}]"
    return auc


def print_training(run: TrainingRun, session: RecordedSession, reports: dict[str, Path],
                   ) -> None:
    """Test-period metrics per model, the best and its aliases, fitting notes, reports."""
    keys = ("roc_auc", "pr_auc", "recall", "precision", "lift_top_10pct", "ece", "brier")
    rows = []
    for name, result in run.results.items():
        o = result.test.overall
        auc = roc_auc_with_interval(result)
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
    console.print(table(f"Test-period metrics; {title}", ["model", *keys, "run"], rows))
    alias = f"registered version {session.registered_version} as @challenger"
    if session.champion_set:
        alias += " and @champion (no champion yet)"
    console.print(f"* best by validation PR-AUC: [bold]{session.best}[/bold]; {alias}")
    if run.expansion is not None:
        console.print(f"expansion readiness ({run.expansion.name}, label_expansion): test "
                      f"ROC-AUC {roc_auc_with_interval(run.expansion)}; scored with every "
                      "churn model")
    print_fitting(run)
    for name, path in reports.items():
        console.print(f"  report {name}: {path}")


def print_fitting(run: TrainingRun) -> None:
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


def print_backtest(folds: pd.DataFrame, summary: str) -> None:
    """The metrics of every backtest fold, then how many folds fit and why."""
    keys = ("roc_auc", "pr_auc", "recall", "precision", "ece")
    rows = [[r.fold, r.model, f"{r.test_start} .. {r.test_end}", f"{r.test_rows:,}"]
            + [f"{getattr(r, k):.3f}" for k in keys] for r in folds.itertuples()]
    console.print(table("Backtest: would this have predicted past churn?",
                        ["fold", "model", "test period", "rows", *keys], rows))
    style = "yellow" if "skipped" in summary else "dim"
    console.print(f"[{style}]{escape(summary)}[/{style}]")


def print_comparison(comparison: Comparison, path: Path, run_id: str) -> None:
    """Runs side by side on the same rows and each one's paired difference to the first."""
    from healthscore.training.compare import (
        formatted_differences,
        formatted_side_by_side,
        holdout_summary,
    )

    side = formatted_side_by_side(comparison)
    console.print(table(f"Side by side on the same rows: {holdout_summary(comparison)}",
                        list(side.columns), side.to_numpy().tolist()))
    diffs = formatted_differences(comparison)
    diffs["verdict"] = [f"[{VERDICT_STYLE[v]}]{v}[/]" if v in VERDICT_STYLE else v
                        for v in diffs["verdict"]]
    console.print(table(f"Each run minus {comparison.reference} (paired bootstrap, "
                        f"{comparison.n_boot} resamples, 95 %)", list(diffs.columns),
                        diffs.to_numpy().tolist()))
    console.print(f"  comparison report: {path}\n  MLflow comparison run: {run_id}")


def print_gate(outcome: RetrainOutcome, model_name: str) -> None:
    """Every check of the promotion gate with its numbers, and what became @champion."""
    rows = [[c.name, CHECK_MARKS[c.status], c.detail] for c in outcome.decision.checks]
    console.print(table("Promotion gate (training.promotion)", ["check", "result", "numbers"],
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


def print_retrain(outcome: RetrainOutcome, model_name: str) -> None:
    """The training session, the backtest, the comparison with @champion (when there was
    one) and the gate."""
    print_training(outcome.run, outcome.session, outcome.reports)
    print_backtest(outcome.folds, outcome.backtest_summary)
    if outcome.comparison is not None:
        print_comparison(outcome.comparison, outcome.comparison_path, outcome.comparison_run_id)
    print_gate(outcome, model_name)


def print_owner(result: ScoringResult, owner: str, band_order: list[str]) -> None:
    """One owner's accounts: this week's headlines and the top 10 by ARR at risk."""
    from healthscore.serving.portfolio import account_label, this_week

    mine = result.scores[result.scores["owner"].astype(str) == owner]
    for headline, accounts in this_week(mine, band_order):
        console.print(f"[bold]{escape(headline)}[/bold]: "
                      + escape(", ".join(account_label(r) for _, r in accounts.iterrows())))
    top = mine.assign(risk=mine["arr"].fillna(0) * mine["churn_probability"]).nlargest(
        10, "risk")
    rows = [[account_label(r), f"{r.health:.1f}", r.band, f"{r.arr:,.0f}", r.risk_1_reason,
             r.playbook] for _, r in top.iterrows()]
    console.print(table(f"{owner}: {len(mine):,} accounts (top 10 by ARR at risk)",
                        ["account", "health", "band", "ARR", "top risk", "playbook"], rows))


def print_scores(result: ScoringResult) -> None:
    """The portfolio by band, alerts, the top 5 at risk, the shadow, files and timings."""
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
    console.print(table("Portfolio by band", ["band", "accounts", "ARR", "mean health"], rows))
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
    console.print(table("Top 5 by ARR at risk" if has_arr else "Top 5 by churn probability",
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


def print_drift(report: pd.DataFrame, paths: dict[str, Path], meta: dict[str, str],
                day: dt.date, config: DriftConfig) -> None:
    """The most drifted inputs, PSI status counts and health's PSI, and the files."""
    colors = {"stable": "green", "watch": "yellow", "act": "bold red"}
    rows = [[r.feature, r.dimension, f"{r.psi:.3f}", f"[{colors[r.status]}]{r.status}[/]",
             f"{r.top_bin}: {r.top_bin_reference:.1%} -> {r.top_bin_current:.1%}"]
            for r in report.head(config.top).itertuples()]
    model = f"{meta['name'] or meta['uri']}" + (f" v{meta['version']}" if meta["version"] else "")
    console.print(table(f"Drift as of {day}: {model} training rows vs "
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


def print_monitor(outcome: MonitorOutcome, day: dt.date) -> None:
    """Live accuracy per date and overall beside the validation report, bands, checks,
    misses; or why nothing has matured yet."""
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
    console.print(table(f"Live accuracy as of {day} (at risk: health < {live.threshold:g})",
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
    console.print(table("All matured dates", ["figure", "live [95 %]", "target",
                                              "validation report", "overlap"], rows))
    nan = float("nan")
    bands = [[r.band, f"{r.rows:,}", with_ci(pct, r.churn_rate, r.low, r.high),
              with_ci(pct, getattr(r, "promised", nan), getattr(r, "promised_low", nan),
                      getattr(r, "promised_high", nan)), getattr(r, "reproduced", "n/a")]
             for r in live.bands.itertuples()]
    console.print(table("Churn rate per band", ["band", "rows", "live [95 %]",
                                                "validation report", "overlap"], bands))
    console.print(table("Checks (monitoring)", ["check", "result", "numbers"],
                        [[c.name, CHECK_MARKS[c.status], c.detail] for c in live.checks]))
    top = [[r.account_id, r.as_of, f"{r.model_health:.1f}", r.model_band,
            r.as_scored or "same", r.drivers or "-"]
           for r in live.misses.head(5).itertuples()]
    console.print(table(f"Misses: {len(live.misses):,} churned while not at risk (top 5); "
                        f"false alarms: {len(live.false_alarms):,}",
                        ["account", "scored", "model health", "model band", "as scored",
                         "drivers then"], top))
    if live.waiting:
        console.print(f"{len(live.waiting)} later scoring date(s) wait for their outcome "
                      f"({live.waiting[0]} .. {live.waiting[-1]})")
    for name, path in outcome.paths.items():
        console.print(f"  {name}: {path}")
    console.print(f"  MLflow monitor run: {outcome.run_id}")


def print_drift_reached(reached: list[str], fail_on: str) -> None:
    """On stderr: the inputs whose PSI reached ``--fail-on`` (the command then exits 5)."""
    err_console.print(f"[bold red]drift:[/bold red] {len(reached)} input(s) at or above "
                      f"--fail-on {fail_on}: {', '.join(reached[:10])}"
                      + (" ..." if len(reached) > 10 else ""), highlight=False)


def print_monitor_failed(outcome: MonitorOutcome) -> None:
    """On stderr: the monitoring checks that failed (the command then exits 6)."""
    err_console.print("[bold red]monitor:[/bold red] "
                      + "; ".join(f"{c.name} failed: {c.detail}" for c in outcome.live.failed),
                      highlight=False)


def print_column_warnings(notes: list[ColumnNote]) -> None:
    """On stderr: one warning per column note (a column coerced, excluded or dropped)."""
    for note in notes:
        err_console.print(f"[yellow]warning:[/yellow] column {escape(note.column)} "
                          f"{note.action}: {escape(note.reason)}", highlight=False)


class DemoConsole:
    """The demo's hooks (:class:`~healthscore.pipeline.compose.DemoHooks`): a rule per stage
    and each step's summary as it finishes."""

    def progress(self) -> AbstractContextManager[Progress | None]:
        """A transient progress bar for one step."""
        return progress_bar()

    def stage(self, number: int, title: str) -> None:
        """A rule naming the stage, e.g. ``1/6 synthetic world``."""
        from healthscore.pipeline.compose.end_to_end import DEMO_STAGES

        console.rule(f"{number}/{len(DEMO_STAGES)} {title}")

    def world(self, summary: WorldSummary, seconds: float) -> None:
        """See :func:`print_world`."""
        print_world(summary, seconds)

    def validated(self, dataset: Dataset) -> None:
        """See :func:`print_dataset`."""
        print_dataset(dataset)

    def building_features(self, config: Config, dataset: Dataset) -> None:
        """See :func:`print_churn_definition`."""
        print_churn_definition(config, dataset)

    def features(self, built: BuiltMatrix) -> None:
        """See :func:`print_matrix`."""
        print_matrix(built)

    def trained(self, run: TrainingRun, session: RecordedSession,
                reports: dict[str, Path]) -> None:
        """See :func:`print_training`."""
        print_training(run, session, reports)

    def scored(self, result: ScoringResult, last: bool) -> None:
        """One line per earlier date; the full summary (:func:`print_scores`) for the last."""
        if last:
            print_scores(result)
        else:
            console.print(f"Scored {len(result.scores):,} accounts as of {result.as_of}")

    def monitored(self, outcome: MonitorOutcome, day: dt.date) -> None:
        """See :func:`print_monitor`, and when to run it if nothing has matured yet."""
        print_monitor(outcome, day)
        if outcome.live is None:  # the demo scores its last months: their outcomes lie ahead
            console.print("The demo scores the last months of its data, so their outcomes are "
                          "still ahead: run `monitor` each month once they mature (exit 6 when "
                          "live recall or calibration falls below `monitoring`).")


def print_demo_finished(outcome: DemoOutcome) -> None:
    """How long the demo took and where its outputs, report and MLflow runs are."""
    uri = outcome.tracking_uri
    console.print(f"[bold green]demo finished[/bold green] in {outcome.seconds:.0f}s;"
                  f" outputs in {outcome.workdir}/, portfolio report {outcome.portfolio_report}, "
                  f"MLflow runs in {uri} (browse: mlflow ui --backend-store-uri {uri})")
