"""The document mechanism: a Jinja2 Markdown template → Markdown, HTML and PDF, in French.

    document = render("fiche-de-remise.md.j2", {"sheet": ...}, identity=..., title=..., footer=...)
    write_document(document, directory, "fiche-de-remise", formats=("md", "html", "pdf"))

Every document crisiskit writes (handover sheet and its addenda, first sign-in slips, teardown
attestation, exercise reports, the convention, the GDPR record) is one Markdown template that
starts with the Métropole's identity block (`_identite.md.j2`) and one small data class. The
rendered Markdown goes through `french_typography` once, then `markup` renders the same syntax
tree to HTML (page.html.j2) and to Typst, compiled to PDF by `pdf`.

Printed values are escaped (Jinja `finalize`): a name cannot inject Markdown, HTML or Typst. A
fact the inventory does not hold is a `Missing` value: it prints as a visible blank
("________") and is recorded, so the command can warn about it; it is never invented.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from crisiskit.documents import typography as fr
from crisiskit.errors import InputError

DOCUMENT_MODE = 0o644
FORMATS = ("md", "html", "pdf")
METROPOLE = "Métropole Aix-Marseille-Provence"

ROLE_LABELS = {
    "maire": "Maire",
    "adjoint": "Adjoint au maire",
    "dgs": "Direction générale des services",
    "dsi": "Direction des systèmes d'information",
    "communication": "Communication",
    "police_municipale": "Police municipale",
    "agent": "Agent",
}

# Enough to stop emphasis, links, tables and inline HTML; "(" or "!" are harmless once "[" is.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")
_CODE_SAFE = re.compile(r"^[^`\n\r]+$")
# A printed value stays on its line: runs of whitespace (newlines included) become one space.
_WHITESPACE = re.compile(r"[ \t\r\n\f\v]+")


# The facts printed as blanks by the render in progress (one set per render, thread-safe).
_BLANKS: ContextVar[set[str] | None] = ContextVar("crisiskit_blanks", default=None)


class Missing:
    """A fact the inventory does not hold: prints as a visible blank and is recorded."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        seen = _BLANKS.get()
        if seen is not None:
            seen.add(self.name)
        return fr.BLANK

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"Missing({self.name!r})"


class Verbatim(str):
    """A value printed as is in the Markdown (already valid Markdown: code spans, links)."""


def markdown_escape(value: object) -> object:
    """Escape Markdown syntax and inline HTML in a printed value (Jinja `finalize`)."""
    if value is None:
        return ""
    if isinstance(value, Verbatim):
        return str(value)
    if isinstance(value, Missing):
        return _MD_SPECIAL.sub(r"\\\1", str(value))
    if isinstance(value, str):
        return _MD_SPECIAL.sub(r"\\\1", _WHITESPACE.sub(" ", value))
    return value


def code_span(value: object) -> object:
    """Print a value as an identifier (a code span: never broken, never interpreted)."""
    if isinstance(value, Missing) or value is None:
        return value if value is not None else ""
    text = " ".join(str(value).split())
    if not text:
        return ""
    if _CODE_SAFE.match(text):
        return Verbatim(f"`{text}`")
    fence = "`" * (max(len(run) for run in re.findall(r"`+", text)) + 1)
    return Verbatim(f"{fence} {text} {fence}")


def web_address(value: object) -> object:
    """Print an http(s) address in full, as an autolink (anything else: as an identifier)."""
    if isinstance(value, Missing) or value is None:
        return value if value is not None else ""
    text = str(value)
    if re.fullmatch(r"https?://[^\s<>\"'`]+", text):
        return Verbatim(f"<{text}>")
    return code_span(text)


def _dated(fn: Callable[[Any], str]) -> Callable[[Any], object]:
    def wrapped(value: Any) -> object:
        return value if isinstance(value, Missing) else fn(value)

    return wrapped


def role_label(role: str) -> str:
    """Return the French label of a roster role (a function, not a gendered title)."""
    return ROLE_LABELS.get(role, role.replace("_", " ").capitalize())


def phone_display(number: object) -> object:
    """Format a phone number for reading ("+33 6 12 34 56 78"); unparseable ones unchanged."""
    if isinstance(number, Missing):
        return number
    if not number:
        return ""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(str(number).replace(" ", ""), "FR")
    except phonenumbers.NumberParseException:
        return str(number)
    text = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return str(text).replace(" ", fr.NBSP)


def filters() -> dict[str, Callable[..., Any]]:
    """Return the filters every document template may use (documented by `convention variables`)."""
    return {
        "date": _dated(fr.french_date),
        "datetime": _dated(fr.french_datetime),
        "time": _dated(fr.french_time),
        "role": role_label,
        "phone": phone_display,
        "id": code_span,
        "url": web_address,
        "yesno": lambda flag: "Oui" if flag else "Non",
        "checkbox": lambda flag: "☒" if flag else "☐",
        "plural": fr.plural,
        "commune_title": fr.commune_title,
        "at_place": fr.at_place,
        "or_blank": lambda value, name: fact(value, name),
    }


@dataclass(frozen=True)
class Identity:
    """The Métropole's identity block, printed at the top of every document."""

    name: str = METROPOLE
    service: str | None = None
    address: str | None = None
    email: str | None = None
    phone: str | None = None


