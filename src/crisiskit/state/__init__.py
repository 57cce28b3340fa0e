"""Local state: runs, steps, created-object journal, device loans, audit chain, locks.

    StateStore                  the interface the engine and the commands use (state/api.py)
    Store.open(home)            the embedded default: `home/state.db` (SQLite, WAL), numbered
                                migrations on open (state/sqlite.py)
    commune_lock(home, commune) one run per commune at a time (flock, freed if killed)
    atomic_write(path, data)    whole-file replace with an exact mode (documents, credentials)

No SQL outside this package (a test enforces it).
"""

from __future__ import annotations

from crisiskit.state.api import (
    HOLD_STATES,
    DeviceEvent,
    HoldState,
    Loan,
    LoanConflict,
    ObjectRecord,
    Reservation,
    Run,
    StateError,
    StateStore,
    StepRecord,
)
from crisiskit.state.audit import GENESIS_HASH, AuditEntry
from crisiskit.state.files import atomic_write
from crisiskit.state.lock import commune_lock, lock_path
from crisiskit.state.migrations import MIGRATIONS, Migration, SchemaTooNew
from crisiskit.state.sqlite import DB_NAME, SQLiteStore, Store

__all__ = [
    "DB_NAME",
    "GENESIS_HASH",
    "HOLD_STATES",
    "MIGRATIONS",
    "AuditEntry",
    "DeviceEvent",
    "HoldState",
    "Loan",
    "LoanConflict",
    "Migration",
    "ObjectRecord",
    "Reservation",
    "Run",
    "SQLiteStore",
    "SchemaTooNew",
    "StateError",
    "StateStore",
    "StepRecord",
    "Store",
    "atomic_write",
    "commune_lock",
    "lock_path",
]
