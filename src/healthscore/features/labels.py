"""What each label column of a feature matrix means, fixed when the matrix is built.

A :class:`LabelSpec` travels with the matrix into the model artifact and MLflow, so a
comparison of runs reads the label a model predicts instead of rebuilding it from the logged
settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from healthscore.features.settings import FeatureConfig

CHURN_LABEL = "label_churn"
EXPANSION_LABEL = "label_expansion"


@dataclass(frozen=True)
class LabelSpec:
    """One label column's definition: its horizon and the settings that decide a positive.

    ``churn`` is the definition in force for ``label_churn`` (``contract`` or
    ``inactivity``, as resolved from the data); ``grace_days`` applies to contract churn,
    ``activity_events`` (empty: every event) to inactivity churn; ``expansion_pct`` to
    ``label_expansion``.
    """

    label: str
    horizon_days: int
    churn: str | None = None
    grace_days: int | None = None
    activity_events: tuple[str, ...] = ()
    expansion_pct: float | None = None

    def definition(self) -> dict[str, object]:
        """The definition as the comparison of runs shows it: label, horizon, then the
        settings that apply to this label only."""
        out: dict[str, object] = {"label": self.label, "horizon_days": self.horizon_days}
        if self.label == CHURN_LABEL and self.churn is not None:
            out["churn"] = self.churn
            if self.churn == "contract":
                out["grace_days"] = self.grace_days
            else:
                out["activity_events"] = sorted(self.activity_events) or "all"
        elif self.label == EXPANSION_LABEL:
            out["expansion_pct"] = self.expansion_pct
        return out

    def describe(self) -> str:
        """One line: ``label label_churn, horizon_days 90, churn contract, grace_days 30``."""
        return ", ".join(f"{k} {v}" for k, v in self.definition().items())


def label_specs(config: FeatureConfig, churn: str) -> dict[str, LabelSpec]:
    """The definitions of the labels a feature build writes, with ``churn`` the churn
    definition in force (see :func:`healthscore.features.snapshots.churn_definition`)."""
    contract = churn == "contract"
    return {
        CHURN_LABEL: LabelSpec(
            CHURN_LABEL, config.horizon_days, churn,
            grace_days=config.churn.grace_days if contract else None,
            activity_events=() if contract else tuple(sorted(
                config.churn.inactivity_event_types))),
        EXPANSION_LABEL: LabelSpec(EXPANSION_LABEL, config.horizon_days,
                                   expansion_pct=config.expansion_pct),
    }
