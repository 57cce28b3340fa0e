"""Reservations of activations in progress, in SQLite: the devices and seats they claimed.

Several activations may run at once from one home (several communes, in one process or in
several). Each decides which devices to lend and whether the licence seats suffice in ONE
write transaction (`SQLiteStore.transaction()`, BEGIN IMMEDIATE) that re-reads the open loans,
the device holds and the other runs' reservations, then records its own: two runs can never
pick the same device (a unique index says so too), nor both start on seats that cover only
one. A reservation lasts while its run does: released at the end, or purged as soon as a
reader finds its process dead (same pid and process start time, so a reused pid is not taken
for the run). Seats are reserved as "still to assign" and counted down as licences are
assigned, so a run half done does not hold seats twice (once consumed in the tenant, once
reserved here).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from crisiskit.state.api import LoanConflict, Reservation


def process_start(pid: int) -> str | None:
    """Return a process's start time as the kernel counts it (None where unknown)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # Field 22, after the command name in parentheses (which may hold spaces).
    fields = raw.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def alive(pid: int, started: str | None) -> bool:
    """Tell whether the process that made a reservation still runs (not a reused pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, another user's
    now = process_start(pid)
    return started is None or now is None or now == started


_SELECT = (
    "SELECT holder, commune, kind, asset_tag, sku, seats, pid, process_start, at"
    " FROM reservations"
)


def live(conn: sqlite3.Connection, is_alive: Callable[[int, str | None], bool] = alive) -> list[
    Reservation
]:
    """Return the reservations of runs still alive; delete those of dead processes."""
    rows = [Reservation(*row) for row in conn.execute(_SELECT + " ORDER BY id")]
    dead = {r.holder for r in rows if not is_alive(r.pid, r.process_start)}
    for holder in dead:
        conn.execute("DELETE FROM reservations WHERE holder = ?", (holder,))
    return [r for r in rows if r.holder not in dead]


def reserve(
    conn: sqlite3.Connection,
    holder: str,
    commune: str,
    devices: Iterable[str],
    sku: str | None,
    seats: int,
    at: str,
) -> None:
    """Record what `holder` claims (its earlier claims are replaced)."""
    pid = os.getpid()
    started = process_start(pid)
    conn.execute("DELETE FROM reservations WHERE holder = ?", (holder,))
    for tag in devices:
        conn.execute(
            "INSERT INTO reservations (holder, commune, kind, asset_tag, seats, pid,"
            " process_start, at) VALUES (?, ?, 'device', ?, 0, ?, ?, ?)",
            (holder, commune, tag, pid, started, at),
        )
    if seats > 0:
        conn.execute(
            "INSERT INTO reservations (holder, commune, kind, sku, seats, pid, process_start,"
            " at) VALUES (?, ?, 'seats', ?, ?, ?, ?, ?)",
            (holder, commune, sku, seats, pid, started, at),
        )


def seats_assigned(conn: sqlite3.Connection, holder: str, count: int) -> None:
    conn.execute(
        "UPDATE reservations SET seats = MAX(0, seats - ?) WHERE holder = ? AND kind = 'seats'",
        (count, holder),
    )


def release(conn: sqlite3.Connection, holder: str) -> None:
    conn.execute("DELETE FROM reservations WHERE holder = ?", (holder,))


class _Store(Protocol):
    """What the mixin needs of `SQLiteStore`."""

    _conn: sqlite3.Connection

    def transaction(self) -> AbstractContextManager[None]: ...

    def now(self) -> str: ...


class Reservations:
    """The reservation operations of `SQLiteStore` (mixed in; see the module docstring)."""

    def reservations(self: _Store, *, excluding: str | None = None) -> list[Reservation]:
        """Return the live reservations of other runs (those of dead processes are purged)."""
        with self.transaction():
            found = live(self._conn)
        return [r for r in found if r.holder != excluding]

    def reserve(
        self: _Store, holder: str, commune: str, *, devices: Iterable[str], sku: str | None,
        seats: int,
    ) -> None:
        """Record the devices and seats an activation in progress claims (replacing earlier
        claims of the same holder). Call it inside the transaction that decided them."""
        try:
            with self.transaction():
                reserve(self._conn, holder, commune, list(devices), sku, seats, self.now())
        except sqlite3.IntegrityError:
            raise LoanConflict(
                f"a device {commune} would lend is reserved by another activation in progress; "
                "nothing was changed: run the command again"
            ) from None

    def seats_assigned(self: _Store, holder: str, count: int = 1) -> None:
        """Count down the seats a run still has to assign."""
        with self.transaction():
            seats_assigned(self._conn, holder, count)

    def release_reservations(self: _Store, holder: str) -> None:
        """Drop everything a run reserved (it ended)."""
        with self.transaction():
            release(self._conn, holder)
