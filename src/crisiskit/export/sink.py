"""The export folder on disk: files written whole or not at all, and what a rerun can trust.

    ExportDir(root)              the folder (created 0700), its record of files already done
    .have(path, …)               a file an earlier run (or this one) wrote and that still
                                 hashes as recorded: a rerun keeps it instead of fetching it
    .put(path, data, …)          write a small file atomically (temporary name, fsync, rename)
    .part(path) / .finish(…)     a large file streamed beside its place, renamed once complete
    .source(SourceRecord)        what became of one source (exported, no mailbox, refused…)

Every file is created 0600 and every folder 0700, below the root opened one component at a
time without following links. What is done is appended to `.export-progress.jsonl` (one JSON
line per file, after its rename), so a killed export resumes: a rerun re-hashes each file the
record names and fetches only what is missing or does not match. The manifest step removes
the record; a complete export holds only the data, `manifest.json` and `SHA256SUMS`.

One `ExportDir` per folder per process (`sink_for`): the export steps of a run, the manifest
step and the progress display share it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from crisiskit.export.quickxor import file_hashes
from crisiskit.state.files import open_dir

PROGRESS = ".export-progress.jsonl"
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
RESERVED = frozenset({PROGRESS, MANIFEST, SUMS})
PART = ".crisiskit-part"  # a download in progress (never a name of the export's own files)
FILE_MODE = 0o600


@dataclass(frozen=True)
class FileRecord:
    """One exported file, as the manifest lists it."""

    path: str  # relative, POSIX
    size: int
    sha256: str
    kind: str  # mail | onedrive | files | conversations | calendar | contacts | channels
    owner: str  # the account's UPN, or the group's mailNickname
    source_id: str  # the Graph id of what it was made from
    quick_xor: str | None = None  # drive files: the hash SharePoint/OneDrive reported

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if out["quick_xor"] is None:
            del out["quick_xor"]
        return out


@dataclass
class SourceRecord:
    """What became of one source: exported, none (no mailbox/OneDrive), refused, unsupported."""

    kind: str
    owner: str
    status: str  # exported | none | refused | not_supported
    detail: str = ""
    files: int = 0
    bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _check_relative(path: str) -> PurePosixPath:
    rel = PurePosixPath(path)
    if rel.is_absolute() or not rel.parts or any(p in ("", ".", "..") for p in rel.parts):
        raise ValueError(f"not a relative export path: {path!r}")
    if rel.parts[0] in RESERVED or rel.name.endswith(PART):
        raise ValueError(f"reserved export path: {path!r}")
    return rel


@dataclass
class ExportDir:
    """One export folder (see the module docstring)."""

    root: Path
    recorded: dict[str, FileRecord] = field(default_factory=dict)  # from the progress file
    done: dict[str, FileRecord] = field(default_factory=dict)  # confirmed by this process
    sources: list[SourceRecord] = field(default_factory=list)
    listeners: list[Callable[[FileRecord, bool], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._dirs: dict[str, int] = {}
        self._progress: int | None = None
        self.root = Path(self.root)
        os.close(open_dir(self.root, None))
        os.chmod(self.root, 0o700)
        self._load()

    # -- the record of what is done -------------------------------------------------------

    def _load(self) -> None:
        from crisiskit.export.manifest import read_manifest

        manifest = read_manifest(self.root)
        if manifest is not None:
            for entry in manifest.get("files") or []:
                self._remember(entry)
        try:
            lines = (self.root / PROGRESS).read_text("utf-8").splitlines()
        except FileNotFoundError:
            return
        for line in lines:
            try:
                self._remember(json.loads(line))
            except (ValueError, TypeError, KeyError):
                continue  # a line torn by a kill: that file is fetched again

    def _remember(self, entry: Any) -> None:
        rec = FileRecord(
            str(entry["path"]), int(entry["size"]), str(entry["sha256"]), str(entry["kind"]),
            str(entry["owner"]), str(entry["source_id"]), entry.get("quick_xor"),
        )
        _check_relative(rec.path)
        self.recorded[rec.path] = rec

    def _append(self, rec: FileRecord) -> None:
        line = (json.dumps(rec.to_json(), ensure_ascii=False, sort_keys=True) + "\n").encode()
        if self._progress is None:
            self._progress = os.open(
                self.root / PROGRESS,
                os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE,
            )
        os.write(self._progress, line)  # one write, O_APPEND: a kill tears at most this line

    def _confirm(self, rec: FileRecord, fetched: bool) -> FileRecord:
        self.done[rec.path] = rec
        for listener in self.listeners:
            listener(rec, fetched)
        return rec

    # -- files ----------------------------------------------------------------------------

    def abs(self, path: str) -> Path:
        return self.root / _check_relative(path)

    def folder_fd(self, path: str) -> int:
        """Return an fd on the folder holding `path` (created 0700, never through a link).

        Folders are opened once each, component by component, and kept open for the export.
        """
        parent = str(_check_relative(path).parent)
        fd = self._dirs.get(parent)
        if fd is None:
            fd = self._dirs[parent] = open_dir(self.root / parent, self.root)
        return fd

    def have(self, path: str, *, source_id: str, quick_xor: str | None = None,
             size: int | None = None) -> FileRecord | None:
        """Return the record of `path` if the file on disk is still what was recorded.

        The file is re-hashed (what is already there is verified, not trusted); a drive file
        must also still match the source's size and quickXorHash.
        """
        rec = self.done.get(path) or self.recorded.get(path)
        if rec is None or rec.source_id != source_id:
            return None
        if quick_xor is not None and rec.quick_xor not in (None, quick_xor):
            return None
        if size is not None and rec.size != size:
            return None
        if path in self.done:
            return rec
        try:
            sha, _, length = file_hashes(self.abs(path), quick_xor=False)
        except OSError:
            return None
        if sha != rec.sha256 or length != rec.size:
            return None
        return self._confirm(rec, False)

    def put(self, path: str, data: bytes, *, kind: str, owner: str, source_id: str) -> FileRecord:
        """Write a small file and record it (the record, written after, is what is trusted).

        A file killed half-written has no record: a rerun writes it again.
        """
        import hashlib

        rel = _check_relative(path)
        dir_fd = self.folder_fd(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(rel.name, flags, FILE_MODE, dir_fd=dir_fd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        rec = FileRecord(path, len(data), hashlib.sha256(data).hexdigest(), kind, owner,
                         source_id)
        self._append(rec)
        return self._confirm(rec, True)

    def part(self, path: str) -> tuple[Path, int]:
        """Return the partial file a large download of `path` streams into, and its size now."""
        rel = _check_relative(path)
        self.folder_fd(path)
        part = self.root / rel.parent / f"{rel.name}{PART}"
        try:
            info = os.lstat(part)
        except FileNotFoundError:
            return part, 0
        if not os.path.isfile(part) or os.path.islink(part):
            raise ValueError(f"{part}: not a regular file; remove it")
        return part, info.st_size

    def finish(self, path: str, *, kind: str, owner: str, source_id: str,
               quick_xor: str | None = None, size: int | None = None) -> FileRecord | None:
        """Check a complete partial file against `quick_xor`, rename it into place and record it.

        Return None (and remove the part) if its quickXorHash or its size does not match: the
        caller fetches it again.
        """
        part, _ = self.part(path)
        sha, qx, length = file_hashes(part, quick_xor=quick_xor is not None)
        if (quick_xor is not None and qx != quick_xor) or (size is not None and length != size):
            part.unlink()
            return None
        os.replace(part, self.abs(path))
        rec = FileRecord(path, length, sha, kind, owner, source_id, quick_xor)
        self._append(rec)
        return self._confirm(rec, True)

    def source(self, record: SourceRecord) -> None:
        self.sources.append(record)

    def sweep(self) -> None:
        """Remove what interrupted writes left: partial downloads and temporary files.

        Exported names never start with a dot (`safe_name`), so a dot file ending in `.tmp`
        is always one of ours.
        """
        for here, _, names in os.walk(self.root):
            for name in names:
                if name.endswith(PART) or (name.startswith(".") and name.endswith(".tmp")):
                    os.unlink(os.path.join(here, name))

    def close(self) -> None:
        """Close the folders and the progress record this export kept open."""
        for fd in self._dirs.values():
            os.close(fd)
        self._dirs.clear()
        if self._progress is not None:
            os.close(self._progress)
            self._progress = None

    def forget_progress(self) -> None:
        if self._progress is not None:
            os.close(self._progress)
            self._progress = None
        try:
            os.unlink(self.root / PROGRESS)
        except FileNotFoundError:
            pass


_SINKS: dict[Path, ExportDir] = {}


def sink_for(root: Path) -> ExportDir:
    """Return this process's ExportDir of `root` (one per folder)."""
    key = Path(os.path.abspath(root))
    found = _SINKS.get(key)
    if found is None:
        found = _SINKS[key] = ExportDir(key)
    return found


def drop_sink(root: Path) -> None:
    """Close and forget the process's ExportDir of `root` (after its run)."""
    found = _SINKS.pop(Path(os.path.abspath(root)), None)
    if found is not None:
        found.close()
