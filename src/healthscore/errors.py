"""One base error for every failure a user can cause, one subclass per kind of failure.

The CLI turns these into a one-paragraph message and a non-zero exit code; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported by whoever builds samples; `--help` stays instant
    import pandas as pd


def _no_samples() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame()


class ExitCode(IntEnum):
    """Every exit code of the command line (documented in docs/scheduling.md).

    A scheduler acts on them: retry later on ``RETRYABLE``, fix the input on ``BAD_INPUT``,
    look at the model on ``MODEL``; ``NOT_PROMOTED`` and ``DRIFT`` are outcomes, not errors.
    """

    OK = 0
    BUG = 1  # an unexpected failure: the traceback is printed
    BAD_INPUT = 2  # bad input data, config or option: the message names what to fix
    MODEL = 3  # model or run problem: not found, not comparable, no drift reference
    NOT_PROMOTED = 4  # retrain: the gate failed and the champion was kept
    DRIFT = 5  # drift --fail-on: a feature reached the given PSI status
    LIVE_ACCURACY = 6  # monitor: live recall or calibration below the monitoring thresholds
    RETRYABLE = 75  # a temporary condition (lock held, tracking server unreachable): retry


class HealthscoreError(Exception):
    """Base class of every error a user can cause and fix."""

    exit_code: int = ExitCode.BAD_INPUT


def exit_code_of(exc: BaseException) -> int:
    """The exit code the command line ends with after ``exc`` (the one place deciding it)."""
    if isinstance(exc, HealthscoreError):
        return int(exc.exit_code)
    return int(ExitCode.BUG)


class ConfigError(HealthscoreError):
    """A configuration file is missing, unreadable or invalid."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"{source}: {len(self.problems)} configuration problem(s):\n{lines}\n"
            "Fix these keys (see docs/configuration.md) and run again."
        )


@dataclass
class Violation:
    """One broken data rule: where, which rule, how many rows, and a few of them."""

    table: str
    column: str | None
    rule: str
    count: int
    samples: pd.DataFrame = field(default_factory=_no_samples)

    def describe(self) -> str:
        """Render as a short human-readable block."""
        where = f"{self.table}.{self.column}" if self.column else self.table
        text = f"{where}: {self.rule} ({self.count} row{'s' if self.count != 1 else ''})"
        if not self.samples.empty:
            sample = self.samples.head(5).to_string(index=False, max_colwidth=40)
            text += "\n" + "\n".join("      " + line for line in sample.splitlines())
        return text


class DataValidationError(HealthscoreError):
    """Input tables break the data contract; lists every violation at once."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = list(violations)
        body = "\n".join(f"  - {v.describe()}" for v in self.violations)
        super().__init__(
            f"input data breaks the data contract in {len(self.violations)} way(s):\n{body}\n"
            "See docs/data-contract.md; a `columns:` mapping in the config renames your columns."
        )


class DataSourceError(HealthscoreError):
    """A table's source cannot be found or read."""


class ParameterError(HealthscoreError):
    """A function argument or CLI option is out of range (scikit-learn style message)."""

    def __init__(self, name: str, expected: str, got: object, hint: str = "") -> None:
        super().__init__(f"The {name!r} parameter must be {expected}. Got {got!r} instead."
                         + (f" {hint}" if hint else ""))


class ModelError(HealthscoreError):
    """A model is used before fitting, cannot be found, or does not match the data."""

    exit_code = ExitCode.MODEL


class RetryableError(HealthscoreError):
    """A temporary condition outside the input: running the same command later may succeed."""

    exit_code = ExitCode.RETRYABLE


class LockHeldError(RetryableError):
    """Another process holds a lock the run needs (e.g. the DuckDB score history)."""


class TrackingUnavailableError(RetryableError):
    """The MLflow tracking server or database does not answer."""
