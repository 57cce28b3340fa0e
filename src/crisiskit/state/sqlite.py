"""The embedded `StateStore`, the default: one SQLite file, `$CRISISKIT_HOME/state.db`.

Runs, steps, the created-object journal, device loans and the audit chain, in WAL mode.
Every write method is one transaction committed before it returns (or part of an explicit
`transaction()` block), so a process killed at any instant leaves whole rows or none.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from crisiskit.state import sqlite_audit as audit_rows
from crisiskit.state import sqlite_devices as device_rows
from crisiskit.state.api import (
    HOLD_STATES,
    DeviceEvent,
    HoldState,
    ObjectRecord,
    Run,
    StateError,
    StepRecord,
)
from crisiskit.state.audit import AuditEntry, canonical_json, ensure_no_secret, verify_chain
from crisiskit.state.lock import commune_lock
from crisiskit.state.migrations import Migration, migrate
from crisiskit.state.sqlite_loans import Loans
from crisiskit.state.sqlite_open import own_database_file, when_free
from crisiskit.state.sqlite_reservations import Reservations

DB_NAME = "state.db"
BUSY_TIMEOUT_MS = 10_000


def _now_iso(clock: Callable[[], datetime]) -> str:
    moment = clock()
    if moment.tzinfo is None:
        raise ValueError("the store's clock must return aware datetimes")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _json_or_none(value: Mapping[str, Any] | None, where: str) -> str | None:
    if value is None:
        return None
    ensure_no_secret(value, where)
    try:
        return canonical_json(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where} is not JSON-serialisable: {exc}") from None


class SQLiteStore(Loans, Reservations):
    """Read and write crisiskit's local state in SQLite (see the module docstring)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        home: Path,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._conn = conn
        self.home = home
        self.path = home / DB_NAME
        self._clock = clock or (lambda: datetime.now(UTC))
        # The engine may journal from worker threads; one connection, one writer at a time.
        self._mutex = threading.RLock()
        self._depth = 0

    # ---------------------------------------------------------------- lifecycle

    @classmethod
    def open(
        cls,
        home: Path,
        *,
        clock: Callable[[], datetime] | None = None,
        migrations: list[Migration] | None = None,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> SQLiteStore:
        """Open (creating if needed) `home/state.db` and apply pending migrations.

        A write waits up to `busy_timeout_ms` for another process's write to finish.
        """
        home = Path(home)
        path = home / DB_NAME
        own_database_file(home, path)
        try:
            conn = sqlite3.connect(
                path,
                timeout=busy_timeout_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StateError(f"cannot open the state database {path}: {exc}") from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            when_free(lambda: conn.execute("PRAGMA journal_mode = WAL"), path)
            # In WAL mode, NORMAL keeps every committed transaction across a killed process
            # and the database consistent across a power loss (which may drop the last few).
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            when_free(lambda: migrate(conn, str(path), migrations), path)
        except StateError:
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StateError(f"the state database {path} is unusable: {exc}") from None
        except BaseException:
            conn.close()
            raise
        return cls(conn, home, clock=clock)

    def close(self) -> None:
        """Close the database connection."""
        with self._mutex:
            self._conn.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group the writes made inside the block into one transaction (nesting joins it)."""
        with self._mutex:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            try:
                when_free(lambda: self._conn.execute("BEGIN IMMEDIATE"), self.path)
            except sqlite3.OperationalError as exc:
                raise StateError(f"the state database {self.path} is unavailable: {exc}") from None
            self._depth = 1
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError):
                    # e.g. "database is locked" after the busy timeout, or a full disk.
                    message = f"cannot write the state database {self.path}: {exc}"
                    raise StateError(message) from None
                raise
            finally:
                self._depth = 0

    def schema_version(self) -> int:
        """Return the number of the last migration applied."""
        row = self._conn.execute("SELECT MAX(number) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def commune_lock(self, commune: str) -> AbstractContextManager[Path]:
        """Return the exclusive lock of `commune` (see `crisiskit.state.lock.commune_lock`)."""
        return commune_lock(self.home, commune)

    def now(self) -> str:
        """Return the store's current time as stored (ISO 8601, UTC)."""
        return _now_iso(self._clock)

    # ---------------------------------------------------------------- runs and steps

    def start_run(
        self,
        commune: str,
        kind: str,
        operator: str,
        playbook: str | None = None,
    ) -> int:
        """Record the start of a run and return its id."""
        with self.transaction():
            cur = self._conn.execute(
                "INSERT INTO runs (commune, playbook, kind, operator, pid, started_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (commune, playbook, kind, operator, os.getpid(), self.now()),
            )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def finish_run(
        self, run_id: int, outcome: str, summary: Mapping[str, Any] | None = None
    ) -> None:
        """Record the end of a run, its outcome (e.g. 'succeeded', 'failed') and a summary."""
        summary_json = _json_or_none(summary, "run summary")
        with self.transaction():
            cur = self._conn.execute(
                "UPDATE runs SET finished_at = ?, outcome = ?, summary_json = ? WHERE id = ?",
                (self.now(), outcome, summary_json, run_id),
            )
            if cur.rowcount != 1:
                raise StateError(f"no run {run_id} in the state database")

    def run(self, run_id: int) -> Run | None:
        """Return one run, or None."""
        row = self._conn.execute(f"{_RUN_SELECT} WHERE id = ?", (run_id,)).fetchone()
        return _run(row) if row else None

    def runs(self, commune: str | None = None, limit: int | None = None) -> list[Run]:
        """Return runs, most recent first, optionally of one commune."""
        sql, args = _RUN_SELECT, list[Any]()
        if commune is not None:
            sql += " WHERE commune = ?"
            args.append(commune)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_run(row) for row in self._conn.execute(sql, args)]

    def unfinished_runs(self, commune: str) -> list[Run]:
        """Return the runs of `commune` that never recorded an end (killed or crashed)."""
        sql = f"{_RUN_SELECT} WHERE commune = ? AND finished_at IS NULL ORDER BY id"
        return [_run(row) for row in self._conn.execute(sql, (commune,))]

    def add_step(
        self,
        run_id: int,
        phase: str,
        kind: str,
        key: str,
        action: str,
        status: str,
        graph_id: str | None = None,
        detail: str | Mapping[str, Any] | None = None,
    ) -> int:
        """Journal one step of a run and return its sequence number within the run."""
        if isinstance(detail, Mapping):
            detail = _json_or_none(detail, "step detail")
        else:
            ensure_no_secret(detail, "step detail")
        with self.transaction():
            (seq,) = self._conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM steps WHERE run_id = ?", (run_id,)
            ).fetchone()
            try:
                self._conn.execute(
                    "INSERT INTO steps (run_id, seq, phase, kind, key, action, status, graph_id,"
                    " detail, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, seq, phase, kind, key, action, status, graph_id, detail, self.now()),
                )
            except sqlite3.IntegrityError:
                raise StateError(f"no run {run_id} in the state database") from None
        return int(seq)

    def steps(self, run_id: int) -> list[StepRecord]:
        """Return the steps of a run in order."""
        rows = self._conn.execute(
            "SELECT id, run_id, seq, phase, kind, key, action, status, graph_id, detail, at"
            " FROM steps WHERE run_id = ? ORDER BY seq",
            (run_id,),
        )
        return [StepRecord(*row) for row in rows]

    # ---------------------------------------------------------------- created-object journal

    def record_object(
        self, run_id: int | None, commune: str, kind: str, natural_key: str, graph_id: str
    ) -> None:
        """Journal the Graph id of an object just created (call before any wait that follows).

        Recording the same object again is a no-op; a different id for the same natural key
        (the object was recreated) replaces the old one.
        """
        if not graph_id:
            raise ValueError("record_object needs the Graph id of the created object")
        with self.transaction():
            self._conn.execute(
                "INSERT INTO objects (commune, kind, natural_key, graph_id, run_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (commune, kind, natural_key) DO UPDATE SET"
                "   graph_id = excluded.graph_id, run_id = excluded.run_id,"
                "   created_at = excluded.created_at"
                " WHERE objects.graph_id != excluded.graph_id",
                (commune, kind, natural_key, graph_id, run_id, self.now()),
            )

    def objects(self, commune: str, kind: str | None = None) -> list[ObjectRecord]:
        """Return the journaled objects of a commune, optionally of one kind."""
        sql = (
            "SELECT commune, kind, natural_key, graph_id, run_id, created_at FROM objects"
            " WHERE commune = ?"
        )
        args: list[Any] = [commune]
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        sql += " ORDER BY kind, natural_key"
        return [ObjectRecord(*row) for row in self._conn.execute(sql, args)]

    def object_id(self, commune: str, kind: str, natural_key: str) -> str | None:
        """Return the journaled Graph id of one object, or None."""
        row = self._conn.execute(
            "SELECT graph_id FROM objects WHERE commune = ? AND kind = ? AND natural_key = ?",
            (commune, kind, natural_key),
        ).fetchone()
        return str(row[0]) if row else None

    def forget_object(self, commune: str, kind: str, natural_key: str) -> bool:
        """Remove an object from the journal (after it is deleted); tell whether it was there."""
        with self.transaction():
            cur = self._conn.execute(
                "DELETE FROM objects WHERE commune = ? AND kind = ? AND natural_key = ?",
                (commune, kind, natural_key),
            )
        return cur.rowcount > 0

    # ---------------------------------------------------------------- devices (sqlite_devices.py)

    def set_device_state(
        self,
        asset_tag: str,
        state: HoldState,
        *,
        operator: str,
        reason: str | None = None,
        commune: str | None = None,
        run_id: int | None = None,
    ) -> DeviceEvent:
        """Record a device's new runtime state ("available" lifts a hold, e.g. after a wipe)."""
        if state not in HOLD_STATES:
            raise ValueError(f"unknown device state {state!r}")
        ensure_no_secret(reason, "device state reason")
        with self.transaction():
            return device_rows.append(
                self._conn, asset_tag, state, reason, commune, run_id, operator, self.now()
            )

    def device_events(self, asset_tag: str | None = None) -> list[DeviceEvent]:
        """Return the state changes of one device (or of all), oldest first."""
        return device_rows.events(self._conn, asset_tag)

    def device_holds(self) -> dict[str, DeviceEvent]:
        """Return the latest change of every device currently held, by asset tag."""
        return device_rows.holds(self._conn)

    # ---------------------------------------------------------------- audit (sqlite_audit.py)

    def audit_append(
        self,
        operator: str,
        commune: str | None,
        action: str,
        target: str | None,
        outcome: str,
        request_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append an entry to the hash-chained audit log and return it.

        Raises ValueError if a `Secret` is anywhere in the arguments: the audit log is
        exported and shown, and must never hold a secret.
        """
        details = dict(details or {})
        for name, value in (
            ("operator", operator),
            ("commune", commune),
            ("action", action),
            ("target", target),
            ("outcome", outcome),
            ("request_id", request_id),
        ):
            ensure_no_secret(value, f"audit {name}")
            if value is not None and not isinstance(value, str):
                raise TypeError(f"audit {name} must be a string, not {type(value).__name__}")
        details_json = _json_or_none(details, "audit details")
        assert details_json is not None
        with self.transaction():
            return audit_rows.append(
                self._conn, self.now(), operator, commune, action, target, outcome,
                request_id, details_json,
            )

    def audit_entries(
        self, commune: str | None = None, *, limit: int | None = None
    ) -> list[AuditEntry]:
        """Return audit entries in chain order; with `limit`, only the last `limit` of them."""
        return audit_rows.entries(self._conn, commune, limit)

    def audit_count(self, commune: str | None = None) -> int:
        """Return the number of entries in the audit log, optionally of one commune."""
        return audit_rows.count(self._conn, commune)

    def audit_head(self) -> tuple[int, str] | None:
        """Return (seq, hash) of the last audit entry, or None if the log is empty.

        Written down outside this machine (the handover sheet prints it), it lets
        `audit_verify(anchors=...)` detect even a chain rewritten from end to end.
        """
        return audit_rows.head(self._conn)

    def audit_verify(self, anchors: Iterable[tuple[int, str]] = ()) -> list[str]:
        """Check the whole audit chain; return the problems found (empty means intact).

        Each anchor (seq, hash), recorded earlier outside the database, must still match; the
        hash may be shortened to a prefix of at least 16 hex digits (as printed on paper).
        """
        with self._mutex:
            # One read snapshot (WAL readers never wait for writers), so an append made by
            # another process meanwhile cannot look like a broken head.
            if not self._depth:
                self._conn.execute("BEGIN")
            try:
                rows = audit_rows.all_rows(self._conn)
                head = audit_rows.head(self._conn)
            finally:
                if not self._depth:
                    self._conn.execute("COMMIT")
        return verify_chain(rows, head) + audit_rows.check_anchors(rows, anchors)


_RUN_SELECT = (
    "SELECT id, commune, playbook, kind, operator, pid, started_at, finished_at, outcome,"
    " summary_json FROM runs"
)
def _run(row: tuple[Any, ...]) -> Run:
    run_id, commune, playbook, kind, operator, pid, started, finished, outcome, summary = row
    return Run(run_id, commune, playbook, kind, operator, pid, started, finished, outcome,
               json.loads(summary) if summary else None)


# The embedded default backend, under the name the commands open it by.
Store = SQLiteStore
