"""The credentials CSV: exact header, 0600 from the start, atomic, merge on rerun."""

from __future__ import annotations

import csv
import os
import stat
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from crisiskit.documents.credentials import (
    HEADER,
    CredentialRow,
    merge_credentials,
    read_credentials,
    update_credentials,
    write_credentials,
)
from crisiskit.errors import InputError
from crisiskit.secrets import MASK, Secret

T0 = datetime(2026, 11, 26, 20, 18, 49, tzinfo=UTC)


def row(upn: str, tap: str, name: str = "Jean Dupont (Aubagne)") -> CredentialRow:
    return CredentialRow(upn, name, Secret(tap), T0, T0 + timedelta(hours=8))


def test_file_has_exact_header_iso_utc_times_and_the_passes(tmp_path: Path) -> None:
    paris = timezone(timedelta(hours=1))
    rows = [
        row("jean.dupont@crise.example", "Tap+1/x=Q"),
        CredentialRow("zoe@crise.example", "Zoé Ñúñez, « DGS »", Secret("Zz9!zz9!"),
                      T0.astimezone(paris), T0.astimezone(paris) + timedelta(days=1)),
    ]
    path = write_credentials(tmp_path / "out" / "identifiants.csv", rows)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "upn,display_name,temporary_access_pass,valid_from,valid_until"
    assert lines[1] == (
        "jean.dupont@crise.example,Jean Dupont (Aubagne),Tap+1/x=Q,"
        "2026-11-26T20:18:49Z,2026-11-27T04:18:49Z"
    )
    parsed = list(csv.reader(lines))
    assert parsed[2] == ["zoe@crise.example", "Zoé Ñúñez, « DGS »", "Zz9!zz9!",
                         "2026-11-26T20:18:49Z", "2026-11-27T20:18:49Z"]
    assert MASK not in path.read_text(encoding="utf-8")


def test_mode_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        path = write_credentials(tmp_path / "identifiants.csv", [row("a@x", "secret1!")])
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # Rewriting a file someone loosened restores 0600.
    os.chmod(path, 0o644)
    write_credentials(path, [row("a@x", "secret2!")])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_never_a_window_with_wider_permissions(tmp_path: Path) -> None:
    """Watch the folder while writing: every file that ever appears is 0600."""
    seen: set[int] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for entry in os.scandir(tmp_path):
                try:
                    seen.add(stat.S_IMODE(entry.stat().st_mode))
                except FileNotFoundError:
                    pass

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        rows = [row(f"user{i}@x", f"pass{i}!x") for i in range(500)]
        for _ in range(15):
            write_credentials(tmp_path / "identifiants.csv", rows)
    finally:
        stop.set()
        watcher.join(timeout=10)
    assert seen == {0o600}


def test_read_back_round_trips_and_keeps_the_secret_masked(tmp_path: Path) -> None:
    rows = [row("a@x", "Aa1!aaaa"), row("b@x", "=HYPERLINK(1)", name="=cmd|' /C calc'!A0")]
    path = write_credentials(tmp_path / "c.csv", rows)
    # A display name that a spreadsheet would run as a formula is neutralised in the file...
    assert "'=cmd|" in path.read_text(encoding="utf-8")
    back = read_credentials(path)
    # ...and read back unchanged; the pass itself is never altered.
    assert back == rows
    assert back[1].temporary_access_pass.reveal() == "=HYPERLINK(1)"
    assert "Aa1!aaaa" not in repr(back)


def test_rerun_merges_reissued_passes_and_keeps_the_others(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    write_credentials(path, [row("a@x", "first-a"), row("b@x", "first-b"), row("c@x", "first-c")])
    update_credentials(path, [row("b@x", "second-b"), row("d@x", "first-d")])
    back = read_credentials(path)
    assert [(r.upn, r.temporary_access_pass.reveal()) for r in back] == [
        ("a@x", "first-a"), ("b@x", "second-b"), ("c@x", "first-c"), ("d@x", "first-d")]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert merge_credentials([], [row("a@x", "x")])[0].upn == "a@x"


def test_absent_file_reads_as_empty_and_update_creates_it(tmp_path: Path) -> None:
    path = tmp_path / "new.csv"
    assert read_credentials(path) == []
    update_credentials(path, [row("a@x", "p")])
    assert [r.upn for r in read_credentials(path)] == ["a@x"]


def test_two_passes_for_one_account_is_a_bug(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="a@x"):
        write_credentials(tmp_path / "c.csv", [row("a@x", "1"), row("a@x", "2")])
    assert not (tmp_path / "c.csv").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("upn,name\n", ":1: expected the header"),
        (",".join(HEADER) + "\na@x,A,p,2026-01-01T00:00:00Z\n", ":2: expected 5 fields"),
        (",".join(HEADER) + "\na@x,A,p,yesterday,2026-01-01T00:00:00Z\n", ":2: 'yesterday'"),
        (",".join(HEADER) + "\na@x,A,p,2026-01-01T00:00:00,2026-01-01T00:00:00Z\n",
         ":2: '2026-01-01T00:00:00' has no time zone"),
    ],
)
def test_damaged_file_is_reported_with_its_line(tmp_path: Path, content: str,
                                                message: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message) as info:
        read_credentials(path)
    assert str(path) in str(info.value)


def test_row_requires_a_secret_and_aware_times() -> None:
    with pytest.raises(TypeError, match="Secret"):
        CredentialRow("a@x", "A", "plain", T0, T0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone"):
        CredentialRow("a@x", "A", Secret("p"), datetime(2026, 1, 1), T0)
