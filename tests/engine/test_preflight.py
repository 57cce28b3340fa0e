"""Checks before the first write: the state is the one expected, the outputs can be written.

The real CLI in-process against the loopback simulator. `--rebuild-state` after the state
database was lost: the kit adopted from the tenant, phones recovered by their MFA numbers,
laptops recorded as unrecorded loans so that none is lent twice.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from engine_helpers import Kit

from crisiskit.state import Store


def lose_state(home: Path) -> None:
    for name in ("state.db", "state.db-wal", "state.db-shm"):
        (home / name).unlink(missing_ok=True)


def one_error(stderr: str) -> str:
    assert "Traceback" not in stderr
    errors = [ln for ln in stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, stderr
    return errors[0]


@pytest.mark.parametrize("how", ["missing", "emptied"])
def test_a_lost_state_beside_earlier_outputs_refuses_before_any_write(kit: Kit, how: str) -> None:
    assert kit.cli("activate", "aubagne", "--yes").exit_code == 0
    lose_state(kit.home)
    if how == "emptied":
        with Store.open(kit.home):
            pass
    mark = kit.log_size()
    refused = kit.cli("activate", "aubagne", "--yes")
    assert refused.exit_code == 3, refused.stderr
    line = one_error(refused.stderr)
    assert f"the state database {kit.home / 'state.db'} is missing or empty" in line
    assert "outputs/aubagne/credentials.csv" in line
    assert "lend devices already lent and restart the audit chain" in line
    assert "Restore the database from your backup" in line
    assert "crisiskit activate aubagne --rebuild-state" in line
    # Nothing went to the tenant, not even the lease's requests.
    assert kit.sim.requests()[mark:] == []
    # The dry run says the same (it would show devices lent again).
    assert kit.cli("activate", "aubagne", "--dry-run").exit_code == 3


def test_rebuild_state_adopts_the_kit_and_lends_nothing_again(kit: Kit) -> None:
    assert kit.cli("activate", "aubagne", "--yes").exit_code == 0
    with Store.open(kit.home) as store:
        before = {(lo.device_kind, lo.asset_tag, lo.upn) for lo in store.open_loans("aubagne")}
        users = {o.natural_key: o.graph_id for o in store.objects("aubagne", "user")}
    lose_state(kit.home)
    mark = kit.log_size()
    rebuilt = kit.cli("activate", "aubagne", "--yes", "--rebuild-state")
    assert rebuilt.exit_code == 0, rebuilt.stderr
    assert "Rebuilt the state of aubagne from the tenant: recorded " in rebuilt.stdout
    assert "and 8 phone loans" in rebuilt.stdout
    assert "Laptop loans are not in the tenant" in rebuilt.stdout
    with Store.open(kit.home) as store:
        loans = {(lo.device_kind, lo.asset_tag, lo.upn) for lo in store.open_loans("aubagne")}
        assert {o.natural_key: o.graph_id for o in store.objects("aubagne", "user")} == users
        assert "state.rebuilt" in {e.action for e in store.audit_entries("aubagne")}
        assert store.audit_verify() == []
    phones = {x for x in loans if x[0] == "phone"}
    assert phones == {x for x in before if x[0] == "phone"}, "phones recovered by MFA number"
    laptops = {x for x in loans if x[0] == "laptop"}
    # No laptop of the stock lent again: each account that had one holds an unrecorded one.
    assert {x[2] for x in laptops} == {x[2] for x in before if x[0] == "laptop"}
    assert all(tag.startswith("unrecorded:") for _, tag, _ in laptops)
    # The kit was complete: the only writes are the passes reissued (the old file is kept,
    # but a rebuilt run has its own journal) and nothing of the kit is created again.
    kinds = {w["path"].split("/")[1] for w in kit.writes(mark)}
    assert kinds <= {"users", "$batch"}, kit.writes(mark)
    assert kit.cli("activate", "aubagne", "--yes", "--rebuild-state").exit_code == 2


def test_a_fresh_home_is_not_refused(kit: Kit) -> None:
    assert not (kit.home / "state.db").exists()
    assert kit.cli("activate", "aubagne", "--yes").exit_code == 0


def test_outputs_that_cannot_be_written_refuse_before_any_write(
    kit: Kit, tmp_path: Path
) -> None:
    """The commune's folder refuses new files (made immutable: a read-only or full disk would
    answer the same way; a folder of ours with a narrow mode is simply fixed to 0700)."""
    chattr = shutil.which("chattr")
    if os.geteuid() != 0 or chattr is None:
        pytest.skip("needs root and chattr to make a folder refuse writes to its owner")
    outputs = kit.home / "outputs" / "aubagne"
    outputs.mkdir(parents=True)
    for folder in (kit.home, kit.home / "outputs", outputs):
        folder.chmod(0o700)
    if subprocess.run([chattr, "+i", str(outputs)], capture_output=True).returncode != 0:
        pytest.skip("this filesystem has no immutable attribute")
    mark = kit.log_size()
    try:
        refused = kit.cli("activate", "aubagne", "--yes")
    finally:
        subprocess.run([chattr, "-i", str(outputs)], check=True)
    assert refused.exit_code == 3, refused.stdout + refused.stderr
    line = one_error(refused.stderr)
    assert f"cannot write in {outputs} (Operation not permitted)" in line
    assert "Nothing was changed" in line
    assert kit.sim.requests()[mark:] == []
