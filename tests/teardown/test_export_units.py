"""The export's pure parts: QuickXorHash agrees with the simulator's, names are safe and
stable, the manifest's digest is SHA256SUMS's."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crisiskit.export.layout import safe_name, unique_names
from crisiskit.export.manifest import verify, write_manifest
from crisiskit.export.quickxor import QuickXor
from crisiskit.export.sink import ExportDir, FileRecord
from crisiskit.sim.quickxor import quickxor_b64


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2000), st.lists(st.integers(1, 400), max_size=8))
def test_incremental_quickxor_agrees_with_the_simulators(data: bytes, cuts: list[int]) -> None:
    qx = QuickXor()
    rest = data
    for n in cuts:
        qx.update(rest[:n])
        rest = rest[n:]
    qx.update(rest)
    assert qx.b64() == quickxor_b64(data)


def test_quickxor_of_a_few_megabytes_in_odd_chunks() -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    qx = QuickXor()
    for start in range(0, len(data), 65_537):
        qx.update(data[start : start + 65_537])
    assert qx.b64() == quickxor_b64(data)


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("Boîte de réception", "Boîte de réception"),
        ("a/b\\c:d*e?f\"g<h>i|j", "a_b_c_d_e_f_g_h_i_j"),
        ("  .hidden. ", "hidden"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("", "sans-nom"),
        ("..", "sans-nom"),
        ("tab\there\nnew", "tab_here_new"),
        ("bidi\u202eevil", "bidi_evil"),
        ("é" * 100, "é" * 60),
    ],
)
def test_safe_names(raw: str, safe: str) -> None:
    assert safe_name(raw) == safe


def test_unique_names_are_stable_and_case_insensitive() -> None:
    first = unique_names([("id2", "Projets"), ("id1", "projets"), ("id3", "Autre")])
    second = unique_names([("id3", "Autre"), ("id1", "projets"), ("id2", "Projets")])
    assert first == second
    assert first["id3"] == "Autre"
    assert first["id1"] != first["id2"] and first["id1"].startswith("projets-")


def test_the_digest_is_the_sha256_of_sha256sums(tmp_path: Path) -> None:
    sink = ExportDir(tmp_path / "x")
    sink.put("a/b.txt", b"hello", kind="mail", owner="u", source_id="1")
    sink.put("c.txt", b"world", kind="files", owner="g", source_id="2")
    manifest = write_manifest(sink.root, list(sink.done.values()), [], {"commune": "t"})
    sums = (sink.root / "SHA256SUMS").read_bytes()
    assert manifest["digest"] == hashlib.sha256(sums).hexdigest()
    assert sums.decode().splitlines()[0] == f"{hashlib.sha256(b'hello').hexdigest()}  a/b.txt"
    sink.forget_progress()
    assert verify(sink.root).ok
    os.symlink("/etc/passwd", sink.root / "a" / "link")
    found = verify(sink.root)
    assert not found.ok and found.extra == ["a/link"]


def test_export_paths_cannot_escape_the_folder(tmp_path: Path) -> None:
    sink = ExportDir(tmp_path / "x")
    for bad in ("../out", "/abs", "a/../../b", "manifest.json", "x.crisiskit-part", ""):
        with pytest.raises(ValueError):
            sink.put(bad, b"", kind="k", owner="o", source_id="s")
    assert FileRecord("p", 1, "h", "k", "o", "s").to_json() == {
        "path": "p", "size": 1, "sha256": "h", "kind": "k", "owner": "o", "source_id": "s"}


def test_warm_imports_what_the_exporters_need_in_a_thread() -> None:
    # In a fresh interpreter: none of them is imported before, all of them after.
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from crisiskit.export.warm import MODULES, warm\n"
        "before = [m for m in MODULES if m in sys.modules]\n"
        "thread = warm()\n"
        "assert thread.daemon\n"
        "thread.join(60)\n"
        "print(before, [m for m in MODULES if m not in sys.modules])\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[] []"
