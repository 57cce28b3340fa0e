"""The README documents every command and keeps the two-command quick start."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main
from markdown_it.token import Token

from crisiskit.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _command_paths(group: object, prefix: str = "") -> list[str]:
    paths = []
    for name, command in getattr(group, "commands", {}).items():
        full = f"{prefix} {name}".strip()
        if getattr(command, "commands", None):
            paths.extend(_command_paths(command, full))
        else:
            paths.append(full)
    return paths


def test_every_command_is_documented_in_the_readme() -> None:
    paths = _command_paths(typer.main.get_command(app))
    assert len(paths) >= 12
    missing = [p for p in paths if f"crisiskit {p}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def test_quick_start_is_exactly_two_commands() -> None:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    commands = [line for block in blocks for line in block.splitlines() if line.strip()]
    assert len(commands) == 2
    assert "crisiskit activate aubagne --sandbox --yes" in commands[0]
    assert commands[1].endswith("pytest")


def _markdown() -> list[Token]:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").parse(README)


def test_every_readme_table_is_whole() -> None:
    """Every row of every table has the header's cells and ends with a pipe (nothing spliced)."""
    from markdown_it.rules_block.table import escapedSplit

    lines = README.splitlines()
    tables = [t for t in _markdown() if t.type == "table_open"]
    assert tables, "the README has tables (exit codes, options, commands)"
    broken = []
    for table in tables:
        start, end = table.map
        header = len(escapedSplit(lines[start].strip())) - 2
        for number in range(start, end):
            row = lines[number].strip()
            if number == start + 1:
                continue  # the delimiter row
            cells = len(escapedSplit(row)) - 2
            if not (row.startswith("|") and row.endswith("|")) or cells != header:
                broken.append(f"README.md:{number + 1}: {row[:70]}")
    assert not broken, "broken table rows:\n" + "\n".join(broken)


def test_no_readme_heading_appears_twice() -> None:
    tokens = _markdown()
    headings = [
        tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"
    ]
    repeated = sorted({h for h in headings if headings.count(h) > 1})
    assert not repeated, f"headings repeated in README.md: {repeated}"


def _table_after(heading: str) -> list[list[str]]:
    """Return the rows (cells stripped) of the first table under `heading`."""
    from markdown_it.rules_block.table import escapedSplit

    lines = README.splitlines()
    tokens = _markdown()
    start = next(i for i, t in enumerate(tokens)
                 if t.type == "heading_open" and tokens[i + 1].content == heading)
    table = next(t for t in tokens[start:] if t.type == "table_open")
    first, end = table.map
    return [[c.strip() for c in escapedSplit(lines[n].strip())[1:-1]]
            for n in range(first + 2, end)]


def test_the_exit_code_table_is_the_one_the_code_uses() -> None:
    from crisiskit import errors

    codes = {int(row[0]) for row in _table_after("Exit codes")}
    declared = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}
    assert codes == declared == {0, 1, 2, 3, 4, 70, 130}


def test_the_global_options_table_lists_the_options_every_command_accepts() -> None:
    root = typer.main.get_command(app)
    documented = {opt.strip("`").split(" ")[0] for row in _table_after("Global options")
                  for opt in row[0].split(", ")}
    declared = {o for p in root.params for o in p.opts if o != "--help"}
    assert documented == declared


def test_every_command_has_help_with_an_example_as_the_readme_says() -> None:
    from typer.testing import CliRunner

    assert "Every command and every command group has `--help` with an example." in README
    runner = CliRunner()
    commands = _command_paths(typer.main.get_command(app))
    for path in ["", "audit", "inventory", "sim", "convention", "rgpd", *commands]:
        result = runner.invoke(app, [*path.split(), "--help"])
        assert result.exit_code == 0 and "Example: crisiskit" in result.stdout, path


def test_the_quick_start_says_what_a_rerun_writes() -> None:
    section = " ".join(README.split("## Quick start", 1)[1].split("\n## ", 1)[0].split())
    # Made true by tests/documents/test_documents_activation.py (documents untouched) and
    # tests/engine/test_activate_e2e.py (no write in the tenant).
    assert "Run it again: the tenant gets no write, everything is reported present, and the " \
        "documents are left as they are" in section
    assert "nothing is written" not in section
