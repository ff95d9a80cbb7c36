"""The cached data fingerprint and the reuse of passed contract checks keep their guarantees:
the same value as reading every byte, a file changed in any way is read again, a fresh
file is not trusted on its times alone, and changed data is checked again."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import pandas as pd
import pytest

from healthscore.data import loaders
from healthscore.data.dataset import open_dataset
from healthscore.data.loaders import fingerprint_sources
from healthscore.data.settings import DataConfig, TableSource
from healthscore.errors import DataValidationError

END = dt.date(2024, 6, 30)
HOUR_NS = 3_600_000_000_000


@pytest.fixture
def frames() -> dict[str, pd.DataFrame]:
    """The two required tables of two accounts, valid as of END."""
    return {
        "accounts": pd.DataFrame({"account_id": [1, 2], "name": ["Acme", "Globex"],
                                  "segment": ["smb", "mid_market"],
                                  "created_at": ["2023-01-01", "2023-02-01"]}),
        "events": pd.DataFrame({"account_id": [1, 1, 2],
                                "occurred_at": ["2024-01-02", "2024-01-03", "2024-01-03"],
                                "event_type": ["login", "report", "login"],
                                "user_id": ["u1", "u2", "u3"], "quantity": [1.0, 2.0, 1.0]}),
    }


def _write(frames_: dict[str, pd.DataFrame], folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    for name, frame in frames_.items():
        frame.to_parquet(folder / f"{name}.parquet")
        _age(folder / f"{name}.parquet")


def _age(path: Path, hours: int = 2) -> None:
    """Date a file's modification an hour or two back (its status change stays now)."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - hours * HOUR_NS))


def _sources(folder: Path) -> dict[str, TableSource]:
    return {p.stem: TableSource(path=p) for p in sorted(folder.glob("*.parquet"))}


def _reads(monkeypatch) -> list[str]:
    """Names of the data files the fingerprint opens."""
    opened: list[str] = []
    real = Path.open

    def counting(self, *args, **kwargs):
        if self.suffix == ".parquet":
            opened.append(self.name)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", counting)
    return opened


def test_a_cached_fingerprint_is_the_full_one_and_skips_the_bytes(frames, tmp_path,
                                                                  monkeypatch):
    _write(frames, tmp_path / "data")
    sources = _sources(tmp_path / "data")
    full = fingerprint_sources(sources)
    cache = tmp_path / "cache" / "fingerprints.json"
    monkeypatch.setattr(loaders, "RACY_NS", 0)  # the status-change times are "now"
    assert fingerprint_sources(sources, cache) == full
    opened = _reads(monkeypatch)
    assert fingerprint_sources(sources, cache) == full
    assert opened == []


def test_a_file_rewritten_with_the_same_size_and_time_is_read_again(frames,
                                                                    tmp_path, monkeypatch):
    _write(frames, tmp_path / "data")
    sources = _sources(tmp_path / "data")
    cache = tmp_path / "cache" / "fingerprints.json"
    monkeypatch.setattr(loaders, "RACY_NS", 0)
    before = fingerprint_sources(sources, cache)
    path = tmp_path / "data" / "events.parquet"
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same modification time
    after = fingerprint_sources(sources, cache)
    assert after != before
    assert after == fingerprint_sources(sources)


def test_a_file_changed_just_before_its_fingerprint_is_not_trusted(frames, tmp_path,
                                                                    monkeypatch):
    _write(frames, tmp_path / "data")
    sources = _sources(tmp_path / "data")
    cache = tmp_path / "cache" / "fingerprints.json"
    fingerprint_sources(sources, cache)  # status changes within 2 s of it: not reused
    opened = _reads(monkeypatch)
    fingerprint_sources(sources, cache)
    assert sorted(opened) == sorted(p.name for p in (tmp_path / "data").glob("*.parquet"))


def test_passed_checks_are_reused_only_for_the_same_data(frames, tmp_path, caplog,
                                                         monkeypatch):
    _write(frames, tmp_path / "data")
    monkeypatch.setattr(loaders, "RACY_NS", 0)
    data = DataConfig(dir=tmp_path / "data", end_date=END)
    cache = tmp_path / "cache"
    with caplog.at_level(logging.INFO, logger="healthscore.data.dataset"):
        first = open_dataset(data, cache_dir=cache, reuse_checks=True)
        assert "not checked again" not in caplog.text
        assert not cache.exists()  # nothing written before the caller says so
        first.remember()
        second = open_dataset(data, cache_dir=cache, reuse_checks=True)
        assert "not checked again" in caplog.text
    assert first.fingerprint == second.fingerprint
    pd.testing.assert_frame_equal(first.frame("events"), second.frame("events"))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="healthscore.data.dataset"):
        open_dataset(data, cache_dir=cache)  # without reuse_checks: checked
    assert "not checked again" not in caplog.text
    bad = frames["events"].copy()
    bad.loc[0, "quantity"] = -1.0  # a violation
    bad.to_parquet(tmp_path / "data" / "events.parquet")
    _age(tmp_path / "data" / "events.parquet", hours=1)
    with pytest.raises(DataValidationError, match="quantity"):
        open_dataset(data, cache_dir=cache, reuse_checks=True)


def test_data_that_fails_the_checks_leaves_no_cache(frames, tmp_path, monkeypatch):
    frames["events"].loc[0, "quantity"] = -1.0
    _write(frames, tmp_path / "data")
    monkeypatch.setattr(loaders, "RACY_NS", 0)
    cache = tmp_path / "cache"
    with pytest.raises(DataValidationError, match="quantity"):
        open_dataset(DataConfig(dir=tmp_path / "data", end_date=END), cache_dir=cache,
                     reuse_checks=True)
    assert not cache.exists() or not any(cache.rglob("*"))
