"""Local state: runs, steps, created-object journal, device loans, audit chain, locks.

    Store.open(home)            `home/state.db` (SQLite, WAL), numbered migrations on open
    commune_lock(home, commune) one run per commune at a time (flock, freed if killed)
    atomic_write(path, data)    whole-file replace with an exact mode (documents, credentials)
"""

from __future__ import annotations

from crisiskit.state.audit import GENESIS_HASH, AuditEntry
from crisiskit.state.files import atomic_write
from crisiskit.state.lock import commune_lock, lock_path
from crisiskit.state.migrations import MIGRATIONS, Migration, SchemaTooNew
from crisiskit.state.store import (
    DB_NAME,
    Loan,
    LoanConflict,
    ObjectRecord,
    Run,
    StateError,
    Step,
    Store,
)

__all__ = [
    "DB_NAME",
    "GENESIS_HASH",
    "MIGRATIONS",
    "AuditEntry",
    "Loan",
    "LoanConflict",
    "Migration",
    "ObjectRecord",
    "Run",
    "SchemaTooNew",
    "StateError",
    "Step",
    "Store",
    "atomic_write",
    "commune_lock",
    "lock_path",
]
