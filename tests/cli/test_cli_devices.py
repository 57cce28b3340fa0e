"""`inventory devices`: each device's state now, from the local state, counted and filtered."""

from __future__ import annotations

import json

import pytest
from cli_helpers import Cli

from crisiskit.devices import STATES
from crisiskit.state import Store


def _devices(cli: Cli, *args: str) -> dict:
    run = cli("--output", "json", "inventory", "devices", *args)
    assert run.exit_code == 0, run.stderr
    return json.loads(run.stdout)


def test_lent_devices_are_on_loan_never_available(cli: Cli) -> None:
    before = _devices(cli)
    assert before["counts"] == {"available": 82, "on_loan": 0, "to_wipe": 0,
                                "maintenance": 3, "lost": 0, "retired": 3}
    assert not (cli.home / "state.db").exists()  # a read-only view creates no state

    assert cli("activate", "aubagne", "--yes").exit_code == 0
    with Store.open(cli.home) as store:
        loans = {lo.asset_tag: lo for lo in store.open_loans("aubagne")}
    data = _devices(cli)
    assert data["counts"]["on_loan"] == len(loans) == 17
    assert data["counts"]["available"] == 82 - 17
    lent = {d["asset_tag"]: d for d in data["devices"] if d["state"] == "on_loan"}
    assert set(lent) == set(loans)
    tel = lent["AMP-TEL-0001"]
    assert (tel["commune"], tel["upn"]) == ("aubagne", loans["AMP-TEL-0001"].upn)
    assert tel["since"] == loans["AMP-TEL-0001"].loaned_at
    available = {d["asset_tag"] for d in _devices(cli, "--status", "available")["devices"]}
    assert not available & set(loans)
    on_loan = _devices(cli, "--status", "on_loan", "--kind", "phone")
    assert {d["asset_tag"] for d in on_loan["devices"]} == {
        t for t in loans if t.startswith("AMP-TEL")
    }


def test_holds_show_as_their_state_with_reason_and_commune(cli: Cli) -> None:
    with Store.open(cli.home) as store:
        store.set_device_state("AMP-PC-0040", "to_wipe", operator="ops", commune="cassis",
                               reason="back from cassis")
        store.set_device_state("AMP-TEL-0040", "lost", operator="ops", reason="lost on site")
    wipe = _devices(cli, "--status", "to_wipe")["devices"]
    assert [(d["asset_tag"], d["commune"], d["reason"]) for d in wipe] == [
        ("AMP-PC-0040", "cassis", "back from cassis")
    ]
    table = cli("inventory", "devices", "--status", "lost")
    assert table.exit_code == 0
    assert "AMP-TEL-0040" in table.stdout and "lost on site" in table.stdout
    assert "1 shown; stock by state: 80 available, 0 on loan, 1 to wipe, 3 maintenance, " \
        "1 lost, 3 retired" in " ".join(table.stdout.split())


@pytest.mark.parametrize("state", STATES)
def test_every_state_is_a_filter(cli: Cli, state: str) -> None:
    data = _devices(cli, "--status", state)
    assert {d["state"] for d in data["devices"]} <= {state}
    assert len(data["devices"]) == data["counts"][state]


def test_the_table_names_the_account_and_the_time_in_paris(cli: Cli) -> None:
    assert cli("activate", "aubagne", "--yes").exit_code == 0
    run = cli("inventory", "devices", "--status", "on_loan")
    assert run.exit_code == 0
    header = next(line for line in run.lines if "asset tag" in line)
    assert [c.strip() for c in header.strip("┃ ").split("┃")] == [
        "asset tag", "kind", "state", "commune", "account", "since (Paris)"
    ]
    assert "-v adds model, serial or IMEI and line" in " ".join(run.stdout.split())
    wide = cli("inventory", "devices", "--status", "on_loan", "-v")
    assert "serial / IMEI" in wide.stdout
