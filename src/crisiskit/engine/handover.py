"""The documents an activation leaves with the commune: the credentials file and the sheet.

    credential_states(path)     validity windows of the passes on file (never the secrets)
    credentials_sink(path)      where issued passes go the moment they exist (0600, atomic)
    write_documents(...)        the French handover sheet (Markdown + HTML)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from crisiskit.plan.diff import CredentialState

if TYPE_CHECKING:
    from crisiskit.engine.context import Setup
    from crisiskit.plan.desired import DesiredKit
    from crisiskit.resources.taps import IssuedPass


def credential_states(path: Path) -> dict[str, CredentialState]:
    """Read the credentials file's validity windows (the passes themselves are not kept)."""
    from crisiskit.documents.credentials import read_credentials

    return {
        r.upn.lower(): CredentialState(r.upn.lower(), r.valid_from, r.valid_until)
        for r in read_credentials(path)
    }


def credentials_sink(path: Path) -> Callable[[Sequence[IssuedPass]], None]:
    """Return a function merging new passes into the credentials file (0600, atomic)."""
    from crisiskit.documents.credentials import (
        CredentialRow,
        merge_credentials,
        read_credentials,
        write_credentials,
    )

    def save(passes: Sequence[IssuedPass]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [
            CredentialRow(p.upn, p.display_name, p.secret, p.valid_from, p.valid_until)
            for p in passes
        ]
        write_credentials(path, merge_credentials(read_credentials(path), rows))

    return save


def write_documents(
    setup: Setup,
    kit: DesiredKit,
    now: datetime,
    *,
    team_url: str | None,
    sharepoint_url: str | None,
    still_provisioning: list[str],
    audit_anchor: tuple[int, str] | None = None,
) -> tuple[Path, Path]:
    """Write the French handover sheet (Markdown + HTML) beside the credentials file."""
    from crisiskit.documents.credentials import read_credentials
    from crisiskit.documents.handover import (
        HandoverAccount,
        HandoverContact,
        HandoverDevice,
        HandoverSheet,
        write_handover,
    )

    c = setup.commune
    accounts = [
        HandoverAccount(
            surname=u.surname,
            given_name=u.given_name,
            role=u.role,
            upn=u.upn,
            team_owner=u.owner,
        )
        for u in kit.users
    ]
    names = {u.upn: u.display_name for u in kit.users}
    devices = [
        HandoverDevice(
            kind=a.kind,
            asset_tag=a.asset_tag,
            serial=a.serial,
            model=a.model,
            phone_number=a.number,
            assigned_to=f"{names.get(a.upn, a.upn)} ({a.upn})",
        )
        for a in kit.allocations
    ]
    rows = read_credentials(setup.credentials_path)
    until = max((r.valid_until for r in rows), default=None)
    m = setup.inventory.metropole
    sheet = HandoverSheet(
        commune_name=c.name,
        activated_at=now,
        convention_number=c.convention.deliberation_number,
        convention_date=c.convention.deliberation_date,
        accounts=accounts,
        devices=devices,
        team_name=kit.team.display_name if kit.team else None,
        team_url=_web(team_url),
        sharepoint_url=_web(sharepoint_url),
        credentials_path=str(setup.credentials_path),
        tap_valid_until=until,
        still_provisioning=still_provisioning,
        metropole_contact=HandoverContact(name=m.name, email=m.email, phone=m.phone),
        commune_correspondent=HandoverContact(
            name=c.correspondent.name, email=c.correspondent.email, phone=c.correspondent.phone
        ),
        audit_anchor=audit_anchor,
    )
    return write_handover(setup.outputs, sheet)


def _web(url: str | None) -> str | None:
    return url if url and url.startswith(("http://", "https://")) else None
