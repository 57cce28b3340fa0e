"""Property: for generated rosters, activate then plan is empty, one account per roster entry."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faultkit import COMMUNE, SAMPLE_INVENTORY, SimServer, child_env, duplicates, tag_of, writes
from faultkit import write_inventory as write_inv
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

GIVEN = ["Élodie", "Jean", "Marie-Hélène", "François", "Anaïs", "Loïc", "Zoé", "Jean-Baptiste",
         "Cécile", "Noël", "Ève", "Hervé"]  # fmt: skip
SURNAMES = ["N'Diaye", "Le Goff", "Martin", "Lefèvre", "Garçon", "Dubœuf", "D'Artagnan",
            "Müller", "De La Fontaine", "O'Neil", "Saint-Exupéry", "Roux"]  # fmt: skip
ROLES = ["maire", "dgs", "dsi", "communication", "police_municipale", "agent"]

people = st.fixed_dictionaries(
    {
        "given_name": st.sampled_from(GIVEN),
        "surname": st.sampled_from(SURNAMES),
        "role": st.sampled_from(ROLES),
        "team_owner": st.booleans(),
        "laptop": st.booleans(),
        "phone": st.booleans(),
    }
)


def _with_owner_and_homonym(roster: list[dict[str, Any]]) -> list[dict[str, Any]]:
    first = {**roster[0], "team_owner": True}
    # The last entry is always a homonym of the first one (same given name and surname).
    twin = {**roster[-1], "given_name": first["given_name"], "surname": first["surname"]}
    return [first, *roster[1:-1], twin]


rosters = st.lists(people, min_size=21, max_size=45).map(_with_owner_and_homonym)


@pytest.fixture(scope="module")
def shared_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    """One simulator for every example; each example starts from its reset, seeded tenant."""
    sim = SimServer(tmp_path_factory.mktemp("prop-sim"), SAMPLE_INVENTORY, seed=5)
    yield sim
    sim.close()


def invoke(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run the CLI in this process (one msgraph import for all examples)."""
    import crisiskit.cli  # noqa: F401  (registers the commands)
    from crisiskit.cli.app import app

    res = CliRunner().invoke(app, args, env=env, catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


@pytest.mark.slow
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(roster=rosters)
def test_generated_roster_activates_to_an_empty_plan(
    shared_sim: SimServer, roster: list[dict[str, Any]]
) -> None:
    shared_sim.reset()
    with tempfile.TemporaryDirectory(prefix="crisiskit-prop-") as tmp:
        tmpdir = Path(tmp)
        inventory = write_inv(tmpdir / "inv", roster=roster, extra_laptops=50, extra_phones=50)
        env = child_env(tmpdir / "home", inventory, shared_sim.base_url)
        code, out, err = invoke(["activate", COMMUNE, "--yes"], env)
        assert code == 0, f"activate exit {code}\n{out[-3000:]}\n{err[-3000:]}"
        state = shared_sim.state()
        assert not duplicates(state), duplicates(state)

        ours = [u for u in state["users"] if tag_of(u) == COMMUNE]
        upns = [str(u["userPrincipalName"]).lower() for u in ours]
        assert len(ours) == len(roster), f"{len(ours)} accounts for {len(roster)} people"
        assert len(set(upns)) == len(upns)
        for upn in upns:
            local = upn.split("@", 1)[0]
            assert local.isascii() and len(local) <= 64, upn
        wanted = Counter((p["given_name"], p["surname"]) for p in roster)
        for (g, s), n in wanted.items():
            have = sum(1 for u in ours if g in u["displayName"] and s in u["displayName"])
            assert have >= n, f"{n}× {g} {s} in the roster, {have} accounts show that name"

        (group,) = [g for g in state["groups"] if tag_of(g) == COMMUNE]
        assert set(group["members"]) == {u["id"] for u in ours}
        owners = {str(u["userPrincipalName"]).lower() for u in ours if u["id"] in group["owners"]}
        assert len(owners) == sum(1 for p in roster if p["team_owner"])

        before = len(shared_sim.requests())
        code, out, err = invoke(["--output", "json", "plan", COMMUNE], env)
        assert code == 0, f"plan exit {code}\n{out[-2000:]}\n{err[-2000:]}"
        plan = json.loads(out)
        assert plan["empty"] is True, [s for s in plan["steps"] if s["action"] != "present"]
        assert not writes(shared_sim.requests()[before:])
