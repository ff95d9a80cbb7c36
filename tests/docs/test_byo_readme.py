"""The README's bring-your-own commands, run exactly as printed, on a raw CSV.

The CSV has what public churn exports have (tests/docs/byo_table.py): ``Yes``/``No``
labels, a number column stored as text with blanks, an id-like column, a 3,000-level text
column and an all-empty column. Each command of the README's "Bring your own feature table"
blocks runs through ``bash`` in a temporary folder with the installed ``healthscore`` on the
path and no config (as a new user would), and must exit 0 without a traceback. Between
``describe-features`` and the training with the metadata file the test edits the starter file,
as the README tells the reader to.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from byo_table import PROBLEM_COLUMNS, raw_customer_table
from doc_commands import ROOT

SECTION = "### Bring your own feature table"


def readme_blocks() -> list[list[str]]:
    """The shell blocks of the README's bring-your-own section, one list of lines each."""
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start)
    section = text[start:end if end > 0 else len(text)]
    return [[line for line in block.splitlines() if line.strip()]
            for block in re.findall(r"```bash\n(.*?)```", section, re.DOTALL)]


def test_the_section_has_the_commands_this_test_checks():
    blocks = readme_blocks()
    assert len(blocks) == 2
    first, second = blocks
    assert [line.split()[1] for line in first] == ["train", "score", "drift"]
    assert [line.split()[1] for line in second] == ["describe-features", "train", "score"]
    assert "> features.yaml" in second[0] and "--feature-metadata features.yaml" in second[1]


def run(line: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run one README line with bash, exactly as printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    done = subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"`{line}` exited {done.returncode}:\n{output}"
    assert "Traceback" not in output, f"`{line}` printed a traceback:\n{output}"
    return done


def scores_of(folder: Path) -> pd.DataFrame:
    (path,) = sorted((folder / "healthscore-out" / "scores").glob("*.parquet"))
    return pd.read_parquet(path)


def driver_dimensions(scores: pd.DataFrame) -> set[str]:
    columns = [c for c in scores.columns if re.fullmatch(r"(risk|strength)_\d_dimension", c)]
    return set(scores[columns].to_numpy().ravel()) - {""}


def edit_starter_file(path: Path) -> None:
    """What the README asks the reader to do: map columns to dimensions, units, sentences."""
    doc = yaml.safe_load(path.read_text())
    columns = doc["columns"]
    columns["tenure"].update(dimension="relationship", unit="months",
                             direction="higher_is_healthier",
                             sentence="Customer for {value:g} months")
    columns["contract"].update(dimension="commercial", sentence="On a {value} contract")
    columns["monthly_charges"].update(dimension="billing", sentence="Pays {value:.0f} a month")
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.mark.slow
def test_readme_bring_your_own_commands_run_on_a_raw_csv(tmp_path):
    raw_customer_table().to_csv(tmp_path / "customers.csv", index=False)
    first, second = readme_blocks()

    trained = run(first[0], tmp_path)
    output = trained.stdout + trained.stderr
    for column, problem in PROBLEM_COLUMNS.items():
        line = next((x for x in output.splitlines() if f"column {column} " in x), "")
        assert problem in line, f"no warning names {column} ({problem}):\n{output}"
    assert "5 model inputs" in trained.stdout  # tenure, contract, the charges, payment
    run(first[1], tmp_path)
    scores = scores_of(tmp_path)
    assert len(scores) == 4000 and scores["health"].between(0, 100).all()
    (page,) = (tmp_path / "healthscore-out" / "scores").glob("*.html")
    riskiest = scores.sort_values(["health", "account_id"])["account_id"].iloc[0]
    assert riskiest in page.read_text()  # the portfolio's accounts to call first
    # without a metadata file no column is filed under usage and no playbook is chosen
    assert driver_dimensions(scores) == {"other"}
    assert (scores["points_usage"] == 0).all() and (scores["playbook"] == "").all()
    reasons = scores.loc[scores["risk_1_reason"] != "", "risk_1_reason"]
    assert len(reasons) and reasons.str.match(r"^[A-Z][a-z ]+: ").all()  # "Contract: ..."
    run(first[2], tmp_path)
    assert list((tmp_path / "healthscore-out" / "drift").glob("*.html"))

    starter = run(second[0], tmp_path)
    assert "# account_number: excluded" in (tmp_path / "features.yaml").read_text()
    assert "warning: column last_ticket_subject excluded" in starter.stderr
    edit_starter_file(tmp_path / "features.yaml")
    run(second[1], tmp_path)
    run(second[2], tmp_path)
    scores = scores_of(tmp_path)
    dims = driver_dimensions(scores)
    assert {"relationship", "billing"} <= dims and "usage" not in dims
    reasons = set(scores.filter(regex=r"_reason$").to_numpy().ravel())
    assert any(re.fullmatch(r"Customer for \d+ months", r) for r in reasons)
    assert any(re.fullmatch(r"Pays \d+ a month", r) for r in reasons)
    # playbooks come only from the dimensions the file mapped
    assert set(scores["dominant_risk_dimension"]) <= {"", "relationship", "billing"}
    points = json.loads(scores["points_json"].iloc[0])
    assert set(points) <= {"tenure", "contract", "monthly_charges", "total_charges",
                           "payment_method"}
