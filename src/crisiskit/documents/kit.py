"""The documents an activation leaves in the commune's outputs folder.

    write_kit_documents(outputs_dir, inventory=..., commune=..., accounts=..., devices=...,
                        runs=store.runs(commune.id), now=..., ...) -> KitDocuments
    write_kit_slips(outputs_dir, inventory=..., commune=..., accounts=..., devices=...,
                    now=...) -> Path | None       the slips alone (an activation's handover)

- fiche-de-remise.md / .html / .pdf (0644): the signable handover sheet;
- fiches-premiere-connexion.pdf (0600): one first sign-in slip per account that has a pass
  in the credentials file, beside it.

The engine passes plain values (accounts, devices, links, the runs of the commune); the passes
are read here from the credentials file, as Secrets, and revealed only into the slips' PDF.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crisiskit.documents.handover import (
    HandoverAccount,
    HandoverCommune,
    HandoverContact,
    HandoverConvention,
    HandoverDevice,
    HandoverSheet,
    Preparing,
    RunLike,
    first_activation,
    write_handover,
)
from crisiskit.documents.render import identity_of
from crisiskit.documents.slips import SLIPS_FILE, Helpdesk, SigninSlip, write_signin_slips

if TYPE_CHECKING:
    from crisiskit.documents.credentials import CredentialRow
    from crisiskit.inventory.models import Commune, Inventory

CREDENTIALS_FILE = "credentials.csv"


@dataclass(frozen=True)
class KitDocuments:
    """Where an activation's documents were written."""

    handover: dict[str, Path] = field(default_factory=dict)  # "md" | "html" | "pdf" -> path
    slips: Path | None = None  # 0600; None when no account has a pass in the credentials file
    unchanged: bool = False  # True: not rewritten, the files on disk already said this
    facts: str | None = None  # the digest of what they print (`engine.handover`), audited

    def to_json(self) -> dict[str, Any]:
        return {
            "handover": {kind: str(path) for kind, path in self.handover.items()},
            "signin_slips": str(self.slips) if self.slips else None,
            "unchanged": self.unchanged,
        }


def _passes_on_file(
    outputs_dir: Path, accounts: Sequence[HandoverAccount]
) -> list[CredentialRow]:
    """The current credentials rows of these accounts in the activation's credentials file.

    A pass reissued since (`credentials reissue`) has its own file and slip: never print a
    dead one.
    """
    from crisiskit.documents.credentials import current_credentials

    wanted = {a.upn.lower() for a in accounts}
    return [
        row
        for upn, (name, row) in current_credentials(outputs_dir).items()
        if upn in wanted and name == CREDENTIALS_FILE
    ]


def write_kit_slips(
    outputs_dir: Path,
    *,
    inventory: Inventory,
    commune: Commune,
    accounts: Sequence[HandoverAccount],
    devices: Sequence[HandoverDevice],
    now: datetime,
    tap_usable_once: bool = False,
    register_phone: bool = False,
    signer: Any | None = None,
) -> Path | None:
    """Write the first sign-in slips of the accounts that have a pass in the credentials file.

    They depend only on that file (not on what is still provisioning), so an activation
    writes them once, at the handover point, and keeps them for the sheet's later editions.
    """
    outputs_dir = Path(outputs_dir)
    rows = _passes_on_file(outputs_dir, accounts)
    m = inventory.metropole
    phones = {d.holder_upn.lower(): d for d in devices if d.kind == "phone"}
    names = {a.upn.lower(): a for a in accounts}
    slips = [
        SigninSlip(
            name=names[r.upn.lower()].name,
            upn=r.upn,
            role=names[r.upn.lower()].role,
            temporary_access_pass=r.temporary_access_pass,
            valid_from=r.valid_from,
            valid_until=r.valid_until,
            usable_once=tap_usable_once,
            phone_number=phones[r.upn.lower()].phone_number if r.upn.lower() in phones else None,
            phone_registered=register_phone and r.upn.lower() in phones,
        )
        for r in rows
    ]
    return write_signin_slips(
        outputs_dir,
        slips,
        commune_name=commune.name,
        identity=identity_of(m),
        helpdesk=Helpdesk(name=m.name, phone=m.phone, email=m.email),
        signer=signer,
        created=now,
    )


