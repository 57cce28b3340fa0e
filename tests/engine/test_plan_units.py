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
        "user", "licence", "group", "membership", "team", "channel", "drive", "folder",
        "tap", "phone_method", "loan",
    ]
