"""QuickXorHash against published test vectors and an independent reading of Microsoft's spec."""

from __future__ import annotations

import base64
import random

import pytest

from crisiskit.sim.quickxor import quickxor_b64

# (input base64, QuickXorHash base64): test vectors published with rclone's OneDrive backend
# (backend/onedrive/quickxorhash/quickxorhash_test.go), sizes 0-16, 20, 64 and 333 bytes;
# and "hello world" as given by the quickxorhash package (PyPI) and the Rust crate's docs.
VECTORS = [
    ("", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
    ("Sg==", "SgAAAAAAAAAAAAAAAQAAAAAAAAA="),
    ("tbQ=", "taAFAAAAAAAAAAAAAgAAAAAAAAA="),
    ("0pZP", "0rDEEwAAAAAAAAAAAwAAAAAAAAA="),
    ("jRRDVA==", "jaDAEKgAAAAAAAAABAAAAAAAAAA="),
    ("eAV52qE=", "eChAHrQRCgAAAAAABQAAAAAAAAA="),
    ("luBZlaT6", "lgBHFipBCn0AAAAABgAAAAAAAAA="),
    ("qaApEj66lw==", "qQBFCiTgA11cAgAABwAAAAAAAAA="),
    ("/aNzzCFPS/A=", "/RjFHJgRgicsAR4ACAAAAAAAAAA="),
    ("n6Neh7p6fFgm", "nxiFFw6hCz3wAQsmCQAAAAAAAAA="),
    ("J9iPGCbfZSTNyw==", "J8DGIzBggm+UgQTNUgYAAAAAAAA="),
    ("i+UZyUGJKh+ISbk=", "iyhHBpIRhESo4AOIQ0IuAAAAAAA="),
    ("h490d57Pqz5q2rtT", "h3gEHe7giWeswgdq3MYupgAAAAA="),
    ("vPgoDjOfO6fm71RxLw==", "vMAHChwwg0/s4BTmdQcV4vACAAA="),
    ("XoJ1AsoR4fDYJrDqYs4=", "XhBEHQSgjAiEAx7YPgEs1CEGZwA="),
    ("gQaybEqS/4UlDc8e4IJm", "gDCALNigBEn8oxAlZ8AzPAAOQZg="),
    ("2fuxhBJXtpWFe8dOfdGeHw==", "O9tHLAghgSvYohKFyMMxnNCHaHg="),
    ("T6LYJIfDh81JrAK309H2JMJTXis=", "zBTHrspn3mEcohlJdIUAbjGNaNg="),
    (
        "Mb7EGva2rEE5fENDL85P+BsapHEEjv2/siVhKjvAQe02feExVOQSkfmuYzU/kTF1MaKjPmKF/w+cbvwfdWL8aQ==",
        "n1anP5NfvD4XDYWIeRPW3ZkPv1Y=",
    ),
    (
        "w0LGhqU1WXFbdavqDE4kAjEzWLGGzmTNikzqnsiXHx2KRReKVTxkv27u3UcEz9+lbMvYl4xFf2Z4"
        "aE1xRBBNd1Ke5C0zToSaYw5o4B/7X99nKK2/XaUX1byLow2aju2XJl2OpKpJg+tSJ2fmjIJTkfuY"
        "Uz574dFX6/VXxSxwGH/xQEAKS5TCsBK3CwnuG1p5SAsQq3gGVozDWyjEBcWDMdy8/AIFrj/y03Lf"
        "c/RNRCQTAfZbnf2QwV7sluw4fH3XJr07UoD0YqN+7XZzidtrwqMY26fpLZnyZjnBEt1FAZWO7RnK"
        "G5asg8xRk9YaDdedXdQSJAOy6bWEWlABj+tVAigBxavaluUH8LOj+yfCFldJjNLdi90fVHkUD/m4"
        "Mr5OtmupNMXPwuG3EQlqWUVpQoYpUYKLsk7a5Mvg6UFkiH596y5IbJEVCI1Kb3D1",
        "e3+wo77iKcILiZegnzyUNcjCdoQ=",
    ),
    (base64.b64encode(b"hello world").decode(), "aCgDG9jwBhDc4Q1yawMZAAAAAAA="),
]


@pytest.mark.parametrize(("data", "expected"), VECTORS)
def test_published_vectors(data: str, expected: str) -> None:
    assert quickxor_b64(base64.b64decode(data)) == expected


def spec_quickxor(data: bytes) -> str:
    """Microsoft's description, literally: byte i XORed in at bit 11·i of a rotating 160-bit
    block; the length (little-endian, 64 bits) XORed into the block's last 8 bytes."""
    block = bytearray(20)
    for i, byte in enumerate(data):
        if not byte:
            continue
        bit = (i * 11) % 160
        for k in range(8):
            if byte >> k & 1:
                pos = (bit + k) % 160
                block[pos // 8] ^= 1 << (pos % 8)
    for k, b in enumerate(len(data).to_bytes(8, "little")):
        block[12 + k] ^= b
    return base64.b64encode(bytes(block)).decode()


@pytest.mark.parametrize("size", [1, 159, 160, 161, 319, 320, 1000, 4096, 655_359, 655_361])
def test_matches_the_spec_on_random_data(size: int) -> None:
    # The fast path folds the data in 160-byte blocks and 640 KiB chunks: sizes around both.
    rng = random.Random(size)
    if size <= 5000:
        data = rng.randbytes(size)
    else:  # sparse, so the bit-by-bit reference stays quick; dense around the block edges
        sparse = bytearray(size)
        edges = [p for e in (160, 655_360) for p in range(e - 200, e + 200) if 0 <= p < size]
        for pos in edges + rng.sample(range(size), 3000):
            sparse[pos] = rng.randrange(1, 256)
        data = bytes(sparse)
    assert quickxor_b64(data) == spec_quickxor(data)
