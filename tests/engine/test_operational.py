"""Operational in minutes: the Team made with its group, credentials before readiness,
`--no-wait` then `status --wait`, several communes in one command (real CLI, loopback sim)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from engine_helpers import Kit

from crisiskit.state import Store

TEAM_NAME = "Cellule de crise – Aubagne"


def _ours(kit: Kit, commune: str = "aubagne") -> list[dict[str, Any]]:
    state = kit.sim.state()
    return [g for g in state["groups"] if g.get("displayName") == TEAM_NAME.replace(
        "Aubagne", commune.capitalize())]


def _team_posts(kit: Kit, since: int = 0) -> list[dict[str, Any]]:
    return [r for r in kit.sim.requests()[since:]
            if r["method"] == "POST" and r["path"].rstrip("/") == "/teams"]


def _tag(group: dict[str, Any]) -> Any:
    return next((v for k, v in group.items() if k.endswith("_crisiskitCommune")), None)


@pytest.mark.parametrize("fault", ["commit_then_5xx", "drop"])
def test_an_uncertain_team_create_is_settled_by_lookup_never_sent_twice(
    kit: Kit, fault: str
) -> None:
    kit.sim.set_faults({"method": "POST", "path": "^/teams$", "fault": fault})
    run = kit.cli("activate", "aubagne", "--yes")
    assert run.exit_code == 0, run.stderr
    (group,) = _ours(kit)
    assert _tag(group) == "aubagne" and group["mailNickname"] == "crisiskit-aubagne"
    posts = _team_posts(kit)
    assert len(posts) == 1  # applied once; found by display name and owners, not re-sent
    assert posts[0].get("committed") or posts[0].get("dropped") or fault == "drop"
    assert len(kit.sim.state()["teams"]) == 1
    with Store.open(kit.home) as store:
        steps = [s for r in store.runs("aubagne") for s in store.steps(r.id)
                 if s.kind == "group"]
    assert [s.status for s in steps] == ["sent", "done"]
    assert "after an uncertain answer" in (steps[-1].detail or "")
    mark = kit.log_size()
    assert kit.cli("activate", "aubagne", "--yes").exit_code == 0
    assert kit.writes(mark) == []


def test_an_old_path_kit_converges_with_zero_writes(kit: Kit) -> None:
    first = kit.cli("activate", "aubagne", "--yes", "--team-path", "group")
    assert first.exit_code == 0, first.stderr
    assert [r["status"] for r in kit.sim.requests()
            if r["method"] == "POST" and r["path"] == "/groups"] == [201]
    mark = kit.log_size()
    again = kit.cli("activate", "aubagne", "--yes")
    assert again.exit_code == 0, again.stderr
    assert kit.writes(mark) == []
    assert "nothing was changed" in again.stdout
    assert len(_ours(kit)) == 1


def test_no_wait_hands_over_then_status_wait_completes_the_sheet(kit: Kit) -> None:
    kit.sim.set_profile(team_op_s=3600)  # the Team takes an hour; the rest is instant
    run = kit.cli("activate", "aubagne", "--yes", "--no-wait")
    assert run.exit_code == 0, run.stderr
    out = kit.home / "outputs" / "aubagne"
    assert (out / "credentials.csv").is_file() and (out / "fiches-premiere-connexion.pdf").is_file()
    sheet = (out / "fiche-de-remise.md").read_text("utf-8")
    assert "Kit en cours de préparation" in sheet
    assert "Cellule de crise – Aubagne, en\n  cours de préparation" in sheet
    assert "| Kit complet | en cours de préparation |" in sheet
    assert "still provisioning" in run.stdout.lower()
    assert "crisiskit status aubagne --wait" in run.stdout
    assert kit.sim.state()["teams"]  # created, still being provisioned
    # Status, read-only, says so; then --wait waits for it (the Team arrives meanwhile).
    status = json.loads(kit.cli("--output", "json", "status", "aubagne").stdout)
    assert status[0]["team"] == "provisioning"
    mark = kit.log_size()
    kit.sim.advance(3601)
    waited = kit.cli("status", "aubagne", "--wait")
    assert waited.exit_code == 0, waited.stdout + waited.stderr
    assert kit.writes(mark) == []  # read-only
    complete = (out / "fiche-de-remise.md").read_text("utf-8")
    assert "**Kit complet** le" in complete and "Les identifiants ont été remis dès le" in complete
    assert "en cours de préparation" not in complete
    assert "https://teams.microsoft.com/" in complete
    with Store.open(kit.home) as store:
        editions = [e.outcome for e in store.audit_entries("aubagne")
                    if e.action == "documents.written"]
    # Provisional at the handover point (and again at the end of the run if what was still
    # provisioning changed meanwhile), then complete.
    assert editions[-1] == "complete" and set(editions[:-1]) == {"provisional"}
    # Nothing left to do: a second --wait writes no new edition.
    assert kit.cli("status", "aubagne", "--wait").exit_code == 0
    with Store.open(kit.home) as store:
        again = [e for e in store.audit_entries("aubagne") if e.action == "documents.written"]
    assert len(again) == len(editions)


def test_status_wait_leaves_the_sheet_to_a_run_in_progress_in_this_home(kit: Kit) -> None:
    """`status --wait` writes the complete edition under the commune's lock of this home:
    while another run holds it, it writes nothing and says who does."""
    from crisiskit.state.lock import commune_lock

    kit.sim.set_profile(team_op_s=3600)
    assert kit.cli("activate", "aubagne", "--yes", "--no-wait").exit_code == 0
    kit.sim.advance(3601)
    with commune_lock(kit.home, "aubagne"):  # what an activation in progress holds
        held = kit.cli("status", "aubagne", "--wait")
    assert held.exit_code == 0, held.stdout + held.stderr
    assert "another crisiskit run of aubagne is in progress" in " ".join(held.stdout.split())
    sheet = kit.home / "outputs" / "aubagne" / "fiche-de-remise.md"
    assert "Kit en cours de préparation" in sheet.read_text("utf-8")
    freed = kit.cli("status", "aubagne", "--wait")
    assert freed.exit_code == 0 and "complete edition" in freed.stdout
    assert "en cours de préparation" not in sheet.read_text("utf-8")


def test_credentials_are_handed_over_before_the_team_is_ready(kit: Kit) -> None:
    """Waiting for the Team (1.5 s; its documented bound scaled to 3.6 s), the sheet is
    first provisional."""
    kit.env["CRISISKIT_WAIT_SCALE"] = "0.001"
    kit.sim.set_profile(team_op_s=1.5)
    run = kit.cli("activate", "aubagne", "--yes")
    assert run.exit_code == 0, run.stderr
    assert "hand them over now" in " ".join(run.stderr.split())  # the progress display
    with Store.open(kit.home) as store:
        entries = store.audit_entries("aubagne")
    editions = [e for e in entries if e.action == "documents.written"]
    assert [e.outcome for e in editions] == ["provisional", "complete"]
    team_ready = next(e for e in entries if e.action == "team.wait" and e.outcome == "ready")
    # The first edition was made while the Team was still being created, from a credentials
    # file complete before it was ready.
    assert "team" in editions[0].details["preparing"]
    assert team_ready.seq < editions[1].seq
    creds = kit.home / "outputs" / "aubagne" / "credentials.csv"
    assert creds.stat().st_mtime < datetime.fromisoformat(team_ready.at).timestamp()
    sheet = (kit.home / "outputs" / "aubagne" / "fiche-de-remise.md").read_text("utf-8")
    assert "**Kit complet** le" in sheet


def test_a_kit_ready_within_seconds_of_the_handover_gets_one_complete_sheet(kit: Kit) -> None:
    """The slips are written at the handover point; the rest is ready at once (instant
    profile), so no provisional sheet is printed only to be replaced: one edition, complete,
    with the very slips of the handover point."""
    run = kit.cli("activate", "aubagne", "--yes")
    assert run.exit_code == 0, run.stderr
    said = " ".join(run.stderr.split())
    assert "sign-in slips written in" in said and "the sheet is written once, at its end" in said
    with Store.open(kit.home) as store:
        editions = [e for e in store.audit_entries("aubagne") if e.action == "documents.written"]
    assert [e.outcome for e in editions] == ["complete"]
    assert "fiches-premiere-connexion.pdf" in editions[0].details["files"]
    out = kit.home / "outputs" / "aubagne"
    assert "en cours de préparation" not in (out / "fiche-de-remise.md").read_text("utf-8")
    assert (out / "fiches-premiere-connexion.pdf").stat().st_mode & 0o777 == 0o600


def test_several_communes_at_once_one_refused_the_others_done(kit: Kit) -> None:
    # Cassis's natural key is taken by a group that is not crisiskit's: refused, exit 3.
    owner = kit.sim.state()["users"][0]["userPrincipalName"]
    kit.sim.seed({"groups": [{"displayName": "Cassis (other)", "mailNickname": "crisiskit-cassis",
                              "owners": [owner]}]})
    run = kit.cli("--output", "json", "activate", "aubagne", "cassis", "la-ciotat", "--yes")
    assert run.exit_code == 3, run.stderr
    doc = json.loads(run.stdout)
    by = {c["commune"]: c for c in doc["communes"]}
    assert doc["exit_code"] == 3
    assert [c["commune"] for c in doc["communes"]] == ["aubagne", "cassis", "la-ciotat"]
    assert by["aubagne"]["exit_code"] == 0 and by["la-ciotat"]["exit_code"] == 0
    assert by["cassis"]["exit_code"] == 3 and "crisiskit-cassis" in by["cassis"]["error"]
    assert by["aubagne"]["result"]["complete"] and by["la-ciotat"]["result"]["complete"]
    with Store.open(kit.home) as store:
        actions = {c: [e.action for e in store.audit_entries(c)]
                   for c in ("aubagne", "cassis", "la-ciotat")}
        runs = {c: [r.outcome for r in store.runs(c)] for c in actions}
        assert store.audit_verify() == []
    assert "activate.refused" in actions["cassis"] and "graph.POST" not in actions["cassis"]
    for c in ("aubagne", "cassis", "la-ciotat"):  # each commune under its own lease
        assert actions[c][0] == "lease.acquired"
    for c in ("aubagne", "la-ciotat"):
        assert actions[c][1] == "activate.start" and "graph.POST" in actions[c]
        assert runs[c] == ["ok"]
    assert runs["cassis"] == []
    for c in ("aubagne", "la-ciotat"):
        assert (kit.home / "outputs" / c / "credentials.csv").is_file()
    assert not (kit.home / "outputs" / "cassis" / "credentials.csv").exists()


def test_several_communes_one_table_one_confirmation(kit: Kit) -> None:
    run = kit.cli("activate", "aubagne", "marseille", "--yes")
    assert run.exit_code == 0, run.stderr
    assert run.stdout.index("== aubagne ==") < run.stdout.index("== marseille ==")
    assert "Activations" in run.stdout and run.stdout.count("complete") >= 2
    dry = kit.cli("--output", "json", "activate", "aubagne", "marseille", "--dry-run")
    assert dry.exit_code == 0
    assert [c["executed"] for c in json.loads(dry.stdout)["communes"]] == [False, False]
    twice = kit.cli("activate", "aubagne", "aubagne", "--yes")
    assert twice.exit_code == 2 and "named twice" in twice.stderr


def test_several_communes_in_one_command_never_lend_a_device_twice(kit: Kit) -> None:
    """`activate A B C` in one process: each commune claims its devices in the store's write
    transaction against the others' claims (as separate processes do); nothing stays claimed."""
    communes = ("aubagne", "aix-en-provence", "la-ciotat")
    run = kit.cli("--output", "json", "activate", *communes, "--yes")
    assert run.exit_code == 0, run.stderr
    assert [c["exit_code"] for c in json.loads(run.stdout)["communes"]] == [0, 0, 0]
    with Store.open(kit.home) as store:
        loans = store.open_loans()
        assert store.reservations() == []
    tags = [lo.asset_tag for lo in loans]
    assert len(tags) == len(set(tags)), f"a device is lent twice: {sorted(tags)}"
    by: dict[str, int] = {}
    for lo in loans:
        by[lo.commune] = by.get(lo.commune, 0) + 1
    assert by["aubagne"] == 17 and by["aix-en-provence"] == 7 and set(by) == set(communes)


