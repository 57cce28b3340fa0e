"""`crisiskit devices swap` end to end: real CLI, loopback simulator, real SQLite."""

from __future__ import annotations

import json

from day2_helpers import JULIE, MOBILE_ID, PATRICK, audit_actions, holds, loans, methods, outputs
from engine_helpers import Kit

from crisiskit.inventory import load_inventory


def test_swap_a_lost_phone_lends_the_next_one_and_moves_the_mfa_number(kit: Kit) -> None:
    assert kit.cli("activate", "la-ciotat", "--yes").exit_code == 0
    before = loans(kit, "la-ciotat")
    assert before["AMP-TEL-0001"] == PATRICK
    inventory = load_inventory(kit.inventory)
    phone3 = next(p for p in inventory.devices.phones if p.asset_tag == "AMP-TEL-0003")
    [mobile] = methods(kit, PATRICK, "phone")
    assert mobile["id"] == MOBILE_ID and mobile["phoneNumber"] != phone3.graph_number
    mark = kit.log_size()

    run = kit.cli("devices", "swap", "la-ciotat", "AMP-TEL-0001", "--reason", "lost", "--yes")
    assert run.exit_code == 0, run.stderr

    after = loans(kit, "la-ciotat")
    assert "AMP-TEL-0001" not in after  # its loan is closed...
    assert holds(kit)["AMP-TEL-0001"] == "lost"  # ...and it is held lost
    assert after["AMP-TEL-0003"] == PATRICK  # the lowest free phone, to the same account
    assert {k: v for k, v in after.items() if k != "AMP-TEL-0003"} == {
        k: v for k, v in before.items() if k != "AMP-TEL-0001"
    }
    # The same mobile method (same id), its number changed by one PATCH; nothing else.
    [mobile] = methods(kit, PATRICK, "phone")
    assert mobile["id"] == MOBILE_ID and mobile["phoneType"] == "mobile"
    assert mobile["phoneNumber"] == phone3.graph_number
    writes = kit.writes(mark)
    assert [(w["method"], w["path"].rsplit("/", 1)[-1]) for w in writes] == [
        ("PATCH", MOBILE_ID)
    ]
    assert methods(kit, JULIE, "phone")[0]["phoneNumber"] != phone3.graph_number

    # The addendum beside the handover sheet, in French, naming both devices.
    out = outputs(kit, "la-ciotat")
    files = sorted(out.glob("avenant-remplacement-AMP-TEL-0001-*"))
    assert [f.suffix for f in files] == [".html", ".md", ".pdf"]
    text = files[1].read_text("utf-8")
    for fact in ("AMP-TEL-0001", "AMP-TEL-0003", phone3.imei, "Perte du matériel",
                 "Patrick Giraud", "Signature"):
        assert fact in text
    assert str(files[2]) in run.stdout
    actions = audit_actions(kit, "la-ciotat")
    assert {"swap.start", "loan.delete", "loan.create", "phone_method.update",
            "graph.PATCH", "swap.finish"} <= set(actions[actions.index("swap.start"):])

    # Rerun: nothing to do, no write; the activation agrees (the new phone is the account's).
    mark = kit.log_size()
    again = kit.cli("devices", "swap", "la-ciotat", "AMP-TEL-0001", "--yes")
    assert again.exit_code == 0, again.stderr
    assert "Nothing to do" in again.stdout
    assert kit.writes(mark) == [] and loans(kit, "la-ciotat") == after
    assert sorted(out.glob("avenant-remplacement-*")) == files
    plan = json.loads(kit.cli("--output", "json", "plan", "la-ciotat").stdout)
    assert plan["empty"] is True


def test_swap_a_broken_laptop_holds_it_in_maintenance(kit: Kit) -> None:
    assert kit.cli("activate", "la-ciotat", "--yes").exit_code == 0
    before = loans(kit, "la-ciotat")
    laptop = next(tag for tag, upn in before.items() if upn == JULIE and "PC" in tag)
    dry = kit.cli("--output", "json", "devices", "swap", "la-ciotat", laptop, "--reason",
                  "broken", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    planned = json.loads(dry.stdout)["plan"]
    assert planned["counts"] == {"loan": {"create": 1, "delete": 1}}
    assert loans(kit, "la-ciotat") == before and holds(kit) == {}
    assert not list(outputs(kit, "la-ciotat").glob("avenant-*"))

    mark = kit.log_size()
    run = kit.cli("devices", "swap", "la-ciotat", laptop, "--reason", "broken", "--yes")
    assert run.exit_code == 0, run.stderr
    assert kit.writes(mark) == []  # a laptop is local state only
    assert holds(kit) == {laptop: "maintenance"}
    new = planned["new"]["asset_tag"]
    assert loans(kit, "la-ciotat")[new] == JULIE and new not in before
    text = next(outputs(kit, "la-ciotat").glob(f"avenant-remplacement-{laptop}-*.md"))
    assert "Panne du matériel" in text.read_text("utf-8")


def test_swap_to_a_device_already_lent_is_refused_and_changes_nothing(kit: Kit) -> None:
    assert kit.cli("activate", "la-ciotat", "--yes").exit_code == 0
    before = loans(kit, "la-ciotat")
    assert before["AMP-TEL-0002"] == JULIE
    mark = kit.log_size()
    run = kit.cli("devices", "swap", "la-ciotat", "AMP-TEL-0001", "--to", "AMP-TEL-0002", "--yes")
    assert run.exit_code == 3
    assert "--to AMP-TEL-0002 is not lendable (it is on_loan)" in run.stderr
    wrong = kit.cli("devices", "swap", "la-ciotat", "AMP-TEL-0001", "--to", "AMP-PC-0009",
                    "--yes")
    assert wrong.exit_code == 2 and "is a laptop" in wrong.stderr
    not_lent = kit.cli("devices", "swap", "la-ciotat", "AMP-TEL-0009", "--yes")
    assert not_lent.exit_code == 3 and "not on loan to la-ciotat" in not_lent.stderr
    assert kit.writes(mark) == []
    assert loans(kit, "la-ciotat") == before and holds(kit) == {}
    assert not list(outputs(kit, "la-ciotat").glob("avenant-*"))
    assert audit_actions(kit, "la-ciotat")[-2:] == ["swap.refused", "swap.refused"]


def test_swap_with_no_phone_left_in_the_stock_is_refused(kit: Kit, write_inventory) -> None:
    def only_two_phones(data: dict) -> None:
        for phone in data["devices"]["phones"][2:]:
            phone["status"] = "retired"

    kit.inventory = write_inventory(only_two_phones)
    assert kit.cli("activate", "la-ciotat", "--yes").exit_code == 0
    before = loans(kit, "la-ciotat")
    mark = kit.log_size()
    run = kit.cli("devices", "swap", "la-ciotat", "AMP-TEL-0001", "--yes")
    assert run.exit_code == 3
    assert "no phone is available in the stock" in run.stderr
    assert kit.writes(mark) == [] and loans(kit, "la-ciotat") == before and holds(kit) == {}
