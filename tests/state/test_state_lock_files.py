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
from crisiskit.state.files import UnsafePath, private_dir

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


# ---------------------------------------------------------------- never through a link

def test_a_lock_file_that_is_a_link_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (tmp_path / "locks").mkdir()
    (tmp_path / "locks" / "aubagne.lock").symlink_to(victim)
    with pytest.raises(UnsafePath, match="the lock file is a symbolic link") as info, \
            commune_lock(tmp_path, "aubagne"):
        pass
    assert info.value.exit_code == EXIT_PRECONDITION
    assert victim.read_text() == "precious\n"
    # A dangling link is refused the same way: its target is never created.
    (tmp_path / "locks" / "cassis.lock").symlink_to(tmp_path / "created-by-nobody")
    with pytest.raises(UnsafePath), commune_lock(tmp_path, "cassis"):
        pass
    assert not (tmp_path / "created-by-nobody").exists()


def test_a_lock_file_that_is_a_pipe_or_a_hard_link_is_refused(tmp_path: Path) -> None:
    (tmp_path / "locks").mkdir()
    os.mkfifo(tmp_path / "locks" / "aubagne.lock")
    with pytest.raises(UnsafePath, match="named pipe"), commune_lock(tmp_path, "aubagne"):
        pass
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    os.link(victim, tmp_path / "locks" / "cassis.lock")
    with pytest.raises(UnsafePath, match="2 hard links"), commune_lock(tmp_path, "cassis"):
        pass
    assert victim.read_text() == "precious\n"


def test_a_linked_locks_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    (home / "locks").symlink_to(elsewhere)
    with pytest.raises(UnsafePath, match="locks: is a symbolic link"), \
            commune_lock(home, "aubagne"):
        pass
    assert list(elsewhere.iterdir()) == []


def test_lock_and_secret_folders_are_owner_only(tmp_path: Path) -> None:
    (tmp_path / "sandbox").mkdir(mode=0o755)
    (tmp_path / "locks").mkdir(mode=0o755)
    os.chmod(tmp_path / "sandbox", 0o755)  # an older run left them readable by all
    os.chmod(tmp_path / "locks", 0o755)
    with commune_lock(tmp_path, "aubagne") as path:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    for folder in ("locks", "sandbox", "outputs", "outputs/aubagne"):
        assert stat.S_IMODE(os.stat(tmp_path / folder).st_mode) == 0o700, folder
    assert not (tmp_path / "exports").exists()  # checked if present, not created


@pytest.mark.parametrize(
    "plant",
    ["outputs", "outputs/aubagne", "outputs/aubagne/credentials.csv",
     "outputs/aubagne/fiche-de-remise.html", "sandbox", "exports"],
)
def test_taking_the_lock_refuses_a_link_planted_where_the_run_writes(
    tmp_path: Path, plant: str
) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep").write_text("x")
    link = home / plant
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(elsewhere)
    with pytest.raises(UnsafePath, match="symbolic link") as info, commune_lock(home, "aubagne"):
        pass
    assert str(link) in str(info.value) and "Nothing was written" in str(info.value)
    assert [p.name for p in elsewhere.iterdir()] == ["keep"]
    if plant.startswith("outputs/"):  # a link in aubagne's own folder does not stop cassis
        with commune_lock(home, "cassis"):
            pass
    else:  # a shared folder of the home: every run is refused
        with pytest.raises(UnsafePath), commune_lock(home, "cassis"):
            pass


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a folder to another user")
def test_a_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outputs" / "aubagne").mkdir(parents=True)
    os.chown(tmp_path / "outputs", 65534, 65534)
    with pytest.raises(UnsafePath, match="belongs to another user"), \
            commune_lock(tmp_path, "aubagne"):
        pass


def test_atomic_write_never_writes_through_a_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / "doc.md"
    link.symlink_to(victim)
    with pytest.raises(UnsafePath, match="doc.md: is a symbolic link"):
        atomic_write(link, b"secret", 0o600)
    assert victim.read_text() == "precious\n" and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.md", "victim.txt"]
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    with pytest.raises(UnsafePath, match="named pipe"):
        atomic_write(fifo, b"x", 0o600)


def test_atomic_write_under_a_root_refuses_any_linked_folder_and_creates_0700(
    tmp_path: Path,
) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (home / "exports").mkdir(parents=True)
    (home / "exports" / "aubagne").symlink_to(elsewhere)
    with pytest.raises(UnsafePath, match="exports/aubagne: is a symbolic link"):
        atomic_write(home / "exports" / "aubagne" / "mail" / "a.eml", b"x", root=home)
    assert list(elsewhere.iterdir()) == []
    target = atomic_write(home / "exports" / "cassis" / "mail" / "a.eml", b"x", root=home)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    for folder in (home / "exports" / "cassis", home / "exports" / "cassis" / "mail"):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    # The root itself is the operator's choice: reaching it through a link is fine.
    (tmp_path / "home-link").symlink_to(home)
    atomic_write(tmp_path / "home-link" / "exports" / "cassis" / "b.eml", b"y",
                 root=tmp_path / "home-link")
    assert (home / "exports" / "cassis" / "b.eml").read_bytes() == b"y"


def test_private_dir_creates_owner_only_and_refuses_a_link(tmp_path: Path) -> None:
    path = private_dir(tmp_path, "sandbox")
    assert path == tmp_path / "sandbox" and stat.S_IMODE(os.stat(path).st_mode) == 0o700
    (tmp_path / "exports").symlink_to(tmp_path / "sandbox")
    with pytest.raises(UnsafePath, match="exports: is a symbolic link"):
        private_dir(tmp_path, "exports", "aubagne")
    assert list((tmp_path / "sandbox").iterdir()) == []
