"""End to end: `crisiskit activate` against the simulator over loopback, real SQLite, real SDK."""

from __future__ import annotations

import json
import os
import stat
from collections import Counter
from pathlib import Path

from engine_helpers import REPO, Kit, commune

from crisiskit.documents.handover import anchor_text
from crisiskit.inventory import load_inventory
from crisiskit.inventory.naming import roster_accounts
from crisiskit.plan.desired import tag_property
from crisiskit.state import Store

OWNERS = {
    "gerard.lucciani@crise.ampmetropole.fr",
    "marie-helene.dupont@crise.ampmetropole.fr",
    "jean.martin@crise.ampmetropole.fr",
}


def _ours(state: dict, tag: str, commune_id: str) -> list[dict]:
    return [u for u in state["users"] if u.get(tag) == commune_id]


def test_activate_provisions_the_whole_kit(kit: Kit) -> None:
    inventory = load_inventory(kit.inventory)
    tag = tag_property(inventory.tenant.client_id)
    accounts = roster_accounts(inventory.commune("aubagne"), "crise.ampmetropole.fr")
    expected = {a.upn.lower() for a in accounts}
    decoys_before = {u["id"]: u for u in kit.sim.state()["users"]}

    run = kit.cli("activate", "aubagne", "--yes")
    assert run.exit_code == 0, run.stderr

    state = kit.sim.state()
    users = _ours(state, tag, "aubagne")
    assert {u["userPrincipalName"] for u in users} == expected
    assert len(users) == len(expected) == 12
    part = inventory.tenant.sku_part_number
    sku = next(s for s in state["subscribedSkus"] if s["skuPartNumber"] == part)
    assert all(sku["skuId"] in {x["skuId"] for x in u["assignedLicenses"]} for u in users)
    assert all(u["usageLocation"] == "FR" and "Aubagne" in u["displayName"] for u in users)

    groups = [g for g in state["groups"] if g["mailNickname"] == "crisiskit-aubagne"]
    assert len(groups) == 1
    group = groups[0]
    assert group[tag] == "aubagne" and group["visibility"] == "Private"
    by_id = {u["id"]: u["userPrincipalName"] for u in users}
    assert {by_id[i] for i in group["owners"]} == OWNERS
    assert {by_id[i] for i in group["members"]} == expected

    teams = [t for t in state["teams"] if t["id"] == group["id"]]
    assert len(teams) == 1
    channels = Counter(c["displayName"] for c in state["channels"] if c["teamId"] == group["id"])
    assert {"Décisions", "Communication", "Technique"} <= set(channels)
    assert max(channels.values()) == 1
    folders = sorted(
        i["path"] for i in state["driveItems"] if i.get("groupId") == group["id"] and i["path"]
    )
    assert folders == sorted(["Main courante", "Communiqués", "Décisions", "Forensic"])

    methods = [m for m in state["authenticationMethods"] if m["userId"] in by_id]
    taps = [m for m in methods if "temporaryAccessPass" in m["@odata.type"]]
    phones = [m for m in methods if "phoneAuthenticationMethod" in m["@odata.type"]]
    assert len(taps) == 12
    assert len(phones) == 8  # the roster's phone users
    assert all(p["phoneType"] == "mobile" for p in phones)

    # Loans in the local state, deterministic: lowest available asset tags.
    with Store.open(kit.home) as store:
        loans = store.open_loans("aubagne")
        assert len(loans) == 17
        assert len({lo.asset_tag for lo in loans}) == 17
        assert store.audit_verify() == []
        actions = {e.action for e in store.audit_entries("aubagne")}
    assert "graph.POST" in actions and "user.create" in actions

    # Documents: handover sheet and credentials file (0600) with every pass of the tenant.
    out = kit.home / "outputs" / "aubagne"
    creds = out / "credentials.csv"
    assert stat.S_IMODE(os.stat(creds).st_mode) == 0o600
    rows = creds.read_text("utf-8").splitlines()
    assert rows[0] == "upn,display_name,temporary_access_pass,valid_from,valid_until"
    assert len(rows) == 13
    secrets = {t["temporaryAccessPass"] for t in taps}
    assert all(any(s in r for r in rows) for s in secrets)
    sheet = (out / "fiche-de-remise.md").read_text("utf-8")
    assert "Aubagne" in sheet and "AMP-PC-0001" in sheet
    with Store.open(kit.home) as store:
        *_, before, edition = store.audit_entries()
    # The audit chain's fingerprint at handover, printed to be signed on paper: the entry
    # before the one that records the writing of this edition (with its facts' digest).
    assert (edition.action, edition.outcome) == ("documents.written", "complete")
    assert edition.details["facts"].startswith("sha256:")
    seq, digest = before.seq, before.hash
    assert anchor_text((seq, digest)) in sheet
    assert kit.cli("audit", "verify", "--anchor", f"{seq}:{digest}").exit_code == 0
    for secret in secrets:
        assert secret not in sheet
        assert secret not in run.stdout and secret not in run.stderr
    assert str(creds) in run.stdout

    # Decoys untouched.
    after = {u["id"]: u for u in state["users"]}
    assert all(after[i] == u for i, u in decoys_before.items())


