"""Day-2 operations killed (SIGKILL) at exact points, then rerun: they converge.

The child runs the real CLI through a `Gate` (a proxy in front of the session's simulator)
that stops the conversation at one write; the rerun is the CLI in-process, straight to the
simulator.
"""

from __future__ import annotations

from pathlib import Path

from day2_gate import Gate, killed_at_gate
from day2_helpers import MOBILE_ID, PATRICK, holds, loans, methods, outputs, passes, signs_in
from engine_helpers import Kit

from crisiskit.inventory import load_inventory

TAP_CREATE = b'"lifetimeInMinutes"'  # only a pass's create carries it
PHONE_PATCH = b'"phoneNumber"'  # only the phone method's PATCH carries it (in a swap)


def test_reissue_killed_after_the_delete_issues_the_pass_on_rerun(
    kit: Kit, tmp_path: Path
) -> None:
    assert kit.cli("activate", "la-ciotat", "--yes").exit_code == 0
    old = passes(outputs(kit, "la-ciotat") / "credentials.csv")[PATRICK]
    with Gate(kit.sim.base_url, TAP_CREATE, "before") as gate:
        killed_at_gate(["credentials", "reissue", "la-ciotat", PATRICK, "--yes"], kit.env,
                       kit.inventory, gate, tmp_path)
    assert methods(kit, PATRICK, "temporaryAccessPass") == []  # deleted, never replaced
    assert not list(outputs(kit, "la-ciotat").glob("credentials-reissue-*"))
    mark = kit.log_size()

    rerun = kit.cli("credentials", "reissue", "la-ciotat", PATRICK, "--yes")
    assert rerun.exit_code == 0, rerun.stderr
    assert "Resumed after interrupted run" in rerun.stdout
    assert [(w["method"], w["path"].rsplit("/", 1)[-1]) for w in kit.writes(mark)] == [
        ("POST", "temporaryAccessPassMethods")
    ]  # nothing left to delete: only the create
    [new_file] = outputs(kit, "la-ciotat").glob("credentials-reissue-*.csv")
    new = passes(new_file)[PATRICK]
    assert len(methods(kit, PATRICK, "temporaryAccessPass")) == 1
    assert signs_in(kit, PATRICK, new) and not signs_in(kit, PATRICK, old)


def test_reissue_killed_after_the_create_says_the_pass_was_lost_and_replaces_it(
    kit: Kit, tmp_path: Path
) -> None:
    assert kit.cli("activate", "la-ciotat", "--yes").exit_code == 0
    with Gate(kit.sim.base_url, TAP_CREATE, "after") as gate:
        killed_at_gate(["credentials", "reissue", "la-ciotat", PATRICK, "--yes"], kit.env,
                       kit.inventory, gate, tmp_path)
    [lost] = methods(kit, PATRICK, "temporaryAccessPass")  # created; its secret reached no file
    assert isinstance(lost["temporaryAccessPass"], str) and lost["temporaryAccessPass"]
    assert not list(outputs(kit, "la-ciotat").glob("credentials-reissue-*"))

    rerun = kit.cli("credentials", "reissue", "la-ciotat", PATRICK, "--yes")
    assert rerun.exit_code == 0, rerun.stderr
    assert "in no credentials file" in rerun.stdout
    [new_file] = outputs(kit, "la-ciotat").glob("credentials-reissue-*.csv")
    new = passes(new_file)[PATRICK]
    [current] = methods(kit, PATRICK, "temporaryAccessPass")
    assert current["id"] != lost["id"]
    assert signs_in(kit, PATRICK, new)
    assert not signs_in(kit, PATRICK, lost["temporaryAccessPass"])


def test_swap_killed_before_the_phone_update_finishes_on_rerun(kit: Kit, tmp_path: Path) -> None:
    assert kit.cli("activate", "la-ciotat", "--yes").exit_code == 0
    phone3 = next(p for p in load_inventory(kit.inventory).devices.phones
                  if p.asset_tag == "AMP-TEL-0003")
    with Gate(kit.sim.base_url, PHONE_PATCH, "before") as gate:
        killed_at_gate(["devices", "swap", "la-ciotat", "AMP-TEL-0001", "--yes"], kit.env,
                       kit.inventory, gate, tmp_path)
    # Killed after the local steps: the old loan closed and held, the new one open.
    assert holds(kit) == {"AMP-TEL-0001": "lost"}
    assert loans(kit, "la-ciotat")["AMP-TEL-0003"] == PATRICK
    assert methods(kit, PATRICK, "phone")[0]["phoneNumber"] != phone3.graph_number
    assert not list(outputs(kit, "la-ciotat").glob("avenant-*"))
    mark = kit.log_size()

    rerun = kit.cli("devices", "swap", "la-ciotat", "AMP-TEL-0001", "--yes")
    assert rerun.exit_code == 0, rerun.stderr
    assert "Resumed after interrupted run" in rerun.stdout
    assert [(w["method"], w["path"].rsplit("/", 1)[-1]) for w in kit.writes(mark)] == [
        ("PATCH", MOBILE_ID)
    ]
    [mobile] = methods(kit, PATRICK, "phone")
    assert mobile["id"] == MOBILE_ID and mobile["phoneNumber"] == phone3.graph_number
    assert loans(kit, "la-ciotat")["AMP-TEL-0003"] == PATRICK
    assert len(list(outputs(kit, "la-ciotat").glob("avenant-remplacement-AMP-TEL-0001-*"))) == 3
