"""Helpers of the CLI tests: the real CLI in-process at a fixed width (100 columns)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from crisiskit.cli import app

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "inventory.yaml"
WIDTH = "100"  # every screen asserted here is 100 columns wide


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


@dataclass
class Cli:
    """The CLI of one test: its home, its inventory and the simulator behind it."""

    home: Path
    inventory: Path
    env: dict[str, str]

    def __call__(self, *args: str, input: str | None = None) -> Result:
        result = CliRunner().invoke(
            app, ["-i", str(self.inventory), *args], env=self.env, input=input,
            catch_exceptions=False,
        )
        return Result(result.exit_code, result.stdout, result.stderr)