def test_rerun_makes_no_write_and_plan_is_empty(kit: Kit) -> None:
    assert kit.cli("activate", "aubagne", "--yes").exit_code == 0
    mark = kit.log_size()

    again = kit.cli("activate", "aubagne", "--yes")
    assert again.exit_code == 0, again.stderr
    assert kit.writes(mark) == []
    assert "Everything present" in again.stdout

    plan = kit.cli("--output", "json", "plan", "aubagne")
    assert plan.exit_code == 0
    data = json.loads(plan.stdout)
    assert data["empty"] is True
    assert {a for by in data["counts"].values() for a in by} == {"present"}
    assert kit.writes(mark) == []


def test_dry_run_and_plan_write_nothing(kit: Kit) -> None:
    mark = kit.log_size()
    dry = kit.cli("--output", "json", "activate", "aubagne", "--dry-run")
    assert dry.exit_code == 0
    data = json.loads(dry.stdout)
    assert data["executed"] is False
    assert data["plan"]["counts"]["user"] == {"create": 12}
    assert kit.writes(mark) == []
    assert not (kit.home / "outputs").exists()


def test_no_terminal_without_yes_is_refused(kit: Kit) -> None:
    mark = kit.log_size()
    run = kit.cli("activate", "aubagne")
    assert run.exit_code == 2
    assert "--yes" in run.stderr
    assert kit.writes(mark) == []


def test_large_roster_uses_batched_member_patches(kit: Kit, write_inventory) -> None:
    def grow(data: dict) -> None:
        c = commune(data, "aubagne")
        c["roster"] = [
            {"given_name": f"Agent{i:02d}", "surname": "Crise", "role": "agent",
             "team_owner": i < 2}
            for i in range(45)
        ]

    kit.inventory = write_inventory(grow)
    run = kit.cli("activate", "aubagne", "--yes")
    assert run.exit_code == 0, run.stderr
    state = kit.sim.state()
    group = next(g for g in state["groups"] if g["mailNickname"] == "crisiskit-aubagne")
    assert len(group["members"]) == 45 and len(group["owners"]) == 2
    patches = [
        r for r in kit.sim.requests() if r["method"] == "PATCH" and r["path"].startswith("/groups/")
    ]
    # The tag, then the nickname, then 45 members: 20 in the create (2 owners), 20 + 5 by
    # PATCH of members@odata.bind, both in one $batch.
    assert len(patches) == 4
    assert all(r.get("via") == "$batch" for r in patches)
    plan = json.loads(kit.cli("--output", "json", "plan", "aubagne").stdout)
    assert plan["empty"] is True


def test_new_pass_is_issued_when_credentials_file_lost(kit: Kit) -> None:
    assert kit.cli("activate", "aubagne", "--yes").exit_code == 0
    creds = kit.home / "outputs" / "aubagne" / "credentials.csv"
    lines = creds.read_text("utf-8").splitlines()
    lost = lines[1].split(",")[0]
    creds.write_text("\n".join([lines[0], *lines[2:]]) + "\n", "utf-8")
    mark = kit.log_size()

    run = kit.cli("activate", "aubagne", "--yes")
    assert run.exit_code == 0, run.stderr
    assert f"reissued for {lost}" in run.stdout
    writes = kit.writes(mark)
    assert len(writes) == 1 and writes[0]["path"].endswith("/temporaryAccessPassMethods")
    assert lost in creds.read_text("utf-8")
    with Store.open(kit.home) as store:
        tap_steps = [e for e in store.audit_entries("aubagne") if e.action == "tap.create"]
    assert any(e.target == lost and "reissue" in json.dumps(e.details) for e in tap_steps)


