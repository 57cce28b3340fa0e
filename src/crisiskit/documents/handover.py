"""The handover sheet ("fiche de remise"), in French, as Markdown and as printable HTML.

The engine fills a `HandoverSheet` with plain values; this module only renders it. The sheet
never holds a Temporary Access Pass: it says where the credentials file is and that it is
handed over in person.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from crisiskit.state.files import atomic_write

PARIS = "Europe/Paris"
DOCUMENT_MODE = 0o644

ROLE_LABELS = {
    "maire": "Maire",
    "adjoint": "Adjoint(e) au maire",
    "dgs": "Directeur(rice) général(e) des services",
    "dsi": "Responsable informatique (DSI)",
    "communication": "Communication",
    "police_municipale": "Police municipale",
    "agent": "Agent",
}
DEVICE_LABELS = {"laptop": "Ordinateur portable", "phone": "Téléphone mobile"}
MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)


class _Plain(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HandoverAccount(_Plain):
    """A crisis account as shown on the sheet."""

    surname: str
    given_name: str
    role: str
    upn: str
    team_owner: bool = False


class HandoverDevice(_Plain):
    """A lent device as shown on the sheet."""

    kind: Literal["laptop", "phone"]
    asset_tag: str
    serial: str
    model: str
    phone_number: str | None = None
    assigned_to: str


class HandoverContact(_Plain):
    """A person to call (Article 5 of the convention)."""

    name: str
    email: str | None = None
    phone: str | None = None


class HandoverSheet(_Plain):
    """Everything the handover sheet shows; plain values filled by the engine."""

    commune_name: str
    activated_at: datetime
    convention_number: str
    convention_date: date
    accounts: list[HandoverAccount]
    devices: list[HandoverDevice] = []
    team_name: str | None = None
    team_url: str | None = None
    sharepoint_url: str | None = None
    credentials_path: str
    tap_valid_until: datetime | None = None
    still_provisioning: list[str] = []
    metropole_contact: HandoverContact
    commune_correspondent: HandoverContact
    place: str = "Marseille"
    # (seq, sha256) of the last audit entry at handover: printed, then signed on paper, it lets
    # `crisiskit audit verify --anchor` detect even a rewritten audit log later.
    audit_anchor: tuple[int, str] | None = None

    @field_validator("audit_anchor")
    @classmethod
    def _hex_anchor(cls, value: tuple[int, str] | None) -> tuple[int, str] | None:
        if value is not None and not re.fullmatch(r"[0-9a-f]{16,64}", value[1]):
            raise ValueError("must be (seq, lowercase hex sha256)")
        return value

    @field_validator("team_url", "sharepoint_url")
    @classmethod
    def _web_link(cls, value: str | None) -> str | None:
        # A link is printed as a clickable href: only web addresses, never javascript: etc.
        if value is not None and not re.match(r"^https?://[^\s<>\"']+$", value):
            raise ValueError("must be an http(s) address")
        return value

    @field_validator("credentials_path")
    @classmethod
    def _code_span(cls, value: str) -> str:
        # Printed verbatim inside a Markdown code span, where nothing is interpreted.
        if "`" in value or "\n" in value or "\r" in value:
            raise ValueError("must not contain a backtick or a line break")
        return value

    @field_validator("activated_at", "tap_valid_until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must be timezone-aware")
        return value


def _paris() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(PARIS)
    except Exception:  # no tz database on this host: say UTC rather than fail the handover
        return UTC


def commune_title(name: str) -> str:
    """Return "Commune de X" with French elision and contraction (d'Aubagne, du Rove)."""
    if name.startswith("Les "):
        return f"Commune des {name[4:]}"
    if name.startswith("Le "):
        return f"Commune du {name[3:]}"
    if name[:1].upper() in "AEIOUYÀÂÄÉÈÊËÎÏÔÖÙÛÜ":
        return f"Commune d'{name}"
    return f"Commune de {name}"


def french_date(value: date | datetime) -> str:
    """Format a date the French way: "1er mars 2026"; an instant is first put in Paris time."""
    if isinstance(value, datetime):
        value = value.astimezone(_paris())
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {MONTHS[value.month - 1]} {value.year}"


def french_datetime(value: datetime) -> str:
    """Format an instant in Paris time: "26 novembre 2026 à 21 h 18 (heure de Paris)"."""
    zone = _paris()
    local = value.astimezone(zone)
    label = "heure de Paris" if zone is not UTC else "UTC"
    return f"{french_date(local)} à {local.hour} h {local.minute:02d} ({label})"


def role_label(role: str) -> str:
    """Return the French label of a roster role."""
    return ROLE_LABELS.get(role, role.replace("_", " ").capitalize())


def phone_display(number: str | None) -> str:
    """Format a phone number for reading ("+33 6 12 34 56 78"); unparseable ones unchanged."""
    if not number:
        return ""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(number.replace(" ", ""), "FR")
    except phonenumbers.NumberParseException:
        return number
    return str(
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    )


# Enough to stop emphasis, links, tables and inline HTML; "(" or "!" are harmless once "[" is.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


class _Verbatim(str):
    """A value printed as is in Markdown (validated web addresses)."""


def markdown_escape(value: object) -> object:
    """Escape Markdown syntax and inline HTML in a printed value (Jinja `finalize`)."""
    if value is None:
        return ""
    if isinstance(value, _Verbatim):
        return str(value)
    if isinstance(value, str):
        return _MD_SPECIAL.sub(r"\\\1", " ".join(value.split()))
    return value


@functools.cache
def _environment(kind: Literal["md", "html"]) -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    if kind == "html":
        env = Environment(
            loader=PackageLoader("crisiskit.documents", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    else:
        # Every value printed in Markdown is escaped: a name cannot inject HTML or links.
        env = Environment(
            loader=PackageLoader("crisiskit.documents", "templates"),
            autoescape=False,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            finalize=markdown_escape,
            keep_trailing_newline=True,
        )
    env.filters.update(
        french_date=french_date,
        french_datetime=french_datetime,
        role=role_label,
        device=lambda kind: DEVICE_LABELS.get(kind, kind),
        phone=phone_display,
        yesno=lambda flag: "Oui" if flag else "Non",
        verbatim=_Verbatim,
    )
    return env


def anchor_text(anchor: tuple[int, str]) -> str:
    """Format an audit anchor for paper: "57:3f2a 9c1d 0b7e 55aa" (first 16 hex digits)."""
    digits = anchor[1][:16]
    return f"{anchor[0]}:" + " ".join(digits[i : i + 4] for i in range(0, 16, 4))


def prepare_templates() -> None:
    """Load and compile the templates now (cached), so a later render costs only the render.

    The engine calls it in a thread while it waits on Graph, overlapping the compilation with
    network waits instead of adding it to the end of the run.
    """
    _environment("md").get_template("handover.md.j2")
    _environment("html").get_template("handover.html.j2")


def render_handover(sheet: HandoverSheet) -> tuple[str, str]:
    """Render the handover sheet; return (Markdown, HTML)."""
    context = {
        "sheet": sheet,
        "title": commune_title(sheet.commune_name),
        "anchor": anchor_text(sheet.audit_anchor) if sheet.audit_anchor else None,
    }
    markdown = _environment("md").get_template("handover.md.j2").render(context)
    html = _environment("html").get_template("handover.html.j2").render(context)
    return str(markdown), str(html)


def write_handover(directory: Path, sheet: HandoverSheet, stem: str = "fiche-de-remise") -> tuple[
    Path, Path
]:
    """Write the sheet as `<stem>.md` and `<stem>.html` in `directory`, atomically."""
    markdown, html = render_handover(sheet)
    directory = Path(directory)
    md_path = atomic_write(directory / f"{stem}.md", markdown.encode("utf-8"), DOCUMENT_MODE)
    html_path = atomic_write(directory / f"{stem}.html", html.encode("utf-8"), DOCUMENT_MODE)
    return md_path, html_path
