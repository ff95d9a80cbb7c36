"""Whether runs can be compared fairly on one holdout: the contenders (each run's loaded model
and what its run recorded), the holdout (the newest run's logged test feature rows) and every
reason a comparison would not be fair (a feature the rows lack, another label definition or
horizon, a run fitted on snapshots whose labels reach into the holdout period)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from healthscore import tracking
from healthscore.errors import ModelError
from healthscore.model.artifact import HealthModel
from healthscore.training.record import TEST_FEATURES

log = logging.getLogger(__name__)


class IncompatibleRunsError(ModelError):
    """The runs cannot be evaluated fairly on the same holdout rows."""

    def __init__(self, holdout_run: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"these runs cannot be compared on the holdout rows of run {holdout_run} (its test "
            f"period; {len(self.problems)} problem(s)):\n{lines}\nCompare runs that share the "
            "label definition and whose features the holdout rows carry, or retrain the older "
            "run on the current data and features."
        )


@dataclass(frozen=True)
class Contender:
    """One run taking part in a comparison: its loaded model and what its run recorded."""

    name: str  # unique within the comparison, e.g. "lightgbm@champion" or "scorecard 1a2b3c4d"
    run_id: str
    model: HealthModel
    params: Mapping[str, str]
    tags: Mapping[str, str]
    settings: Mapping[str, Any]  # the run's config.json
    start_time: int = 0

    @property
    def session(self) -> str:
        """The training session the run belongs to."""
        return self.tags.get(tracking.TAG_SESSION, "")

    @property
    def random_split(self) -> bool:
        """True when the run's rows were split at random rather than by snapshot date."""
        return self.tags.get("healthscore.split") == "random"


def contender(name: str, record: tracking.RunRecord, model: HealthModel) -> Contender:
    """A :class:`Contender` from a run read back from MLflow and its loaded model."""
    config = record.artifact_dir / "config.json"
    settings = json.loads(config.read_text()) if config.exists() else {}
    return Contender(name, record.run_id, model, record.params, record.tags, settings,
                     record.start_time)


def require_model_runs(records: Sequence[tracking.RunRecord]) -> None:
    """Raise :class:`ModelError` naming every run that is not a model run (session, backtest)."""
    wrong = [f"{r.run_id} ({r.tags.get(tracking.TAG_KIND, 'untagged')} run {r.name!r})"
             for r in records if r.tags.get(tracking.TAG_KIND) != "model"]
    if wrong:
        raise ModelError(f"only model runs can be compared; not model runs: {', '.join(wrong)}. "
                         "Pass the run id of a model run (the nested run of one model in a "
                         "training session) or an alias such as @champion.")


def display_names(refs: Sequence[str], records: Sequence[tracking.RunRecord]) -> list[str]:
    """Short unique names: ``lightgbm@champion`` for an alias, else ``lightgbm 1a2b3c4d``."""
    names = []
    for ref, record in zip(refs, records, strict=True):
        model = record.params.get("model") or record.tags.get(tracking.TAG_MODEL) or "model"
        names.append(f"{model}{ref}" if ref.startswith("@") else f"{model} {record.run_id[:8]}")
    counts: dict[str, int] = {}
    out = []
    for name in names:
        counts[name] = counts.get(name, 0) + 1
        out.append(name if counts[name] == 1 else f"{name} #{counts[name]}")
    return out


def newest(contenders: Sequence[Contender]) -> Contender:
    """The run started last (ties: the later one in the list): its test period is the holdout."""
    return max(reversed(contenders), key=lambda c: c.start_time)


def read_holdout_rows(artifact_dir: Path, holdout: Contender) -> pd.DataFrame:
    """The test feature rows the holdout run logged; :class:`ModelError` when it has none."""
    path = artifact_dir / TEST_FEATURES
    if not path.exists():
        raise ModelError(
            f"run {holdout.run_id} ({holdout.name}) is the newest run, so its test period is the "
            f"holdout, but it has no {TEST_FEATURES} (runs logged before healthscore stored "
            "their test feature rows, or feature tables whose rows have no unique "
            "account_id/snapshot_date). Retrain it, or compare it with a newer run.")
    rows = pd.read_parquet(path)
    if "snapshot_date" in rows.columns:
        rows["snapshot_date"] = pd.to_datetime(rows["snapshot_date"]).dt.date
    return rows


def honest_contender(contender: Contender, rows: pd.DataFrame) -> Contender:
    """The contender scored by its held-out evaluation fit when its registered model was refit
    on rows that reach into ``rows`` (scoring rows a model was fitted on would flatter it)."""
    evaluation = getattr(contender.model, "evaluation", None)
    if evaluation is None:
        return contender
    through = contender.params.get("refit_through")
    if through and "snapshot_date" in rows and len(rows) and \
            str(min(rows["snapshot_date"])) > through:
        return contender  # refit only on rows before the holdout: the registered model is fair
    log.info("%s: scored by its evaluation fit (its registered model was refit on rows "
             "through %s, which overlap the holdout)", contender.name, through or "?")
    return replace(contender, model=evaluation)


