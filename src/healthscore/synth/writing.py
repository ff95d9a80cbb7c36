"""Writing a world: contract tables, ground truth and ``world.json``; ``synthesize``."""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from healthscore.data.schema import TABLES, Kind
from healthscore.data.settings import SynthConfig
from healthscore.io import atomic_path, write_csv, write_text
from healthscore.progress import Progress
from healthscore.synth.helpers import _date
from healthscore.synth.month import Batch
from healthscore.synth.simulation import _simulate
from healthscore.synth.tables import (
    BUSINESS_TABLES,
    _events_arrow,
    _ground_truth_frame,
    _tables,
    annual_churn_rates,
)
from healthscore.synth.world import (
    GROUND_TRUTH,
    MANIFEST,
    Format,
    World,
    WorldSummary,
    event_directions,
    event_types,
)

log = logging.getLogger(__name__)


def _date_columns(table: str) -> list[str]:
    if table == GROUND_TRUTH:
        return ["month"]
    return [c.name for c in TABLES[table].columns if c.kind in (Kind.DATE, Kind.TIMESTAMP)]


def _arrow(frame: pd.DataFrame, table: str) -> pa.Table:
    """``frame`` as Arrow with date columns as date32 and no pandas metadata."""
    data = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    for name in _date_columns(table):
        i = data.schema.get_field_index(name)
        data = data.set_column(i, name, data.column(name).cast(pa.date32()))
    return data


def _clear_alternatives(out_dir: Path, table: str, keep: Path) -> None:
    """Remove an older copy of ``table`` in another layout so loaders see only the new one."""
    for candidate in (out_dir / f"{table}.parquet", out_dir / f"{table}.csv", out_dir / table):
        if candidate == keep or not candidate.exists():
            continue
        log.info("removing stale %s", candidate)
        if candidate.is_dir():
            shutil.rmtree(candidate)
        else:
            candidate.unlink()


def _write_frame(frame: pd.DataFrame, table: str, out_dir: Path, fmt: Format) -> Path:
    target = out_dir / f"{table}.{fmt}"
    _clear_alternatives(out_dir, table, target)
    if fmt == "csv":
        return write_csv(frame, target)
    with atomic_path(target) as tmp:
        pq.write_table(_arrow(frame, table), tmp)
    return target


def _write_manifest(config_like: dict[str, object], out_dir: Path) -> Path:
    return write_text(json.dumps(config_like, indent=2, sort_keys=True) + "\n",
                      out_dir / MANIFEST)


def _manifest(seed: int | None, accounts: int, months: int, start: dt.date, end: dt.date,
              rows: dict[str, int], fmt: Format, business: str = "saas",
              difficulty: str = "realistic") -> dict[str, object]:
    """world.json: what was generated, and the ground truth of each event type's direction
    (``harmful`` ones rise as health falls; never a model input)."""
    return {"seed": seed, "accounts": accounts, "months": months,
            "start_date": start.isoformat(), "end_date": end.isoformat(),
            "format": fmt, "row_counts": rows, "business": business,
            "difficulty": difficulty, "tables": list(rows),
            "event_types": event_directions(business)}


def write_world(world: World, out_dir: Path, fmt: Format = "parquet") -> dict[str, Path]:
    """Write every contract table as ``<out_dir>/<table>.<fmt>``, the ground truth as
    ``ground_truth.parquet`` (always Parquet, kept apart from the model inputs by name) and a
    ``world.json`` manifest; return table -> path (ground truth included)."""
    out_dir = Path(out_dir)
    for absent in set(TABLES) - set(world.tables):
        _clear_alternatives(out_dir, absent, out_dir / "-")  # not part of this world
    paths = {name: _write_frame(frame, name, out_dir, fmt) for name, frame in world.tables.items()}
    paths[GROUND_TRUTH] = _write_frame(world.ground_truth, GROUND_TRUTH, out_dir, "parquet")
    rows = {name: len(frame) for name, frame in world.tables.items()}
    after = world.end_date + dt.timedelta(days=1)
    months = (after.year - world.start_date.year) * 12 + after.month - world.start_date.month
    _write_manifest(_manifest(world.seed, len(world.tables["accounts"]), months,
                              world.start_date, world.end_date, rows, fmt, world.business,
                              world.difficulty), out_dir)
    return paths


class _EventParts:
    """Writes each month's events as ``part-NNNN.<fmt>`` into a folder."""

    def __init__(self, folder: Path, fmt: Format, names: tuple[str, ...]) -> None:
        self.folder = folder
        self.fmt = fmt
        self.names = names
        self.rows = 0

    def __call__(self, period: int, batch: Batch) -> None:
        data = _events_arrow(batch, self.names)
        path = self.folder / f"part-{period:04d}.{self.fmt}"
        if self.fmt == "csv":
            pacsv.write_csv(data, path)
        else:
            pq.write_table(data, path)
        self.rows += data.num_rows


def synthesize(config: SynthConfig, out_dir: Path,
               progress: Progress | None = None) -> WorldSummary:
    """Generate the world and write it to ``out_dir``, streaming events month by month.

    Events go to ``<out_dir>/events/part-NNNN.<fmt>`` (one file per month) so memory stays
    bounded; the other tables, ``ground_truth.parquet`` and ``world.json`` as in
    :func:`write_world`. ``progress(step, done, total)`` is called as the work advances.
    """
    config = config.resolved()
    out_dir = Path(out_dir)
    fmt: Format = config.format
    events_dir = out_dir / "events"
    _clear_alternatives(out_dir, "events", events_dir)
    for absent in set(TABLES) - set(BUSINESS_TABLES[config.business]):
        _clear_alternatives(out_dir, absent, out_dir / "-")  # not part of this world
    with atomic_path(events_dir) as tmp:
        tmp.mkdir()
        parts = _EventParts(tmp, fmt, tuple(t.name for t in event_types(config.business)))
        res = _simulate(config, parts, progress)
    tables = _tables(res)
    truth = _ground_truth_frame(res.out.concat(GROUND_TRUTH), res.segs, res.acc)
    paths: dict[str, Path] = {}
    for i, (name, frame) in enumerate(tables.items()):
        paths[name] = _write_frame(frame, name, out_dir, fmt)
        if progress is not None:
            progress("write", i + 1, len(tables) + 1)
    paths["events"] = events_dir
    paths[GROUND_TRUTH] = _write_frame(truth, GROUND_TRUTH, out_dir, "parquet")
    if progress is not None:
        progress("write", len(tables) + 1, len(tables) + 1)
    written = BUSINESS_TABLES[config.business]
    rows = {name: len(tables[name]) if name in tables else parts.rows for name in written}
    start, end = _date(int(res.bounds[0])), _date(int(res.bounds[-1]) - 1)
    _write_manifest(_manifest(config.seed, config.accounts, config.months, start, end, rows,
                              fmt, config.business, config.difficulty), out_dir)
    churn = annual_churn_rates(truth)
    log.info("synthetic world %s..%s: %s rows of events, churn %s", start, end,
             f"{parts.rows:,}", {k: round(v, 3) for k, v in churn.items()})
    return WorldSummary(row_counts=rows, churn_rate_by_segment=churn, start_date=start,
                        end_date=end, out_dir=out_dir,
                        paths={name: paths[name] for name in (*written, GROUND_TRUTH)})

