"""Observation with the journal's hints: which group an interrupted run made is proven, never
guessed (the loopback simulator, the real Graph door, plans computed from what it read)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from engine_helpers import REPO, SAMPLE

from crisiskit.engine.context import load_setup
from crisiskit.graph import open_graph
from crisiskit.plan.desired import desired_kit
from crisiskit.plan.diff import diff
from crisiskit.plan.observe import Hints, Observed, observe
from crisiskit.sim.server import EmbeddedSimulator

TEAM_NAME = "Cellule de crise – Aubagne"


def _kit(home: Any) -> Any:
    setup = load_setup(SAMPLE, REPO / "playbooks", home, "aubagne", None)
    return desired_kit(setup.inventory, setup.commune, setup.playbook, [], datetime.now(UTC))


def _observe(sim: EmbeddedSimulator, kit: Any, hints: Hints) -> Observed:
    async def main() -> Observed:
        graph = open_graph(None, base_url=sim.base_url, token="hints")
        try:
            return await observe(graph, kit, hints)
        finally:
            await graph.aclose()

    return asyncio.run(main())


def _users(sim: EmbeddedSimulator, kit: Any) -> list[str]:
    """Create the kit's first two accounts, tagged as crisiskit does; return their ids."""
    ids = []
    for u in kit.users[:2]:
        body = {"userPrincipalName": u.upn, "displayName": u.display_name,
                "mailNickname": u.mail_nickname, kit.tag: "aubagne"}
        ids.append(sim.seed({"users": [body]})["users"][0])
    return ids


def _group(sim: EmbeddedSimulator, owners: list[str], nickname: str) -> str:
    created = sim.seed({"groups": [{"displayName": TEAM_NAME, "mailNickname": nickname,
                                    "owners": owners}]})
    return str(created["groups"][0])


@pytest.fixture
def kit(tmp_path: Any) -> Any:
    return _kit(tmp_path)


def test_an_unanswered_create_owned_by_the_kit_is_adopted_others_left_alone(
    sim: EmbeddedSimulator, kit: Any
) -> None:
    accounts = _users(sim, kit)
    stranger = next(u["id"] for u in sim.state()["users"] if u["id"] not in accounts)
    ours = _group(sim, accounts[:1], "CelluledecriseAubagne")
    _group(sim, [stranger], "autre-cellule")  # someone else's group of the same name
    sent = datetime.now(UTC) - timedelta(minutes=1)
    observed = _observe(sim, kit, Hints(sent_at=sent))
    assert observed.group is not None and observed.group.id == ours
    assert "never read the answer" in observed.group.adopt and observed.lookalikes == []
    plan = diff(kit, observed, {}, datetime.now(UTC))
    (step,) = [s for s in plan.steps if s.kind == "group"]
    assert step.action == "update" and step.payload.group == ours
    # Without the journal's word that a create went unanswered, nothing is adopted.
    assert _observe(sim, kit, Hints()).group is None


def test_groups_that_cannot_be_told_apart_are_shown_never_touched(
    sim: EmbeddedSimulator, kit: Any
) -> None:
    accounts = _users(sim, kit)
    stranger = next(u["id"] for u in sim.state()["users"] if u["id"] not in accounts)
    _group(sim, [accounts[0], stranger], "CelluledecriseAubagne")  # mixed owners
    sent = datetime.now(UTC) - timedelta(minutes=1)
    observed = _observe(sim, kit, Hints(sent_at=sent))
    assert observed.group is None and len(observed.lookalikes) == 1
    assert "interrupted run" in observed.lookalikes[0]
    plan = diff(kit, observed, {}, datetime.now(UTC))
    assert [(s.kind, s.action) for s in plan.conflicts] == [("group", "conflict")]
    assert not [s for s in plan.steps if s.kind in ("team", "membership", "drive")]
    # Made before the create was sent: not a candidate at all.
    old = _observe(sim, kit, Hints(sent_at=datetime.now(UTC) + timedelta(hours=1)))
    assert old.group is None and old.lookalikes == []


def test_a_journaled_id_is_adopted_even_untagged(sim: EmbeddedSimulator, kit: Any) -> None:
    accounts = _users(sim, kit)
    ours = _group(sim, accounts[:1], "CelluledecriseAubagne")
    observed = _observe(sim, kit, Hints(group_id=ours))
    assert observed.group is not None and observed.group.id == ours
    assert observed.group.tag is None and "journaled" in observed.group.adopt
