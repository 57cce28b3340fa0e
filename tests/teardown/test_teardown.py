"""`crisiskit teardown` end to end: the simulator over loopback, real SQLite, real SDK client."""

from __future__ import annotations

import json
import os
import re

import pytest
from world import COMMUNE, NICK, OTHER, TAG, World, decoys, group_of, is_lease, ours

from crisiskit import console
from crisiskit.state import Store


def _untouched(before: dict, after: dict, ids: set[str]) -> list[str]:
    """Return the objects among `ids` that changed or vanished between two states."""
    old = {o["id"]: o for o in [*before["users"], *before["groups"]]}
    new = {o["id"]: o for o in [*after["users"], *after["groups"]]}
    return sorted(i for i in ids if old.get(i) != new.get(i))


def test_teardown_removes_exactly_the_kit_and_attests_it(activated: World) -> None:
    w = activated
    assert w.cli("activate", OTHER, "--yes").exit_code == 0
    decoys(w)
    w.sim.seed({"users": [{"userPrincipalName": "stray@crise.ampmetropole.fr", TAG: COMMUNE,
                           "displayName": "Stray", "mailNickname": "stray"}]})
    before = w.sim.state()
    stray = next(u["id"] for u in ours(before) if u["userPrincipalName"].startswith("stray@"))
    kit = {u["id"] for u in ours(before)} - {stray} | {group_of(before)["id"]}
    others = {o["id"] for o in [*before["users"], *before["groups"]]} - kit
    mark = w.mark()
    dry = w.cli("teardown", COMMUNE, "--dry-run")
    assert dry.exit_code == 0, str(dry)
    assert not w.writes(mark)
    assert "/ account" in dry.stdout and "- group crisiskit-aubagne" in dry.stdout
    assert "stray@crise.ampmetropole.fr: tagged for aubagne but not in the journal" in dry.stdout
    folder = w.home / "restitution"
    run = w.cli("teardown", COMMUNE, "--yes", "--export-dir", str(folder))
    assert run.exit_code == 0, str(run)
    after = w.sim.state()
    assert [u["userPrincipalName"] for u in ours(after)] == ["stray@crise.ampmetropole.fr"]
    assert group_of(after) is None
    assert _untouched(before, after, others) == [], "something outside the kit changed"
    assert ours(after, OTHER) == ours(before, OTHER) and group_of(after, "crisiskit-marseille")
    deleted = {d["id"] for d in after["deletedItems"]}
    assert kit <= deleted  # soft-deleted, restorable for 30 days (no --purge)
    # Deletions came after the export's last read, and only for the kit.
    log = w.sim.requests()[mark:]
    deletes = [n for n, r in enumerate(log) if r["method"] == "DELETE"
               and re.fullmatch(r"/(users|groups)/[^/]+", r["path"])]
    reads = [n for n, r in enumerate(log) if not is_lease(r) and (  # the lease is no data
        "/mailFolders" in r["path"] or "/drives/" in r["path"] or "/threads" in r["path"])]
    assert deletes and reads and min(deletes) > max(reads)
    assert {log[n]["path"].split("/")[2] for n in deletes} == kit
    verified = w.cli("export", "verify", str(folder))
    assert verified.exit_code == 0, str(verified)
    manifest = json.loads((folder / "manifest.json").read_text())
    with Store.open(w.home) as store:
        assert not store.open_loans(COMMUNE)
        held = store.device_holds()
        assert len(held) == 17 and {h.state for h in held.values()} == {"to_wipe"}
        actions = {e.action for e in store.audit_entries(COMMUNE)}
        assert {"teardown.start", "user.disable", "user.revoke", "tap.delete", "export.export",
                "manifest.export", "group.delete", "user.delete", "loan.delete",
                "teardown.finish"} <= actions
        assert store.audit_verify() == []
    md = (w.home / "outputs" / COMMUNE / "attestation-fin-de-service.md").read_text("utf-8")
    assert (w.home / "outputs" / COMMUNE / "attestation-fin-de-service.pdf").exists()
    assert f"| Fichiers exportés | {manifest['totals']['files']} |" in md
    assert manifest["digest"] in md
    assert all(u["userPrincipalName"] in md for u in ours(before) if u["id"] in kit)
    assert "AMP-PC-0001" in md and "30 jours" in md
    # A second run after success does nothing at all.
    mark = w.mark()
    again = w.cli("teardown", COMMUNE, "--yes", "--export-dir", str(folder))
    assert again.exit_code == 0, str(again)
    assert not w.writes(mark)


