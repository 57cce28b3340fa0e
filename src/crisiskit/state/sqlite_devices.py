"""Device states in SQLite: append a change, read the history, the current holds.

Called by `SQLiteStore`, which validates arguments and holds the transaction.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from crisiskit.state.api import DeviceEvent

_SELECT = (
    "SELECT id, asset_tag, state, reason, commune, run_id, operator, at FROM device_states"
)


def append(
    conn: sqlite3.Connection,
    asset_tag: str,
    state: str,
    reason: str | None,
    commune: str | None,
    run_id: int | None,
    operator: str,
    at: str,
) -> DeviceEvent:
    """Append one state change (inside the caller's transaction) and return it."""
    cur = conn.execute(
        "INSERT INTO device_states (asset_tag, state, reason, commune, run_id, operator, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (asset_tag, state, reason, commune, run_id, operator, at),
    )
    assert cur.lastrowid is not None
    return DeviceEvent(cur.lastrowid, asset_tag, state, reason, commune, run_id, operator, at)


def events(conn: sqlite3.Connection, asset_tag: str | None) -> list[DeviceEvent]:
    """Return the state changes, oldest first, of one device or of all."""
    sql, args = _SELECT, list[Any]()
    if asset_tag is not None:
        sql += " WHERE asset_tag = ?"
        args.append(asset_tag)
    return [DeviceEvent(*row) for row in conn.execute(sql + " ORDER BY id", args)]


def holds(conn: sqlite3.Connection) -> dict[str, DeviceEvent]:
    """Return the latest change of each device whose current state is a hold."""
    rows = conn.execute(
        f"{_SELECT} WHERE id IN (SELECT MAX(id) FROM device_states GROUP BY asset_tag)"
        " AND state != 'available' ORDER BY asset_tag"
    )
    return {row[1]: DeviceEvent(*row) for row in rows}
