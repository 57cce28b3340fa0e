"""The README documents every command and keeps the two-command quick start."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

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
