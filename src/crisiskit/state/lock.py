"""One crisiskit run per commune at a time: an exclusive advisory lock on a file per commune."""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from crisiskit.errors import InputError, LockHeld
from crisiskit.inputs import kind_of
from crisiskit.state.files import UnsafePath, open_dir, secure_commune_folders

_COMMUNE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def lock_path(home: Path, commune: str) -> Path:
    """Return the lock file of `commune` under `home` (`home/locks/<commune>.lock`)."""
    if not _COMMUNE_ID.match(commune):
        raise InputError(
            f"commune id {commune!r} is not a valid identifier "
            "(lowercase letters, digits, '-' and '_')"
        )
    return Path(home) / "locks" / f"{commune}.lock"


@contextmanager
def commune_lock(home: Path, commune: str) -> Iterator[Path]:
    """Hold the exclusive lock of `commune` for the duration of the block, or raise `LockHeld`.

    flock is released by the kernel when the holder's process dies, SIGKILL included, so a
    killed run never leaves a stale lock behind. The file keeps the holder's pid and start time
    only to make the refusal message useful; the file itself is never deleted, since unlinking
    a flock'ed file lets two processes each lock a different inode.

    The lock file is opened without following a link (a link there would make the holder
    truncate its target) and must be crisiskit's own regular file. Once the lock is held,
    the commune's folders are checked (`secure_commune_folders`) before the run writes
    anything; a link planted in them refuses the run with `UnsafePath` (exit 3).
    """
    path = lock_path(home, commune)
    fd = _open_lock_file(Path(home), path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(
                f"another crisiskit run for {commune} is in progress ({_describe_holder(fd)}); "
                "wait for it to finish, or check that it is not stuck"
            ) from None
        secure_commune_folders(home, commune)
        since = datetime.now(UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {since}\n".encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _open_lock_file(home: Path, path: Path) -> int:
    """Open (creating, 0600) the lock file in `home/locks`, never through a link."""
    dir_fd = open_dir(path.parent, home)
    try:
        fd = os.open(
            path.name,
            os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
            0o600,
            dir_fd=dir_fd,
        )
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise UnsafePath(
            f"{path}: the lock file is a symbolic link; crisiskit never writes through a "
            "link (it would truncate the link's target). Nothing was written there: remove the "
            "link, then run the command again"
        ) from None
    finally:
        os.close(dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            what = kind_of(info.st_mode) if not stat.S_ISREG(info.st_mode) else (
                f"a file with {info.st_nlink} hard links"
            )
            raise UnsafePath(
                f"{path}: the lock file is {what}, not crisiskit's own lock file. Nothing "
                "was written: remove it, then run the command again"
            )
        if stat.S_IMODE(info.st_mode) != 0o600:
            os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _describe_holder(fd: int) -> str:
    """Describe the lock holder from what it wrote in the lock file."""
    try:
        content = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
    except OSError:
        content = []
    if len(content) >= 2 and content[0].isdigit():
        return f"pid {content[0]} since {content[1]}"
    # The holder has locked the file but not yet written its pid: a run that just started.
    return "pid unknown, just started"
