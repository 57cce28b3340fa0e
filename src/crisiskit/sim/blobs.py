"""Content of files and attachments, kept out of the tenant's JSON.

The tenant is serialised whole on every write (the state file) and on `/_sim/reset`; a file of
a few MB stored in it would make every request slow. Objects therefore hold a small reference:

- `{"sha256": "<hex>", "size": n}`: bytes stored here, content-addressed, in memory and, when
  the simulator has a state file, in the directory `<state file>.blobs/` beside it (written
  once, atomically, before the write that references them is acknowledged);
- `{"pattern": seed, "size": n}`: bytes generated on demand, deterministically, from the seed
  (1 MiB blocks, block k being SHAKE-256 of `crisiskit-sim:{seed}:{k}`): a large seeded file
  costs nothing until downloaded, and a range generates only the blocks it covers.

References are plain JSON and survive a restart like the rest of the tenant.
"""

from __future__ import annotations

import hashlib
import os
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

Ref = dict[str, Any]
MAX_PATTERN_SIZE = 1 << 31  # 2 GiB: a seeded file larger than that is a mistake
_CACHE_LIMIT = 64 << 20  # keep the last generated pattern if it is at most 64 MiB


class BlobStore:
    """Content-addressed bytes of one simulator."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.data: dict[str, bytes] = {}
        self._pattern: tuple[tuple[int, int], bytes] | None = None

    def put(self, data: bytes) -> Ref:
        digest = hashlib.sha256(data).hexdigest()
        if digest not in self.data:
            self.data[digest] = data
            if self.directory is not None:
                self._write(digest, data)
        return {"sha256": digest, "size": len(data)}

    def _write(self, digest: str, data: bytes) -> None:
        assert self.directory is not None
        path = self.directory / digest
        if path.exists():
            return
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{digest}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)

    def get(self, ref: Ref) -> bytes:
        if "pattern" in ref:
            return self._generate(int(ref["pattern"]), int(ref["size"]))
        digest = str(ref["sha256"])
        data = self.data.get(digest)
        if data is None and self.directory is not None:
            path = self.directory / digest
            if path.is_file():
                data = path.read_bytes()
                self.data[digest] = data
        if data is None:
            raise KeyError(f"content {digest} is missing from the simulator's store")
        return data

    def _generate(self, seed: int, size: int) -> bytes:
        key = (seed, size)
        if self._pattern is not None and self._pattern[0] == key:
            return self._pattern[1]
        data = pattern_bytes(seed, size)
        if size <= _CACHE_LIMIT:
            self._pattern = (key, data)
        return data

    def prune(self, keep: set[str]) -> None:
        """Forget in-memory bytes no object refers to any more (files on disk stay)."""
        for digest in [d for d in self.data if d not in keep]:
            del self.data[digest]


_STORES: weakref.WeakKeyDictionary[Simulator, BlobStore] = weakref.WeakKeyDictionary()


def store(sim: Simulator) -> BlobStore:
    """Return the simulator's store (created on first use, beside its state file if any)."""
    found = _STORES.get(sim)
    if found is None:
        directory = None
        if sim.state_file is not None:
            directory = sim.state_file.with_name(sim.state_file.name + ".blobs")
        found = _STORES[sim] = BlobStore(directory)
    return found


PATTERN_BLOCK = 1 << 20


def _block(seed: int, index: int, size: int) -> bytes:
    length = min(PATTERN_BLOCK, size - index * PATTERN_BLOCK)
    return hashlib.shake_256(f"crisiskit-sim:{seed}:{index}".encode()).digest(length)


def pattern_bytes(seed: int, size: int, start: int = 0, end: int | None = None) -> bytes:
    """Return bytes `start`..`end` (inclusive; default: all) of the content generated for `seed`."""
    last = size - 1 if end is None else min(end, size - 1)
    if size <= 0 or start > last:
        return b""
    first_block, last_block = start // PATTERN_BLOCK, last // PATTERN_BLOCK
    data = b"".join(_block(seed, k, size) for k in range(first_block, last_block + 1))
    offset = first_block * PATTERN_BLOCK
    return data[start - offset : last - offset + 1]


def pattern_ref(seed: int, size: int) -> Ref:
    """Return a reference to generated content; ValueError for a bad seed or size."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError("a generated file's seed must be an integer")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_PATTERN_SIZE:
        raise ValueError(f"a generated file's size must be an integer in 0..{MAX_PATTERN_SIZE}")
    return {"pattern": seed, "size": size}


def put(sim: Simulator, data: bytes) -> Ref:
    """Store `data`; return its reference."""
    return store(sim).put(data)


def read(sim: Simulator, ref: Ref) -> bytes:
    """Return the bytes a reference stands for."""
    return store(sim).get(ref)


def read_range(sim: Simulator, ref: Ref, start: int, end: int) -> bytes:
    """Return bytes `start`..`end` (inclusive) of referenced content, generating no more."""
    if "pattern" in ref and int(ref["size"]) > _CACHE_LIMIT:
        return pattern_bytes(int(ref["pattern"]), int(ref["size"]), start, end)
    return store(sim).get(ref)[start : end + 1]


def size(ref: Ref | None) -> int:
    """Return the size of referenced content (0 for none)."""
    return int(ref.get("size", 0)) if ref else 0
