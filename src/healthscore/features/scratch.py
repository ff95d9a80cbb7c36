"""Intermediate tables one feature build owns: unique names, dropped when the build ends.

A step that has to materialise (the spine's customer blocks and contract state, the metrics
kernel's codes, a family of a Spark build with ``compute_features(materialise=True)``) makes its
table through a :class:`Scratch` and hands the name to the next step, so two builds on one
connection (a notebook that builds twice, scoring beside a backtest) never read or drop each
other's tables. Family features are otherwise relations composed into the matrix query
(:func:`healthscore.features.engine.family_relation`), with no table at all.
"""

from __future__ import annotations

import logging
import uuid
from types import TracebackType

import duckdb

from healthscore.features.sql import Renderer, duckdb_renderer

log = logging.getLogger(__name__)


class Scratch:
    """Temp tables created for one build, named ``hs_<role>_<build tag>``; a context manager
    that drops them all on exit (also when the build fails)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, render: Renderer | None = None) -> None:
        self.con = con
        self.render = render or duckdb_renderer()
        self.tag = uuid.uuid4().hex[:10]
        self.names: list[str] = []

    def name(self, role: str) -> str:
        """This build's name for a table playing ``role`` (letters, digits and _ only)."""
        if not role.replace("_", "").isalnum() or not role.isascii():
            raise ValueError(f"a scratch table role must be [A-Za-z0-9_]+: {role!r}")
        return f"hs_{role}_{self.tag}"

    def table(self, role: str, sql: str, params: dict[str, object] | None = None) -> str:
        """Materialise ``sql`` as this build's ``role`` table; return its name."""
        name = self.name(role)
        self.con.execute(self.render.create_table(name, sql), params)
        if name not in self.names:
            self.names.append(name)
        return name

    def close(self) -> None:
        """Drop every table this build created."""
        while self.names:
            self.con.execute(f"DROP TABLE IF EXISTS {self.names.pop()}")

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        try:
            self.close()
        except duckdb.Error as exc:  # an interrupted connection: the failure that got us here
            if kind is None:  # matters more than the cleanup; without one, report this
                raise
            log.debug("scratch tables not dropped after a failed build: %s", exc)
