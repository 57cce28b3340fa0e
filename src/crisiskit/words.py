"""How the terminal says things: counts with their noun, durations, Paris times, phone numbers.

Pure functions (no rich, no I/O), shared by every command so that the same fact reads the same
everywhere: "1 account" / "12 accounts", "1 min 40 s", "2026-12-02 00:20 CET", "+33 6 12 34 56
78". The CLI is in English; the French forms of documents live in `crisiskit.documents`.
"""

from __future__ import annotations

from datetime import UTC, datetime

# What each resource kind is called on a terminal: (one, many).
NOUNS: dict[str, tuple[str, str]] = {
    "user": ("account", "accounts"),
    "licence": ("licence", "licences"),
    "group": ("group", "groups"),
    "membership": ("membership", "memberships"),
    "team": ("Team", "Teams"),
    "channel": ("channel", "channels"),
    "drive": ("SharePoint drive", "SharePoint drives"),
    "folder": ("folder", "folders"),
    "tap": ("Temporary Access Pass", "Temporary Access Passes"),
    "phone_method": ("phone method", "phone methods"),
    "loan": ("device loan", "device loans"),
    "mailbox": ("mailbox", "mailboxes"),
    "laptop": ("laptop", "laptops"),
    "phone": ("phone", "phones"),
    "device": ("device", "devices"),
    "step": ("step", "steps"),
    "entry": ("entry", "entries"),
    "audit entry": ("audit entry", "audit entries"),
    "object": ("object", "objects"),
    "commune": ("commune", "communes"),
    "problem": ("problem", "problems"),
}

# Past participles of plan actions, for outcomes ("12 created, 3 present").
DONE = {
    "create": "created",
    "update": "updated",
    "present": "present",
    "conflict": "in conflict",
    "disable": "disabled",
    "revoke": "revoked",
    "delete": "deleted",
    "purge": "purged",
    "export": "exported",
    "wait": "waited for",
}


def noun(kind: str, n: int = 2) -> str:
    """Return the word for `n` objects of `kind` ("account" / "accounts")."""
    one, many = NOUNS.get(kind, (kind.replace("_", " "), kind.replace("_", " ") + "s"))
    return one if n == 1 else many


def count(n: int, kind: str) -> str:
    """Return "1 account", "12 accounts", "0 accounts"."""
    return f"{n} {noun(kind, n)}"


def listing(items: list[str], *, empty: str = "nothing") -> str:
    """Join items as a sentence does: "a", "a and b", "a, b and c"."""
    if not items:
        return empty
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def duration(seconds: float) -> str:
    """Return a duration as people say it: "0 s", "42 s", "1 min 40 s", "2 h 05 min"."""
    total = max(int(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s" if secs else f"{minutes} min"
    return f"{secs} s"


def _paris() -> object:
    from crisiskit.documents.typography import paris

    return paris()


def instant(value: datetime | str | None) -> datetime | None:
    """Parse an ISO 8601 instant (a naive one is UTC); None and blanks stay None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        parsed = value
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def paris_time(
    value: datetime | str | None, *, seconds: bool = False, zone: bool = True
) -> str:
    """Return an instant in Paris time with its zone, to the minute: "2026-12-02 00:20 CET".

    With `seconds`: "2026-12-02 00:20:13 CET" (logs); without `zone`, for a table whose header
    names it: "2026-12-02 00:20". An unreadable value is returned as given; None is "".
    """
    moment = instant(value)
    if moment is None:
        return "" if value is None else str(value)
    local = moment.astimezone(_paris())  # type: ignore[arg-type]
    shape = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return f"{local:{shape}} {local.tzname() or 'UTC'}" if zone else f"{local:{shape}}"


def paris_date(value: datetime | str | None) -> str:
    """Return the day of an instant in Paris ("2026-12-02")."""
    moment = instant(value)
    if moment is None:
        return "" if value is None else str(value)
    return f"{moment.astimezone(_paris()):%Y-%m-%d}"  # type: ignore[arg-type]


def phone(number: str | None) -> str:
    """Return a phone number in the one format the terminal uses: "+33 6 12 34 56 78".

    Graph's "+33 612345678" and the inventory's E.164 "+33612345678" read the same; a value
    that is not a phone number is returned as given.
    """
    if not number:
        return ""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(str(number).replace(" ", ""), "FR")
    except phonenumbers.NumberParseException:
        return str(number)
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL))
