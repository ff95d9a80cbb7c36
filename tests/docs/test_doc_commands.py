"""Every ``healthscore`` command in README.md and docs/ runs.

The commands are found and mapped onto a small synthetic world as tests/docs/doc_commands.py
describes (placeholders such as RUN_ID, @champion, my.yaml and DATE are substituted there,
explicitly). The fast tests check that every command maps and that click accepts its
arguments; the slow ones run each distinct command once, in stage order, through click's
CliRunner against one world and one training session in a temporary folder, with MLflow in a
temporary SQLite store.
"""

from __future__ import annotations

import logging
import time

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from doc_commands import (
    CONFIG,
    CUSTOMERS_CSV,
    EXIT_CODES,
    FEATURE_TABLE,
    FEATURES_YAML,
    RUN_A,
    RUN_B,
    SYNTH_DIR,
    DocCommand,
    Unmappable,
    all_doc_commands,
    extract,
    normalise,
    resolve,
    stage,
    subcommand_of,
)

from healthscore import tracking
from healthscore.features.snapshots import LABEL_COLUMNS
from healthscore.pipeline.cli import cli

TEST_CONFIG = {
    "workdir": "work", "seed": 5, "data": {"dir": "work/data"},
    "synth": {"accounts": 400, "months": 24, "seed": 5},
    "training": {"models": ["scorecard", "lightgbm"], "bootstrap": 20,
                 "backtest": {"folds": 1},
                 # a tiny search and refit budget keeps the suite quick
                 "lightgbm": {"search": {"trials": 2}}, "refit_folds": 2},
}
SETUP = (("-c", CONFIG, "synth"), ("-c", CONFIG, "train"))  # run first, by the fixture


def distinct_commands() -> dict[tuple[str, ...], list[DocCommand]]:
    """Each distinct mapped command with the places it is documented, in stage order."""
    found: dict[tuple[str, ...], list[DocCommand]] = {}
    for command in all_doc_commands():
        args = normalise(command)
        if args is not None and not {CUSTOMERS_CSV, FEATURES_YAML} & set(args):
            found.setdefault(args, []).append(command)
    return dict(sorted(found.items(), key=lambda item: stage(item[0])))


COMMANDS = distinct_commands()


def test_every_documented_command_maps_and_parses():
    assert len(COMMANDS) >= 20  # README, scheduling, MLflow server, validating, ...
    values = {CONFIG: "my.yaml", RUN_A: "a" * 32, RUN_B: "b" * 32, SYNTH_DIR: "out",
              FEATURE_TABLE: "table.parquet", CUSTOMERS_CSV: "customers.csv",
              FEATURES_YAML: "features.yaml"}
    every = {normalise(c): [c] for c in all_doc_commands() if normalise(c) is not None}
    assert any(CUSTOMERS_CSV in args for args in every)  # the bring-your-own example
    for args, places in every.items():
        argv = resolve(args, values)
        context = cli.make_context("healthscore", list(argv), resilient_parsing=False)
        name = subcommand_of(argv)
        rest = argv[argv.index(name) + 1:]
        command = cli.get_command(context, name)
        assert command is not None, places
        command.make_context(name, list(rest), parent=context)  # raises on a bad option


def test_extraction_finds_shell_python_cron_and_inline_commands():
    markdown = "\n".join([
        "Run `healthscore -c my.yaml\nvalidate` first.",
        "```bash",
        "$ not a prompt here",
        "healthscore -c my.yaml score \\",
        "  --as-of DATE  # a comment",
        "cd /srv/healthscore && .venv/bin/healthscore backtest >> log 2>&1",
        "```",
        "```python",
        'op = BashOperator(bash_command="healthscore drift --as-of {{ ds }}")',
        "print('healthscore reads eight tables')",
        "```",
        "```yaml",
        "history: postgresql+psycopg2://healthscore@db/healthscore",
        "```",
        "| `healthscore compare RUN_A RUN_B [...]` | `healthscore retrain [--config FILE]` |",
    ])
    found = [c.text for c in extract(markdown, "x.md")]
    assert found == [
        "healthscore -c my.yaml score --as-of DATE",
        "healthscore",  # the folder in `cd /srv/healthscore`: not a command (below)
        "healthscore backtest",
        "healthscore drift --as-of DATE",
        "healthscore reads eight tables",
        "healthscore -c my.yaml validate",
        "healthscore compare RUN_A RUN_B [...]",
        "healthscore retrain [--config FILE]",
    ]
    mapped = [normalise(c) for c in extract(markdown, "x.md")]
    assert mapped[1] is None and mapped[4] is None  # a folder; prose in a Python string
    assert mapped[2] == ("-c", CONFIG, "backtest")
    assert mapped[3] == ("-c", CONFIG, "drift", "--as-of", "2025-12-01")
    assert mapped[6] == ("-c", CONFIG, "compare", RUN_A, RUN_B)
    assert mapped[7] == ("-c", CONFIG, "retrain", "--config", CONFIG)


