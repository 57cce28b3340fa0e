"""Numbered migrations: applied once, in order, recorded; a newer database is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from crisiskit.errors import CrisisKitError
from crisiskit.state import MIGRATIONS, Migration, SchemaTooNew, StateError, Store
from crisiskit.state.migrations import latest_version


def _recorded(home: Path) -> list[int]:
    conn = sqlite3.connect(home / "state.db")
    try:
        return [r[0] for r in conn.execute("SELECT number FROM schema_migrations ORDER BY 1")]
    finally:
        conn.close()


def test_numbers_are_unique_and_increasing() -> None:
    numbers = [m.number for m in MIGRATIONS]
    assert numbers == sorted(set(numbers)) and numbers[0] == 1


def test_fresh_database_gets_every_migration_once(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        assert s.schema_version() == latest_version()
    with Store.open(tmp_path) as s:  # reopening applies nothing twice
        assert s.schema_version() == latest_version()
    assert _recorded(tmp_path) == [m.number for m in MIGRATIONS]


def test_appended_migration_is_applied_on_next_open_keeping_data(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        s.audit_append("alice", "aubagne", "activate", "aubagne", "ok")
    later = [*MIGRATIONS, Migration(latest_version() + 1, "exports",
                                    "CREATE TABLE exports (id INTEGER PRIMARY KEY, path TEXT);\n"
                                    "CREATE INDEX exports_path ON exports(path);")]
    with Store.open(tmp_path, migrations=later) as s:
        assert s.schema_version() == latest_version() + 1
        s._conn.execute("INSERT INTO exports (path) VALUES ('x')")
        assert s.audit_verify() == []
    # Older code meeting the newer database: a clear refusal, nothing changed.
    with pytest.raises(SchemaTooNew, match="newer crisiskit") as info:
        Store.open(tmp_path)
    assert isinstance(info.value, CrisisKitError)
    assert str(latest_version() + 1) in str(info.value)


def test_failing_migration_rolls_back_entirely(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    broken = [*MIGRATIONS, Migration(latest_version() + 1, "broken",
                                     "CREATE TABLE half (id INTEGER);\nTHIS IS NOT SQL;")]
    with pytest.raises(StateError):
        Store.open(tmp_path, migrations=broken)
    conn = sqlite3.connect(tmp_path / "state.db")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert "half" not in tables
    assert _recorded(tmp_path) == [m.number for m in MIGRATIONS]


def test_duplicate_migration_numbers_are_a_bug(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="share a number"):
        Store.open(tmp_path, migrations=[*MIGRATIONS, Migration(1, "again", "SELECT 1;")])


def test_corrupt_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "state.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StateError, match="state.db"):
        Store.open(tmp_path)