def test_several_communes_in_one_command_claim_seats_for_all(kit: Kit) -> None:
    """Seats for only one of two communes: they all plan before any runs, so the one planned
    second counts the first one's claim and is refused (exit 3); the other completes."""
    tenant = kit.sim.simulator.tenant
    with kit.sim.simulator.lock:
        for sku in tenant.skus.values():
            sku["prepaidUnits"]["enabled"] = sku["consumedUnits"] + 15  # 12 + 4 = 16 > 15
    run = kit.cli("--output", "json", "activate", "aubagne", "aix-en-provence", "--yes")
    assert run.exit_code == 3, run.stderr
    by = {c["commune"]: c for c in json.loads(run.stdout)["communes"]}
    assert sorted(c["exit_code"] for c in by.values()) == [0, 3]
    refused = next(c for c in by.values() if c["exit_code"] == 3)
    started = next(c for c in by.values() if c["exit_code"] == 0)
    assert "not enough O365_BUSINESS_PREMIUM licences" in refused["error"]
    assert "reserved by activations in progress" in refused["error"]
    assert f"{started['commune']} (pid " in refused["error"]
    assert started["result"]["complete"]
    with kit.sim.simulator.lock:
        assert all(s["consumedUnits"] <= s["prepaidUnits"]["enabled"]
                   for s in tenant.skus.values())
    with Store.open(kit.home) as store:
        assert store.reservations() == []
