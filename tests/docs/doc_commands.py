"""Find every ``healthscore`` command in the documentation and turn it into CLI arguments.

Where commands are found (README.md and docs/*.md):

- in fenced code blocks of any language: a ``healthscore`` token (optionally with a path, as in
  ``.venv/bin/healthscore``) followed by a subcommand or an option. The command ends at the end
  of the line (a trailing ``\\`` continues it), a quote, a comment or a shell operator
  (``;``, ``&&``, ``|``, ``>``, ``<``, ``)``), so cron lines, wrapper scripts and the strings of
  an Airflow DAG are found too. In blocks tagged ``console``, a leading ``$ `` prompt is dropped;
- in inline code spans (`` `healthscore -c my.yaml validate` ``), also across line breaks.

In a shell block (bash, sh, shell, console, cron) or an inline span, ``healthscore`` at the
start of a command followed by anything but a subcommand or an option is an error: a command
the test cannot map fails, it is never skipped.

How a command is mapped onto the test world (explicitly, nothing else is rewritten):

- synopsis brackets: ``[...]`` and ``[X ...]`` (repetition) are dropped; any other ``[...]``
  is an optional part and is kept without its brackets;
- Jinja expressions ``{{ ... }}`` (Airflow templates) are the scoring date, ``DATE``;
- placeholders, token by token (``PLACEHOLDERS``): the config (``my.yaml``, any path ending in
  ``/my.yaml``, ``healthscore.yaml``, ``FILE``, ``configs/demo.yaml``) is the test's config;
  ``RUN_ID`` and ``RUN_A`` the run of ``@champion`` after the set-up training, ``RUN_B`` another
  model run of that session; ``DATE`` 2025-12-01; ``URI`` ``models:/healthscore@challenger``;
  ``NAME`` (``score --owner NAME``) Avery, a CSM of the synthetic world's first segment;
  the synth sizes ``N``, ``M``, ``S`` and its folder ``DIR``; ``table.parquet`` and ``TABLE`` a
  feature table with the columns the README names (``customer_id``, ``churned``, ``as_of``);
  ``customers.csv`` and ``features.yaml`` are the README's bring-your-own example, which
  tests/docs/test_byo_readme.py runs exactly as printed on a raw CSV (so the slow run here
  leaves those commands out);
- a command without ``-c/--config`` runs with the test's config too (the embedded demo config
  on a small world);
- any token left that looks like a placeholder (upper case such as ``RUN_C``, ``<workdir>``,
  ``$VAR``) makes the command unmappable: add it to ``PLACEHOLDERS`` or change the docs.

Environment assignments before a command (``MLFLOW_TRACKING_URI=… healthscore …``) are not
applied: MLflow always points at the test's temporary store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHELL_LANGUAGES = {"bash", "sh", "shell", "console", "cron", "crontab", "zsh"}
GLOBAL_VALUE_OPTIONS = {"-c", "--config"}
SCORING_DATE = "2025-12-01"
# Stage order: a command runs after the ones it depends on (train before report, ...).
STAGES = ("--version", "--help", "-h", "synth", "validate", "build-features", "describe-features",
          "train", "backtest", "report", "compare", "drift", "score", "monitor", "promote",
          "retrain", "demo")
EXIT_CODES = {"retrain": {0, 4},  # retrain exits 4 when it keeps the champion: not an error
              "drift": {0, 5},  # drift --fail-on act exits 5 when a feature drifted that far
              "monitor": {0, 6}}  # monitor exits 6 when live accuracy is below monitoring

CONFIG, RUN_A, RUN_B, SYNTH_DIR, FEATURE_TABLE = (
    "{config}", "{run_a}", "{run_b}", "{synth_dir}", "{feature_table}")
# The README's bring-your-own example: run exactly as printed, on a raw CSV, by
# tests/docs/test_byo_readme.py (not here: it needs no config and its own table).
CUSTOMERS_CSV, FEATURES_YAML = "{customers_csv}", "{features_yaml}"
PLACEHOLDERS = {
    "my.yaml": CONFIG, "healthscore.yaml": CONFIG, "FILE": CONFIG, "configs/demo.yaml": CONFIG,
    "RUN_ID": RUN_A, "RUN_A": RUN_A, "RUN_B": RUN_B,
    "DATE": SCORING_DATE, "URI": "models:/healthscore@challenger", "NAME": "Avery",
    "N": "200", "M": "12", "S": "7", "DIR": SYNTH_DIR,
    "table.parquet": FEATURE_TABLE, "TABLE": FEATURE_TABLE,
    "customers.csv": CUSTOMERS_CSV, "features.yaml": FEATURES_YAML,
}
LOOKS_LIKE_PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*$|[<>$]|^\.\.\.$")
FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")
START = re.compile(r"(?:^|(?<=[\s\"'(=;&|`]))(?:[\w.~-]*/)*healthscore(?=\s)")
COMMAND_POSITION = re.compile(r"(?:^|[;&|(]\s*|^\$\s+)$")
END = re.compile(r"[\"'`;&|<>)]|\s#")
JINJA = re.compile(r"\{\{.*?\}\}")
BRACKETS = re.compile(r"\[([^\]]*)\]")
INLINE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)  # a code span


class Unmappable(ValueError):
    """A documented command the test cannot turn into arguments."""


@dataclass(frozen=True)
class DocCommand:
    """One command as written in the docs, and where."""

    source: str  # path relative to the repository, with the line number
    text: str  # from ``healthscore`` to the end of the command
    strict: bool  # found at a command position, so an unknown subcommand is an error

    def __str__(self) -> str:
        return f"{self.source}: {self.text}"


def doc_files(root: Path = ROOT) -> list[Path]:
    """README.md and every Markdown file under docs/."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def _commands_in(text: str, source: str, shell: bool) -> list[DocCommand]:
    """Every command in one line of code (or one inline span)."""
    text = JINJA.sub("DATE", text)
    found = []
    for match in START.finditer(text):
        rest = text[match.end():]
        end = END.search(rest)
        rest = rest[:end.start()] if end else rest
        strict = shell and COMMAND_POSITION.search(text[:match.start()]) is not None
        found.append(DocCommand(source, " ".join(("healthscore" + rest).split()), strict))
    return found


