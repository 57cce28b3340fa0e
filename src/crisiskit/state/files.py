"""Atomic file writes: a reader sees the old file or the new one, never a half-written one."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> Path:
    """Write `data` to `path` atomically, the file having exactly `mode` from its creation.

    The bytes go to a temporary file in the same folder (created with `mode`, so a secret is
    never readable by others, not even for an instant), which is fsynced, renamed over `path`,
    and the folder fsynced so that the rename itself survives a crash.
    """
    path = Path(path)
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            # The umask may have narrowed `mode`; the caller asked for exactly this mode.
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_directory(directory)
    return path


def fsync_directory(directory: Path) -> None:
    """Flush a folder's entries to disk so that a rename or a creation in it is durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
