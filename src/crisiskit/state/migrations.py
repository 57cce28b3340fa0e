"""Numbered schema migrations of the state database, applied in order on every open.

A migration is never edited once released: a schema change is a new entry appended to
`MIGRATIONS` with the next number. Each migration runs in its own transaction together with the
row recording it in `schema_migrations`, so a crash leaves the database at a migration boundary.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from crisiskit.errors import OperationFailed


class SchemaTooNew(OperationFailed):
    """The state database was written by a newer crisiskit than this one."""


@dataclass(frozen=True)
class Migration:
    """One schema change: its number, a short name, and the SQL that performs it."""

    number: int
    name: str
    sql: str


MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "initial: runs, steps, objects, loans, audit chain",
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            commune TEXT NOT NULL,
            playbook TEXT,
            kind TEXT NOT NULL,
            operator TEXT NOT NULL,
            pid INTEGER,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            outcome TEXT,
            summary_json TEXT
        );
        CREATE INDEX runs_commune ON runs(commune, id);

        CREATE TABLE steps (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            seq INTEGER NOT NULL,
            phase TEXT NOT NULL,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            action TEXT NOT NULL,
            status TEXT NOT NULL,
            graph_id TEXT,
            detail TEXT,
            at TEXT NOT NULL,
            UNIQUE (run_id, seq)
        );

        CREATE TABLE objects (
            commune TEXT NOT NULL,
            kind TEXT NOT NULL,
            natural_key TEXT NOT NULL,
            graph_id TEXT NOT NULL,
            run_id INTEGER REFERENCES runs(id),
            created_at TEXT NOT NULL,
            PRIMARY KEY (commune, kind, natural_key)
        );

        CREATE TABLE loans (
            id INTEGER PRIMARY KEY,
            commune TEXT NOT NULL,
            device_kind TEXT NOT NULL CHECK (device_kind IN ('laptop', 'phone')),
            asset_tag TEXT NOT NULL,
            upn TEXT NOT NULL,
            run_id INTEGER REFERENCES runs(id),
            loaned_at TEXT NOT NULL,
            returned_at TEXT
        );
        -- An asset is lent to at most one holder at a time; returned loans stay as history.
        CREATE UNIQUE INDEX loans_one_open_per_asset ON loans(asset_tag)
            WHERE returned_at IS NULL;
        CREATE INDEX loans_commune ON loans(commune);

        CREATE TABLE audit (
            seq INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            operator TEXT NOT NULL,
            commune TEXT,
            action TEXT NOT NULL,
            target TEXT,
            outcome TEXT NOT NULL,
            request_id TEXT,
            details_json TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE INDEX audit_commune ON audit(commune, seq);
        -- The last entry's seq and hash, updated in the same transaction as each append, so
        -- that deleting entries at the end of the chain is detected.
        CREATE TABLE audit_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            seq INTEGER NOT NULL,
            hash TEXT NOT NULL
        );
        -- The audit log is append-only for crisiskit itself; these triggers stop an accidental
        -- UPDATE or DELETE (a deliberate tamperer can drop them: `audit verify` is the defence).
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """,
    ),
    Migration(
        2,
        "device states: holds on lent stock (to wipe, maintenance, lost, retired)",
        """
        -- Every change of a device's runtime state, appended (the latest row per asset is its
        -- state; 'available' lifts a hold). The inventory's own status and the open loans
        -- complete the picture (crisiskit.devices).
        CREATE TABLE device_states (
            id INTEGER PRIMARY KEY,
            asset_tag TEXT NOT NULL,
            state TEXT NOT NULL
                CHECK (state IN ('available', 'to_wipe', 'maintenance', 'lost', 'retired')),
            reason TEXT,
            commune TEXT,
            run_id INTEGER REFERENCES runs(id),
            operator TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX device_states_asset ON device_states(asset_tag, id);
        """,
    ),
    Migration(
        3,
        "reservations: devices and licence seats held by activations in progress",
        """
        -- What a run in progress has claimed and not yet turned into a loan or an assigned
        -- licence: its devices (one row each; a device is reserved once) and the seats it
        -- still has to assign. Deleted when the run ends, or when its process is found dead.
        CREATE TABLE reservations (
            id INTEGER PRIMARY KEY,
            holder TEXT NOT NULL,
            commune TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('device', 'seats')),
            asset_tag TEXT,
            sku TEXT,
            seats INTEGER,
            pid INTEGER NOT NULL,
            process_start TEXT,
            at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX reservations_device ON reservations(asset_tag)
            WHERE kind = 'device';
        CREATE INDEX reservations_holder ON reservations(holder);
        """,
    ),
]


def latest_version(migrations: list[Migration] | None = None) -> int:
    """Return the number of the last migration this code knows."""
    return max(m.number for m in (migrations if migrations is not None else MIGRATIONS))


def _statements(sql: str) -> list[str]:
    """Split a script into complete statements (CREATE TRIGGER bodies stay whole)."""
    statements: list[str] = []
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(
        not ln.strip() or ln.strip().startswith("--") for ln in buffer.splitlines()
    ):
        raise ValueError(f"incomplete SQL statement in migration: {buffer.strip()[:80]!r}")
    return statements


def applied(conn: sqlite3.Connection) -> set[int]:
    """Return the numbers of the migrations already applied to this database."""
    return {row[0] for row in conn.execute("SELECT number FROM schema_migrations")}


def migrate(
    conn: sqlite3.Connection, where: str, migrations: list[Migration] | None = None
) -> list[int]:
    """Apply the pending migrations in order; return the numbers applied by this call.

    `conn` must be in autocommit mode (isolation_level=None): each migration opens its own
    IMMEDIATE transaction, so two processes opening a fresh database at once apply each
    migration exactly once.
    """
    chosen = migrations if migrations is not None else MIGRATIONS
    migrations = sorted(chosen, key=lambda m: m.number)
    numbers = [m.number for m in migrations]
    if len(set(numbers)) != len(numbers):
        raise ValueError("two migrations share a number")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    known = set(numbers)
    newer = sorted(applied(conn) - known)
    if newer:
        raise SchemaTooNew(
            f"{where} was written by a newer crisiskit (schema migration {newer[-1]}, this "
            f"version knows up to {max(known)}); upgrade crisiskit to use it"
        )
    done: list[int] = []
    for migration in migrations:
        if migration.number in applied(conn):
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have applied it while we waited for the write lock.
            if migration.number in applied(conn):
                conn.execute("COMMIT")
                continue
            for statement in _statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (number, name, applied_at) VALUES (?, ?, ?)",
                (migration.number, migration.name, datetime.now(UTC).isoformat()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        done.append(migration.number)
    return done
