"""The documents an activation leaves with the commune: the credentials file and the sheet.

    credential_states(path)      validity windows of the passes on file (never the secrets)
    credentials_sink(path, home) where issued passes go the moment they exist (0600, atomic)
    edition(store, ..., state)   what this edition of the sheet says (read in the event loop)
    write_documents(...)         the handover sheet (md, html, pdf) and the first sign-in
                                 slips; only files, no store: it may run in a worker thread
    record_edition(...)          audit `handover.sheet` (provisional | complete | incomplete)

The sheet is written as soon as the accounts, passes and loans exist (provisional while the
Team, mailboxes or site are provisioning), and again at the end of the run, or by
`status --wait` once the kit is complete. Its editions are audited: the first one's time is
when the credentials were handed over, the first complete one's when the kit was complete.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

from crisiskit.plan.diff import CredentialState

if TYPE_CHECKING:
    from crisiskit.documents.handover import Preparing
    from crisiskit.documents.kit import KitDocuments
    from crisiskit.engine.context import Setup
    from crisiskit.plan.desired import DesiredKit
    from crisiskit.resources.taps import IssuedPass
    from crisiskit.state.api import Run, StateStore

EDITION = "handover.sheet"
SHEET = "fiche-de-remise"
Edition = Literal["provisional", "complete", "incomplete"]


def credential_states(path: Path) -> dict[str, CredentialState]:
    """Read the credentials file's validity windows (the passes themselves are not kept)."""
    from crisiskit.documents.credentials import read_credentials

    return {
        r.upn.lower(): CredentialState(r.upn.lower(), r.valid_from, r.valid_until)
        for r in read_credentials(path)
    }


def credentials_sink(path: Path, home: Path) -> Callable[[Sequence[IssuedPass]], None]:
    """Return a function merging new passes into the credentials file (0600, atomic).

    Every folder between `home` and the file is checked (never a link, owner-only).
    """
    from crisiskit.documents.credentials import (
        CredentialRow,
        merge_credentials,
        read_credentials,
        write_credentials,
    )

    def save(passes: Sequence[IssuedPass]) -> None:
        rows = [
            CredentialRow(p.upn, p.display_name, p.secret, p.valid_from, p.valid_until)
            for p in passes
        ]
        current = read_credentials(path, root=home)
        write_credentials(path, merge_credentials(current, rows), root=home)

    return save


@dataclass(frozen=True)
class KitState:
    """What is ready in the kit, as the sheet says it."""

    team_url: str | None = None
    sharepoint_url: str | None = None
    mailboxes_pending: tuple[str, ...] = ()
    preparing: tuple[Preparing, ...] = ()  # "team", "mailboxes", "sharepoint"
    failed: bool = False

    @property
    def edition(self) -> Edition:
        if self.preparing:
            return "provisional"
        return "incomplete" if self.failed else "complete"


@dataclass(frozen=True)
class SheetInputs:
    """What the sheet needs from the state store, read in the event loop's thread."""

    runs: list[Run]
    audit_anchor: tuple[int, str] | None
    issued_at: datetime
    completed_at: datetime | None
    completes: bool  # the first edition to say complete after a provisional one


def editions(
    store: StateStore, commune: str
) -> tuple[datetime | None, datetime | None, Edition | None]:
    """Return when the sheet was first handed over, first said complete, and its last state."""
    issued = completed = None
    last: Edition | None = None
    for entry in store.audit_entries(commune):
        if entry.action != EDITION:
            continue
        at = datetime.fromisoformat(entry.at)
        issued = issued or at
        if entry.outcome == "complete":
            completed = completed or at
        last = cast(Edition, entry.outcome)  # only this module writes these entries
    return issued, completed, last


def sheet_inputs(store: StateStore, commune: str, now: datetime, state: KitState) -> SheetInputs:
    """Gather what this edition of the sheet needs from the store (call it in the loop)."""
    issued, completed, last = editions(store, commune)
    done = state.edition == "complete"
    return SheetInputs(
        runs=store.runs(commune),
        audit_anchor=store.audit_head(),
        issued_at=issued or now,
        completed_at=(completed or now) if done else None,
        completes=done and last == "provisional",
    )


def record_edition(
    store: StateStore, operator: str, commune: str, state: KitState, written: KitDocuments
) -> None:
    """Audit that an edition of the sheet was written, and what it says."""
    store.audit_append(
        operator, commune, EDITION, SHEET, state.edition,
        details={
            "preparing": ",".join(state.preparing),
            "files": ",".join(p.name for p in written.handover.values()),
        },
    )


def credentials_digest(path: Path) -> str | None:
    """Fingerprint the credentials file (the slips are rendered from it), None if absent."""
    import hashlib

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def write_documents(
    setup: Setup,
    kit: DesiredKit,
    now: datetime,
    inputs: SheetInputs,
    state: KitState,
    keep_slips: Path | None = None,
) -> KitDocuments:
    """Write the handover sheet (md, html, pdf) and the first sign-in slips (0600 PDF)."""
    from crisiskit.documents.handover import HandoverAccount, HandoverDevice
    from crisiskit.documents.kit import write_kit_documents

    users = {u.upn: u for u in kit.users}
    return write_kit_documents(
        setup.outputs,
        inventory=setup.inventory,
        commune=setup.commune,
        accounts=[
            HandoverAccount(given_name=u.given_name, surname=u.surname, role=u.role,
                            upn=u.upn, team_owner=u.owner)
            for u in kit.users
        ],
        devices=[
            HandoverDevice(
                kind=a.kind, asset_tag=a.asset_tag, model=a.model,
                serial=a.serial if a.kind == "laptop" else None,
                imei=a.serial if a.kind == "phone" else None,
                phone_number=a.number,
                holder=f"{users[a.upn].given_name} {users[a.upn].surname}"
                if a.upn in users else a.upn,
                holder_upn=a.upn,
            )
            for a in kit.allocations
        ],
        runs=inputs.runs,
        now=now,
        team_name=kit.team.display_name if kit.team else None,
        team_url=_web(state.team_url),
        sharepoint_url=_web(state.sharepoint_url),
        still_provisioning=list(state.mailboxes_pending),
        preparing=list(state.preparing),
        issued_at=inputs.issued_at,
        completed_at=inputs.completed_at,
        completes=inputs.completes,
        audit_anchor=inputs.audit_anchor,
        tap_usable_once=kit.tap_usable_once,
        register_phone=kit.register_phone,
        signer=setup.signer,
        keep_slips=keep_slips,
    )


def _web(url: str | None) -> str | None:
    return url if url and url.startswith(("http://", "https://")) else None
