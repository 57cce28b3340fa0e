"""Reading the operator's input files: regular files only, the size capped while reading.

    read_input(path, what, limit)   the bytes of an inventory or playbook, or InputError
    read_capped(fd, limit)          at most limit + 1 bytes from an open file, None if more
    kind_of(st_mode)                "a named pipe (FIFO)", "a character device", …

A folder, a named pipe, a device, a socket or a loop of links given as input is refused with
a one-line reason before anything is read: nothing can hang on a pipe or fill memory from
/dev/zero. A link to a regular file is fine (input is read, never written). Kept free of heavy
imports: `validate` reads through it and must start instantly.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from crisiskit.errors import InputError

_KINDS = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
    stat.S_IFREG: "a file",
}


def kind_of(mode: int) -> str:
    """Name the kind of file a `st_mode` describes ("a named pipe (FIFO)", "a folder", …)."""
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def read_capped(fd: int, limit: int) -> bytes | None:
    """Read `fd` to its end if it holds at most `limit` bytes, else return None.

    The cap holds whatever the size on disk said: at most `limit + 1` bytes are ever read.
    """
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = os.read(fd, min(1 << 20, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
    return None


def _megabytes(limit: int) -> str:
    return f"{limit / 1048576:g} MB"


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def read_input(path: Path, what: str, limit: int) -> bytes:
    """Return the bytes of the input file at `path`, or raise InputError with one line."""
    file = str(path)

    def refused(exc: OSError) -> InputError:
        if isinstance(exc, FileNotFoundError):
            return InputError(f"{file}: no such {what}")
        if isinstance(exc, PermissionError):
            return InputError(f"{file}: permission denied")
        if exc.errno == errno.ELOOP:
            return InputError(f"{file}: a loop of symbolic links, not {_a(what)}")
        if exc.errno == errno.ENOTDIR:
            return InputError(f"{file}: a parent of the {what} is not a folder")
        return InputError(f"{file}: cannot read: {exc.strerror or exc}")

    def check(info: os.stat_result) -> None:
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{file}: is a folder, not {_a(what)}")
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{file}: is {kind_of(info.st_mode)}, not {_a(what)} (a regular file)")
        if info.st_size > limit:
            raise InputError(
                f"{file}: {what} is {info.st_size / 1048576:.1f} MB; the limit is "
                f"{_megabytes(limit)}"
            )

    try:
        check(os.stat(path))  # before opening: opening a device or a FIFO can block or act
        # O_NONBLOCK: should a FIFO be swapped in after the check, opening it does not wait.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise refused(exc) from None
    try:
        check(os.fstat(fd))  # what was opened is what was checked
        raw = read_capped(fd, limit)
    except OSError as exc:
        raise refused(exc) from None
    finally:
        os.close(fd)
    if raw is None:
        raise InputError(f"{file}: {what} holds more than the {_megabytes(limit)} limit")
    return raw
