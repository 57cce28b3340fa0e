"""Roster changes stay declarative: `activate` after a person joins or leaves the roster."""

from __future__ import annotations

import json
from datetime import datetime

from day2_helpers import DOMAIN, JULIE, PATRICK, holds, loans, methods, outputs, passes, user
from engine_helpers import Kit, commune

from crisiskit.inventory import load_inventory
from crisiskit.plan.desired import tag_property

NADIA = f"nadia.roux@{DOMAIN}"


def _doing(plan: dict) -> list[tuple[str, str, str]]:
    return [(s["kind"], s["action"], s["key"]) for s in plan["steps"] if s["action"] != "present"]


def test_a_person_added_to_the_roster_is_provisioned_alone(kit: Kit, write_inventory) -> None:
    assert kit.cli("activate", "la-ciotat", "--yes").exit_code == 0

    def join(data: dict) -> None:
        commune(data, "la-ciotat")["roster"].append(
            {"given_name": "Nadia", "surname": "Roux", "role": "agent", "laptop": True,
             "phone": True}
        )

    kit.inventory = write_inventory(join)
    plan = json.loads(kit.cli("--output", "json", "plan", "la-ciotat").stdout)
    doing = _doing(plan)
    lent = sorted(key for kind, _, key in doing if kind == "loan")
    assert sorted(doing) == sorted([
        ("user", "create", NADIA),
        ("licence", "create", NADIA),
        ("mailbox", "wait", NADIA),  # waits are steps: her new mailbox is waited for
        ("tap", "create", NADIA),
        ("membership", "create", f"member:{NADIA}"),
        ("phone_method", "create", NADIA),
        *(("loan", "create", tag) for tag in lent),
    ])
    assert len(lent) == 2 and plan["leavers"] == [] and plan["refusals"] == []
    before = loans(kit, "la-ciotat")

    run = kit.cli("activate", "la-ciotat", "--yes")
    assert run.exit_code == 0, run.stderr
    assert user(kit, NADIA)["accountEnabled"] is True
    after = loans(kit, "la-ciotat")
    assert {t: after[t] for t in lent} == dict.fromkeys(lent, NADIA)
    assert {t: u for t, u in after.items() if t not in lent} == before
    secret = passes(outputs(kit, "la-ciotat") / "credentials.csv")[NADIA]
    assert kit.sim.sign_in(NADIA, temporaryAccessPass=secret)["allowed"] is True
    again = json.loads(kit.cli("--output", "json", "plan", "la-ciotat").stdout)
    assert again["empty"] is True


def test_a_person_removed_from_the_roster_leaves_and_is_kept(kit: Kit, write_inventory) -> None:
    assert kit.cli("activate", "la-ciotat", "--yes").exit_code == 0
    tag = tag_property(load_inventory(kit.inventory).tenant.client_id)
    kit.sim.seed({"users": [{"userPrincipalName": f"intrus@{DOMAIN}", "displayName": "Intrus",
                             tag: "la-ciotat"}]})
    intruder = user(kit, f"intrus@{DOMAIN}")
    secret = passes(outputs(kit, "la-ciotat") / "credentials.csv")[JULIE]
    julie = user(kit, JULIE)
    devices = sorted(t for t, u in loans(kit, "la-ciotat").items() if u == JULIE)
    assert len(devices) == 2
    # A session she opened after her account was made (epoch seconds, simulator clock).
    session = _epoch(julie["signInSessionsValidFromDateTime"]) + 1
    assert kit.sim.sign_in(JULIE, sessionIssuedAt=session)["allowed"] is True

    def leave(data: dict) -> None:
        roster = commune(data, "la-ciotat")["roster"]
        roster[:] = [p for p in roster if p["given_name"] != "Julie"]

    kit.inventory = write_inventory(leave)
    plan = json.loads(kit.cli("--output", "json", "plan", "la-ciotat").stdout)
    assert plan["leavers"] == [JULIE] and plan["leaver_devices"] == {JULIE: devices}
    assert plan["strays"] == [f"intrus@{DOMAIN}"]
    assert sorted(_doing(plan)) == sorted([
        ("user", "disable", JULIE),
        ("user", "revoke", JULIE),
        ("tap", "delete", JULIE),
        *(("loan", "delete", t) for t in devices),
    ])
    mark = kit.log_size()
    dry = kit.cli("activate", "la-ciotat", "--dry-run")
    assert dry.exit_code == 0 and kit.writes(mark) == [] and loans(kit, "la-ciotat")[devices[0]]
    assert f"account {JULIE} is leaving the cell" in dry.stdout
    assert f"account intrus@{DOMAIN} is tagged for la-ciotat, " in dry.stdout

    run = kit.cli("activate", "la-ciotat", "--yes")
    assert run.exit_code == 0, run.stderr
    assert "Leaving the cell:" in run.stdout
    left = user(kit, JULIE)
    assert left["accountEnabled"] is False  # disabled...
    assert left["id"] == julie["id"] and left["assignedLicenses"] == julie["assignedLicenses"]
    assert left["signInSessionsValidFromDateTime"] != julie["signInSessionsValidFromDateTime"]
    writes = [(w["method"], w["path"]) for w in kit.writes(mark)]
    assert ("POST", f"/users/{julie['id']}/revokeSignInSessions") in writes
    assert not any(m == "DELETE" and p == f"/users/{julie['id']}" for m, p in writes)
    assert methods(kit, JULIE, "temporaryAccessPass") == []
    refused = kit.sim.sign_in(JULIE, temporaryAccessPass=secret)
    assert refused == {"allowed": False, "reason": "UserAccountDisabled"}
    assert set(devices).isdisjoint(loans(kit, "la-ciotat"))
    assert {t: holds(kit)[t] for t in devices} == dict.fromkeys(devices, "to_wipe")
    assert loans(kit, "la-ciotat") and all(u == PATRICK for u in loans(kit, "la-ciotat").values())
    assert user(kit, f"intrus@{DOMAIN}") == intruder  # tagged, unjournaled: left alone
    group = next(g for g in kit.sim.state()["groups"] if g["mailNickname"] == "crisiskit-la-ciotat")
    assert julie["id"] in group["members"]  # her mail and files stay the commune's

    mark = kit.log_size()
    again = kit.cli("activate", "la-ciotat", "--yes")
    assert again.exit_code == 0, again.stderr
    assert kit.writes(mark) == []
    plan = json.loads(kit.cli("--output", "json", "plan", "la-ciotat").stdout)
    assert plan["empty"] is True and plan["leavers"] == [JULIE]
    assert [s["action"] for s in plan["steps"] if s["key"] == JULIE] == ["present"]

    # Her sessions are revoked, not only blocked: enabled again (by hand, in the tenant), the
    # session she had open still cannot be used.
    with kit.sim.client() as graph:
        assert graph.patch(f"users/{julie['id']}", json={"accountEnabled": True}).status_code == 204
    assert kit.sim.sign_in(JULIE, sessionIssuedAt=session) == {
        "allowed": False, "reason": "SessionRevoked"
    }


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
