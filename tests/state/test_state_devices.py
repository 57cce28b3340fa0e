"""Device states: holds recorded in the store, the derived state of every device, allocation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crisiskit.devices import counts, device_views, lendable
from crisiskit.inventory import Inventory
from crisiskit.plan.desired import OpenLoan, desired_kit
from crisiskit.playbooks import load_playbook
from crisiskit.state import Store

REPO = Path(__file__).resolve().parents[2]


def test_holds_are_the_latest_state_and_available_lifts_them(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        assert store.schema_version() >= 2
        store.set_device_state("AMP-PC-0001", "to_wipe", operator="op", commune="aubagne",
                               reason="teardown")
        store.set_device_state("AMP-TEL-0002", "lost", operator="op", commune="aubagne")
        store.set_device_state("AMP-PC-0001", "available", operator="op", reason="wiped")
        holds = store.device_holds()
        assert list(holds) == ["AMP-TEL-0002"]
        assert holds["AMP-TEL-0002"].state == "lost"
        history = [(e.state, e.reason) for e in store.device_events("AMP-PC-0001")]
        assert history == [("to_wipe", "teardown"), ("available", "wiped")]
        with pytest.raises(ValueError):
            store.set_device_state("AMP-PC-0001", "on_loan", operator="op")  # type: ignore[arg-type]


def test_a_loan_wins_then_a_hold_then_the_inventory(
    tmp_path: Path, sample_inventory: Inventory
) -> None:
    laptops = sample_inventory.devices.laptops
    lent, held, plain = laptops[0].asset_tag, laptops[1].asset_tag, laptops[2].asset_tag
    with Store.open(tmp_path) as store:
        store.add_loan(None, "aubagne", "laptop", lent, "gerard.lucciani@crise.example")
        store.set_device_state(held, "to_wipe", operator="op", commune="aubagne")
        views = {v.asset_tag: v for v in device_views(
            sample_inventory, store.open_loans(), store.device_holds()
        )}
        assert views[lent].state == "on_loan" and views[lent].commune == "aubagne"
        assert views[lent].upn == "gerard.lucciani@crise.example" and views[lent].since
        assert views[held].state == "to_wipe" and views[held].commune == "aubagne"
        assert views[plain].state == laptops[2].status.value
        assert lent not in lendable(sample_inventory, store.open_loans(), store.device_holds())
        total = counts(views.values())
        assert sum(total.values()) == len(views) and total["on_loan"] == 1
        assert total["to_wipe"] == 1


def test_a_held_device_is_never_allocated(sample_inventory: Inventory) -> None:
    commune = sample_inventory.commune("aubagne")
    book = load_playbook(commune.playbook, REPO / "playbooks")
    now = datetime(2026, 12, 1, tzinfo=UTC)
    first = desired_kit(sample_inventory, commune, book, [], now)
    chosen = sorted(a.asset_tag for a in first.allocations if a.kind == "laptop")
    again = desired_kit(sample_inventory, commune, book, [], now, held=frozenset(chosen[:1]))
    now_chosen = {a.asset_tag for a in again.allocations if a.kind == "laptop"}
    assert chosen[0] not in now_chosen
    assert len(now_chosen) == len(chosen)  # another free laptop took its place
    # A device this commune already holds on loan stays lent to it.
    loans = [OpenLoan("aubagne", "laptop", a.asset_tag, a.upn)
             for a in first.allocations if a.kind == "laptop"]
    kept = desired_kit(sample_inventory, commune, book, loans, now, held=frozenset(chosen[:1]))
    assert all(a.existing for a in kept.allocations if a.kind == "laptop")
