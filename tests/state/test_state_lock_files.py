"""Per-commune locks across processes, and atomic file writes."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from crisiskit.errors import EXIT_PRECONDITION, InputError, LockHeld
from crisiskit.state import Store, atomic_write, commune_lock

HOLDER = (
    "import sys, time\n"
    "from crisiskit.state import commune_lock\n"
    "with commune_lock(sys.argv[1], sys.argv[2]):\n"
    "    print('locked', flush=True)\n"
    "    sys.stdin.readline()\n"
)


def _holder(home: Path, commune: str) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(home), commune],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "locked"
    return child


def test_second_process_is_refused_while_the_first_holds_the_lock(tmp_path: Path) -> None:
    child = _holder(tmp_path, "aubagne")
    try:
        with pytest.raises(LockHeld) as info, commune_lock(tmp_path, "aubagne"):
            pass
        message = str(info.value)
        assert message.startswith("another crisiskit run for aubagne is in progress")
        assert f"pid {child.pid} since " in message
        assert info.value.exit_code == EXIT_PRECONDITION
        # Other communes are independent.
        with commune_lock(tmp_path, "istres"):
            pass
    finally:
        assert child.stdin is not None
        child.stdin.write("\n")
        child.stdin.close()
        child.wait(timeout=10)
        assert child.stdout is not None
        child.stdout.close()
    with commune_lock(tmp_path, "aubagne") as path:  # released on normal exit
        assert path == tmp_path / "locks" / "aubagne.lock"


def test_lock_of_a_sigkilled_holder_is_free(tmp_path: Path) -> None:
    with _holder(tmp_path, "aubagne") as child:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    with commune_lock(tmp_path, "aubagne"):
        pass


def test_store_offers_the_lock_of_its_home(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s, s.commune_lock("aubagne"):
        with pytest.raises(LockHeld), commune_lock(tmp_path, "aubagne"):
            pass


@pytest.mark.parametrize("commune", ["../etc", "Aubagne", "", "a/b"])
def test_commune_id_must_be_a_safe_file_name(tmp_path: Path, commune: str) -> None:
    with pytest.raises(InputError), commune_lock(tmp_path, commune):
        pass


@pytest.mark.parametrize("mode", [0o600, 0o644])
def test_atomic_write_sets_exact_mode_and_replaces(tmp_path: Path, mode: int) -> None:
    target = tmp_path / "out" / "file.txt"
    old_umask = os.umask(0o077)
    try:
        atomic_write(target, b"first", mode)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(target).st_mode) == mode
    atomic_write(target, b"second", mode)
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["file.txt"]


def test_atomic_write_failure_keeps_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    atomic_write(target, b"old", 0o600)
    with pytest.raises(TypeError):
        atomic_write(target, "not bytes", 0o600)  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_atomic_write_killed_midway_never_leaves_a_partial_target(tmp_path: Path) -> None:
    target = tmp_path / "big.bin"
    atomic_write(target, b"A" * 1000, 0o600)
    script = (
        "import sys\nfrom pathlib import Path\nfrom crisiskit.state import atomic_write\n"
        "print('go', flush=True)\n"
        "while True:\n"
        "    atomic_write(Path(sys.argv[1]), b'B' * 4_000_000, 0o600)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script, str(target)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "go"
    for _ in range(20):
        data = target.read_bytes()
        assert data in (b"A" * 1000, b"B" * 4_000_000)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    child.stdout.close()
    assert target.read_bytes() in (b"A" * 1000, b"B" * 4_000_000)