@pytest.mark.parametrize("text", ["healthscore scroe", "healthscore -c prod.yaml score",
                                  "healthscore compare RUN_A RUN_C",
                                  "healthscore score --as-of $DAY"])
def test_a_command_the_test_cannot_map_is_an_error(text):
    with pytest.raises(Unmappable):
        normalise(DocCommand("x.md:1", text, strict=True))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One small world and one training session (@champion set), in a temporary folder."""
    root = tmp_path_factory.mktemp("docs")
    logger = logging.getLogger()
    handlers, level = logger.handlers[:], logger.level
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        patch.setenv("OMP_WAIT_POLICY", "PASSIVE")
        config = root / "test-config.yaml"
        config.write_text(yaml.safe_dump(TEST_CONFIG))
        values = {CONFIG: str(config), SYNTH_DIR: str(root / "synth-out"),
                  FEATURE_TABLE: str(root / "table.parquet")}
        seconds = {}
        for args in SETUP:
            seconds[" ".join(args)] = invoke(resolve(args, values), {0}, "set-up")
        values[RUN_A] = tracking.alias_version("healthscore", tracking.CHAMPION)[1]
        record = tracking.read_run(values[RUN_A], root / "champion-run")
        values[RUN_B] = tracking.sibling_runs(record)[0].run_id
        write_feature_table(root / "work" / "features.parquet", root / "table.parquet")
        yield {"values": values, "seconds": seconds}
        total = sum(seconds.values())
        print(f"\ndoc commands: {len(seconds)} run in {total:.0f}s; slowest: "
              + ", ".join(f"{k} {v:.0f}s" for k, v in sorted(seconds.items(),
                                                               key=lambda kv: -kv[1])[:5]))
    logger.handlers[:] = handlers
    logger.setLevel(level)


def write_feature_table(matrix_path, out) -> None:
    """The README's ready-made feature table: customer_id, as_of, churned and features."""
    frame = pd.read_parquet(matrix_path)
    frame = frame[frame["label_observed"].astype(bool)]
    drop = [c for c in LABEL_COLUMNS if c != "label_churn"]
    table = frame.drop(columns=drop).rename(columns={
        "account_id": "customer_id", "snapshot_date": "as_of", "label_churn": "churned"})
    table["churned"] = table["churned"].astype(int)
    table.to_parquet(out, index=False)


def invoke(argv: list[str], expected: set[int], where: str) -> float:
    """Run the CLI in-process; fail with its output unless the exit code is expected."""
    started = time.perf_counter()
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code in expected, (
        f"`healthscore {' '.join(argv)}` (documented at {where}) exited {result.exit_code}:\n"
        f"{result.output}\n{result.exception!r}")
    return time.perf_counter() - started


@pytest.mark.slow
@pytest.mark.parametrize("args", list(COMMANDS), ids=[" ".join(a[2:]) for a in COMMANDS])
def test_documented_command_runs(args, world):
    if args in SETUP:  # the fixture ran it already (and checked its exit code)
        assert " ".join(args) in world["seconds"]
        return
    argv = resolve(args, world["values"])
    where = ", ".join(c.source for c in COMMANDS[args])
    name = subcommand_of(argv) or "--version"
    world["seconds"][" ".join(args[2:])] = invoke(argv, EXIT_CODES.get(name, {0}), where)
