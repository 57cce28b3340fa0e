"""The addendum to the handover sheet ("avenant à la fiche de remise") after a device swap.

One page, signable, in French: which lent device was replaced, when and why (lost, broken),
the replacement's identifiers, the number now registered as the account's phone method, and
signature lines for the holder and both parties. It goes beside the handover sheet in the
commune's outputs folder (md, html, pdf; 0644: it holds no secret), through the document
mechanism (templates/avenant-remplacement.md.j2 + `SwapAddendum`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from crisiskit.documents.handover import (
    DEVICE_LABELS,
    HandoverCommune,
    HandoverContact,
    anchor_text,
)
from crisiskit.documents.render import (
    DOCUMENT_MODE,
    FORMATS,
    Document,
    Identity,
    Written,
    render,
    write_document,
)
from crisiskit.documents.typography import commune_title

TEMPLATE = "avenant-remplacement.md.j2"
STEM_PREFIX = "avenant-remplacement-"
REASONS = {"lost": "perte", "broken": "panne"}
STATES = {
    "lost": "déclaré perdu, retiré du parc prêtable",
    "maintenance": "en réparation (maintenance), retiré du parc prêtable jusqu'à son retour",
}


class _Plain(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AddendumDevice(_Plain):
    """A device as the addendum shows it."""

    kind: Literal["laptop", "phone"]
    asset_tag: str
    model: str
    serial: str  # a laptop's serial number, a phone's IMEI
    phone_number: str | None = None

    @property
    def label(self) -> str:
        return DEVICE_LABELS[self.kind]


class SwapAddendum(_Plain):
    """Everything the addendum shows; plain values filled by the engine."""

    commune: HandoverCommune
    activated_at: datetime | None  # the first activation (the handover sheet's date)
    replaced_at: datetime
    reason: Literal["lost", "broken"]
    old_state: Literal["lost", "maintenance"]
    holder: str
    holder_role: str
    holder_upn: str
    old: AddendumDevice
    new: AddendumDevice
    # What the parties note when the replacement is handed over; None prints a blank.
    new_condition: str | None = None
    phone_method: str | None = None  # the number now registered as the account's phone
    metropole_contact: HandoverContact
    commune_correspondent: HandoverContact
    metropole_signatory: str | None = None
    metropole_signatory_title: str | None = None
    audit_anchor: tuple[int, str] | None = None

    @field_validator("activated_at", "replaced_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must be timezone-aware")
        return value

    @property
    def reason_label(self) -> str:
        return REASONS[self.reason]

    @property
    def state_label(self) -> str:
        return STATES[self.old_state]


def stem(addendum: SwapAddendum) -> str:
    """Return the file stem: one addendum per replaced device and replacement time."""
    moment = addendum.replaced_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"{STEM_PREFIX}{addendum.old.asset_tag}-{moment}"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,150}", name):
        raise ValueError(f"an asset tag fit for a file name is expected, not {name!r}")
    return name


def addendum_document(addendum: SwapAddendum, identity: Identity) -> Document:
    """Render the addendum (Markdown; `.html()` and `.pdf()` on the result)."""
    title = commune_title(addendum.commune.name)
    return render(
        TEMPLATE,
        {
            "a": addendum,
            "title": title,
            "anchor": anchor_text(addendum.audit_anchor) if addendum.audit_anchor else None,
        },
        identity=identity,
        title=f"Avenant à la fiche de remise – remplacement de {addendum.old.asset_tag} – {title}",
        footer=f"Avenant à la fiche de remise – {title} – {addendum.old.asset_tag}",
        created=addendum.replaced_at,
    )


def write_addendum(
    directory: Path,
    addendum: SwapAddendum,
    identity: Identity | None = None,
    *,
    formats: Sequence[str] = FORMATS,
    signer: Any | None = None,
) -> Written:
    """Write the addendum as avenant-remplacement-<ASSET>-<UTC>.md, .html and .pdf (0644)."""
    document = addendum_document(addendum, identity or Identity())
    return write_document(
        document, directory, stem(addendum), formats=formats, mode=DOCUMENT_MODE, signer=signer
    )
