"""Reservations of activations in progress, and opening the state database safely."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from crisiskit.errors import EXIT_PRECONDITION, UnsafePath
from crisiskit.state import LoanConflict, Store
from crisiskit.state.sqlite_reservations import alive, process_start


def test_a_run_sees_the_others_reservations_not_its_own(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        s.reserve("a", "aubagne", devices=["PC-1", "TEL-1"], sku="SKU", seats=12)
        s.reserve("b", "pertuis", devices=["PC-2"], sku="SKU", seats=0)
        others = s.reservations(excluding="a")
        assert [(r.holder, r.kind, r.asset_tag) for r in others] == [("b", "device", "PC-2")]
        mine = [r for r in s.reservations() if r.holder == "a"]
        assert sorted((r.kind, r.asset_tag, r.seats) for r in mine) == [
            ("device", "PC-1", 0), ("device", "TEL-1", 0), ("seats", None, 12),
        ]


def test_a_device_is_reserved_once(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        s.reserve("a", "aubagne", devices=["PC-1"], sku=None, seats=0)
        with pytest.raises(LoanConflict, match="reserved by another activation in progress"):
            s.reserve("b", "pertuis", devices=["PC-1"], sku=None, seats=0)
        assert [r.holder for r in s.reservations()] == ["a"]  # b's claim rolled back whole


def test_seats_count_down_and_a_release_drops_everything(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        s.reserve("a", "aubagne", devices=["PC-1"], sku="SKU", seats=2)
        s.seats_assigned("a")
        s.seats_assigned("a", 5)  # never below zero
        [seats] = [r for r in s.reservations() if r.kind == "seats"]
        assert seats.seats == 0
        s.release_reservations("a")
        assert s.reservations() == []


def test_the_reservations_of_a_dead_process_are_purged(tmp_path: Path) -> None:
    """A child reserves, then dies (as a SIGKILLed run would): its claim does not survive it."""
    code = (
        "import sys; from pathlib import Path; from crisiskit.state import Store\n"
        "with Store.open(Path(sys.argv[1])) as s:\n"
        "    s.reserve('dead', 'aubagne', devices=['PC-9'], sku='SKU', seats=3)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=60)
    with Store.open(tmp_path) as s:
        s.reserve("alive", "pertuis", devices=["PC-1"], sku="SKU", seats=1)
        assert {r.holder for r in s.reservations()} == {"alive"}
        # The dead run's device is free again: another run may reserve it.
        s.reserve("other", "cassis", devices=["PC-9"], sku=None, seats=0)


def test_liveness_tells_a_reused_pid_from_its_process() -> None:
    me = os.getpid()
    assert alive(me, process_start(me))
    assert not alive(me, "0")  # same pid, another start time: another process
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert not alive(dead.pid, None)


def test_a_new_home_is_private_and_state_db_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    with Store.open(home):
        pass
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "state.db").stat().st_mode) == 0o600


def test_state_db_through_a_link_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    target = tmp_path / "elsewhere.db"
    target.write_bytes(b"not touched")
    (home / "state.db").symlink_to(target)
    with pytest.raises(UnsafePath) as refused:
        Store.open(home)
    assert refused.value.exit_code == EXIT_PRECONDITION
    assert "state.db: the state database is a symbolic link" in str(refused.value)
    assert target.read_bytes() == b"not touched"


def test_a_wal_file_that_is_a_link_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Store.open(home):
        pass
    wal = home / "state.db-wal"
    if wal.exists():
        wal.unlink()
    wal.symlink_to(tmp_path / "x")
    with pytest.raises(UnsafePath):
        Store.open(home)


def test_a_hard_linked_state_db_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Store.open(home):
        pass
    os.link(home / "state.db", tmp_path / "copy.db")
    with pytest.raises(UnsafePath, match="2 hard links"):
        Store.open(home)
