"""The commune's convention, filled in from the inventory: the Métropole's own template + facts.

The legal text belongs to the Métropole's legal service: it is a Jinja2 Markdown file given by
the user (`crisiskit convention render COMMUNE --template FILE`), rendered in Jinja's sandbox
with strict variables, so a template can read the facts below and nothing else; a variable it
does not know is an error naming FILE:LINE (exit 2). A fact the inventory does not hold prints
as a visible blank and is listed in a warning; it is never invented.

`VARIABLES` documents every variable (`crisiskit convention variables`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crisiskit.documents.processing import Processing
from crisiskit.documents.render import (
    Document,
    Identity,
    filters,
    finish,
    markdown_escape,
    recording_blanks,
)
from crisiskit.documents.typography import commune_title
from crisiskit.errors import InputError

if TYPE_CHECKING:
    from crisiskit.inventory.models import Commune, Inventory

MAX_TEMPLATE_BYTES = 1_000_000
PARTIALS = ("_identite.md.j2",)


@dataclass(frozen=True)
class Variable:
    """One variable a convention template may use."""

    name: str
    kind: str  # text | date | boolean
    description: str


_ARTICLE11 = {
    "data_identity": "data: identity (surname, given name of the account holders)",
    "data_professional": "data: professional life (function in the crisis cell, lent phone)",
    "data_identifiers": "data: identifiers (account UPN, directory ids, temporary passes)",
    "data_connection_logs": "data: connection logs (the crisis tenant's sign-in and audit logs)",
    "data_location": "data: location data (never processed)",
    "data_sensitive": "data: sensitive data, GDPR Article 9 (never processed)",
    "data_nir": "data: social security number (never processed)",
    "data_financial": "data: economic and financial data (never processed)",
    "subjects_agents": "subjects: the commune's agents on the crisis roster",
    "subjects_elected": "subjects: elected officials on the roster (mayor, deputies)",
    "subjects_operators": "subjects: the Métropole's operators (named in the audit log)",
    "subjects_public": "subjects: citizens (never: no file is kept about them)",
    "support_email": "support: e-mail (Exchange Online)",
    "support_storage": "support: SharePoint storage (the crisis group's site and folders)",
    "support_videoconference": "support: videoconferencing (Microsoft Teams)",
    "metropole_processor": "the Métropole acts as processor for the commune (controller)",
    "metropole_controller": "the Métropole acts as controller (never, for this service)",
}

VARIABLES: tuple[Variable, ...] = (
    Variable("commune.id", "text", "the commune's id in the inventory, e.g. aubagne"),
    Variable("commune.name", "text", "its name, e.g. Aubagne"),
    Variable("commune.title", "text", "its name with the French article, e.g. Commune d'Aubagne"),
    Variable("commune.insee", "text", "its INSEE code"),
    Variable("commune.address", "text", "its postal address"),
    Variable("commune.mayor", "text", "its mayor"),
    Variable("convention.deliberation_number", "text", "number of the council's deliberation"),
    Variable("convention.deliberation_date", "date", "date of that deliberation"),
    Variable("convention.signature_date", "date", "date of signature (blank if unknown)"),
    Variable("convention.notification_date", "date", "date of notification (blank if unknown)"),
    Variable("convention.first_period_end", "date",
             "Article 7: last day of the first period (31 December of the notification year)"),
    Variable("convention.last_day", "date",
             "Article 7: last day it can be in force (notification + 8 years − 1 day)"),
    Variable("metropole.name", "text", "Métropole Aix-Marseille-Provence"),
    Variable("metropole.service", "text", "the service in charge (inventory metropole.service)"),
    Variable("metropole.address", "text", "its address (inventory metropole.address)"),
    Variable("metropole.signatory", "text", "who signs for the Métropole"),
    Variable("metropole.signatory_title", "text", "their capacity"),
    Variable("correspondents.metropole.name", "text", "Article 5: the Métropole's interlocutor"),
    Variable("correspondents.metropole.email", "text", "their e-mail address"),
    Variable("correspondents.metropole.phone", "text", "their phone number (filter | phone)"),
    Variable("correspondents.commune.name", "text", "Article 5: the commune's correspondent"),
    Variable("correspondents.commune.email", "text", "their e-mail address"),
    Variable("correspondents.commune.phone", "text", "their phone number (filter | phone)"),
    *(Variable(f"article11.{key}", "boolean", text) for key, text in _ARTICLE11.items()),
    Variable("today", "date", "the day the document is rendered (Paris)"),
)

FILTERS: tuple[tuple[str, str], ...] = (
    ("date", "a date in French: 1er décembre 2026"),
    ("datetime", "an instant in Paris time: 26 novembre 2026 à 21 h 18 (heure de Paris)"),
    ("phone", "a phone number for reading: +33 4 65 71 00 01"),
    ("checkbox", "a boolean as a check box: ☒ or ☐"),
    ("yesno", "a boolean as Oui / Non"),
    ("id", "an identifier, never broken across lines"),
    ("url", "a web address printed in full"),
    ("commune_title", "Commune d'Aubagne, Commune du Rove, …"),
)


class Facts(dict[str, Any]):
    """A group of variables that knows its own name, to name an unknown one in full."""

    def __init__(self, path: str, values: dict[str, Any]) -> None:
        super().__init__(
            {k: Facts(f"{path}.{k}", v) if isinstance(v, dict) else v for k, v in values.items()}
        )
        self.path = path


def _facts(values: dict[str, Any]) -> dict[str, Any]:
    return {k: Facts(k, v) if isinstance(v, dict) else v for k, v in values.items()}


def _undefined_class() -> Any:
    from jinja2 import StrictUndefined

    class UnknownVariable(StrictUndefined):
        """An unknown variable: the error names it in full (commune.maire)."""

        __slots__ = ()

        @property
        def _undefined_message(self) -> str:
            owner = self._undefined_obj
            if isinstance(owner, Facts):
                return f"unknown variable {owner.path}.{self._undefined_name}"
            if self._undefined_hint is None and self._undefined_name is not None:
                return f"unknown variable {self._undefined_name}"
            return str(super()._undefined_message)

    return UnknownVariable


def convention_context(
    inventory: Inventory, commune: Commune, processing: Processing, today: date
) -> dict[str, Any]:
    """Return the variables of a convention template for `commune` (see VARIABLES)."""
    from crisiskit.conventions import MAX_TERM_YEARS, add_years
    from crisiskit.documents.render import fact

    c, conv, m = commune, commune.convention, inventory.metropole
    notified = conv.notification_date
    return {
        "commune": {
            "id": c.id, "name": c.name, "title": commune_title(c.name), "insee": c.insee,
            "address": c.address, "mayor": c.mayor,
        },
        "convention": {
            "deliberation_number": conv.deliberation_number,
            "deliberation_date": conv.deliberation_date,
            "signature_date": fact(conv.signature_date, "convention.signature_date"),
            "notification_date": fact(notified, "convention.notification_date"),
            "first_period_end": fact(
                date(notified.year, 12, 31) if notified else None, "convention.first_period_end"
            ),
            "last_day": fact(
                add_years(notified, MAX_TERM_YEARS) - timedelta(days=1) if notified else None,
                "convention.last_day",
            ),
        },
        "metropole": {
            "name": "Métropole Aix-Marseille-Provence",
            "service": fact(getattr(m, "service", None), "metropole.service"),
            "address": fact(getattr(m, "address", None), "metropole.address"),
            "signatory": fact(getattr(m, "signatory", None), "metropole.signatory"),
            "signatory_title": fact(getattr(m, "signatory_title", None),
                                    "metropole.signatory_title"),
        },
        "correspondents": {
            "metropole": {"name": m.name, "email": m.email, "phone": m.phone},
            "commune": {
                "name": c.correspondent.name, "email": c.correspondent.email,
                "phone": c.correspondent.phone,
            },
        },
        "article11": processing.as_dict(),
        "today": today,
    }


def _loader(path: Path, source: str) -> Any:
    """Serve the user's template and crisiskit's partials, and no other file."""
    from importlib import resources

    from jinja2 import FunctionLoader

    def load(name: str) -> tuple[str, str, Callable[[], bool]] | None:
        if name == path.name:
            return source, str(path), lambda: True
        if name in PARTIALS:
            partial = resources.files("crisiskit.documents") / "templates" / name
            return partial.read_text("utf-8"), name, lambda: True
        return None

    return FunctionLoader(load)


def _sandbox(path: Path, source: str) -> Any:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        loader=_loader(path, source),
        undefined=_undefined_class(),
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=markdown_escape,
    )
    env.filters.update(filters())
    return env


def _template_line(exc: BaseException, filename: str) -> int | None:
    line = getattr(exc, "lineno", None) if getattr(exc, "filename", None) == filename else None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def read_template(path: Path) -> str:
    """Read a convention template (UTF-8, at most 1 MB); InputError otherwise."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_TEMPLATE_BYTES:
            raise InputError(f"{path}: a template is at most {MAX_TEMPLATE_BYTES} bytes")
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such template file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the template: {exc.strerror or exc}") from None


