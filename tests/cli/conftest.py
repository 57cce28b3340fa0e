"""Fixtures for the CLI tests: the real CLI in-process at a fixed width, on the session simulator."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crisiskit.cli import app
from crisiskit.sim.server import EmbeddedSimulator

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


@pytest.fixture
def cli(sim: EmbeddedSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Return the CLI against the session simulator (a static endpoint), COLUMNS=100."""
    home = tmp_path / "home"
    env = {
        "CRISISKIT_HOME": str(home),
        "CRISISKIT_GRAPH_URL": sim.base_url,
        "CRISISKIT_GRAPH_TOKEN": "cli-tests",
        "CRISISKIT_WAIT_SCALE": "0.01",
        "USER": "test-operator",
        "COLUMNS": WIDTH,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Cli(home=home, inventory=SAMPLE, env=env)


@pytest.fixture
def inventory_copy(tmp_path: Path) -> Path:
    """Return a copy of the sample inventory (and its playbooks) that a test may edit."""
    folder = tmp_path / "inv"
    folder.mkdir()
    shutil.copytree(REPO / "playbooks", folder / "playbooks")
    target = folder / "inventory.yaml"
    target.write_bytes(SAMPLE.read_bytes())
    return target
