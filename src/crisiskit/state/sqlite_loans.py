"""Device loans in SQLite: lend, return, list (mixed into `SQLiteStore`).

An asset has at most one open loan (a unique index says so too); lending it again to the same
commune and account is a no-op, to anyone else a `LoanConflict`. Each write is one
transaction of the store.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from typing import Any, Protocol

from crisiskit.state.api import DeviceKind, Loan, LoanConflict

_SELECT = (
    "SELECT id, commune, device_kind, asset_tag, upn, run_id, loaned_at, returned_at FROM loans"
)


class _Store(Protocol):
    """What the mixin needs of `SQLiteStore`."""

    _conn: sqlite3.Connection

    def transaction(self) -> AbstractContextManager[None]: ...

    def now(self) -> str: ...


def _open_loan(conn: sqlite3.Connection, asset_tag: str) -> Loan | None:
    row = conn.execute(
        f"{_SELECT} WHERE asset_tag = ? AND returned_at IS NULL", (asset_tag,)
    ).fetchone()
    return Loan(*row) if row else None


def _loan_by_id(conn: sqlite3.Connection, loan_id: int) -> Loan | None:
    row = conn.execute(f"{_SELECT} WHERE id = ?", (loan_id,)).fetchone()
    return Loan(*row) if row else None


def _loans(conn: sqlite3.Connection, commune: str | None, open_only: bool) -> list[Loan]:
    sql, args = f"{_SELECT} WHERE 1 = 1", list[Any]()
    if commune is not None:
        sql += " AND commune = ?"
        args.append(commune)
    if open_only:
        sql += " AND returned_at IS NULL"
    sql += " ORDER BY id"
    return [Loan(*row) for row in conn.execute(sql, args)]


class Loans:
    """The loan operations of `SQLiteStore` (see the module docstring)."""

    def add_loan(
        self: _Store,
        run_id: int | None,
        commune: str,
        device_kind: DeviceKind,
        asset_tag: str,
        upn: str,
    ) -> Loan:
        """Record that `asset_tag` is lent to `upn` of `commune`; return the open loan.

        Idempotent: the same asset already lent to the same commune and account returns the
        existing loan. Lent to anyone else, it raises `LoanConflict`.
        """
        if device_kind not in ("laptop", "phone"):
            raise ValueError(f"device kind must be 'laptop' or 'phone', not {device_kind!r}")
        with self.transaction():
            current = _open_loan(self._conn, asset_tag)
            if current is not None:
                if (current.commune, current.upn, current.device_kind) == (
                    commune,
                    upn,
                    device_kind,
                ):
                    return current
                raise LoanConflict(
                    f"{device_kind} {asset_tag} is already lent to {current.upn} "
                    f"({current.commune}) since {current.loaned_at}"
                )
            cur = self._conn.execute(
                "INSERT INTO loans (commune, device_kind, asset_tag, upn, run_id, loaned_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (commune, device_kind, asset_tag, upn, run_id, self.now()),
            )
            assert cur.lastrowid is not None
            loan = _loan_by_id(self._conn, cur.lastrowid)
        assert loan is not None
        return loan

    def return_loan(self: _Store, commune: str, asset_tag: str) -> Loan | None:
        """Close the open loan of `asset_tag` to `commune`; return it, or None if none is open.

        An asset lent to another commune is not this commune's to return: `LoanConflict`.
        """
        with self.transaction():
            current = _open_loan(self._conn, asset_tag)
            if current is None:
                return None
            if current.commune != commune:
                raise LoanConflict(
                    f"{asset_tag} is lent to {current.commune}, not to {commune}; not returned"
                )
            self._conn.execute(
                "UPDATE loans SET returned_at = ? WHERE id = ?", (self.now(), current.id)
            )
            loan = _loan_by_id(self._conn, current.id)
        return loan

    def open_loans(self: _Store, commune: str | None = None) -> list[Loan]:
        """Return the loans not yet returned, optionally of one commune."""
        return _loans(self._conn, commune, True)

    def loans(self: _Store, commune: str | None = None, *, open_only: bool = False) -> list[Loan]:
        """Return loans (history included unless `open_only`), oldest first."""
        return _loans(self._conn, commune, open_only)
