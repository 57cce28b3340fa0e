"""The day-2 plans as data: leavers, where a swap stands, what a reissue does (pure, fast)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crisiskit.engine.leaving import revoked_since_last_change
from crisiskit.errors import InputError
from crisiskit.inventory import Inventory
from crisiskit.plan.desired import OpenLoan
from crisiskit.plan.leavers import LeaverFacts, leaving
from crisiskit.plan.swap import SwapFacts, locate
from crisiskit.resources.taps import ObservedTap
from crisiskit.resources.users import ObservedUser
from crisiskit.state import Store

ANNE = "anne.leaves@crise.example"
BOB = "bob.stays@crise.example"


def _user(upn: str, uid: str, *, enabled: bool = True) -> ObservedUser:
    return ObservedUser(uid, upn, upn, "FR", enabled, set(), "aubagne")


def _facts(**changes: object) -> LeaverFacts:
    base: dict[str, object] = {
        "journaled": {ANNE: "id-anne"},
        "roster": frozenset({BOB}),
        "loans": (OpenLoan("aubagne", "phone", "AMP-TEL-0004", ANNE),
                  OpenLoan("aubagne", "laptop", "AMP-PC-0001", BOB)),
    }
    base.update(changes)
    return LeaverFacts(**base)  # type: ignore[arg-type]


def _actions(steps: list) -> list[tuple[str, str, str]]:
    return [(s.kind, s.action, s.key) for s in steps]


def test_a_journaled_account_off_the_roster_leaves_with_its_pass_and_devices() -> None:
    taps = {ANNE: [ObservedTap("tap-1", True, None, 60)]}
    out = leaving([_user(ANNE, "id-anne")], taps, _facts())
    assert out.leavers == [ANNE] and out.left_alone == {}
    assert _actions(out.steps) == [
        ("user", "disable", ANNE),
        ("user", "revoke", ANNE),
        ("tap", "delete", ANNE),
        ("loan", "delete", "AMP-TEL-0004"),
    ]
    disable, revoke = out.steps[0], out.steps[1]
    assert revoke.depends_on == (disable.id,)  # sessions revoked once sign-in is blocked
    assert out.steps[3].payload.hold == "to_wipe"
    assert out.devices == {ANNE: ["AMP-TEL-0004"]}
    assert all(s.action != "delete" or s.kind != "user" for s in out.steps)  # never deleted


@pytest.mark.parametrize(
    ("facts", "why"),
    [
        (None, "not consulted"),
        (_facts(journaled={}), "not in crisiskit's journal"),
        (_facts(journaled={ANNE: "another-id"}), "another id"),
        (_facts(roster=frozenset({ANNE})), "on the roster, not provisioned"),
    ],
)
def test_tagged_accounts_the_journal_cannot_vouch_for_are_left_alone(
    facts: LeaverFacts | None, why: str
) -> None:
    out = leaving([_user(ANNE, "id-anne")], {}, facts)
    assert out.steps == [] and out.leavers == []
    assert why in out.left_alone[ANNE]


def test_a_disabled_leaver_is_revoked_once_then_present() -> None:
    half = leaving([_user(ANNE, "id-anne", enabled=False)], {}, _facts(loans=()))
    assert _actions(half.steps) == [("user", "revoke", ANNE)]
    done = leaving([_user(ANNE, "id-anne", enabled=False)], {},
                   _facts(loans=(), revoked=frozenset({ANNE})))
    assert _actions(done.steps) == [("user", "present", ANNE)]


def test_revoked_means_the_last_journaled_change_is_a_revocation(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        first = store.start_run("aubagne", "activate", "t")
        store.add_step(first, "accounts", "user", ANNE, "create", "done")
        store.add_step(first, "leavers", "user", ANNE, "disable", "done")
        store.add_step(first, "leavers", "user", ANNE, "revoke", "failed")
        assert revoked_since_last_change(store, "aubagne", [ANNE]) == set()
        store.add_step(first, "leavers", "user", ANNE, "revoke", "done")
        assert revoked_since_last_change(store, "aubagne", [ANNE]) == {ANNE}
        second = store.start_run("aubagne", "activate", "t")  # back on the roster: re-enabled
        store.add_step(second, "accounts", "user", ANNE, "update", "done")
        assert revoked_since_last_change(store, "aubagne", [ANNE]) == set()


def _swap_facts(store: Store, inventory: Inventory) -> SwapFacts:
    from crisiskit.devices import device_views

    open_loans = store.open_loans()
    views = device_views(inventory, open_loans, store.device_holds())
    return SwapFacts(
        loans=store.loans("aubagne"), open_loans=open_loans, holds=store.device_holds(),
        lendable=frozenset(v.asset_tag for v in views if v.state == "available"),
        states={v.asset_tag: v.state for v in views},
    )


def test_a_swap_interrupted_after_the_return_resumes_with_the_same_replacement(
    tmp_path: Path, sample_inventory: Inventory
) -> None:
    with Store.open(tmp_path) as store:
        run = store.start_run("aubagne", "activate", "t")
        store.add_loan(run, "aubagne", "phone", "AMP-TEL-0001", ANNE)
        fresh = locate(sample_inventory, "aubagne", "AMP-TEL-0001", None,
                       _swap_facts(store, sample_inventory))
        assert (fresh.upn, fresh.new and fresh.new.asset_tag, fresh.returned) == (
            ANNE, "AMP-TEL-0002", False)
        # Killed after the old loan was closed and held: the rerun picks up from there.
        store.return_loan("aubagne", "AMP-TEL-0001")
        store.set_device_state("AMP-TEL-0001", "lost", operator="t", commune="aubagne")
        resumed = locate(sample_inventory, "aubagne", "AMP-TEL-0001", None,
                         _swap_facts(store, sample_inventory))
        assert resumed.returned and not resumed.lent and resumed.refusals == []
        assert resumed.new is not None and resumed.new.asset_tag == "AMP-TEL-0002"
        # Killed after the new loan: the replacement is that loan, a different --to refused.
        store.add_loan(run, "aubagne", "phone", "AMP-TEL-0002", ANNE)
        lent = locate(sample_inventory, "aubagne", "AMP-TEL-0001", None,
                      _swap_facts(store, sample_inventory))
        assert lent.returned and lent.lent and lent.new and lent.new.asset_tag == "AMP-TEL-0002"
        other = locate(sample_inventory, "aubagne", "AMP-TEL-0001", "AMP-TEL-0005",
                       _swap_facts(store, sample_inventory))
        assert other.refusals == ["AMP-TEL-0001 was already replaced by AMP-TEL-0002 "
                                  f"(for {ANNE})"]


def test_a_swap_names_devices_of_the_stock_only(tmp_path: Path,
                                               sample_inventory: Inventory) -> None:
    with Store.open(tmp_path) as store:
        facts = _swap_facts(store, sample_inventory)
        with pytest.raises(InputError, match="not a device of the inventory"):
            locate(sample_inventory, "aubagne", "AMP-TEL-9999", None, facts)
        with pytest.raises(InputError, match="is the device being replaced"):
            locate(sample_inventory, "aubagne", "AMP-TEL-0001", "AMP-TEL-0001", facts)
        returned = locate(sample_inventory, "aubagne", "AMP-TEL-0001", None, facts)
        assert returned.refusals == ["AMP-TEL-0001 is not on loan to aubagne (it is available)"]
