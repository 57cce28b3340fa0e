"""`crisiskit devices`, `devices wiped`, `devices return`: the stock's runtime state."""

from __future__ import annotations

import json

from world import COMMUNE, World

from crisiskit.state import Store


def _states(world: World, *args: str) -> dict[str, dict]:
    run = world.cli("--output", "json", "devices", *args)
    assert run.exit_code == 0, str(run)
    return {d["asset_tag"]: d for d in json.loads(run.stdout)["devices"]}


def test_devices_show_loans_and_their_return_then_wipe(world: World) -> None:
    assert world.cli("activate", COMMUNE, "--yes").exit_code == 0
    lent = _states(world, "--status", "on_loan")
    assert len(lent) == 17 and all(d["commune"] == COMMUNE for d in lent.values())
    phone = next(tag for tag, d in lent.items() if d["kind"] == "phone")
    table = world.cli("devices")
    assert table.exit_code == 0 and phone in table.stdout and "17 on loan" in table.stdout

    back = world.cli("devices", "return", COMMUNE, phone)
    assert back.exit_code == 0, str(back)
    view = _states(world)[phone]
    assert view["state"] == "to_wipe" and view["commune"] == COMMUNE
    assert phone in _states(world, "--status", "to_wipe")
    with Store.open(world.home) as store:
        assert phone not in {lo.asset_tag for lo in store.open_loans(COMMUNE)}
        actions = [(e.action, e.target) for e in store.audit_entries(COMMUNE)]
    assert ("device.returned", phone) in actions

    assert world.cli("devices", "wiped", phone).exit_code == 0
    assert _states(world)[phone]["state"] == "available"
    again = world.cli("devices", "wiped", phone)
    assert again.exit_code == 3 and "is available" in again.stderr, str(again)


def test_devices_refuse_what_does_not_fit_and_change_nothing(world: World) -> None:
    assert world.cli("activate", COMMUNE, "--yes").exit_code == 0
    lent = sorted(_states(world, "--status", "on_loan"))
    before = _states(world)
    wiped = world.cli("devices", "wiped", lent[0])
    assert wiped.exit_code == 3 and "on_loan" in wiped.stderr, str(wiped)
    unknown = world.cli("devices", "return", COMMUNE, lent[0], "NO-SUCH-TAG")
    assert unknown.exit_code == 2 and "NO-SUCH-TAG" in unknown.stderr, str(unknown)
    other = world.cli("devices", "return", "marseille", lent[1])
    assert other.exit_code == 3 and "on loan to marseille" in other.stderr, str(other)
    available = next(t for t, d in before.items() if d["state"] == "available")
    mixed = world.cli("devices", "return", COMMUNE, lent[2], available)
    assert mixed.exit_code == 3, str(mixed)
    assert _states(world) == before
