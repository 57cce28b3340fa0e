"""First sign-in slips ("fiches de première connexion"): one printed page per person, one PDF.

Each page gives one person their account, their Temporary Access Pass with its validity window
(Paris time), the lent phone's number and plain-French steps to sign in with the pass and to
register Microsoft Authenticator on the lent phone.

The PDF holds passes: it is written only as PDF (never Markdown or HTML), with mode 0600 from
its first byte, atomically and never through a symlink, in the commune's outputs folder beside
the credentials file. Passes are revealed only into the Typst source compiled in memory; an
error while typesetting never quotes that source.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crisiskit.documents.render import Identity, render, role_label, write_document
from crisiskit.documents.typography import commune_title
from crisiskit.secrets import Secret

SLIPS_FILE = "fiches-premiere-connexion.pdf"
SLIPS_MODE = 0o600
TEMPLATE = "fiches-premiere-connexion.md.j2"
SIGN_IN_URL = "https://aka.ms/mysecurityinfo"


@dataclass(frozen=True)
class SigninSlip:
    """What one person's slip shows (the pass stays a Secret until the PDF is typeset)."""

    name: str
    upn: str
    role: str
    temporary_access_pass: Secret
    valid_from: datetime
    valid_until: datetime
    usable_once: bool = False
    phone_number: str | None = None  # the lent phone's number (E.164), if a phone is lent
    phone_registered: bool = False  # that number is registered as the account's phone method

    def __post_init__(self) -> None:
        if not isinstance(self.temporary_access_pass, Secret):
            raise TypeError("temporary_access_pass must be a crisiskit.secrets.Secret")
        for name in ("valid_from", "valid_until"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware")


@dataclass(frozen=True)
class Helpdesk:
    """Whom to call when the sign-in does not work (the Métropole's Article 5 interlocutor)."""

    name: str
    phone: str | None = None
    email: str | None = None


def slip_file_name(stem: str = SLIPS_FILE) -> str:
    """Check a slips file name: a plain `*.pdf` name, never a path."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.pdf", stem):
        raise ValueError(f"a slips file is a plain .pdf file name, not {stem!r}")
    return stem


def write_signin_slips(
    outputs_dir: Path,
    slips: Sequence[SigninSlip],
    *,
    commune_name: str,
    identity: Identity,
    helpdesk: Helpdesk | None = None,
    file_name: str = SLIPS_FILE,
    signer: Any | None = None,
    created: datetime | None = None,
) -> Path | None:
    """Write one PDF with one page per person in `outputs_dir` (mode 0600); None if no slip.

    `credentials reissue` calls it with the reissued accounts only and its own `file_name`.
    """
    if not slips:
        return None
    name = slip_file_name(file_name)
    pages = [
        {
            "name": s.name,
            "upn": s.upn,
            "role": role_label(s.role),
            # The only place a pass is revealed for a slip: the PDF compiled in memory.
            "tap": s.temporary_access_pass.reveal(),
            "valid_from": s.valid_from,
            "valid_until": s.valid_until,
            "usable_once": s.usable_once,
            "phone": s.phone_number,
            "phone_registered": s.phone_registered,
        }
        for s in slips
    ]
    document = render(
        TEMPLATE,
        {"pages": pages, "sign_in_url": SIGN_IN_URL, "helpdesk": helpdesk},
        identity=identity,
        title=f"Fiches de première connexion – {commune_title(commune_name)}",
        footer=f"Fiche de première connexion – {commune_title(commune_name)} – "
        "à détruire après la première connexion",
        created=created or datetime.now(UTC),
        confidential=True,
    )
    written = write_document(
        document, Path(outputs_dir), name.removesuffix(".pdf"), formats=("pdf",),
        mode=SLIPS_MODE, signer=signer,
    )
    return written.paths["pdf"]
