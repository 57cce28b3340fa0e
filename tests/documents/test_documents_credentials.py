"""The credentials CSV: exact header, 0600 from the start, atomic, merge on rerun."""

from __future__ import annotations

import csv
import os
import shutil
import stat
import subprocess
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crisiskit.documents.credentials import (
    HEADER,
    CredentialRow,
    merge_credentials,
    read_credentials,
    update_credentials,
    write_credentials,
)
from crisiskit.errors import EXIT_PRECONDITION, InputError
from crisiskit.secrets import MASK, Secret
from crisiskit.state.files import UnsafePath

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
    # The pass column always starts with an apostrophe (text mark), then the exact pass.
    assert lines[1] == (
        "jean.dupont@crise.example,Jean Dupont (Aubagne),'Tap+1/x=Q,"
        "2026-11-26T20:18:49Z,2026-11-27T04:18:49Z"
    )
    parsed = list(csv.reader(lines))
    assert parsed[2] == ["zoe@crise.example", "Zoé Ñúñez, « DGS »", "'Zz9!zz9!",
                         "2026-11-26T20:18:49Z", "2026-11-27T20:18:49Z"]
    assert path.read_bytes().count(b"\r\n") == 3  # RFC 4180 line ends
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


# ---------------------------------------------------------------- spreadsheets (CSV injection)

# What a spreadsheet may run as a formula when a cell starts with it (OWASP, CSV injection):
# = + - @, tab, CR, LF, their full-width and small forms and the minus sign; and whitespace,
# which some applications trim before looking. Written here independently of the module.
RUNS = set("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20\u2212\ufe62\ufe63\ufe66\ufe6b")
HOSTILE = [
    "=1+1", "+1+1", "-2+3", "@SUM(1,2)", "=HYPERLINK(\"http://x\",\"y\")",
    "\uff1d1+1", "\uff0b1", "\t=1+1", " =1+1", "'=1+1", "'", "''", "a'b", "Aa1!aaaa",
    "=cmd|' /C calc'!A0", "-", "@", "\u22121",
]


def could_run(cell: str) -> bool:
    return bool(cell) and (cell[0] in RUNS or cell[0].isspace())


def test_no_cell_can_run_as_a_formula_and_every_pass_reads_back_exactly(
    tmp_path: Path,
) -> None:
    rows = [row(f"u{i}@crise.example", tap, name=tap or "x") for i, tap in enumerate(HOSTILE)]
    path = write_credentials(tmp_path / "credentials.csv", rows)
    with path.open(newline="", encoding="utf-8") as f:
        cells = list(csv.reader(f))
    assert tuple(cells[0]) == HEADER
    for record in cells[1:]:
        assert len(record) == 5
        for cell in record:
            assert not could_run(cell), f"a spreadsheet could run {cell!r}"
        # The documented reading rule: the pass is the cell without its first character.
        assert record[2].startswith("'")
    assert [c[2][1:] for c in cells[1:]] == HOSTILE
    back = read_credentials(path)
    assert [r.temporary_access_pass.reveal() for r in back] == HOSTILE
    assert [r.display_name for r in back] == [r.display_name for r in rows]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
                    min_size=1, max_size=12),
            st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
                    max_size=12),
        ),
        min_size=1, max_size=6,
    )
)
def test_any_pass_and_name_round_trip_and_never_run(
    tmp_path_factory: pytest.TempPathFactory, people: list[tuple[str, str]]
) -> None:
    path = tmp_path_factory.mktemp("prop") / "credentials.csv"
    rows = [row(f"u{i}@x", tap, name=name) for i, (tap, name) in enumerate(people)]
    write_credentials(path, rows)
    with path.open(newline="", encoding="utf-8") as f:
        cells = list(csv.reader(f))
    assert all(not could_run(cell) for record in cells for cell in record)
    assert read_credentials(path) == rows


