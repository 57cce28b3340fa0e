"""The teardown attestation ("attestation de fin de service"): Markdown, HTML and PDF, in French.

For the commune's and the Métropole's records (GDPR accountability, Article 11 j of the
convention): what was exported (files, volume, the export's digest) or that the export was
expressly waived, which accounts and group were frozen, deleted or purged and when, what the
service keeps until its automatic purge (and why: a deleted group cannot be purged with
application permissions), which devices came back (to be wiped), who ran it, and the audit
chain's fingerprint. The engine fills an `Attestation` with plain values; this module only
renders it through the document mechanism (templates/attestation-fin-de-service.md.j2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from crisiskit.documents.render import (
    DOCUMENT_MODE,
    FORMATS,
    Document,
    Identity,
    Written,
    render,
    write_document,
)
from crisiskit.documents.typography import commune_title, zone_label

TEMPLATE = "attestation-fin-de-service.md.j2"
STEM = "attestation-fin-de-service"
KIND_LABELS = {
    "mail": "Messagerie des comptes",
    "onedrive": "Espaces OneDrive des comptes",
    "files": "Documents de l'équipe (SharePoint)",
    "conversations": "Conversations du groupe",
    "calendar": "Calendriers",
    "group_calendar": "Calendrier du groupe",
    "contacts": "Contacts",
    "channels": "Canaux de l'équipe Teams",
}
STATUS_LABELS = {
    "none": "rien à exporter",
    "refused": "lecture refusée par Microsoft",
    "not_supported": "non accessible avec les permissions d'application",
}


def volume(n: int) -> str:
    """Return a byte count the French way: "12,3 Mo", "850 ko", "42 octets"."""
    for unit, size in (("Go", 1e9), ("Mo", 1e6), ("ko", 1e3)):
        if n >= size:
            return f"{n / size:.1f}".replace(".", ",") + f" {unit}"
    return f"{n} octet" + ("s" if n > 1 else "")


@dataclass(frozen=True)
class AttestedObject:
    """An account or the group: when it was frozen, deleted, purged (or until when it is kept)."""

    kind: str  # user | group
    name: str
    frozen_at: datetime | None = None
    deleted_at: datetime | None = None
    purged_at: datetime | None = None
    kept_until: datetime | None = None  # automatic purge by the service
    purge_refused: bool = False  # --purge asked, not permitted to the application

    @property
    def label(self) -> str:
        return "Compte" if self.kind == "user" else "Groupe Microsoft 365 (équipe et site)"


@dataclass(frozen=True)
class AttestedDevice:
    kind: str  # laptop | phone
    asset_tag: str
    identifier: str  # serial number or IMEI
    holder: str
    returned_at: datetime | None

    @property
    def label(self) -> str:
        return "Ordinateur portable" if self.kind == "laptop" else "Téléphone mobile"


@dataclass(frozen=True)
class AttestedSource:
    kind: str
    owner: str
    status: str
    detail: str = ""

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def why(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class ExportFacts:
    folder: str
    digest: str
    files: int
    bytes: int
    created_at: datetime | None
    by_kind: tuple[tuple[str, int, int], ...] = ()  # (kind, files, bytes)
    not_exported: tuple[AttestedSource, ...] = ()


@dataclass(frozen=True)
class Attestation:
    """Everything the attestation states (see the module docstring)."""

    commune_name: str
    commune_insee: str
    operator: str
    started_at: datetime
    finished_at: datetime
    runs: tuple[int, ...]
    export: ExportFacts | None
    objects: tuple[AttestedObject, ...] = ()
    devices: tuple[AttestedDevice, ...] = ()
    audit_anchor: str | None = None
    purge_requested: bool = False
    from_tenant: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def kept(self) -> list[AttestedObject]:
        return [o for o in self.objects if o.purged_at is None and o.kept_until is not None]


def attestation_document(att: Attestation, identity: Identity) -> Document:
    """Render the attestation (Markdown; `.html()` and `.pdf()` on the result)."""
    title = f"Attestation de fin de service – {commune_title(att.commune_name)}"
    return render(
        TEMPLATE,
        {"att": att, "title": commune_title(att.commune_name), "kinds": KIND_LABELS,
         "volume": volume, "zone": zone_label()},
        identity=identity,
        title=title,
        footer=f"Attestation de fin de service – {commune_title(att.commune_name)}",
        created=att.finished_at,
    )


def write_attestation(
    directory: Path,
    att: Attestation,
    identity: Identity | None = None,
    *,
    formats: Sequence[str] = FORMATS,
    signer: Any | None = None,
) -> Written:
    """Write attestation-fin-de-service.md, .html and .pdf (0644: it holds no secret)."""
    document = attestation_document(att, identity or Identity())
    return write_document(
        document, directory, STEM, formats=formats, mode=DOCUMENT_MODE, signer=signer
    )
