"""Turn roster entries into Microsoft 365 account names: UPN, mail nickname, display name.

Graph accepts only ASCII letters, digits and `' . - _ ! # ^ ~` in a UPN's local part, so names
are transliterated (é→e, ç→c, œ→oe), spaces become `-` and apostrophes disappear
(N'Diaye → ndiaye). Homonyms get a numeric suffix in roster order (`jean.martin`,
`jean.martin2`, …): the result is a pure function of the roster, so a rerun finds the same names.

An explicit `account` is used as written and never renamed. Generated names are numbered
among themselves, without regard to explicit ones, so that an explicit account cannot shift
somebody else's name; an explicit account equal to a generated name or to another explicit
one is flagged (`Account.clash`) and `checks.py` reports it as an error.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crisiskit.inventory.models import Commune, Person

MAX_LOCAL_PART = 64

# Letters NFKD does not decompose into ASCII plus combining marks.
_SPECIAL = str.maketrans(
    {
        "œ": "oe",
        "æ": "ae",
        "ß": "ss",
        "ø": "o",
        "đ": "d",
        "ð": "d",
        "ł": "l",
        "þ": "th",
        "ı": "i",
    }
)
_APOSTROPHES = str.maketrans({"'": None, "’": None, "ʼ": None, "‘": None, "`": None, "´": None})
_NOT_ALLOWED = re.compile(r"[^a-z0-9-]+")
_REPEATED = re.compile(r"-{2,}")


def slug_part(name: str) -> str:
    """Return the ASCII form of a name for a UPN ("Marie-Hélène" → "marie-helene")."""
    text = name.strip().lower().translate(_SPECIAL).translate(_APOSTROPHES)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.translate(_SPECIAL)
    text = _NOT_ALLOWED.sub("-", text)
    return _REPEATED.sub("-", text).strip("-")


def base_local_part(person: Person) -> str:
    """Return `given.surname`, transliterated, before any homonym suffix ("" if impossible)."""
    if person.account:
        return person.account
    given, surname = slug_part(person.given_name), slug_part(person.surname)
    if not given or not surname:
        return ""
    return f"{given}.{surname}"


@dataclass(frozen=True)
class Account:
    """The Microsoft 365 identity crisiskit gives one roster entry."""

    person: Person
    index: int  # position in the roster
    upn: str
    mail_nickname: str
    display_name: str
    homonym_of: int | None = None  # roster index of the first person with the same base name
    # For an explicit account: roster index of the earlier entry (explicit) or of the entry
    # whose generated name (any position) is the same user name. None: no clash.
    clash: int | None = None

    @property
    def local_part(self) -> str:
        return self.mail_nickname


def display_name(person: Person, commune_name: str) -> str:
    """Return the display name, which says whose crisis cell the account belongs to."""
    return f"{person.given_name} {person.surname} (Crise {commune_name})"


def roster_accounts(commune: Commune, domain: str) -> list[Account]:
    """Return one account per roster entry, in roster order, homonyms numbered deterministically.

    An entry whose name has no usable ASCII letters gets an empty UPN, and an explicit account
    that clashes is marked in `Account.clash`; `checks.py` reports both.
    """
    generated: dict[int, tuple[str, int | None]] = {}
    taken: set[str] = set()
    first_of: dict[str, int] = {}
    for index, person in enumerate(commune.roster):
        if person.account:
            continue
        base = base_local_part(person)
        local = base
        homonym_of = None
        if base:
            if base in first_of:
                homonym_of = first_of[base]
                n = 2
                while f"{base}{n}" in taken:
                    n += 1
                local = f"{base}{n}"
            else:
                first_of[base] = index
            if local in taken:  # a real name that looks like a suffixed one ("jean.martin2")
                n = 2
                while f"{local}{n}" in taken:
                    n += 1
                local = f"{local}{n}"
            taken.add(local)
        generated[index] = (local, homonym_of)
    owner_of = {local: index for index, (local, _) in generated.items() if local}
    accounts: list[Account] = []
    for index, person in enumerate(commune.roster):
        clash = None
        if person.account:
            local, homonym_of = person.account, None
            clash = owner_of.get(local)
            owner_of.setdefault(local, index)
        else:
            local, homonym_of = generated[index]
        accounts.append(
            Account(
                person=person,
                index=index,
                upn=f"{local}@{domain}" if local else "",
                mail_nickname=local,
                display_name=display_name(person, commune.name),
                homonym_of=homonym_of,
                clash=clash,
            )
        )
    return accounts