def write_kit_documents(
    outputs_dir: Path,
    *,
    inventory: Inventory,
    commune: Commune,
    accounts: Sequence[HandoverAccount],
    devices: Sequence[HandoverDevice],
    runs: Iterable[RunLike],
    now: datetime,
    team_name: str | None = None,
    team_url: str | None = None,
    sharepoint_url: str | None = None,
    still_provisioning: Sequence[str] = (),
    preparing: Sequence[Preparing] = (),
    issued_at: datetime | None = None,
    completed_at: datetime | None = None,
    completes: bool = False,
    audit_anchor: tuple[int, str] | None = None,
    tap_usable_once: bool = False,
    register_phone: bool = False,
    signer: Any | None = None,
    keep_slips: Path | None = None,
) -> KitDocuments:
    """Write the handover sheet and the first sign-in slips of one commune's kit.

    `keep_slips`: the slips written earlier from the same credentials file (at the
    activation's handover point): kept as they are, not rendered again.
    """
    outputs_dir = Path(outputs_dir)
    rows = _passes_on_file(outputs_dir, accounts)
    identity = identity_of(inventory.metropole)
    m = inventory.metropole
    if keep_slips is not None:
        slips_path: Path | None = keep_slips  # written earlier from these very credentials
    else:
        slips_path = write_kit_slips(
            outputs_dir, inventory=inventory, commune=commune, accounts=accounts,
            devices=devices, now=now, tap_usable_once=tap_usable_once,
            register_phone=register_phone, signer=signer,
        )
    c = commune
    sheet = HandoverSheet(
        commune=HandoverCommune(name=c.name, insee=c.insee, address=c.address, mayor=c.mayor),
        convention=HandoverConvention(
            deliberation_number=c.convention.deliberation_number,
            deliberation_date=c.convention.deliberation_date,
            signature_date=c.convention.signature_date,
            notification_date=c.convention.notification_date,
        ),
        activated_at=first_activation(runs),
        edited_at=now,
        accounts=list(accounts),
        devices=list(devices),
        team_name=team_name,
        team_url=team_url,
        sharepoint_url=sharepoint_url,
        credentials_file=CREDENTIALS_FILE,
        slips_file=SLIPS_FILE if slips_path else None,
        tap_valid_from=min((r.valid_from for r in rows), default=None),
        tap_valid_until=max((r.valid_until for r in rows), default=None),
        still_provisioning=list(still_provisioning),
        preparing=list(preparing),
        issued_at=issued_at,
        completed_at=completed_at,
        completes=completes,
        metropole_contact=HandoverContact(name=m.name, email=m.email, phone=m.phone),
        commune_correspondent=HandoverContact(
            name=c.correspondent.name, email=c.correspondent.email, phone=c.correspondent.phone
        ),
        metropole_signatory=getattr(m, "signatory", None),
        metropole_signatory_title=getattr(m, "signatory_title", None),
        audit_anchor=audit_anchor,
    )
    written = write_handover(outputs_dir, sheet, identity, signer=signer)
    return KitDocuments(handover=dict(written.paths), slips=slips_path)


def prepare() -> None:
    """Compile the templates and load the PDF library now (the engine calls it in a thread
    while it waits on Graph), so that writing the documents at the end costs only the render."""
    from crisiskit.documents.handover import TEMPLATE as HANDOVER
    from crisiskit.documents.pdf import preamble
    from crisiskit.documents.render import prepare_templates
    from crisiskit.documents.slips import TEMPLATE as SLIPS

    prepare_templates((HANDOVER, SLIPS))
    preamble()
    import typst  # noqa: F401  (loads the compiler library)
