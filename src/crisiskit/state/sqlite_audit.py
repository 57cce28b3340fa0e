"""The audit chain's rows in SQLite: append at the head, read back, check paper anchors.

Called by `SQLiteStore` (which validates what is appended and holds the transaction); the
hash chain itself is `crisiskit.state.audit`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from crisiskit.state.audit import GENESIS_HASH, AuditEntry, entry_hash

ANCHOR_MIN_HEX = 16
_SELECT = (
    "SELECT seq, at, operator, commune, action, target, outcome, request_id, details_json,"
    " prev_hash, hash FROM audit"
)


def head(conn: sqlite3.Connection) -> tuple[int, str] | None:
    """Return (seq, hash) of the last entry, or None if the log is empty."""
    row = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    return (int(row[0]), str(row[1])) if row else None


def append(
    conn: sqlite3.Connection,
    at: str,
    operator: str,
    commune: str | None,
    action: str,
    target: str | None,
    outcome: str,
    request_id: str | None,
    details_json: str,
) -> AuditEntry:
    """Append one entry after the head (inside the caller's transaction) and return it."""
    # Hash what verification will read back, not the caller's objects (tuples, etc.).
    details = json.loads(details_json)
    last = head(conn)
    # Continue from the head, not from MAX(seq): entries deleted at the end stay a gap.
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    digest = entry_hash(
        seq=seq,
        at=at,
        operator=operator,
        commune=commune,
        action=action,
        target=target,
        outcome=outcome,
        request_id=request_id,
        details=details,
        prev_hash=prev_hash,
    )
    conn.execute(
        "INSERT INTO audit (seq, at, operator, commune, action, target, outcome,"
        " request_id, details_json, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, at, operator, commune, action, target, outcome, request_id,
         details_json, prev_hash, digest),
    )
    conn.execute(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        (seq, digest),
    )
    return AuditEntry(seq, at, operator, commune, action, target, outcome, request_id,
                      details, prev_hash, digest)


def entries(
    conn: sqlite3.Connection, commune: str | None, limit: int | None
) -> list[AuditEntry]:
    """Return entries in chain order; with `limit`, only the last `limit` of them."""
    sql = _SELECT
    args: list[Any] = []
    if commune is not None:
        sql += " WHERE commune = ?"
        args.append(commune)
    if limit is not None:
        sql = f"SELECT * FROM ({sql} ORDER BY seq DESC LIMIT ?) ORDER BY seq"
        args.append(limit)
    else:
        sql += " ORDER BY seq"
    return [_entry(row) for row in conn.execute(sql, args)]


def count(conn: sqlite3.Connection, commune: str | None) -> int:
    if commune is None:
        return int(conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0])
    return int(conn.execute("SELECT COUNT(*) FROM audit WHERE commune = ?", (commune,))
               .fetchone()[0])


def all_rows(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """Return every row in chain order, as `verify_chain` reads them."""
    return conn.execute(f"{_SELECT} ORDER BY seq").fetchall()


def check_anchors(rows: list[tuple[Any, ...]], anchors: Iterable[tuple[int, str]]) -> list[str]:
    """Return the anchors (seq, hash prefix) that no longer match the chain."""
    problems = []
    hashes = {int(row[0]): str(row[-1]) for row in rows}
    for seq, expected in anchors:
        prefix = "".join(expected.split()).lower()
        if len(prefix) < ANCHOR_MIN_HEX or len(prefix) > 64:
            raise ValueError(f"anchor {seq}: give 16 to 64 hex digits of the hash")
        found = hashes.get(seq)
        if found is None:
            problems.append(f"anchor {seq}: no such entry (deleted)")
        elif not found.startswith(prefix):
            problems.append(f"anchor {seq}: hash differs from the one recorded (rewritten)")
    return problems


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    seq, at, operator, commune, action, target, outcome, request_id, details_json, prev, h = row
    try:
        details = json.loads(details_json)
    except ValueError:
        details = {"_unreadable": details_json}
    return AuditEntry(seq, at, operator, commune, action, target, outcome, request_id,
                      details, prev, h)
