"""What every command shares: an example in --help, global options before or after the command
name, --output json that leaves stdout pure JSON, the same exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer.main
from cli_helpers import SAMPLE, Cli
from typer.testing import CliRunner

from crisiskit.cli import app
from crisiskit.errors import EXIT_DECLINED, EXIT_INTERRUPTED

GLOBAL = {"--inventory", "-i", "--home", "--output", "--verbose", "-v"}


def _tree() -> list[tuple[tuple[str, ...], Any]]:
    """Return (path, click command) of every command and group below the root."""
    found: list[tuple[tuple[str, ...], Any]] = []

    def walk(group: Any, prefix: tuple[str, ...]) -> None:
        for name, command in getattr(group, "commands", {}).items():
            found.append(((*prefix, name), command))
            walk(command, (*prefix, name))

    walk(typer.main.get_command(app), ())
    return found


def test_every_command_and_group_has_an_example_in_its_help() -> None:
    runner = CliRunner()
    missing = []
    for path in [(), *(p for p, _ in _tree())]:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
        assert result.exit_code == 0, (path, result.output)
        if "Example: crisiskit" not in result.stdout:
            missing.append(" ".join(path) or "crisiskit")
    assert missing == []


def test_every_command_and_group_accepts_the_global_options() -> None:
    lacking = {
        " ".join(path): sorted(GLOBAL - {o for p in command.params for o in p.opts})
        for path, command in _tree()
    }
    assert {k: v for k, v in lacking.items() if v} == {}


def test_the_app_help_promises_nothing_that_does_not_exist() -> None:
    text = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "100"}).stdout
    commands = {path[0] for path, _ in _tree()}
    assert "tear down" not in text.lower() or "teardown" in commands
    assert "Global options go before or after the command" in " ".join(text.split())


# (command, needs the simulator) for every command that prints data; sim serve is a server
# (its JSON first line is tested in test_cli_pipe.py).
DATA_COMMANDS: list[tuple[tuple[str, ...], bool]] = [
    (("validate",), False),
    (("conventions", "--at", "2026-11-26"), False),
    (("conventions", "--due", "--at", "2026-11-26"), False),
    (("inventory", "communes"), False),
    (("inventory", "devices", "--kind", "phone"), False),
    (("convention", "variables"), False),
    (("audit", "show"), False),
    (("audit", "verify"), False),
    (("plan", "pertuis"), True),
    (("status", "pertuis"), True),
    (("activate", "pertuis", "--dry-run"), True),
]
NO_INVENTORY = {("convention", "variables"), ("audit", "show"), ("audit", "verify")}


@pytest.mark.parametrize(("command", "graph"), DATA_COMMANDS, ids=lambda c: " ".join(c)
                         if isinstance(c, tuple) else "")
def test_global_options_after_the_command_mean_the_same_as_before_it(
    cli: Cli, tmp_path: Path, command: tuple[str, ...], graph: bool
) -> None:
    home = tmp_path / "elsewhere"
    if command == ("audit", "verify"):
        # A home without a database has no chain to verify (exit 3, issue 9): give it one.
        from crisiskit.state import Store

        Store.open(home).close()
    options = ["-i", str(SAMPLE), "--home", str(home), "--output", "json"]
    runner = CliRunner()
    before = runner.invoke(app, [*options, *command], env=cli.env, catch_exceptions=False)
    after = runner.invoke(app, [*command, *options], env=cli.env, catch_exceptions=False)
    assert before.exit_code == after.exit_code == 0, (before.stderr, after.stderr)
    first, second = json.loads(before.stdout), json.loads(after.stdout)  # stdout: JSON only
    assert _stable(first) == _stable(second)
    assert not (cli.home / "state.db").exists()  # --home after the command was obeyed
    if command in NO_INVENTORY:
        return
    # -i after the command is obeyed too: an inventory that is not there is exit 2.
    missing = runner.invoke(app, [*command, "-i", str(tmp_path / "none.yaml")], env=cli.env)
    assert missing.exit_code == 2 and "none.yaml" in missing.stderr and missing.stdout == ""


def _stable(data: Any) -> Any:
    """Drop what differs between two runs of the same read (times, hashes of new entries)."""
    if isinstance(data, dict):
        return {k: _stable(v) for k, v in data.items()
                if k not in ("at", "hash", "prev_hash", "seq", "entries", "computed_at")}
    if isinstance(data, list):
        return [_stable(v) for v in data]
    return data


def test_verbose_after_the_command_lists_every_step(cli: Cli) -> None:
    short = cli("plan", "aubagne")
    full = cli("plan", "aubagne", "-v")
    assert "(-v lists every step)" in short.stdout
    assert "  + account jean.martin2@crise.ampmetropole.fr" in full.stdout
    assert "  + account jean.martin2@crise.ampmetropole.fr" not in short.stdout


def test_exit_codes_of_the_new_outcomes_are_the_documented_ones() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert f"| {EXIT_DECLINED} | declined at the confirmation prompt" in readme
    assert f"| {EXIT_INTERRUPTED} | interrupted (Ctrl-C)" in readme


def test_a_bug_is_one_line_and_exit_70_with_its_traceback_in_a_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from crisiskit.cli.app import handles_errors
    from crisiskit.errors import EXIT_INTERNAL

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    broken = typer.Typer()

    @broken.command()
    @handles_errors
    def crash() -> None:
        """A command with a bug in it."""
        {}["missing"]  # noqa: B018 - the bug

    result = CliRunner().invoke(broken, [])
    assert result.exit_code == EXIT_INTERNAL
    assert "Traceback" not in result.output
    message = result.stderr.strip()
    assert message.count("\n") == 0 and "internal error (KeyError)" in message
    assert "a rerun resumes" in message
    [crash_file] = tmp_path.glob("crisiskit-crash-*.txt")
    assert str(crash_file) in message
    assert crash_file.stat().st_mode & 0o777 == 0o600
    assert "Traceback (most recent call last)" in crash_file.read_text()
    assert "{}[\"missing\"]" in crash_file.read_text()


def test_what_the_system_refuses_is_one_line_and_exit_1() -> None:
    from crisiskit.cli.app import handles_errors
    from crisiskit.errors import EXIT_FAILED

    full = typer.Typer()

    @full.command()
    @handles_errors
    def write() -> None:
        """A command the disk refuses."""
        raise OSError(28, "No space left on device", "/crisis/outputs/credentials.csv")

    result = CliRunner().invoke(full, [])
    assert result.exit_code == EXIT_FAILED
    assert "Traceback" not in result.output
    assert "No space left on device" in result.stderr and "rerun" in result.stderr