def render_convention(
    path: Path, context: dict[str, Any], *, identity: Identity, title: str, footer: str,
) -> Document:
    """Render the convention template at `path` with `context` (InputError names FILE:LINE)."""
    from datetime import UTC, datetime

    from jinja2 import TemplateError, TemplateSyntaxError

    path = Path(path)
    source = read_template(path)
    filename = str(path)
    try:
        env = _sandbox(path, source)
        template = env.get_template(path.name)
        with recording_blanks() as seen:
            markdown = template.render({**_facts(context), "metropole_identity": identity})
    except TemplateSyntaxError as exc:
        where = f"{exc.filename or filename}:{exc.lineno}"
        raise InputError(f"{where}: template syntax error: {exc.message}") from None
    except (TemplateError, TypeError, ValueError, AttributeError) as exc:
        line = _template_line(exc, filename)
        where = f"{filename}:{line}" if line else filename
        message = re.sub(r"^'?jinja2\.[a-z.]+'? ", "", str(exc))
        known = "unknown variable" in message
        hint = " (crisiskit convention variables lists them)" if known else ""
        raise InputError(f"{where}: {message}{hint}") from None
    return Document(
        title=title,
        markdown=finish(str(markdown)),
        footer=footer,
        created=datetime.now(UTC),
        missing=tuple(sorted(seen)),
    )
