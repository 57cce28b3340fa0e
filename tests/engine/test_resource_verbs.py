"""The verbs teardown and day-2 operations will need, against the simulator over loopback.

Each plan is hand-written (no command builds these yet) and run by the real executor inside
the real run lifecycle, with the real SQLite store and the real Graph door. The consistency
rules (N consecutive reads that agree, N 404s after a delete) really read the simulator; only
the spacing between those reads is played on a ManualClock.
"""

from __future__ import annotations

from pathlib import Path

from planrun import DOMAIN, ROOT, execute, user

from crisiskit.plan.model import Ref, step
from crisiskit.resources.groups import GroupCreate, GroupTarget
from crisiskit.resources.loans import LoanCreate, LoanReturn
from crisiskit.resources.phones import PhoneCreate, PhoneTarget, PhoneUpdate
from crisiskit.resources.taps import TapCreate, TapTarget
from crisiskit.resources.users import UserTarget
from crisiskit.sim.server import EmbeddedSimulator
from crisiskit.state import Store

UPN = f"zoe.leaver@{DOMAIN}"


def _user_in(state: dict, upn: str) -> dict | None:
    return next((u for u in state["users"] if u["userPrincipalName"] == upn), None)


def test_user_disable_is_confirmed_by_consecutive_reads(sim: EmbeddedSimulator, tmp_path: Path):
    ran = execute(sim, tmp_path, [
        step("user", "create", UPN, user("zoe.leaver")),
        step("user", "disable", UPN, UserTarget(Ref(f"user:{UPN}")), id="off"),
    ])
    assert ran.execution.ok, ran.execution.failures
    assert _user_in(sim.state(), UPN)["accountEnabled"] is False
    uid = ran.execution.results[f"user:{UPN}"].id
    log = sim.requests()
    patch = next(n for n, r in enumerate(log) if r["method"] == "PATCH")
    reads = [r for r in log[patch:] if r["method"] == "GET" and r["path"] == f"/users/{uid}"]
    assert len(reads) >= 3  # agree_reads consecutive reads saw it disabled
    assert ran.clock is not None and ran.clock.slept >= 2.0  # spaced on the engine's clock
    with Store.open(tmp_path) as store:
        run = store.runs("aubagne")[0]
        assert [(s.kind, s.action, s.status) for s in store.steps(run.id)] == [
            ("user", "create", "done"), ("user", "disable", "done"),
        ]


def test_user_delete_waits_for_consecutive_404s_then_purge(sim: EmbeddedSimulator, tmp_path):
    created = execute(sim, tmp_path, [step("user", "create", UPN, user("zoe.leaver"))])
    uid = created.execution.results[f"user:{UPN}"].id
    assert uid
    mark = len(sim.requests())
    ran = execute(sim, tmp_path, [
        step("user", "delete", UPN, UserTarget(uid)),
        step("user", "purge", UPN, UserTarget(uid), id="purge", after=(f"user:{UPN}",)),
    ])
    assert ran.execution.ok, ran.execution.failures
    log = sim.requests()[mark:]
    gone = [r for r in log if r["method"] == "GET" and r["path"].startswith(f"/users/{uid}")]
    assert len(gone) >= 3 and all(r["status"] == 404 for r in gone[-3:])
    purge = [r for r in log if r["method"] == "DELETE" and "deletedItems" in r["path"]]
    assert log.index(purge[0]) > log.index(gone[-1])  # purged only once surely deleted
    state = sim.state()
    assert _user_in(state, UPN) is None
    assert all(d["id"] != uid for d in state["deletedItems"])


def test_deleting_a_user_already_gone_is_done(sim: EmbeddedSimulator, tmp_path: Path) -> None:
    ran = execute(sim, tmp_path, [
        step("user", "delete", UPN, UserTarget("00000000-0000-0000-0000-000000000000"))
    ])
    assert ran.execution.ok
    assert ran.execution.results[f"user:{UPN}"].detail == "already gone"


def test_group_delete_is_confirmed_gone(sim: EmbeddedSimulator, tmp_path: Path) -> None:
    owner = Ref(f"user:{UPN}")
    group = GroupCreate("crisiskit-verbs", "Verbs", "d", user("x").tag, "aubagne", ROOT, (owner,))
    made = execute(sim, tmp_path, [
        step("user", "create", UPN, user("zoe.leaver")),
        step("group", "create", "crisiskit-verbs", group),
    ])
    assert made.execution.ok, made.execution.failures
    gid = made.execution.results["group:crisiskit-verbs"].id
    ran = execute(sim, tmp_path, [step("group", "delete", "crisiskit-verbs", GroupTarget(gid))])
    assert ran.execution.ok, ran.execution.failures
    assert all(g["id"] != gid for g in sim.state()["groups"])
    assert any(d["id"] == gid for d in sim.state()["deletedItems"])


def test_tap_delete_and_phone_update_then_delete(sim: EmbeddedSimulator, tmp_path: Path) -> None:
    uref = Ref(f"user:{UPN}")
    made = execute(sim, tmp_path, [
        step("user", "create", UPN, user("zoe.leaver")),
        step("tap", "create", UPN, TapCreate(uref, UPN, "Zoé", 60, False)),
        step("phone_method", "create", UPN, PhoneCreate(uref, "+33 612345678")),
    ])
    assert made.execution.ok, made.execution.failures
    assert [p.upn for p in made.passes] == [UPN]  # the secret went to the sink
    r = made.execution.results
    uid, tap_id, phone_id = r[f"user:{UPN}"].id, r[f"tap:{UPN}"].id, r[f"phone_method:{UPN}"].id
    assert uid and tap_id and phone_id

    swapped = execute(sim, tmp_path, [
        step("phone_method", "update", UPN, PhoneUpdate(uid, phone_id, "+33 698765432")),
        step("tap", "delete", UPN, TapTarget(uid, tap_id)),
    ])
    assert swapped.execution.ok, swapped.execution.failures
    methods = [m for m in sim.state()["authenticationMethods"] if m["userId"] == uid]
    assert [m["phoneNumber"] for m in methods if "phone" in m["@odata.type"]] == ["+33 698765432"]
    assert not [m for m in methods if "temporaryAccessPass" in m["@odata.type"]]

    removed = execute(sim, tmp_path, [
        step("phone_method", "delete", UPN, PhoneTarget(uid, phone_id))
    ])
    assert removed.execution.ok, removed.execution.failures
    assert not [m for m in sim.state()["authenticationMethods"] if m["userId"] == uid]


def test_loans_are_recorded_then_returned_by_the_executor(sim: EmbeddedSimulator, tmp_path):
    lend = execute(sim, tmp_path, [
        step("loan", "create", "AMP-PC-0001", LoanCreate("laptop", "AMP-PC-0001", UPN)),
    ])
    assert lend.execution.ok
    with Store.open(tmp_path) as store:
        assert [(lo.asset_tag, lo.upn) for lo in store.open_loans("aubagne")] == [
            ("AMP-PC-0001", UPN)
        ]
    back = execute(
        sim, tmp_path, [step("loan", "delete", "AMP-PC-0001", LoanReturn("AMP-PC-0001"))]
    )
    assert back.execution.ok
    with Store.open(tmp_path) as store:
        assert store.open_loans("aubagne") == []
        assert store.loans("aubagne")[0].returned_at is not None
