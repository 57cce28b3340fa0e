"""The documents an activation leaves with the commune: the credentials file and the sheet.

    credential_states(path)      validity windows of the passes on file (never the secrets)
    credentials_sink(path, home) where issued passes go the moment they exist (0600, atomic)
    edition(store, ..., state)   what this edition of the sheet says (read in the event loop)
    write_slips(setup, kit, now) the first sign-in slips alone, from the credentials file
    write_documents(...)         the handover sheet (md, html, pdf) and the first sign-in
                                 slips; only files, no store: it may run in a worker thread
    record_edition(...)          audit `documents.written` (provisional | complete |
                                 incomplete), with a digest of the facts the documents print
    void_passes(path, home, ps)  take out of the file the passes of a run that lost its lease
    void_edition(...)            remove the slips and sheet a run that lost its lease handed
                                 over (audited `documents.voided`; later editions ignore it)

The sheet is written as soon as the accounts, passes and loans exist (provisional while the
Team, mailboxes or site are provisioning; the slips first, `write_slips`), and again at the
end of the run, or by `status --wait` once the kit is complete. Its editions are audited:
the first one's time is when the credentials were handed over, the first complete one's when
the kit was complete.

A sheet is rewritten only when what it says changes: each writing's audit entry carries a
digest of the facts the documents print (never a pass), and an edition whose digest equals
the last one's, with every file still there and no signature asked, leaves the documents as
they are (`KitDocuments.unchanged`, not audited again). So a rerun that finds the kit complete
writes nothing, and a signed sheet is not replaced by an identical unsigned one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from crisiskit.plan.diff import CredentialState

if TYPE_CHECKING:
    from crisiskit.documents.handover import HandoverAccount, HandoverDevice, Preparing
    from crisiskit.documents.kit import KitDocuments
    from crisiskit.engine.context import Setup
    from crisiskit.plan.desired import DesiredKit
    from crisiskit.resources.taps import IssuedPass
    from crisiskit.state.api import Run, StateStore
    from crisiskit.state.audit import AuditEntry

WRITTEN = "documents.written"  # the audit action of each edition of the documents
VOIDED = "documents.voided"  # an edition withdrawn: its run lost the commune's lease
SHEET = "fiche-de-remise"
Edition = Literal["provisional", "complete", "incomplete"]


def credential_states(path: Path) -> dict[str, CredentialState]:
    """Read the validity windows of the passes on file (the passes themselves are not kept).

    `path` is the activation's credentials file; the reissue files beside it count too, the
    newest pass of each account winning (`documents.credentials.current_credentials`), so that
    an activation after `credentials reissue` does not take the reissued pass for a stranger.
    """
    from crisiskit.documents.credentials import current_credentials

    return {
        upn: CredentialState(upn, r.valid_from, r.valid_until)
        for upn, (_, r) in current_credentials(path.parent).items()
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
    last_facts: str | None = None  # the last edition's facts digest, and its files' names
    last_files: list[str] = field(default_factory=list)


EDITIONS: tuple[Edition, ...] = ("provisional", "complete", "incomplete")


def editions(
    store: StateStore, commune: str
) -> tuple[datetime | None, datetime | None, Edition | None, AuditEntry | None]:
    """Return when the sheet was first handed over, first said complete, its last state, and
    the last edition's audit entry."""
    written: list[AuditEntry] = []
    for entry in store.audit_entries(commune):
        if entry.action == WRITTEN:
            written.append(entry)
        elif entry.action == VOIDED:
            voided = str(entry.details.get("edition") or "")
            written = [e for e in written if str(e.seq) != voided]
    issued = completed = None
    last: Edition | None = None
    entry_last: AuditEntry | None = None
    for entry in written:
        # The times the edition printed (the audit entry's own is a little later).
        d = entry.details
        issued = issued or datetime.fromisoformat(str(d.get("issued_at") or entry.at))
        if entry.outcome == "complete":
            completed = completed or datetime.fromisoformat(str(d.get("completed_at") or entry.at))
        last = entry.outcome if entry.outcome in EDITIONS else None
        entry_last = entry
    return issued, completed, last, entry_last