def _soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.skipif(_soffice() is None, reason="LibreOffice is not installed")
def test_libreoffice_reads_every_cell_as_text_even_when_evaluating_formulas(
    tmp_path: Path,
) -> None:
    """Open the file as an operator would, formulas evaluated: every cell stays literal text."""
    rows = [row(f"u{i}@crise.example", tap, name=tap) for i, tap in enumerate(HOSTILE)
            if tap.strip()]
    source = write_credentials(tmp_path / "credentials.csv", rows)
    # CSV import: comma, double quote, UTF-8, from line 1, ..., token 13: evaluate formulas.
    infilter = ("CSV Text - txt - csv (StarCalc):"
                "44,34,76,1,,1033,false,false,false,false,false,-1,true")
    # CSV export of what the cells show: a formula would show its result, not its text.
    outfilter = "csv:Text - txt - csv (StarCalc):44,34,76,1,,1033,true,false,true,false,false"
    profile = (tmp_path / "lo-profile").as_uri()
    out = tmp_path / "shown"
    subprocess.run(
        [str(_soffice()), f"-env:UserInstallation={profile}", "--headless",
         f"--infilter={infilter}", "--convert-to", outfilter, "--outdir", str(out), str(source)],
        check=True, capture_output=True, timeout=120,
    )
    with (out / "credentials.csv").open(newline="", encoding="utf-8") as f:
        shown = list(csv.reader(f))
    with source.open(newline="", encoding="utf-8") as f:
        written = list(csv.reader(f))
    assert shown == written  # no cell was evaluated or altered by the spreadsheet
    assert [r[2][1:] for r in shown[1:]] == [r.temporary_access_pass.reveal() for r in rows]


# ---------------------------------------------------------------- links

def test_a_credentials_file_that_is_a_link_is_neither_read_nor_written(tmp_path: Path) -> None:
    other = tmp_path / "outputs" / "cassis" / "credentials.csv"
    write_credentials(other, [row("valerie.roux@x", "cassis-pass")])
    before = other.read_bytes()
    mine = tmp_path / "outputs" / "aubagne" / "credentials.csv"
    mine.parent.mkdir()
    mine.symlink_to(other)
    with pytest.raises(UnsafePath, match="symbolic link") as info:
        read_credentials(mine)
    assert info.value.exit_code == EXIT_PRECONDITION
    with pytest.raises(UnsafePath, match="symbolic link"):
        update_credentials(mine, [row("jean.martin@x", "aubagne-pass")])
    with pytest.raises(UnsafePath, match="symbolic link"):
        write_credentials(mine, [row("jean.martin@x", "aubagne-pass")])
    assert other.read_bytes() == before and mine.is_symlink()
    assert sorted(p.name for p in mine.parent.iterdir()) == ["credentials.csv"]  # no temp


def test_a_hard_linked_or_special_credentials_file_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "cassis.csv"
    write_credentials(other, [row("valerie.roux@x", "cassis-pass")])
    linked = tmp_path / "aubagne.csv"
    os.link(other, linked)
    with pytest.raises(UnsafePath, match="2 hard links"):
        read_credentials(linked)
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    with pytest.raises(UnsafePath, match="named pipe"):
        read_credentials(fifo)  # refused at once: opening a pipe never waits
    with pytest.raises(UnsafePath, match="named pipe"):
        write_credentials(fifo, [row("a@x", "p")])


def test_under_the_home_a_linked_folder_is_refused(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (home / "outputs").mkdir(parents=True)
    (home / "outputs" / "aubagne").symlink_to(elsewhere)
    path = home / "outputs" / "aubagne" / "credentials.csv"
    with pytest.raises(UnsafePath, match="outputs/aubagne: is a symbolic link"):
        write_credentials(path, [row("a@x", "p")], root=home)
    with pytest.raises(UnsafePath, match="symbolic link"):
        read_credentials(path, root=home)
    assert list(elsewhere.iterdir()) == []
    # Folders it creates below the home are owner-only.
    fresh = home / "outputs" / "cassis" / "credentials.csv"
    write_credentials(fresh, [row("a@x", "p")], root=home)
    assert stat.S_IMODE(os.stat(fresh.parent).st_mode) == 0o700
    assert read_credentials(fresh, root=home)[0].temporary_access_pass.reveal() == "p"
