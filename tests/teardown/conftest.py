"""Fixtures for export and teardown: a home, the env pointing the CLI at the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from world import World

from crisiskit.sim.permissions import DEFAULT_ROLES
from crisiskit.sim.server import EmbeddedSimulator


@pytest.fixture
def world(sim: EmbeddedSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    home = tmp_path / "home"
    env = {
        "CRISISKIT_HOME": str(home),
        "CRISISKIT_GRAPH_URL": sim.base_url,
        "CRISISKIT_GRAPH_TOKEN": "teardown-tests",
        "CRISISKIT_WAIT_SCALE": "0.01",
        "USER": "test-operator",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # crisiskit holds README's least-privilege roles, not the session simulator's all-roles.
    sim.set_roles(list(DEFAULT_ROLES))
    return World(home=home, sim=sim, env=env)


@pytest.fixture
def activated(world: World) -> World:
    """The world with aubagne's kit activated and data seeded in every workload."""
    from world import COMMUNE, seed_data

    run = world.cli("activate", COMMUNE, "--yes")
    assert run.exit_code == 0, str(run)
    seed_data(world)
    return world
