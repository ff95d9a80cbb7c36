"""The worked examples of docs/data-contract.md, one per business shape, run as written.

Each file of an example is a fenced block headed by ``<!-- example-file: <shape>/<name> -->``;
the test writes them into a folder and runs ``validate`` and ``build-features`` there with the
example's ``healthscore.yaml``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from healthscore.pipeline.cli import cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-contract.md"
BLOCK = re.compile(r"<!-- example-file: (?P<path>[\w./-]+) -->\s*\n```[\w-]*\n(?P<body>.*?)\n```",
                   re.DOTALL)


def example_files() -> dict[str, dict[str, str]]:
    """shape -> {file name: content} for every example block of the contract."""
    examples: dict[str, dict[str, str]] = {}
    for match in BLOCK.finditer(DOC.read_text()):
        shape, name = match["path"].split("/", 1)
        examples.setdefault(shape, {})[name] = match["body"] + "\n"
    return examples


EXAMPLES = example_files()
EXPECTED = {  # what build-features must say for each shape
    "saas": "Snapshots",
    "monthly": "Snapshots",
    "shop": "No subscriptions table: features.churn.definition is inactivity",
}


def flat(text: str) -> str:
    return " ".join(text.split())


def test_every_business_shape_has_a_complete_example():
    assert set(EXAMPLES) == set(EXPECTED)
    for files in EXAMPLES.values():
        assert "healthscore.yaml" in files


@pytest.mark.parametrize("shape", sorted(EXPECTED))
def test_the_worked_example_validates_and_builds_features(shape, tmp_path, monkeypatch):
    folder = tmp_path / shape
    folder.mkdir()
    for name, body in EXAMPLES[shape].items():
        (folder / name).write_text(body)
    monkeypatch.chdir(folder)
    runner = CliRunner()
    validated = runner.invoke(cli, ["-c", "healthscore.yaml", "validate"])
    assert validated.exit_code == 0, validated.output
    assert "Input data valid" in flat(validated.output)
    built = runner.invoke(cli, ["-c", "healthscore.yaml", "build-features"])
    assert built.exit_code == 0, built.output
    assert EXPECTED[shape] in flat(built.output)
    assert (folder / "healthscore-out" / "features.parquet").exists()
