"""The ``--json`` summaries a scheduler reads (score, drift, monitor, retrain): plain values,
the exit code included, built from what the command's compose function returned."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from healthscore.errors import ExitCode

if TYPE_CHECKING:
    import pandas as pd

    from healthscore.pipeline.compose import MonitorOutcome
    from healthscore.serving.batch import ScoringResult
    from healthscore.training.gate import RetrainOutcome


def retrain_summary(outcome: RetrainOutcome, model_name: str) -> dict[str, Any]:
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


def score_summary(result: ScoringResult) -> dict[str, Any]:
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


def drift_summary(report: pd.DataFrame, paths: dict[str, Path], meta: dict[str, str],
                  day: dt.date, fail_on: str, reached: list[str]) -> dict[str, Any]:
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


def monitor_summary(outcome: MonitorOutcome, day: dt.date) -> dict[str, Any]:
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
