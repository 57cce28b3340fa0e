"""Fixtures for the CLI tests: the real CLI in-process at 100 columns, on the session simulator."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cli_helpers import REPO, SAMPLE, WIDTH, Cli

from crisiskit.sim.server import EmbeddedSimulator


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
