"""The ``demo``: every stage end to end on the embedded synthetic world, wired here and
reported through hooks (the CLI's print each step; see :class:`DemoHooks`)."""

from __future__ import annotations

import datetime as dt
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from healthscore.pipeline.compose.inputs import (
    BuiltMatrix,
    matrix_inputs,
    open_data,
    synthesize_world,
    write_features,
)
from healthscore.pipeline.compose.monitoring import MonitorOutcome, monitor
from healthscore.pipeline.compose.runs import train
from healthscore.pipeline.compose.scoring import score
from healthscore.pipeline.compose.workspace import tracking_uri
from healthscore.pipeline.config import Config
from healthscore.progress import Progress

if TYPE_CHECKING:
    from healthscore.data.dataset import Dataset
    from healthscore.serving.batch import ScoringResult
    from healthscore.synth.world import WorldSummary
    from healthscore.training.record import RecordedSession
    from healthscore.training.train import TrainingRun

DEMO_STAGES = ("synthetic world", "validate", "features", "train, validate, track",
               "score the portfolio", "live accuracy")
SCORED_MONTHS = 3  # monthly scoring runs, so the last one has trends and alerts


class DemoHooks(Protocol):
    """What the demo reports as it goes; each hook is called once its step is done."""

    def progress(self) -> AbstractContextManager[Progress | None]:
        """A progress callback for one long step (or None), open while the step runs."""

    def stage(self, number: int, title: str) -> None:
        """Stage ``number`` of :data:`DEMO_STAGES` starts."""

    def world(self, summary: WorldSummary, seconds: float) -> None:
        """The synthetic world is written."""

    def validated(self, dataset: Dataset) -> None:
        """The input tables loaded and passed the data contract."""

    def building_features(self, config: Config, dataset: Dataset) -> None:
        """The feature matrix is about to be built."""

    def features(self, built: BuiltMatrix) -> None:
        """The feature matrix is built and written."""

    def trained(self, run: TrainingRun, session: RecordedSession,
                reports: dict[str, Path]) -> None:
        """The models are trained, validated and recorded."""

    def scored(self, result: ScoringResult, last: bool) -> None:
        """One scoring date is done (``last``: the newest, whose files the demo points at)."""

    def monitored(self, outcome: MonitorOutcome, day: dt.date) -> None:
        """Live accuracy as of ``day`` is evaluated."""


@dataclass(frozen=True)
class DemoOutcome:
    """Where the demo left its outputs and how long it took."""

    seconds: float
    workdir: Path
    portfolio_report: Path
    tracking_uri: str
    monitor: MonitorOutcome


def demo(config: Config, hooks: DemoHooks) -> DemoOutcome:
    """synth → validate → features → train (MLflow) → score three monthly dates → monitor."""
    started = time.perf_counter()
    hooks.stage(1, DEMO_STAGES[0])
    with hooks.progress() as progress:
        summary = synthesize_world(config, progress=progress)
    hooks.world(summary, time.perf_counter() - started)
    hooks.stage(2, DEMO_STAGES[1])
    dataset = open_data(config)
    hooks.validated(dataset)
    hooks.stage(3, DEMO_STAGES[2])
    hooks.building_features(config, dataset)
    with hooks.progress() as progress:
        built = write_features(config, dataset, progress=progress)
    hooks.features(built)
    hooks.stage(4, DEMO_STAGES[3])
    frame, metas = matrix_inputs(built.matrix)
    with hooks.progress() as progress:
        run, session, reports = train(config, frame, metas, dataset.fingerprint, progress,
                                      labels=built.matrix.labels)
    hooks.trained(run, session, reports)
    hooks.stage(5, DEMO_STAGES[4])
    model_uri = f"models:/{config.training.tracking.model_name}/{session.registered_version}"
    days = month_starts_before(dataset.end_date + dt.timedelta(days=1), SCORED_MONTHS)
    for day in days:
        with hooks.progress() as progress:
            result = score(config, dataset, day, model_uri, progress=progress,
                           matrix=built.matrix)  # its snapshots include the month starts
        hooks.scored(result, day == days[-1])
    hooks.stage(6, DEMO_STAGES[5])
    day = dataset.end_date + dt.timedelta(days=1)
    outcome = monitor(config, dataset, day)
    hooks.monitored(outcome, day)
    return DemoOutcome(time.perf_counter() - started, config.workdir, result.paths["report"],
                       tracking_uri(config), outcome)


def month_starts_before(last: dt.date, n: int) -> list[dt.date]:
    """The ``n`` first-of-month dates up to ``last`` (itself when it is a first), oldest first."""
    months = [last.replace(day=1)]
    while len(months) < n:
        months.append((months[-1] - dt.timedelta(days=1)).replace(day=1))
    return months[::-1]
