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
        """Return the kit's write requests the simulator saw (batch envelopes excluded).

        The commune lease's requests (its file in the root site's library) are not the kit's:
        `lease_writes` returns those.
        """
        log = self.sim.requests()[since:]
        return [
            r for r in log
            if r["method"] != "GET" and r["path"] != "/$batch" and not is_lease(r)
        ]

    def lease_writes(self, since: int = 0) -> list[dict[str, Any]]:
        """Return the commune lease's write requests (acquire, renew, release)."""
        return [r for r in self.sim.requests()[since:] if r["method"] != "GET" and is_lease(r)]

    def log_size(self) -> int:
        return len(self.sim.requests())




def is_lease(entry: dict[str, Any]) -> bool:
    """Tell whether a logged request is the commune lease's (the root site's library)."""
    from crisiskit.sim.drive import root_drive_id

    path = str(entry.get("path", ""))
    return path.startswith(("/sites/root", f"/drives/{root_drive_id()}"))


def commune(data: dict[str, Any], commune_id: str) -> dict[str, Any]:
    return next(c for c in data["communes"] if c["id"] == commune_id)
