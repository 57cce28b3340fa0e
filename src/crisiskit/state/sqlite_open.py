"""Opening the state database safely, and waiting for it when another process writes.

    own_database_file(home, path)   the home (created 0700) and `state.db` (0600), never a link
    when_free(call, path)           run a statement that needs the write lock, waiting and
                                    retrying while another process holds it

SQLite waits `busy_timeout` for a lock inside each call; `when_free` retries that wait a few
times more, so several activations of one home (several communes at once, in several
processes) queue for the state instead of failing: "database is locked" never reaches the
operator: only, after about a minute, a sentence saying which database stayed busy.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from crisiskit.errors import UnsafePath
from crisiskit.inputs import kind_of
from crisiskit.state.api import StateError

T = TypeVar("T")
BUSY_ATTEMPTS = 6  # each waits the connection's busy timeout (10 s) inside SQLite
BUSY_PAUSE_S = 0.2


def _busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def when_free(call: Callable[[], T], path: Path) -> T:
    """Run `call`, retrying while the database is locked by another process."""
    started = time.monotonic()
    for attempt in range(1, BUSY_ATTEMPTS + 1):
        try:
            return call()
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
            if attempt == BUSY_ATTEMPTS:
                waited = time.monotonic() - started
                raise StateError(
                    f"the state database {path} stayed busy for {waited:.0f} s: another "
                    "crisiskit process keeps writing to it; nothing was recorded by this step, "
                    "run the command again"
                ) from None
            time.sleep(BUSY_PAUSE_S * attempt)
    raise AssertionError("unreachable")  # the loop returns or raises


def own_database_file(home: Path, path: Path) -> None:
    """Create the home (0700) if needed, and `state.db` (0600); refuse a link or a stranger.

    The database file is created owner-only before SQLite opens it: its `-wal` and `-shm`
    files copy its mode, and they hold the same names and loans. A link at `state.db` (or at
    its `-wal`/`-shm`) is refused with `UnsafePath` (exit 3): SQLite would follow it.
    """
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(f"cannot create the state folder {home}: {exc.strerror}") from None
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _link(path) from None
        raise StateError(f"cannot create the state database {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            what = kind_of(info.st_mode) if not stat.S_ISREG(info.st_mode) else (
                f"a file with {info.st_nlink} hard links"
            )
            raise UnsafePath(f"{path}: the state database is {what}, not crisiskit's own file. "
                             "Nothing was written: move it away, then run the command again")
        if stat.S_IMODE(info.st_mode) != 0o600:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for side in ("-wal", "-shm"):
        companion = path.with_name(path.name + side)
        if companion.is_symlink():
            raise _link(companion)


def _link(path: Path) -> UnsafePath:
    return UnsafePath(
        f"{path}: the state database is a symbolic link; crisiskit never opens its state "
        "through a link (its writes would land in the link's target). Nothing was written: "
        "remove the link, restore the database in its place, then run the command again"
    )
