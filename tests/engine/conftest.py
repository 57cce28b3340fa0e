"""Fixtures for the activation engine tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from engine_helpers import REPO, SAMPLE, Kit

from crisiskit.sim.server import EmbeddedSimulator


@pytest.fixture
def kit(sim: EmbeddedSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Kit:
    home = tmp_path / "home"
    env = {
        "CRISISKIT_HOME": str(home),
        "CRISISKIT_GRAPH_URL": sim.base_url,
        "CRISISKIT_GRAPH_TOKEN": "engine-tests",
        "CRISISKIT_WAIT_SCALE": "0.01",
        "USER": "test-operator",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Kit(home=home, inventory=SAMPLE, sim=sim, env=env)


@pytest.fixture
def write_inventory(tmp_path: Path) -> Callable[[Callable[[dict[str, Any]], None]], Path]:
    """Return a function writing a modified copy of the sample inventory (and its playbooks)."""

    def write(change: Callable[[dict[str, Any]], None]) -> Path:
        data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
        change(data)
        folder = tmp_path / "inv"
        folder.mkdir(exist_ok=True)
        (folder / "playbooks").mkdir(exist_ok=True)
        for book in (REPO / "playbooks").glob("*.yaml"):
            (folder / "playbooks" / book.name).write_text(book.read_text("utf-8"), "utf-8")
        path = folder / "inventory.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
        return path

    return write
