"""Who is calling, and whether the application roles of its token allow the call.

A token stands for a principal: an application (app-only, the case of crisiskit) holding a set
of application roles, or a signed-in administrator (delegated). Each family declares, per route,
the application permissions that grant the call according to the route's reference page (any one
suffices), or None when the page says application permissions are not supported. An app-only
call that no held role allows is refused with 403 in the workload's words (the directory's
`Authorization_RequestDenied` unless the family declares `DENIED`); a call documented as not
supported with application permissions is refused to every app-only token, whatever its roles.
Delegated principals stand for a Global Administrator who consented to every delegated scope:
they are not checked against application permissions. This module imports no family.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crisiskit.sim.errors import SimError, forbidden, insufficient_privileges

# The least-privilege application permissions of README "Pointing crisiskit at a real tenant";
# a token the simulator does not know otherwise holds exactly these. Each is there for a page:
# Group.ReadWrite.All because adding an owner to an existing group (group-post-owners) and
# group-update accept nothing less (Group.Create and GroupMember.ReadWrite.All are then
# redundant); Team.ReadBasic.All to read the team and poll its creation (team-get,
# teamsasyncoperation-get); Channel.ReadBasic.All to list channels (channel-list). Teardown's
# export reads: Mail.Read (message-get, $value), Files.ReadWrite.All covers drive reads,
# Group.ReadWrite.All the group's conversations (group-list-threads), Calendars.Read
# (user-list-calendars, user-list-events), Contacts.Read (user-list-contacts) and
# ChannelMessage.Read.All (channel-list-messages, chatmessage-list-replies: a protected API).
DEFAULT_ROLES: tuple[str, ...] = (
    "User.ReadWrite.All",
    "User.DeleteRestore.All",
    "LicenseAssignment.ReadWrite.All",
    "Group.ReadWrite.All",
    "Team.Create",
    "Team.ReadBasic.All",
    "Channel.Create",
    "Channel.ReadBasic.All",
    "Files.ReadWrite.All",
    "UserAuthMethod-TAP.ReadWrite.All",
    "UserAuthMethod-Phone.ReadWrite.All",
    "MailboxSettings.Read",
    "Mail.Read",
    "Calendars.Read",
    "Contacts.Read",
    "ChannelMessage.Read.All",
)


# Grants shared by several families (each page lists them from least to most privileged).
USER_READ = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
GROUP_READ = (
    "GroupMember.Read.All",
    "GroupMember.ReadWrite.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
GROUP_WRITE = ("Group.ReadWrite.All", "Directory.ReadWrite.All")
MEMBER_WRITE = ("GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All")

# How a workload words its 403, for the `DENIED` of the families it serves.
EXCHANGE_DENIED = ("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
TEAMS_DENIED = (  # reported: "Missing role permissions"
    "Forbidden",
    "Missing role permissions on the request. API requires one of '{required}'. "
    "Roles on the request '{held}'.",
)


@dataclass(frozen=True)
class Principal:
    """The caller behind a token: its application roles, and whether it is app-only."""

    roles: frozenset[str]
    app_only: bool = True

    @classmethod
    def application(cls, roles: Iterable[str]) -> Principal:
        return cls(frozenset(str(r) for r in roles), True)

    @classmethod
    def delegated(cls) -> Principal:
        return cls(frozenset(), False)

    def holds(self, grants: Iterable[str]) -> bool:
        held = {r.lower() for r in self.roles}
        return any(g.lower() in held for g in grants)

    def to_json(self) -> dict[str, object]:
        return {"roles": sorted(self.roles), "appOnly": self.app_only}


@dataclass(frozen=True)
class Rule:
    """What a route requires: `grants` (any one), or None = not supported app-only."""

    grants: tuple[str, ...] | None
    denied: tuple[str, str] | None = None  # the workload's (code, message template)


def refusal(rule: Rule | None, principal: Principal) -> SimError:
    """Return the 403 a principal gets when `rule` does not let it through."""
    denied = rule.denied if rule is not None else None
    if denied is None:
        return insufficient_privileges()
    code, template = denied
    required = ", ".join(rule.grants or ()) if rule is not None else ""
    held = ", ".join(sorted(principal.roles))
    return forbidden(code, template.format(required=required, held=held))


def check(rule: Rule | None, principal: Principal | None) -> None:
    """Raise the 403 when `principal` may not make a call governed by `rule`.

    None (the simulator's own calls) and delegated principals pass. A route without a
    declared rule refuses every app-only call: a forgotten declaration fails closed.
    """
    if principal is None or not principal.app_only:
        return
    if rule is None or rule.grants is None or not principal.holds(rule.grants):
        raise refusal(rule, principal)


def require(principal: Principal | None, grants: tuple[str, ...] | None) -> None:
    """Check a finer rule inside a handler (e.g. per deleted item type) with directory words."""
    check(Rule(grants), principal)


def parse_roles(text: str) -> tuple[str, ...]:
    """Parse `A,B, C` (the `--roles` option) into role names; empty names are dropped."""
    return tuple(dict.fromkeys(r.strip() for r in text.split(",") if r.strip()))
