"""A real PostgreSQL server holds the score history and the MLflow backend: train, two scoring
runs of different dates at the same time, compare, drift, and a scan of everything written for
the password (which holds '@', ':' and '/', percent-encoded in both URLs).

Needs a server: ``HEALTHSCORE_TEST_PG_URL`` is an admin SQLAlchemy URL and
``HEALTHSCORE_TEST_PG_HOST_PORT`` the host:port the test's role connects to (with a password).
.ci/run starts one (.ci/postgres.sh) and sets ``HEALTHSCORE_REQUIRE_PG=1``, so in CI the test
fails instead of skipping when the server cannot be reached.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import MODEL_CONFIG, World

from healthscore.redact import secret_forms

pytestmark = pytest.mark.slow

PASSWORD = "s3cr@t:pa/ss"
ENCODED = "s3cr%40t%3Apa%2Fss"
SECRETS = sorted(secret_forms(PASSWORD) | secret_forms(ENCODED), key=len)


@pytest.fixture(scope="module")
def postgres():
    """(admin engine, host:port) of a reachable server, else skip (or fail in CI)."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    url, host_port = (os.environ.get("HEALTHSCORE_TEST_PG_URL"),
                      os.environ.get("HEALTHSCORE_TEST_PG_HOST_PORT"))
    required = os.environ.get("HEALTHSCORE_REQUIRE_PG") == "1"
    reason = None
    if not url or not host_port:
        reason = ("no PostgreSQL server configured: set HEALTHSCORE_TEST_PG_URL (admin URL) and "
                  "HEALTHSCORE_TEST_PG_HOST_PORT, or run .ci/run, which starts one")
    else:
        try:
            engine = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT",
                                              connect_args={"connect_timeout": 10})
            with engine.connect() as connection:
                connection.execute(sqlalchemy.text("SELECT 1"))
        except Exception as exc:  # any driver error means: no server here
            reason = f"PostgreSQL at {host_port} not reachable: {exc}"
    if reason:
        if required:
            pytest.fail(reason)
        pytest.skip(reason)
    suffix = uuid.uuid4().hex[:8]
    role, history_db, mlflow_db = f"scorer_{suffix}", f"history_{suffix}", f"mlflow_{suffix}"
    with engine.connect() as connection:
        quoted = PASSWORD.replace("'", "''")
        connection.execute(sqlalchemy.text(f"CREATE ROLE {role} LOGIN PASSWORD '{quoted}'"))
        for db in (history_db, mlflow_db):
            connection.execute(sqlalchemy.text(f"CREATE DATABASE {db} OWNER {role}"))
    base = f"postgresql+psycopg2://{role}:{ENCODED}@{host_port}"
    yield {"history": f"{base}/{history_db}", "mlflow": f"{base}/{mlflow_db}", "engine": engine}
    with engine.connect() as connection:
        for db in (history_db, mlflow_db):
            connection.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        connection.execute(sqlalchemy.text(f"DROP ROLE IF EXISTS {role}"))
    engine.dispose()


def cli(args: list[str], env: dict[str, str], cwd: Path, timeout: int = 600
        ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "healthscore.pipeline.cli", *args], env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)


def popen(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "healthscore.pipeline.cli", *args], env=env,
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def file_text(path: Path) -> str:
    """What a file holds, as text: Parquet cell values and metadata, else its raw bytes."""
    raw = path.read_bytes()
    text = raw.decode("utf-8", errors="replace")
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
        text += " ".join(map(str, frame.columns)) + frame.astype(str).to_csv()
    return text


def test_history_and_mlflow_on_postgres_with_concurrent_scoring_and_no_secret(
        postgres, world: World, tmp_path):
    import mlflow
    import sqlalchemy
    from mlflow import MlflowClient

    config = MODEL_CONFIG | {
        "workdir": str(tmp_path / "work"),
        "data": {"dir": str(world.data), "end_date": world.end_date},
        "training": {"models": ["scorecard", "logistic"], "bootstrap": 0,
                     "tracking": {"uri": postgres["mlflow"]}},
        "scoring": {"history": postgres["history"]},
    }
    path = tmp_path / "pg.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    outputs: list[str] = []

    trained = cli(["-v", "-c", str(path), "train"], env, tmp_path)
    outputs += [trained.stdout, trained.stderr]
    assert trained.returncode == 0, trained.stderr[-3000:]

    end = dt.date.fromisoformat(world.end_date)
    days = [end + dt.timedelta(days=1), (end.replace(day=1) - dt.timedelta(days=1)).replace(day=1)]
    runs = [popen(["-c", str(path), "score", "--as-of", d.isoformat()], env, tmp_path)
            for d in days]
    for run in runs:
        out, err = run.communicate(timeout=600)
        outputs += [out, err]
        assert run.returncode == 0, err[-3000:]

    engine = sqlalchemy.create_engine(postgres["history"])
    with engine.connect() as connection:
        history = pd.read_sql(sqlalchemy.text("SELECT * FROM health_scores"), connection)
    engine.dispose()
    for day in days:  # both dates landed, every account once
        scores = pd.read_parquet(tmp_path / "work" / "scores" / f"{day.isoformat()}.parquet")
        rows = history[pd.to_datetime(history["as_of"]).dt.date == day]
        assert len(rows) == len(scores) > 0
        assert rows["account_id"].is_unique

    client = MlflowClient(tracking_uri=postgres["mlflow"])
    experiment = client.get_experiment_by_name("healthscore")
    model_runs = client.search_runs([experiment.experiment_id],
                                    "tags.`healthscore.kind` = 'model'")
    assert len(model_runs) == 2
    compared = cli(["-c", str(path), "compare", *(r.info.run_id for r in model_runs)], env,
                   tmp_path)
    outputs += [compared.stdout, compared.stderr]
    assert compared.returncode == 0, compared.stderr[-3000:]
    drifted = cli(["-c", str(path), "drift"], env, tmp_path)
    outputs += [drifted.stdout, drifted.stderr]
    assert drifted.returncode == 0, drifted.stderr[-3000:]

    # the scan: every output, every file written, every MLflow param, tag and artifact, the
    # history table
    assert leaks("\n".join(outputs)) == []
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != path]
    assert any(p.suffix == ".html" for p in written) and any(p.suffix == ".csv" for p in written)
    assert any(p.name == "config.json" for p in written)  # the MLflow artifact, downloaded
    for file in written:
        assert leaks(file_text(file)) == [], file
    mlflow.set_tracking_uri(postgres["mlflow"])
    for run in client.search_runs([experiment.experiment_id]):
        text = repr(run.data.params) + repr(run.data.tags) + repr(run.info)
        assert leaks(text) == [], run.info.run_id
        assert run.info.status == "FINISHED"
    assert leaks(history.astype(str).to_csv()) == []
