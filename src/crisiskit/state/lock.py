"""One crisiskit run per commune at a time: an exclusive advisory lock on a file per commune."""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from crisiskit.errors import InputError, LockHeld

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
    """
    path = lock_path(home, commune)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(
                f"another crisiskit run for {commune} is in progress ({_describe_holder(fd)}); "
                "wait for it to finish, or check that it is not stuck"
            ) from None
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
