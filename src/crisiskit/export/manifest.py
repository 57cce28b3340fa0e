"""The export's manifest and checksums, and `export verify`.

    manifest.json   schema "crisiskit-export/1": who, when, what commune; per source what
                    became of it; per file its relative path, size, sha256, Graph source id
                    (and the quickXorHash SharePoint/OneDrive reported, for drive files);
                    totals per kind and per owner; `digest`
    SHA256SUMS      one line per file, `<sha256>  <path>`, sorted by path: `sha256sum -c
                    SHA256SUMS` run in the folder checks every file with standard tools
    digest          the SHA-256 of SHA256SUMS, the export's own fingerprint (printed on the
                    attestation; `sha256sum SHA256SUMS` shows it)

`verify(root)` re-hashes everything: it passes only if every listed file is there with its
size and hash, nothing else is there (links and foreign files are extra), SHA256SUMS lists
exactly the manifest's files, and the digest matches.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crisiskit.export.quickxor import file_hashes
from crisiskit.export.sink import MANIFEST, SUMS, FileRecord, SourceRecord
from crisiskit.state.files import atomic_write

SCHEMA = "crisiskit-export/1"
MAX_MANIFEST = 512 << 20


def sums_text(files: Iterable[FileRecord]) -> bytes:
    """Return SHA256SUMS: `<hex>  <path>` per file, sorted by path (GNU coreutils format)."""
    lines = [f"{f.sha256}  {f.path}\n" for f in sorted(files, key=lambda f: f.path)]
    return "".join(lines).encode("utf-8")


def totals(files: Sequence[FileRecord]) -> dict[str, Any]:
    """Count files and bytes, in all, per kind and per owner."""
    by_kind: dict[str, dict[str, int]] = {}
    by_owner: dict[str, dict[str, int]] = {}
    for f in files:
        for table, key in ((by_kind, f.kind), (by_owner, f.owner)):
            slot = table.setdefault(key, {"files": 0, "bytes": 0})
            slot["files"] += 1
            slot["bytes"] += f.size
    return {
        "files": len(files),
        "bytes": sum(f.size for f in files),
        "by_kind": dict(sorted(by_kind.items())),
        "by_owner": dict(sorted(by_owner.items())),
    }


def write_manifest(
    root: Path,
    files: Sequence[FileRecord],
    sources: Sequence[SourceRecord],
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    """Write SHA256SUMS then manifest.json (atomically, 0600); return the manifest."""
    ordered = sorted(files, key=lambda f: f.path)
    sums = sums_text(ordered)
    digest = hashlib.sha256(sums).hexdigest()
    manifest = {
        "schema": SCHEMA,
        **meta,
        "sources": [
            s.to_json() for s in sorted(sources, key=lambda s: (s.owner, s.kind, s.detail))
        ],
        "totals": totals(ordered),
        "files": [f.to_json() for f in ordered],
        "digest": digest,
    }
    atomic_write(root / SUMS, sums, 0o600)
    body = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
    atomic_write(root / MANIFEST, body.encode("utf-8"), 0o600)
    return manifest


def read_manifest(root: Path) -> dict[str, Any] | None:
    """Return the manifest of an export folder, or None if it has none (or not a readable one)."""
    path = Path(root) / MANIFEST
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except (FileNotFoundError, OSError):
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            data = f.read(MAX_MANIFEST + 1)
    except OSError:
        return None
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) and doc.get("schema") == SCHEMA else None


@dataclass
class Verification:
    """What `export verify` found."""

    root: Path
    checked: int = 0
    bytes: int = 0
    missing: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # manifest, SHA256SUMS, digest
    digest: str | None = None

    @property
    def ok(self) -> bool:
        return not (self.missing or self.mismatched or self.extra or self.problems)

    def summary(self) -> str:
        if self.ok:
            return (f"export verified: {self.checked} files, {self.bytes:,} bytes, "
                    f"digest {self.digest}")
        parts = []
        for name, items in (("missing", self.missing), ("changed", self.mismatched),
                            ("extra", self.extra), ("problem", self.problems)):
            if items:
                parts.append(f"{len(items)} {name}")
        return "export does NOT verify: " + ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "root": str(self.root), "ok": self.ok, "checked": self.checked, "bytes": self.bytes,
            "digest": self.digest, "missing": self.missing, "changed": self.mismatched,
            "extra": self.extra, "problems": self.problems,
        }


def _walk(root: Path) -> Iterable[tuple[str, os.stat_result]]:
    """Yield (relative path, lstat) of everything below `root` but folders; links not followed."""
    stack = [""]
    while stack:
        rel = stack.pop()
        here = root / rel if rel else root
        with os.scandir(here) as entries:
            for entry in entries:
                path = f"{rel}/{entry.name}" if rel else entry.name
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    stack.append(path)
                else:
                    yield path, info


def verify(root: Path) -> Verification:
    """Re-hash an export folder against its manifest (see the module docstring)."""
    root = Path(root)
    result = Verification(root)
    manifest = read_manifest(root)
    if manifest is None:
        result.problems.append(f"{MANIFEST}: missing or not a crisiskit export manifest")
        return result
    listed = {str(f["path"]): f for f in manifest.get("files") or []}
    try:
        sums = (root / SUMS).read_bytes() if not (root / SUMS).is_symlink() else None
    except FileNotFoundError:
        sums = None
    if sums is None:
        result.problems.append(f"{SUMS}: missing")
    else:
        result.digest = hashlib.sha256(sums).hexdigest()
        if result.digest != manifest.get("digest"):
            result.problems.append(f"{SUMS}: its digest is not the manifest's")
        expected = sums_text(
            FileRecord(p, 0, str(f["sha256"]), "", "", "") for p, f in listed.items()
        )
        if sums != expected:
            result.problems.append(f"{SUMS}: does not list exactly the manifest's files")
    present = {}
    for rel, info in _walk(root):
        if rel in (MANIFEST, SUMS):
            continue
        if rel not in listed or not stat.S_ISREG(info.st_mode):
            result.extra.append(rel)
        else:
            present[rel] = info
    for rel, entry in sorted(listed.items()):
        if rel not in present:
            result.missing.append(rel)
            continue
        sha, _, size = file_hashes(root / rel, quick_xor=False)
        result.checked += 1
        result.bytes += size
        if sha != entry.get("sha256") or size != entry.get("size"):
            result.mismatched.append(rel)
    result.extra.sort()
    return result
