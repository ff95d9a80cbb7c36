"""kill -9 of `score` and of `train` at random points (seeded, so a failure can be replayed):
outputs, history and registry aliases stay intact, and after the next run there is no RUNNING
run, no unaliased version of a killed run and no temporary folder left.

Each command runs as a real process (a signal cannot be tested in-process); the kill points
are drawn uniformly over the duration of a complete run measured first, and every process has
a timeout, so the test is bounded (about 10 complete runs' worth of time).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import MODEL_CONFIG, World

pytestmark = pytest.mark.slow

KILLS = 10
SEED = 13


def start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "healthscore.pipeline.cli", *args], env=env,
                            cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def complete(args: list[str], env: dict[str, str], cwd: Path) -> float:
    """Run to the end (must exit 0); return its duration in seconds."""
    started = time.perf_counter()
    process = start(args, env, cwd)
    _, err = process.communicate(timeout=900)
    assert process.returncode == 0, err[-3000:]
    return time.perf_counter() - started


def kill_at(args: list[str], env: dict[str, str], cwd: Path, after: float) -> None:
    process = start(args, env, cwd)
    try:
        process.wait(timeout=after)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*tmp-pid*")] if folder.exists() else []


def setup(world: World, tmp: Path, **extra) -> tuple[Path, dict[str, str]]:
    config = MODEL_CONFIG | {"workdir": str(tmp / "work"),
                             "data": {"dir": str(world.data), "end_date": world.end_date}}
    config |= extra
    path = tmp / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    return path, env


def history_rows(work: Path) -> pd.DataFrame:
    import duckdb

    con = duckdb.connect(str(work / "history.duckdb"), read_only=True)
    try:
        return con.execute("SELECT as_of, account_id, health FROM health_scores "
                           "ORDER BY as_of, account_id").df()
    finally:
        con.close()


def test_kill_9_of_score_leaves_outputs_and_history_intact(world: World, tmp_path):
    path, env = setup(world, tmp_path)
    env["MLFLOW_TRACKING_URI"] = world.tracking_uri
    work = tmp_path / "work"
    args = ["-q", "-c", str(path), "score"]
    seconds = complete(args, env, tmp_path)
    scores = work / "scores"

    def outputs() -> list[Path]:
        return sorted(p for p in scores.iterdir() if not p.name.startswith("."))

    files = outputs()
    baseline = pd.read_parquet(next(scores.glob("*.parquet")))
    rows = history_rows(work)
    rng = random.Random(SEED)
    for _ in range(KILLS):
        kill_at(args, env, tmp_path, rng.uniform(0.2, seconds))
        assert outputs() == files  # every output still there, none added
        again = pd.read_parquet(next(scores.glob("*.parquet")))  # readable, same scores
        pd.testing.assert_series_equal(again["health"], baseline["health"])
        assert all(f.stat().st_size > 0 for f in files)
        pd.testing.assert_frame_equal(history_rows(work), rows)  # none lost or doubled
    complete(args, env, tmp_path)
    assert temporaries(scores) == []  # the next run removed what the killed ones left
    pd.testing.assert_frame_equal(history_rows(work), rows)


def test_kill_9_of_train_leaves_aliases_intact_and_the_next_train_sweeps(world: World,
                                                                          tmp_path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    path, env = setup(world, tmp_path)
    env["MLFLOW_TRACKING_URI"] = uri
    args = ["-q", "-c", str(path), "train"]
    seconds = complete(args, env, tmp_path)
    client = MlflowClient(tracking_uri=uri)
    champion = client.get_model_version_by_alias("healthscore", "champion")
    rng = random.Random(SEED)
    for _ in range(KILLS):
        kill_at(args, env, tmp_path, rng.uniform(0.5, seconds))
        assert client.get_model_version_by_alias("healthscore", "champion").version == (
            champion.version)
        challenger = client.get_model_version_by_alias("healthscore", "challenger")
        assert client.get_run(challenger.run_id).info.status == "FINISHED"
    complete(args, env, tmp_path)
    experiment = client.get_experiment_by_name("healthscore")
    statuses = {r.info.status for r in client.search_runs([experiment.experiment_id])}
    assert "RUNNING" not in statuses
    for version in client.search_model_versions("name = 'healthscore'"):
        status = client.get_run(version.run_id).info.status
        assert status == "FINISHED" or version.aliases, (version.version, status)
    assert client.get_model_version_by_alias("healthscore", "champion").version == (
        champion.version)
    assert temporaries(tmp_path / "work") == []


def test_sigterm_of_train_marks_its_runs_failed_at_once(world: World, tmp_path):
    """A scheduler's timeout sends SIGTERM: the runs end FAILED without waiting for a sweep."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    path, env = setup(world, tmp_path)
    env["MLFLOW_TRACKING_URI"] = uri
    process = start(["-q", "-c", str(path), "train"], env, tmp_path)
    client = MlflowClient(tracking_uri=uri)
    deadline = time.monotonic() + 600
    running = []
    while not running and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
        experiment = (client.get_experiment_by_name("healthscore")
                      if (tmp_path / "mlflow.db").exists() else None)
        if experiment is not None:
            running = client.search_runs([experiment.experiment_id],
                                         "attributes.status = 'RUNNING'")
    assert running, "train finished before a run was seen"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, err[-3000:]
    statuses = {r.info.status for r in client.search_runs([running[0].info.experiment_id])}
    assert statuses == {"FAILED"}
