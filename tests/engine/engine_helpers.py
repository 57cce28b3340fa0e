"""Helpers for the engine tests: the CLI in-process against the loopback simulator."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from crisiskit.cli import app
from crisiskit.sim.server import EmbeddedSimulator

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "inventory.yaml"


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


@dataclass
class Kit:
    """One test's world: a CRISISKIT_HOME, an inventory and the simulator behind the CLI."""

    home: Path
    inventory: Path
    sim: EmbeddedSimulator
    env: dict[str, str]

    def cli(self, *args: str) -> Run:
        runner = CliRunner()
        result = runner.invoke(
            app, ["-i", str(self.inventory), *args], env=self.env, catch_exceptions=False
        )
        return Run(result.exit_code, result.stdout, result.stderr)

    def writes(self, since: int = 0) -> list[dict[str, Any]]:
        """Return the write requests the simulator saw (batch envelopes excluded)."""
        log = self.sim.requests()[since:]
        return [r for r in log if r["method"] != "GET" and r["path"] != "/$batch"]

    def log_size(self) -> int:
        return len(self.sim.requests())




def commune(data: dict[str, Any], commune_id: str) -> dict[str, Any]:
    return next(c for c in data["communes"] if c["id"] == commune_id)
