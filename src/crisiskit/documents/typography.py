"""French typography for every document: spaces, guillemets, apostrophes, dates, times.

`french_typography` is the one filter every rendered document goes through (the document
mechanism applies it to the whole Markdown, outside code spans and link targets), so no
template has to remember a non-breaking space. Dates and times are Jinja filters:
"1er décembre 2026", "26 novembre 2026 à 21 h 18 (heure de Paris)".
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, tzinfo

PARIS = "Europe/Paris"
NBSP = "\u00a0"  # espace insécable: before ":" and inside « »
NNBSP = "\u202f"  # espace fine insécable: before ";", "!" and "?"
BLANK = "________"  # a fact the inventory does not hold, to be completed by hand

MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)

# Regions the typography must not touch: code spans (identifiers, passes), autolinks, link
# targets, and table delimiter rows (":---" is syntax there, not punctuation).
_PROTECTED = re.compile(
    r"(?P<code>(?P<ticks>`+).+?(?P=ticks))"
    r"|(?P<auto><[a-zA-Z][a-zA-Z0-9+.-]*:[^<>\s]*>)"
    r"|(?P<target>\]\((?:<[^<>\n]*>|[^()\s]*)\))"
    r"|(?P<delim>^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$)",
    re.M,
)
_QUOTED = re.compile(r"\"([^\"\n]+)\"")
# "?" or "!" straight after a word gets its thin space too ("Prêt?" -> "Prêt ?"), but only
# when a space, the end or closing punctuation follows: "?groupId=" or "!=" are left alone.
_SPACE_BEFORE = re.compile(r"(?<=\S)[ \u00a0\u202f]*([;!?])(?=\s|$|[)»*_])")
_SPACE_BEFORE_COLON = re.compile(r"(?<=[^\s:])[ \u00a0\u202f]*:(?=\s|$)")
_OPEN_GUILLEMET = re.compile(r"«[ \u00a0\u202f]*")
_CLOSE_GUILLEMET = re.compile(r"[ \u00a0\u202f]*»")
_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)")


def _fix(text: str) -> str:
    text = _QUOTED.sub(lambda m: f"«{m.group(1)}»", text)
    text = _OPEN_GUILLEMET.sub("«" + NBSP, text)
    text = _CLOSE_GUILLEMET.sub(NBSP + "»", text)
    text = _SPACE_BEFORE.sub(NNBSP + r"\1", text)
    text = _SPACE_BEFORE_COLON.sub(NBSP + ":", text)
    return _APOSTROPHE.sub("\u2019", text)


def french_typography(text: str) -> str:
    """Apply French typography to Markdown text, leaving code spans and link targets as they are.

    Non-breaking spaces before ":" (insécable) and before ";", "!", "?" (fine insécable);
    "straight quotes" become « guillemets » with non-breaking spaces inside; an apostrophe
    between letters becomes ’. Idempotent.
    """
    out: list[str] = []
    last = 0
    for match in _PROTECTED.finditer(text):
        out.append(_fix(text[last : match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(_fix(text[last:]))
    return "".join(out)


@functools.cache
def paris() -> tzinfo:
    """Return the Europe/Paris time zone (UTC on a host without a time-zone database)."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(PARIS)
    except Exception:  # no tz database on this host: say UTC rather than fail a document
        return UTC


def french_date(value: date | datetime | None) -> str:
    """Format a date the French way ("1er mars 2026"); an instant is first put in Paris time."""
    if value is None:
        return BLANK
    if isinstance(value, datetime):
        value = value.astimezone(paris())
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day}{NBSP}{MONTHS[value.month - 1]} {value.year}"


def french_time(value: datetime) -> str:
    """Format an instant's time in Paris: "21 h 18" (non-breaking spaces)."""
    local = value.astimezone(paris())
    return f"{local.hour}{NBSP}h{NBSP}{local.minute:02d}"


def zone_label() -> str:
    """Return how times are labelled: "heure de Paris", or "UTC" without a tz database."""
    return "heure de Paris" if paris() is not UTC else "UTC"


def french_datetime(value: datetime | None) -> str:
    """Format an instant in Paris time: "26 novembre 2026 à 21 h 18 (heure de Paris)"."""
    if value is None:
        return BLANK
    return f"{french_date(value)} à {french_time(value)} ({zone_label()})"


def commune_title(name: str) -> str:
    """Return "Commune de X" with French elision and contraction (d'Aubagne, du Rove)."""
    if name.startswith("Les "):
        return f"Commune des {name[4:]}"
    if name.startswith("Le "):
        return f"Commune du {name[3:]}"
    if name[:1].upper() in "AEIOUYÀÂÄÉÈÊËÎÏÔÖÙÛÜ":
        return f"Commune d'{name}"
    return f"Commune de {name}"


def at_place(name: str) -> str:
    """Return "à Aubagne", "au Rove", "aux Pennes-Mirabeau", "à La Ciotat" (French contraction)."""
    if name.startswith("Les "):
        return f"aux {name[4:]}"
    if name.startswith("Le "):
        return f"au {name[3:]}"
    return f"à {name}"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """Return "1 compte", "12 comptes" (French: 0 and 1 take the singular)."""
    word = singular if count < 2 else (plural_form or singular + "s")
    return f"{count}{NBSP}{word}"


def duration(minutes: int) -> str:
    """Return a duration in French: "8 heures", "1 jour", "90 minutes"."""
    if minutes % 1440 == 0:
        return plural(minutes // 1440, "jour")
    if minutes % 60 == 0:
        return plural(minutes // 60, "heure")
    return plural(minutes, "minute")