def label_definition(c: Contender) -> dict[str, object]:
    """What the run's model predicts: label column, horizon and the label's own settings,
    read from the label definition the model carries (features/labels.py), or for a model
    trained before models carried one, rebuilt from the run's logged settings."""
    spec = getattr(c.model, "label_spec", None)
    return spec.definition() if spec is not None else logged_label_definition(c)


def logged_label_definition(c: Contender) -> dict[str, object]:
    """The label definition rebuilt from a run's logged settings (models trained before
    they carried a :class:`~healthscore.features.labels.LabelSpec`)."""
    features = c.settings.get("features", {}) if isinstance(c.settings, Mapping) else {}
    out: dict[str, object] = {"label": c.model.label, "horizon_days": c.model.horizon_days}
    if c.model.label == "label_churn":
        churn = features.get("churn", {})
        definition = churn.get("definition", "contract")  # runs before it was optional: contract
        # None: the data decided (contract with a subscriptions table, else inactivity)
        out["churn"] = definition or "implied by the data"
        if definition in (None, "contract"):
            out["grace_days"] = churn.get("grace_days")
        if definition != "contract":
            out["activity_events"] = sorted(churn.get("inactivity_event_types") or []) or "all"
    elif c.model.label == "label_expansion":
        out["expansion_pct"] = features.get("expansion_pct")
    return out


def describe_definition(definition: Mapping[str, object]) -> str:
    """A label definition as one line: ``label label_churn, horizon_days 90, ...``."""
    return ", ".join(f"{k} {v}" for k, v in definition.items())


def definitions(c: Contender, holdout: Contender) -> tuple[dict[str, object],
                                                           dict[str, object]]:
    """The label definitions of ``c`` and ``holdout`` in one vocabulary: the carried ones
    when both models carry one, else both rebuilt from the logged settings."""
    if all(getattr(x.model, "label_spec", None) is not None for x in (c, holdout)):
        return label_definition(c), label_definition(holdout)
    return logged_label_definition(c), logged_label_definition(holdout)


def contender_fitted_through(c: Contender) -> dt.date | None:
    """Last snapshot the run's model was fitted or calibrated on: carried by the model
    (``info['fitted_through']``), or for an older model read from the logged split."""
    carried = c.model.info.get("fitted_through")
    return dt.date.fromisoformat(carried) if carried else fitted_through(c.params)


def fitted_through(params: Mapping[str, str]) -> dt.date | None:
    """Last snapshot a run's models were fitted or calibrated on (its validation period's end).

    Read from the ``split_validation`` param, ``"(start, end]"``, of runs whose models do not
    carry it; None for a random split.
    """
    found = re.search(r"(\d{4}-\d{2}-\d{2})\]\s*$", params.get("split_validation", ""))
    return dt.date.fromisoformat(found.group(1)) if found else None


def compatibility_problems(contenders: Sequence[Contender], holdout: Contender,
                           rows: pd.DataFrame) -> list[str]:
    """Every reason the contenders cannot be compared fairly on ``rows`` (empty: they can).

    - a model needs a feature the holdout rows lack;
    - the label column is missing from the rows, or a label definition or horizon differs;
    - a run from another session was fitted on snapshots after the holdout run's own fitting
      cut-off (its label windows reach into the holdout period), or either was split at random
      (its training rows may be the holdout rows).
    """
    problems: list[str] = []
    if holdout.model.label not in rows.columns:
        problems.append(f"the holdout rows of run {holdout.run_id} have no label column "
                        f"{holdout.model.label!r}")
    cut = contender_fitted_through(holdout)
    for c in contenders:
        who = f"run {c.run_id} ({c.name})"
        missing = [f for f in c.model.feature_names if f not in rows.columns]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more"
                                              if len(missing) > 5 else "")
            problems.append(f"{who} needs {len(missing)} feature(s) the holdout rows lack: "
                            f"{shown}")
        definition, reference = definitions(c, holdout)
        if definition != reference:
            problems.append(f"{who} predicts {describe_definition(definition)}; the holdout "
                            f"run {holdout.run_id} ({holdout.name}) predicts "
                            f"{describe_definition(reference)}")
        if c.session == holdout.session:
            continue
        if c.random_split or holdout.random_split:
            problems.append(f"{who} and the holdout run {holdout.run_id} come from different "
                            "training sessions and one was split at random, so the holdout rows "
                            "may have been its training rows")
            continue
        theirs = contender_fitted_through(c)
        if theirs is not None and cut is not None and theirs > cut:
            problems.append(
                f"{who} was fitted on snapshots up to {theirs}, after the holdout run's cut-off "
                f"{cut}: its labels reach into the holdout period "
                f"{holdout.params.get('split_test', '')}, so its scores there are not out of "
                "sample")
    return list(dict.fromkeys(problems))


def check_compatible(contenders: Sequence[Contender], holdout: Contender,
                     rows: pd.DataFrame) -> None:
    """Raise :class:`IncompatibleRunsError` listing every problem, if there is one."""
    problems = compatibility_problems(contenders, holdout, rows)
    if problems:
        raise IncompatibleRunsError(holdout.run_id, problems)
