"""The documents an activation leaves with the commune: the credentials file and the sheet.

    credential_states(path)     validity windows of the passes on file (never the secrets)
    credentials_sink(path, home) where issued passes go the moment they exist (0600, atomic)
    void_passes(path, home, ps)  take out of the file the passes of a run that lost its lease
    write_documents(...)        the handover sheet (md, html, pdf) and the first sign-in slips
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from crisiskit.plan.diff import CredentialState

if TYPE_CHECKING:
    from crisiskit.documents.kit import KitDocuments
    from crisiskit.engine.context import Setup
    from crisiskit.plan.desired import DesiredKit
    from crisiskit.resources.taps import IssuedPass
    from crisiskit.state.api import StateStore


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


def write_documents(
    setup: Setup,
    kit: DesiredKit,
    now: datetime,
    store: StateStore,
    *,
    team_url: str | None,
    sharepoint_url: str | None,
    still_provisioning: list[str],
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
        runs=store.runs(setup.commune.id),
        now=now,
        team_name=kit.team.display_name if kit.team else None,
        team_url=_web(team_url),
        sharepoint_url=_web(sharepoint_url),
        still_provisioning=still_provisioning,
        audit_anchor=store.audit_head(),
        tap_usable_once=kit.tap_usable_once,
        register_phone=kit.register_phone,
        signer=setup.signer,
    )


def _web(url: str | None) -> str | None:
    return url if url and url.startswith(("http://", "https://")) else None