def sheet_inputs(store: StateStore, commune: str, now: datetime, state: KitState) -> SheetInputs:
    """Gather what this edition of the sheet needs from the store (call it in the loop)."""
    issued, completed, last, entry = editions(store, commune)
    done = state.edition == "complete"
    details = entry.details if entry is not None else {}
    return SheetInputs(
        runs=store.runs(commune),
        audit_anchor=store.audit_head(),
        issued_at=issued or now,
        completed_at=(completed or now) if done else None,
        completes=done and last == "provisional",
        last_facts=details.get("facts"),
        last_files=[str(n) for n in details.get("files") or []],
    )


def record_edition(
    store: StateStore,
    operator: str,
    commune: str,
    state: KitState,
    written: KitDocuments,
    inputs: SheetInputs,
) -> None:
    """Audit that an edition of the sheet was written, and what it says (not if unchanged).

    The times it prints (handed over, complete) are recorded, and read back by `editions`.
    """
    if written.unchanged:
        return
    store.audit_append(
        operator, commune, WRITTEN, SHEET, state.edition,
        details={
            "issued_at": inputs.issued_at.isoformat(),
            "completed_at": inputs.completed_at.isoformat() if inputs.completed_at else "",
            "preparing": ",".join(state.preparing),
            "facts": written.facts,
            "files": sorted(p.name for p in [*written.handover.values(), written.slips]
                            if p is not None),
        },
    )


