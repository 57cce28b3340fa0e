"""Links planted where `activate` writes, through the real CLI and the loopback simulator.

Each is a precondition failure: exit 3, one clear message, nothing written (no Graph write,
the link's target untouched), before the run starts.
"""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crisiskit.cli import app
from crisiskit.documents.credentials import CredentialRow, read_credentials, write_credentials
from crisiskit.secrets import Secret
from crisiskit.sim.server import EmbeddedSimulator

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "inventory.yaml"


class World:
    def __init__(self, sim: EmbeddedSimulator, tmp_path: Path) -> None:
        self.sim = sim
        self.home = tmp_path / "home"
        self.home.mkdir()
        self.env = {
            "CRISISKIT_HOME": str(self.home),
            "CRISISKIT_GRAPH_URL": sim.base_url,
            "CRISISKIT_GRAPH_TOKEN": "links-tests",
            "CRISISKIT_WAIT_SCALE": "0.01",
            "USER": "test-operator",
            "COLUMNS": "200",
        }

    def cli(self, *args: str) -> Any:
        return CliRunner().invoke(app, ["-i", str(SAMPLE), *args], env=self.env,
                                  catch_exceptions=False)

    def writes(self) -> list[dict[str, Any]]:
        """Return the write requests the simulator saw ($batch envelopes aside: their
        sub-requests are logged on their own)."""
        return [r for r in self.sim.requests() if r["method"] != "GET" and r["path"] != "/$batch"]


@pytest.fixture
def world(sim: EmbeddedSimulator, tmp_path: Path) -> World:
    return World(sim, tmp_path)


def refused(result: Any, *fragments: str) -> None:
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Nothing was written" in lines[0]


def test_a_symlinked_lock_file_refuses_activation_and_is_not_truncated(
    world: World, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (world.home / "locks").mkdir()
    lock = world.home / "locks" / "aubagne.lock"
    lock.symlink_to(victim)
    result = world.cli("activate", "aubagne", "--yes")
    refused(result, str(lock), "the lock file is a symbolic link")
    assert victim.read_text() == "precious\n"
    assert world.writes() == []
    assert not (world.home / "outputs").exists()


def test_a_credentials_file_linked_to_another_communes_is_refused(
    world: World, tmp_path: Path
) -> None:
    cassis = world.home / "outputs" / "cassis" / "credentials.csv"
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    write_credentials(cassis, [CredentialRow("valerie.roux@crise.ampmetropole.fr",
                                             "Valérie Roux (Crise Cassis)",
                                             Secret("cassis-pass"), moment, moment)])
    before = cassis.read_bytes()
    mine = world.home / "outputs" / "aubagne" / "credentials.csv"
    mine.parent.mkdir(mode=0o700)
    mine.symlink_to(cassis)
    for args in (("activate", "aubagne", "--yes"), ("plan", "aubagne")):
        refused(world.cli(*args), str(mine), "symbolic link")
    assert cassis.read_bytes() == before and mine.is_symlink()
    assert [r.upn for r in read_credentials(cassis)] == ["valerie.roux@crise.ampmetropole.fr"]
    assert world.writes() == []


@pytest.mark.parametrize("linked", ["outputs", "outputs/aubagne", "sandbox"])
def test_a_symlinked_outputs_folder_refuses_activation(
    world: World, tmp_path: Path, linked: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = world.home / linked
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(elsewhere)
    refused(world.cli("activate", "aubagne", "--yes"), f"{link}: is a symbolic link")
    assert list(elsewhere.iterdir()) == []
    assert world.writes() == []


def test_a_normal_run_leaves_owner_only_folders_and_files(world: World) -> None:
    result = world.cli("activate", "aubagne", "--yes")
    assert result.exit_code == 0, result.output
    home = world.home
    for folder in ("locks", "outputs", "outputs/aubagne"):
        assert stat.S_IMODE(os.stat(home / folder).st_mode) == 0o700, folder
    for file in ("locks/aubagne.lock", "outputs/aubagne/credentials.csv"):
        assert stat.S_IMODE(os.stat(home / file).st_mode) == 0o600, file
    rows = read_credentials(home / "outputs" / "aubagne" / "credentials.csv", root=home)
    issued = {m["temporaryAccessPass"] for m in world.sim.state()["authenticationMethods"]
              if m.get("temporaryAccessPass")}
    assert {r.temporary_access_pass.reveal() for r in rows} == issued
