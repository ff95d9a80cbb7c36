"""Atomic writes leave nothing behind; a later run removes what a killed one left."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from healthscore.errors import ConfigError
from healthscore.io import atomic_path, sweep_stale_temps, writable_dir, write_text


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = write_text("old", tmp_path / "a.csv")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]


def test_the_sweep_removes_temporaries_of_dead_processes_only(tmp_path):
    dead = tmp_path / f".2025-01-01.csv.tmp-pid{dead_pid()}.abc123"
    live = tmp_path / f".2025-01-02.csv.tmp-pid{os.getpid()}.def456"
    for folder in (dead, live):
        folder.mkdir()
        (folder / "x.csv").write_text("partial")
    (tmp_path / "2025-01-01.csv").write_text("kept")
    assert sweep_stale_temps(tmp_path) == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["2025-01-01.csv", live.name])


def test_an_unwritable_folder_names_the_config_key(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="scoring.output_dir: cannot write to"):
        writable_dir(blocker / "scores", "scoring.output_dir")
