"""The pure parts: desired kit (device allocation, roles, owners) and the diff's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crisiskit.inventory import load_inventory
from crisiskit.plan.desired import OpenLoan, desired_kit, tag_property
from crisiskit.plan.diff import CredentialState, diff, tap_is_present
from crisiskit.plan.observe import Observed, ObservedGroup, ObservedTap, ObservedUser
from crisiskit.playbooks import load_playbook

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def inventory():
    return load_inventory(REPO / "inventory.yaml")


def _kit(inventory, commune="aubagne", playbook=None, loans=()):
    c = inventory.commune(commune)
    book = load_playbook(playbook or c.playbook, REPO / "playbooks")
    return desired_kit(inventory, c, book, list(loans), NOW)


def test_devices_go_to_the_lowest_free_asset_tags_deterministically(inventory) -> None:
    kit = _kit(inventory)
    laptops = [a for a in kit.allocations if a.kind == "laptop"]
    free = sorted(
        d.asset_tag for d in inventory.devices.laptops if d.status.value == "available"
    )
    assert [a.asset_tag for a in laptops] == free[: len(laptops)]
    assert _kit(inventory).allocations == kit.allocations
    assert not kit.shortages


def test_open_loans_are_kept_and_loans_elsewhere_skipped(inventory) -> None:
    first = _kit(inventory)
    mine = first.allocations[1]
    other = OpenLoan("cassis", "laptop", first.allocations[0].asset_tag, "x@crise.ampmetropole.fr")
    kept = OpenLoan("aubagne", mine.kind, mine.asset_tag, mine.upn)
    kit = _kit(inventory, loans=[other, kept])
    tags = {a.asset_tag: a for a in kit.allocations}
    assert other.asset_tag not in tags
    assert tags[mine.asset_tag].existing and tags[mine.asset_tag].upn == mine.upn
    assert len(kit.allocations) == len(first.allocations)


def test_minimal_playbook_keeps_only_its_roles_and_lends_nothing(inventory) -> None:
    kit = _kit(inventory, "marseille")
    assert {u.role for u in kit.users} <= {"maire", "dgs", "dsi"}
    assert kit.allocations == ()
    assert kit.tag == tag_property(inventory.tenant.client_id)
    assert kit.tag.startswith("extension_") and "-" not in kit.tag


def _observed_complete(kit) -> Observed:
    users = {
        u.upn: ObservedUser(f"id-{i}", u.upn, u.display_name, "FR", True, {"sku"}, kit.commune_id)
        for i, u in enumerate(kit.users)
    }
    ids = {o.id for o in users.values()}
    owners = {users[u].id for u in kit.group.owners}
    group = ObservedGroup("g", kit.group.mail_nickname, kit.group.display_name,
                          kit.commune_id, set(), ids, owners)
    return Observed(
        sku={"skuId": "sku", "prepaidUnits": {"enabled": 10}, "consumedUnits": 10},
        users=users,
        strays=[],
        group=group,
        team_id="g",
        channels={c.name.lower(): "c" for c in kit.team.channels},
        drive_id="d",
        folders={f.lower(): "f" for f in kit.folders},
        taps={u.upn: [ObservedTap("t", True, NOW.isoformat(), 480)] for u in kit.users},
        phones={
            a.upn: {"mobile": ("m", a.graph_number)}
            for a in kit.allocations if a.kind == "phone"
        },
        mailboxes={u.upn: True for u in kit.users},
    )


def _creds(kit, valid_from=NOW, hours=8):
    return {
        u.upn: CredentialState(u.upn, valid_from, valid_from + timedelta(hours=hours))
        for u in kit.users
    }


def test_complete_kit_gives_an_empty_plan(inventory) -> None:
    kit = _kit(inventory, loans=[])
    kit = _kit(inventory, loans=[OpenLoan("aubagne", a.kind, a.asset_tag, a.upn)
                                 for a in kit.allocations])
    plan = diff(kit, _observed_complete(kit), _creds(kit), NOW)
    assert plan.empty, [s for s in plan.steps if s.action != "present"]
    assert plan.seats_needed == 0


def test_untagged_user_is_a_conflict_and_gets_no_other_step(inventory) -> None:
    kit = _kit(inventory)
    observed = _observed_complete(kit)
    victim = kit.users[0].upn
    observed.users[victim].tag = None
    plan = diff(kit, observed, _creds(kit), NOW)
    assert [s.key for s in plan.conflicts] == [victim]
    assert all(victim not in s.key for s in plan.steps if s.kind != "user")


def test_tap_rule_needs_a_usable_pass_and_a_valid_row(inventory) -> None:
    kit = _kit(inventory)
    observed = _observed_complete(kit)
    upn = kit.users[0].upn
    assert tap_is_present(observed, upn, _creds(kit), NOW) == (True, "")
    present, why = tap_is_present(observed, upn, {}, NOW)
    assert not present and why == "reissue (previous pass not in the credentials file)"
    expired = _creds(kit, NOW - timedelta(hours=9))
    assert "expired" in tap_is_present(observed, upn, expired, NOW)[1]
    other = _creds(kit, NOW - timedelta(minutes=30))
    assert "not the one" in tap_is_present(observed, upn, other, NOW)[1]
    observed.taps[upn] = []
    assert tap_is_present(observed, upn, _creds(kit), NOW) == (
        False, "reissue (no usable pass in the tenant)"
    )


def test_a_disabled_accounts_pass_counts_while_its_lifetime_lasts(inventory) -> None:
    # A disabled account's pass reads isUsable: false; the plan re-enables the account, so the
    # pass handed over must not be replaced (replacing it deletes the old one).
    kit = _kit(inventory)
    observed = _observed_complete(kit)
    upn = kit.users[0].upn
    observed.users[upn].account_enabled = False
    observed.taps[upn] = [ObservedTap("t", False, NOW.isoformat(), 480)]
    assert tap_is_present(observed, upn, _creds(kit), NOW) == (True, "")
    later = NOW + timedelta(hours=9)
    assert tap_is_present(observed, upn, _creds(kit, hours=24), later)[0] is False
    observed.users[upn].account_enabled = True
    assert tap_is_present(observed, upn, _creds(kit), NOW)[0] is False


def test_plan_json_counts_by_kind_and_action(inventory) -> None:
    kit = _kit(inventory)
    empty = Observed(sku=None, users={}, strays=[], group=None)
    data = diff(kit, empty, {}, NOW).to_json()
    assert data["empty"] is False
    assert data["counts"]["user"] == {"create": 12}
    assert data["counts"]["membership"] == {"create": 12 + 3}
    assert list(data["counts"]) == [
        "user", "licence", "mailbox", "group", "membership", "team", "channel", "drive",
        "folder", "tap", "phone_method", "loan",
    ]


def _steps(plan, kind):
    return [s for s in plan.steps if s.kind == kind]


def test_a_new_kit_gets_its_group_and_team_in_one_post_teams(inventory) -> None:
    from crisiskit.resources.channels import ChannelInCreate
    from crisiskit.resources.teamcreate import MAX_MEMBERS, TeamGroupCreate, create_request
    from crisiskit.resources.teams import TeamWait

    kit = _kit(inventory)
    empty = Observed(sku={"skuId": "sku"}, users={}, strays=[], group=None)
    plan = diff(kit, empty, {}, NOW).plan
    (group,) = _steps(plan, "group")
    assert group.action == "create" and isinstance(group.payload, TeamGroupCreate)
    p = group.payload
    assert len(p.owners) == len(kit.group.owners) and p.nickname == "crisiskit-aubagne"
    assert len(p.owners) + len(p.members) == min(MAX_MEMBERS, len(kit.users))
    assert [n for n, _ in p.channels] == [c.name for c in kit.team.channels]
    (team,) = _steps(plan, "team")
    assert team.action == "wait" and isinstance(team.payload, TeamWait)
    assert team.depends_on == (group.id,)
    assert all(isinstance(c.payload, ChannelInCreate) and c.depends_on == (team.id,)
               for c in _steps(plan, "channel"))
    # Every account is in the create's body (12 ≤ 20): no membership left to send.
    assert all(m.payload.in_group_create for m in _steps(plan, "membership"))
    assert [d.action for d in _steps(plan, "drive")] == ["wait"]
    resolved = TeamGroupCreate(**{**p.__dict__, "owners": ("o1",), "members": ("m1",)})
    body = create_request(resolved).body
    assert body["template@odata.bind"].endswith("/teamsTemplates('standard')")
    assert body["visibility"] == "Private" and "group@odata.bind" not in body
    assert [m["roles"] for m in body["members"]] == [["owner"], []]
    assert body["members"][0]["user@odata.bind"].endswith("/users('o1')")
    assert [c["displayName"] for c in body["channels"]] == [c.name for c in kit.team.channels]


def test_more_than_twenty_accounts_the_rest_by_member_binds(inventory) -> None:
    from dataclasses import replace

    from crisiskit.plan.desired import DesiredUser

    kit = _kit(inventory)
    extra = tuple(
        DesiredUser(f"p{i}@crise.ampmetropole.fr", f"p{i}", f"P {i}", "P", str(i), "agent",
                    False, "FR", False, False)
        for i in range(30)
    )
    users = kit.users + extra
    kit = replace(kit, users=users, group=replace(
        kit.group, members=tuple(u.upn for u in users)))
    empty = Observed(sku={"skuId": "sku"}, users={}, strays=[], group=None)
    plan = diff(kit, empty, {}, NOW).plan
    members = [m for m in _steps(plan, "membership") if m.key.startswith("member:")]
    bound = [m for m in members if m.payload.in_group_create]
    assert len(bound) == 20 and len(members) == len(users)
    group = _steps(plan, "group")[0].payload
    assert len(group.owners) + len(group.members) == 20


def test_the_old_path_and_an_old_kit(inventory) -> None:
    from crisiskit.resources.groups import GroupCreate
    from crisiskit.resources.teams import TeamCreate

    kit = _kit(inventory)
    empty = Observed(sku={"skuId": "sku"}, users={}, strays=[], group=None)
    old = diff(kit, empty, {}, NOW, team_path="group").plan
    assert isinstance(_steps(old, "group")[0].payload, GroupCreate)
    assert isinstance(_steps(old, "team")[0].payload, TeamCreate)
    # An old kit's group without its Team (and not being teamified): created from the group.
    observed = _observed_complete(kit)
    observed.team_id = None
    observed.channels = {}
    plan = diff(kit, observed, _creds(kit), NOW).plan
    (team,) = _steps(plan, "team")
    assert team.action == "create" and isinstance(team.payload, TeamCreate)
    # ...and once Teams is on it (resourceProvisioningOptions), only waited for.
    observed.group.provisioning = {"Team"}
    (team,) = _steps(diff(kit, observed, _creds(kit), NOW).plan, "team")
    assert team.action == "wait"


def test_no_wait_looks_once_and_bounds_come_from_the_docs(inventory) -> None:
    from crisiskit.resources.waiting import MAILBOX_BOUND_S, SITE_BOUND_S, TEAM_BOUND_S

    kit = _kit(inventory)
    assert (kit.readiness.mailbox_s, kit.readiness.team_s, kit.readiness.drive_s) == (
        MAILBOX_BOUND_S, TEAM_BOUND_S, SITE_BOUND_S
    )
    empty = Observed(sku={"skuId": "sku"}, users={}, strays=[], group=None)
    waiting = diff(kit, empty, {}, NOW).plan
    looking = diff(kit, empty, {}, NOW, wait=False).plan
    assert {s.payload.bound_s for s in waiting.steps if s.action == "wait"} == {
        MAILBOX_BOUND_S, TEAM_BOUND_S, SITE_BOUND_S
    }
    assert {s.payload.bound_s for s in looking.steps if s.action == "wait"} == {0.0}


def test_a_group_an_interrupted_run_made_is_adopted_or_shown(inventory) -> None:
    from crisiskit.resources.teamcreate import GroupAdopt

    kit = _kit(inventory)
    observed = _observed_complete(kit)
    observed.group.tag = None
    assert [s.action for s in _steps(diff(kit, observed, _creds(kit), NOW).plan, "group")] == [
        "conflict"
    ]  # untagged and nothing says it is ours: never touched
    observed.group.adopt = "its id was journaled when it was created"
    observed.team_id, observed.drive_id, observed.group.members = None, None, set()
    plan = diff(kit, observed, _creds(kit), NOW).plan
    (group,) = _steps(plan, "group")
    assert group.action == "update" and isinstance(group.payload, GroupAdopt)
    # Everything else that uses the group waits for it to be tagged first.
    users_of_group = [s for s in plan.steps if s.kind in ("membership", "team", "drive")
                      and s.action != "present"]
    assert {s.kind for s in users_of_group} == {"membership", "team", "drive"}
    assert all(group.id in s.depends_on for s in users_of_group)
    assert [s.action for s in _steps(plan, "team")] == ["wait"]  # made with its Team
    observed.group = None
    observed.lookalikes = ["group x may be the one an interrupted run created: ..."]
    plan = diff(kit, observed, _creds(kit), NOW)
    assert [(s.kind, s.action) for s in plan.conflicts] == [("group", "conflict")]
    assert not _steps(plan.plan, "team") and not _steps(plan.plan, "membership")