def test_sandbox_persists_between_invocations(tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from crisiskit.cli import app

    home = tmp_path / "home"
    for name in ("CRISISKIT_GRAPH_URL", "CRISISKIT_GRAPH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    env = {"CRISISKIT_HOME": str(home), "USER": "t"}
    inv = str(Path(__file__).resolve().parents[2] / "inventory.yaml")
    runner = CliRunner()
    first = runner.invoke(app, ["-i", inv, "activate", "pertuis", "--sandbox", "--yes"], env=env)
    assert first.exit_code == 0, first.stderr
    assert (home / "sandbox" / "tenant.json").exists()
    plan = runner.invoke(
        app, ["-i", inv, "--output", "json", "plan", "pertuis", "--sandbox"], env=env
    )
    assert json.loads(plan.stdout)["empty"] is True
    status = runner.invoke(app, ["-i", inv, "--output", "json", "status", "--sandbox"], env=env)
    data = json.loads(status.stdout)
    assert [s["commune"] for s in data] == ["pertuis"]
    assert all(a["account"] == "present" and a["mailbox"] == "ready" for a in data[0]["accounts"])


def test_group_licensing_playbook_assigns_the_sku_to_the_group(kit: Kit, write_inventory) -> None:
    def group_licence(data: dict) -> None:
        commune(data, "pertuis")["playbook"] = "grouplic"

    kit.inventory = write_inventory(group_licence)
    book = (REPO / "playbooks" / "standard.yaml").read_text("utf-8")
    book = book.replace("name: standard", "name: grouplic").replace(
        "licence: direct", "licence: group"
    )
    (kit.inventory.parent / "playbooks" / "grouplic.yaml").write_text(book, "utf-8")
    run = kit.cli("activate", "pertuis", "--yes")
    assert run.exit_code == 0, run.stderr
    log = kit.sim.requests()
    assert [r for r in log if r["path"].endswith("/assignLicense")] == [
        r for r in log if r["path"].startswith("/groups/") and r["path"].endswith("/assignLicense")
    ]
    assert len([r for r in log if r["path"].endswith("/assignLicense")]) == 1
    mark = kit.log_size()
    assert kit.cli("activate", "pertuis", "--yes").exit_code == 0
    assert kit.writes(mark) == []


def test_real_tenant_without_credentials_is_refused_before_any_request(
    kit: Kit, monkeypatch
) -> None:
    for name in ("CRISISKIT_GRAPH_URL", "CRISISKIT_GRAPH_TOKEN", "AZURE_CLIENT_SECRET"):
        kit.env.pop(name, None)
        monkeypatch.delenv(name, raising=False)
    run = kit.cli("plan", "aubagne")
    assert run.exit_code == 3
    assert "AZURE_CLIENT_SECRET" in run.stderr


def test_interrupted_run_is_closed_by_the_next_one(kit: Kit) -> None:
    with Store.open(kit.home) as store:
        stale = store.start_run("aubagne", "activate", "someone", "standard")
    run = kit.cli("activate", "aubagne", "--yes")
    assert run.exit_code == 0
    assert f"Resumed after interrupted run #{stale}." in run.stdout
    with Store.open(kit.home) as store:
        assert store.unfinished_runs("aubagne") == []
        assert store.run(stale).outcome == "interrupted"


def test_show_secrets_prints_the_passes_only_when_asked(kit: Kit) -> None:
    run = kit.cli("activate", "pertuis", "--yes", "--show-secrets")
    assert run.exit_code == 0
    taps = [m["temporaryAccessPass"] for m in kit.sim.state()["authenticationMethods"]
            if m.get("temporaryAccessPass")]
    assert taps and all(t in run.stdout for t in taps)
    assert all(t not in run.stderr for t in taps)


def test_drifted_account_is_updated_in_place(kit: Kit) -> None:
    assert kit.cli("activate", "pertuis", "--yes").exit_code == 0
    sim = kit.sim.simulator
    with sim.lock:
        user = next(u for u in sim.tenant.users.values()
                    if u["userPrincipalName"].startswith(("anne", "marc")) or "Pertuis" in
                    u.get("displayName", ""))
        user["displayName"] = "Renamed by hand"
        user["accountEnabled"] = False
    plan = json.loads(kit.cli("--output", "json", "plan", "pertuis").stdout)
    assert plan["counts"]["user"].get("update") == 1
    mark = kit.log_size()
    assert kit.cli("activate", "pertuis", "--yes").exit_code == 0
    writes = kit.writes(mark)
    assert [w["method"] for w in writes] == ["PATCH"]
    assert json.loads(kit.cli("--output", "json", "plan", "pertuis").stdout)["empty"] is True


def test_declining_the_prompt_changes_nothing(kit: Kit, monkeypatch) -> None:
    from typer.testing import CliRunner

    from crisiskit import console
    from crisiskit.cli import app

    # The edge of the world here is the operator at a terminal.
    monkeypatch.setattr(console, "is_terminal", lambda: True)
    mark = kit.log_size()
    result = CliRunner().invoke(
        app, ["-i", str(kit.inventory), "activate", "pertuis"], input="n\n", env=kit.env
    )
    assert result.exit_code == 4  # declined: its own outcome, not "operation failed"
    assert f"Declined: nothing was changed at the Graph endpoint {kit.sim.base_url}." in (
        result.stderr
    )
    assert f"Apply this plan to pertuis at the Graph endpoint {kit.sim.base_url}?" in (
        result.stderr
    )
    assert kit.writes(mark) == []
    with Store.open(kit.home) as store:
        assert store.open_loans() == [] and store.runs("pertuis") == []
