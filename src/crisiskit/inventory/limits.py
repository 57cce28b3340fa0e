"""Microsoft Graph's documented limits on every value crisiskit sends, checked before any run.

The values are computed exactly as the desired state computes them (`plan/desired.py`): user
names from `naming.py`, the group's display name and description from the playbook's team
templates with {commune}, {commune_id} and {insee} expanded, channel descriptions likewise,
the group's mailNickname `crisiskit-<commune id>`. A commune is checked against every
playbook beside the inventory, since `activate --playbook` may pick any of them: a valid
inventory never fails on a length in the middle of a run. Each bound names the page of the
Microsoft Graph reference (microsoftgraph/microsoft-graph-docs-contrib) that documents it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crisiskit.inventory.models import Commune
    from crisiskit.inventory.naming import Account
    from crisiskit.playbooks import Playbook

# api-reference/v1.0/resources/user.md, "Maximum length is N characters" of each property.
USER_DISPLAY_NAME = 256
USER_GIVEN_NAME = 64
USER_SURNAME = 64
USER_MAIL_NICKNAME = 64
# userPrincipalName: user.md refers to Microsoft Entra ID's username policies
# (entra/identity/authentication/concept-sspr-policy.md, "Username policies"): at most 113
# characters in all, 64 before the "@", 48 after it, and no "." right before the "@".
UPN_LENGTH = 113
UPN_LOCAL_PART = 64
UPN_DOMAIN = 48
# api-reference/v1.0/resources/group.md: displayName "Maximum length is 256 characters";
# mailNickname "Maximum length is 64 characters", ASCII 0-127 except @ () \ [] " ; : . <> ,
# and space (older versions of the page also exclude "."; we do).
GROUP_DISPLAY_NAME = 256
GROUP_MAIL_NICKNAME = 64
GROUP_NICKNAME_FORBIDDEN = frozenset('@()\\[]";:.<>, ')
# api-reference/v1.0/resources/team.md: description "Maximum length: 1024 characters". The
# Team is made from the group and takes the group's display name and description (group.md
# gives the description no bound of its own), so the group's description is held to it.
TEAM_DESCRIPTION = 1024
# api-reference/v1.0/resources/channel.md: displayName "The maximum length is 50 characters"
# (enforced on the playbook itself, playbooks.py); the page gives the description no bound:
# we hold it to the Team's 1024, the bound Teams applies to descriptions.
CHANNEL_NAME = 50
CHANNEL_DESCRIPTION = 1024
# The group's mailNickname, as plan/desired.py's group_nickname() makes it (a test checks).
GROUP_NICKNAME = "crisiskit-{}"


@dataclass(frozen=True)
class Problem:
    """A value that Graph would refuse, and the dotted path of the field it comes from."""

    path: str
    message: str


def _long(value: str, limit: int, what: str, page: str) -> str:
    shown = value if len(value) <= 60 else value[:57] + "…"
    return (f"{what} {shown!r} would be {len(value)} characters; Microsoft Graph allows at "
            f"most {limit} ({page})")


def domain_problems(domain: str) -> list[Problem]:
    """Check the UPN domain (the part after the "@")."""
    if len(domain) > UPN_DOMAIN:
        return [Problem("tenant.upn_domain", f"is {len(domain)} characters; a user principal "
                        f"name allows at most {UPN_DOMAIN} after the '@' (Entra ID username "
                        "policies)")]
    return []


def account_problems(base: str, accounts: Iterable[Account], commune: Commune,
                     domain: str) -> list[Problem]:
    """Check every value a commune's accounts send: names, mailNickname, UPN, display name.

    `base` is the dotted path of the roster (`communes[2].roster`).
    """
    from crisiskit.inventory.models import Person
    from crisiskit.inventory.naming import display_name

    found: list[Problem] = []
    # The display name is "<given> <surname> (Crise <commune>)": a commune name that leaves
    # no room for any person is reported once, at the commune's name.
    shortest = display_name(
        Person.model_construct(given_name="x", surname="y", role="agent"), commune.name
    )
    commune_too_long = len(shortest) > USER_DISPLAY_NAME
    if commune_too_long:
        found.append(Problem(
            f"{parent(base)}.name",
            f"is {len(commune.name)} characters: every account's display name "
            f"('<given name> <surname> (Crise <commune>)') would be longer than the "
            f"{USER_DISPLAY_NAME} characters Microsoft Graph allows (user.md displayName)",
        ))
    for account in accounts:
        entry = f"{base}[{account.index}]"
        person = account.person
        if len(person.given_name) > USER_GIVEN_NAME:
            found.append(Problem(f"{entry}.given_name", _long(
                person.given_name, USER_GIVEN_NAME, "the given name", "user.md givenName")))
        if len(person.surname) > USER_SURNAME:
            found.append(Problem(f"{entry}.surname", _long(
                person.surname, USER_SURNAME, "the surname", "user.md surname")))
        if not commune_too_long and len(account.display_name) > USER_DISPLAY_NAME:
            field = "given_name" if len(person.given_name) > len(person.surname) else "surname"
            found.append(Problem(f"{entry}.{field}", _long(
                account.display_name, USER_DISPLAY_NAME, "the account's display name",
                "user.md displayName") + "; shorten the names or the commune's name"))
        local = account.mail_nickname
        if not local:
            continue
        where = f"{entry}.account" if person.account else entry
        if len(local) > min(USER_MAIL_NICKNAME, UPN_LOCAL_PART):
            found.append(Problem(where, f"user name {local!r} is {len(local)} characters; "
                                 f"Microsoft Graph allows {UPN_LOCAL_PART} (user.md "
                                 "mailNickname, UPN before the '@'); set `account` to a "
                                 "shorter one"))
        elif len(local) + 1 + len(domain) > UPN_LENGTH:
            found.append(Problem(where, f"user principal name {local}@{domain} would be "
                                 f"{len(local) + 1 + len(domain)} characters; Entra ID allows "
                                 f"{UPN_LENGTH}; set `account` to a shorter one"))
        if local.endswith("."):
            found.append(Problem(where, f"user name {local!r} ends with '.', which a user "
                                 "principal name cannot have right before the '@'"))
    return found


def parent(path: str) -> str:
    """Return the dotted path holding `path` ("communes[1].roster" → "communes[1]")."""
    return path.rsplit(".", 1)[0]


def group_problems(i: int, commune: Commune, playbooks: Mapping[str, Playbook]) -> list[Problem]:
    """Check the group, Team and channel values of `commune` under each playbook."""
    from crisiskit.playbooks import channel_descriptions, group_names

    found: list[Problem] = []
    nickname = GROUP_NICKNAME.format(commune.id)
    if len(nickname) > GROUP_MAIL_NICKNAME or set(nickname) & GROUP_NICKNAME_FORBIDDEN \
            or not nickname.isascii():
        found.append(Problem(f"communes[{i}].id", _long(
            nickname, GROUP_MAIL_NICKNAME, "the group's mailNickname", "group.md")))
    checks: dict[str, tuple[int, str, str, list[tuple[str, str]]]] = {
        "name": (GROUP_DISPLAY_NAME, "the group and Team display name", "group.md displayName",
                 []),
        "description": (TEAM_DESCRIPTION, "the group and Team description",
                        "team.md description", []),
        "channel": (CHANNEL_DESCRIPTION, "a channel description",
                    "channel.md, bound of team.md", []),
    }
    for name in sorted(playbooks):
        book = playbooks[name]
        names = group_names(book, commune)
        if names is None:
            continue
        values = {"name": [names[0]], "description": [names[1]],
                  "channel": channel_descriptions(book, commune)}
        for kind, texts in values.items():
            limit, _, _, over = checks[kind]
            for text in texts:
                if len(text) > limit:
                    over.append((name, text))
                    break
    for limit, what, page, over in checks.values():
        if not over:
            continue
        books = ", ".join(name for name, _ in over)
        worst = max((text for _, text in over), key=len)
        found.append(Problem(f"communes[{i}].name", _long(worst, limit, what, page)
                             + f" with playbook{'s' if len(over) > 1 else ''} {books}; "
                             "shorten the commune's name or the playbook's template"))
    return found