def identity_of(metropole: Any) -> Identity:
    """Build the identity block from the inventory's `metropole` entry."""
    return Identity(
        service=getattr(metropole, "service", None),
        address=getattr(metropole, "address", None),
    )


@dataclass(frozen=True)
class Document:
    """A rendered document: its Markdown (French typography applied) and how to print it."""

    title: str
    markdown: str
    footer: str
    created: datetime
    confidential: bool = False
    missing: tuple[str, ...] = ()
    images: Mapping[str, bytes] = field(default_factory=dict)  # name.png -> PNG, embedded

    def html(self) -> str:
        """Return the document as a standalone HTML page (A4 print styles)."""
        from crisiskit.documents.markup import to_html

        page = _environment().get_template("page.html.j2")
        body = to_html(self.markdown, self.images)
        return str(page.render(title=self.title, footer=self.footer, body=body))

    def pdf(self) -> bytes:
        """Return the document as PDF bytes (A4, page X sur Y)."""
        from crisiskit.documents.markup import to_typst
        from crisiskit.documents.pdf import compile_pdf

        return compile_pdf(
            to_typst(self.markdown, self.images),
            title=self.title,
            footer=self.footer,
            confidential=self.confidential,
            created=self.created,
            images=self.images,
        )


def _css_string(value: str) -> Any:
    """Escape a value for a CSS string inside <style> (HTML entities mean nothing there)."""
    from markupsafe import Markup

    escaped = "".join(
        f"\\{ord(ch):x} " if ch in '\\"<>&\'' or ord(ch) < 32 else ch for ch in value
    )
    return Markup(escaped)


@functools.cache
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("crisiskit.documents", "templates"),
        autoescape=lambda name: bool(name and name.endswith(".html.j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(filters(), css_string=_css_string)
    return env


@functools.cache
def _markdown_environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("crisiskit.documents", "templates"),
        autoescape=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=markdown_escape,
    )
    env.filters.update(filters())
    return env


def prepare_templates(names: Iterable[str] = ()) -> None:
    """Load and compile templates now (cached), so that a later render costs only the render."""
    env = _markdown_environment()
    for name in names:
        env.get_template(name)
    _environment().get_template("page.html.j2")


def finish(markdown: str) -> str:
    """Apply the French typography to rendered Markdown (the one place it is applied)."""
    return fr.french_typography(markdown)


def render(
    template: str,
    context: Mapping[str, Any],
    *,
    identity: Identity,
    title: str,
    footer: str,
    created: datetime | None = None,
    confidential: bool = False,
    images: Mapping[str, bytes] | None = None,
) -> Document:
    """Render one of crisiskit's own templates into a Document (`images`: PNGs it embeds)."""
    with recording_blanks() as seen:
        values = {**context, "metropole_identity": identity}
        markdown = _markdown_environment().get_template(template).render(values)
    return Document(
        title=title,
        markdown=finish(str(markdown)),
        footer=footer,
        created=created or datetime.now(UTC),
        confidential=confidential,
        missing=tuple(sorted(seen)),
        images=dict(images or {}),
    )


@contextmanager
def recording_blanks() -> Iterator[set[str]]:
    """Collect the names of the Missing facts printed while the block runs."""
    seen: set[str] = set()
    token = _BLANKS.set(seen)
    try:
        yield seen
    finally:
        _BLANKS.reset(token)


def fact(value: Any, name: str) -> Any:
    """Return `value`, or a Missing blank named `name` when the inventory does not hold it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return Missing(name)
    return value


def parse_formats(value: str) -> tuple[str, ...]:
    """Parse "md,html,pdf" (any subset, any order); InputError on an unknown format."""
    chosen = [part.strip().lower() for part in value.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in FORMATS]
    if unknown or not chosen:
        raise InputError(
            f"--format: {', '.join(unknown) or 'nothing'} is not a format "
            f"(choose among {', '.join(FORMATS)})"
        )
    return tuple(f for f in FORMATS if f in chosen)


@dataclass
class Written:
    """The files one document was written to."""

    paths: dict[str, Path] = field(default_factory=dict)

    def __iter__(self) -> Any:
        return iter(self.paths.values())


def write_document(
    document: Document,
    directory: Path,
    stem: str,
    *,
    formats: Iterable[str] = FORMATS,
    mode: int = DOCUMENT_MODE,
    signer: Any | None = None,
) -> Written:
    """Write `<stem>.md`, `.html` and/or `.pdf` in `directory`, atomically, with `mode`.

    The PDF is signed (PAdES) when a signer is given. Files are replaced atomically and never
    written through a symlink (crisiskit.state.files.atomic_write).
    """
    from crisiskit.state.files import atomic_write

    if "/" in stem or stem.startswith("."):
        raise ValueError(f"a document name is a plain file name, not {stem!r}")
    directory = Path(directory)
    written = Written()
    for kind in FORMATS:
        if kind not in formats:
            continue
        if kind == "md":
            data = document.markdown.encode("utf-8")
        elif kind == "html":
            data = document.html().encode("utf-8")
        else:
            data = document.pdf()
            if signer is not None:
                data = signer.sign(data)
        written.paths[kind] = atomic_write(directory / f"{stem}.{kind}", data, mode)
    return written


def today_in_paris() -> date:
    """Return today's date in Paris (documents are dated where they are signed)."""
    return datetime.now(UTC).astimezone(fr.paris()).date()
