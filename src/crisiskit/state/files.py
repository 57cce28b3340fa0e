"""Files crisiskit writes and reads back: atomic, exact modes, never through a link.

    atomic_write(path, data, mode, root=)   whole-file replace; a reader sees old or new
    read_own_file(path, limit, root=)       read back a file crisiskit wrote (None if absent)
    private_dir(home, *parts)               a folder under the home: real, ours, mode 0700
    secure_commune_folders(home, commune)   check what a run of this commune will write
    UnsafePath                              exit 3: a link or a foreign object stands there
                                            (crisiskit.errors; re-exported here)

Every folder below `root` (the home, for the files of the home) is opened one component at a
time with O_NOFOLLOW, so a symbolic link planted anywhere below the home is refused rather
than followed; `root` itself is the operator's choice and may be a link. The final component
is never followed either: a link where crisiskit writes is refused before anything is
written, and one planted while writing is replaced by the rename, never written through.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path

from crisiskit.errors import InputError, UnsafePath
from crisiskit.inputs import kind_of, read_capped

__all__ = ["UnsafePath", "atomic_write", "open_dir", "private_dir", "read_own_file",
           "secure_commune_folders"]

FILE_MODE = 0o600
DIR_MODE = 0o700
# Folders of the home that hold passes, names and loans: owner-only.
SECRET_FOLDERS = ("outputs", "sandbox", "locks", "exports")

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NOFOLLOW = os.O_NOFOLLOW


def _link_target(path: Path) -> str:
    try:
        return f" (to {os.readlink(path)})"
    except OSError:
        return ""


def _refuse(path: Path, what: str, why: str) -> UnsafePath:
    return UnsafePath(f"{path}: {what}; {why}. Nothing was written there: remove or move "
                      "it away, then run the command again")


def _enter(parent_fd: int, name: str, path: Path, *, create: bool) -> int:
    """Open folder `name` inside `parent_fd` without following a link; create it if asked.

    A folder of ours is left (or made) owner-only: everything below the home holds names,
    loans or passes.
    """
    try:
        fd = os.open(name, _DIR | _NOFOLLOW, dir_fd=parent_fd)
    except FileNotFoundError:
        if not create:
            raise
        try:
            os.mkdir(name, DIR_MODE, dir_fd=parent_fd)
        except FileExistsError:
            pass  # another process created it meanwhile: open it the safe way below
        return _enter(parent_fd, name, path, create=False)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        info = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        if stat.S_ISLNK(info.st_mode):
            raise _refuse(path, f"is a symbolic link{_link_target(path)}",
                          "crisiskit never writes through a link") from None
        raise _refuse(path, f"is {kind_of(info.st_mode)}, not a folder",
                      "crisiskit keeps its files there") from None
    try:
        info = os.fstat(fd)
        if info.st_uid != os.geteuid():
            raise _refuse(path, f"belongs to another user (uid {info.st_uid})",
                          "crisiskit writes only in folders it owns")
        if stat.S_IMODE(info.st_mode) != DIR_MODE:
            os.fchmod(fd, DIR_MODE)  # the umask may have narrowed it, an older run widened it
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_dir(directory: Path, root: Path | None, *, create: bool = True) -> int:
    """Return an fd on `directory`, every component below `root` opened without links.

    Without `root`, `directory` is a folder the operator named (an export target): it is
    created if needed and may be reached through links.
    """
    directory = Path(directory)
    if root is None:
        if create:
            directory.mkdir(parents=True, exist_ok=True)
        return os.open(directory, _DIR)
    root = Path(root)
    parts = directory.relative_to(root).parts
    if create:
        root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root, _DIR)
    here = root
    try:
        for part in parts:
            here = here / part
            child = _enter(fd, part, here, create=create)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def private_dir(home: Path, *parts: str) -> Path:
    """Create (or check) `home/parts…` as real folders of ours, the secret ones 0700."""
    path = Path(home).joinpath(*parts)
    fd = open_dir(path, Path(home))
    os.close(fd)
    return path


def _refuse_if_not_regular(dir_fd: int, name: str, path: Path) -> None:
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise _refuse(path, f"is a symbolic link{_link_target(path)}",
                      "crisiskit never writes through a link")
    if not stat.S_ISREG(info.st_mode):
        raise _refuse(path, f"is {kind_of(info.st_mode)}, not a file",
                      "crisiskit writes a regular file there")


def atomic_write(path: Path, data: bytes, mode: int = FILE_MODE, *,
                 root: Path | None = None) -> Path:
    """Write `data` to `path` atomically, the file having exactly `mode` from its creation.

    The bytes go to a temporary file in the same folder (created with `mode`, so a secret is
    never readable by others, not even for an instant), which is fsynced, renamed over `path`,
    and the folder fsynced so that the rename itself survives a crash. A link (or a pipe, a
    device, a folder) at `path` is refused with `UnsafePath`; with `root`, so is a link in any
    folder between `root` and `path`, and missing folders are created 0700.
    """
    path = Path(path)
    dir_fd = open_dir(path.parent, root)
    tmp = f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        _refuse_if_not_regular(dir_fd, path.name, path)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | os.O_CLOEXEC,
                     mode, dir_fd=dir_fd)
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
            # rename() replaces a link planted since the check; it never writes through it.
            os.replace(tmp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=dir_fd)
            except FileNotFoundError:
                pass
            raise
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def read_own_file(path: Path, *, limit: int, root: Path | None = None,
                  what: str = "file") -> bytes | None:
    """Read back a file crisiskit wrote, or None if it is absent.

    The file is opened without following a link and must be a regular file with a single
    name (a hard link to another commune's file would mix their rows); anything else raises
    `UnsafePath`. At most `limit` bytes are accepted.
    """
    path = Path(path)
    try:
        dir_fd = open_dir(path.parent, root, create=False)
    except FileNotFoundError:
        return None
    try:
        try:
            fd = os.open(path.name, os.O_RDONLY | _NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                         dir_fd=dir_fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise _refuse(path, f"the {what} is a symbolic link{_link_target(path)}",
                          "crisiskit never reads or writes its files through a link") from None
    finally:
        os.close(dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(path, f"the {what} is {kind_of(info.st_mode)}",
                          "crisiskit expects the regular file it wrote")
        if info.st_nlink != 1:
            raise _refuse(path, f"the {what} has {info.st_nlink} hard links",
                          "another name shares its content (another commune's file?)")
        data = read_capped(fd, limit)
        if data is None:
            raise InputError(f"{path}: the {what} is larger than {limit:,} bytes: it is not "
                             "one crisiskit wrote")
        return data
    finally:
        os.close(fd)


def secure_commune_folders(home: Path, commune: str) -> None:
    """Check, before a run of `commune` writes anything, that its folders are safe to use.

    Creates `outputs/<commune>` (and `outputs/`) 0700 if missing, tightens the secret-bearing
    folders of the home that exist to 0700, and refuses (`UnsafePath`, exit 3) a link or a
    foreign object in any of them or inside the commune's output folder, where only
    crisiskit's own files belong.
    """
    home = Path(home)
    for name in SECRET_FOLDERS:
        try:
            os.close(open_dir(home / name, home, create=False))
        except FileNotFoundError:
            pass
    outputs = home / "outputs" / commune
    fd = open_dir(outputs, home)
    try:
        for entry in os.scandir(fd):
            if entry.is_symlink():
                target = outputs / entry.name
                raise _refuse(target, f"is a symbolic link{_link_target(target)}",
                              "only crisiskit's own files belong in the commune's output "
                              "folder (a link could make this commune's passes land in "
                              "another file)")
    finally:
        os.close(fd)