def credentials_digest(path: Path) -> str | None:
    """Fingerprint the credentials file (the slips are rendered from it), None if absent."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def void_passes(path: Path, home: Path, passes: Sequence[IssuedPass]) -> list[str]:
    """Remove these passes from the credentials file; return the accounts they were for.

    A row is removed only while it still holds the very pass given (a later run's pass for
    the same account is kept). The account then has no valid pass on file: the run that
    holds the commune issues one.
    """
    from crisiskit.documents.credentials import read_credentials, write_credentials

    void = {p.upn.lower(): p.secret.reveal() for p in passes}
    if not void:
        return []
    rows = read_credentials(path, root=home)
    kept, removed = [], []
    for row in rows:
        if void.get(row.upn.lower()) == row.temporary_access_pass.reveal():
            removed.append(row.upn)
        else:
            kept.append(row)
    if removed:
        write_credentials(path, kept, root=home)
    return sorted(removed)


def void_edition(
    store: StateStore, operator: str, setup: Setup, written: KitDocuments, reason: str
) -> list[str]:
    """Withdraw the documents a run handed over before it lost the commune's lease.

    The slips print passes that are void now, and the provisional sheet says they may be
    handed over: both are removed (an edition left unchanged, an earlier run's, is kept) and
    the edition is audited as voided, so the next edition's times do not count it. Slips
    written without a sheet (the run's edition not made yet) are removed too; no edition is
    named then: the last one on record is an earlier run's, still valid.
    """
    if written.unchanged:
        return []
    files = [p for p in [*written.handover.values(), written.slips] if p is not None]
    removed = []
    for path in files:
        try:
            path.unlink()
            removed.append(path.name)
        except FileNotFoundError:
            continue
    last = next((e for e in reversed(store.audit_entries(setup.commune.id))
                 if e.action == WRITTEN), None) if written.handover else None
    store.audit_append(
        operator, setup.commune.id, VOIDED, SHEET, "voided",
        details={"edition": str(last.seq) if last is not None else "",
                 "files": sorted(removed), "reason": reason},
    )
    return sorted(removed)


def write_slips(setup: Setup, kit: DesiredKit, now: datetime) -> Path | None:
    """Write the first sign-in slips (0600 PDF) from the credentials file; None if no pass.

    Only files, no store: it may run in a worker thread.
    """
    from crisiskit.documents.kit import write_kit_slips

    accounts, devices = _people(kit)
    return write_kit_slips(
        setup.outputs, inventory=setup.inventory, commune=setup.commune, accounts=accounts,
        devices=devices, now=now, tap_usable_once=kit.tap_usable_once,
        register_phone=kit.register_phone, signer=setup.signer,
    )


def write_documents(
    setup: Setup,
    kit: DesiredKit,
    now: datetime,
    inputs: SheetInputs,
    state: KitState,
    keep_slips: Path | None = None,
) -> KitDocuments:
    """Write the handover sheet (md, html, pdf) and the first sign-in slips (0600 PDF).

    `keep_slips`: slips already written from the current credentials file (`write_slips`),
    kept as they are. Nothing is written when the documents on disk already say exactly
    this (module docstring); the result then has `unchanged=True`.
    """
    accounts, devices = _people(kit)
    facts: dict[str, Any] = {
        "inventory": setup.inventory,
        "commune": setup.commune,
        "accounts": accounts,
        "devices": devices,
        "team_name": kit.team.display_name if kit.team else None,
        "team_url": _web(state.team_url),
        "sharepoint_url": _web(state.sharepoint_url),
        "still_provisioning": list(state.mailboxes_pending),
        "preparing": list(state.preparing),
        "issued_at": inputs.issued_at,
        "completed_at": inputs.completed_at,
        "tap_usable_once": kit.tap_usable_once,
        "register_phone": kit.register_phone,
    }
    digest = _digest(setup, facts)
    if setup.signer is None and inputs.last_facts == digest:
        kept = _unchanged(setup, inputs.last_files, digest)
        if kept is not None:
            return kept
    from crisiskit.documents.kit import write_kit_documents

    written = write_kit_documents(
        setup.outputs,
        **facts,
        runs=inputs.runs,
        now=now,
        completes=inputs.completes,
        audit_anchor=inputs.audit_anchor,
        signer=setup.signer,
        keep_slips=keep_slips,
    )
    return replace(written, facts=digest)


def _people(kit: DesiredKit) -> tuple[list[HandoverAccount], list[HandoverDevice]]:
    """The kit's accounts and lent devices, as the documents print them."""
    from crisiskit.documents.handover import HandoverAccount, HandoverDevice

    users = {u.upn: u for u in kit.users}
    accounts = [
        HandoverAccount(given_name=u.given_name, surname=u.surname, role=u.role,
                        upn=u.upn, team_owner=u.owner)
        for u in kit.users
    ]
    devices = [
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
    ]
    return accounts, devices


def _digest(setup: Setup, facts: dict[str, Any]) -> str:
    """Return a digest of what the documents print (the passes' windows, never a pass)."""
    from crisiskit.documents.credentials import read_credentials

    wanted = {a.upn.lower() for a in facts["accounts"]}
    windows = [
        (r.upn.lower(), r.valid_from.isoformat(), r.valid_until.isoformat())
        for r in read_credentials(setup.credentials_path)
        if r.upn.lower() in wanted
    ]
    data = {
        **{k: v for k, v in facts.items() if k not in ("inventory", "commune")},
        "accounts": [a.model_dump(mode="json") for a in facts["accounts"]],
        "devices": [d.model_dump(mode="json") for d in facts["devices"]],
        "commune": setup.commune.model_dump(mode="json"),
        "metropole": setup.inventory.metropole.model_dump(mode="json"),
        "passes": windows,
    }
    canonical = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _unchanged(setup: Setup, names: list[str], digest: str) -> KitDocuments | None:
    """Return the documents on disk (the last edition's files) if none is missing."""
    from crisiskit.documents.handover import STEM
    from crisiskit.documents.kit import KitDocuments
    from crisiskit.documents.slips import SLIPS_FILE

    paths = [setup.outputs / name for name in names]
    if not names or not all(p.is_file() and not p.is_symlink() for p in paths):
        return None
    order = ("md", "html", "pdf")
    handover = {
        p.suffix[1:]: p
        for p in sorted(paths, key=lambda p: order.index(p.suffix[1:]) if p.suffix[1:] in order
                        else len(order))
        if p.name.startswith(STEM + ".")
    }
    slips = setup.outputs / SLIPS_FILE if SLIPS_FILE in names else None
    return KitDocuments(handover=handover, slips=slips, unchanged=True, facts=digest)


def _web(url: str | None) -> str | None:
    return url if url and url.startswith(("http://", "https://")) else None
