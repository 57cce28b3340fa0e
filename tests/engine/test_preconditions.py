"""Preconditions refuse an activation before any write: exit 3, a reason, nothing changed."""

from __future__ import annotations

import json

from engine_helpers import Kit

from crisiskit.inventory import load_inventory
from crisiskit.plan.desired import tag_property
from crisiskit.state import Store, commune_lock


def _refused(kit: Kit, *args: str) -> str:
    mark = kit.log_size()
    run = kit.cli("activate", *args, "--yes")
    assert run.exit_code == 3, (run.stdout, run.stderr)
    assert kit.writes(mark) == []
    assert "nothing was changed" in run.stderr or "in progress" in run.stderr
    return run.stderr


def test_inactive_convention_is_refused(kit: Kit) -> None:
    message = _refused(kit, "istres")
    assert "the convention of Istres (istres) is not in force on " in message
    assert ": it expired on 2026-05-02, at the end of its 8-year term (Article 7)" in message
    assert "`crisiskit conventions`" in message  # the hint says where to look
    with Store.open(kit.home) as store:
        assert store.open_loans() == []
        # The commune's lease was taken to observe under it, then the refusal recorded.
        actions = [e.action for e in store.audit_entries("istres")]
        assert actions == ["lease.acquired", "activate.refused"]


def test_not_enough_devices_is_refused(kit: Kit, write_inventory) -> None:
    def retire(data: dict) -> None:
        for laptop in data["devices"]["laptops"][3:]:
            laptop["status"] = "retired"

    kit.inventory = write_inventory(retire)
    message = _refused(kit, "aubagne")
    assert "not enough devices: laptops: 9 needed, 3 available" in message
    with Store.open(kit.home) as store:
        assert store.open_loans() == []


def test_not_enough_licences_is_refused(kit: Kit) -> None:
    tenant = kit.sim.simulator.tenant
    with kit.sim.simulator.lock:
        for sku in tenant.skus.values():
            sku["prepaidUnits"]["enabled"] = sku["consumedUnits"] + 5
    message = _refused(kit, "aubagne")
    assert "licences: 12 needed, 5 free" in message


def test_lock_held_by_another_run_is_refused(kit: Kit) -> None:
    with commune_lock(kit.home, "aubagne"):
        message = _refused(kit, "aubagne")
    assert "aubagne" in message


def test_untagged_user_with_our_upn_is_a_conflict_left_untouched(kit: Kit) -> None:
    kit.sim.seed(
        {"users": [{"userPrincipalName": "jean.martin@crise.ampmetropole.fr",
                    "displayName": "Jean Martin (not ours)"}]}
    )
    before = [u for u in kit.sim.state()["users"]
              if u["userPrincipalName"] == "jean.martin@crise.ampmetropole.fr"]
    plan = json.loads(kit.cli("--output", "json", "plan", "aubagne").stdout)
    assert plan["counts"]["user"]["conflict"] == 1
    message = _refused(kit, "aubagne")
    assert "conflict: user jean.martin@crise.ampmetropole.fr" in message
    after = [u for u in kit.sim.state()["users"]
             if u["userPrincipalName"] == "jean.martin@crise.ampmetropole.fr"]
    assert after == before


def test_group_of_someone_else_with_our_nickname_is_a_conflict(kit: Kit) -> None:
    kit.sim.seed(
        {
            "groups": [
                {
                    "displayName": "Cellule de crise – Aubagne",
                    "mailNickname": "crisiskit-aubagne",
                    "owners": ["jean.martin.dsi@crise.ampmetropole.fr"],
                }
            ]
        }
    )
    message = _refused(kit, "aubagne")
    assert "conflict: group crisiskit-aubagne" in message


def test_a_tagged_account_the_journal_does_not_know_is_listed_and_left_alone(kit: Kit) -> None:
    assert kit.cli("activate", "pertuis", "--yes").exit_code == 0
    tag = tag_property(load_inventory(kit.inventory).tenant.client_id)
    kit.sim.seed({"users": [{"userPrincipalName": "intrus@crise.ampmetropole.fr",
                             "displayName": "Intrus", tag: "pertuis"}]})
    plan = json.loads(kit.cli("--output", "json", "plan", "pertuis").stdout)
    assert plan["strays"] == ["intrus@crise.ampmetropole.fr"]
    assert plan["leavers"] == []
    assert "journal" in plan["left_alone"]["intrus@crise.ampmetropole.fr"]
    before = [u for u in kit.sim.state()["users"] if u["userPrincipalName"].startswith("intrus")]
    mark = kit.log_size()
    run = kit.cli("activate", "pertuis", "--yes")
    assert run.exit_code == 0
    assert "intrus@crise.ampmetropole.fr" in run.stdout and "left alone" in run.stdout
    assert kit.writes(mark) == []
    after = [u for u in kit.sim.state()["users"] if u["userPrincipalName"].startswith("intrus")]
    assert after == before and after[0]["accountEnabled"] is True


def test_plan_says_why_activate_would_refuse(kit: Kit) -> None:
    plan = json.loads(kit.cli("--output", "json", "plan", "istres").stdout)
    assert any("convention of Istres (istres) is not in force" in r for r in plan["refusals"])
    ok = json.loads(kit.cli("--output", "json", "plan", "aubagne").stdout)
    assert ok["refusals"] == []