def extract(markdown: str, name: str) -> list[DocCommand]:
    """Every ``healthscore`` command of one Markdown document (see the module docstring)."""
    commands: list[DocCommand] = []
    prose: list[str] = []
    fence: str | None = None
    language = ""
    pending, pending_line = "", 0
    for number, line in enumerate(markdown.splitlines(), start=1):
        opening = FENCE.match(line)
        if fence is None and opening:
            fence, language = opening.group(1), opening.group(2).lower()
            prose.append("")
            continue
        if fence is not None:
            prose.append("")
            if line.strip().startswith(fence):
                fence = None
                continue
            if language == "console":
                line = re.sub(r"^\s*\$\s+", "", line)
            if not pending:
                pending_line = number
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            code, pending = pending + line, ""
            shell = language in SHELL_LANGUAGES
            commands += _commands_in(code.strip() if shell else code, f"{name}:{pending_line}",
                                     shell)
            continue
        prose.append(line)
    text = "\n".join(prose)
    for match in INLINE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        span = " ".join(match.group(2).split())
        if span.startswith("healthscore "):
            commands += [DocCommand(c.source, c.text, True)
                         for c in _commands_in(span, f"{name}:{line}", True)]
    return commands


def all_doc_commands(root: Path = ROOT) -> list[DocCommand]:
    """Every command of every documentation file."""
    out = []
    for path in doc_files(root):
        out += extract(path.read_text(), str(path.relative_to(root)))
    return out


def _subcommands() -> set[str]:
    from healthscore.pipeline.cli import cli

    return set(cli.commands)


def normalise(command: DocCommand) -> tuple[str, ...] | None:
    """The command's CLI arguments with placeholders mapped (run ids and paths still symbolic:
    see :func:`resolve`), ``-c`` added when missing; None when it is not a ``healthscore``
    command at all (prose such as "healthscore reads …" in a code block)."""
    text = BRACKETS.sub(lambda m: "" if "..." in m.group(1) else m.group(1), command.text)
    tokens = text.split()[1:]
    subcommands = _subcommands()
    first = tokens[0] if tokens else ""
    if not (first.startswith("-") or first in subcommands):
        if command.strict:
            raise Unmappable(f"{command}: {first!r} is not a healthscore subcommand or option")
        return None
    mapped = []
    for token in tokens:
        value = PLACEHOLDERS.get(token)
        if value is None and token.endswith("/my.yaml"):
            value = CONFIG
        if value is None and LOOKS_LIKE_PLACEHOLDER.search(token):
            raise Unmappable(f"{command}: no mapping for {token!r} (tests/docs/doc_commands.py "
                             "PLACEHOLDERS)")
        mapped.append(token if value is None else value)
    for option, value in zip(mapped, mapped[1:], strict=False):
        if option in GLOBAL_VALUE_OPTIONS and value != CONFIG:
            raise Unmappable(f"{command}: config {value!r} is not a documented placeholder "
                             "(my.yaml, FILE, ...)")
    name = subcommand_of(mapped)
    if name is None and not any(t in ("--version", "--help", "-h") for t in mapped):
        raise Unmappable(f"{command}: no subcommand")
    if name is not None and name not in subcommands:
        raise Unmappable(f"{command}: {name!r} is not a healthscore subcommand")
    if not _has_config(mapped):
        mapped = ["-c", CONFIG, *mapped]
    return tuple(mapped)


def subcommand_of(args: Iterable[str]) -> str | None:
    """The subcommand of a command's arguments (after the global options)."""
    args = list(args)
    i = 0
    while i < len(args):
        if args[i] in GLOBAL_VALUE_OPTIONS:
            i += 2
        elif args[i].startswith("-"):
            i += 1
        else:
            return args[i]
    return None


def _has_config(args: list[str]) -> bool:
    name = subcommand_of(args)
    cut = args.index(name) if name else len(args)
    return any(a in GLOBAL_VALUE_OPTIONS for a in args[:cut])


def stage(args: tuple[str, ...]) -> int:
    """Position in :data:`STAGES` (unknown last)."""
    name = subcommand_of(args) or next(a for a in args if a in STAGES)
    return STAGES.index(name) if name in STAGES else len(STAGES)


def resolve(args: tuple[str, ...], values: dict[str, str]) -> list[str]:
    """Replace the symbolic placeholders (``{config}``, ``{run_a}``, ...) with ``values``."""
    return [values.get(a, a) for a in args]
