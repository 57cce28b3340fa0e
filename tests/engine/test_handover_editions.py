"""The sheet's editions as the audit records them: a voided edition (its run lost the lease
after handing it over) does not count for the times the next edition prints."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from crisiskit.engine.handover import SHEET, VOIDED, WRITTEN, editions
from crisiskit.state import Store

EARLY = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LATER = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _written(store: Store, outcome: str, issued: datetime, completed: str = "") -> int:
    entry = store.audit_append("ops", "aubagne", WRITTEN, SHEET, outcome, details={
        "issued_at": issued.isoformat(), "completed_at": completed, "facts": "sha256:x",
        "files": ["fiche-de-remise.md"],
    })
    return entry.seq


def test_a_voided_edition_is_not_counted(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        voided = _written(store, "provisional", EARLY)
        store.audit_append("ops", "aubagne", VOIDED, SHEET, "voided",
                           details={"edition": str(voided), "files": ["fiche-de-remise.md"]})
        assert editions(store, "aubagne")[:3] == (None, None, None)
        _written(store, "provisional", LATER)
        issued, completed, last, entry = editions(store, "aubagne")
        assert (issued, completed, last) == (LATER, None, "provisional")
        assert entry is not None and entry.seq != voided


def test_an_earlier_edition_survives_a_later_one_voided(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        _written(store, "complete", EARLY, EARLY.isoformat())
        voided = _written(store, "provisional", LATER)
        store.audit_append("ops", "aubagne", VOIDED, SHEET, "voided",
                           details={"edition": str(voided)})
        issued, completed, last, _ = editions(store, "aubagne")
        assert (issued, completed, last) == (EARLY, EARLY, "complete")
