"""Read a feature table under a row cap: a deterministic sample, stratified so every snapshot
date and label keeps its share (``training.max_rows``).

The rows kept are decided on the stratum columns alone (a snapshot date, the label), so a
Parquet table larger than memory is read twice: once for those few columns, once batch by
batch keeping only the chosen rows. A frame already in memory is sampled by the same rule
(:func:`cap_rows`), so the two give the same rows.

The rule: each stratum (one combination of the stratum columns' values) gets
``max_rows * its rows / all rows`` rows, rounded by largest remainder so that exactly
``max_rows`` are kept; within a stratum the rows are drawn without replacement by a generator
seeded with the seed and the stratum's values, so a stratum's draw does not depend on the
others and the same seed gives the same rows.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from healthscore.training.feature_table import arrow_frame, open_parquet, read_table


@dataclass(frozen=True)
class RowSample:
    """What a row cap did: ``rows`` kept of ``total``, drawn with ``seed`` within ``strata``."""

    rows: int
    total: int
    seed: int
    strata: tuple[str, ...]

    def describe(self) -> str:
        """One sentence for the command line and the logs."""
        within = " and ".join(self.strata) or "all rows"
        return (f"sampled {self.rows:,} of {self.total:,} rows (training.max_rows; stratified "
                f"by {within}; seed {self.seed})")


def _stratum_seed(seed: int, key: tuple) -> list[int]:
    text = "|".join("<NA>" if pd.isna(v) else str(v) for v in key)
    return [seed, zlib.crc32(text.encode())]


def stratum_quotas(sizes: dict[tuple, int], max_rows: int) -> dict[tuple, int]:
    """Rows each stratum keeps: proportional to its size, largest remainders rounded up so the
    quotas add up to ``max_rows`` (ties broken by the stratum's values as text)."""
    total = sum(sizes.values())
    exact = {k: n * max_rows / total for k, n in sizes.items()}
    quotas = {k: math.floor(v) for k, v in exact.items()}
    left = max_rows - sum(quotas.values())
    by_remainder = sorted(sizes, key=lambda k: (-(exact[k] - quotas[k]), str(k)))
    for key in by_remainder[:left]:
        quotas[key] += 1
    return quotas


def chosen_rows(keys: pd.DataFrame, max_rows: int, seed: int) -> np.ndarray:
    """Positions (ascending) of the rows a cap of ``max_rows`` keeps, decided on ``keys`` (one
    column per stratum column, one row per table row, in the table's order)."""
    if len(keys) <= max_rows:
        return np.arange(len(keys))
    if keys.shape[1] == 0:
        groups = {(): np.arange(len(keys))}
    else:
        grouped = keys.groupby(list(keys.columns), sort=True, dropna=False, observed=True)
        groups = {k if isinstance(k, tuple) else (k,): v for k, v in grouped.indices.items()}
    quotas = stratum_quotas({k: len(v) for k, v in groups.items()}, max_rows)
    picked = [np.random.default_rng(_stratum_seed(seed, key)).choice(
        positions, quotas[key], replace=False) for key, positions in groups.items()]
    return np.sort(np.concatenate(picked)) if picked else np.arange(0)


def cap_rows(frame: pd.DataFrame, max_rows: int | None, seed: int,
             strata: Sequence[str]) -> tuple[pd.DataFrame, RowSample | None]:
    """``frame`` itself when it has at most ``max_rows`` rows (or no cap), else the stratified
    sample (index reset) and what was sampled."""
    if max_rows is None or len(frame) <= max_rows:
        return frame, None
    present = tuple(c for c in strata if c in frame.columns)
    keys = _stratum_frame(frame[list(present)])
    rows = chosen_rows(keys, max_rows, seed)
    return (frame.iloc[rows].reset_index(drop=True),
            RowSample(len(rows), len(frame), seed, present))


def _stratum_frame(keys: pd.DataFrame) -> pd.DataFrame:
    """Stratum values as text, so a date read from a folder name and a date column agree."""
    return keys.apply(lambda c: c.map(lambda v: None if pd.isna(v) else str(v)))


def read_capped(path: Path, max_rows: int | None, seed: int, strata: Sequence[str],
                ) -> tuple[pd.DataFrame, RowSample | None]:
    """Read a feature table (Parquet file or folder, CSV) keeping at most ``max_rows`` rows.

    A Parquet table over the cap is never read whole: its stratum columns first, then only the
    chosen rows batch by batch. A CSV file is read whole, then sampled.
    """
    if max_rows is None or path.suffix.lower() == ".csv":
        return cap_rows(read_table(path), max_rows, seed, strata)
    dataset, partitions = open_parquet(path)
    total = dataset.count_rows()
    if total <= max_rows:
        return read_table(path), None
    present = tuple(c for c in strata if c in dataset.schema.names)
    keys = _stratum_frame(dataset.to_table(columns=list(present)).to_pandas())
    rows = chosen_rows(keys, max_rows, seed)
    parts, offset = [], 0
    for batch in dataset.to_batches():
        local = rows[(rows >= offset) & (rows < offset + batch.num_rows)] - offset
        if len(local):
            parts.append(batch.take(local))
        offset += batch.num_rows
    return (arrow_frame(parts, dataset.schema, partitions),
            RowSample(len(rows), total, seed, present))
