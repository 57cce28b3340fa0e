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


def test_slips_withdrawn_before_their_run_wrote_a_sheet_void_no_earlier_edition(
    tmp_path: Path,
) -> None:
    """A run that lost its lease after writing the slips, before its own sheet: the slips go,
    and the earlier run's complete edition still counts (it is not the one voided)."""
    from crisiskit.documents.kit import KitDocuments
    from crisiskit.engine.context import load_setup
    from crisiskit.engine.handover import void_edition

    repo = Path(__file__).resolve().parents[2]
    setup = load_setup(repo / "inventory.yaml", repo / "playbooks", tmp_path, "aubagne", None)
    setup.outputs.mkdir(parents=True)
    slips = setup.outputs / "fiches-premiere-connexion.pdf"
    slips.write_bytes(b"%PDF-1.7 slips of a run that lost the commune")
    with Store.open(tmp_path) as store:
        _written(store, "complete", EARLY, EARLY.isoformat())
        removed = void_edition(store, "ops", setup, KitDocuments(slips=slips), "lease lost")
        assert removed == ["fiches-premiere-connexion.pdf"] and not slips.exists()
        voided = next(e for e in store.audit_entries("aubagne") if e.action == VOIDED)
        assert voided.details["edition"] == ""
        issued, completed, last, _ = editions(store, "aubagne")
        assert (issued, completed, last) == (EARLY, EARLY, "complete")
