"""QuickXorHash, the content hash SharePoint and OneDrive for Business report for files.

Microsoft describes it (OneDrive developer docs, "Code snippets: QuickXorHash algorithm", and
the Graph `hashes` resource, which links it) as a 160-bit block: byte `i` of the content is
XORed into the block at bit offset `11 * i` (rotating, modulo 160); at the end the content
length, as a little-endian 64-bit integer, is XORed into the block's last 8 bytes; the 20 bytes
of the block, little-endian, are the hash, reported in base64 as `file.hashes.quickXorHash`.

Bytes 160 apart land on the same bit offset (11 * 160 is a multiple of 160), so the content is
first folded into 160 bytes by XOR, using big integers (C speed), and only those 160 bytes are
placed one by one: a few MB hash in milliseconds.
"""

from __future__ import annotations

import base64

WIDTH_BITS = 160
SHIFT = 11
_MASK = (1 << WIDTH_BITS) - 1
_FOLD = WIDTH_BITS  # bytes per fold block: byte i and byte i + 160 share a bit offset
_FOLD_BITS = _FOLD * 8
_CHUNK = _FOLD * 4096  # fold 640 KiB at a time


def _fold(data: bytes | memoryview) -> bytes:
    """XOR every 160-byte block of `data` together (the last block zero-padded)."""
    view = memoryview(data)
    acc = 0
    for start in range(0, len(view), _CHUNK):
        chunk = bytes(view[start : start + _CHUNK])
        if len(chunk) % _FOLD:
            chunk += bytes(_FOLD - len(chunk) % _FOLD)
        value = int.from_bytes(chunk, "little")
        width = len(chunk) * 8
        # Halve the chunk while it holds an even number of blocks, then XOR the rest.
        while width > _FOLD_BITS and (width // _FOLD_BITS) % 2 == 0:
            width //= 2
            value = (value & ((1 << width) - 1)) ^ (value >> width)
        while width > _FOLD_BITS:
            width -= _FOLD_BITS
            value = (value & ((1 << width) - 1)) ^ (value >> width)
        acc ^= value
    return acc.to_bytes(_FOLD, "little")


def quickxor_digest(data: bytes | memoryview) -> bytes:
    """Return the 20-byte QuickXorHash of `data`."""
    folded = _fold(data)
    block = 0
    for index, byte in enumerate(folded):
        if byte:
            offset = (index * SHIFT) % WIDTH_BITS
            value = byte << offset
            block ^= (value | (value >> WIDTH_BITS)) & _MASK
    block ^= len(data) << (WIDTH_BITS - 64)
    return (block & _MASK).to_bytes(WIDTH_BITS // 8, "little")


def quickxor_b64(data: bytes | memoryview) -> str:
    """Return the QuickXorHash of `data` as Graph reports it (base64)."""
    return base64.b64encode(quickxor_digest(data)).decode()