def test_purge_leaves_no_account_in_deleted_items_and_reports_the_group_kept(
    activated: World,
) -> None:
    w = activated
    accounts = {u["id"] for u in ours(w.sim.state())}
    early = w.cli("devices", "return", COMMUNE, "AMP-TEL-0001")  # handed back before the end
    assert early.exit_code == 0, str(early)
    run = w.cli("teardown", COMMUNE, "--yes", "--purge")
    assert run.exit_code == 0, str(run)
    deleted = {d["id"]: d for d in w.sim.state()["deletedItems"]}
    assert not accounts & set(deleted)  # every account purged for good
    kept = [d for d in deleted.values() if d.get("mailNickname") == NICK]
    assert len(kept) == 1  # the service keeps the group: app-only tokens cannot purge it
    assert re.search(r"group crisiskit-aubagne: retained by the service until \d{4}-\d\d-\d\d",
                     run.stdout), str(run)
    md = (w.home / "outputs" / COMMUNE / "attestation-fin-de-service.md").read_text("utf-8")
    assert "pas permise à une application" in md and "Groupe Microsoft 365" in md
    assert "| `AMP-TEL-0001` |" in md and re.search(r"Total\s: 17\smatériels", md)
    mark = w.mark()
    assert w.cli("teardown", COMMUNE, "--yes", "--purge").exit_code == 0
    assert not w.writes(mark)  # the refused purge is not tried again


def test_a_failed_export_blocks_every_deletion(activated: World) -> None:
    w = activated
    w.sim.corrupt_downloads(1000)  # every download fails its quickXorHash check
    before = w.sim.state()
    run = w.cli("teardown", COMMUNE, "--yes")
    assert run.exit_code == 3, str(run)
    assert "nothing was deleted" in run.stderr
    after = w.sim.state()
    assert len(ours(after)) == len(ours(before)) and group_of(after) is not None
    assert all(u["accountEnabled"] is False for u in ours(after))  # frozen, not deleted
    assert not [r for r in w.sim.requests() if r["method"] == "DELETE"
                and re.fullmatch(r"/(users|groups)/[^/]+", r["path"])]
    w.sim.corrupt_downloads(0)
    rerun = w.cli("teardown", COMMUNE, "--yes")
    assert rerun.exit_code == 0, str(rerun)
    assert not ours(w.sim.state())


def test_no_export_is_explicit_recorded_and_attested(activated: World) -> None:
    w = activated
    run = w.cli("teardown", COMMUNE, "--yes", "--no-export")
    assert run.exit_code == 0, str(run)
    assert not (w.home / "exports").exists()
    with Store.open(w.home) as store:
        assert "teardown.no_export" in {e.action for e in store.audit_entries(COMMUNE)}
    md = (w.home / "outputs" / COMMUNE / "attestation-fin-de-service.md").read_text("utf-8")
    assert "Aucun export n’a été réalisé" in md
    both = w.cli("teardown", COMMUNE, "--no-export", "--export-dir", "x", "--yes")
    assert both.exit_code == 2


def test_from_tenant_finds_the_kit_by_its_tag_when_the_state_is_lost(activated: World) -> None:
    w = activated
    assert w.cli("activate", OTHER, "--yes").exit_code == 0
    for name in os.listdir(w.home):
        if name.startswith("state.db"):
            os.unlink(w.home / name)
    plain = w.cli("teardown", COMMUNE, "--yes")
    assert plain.exit_code == 0 and "Nothing provisioned" in plain.stdout, str(plain)
    run = w.cli("teardown", COMMUNE, "--yes", "--from-tenant", "--no-export")
    assert run.exit_code == 0, str(run)
    state = w.sim.state()
    assert not ours(state) and group_of(state) is None
    assert ours(state, OTHER) and group_of(state, "crisiskit-marseille")


def test_nothing_provisioned_is_said_and_nothing_is_done(world: World) -> None:
    mark = world.mark()
    run = world.cli("teardown", COMMUNE, "--yes")
    assert run.exit_code == 0 and "Nothing provisioned for aubagne" in run.stdout, str(run)
    assert not world.writes(mark)


@pytest.mark.parametrize(
    ("answers", "purge", "writes"),
    [("nope\n", False, False), ("aubagne\nno\n", True, False)],
)
def test_the_operator_types_the_commune_id_and_purge_asks_again(
    activated: World, monkeypatch: pytest.MonkeyPatch, answers: str, purge: bool, writes: bool
) -> None:
    monkeypatch.setattr(console, "is_terminal", lambda: True)
    mark = activated.mark()
    args = ["teardown", COMMUNE, "--no-export", *(["--purge"] if purge else [])]
    run = activated.cli(*args, input=answers)
    assert run.exit_code == 4 and "Declined: nothing was changed" in run.stderr, str(run)
    assert bool(activated.writes(mark)) is writes
    assert run.stdout.count("Plan: teardown aubagne") == 1
