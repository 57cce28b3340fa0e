"""A new group's record: the validation of a `POST /groups` body and the stored group.

Shared by the groups family (`POST /groups`, and `PATCH` for the properties they have in
common) and by `teamcreate.py` (a team created from scratch brings its Microsoft 365 group).
The rules are group-post-groups' and group-update's: displayName ≤ 256 characters, a unique
mailNickname of ≤ 64 ASCII characters, extension properties registered on the app, at most 20
owners and members bound in the create. This module imports no family.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crisiskit.sim import changes, replication
from crisiskit.sim.errors import bad_request
from crisiskit.sim.objects import MAX_LINKS, resolve_binds

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

# Characters a mailNickname may not hold (and none below U+0020).
NICKNAME_FORBIDDEN = set('@()\\[]";:<>, ')
# Group properties a client may set (create and update).
WRITABLE = {
    "description",
    "displayName",
    "visibility",
    "preferredLanguage",
    "preferredDataLocation",
    "classification",
    "theme",
    "mailNickname",
}
INVALID_NAME = "Invalid value specified for property 'displayName' of resource 'Group'."


def first_domain(sim: Simulator) -> str:
    """Return the domain a group's mail address is built on."""
    domains = sim.tenant.verified_domains
    return domains[0] if domains else "contoso.onmicrosoft.com"


def check_nickname(sim: Simulator, nickname: Any, *, exclude: str | None = None) -> str:
    """Validate a mailNickname as Entra does: ≤ 64 ASCII characters, no forbidden ones, unique."""
    if not isinstance(nickname, str) or not nickname:
        raise bad_request(
            "Invalid value specified for property 'mailNickname' of resource 'Group'.",
            target="mailNickname",
        )
    if (
        len(nickname) > 64
        or not nickname.isascii()
        or any(c in NICKNAME_FORBIDDEN or ord(c) < 32 for c in nickname)
    ):
        raise bad_request(
            "Invalid value specified for property 'mailNickname' of resource 'Group'.",
            target="mailNickname",
        )
    lower = nickname.lower()
    for gid, g in sim.tenant.groups.items():
        if gid != exclude and str(g.get("mailNickname", "")).lower() == lower:
            raise bad_request(
                "Another object with the same value for property mailNickname already exists.",
                target="mailNickname",
            )
    return nickname


def extension_values(sim: Simulator, body: dict[str, Any]) -> dict[str, Any]:
    """Return the `extension_*` properties of a body, named as registered; 400 if unknown."""
    values: dict[str, Any] = {}
    for key, value in body.items():
        if key.lower().startswith("extension_"):
            known = {p.lower(): p for p in sim.tenant.extension_properties}
            if key.lower() not in known:
                raise bad_request(
                    f"Property '{key}' does not exist as a declared property or extension "
                    "property."
                )
            values[known[key.lower()]] = value
    return values


def security_identifier(sim: Simulator) -> str:
    """Return a new group's securityIdentifier (an Entra SID, from the seeded random source)."""
    parts = [str(sim.rng.randrange(10**8, 4 * 10**9)) for _ in range(4)]
    return "S-1-12-1-" + "-".join(parts)


def new_group(sim: Simulator, body: Any) -> dict[str, Any]:
    """Validate a `POST /groups` body and store the group (group-post-groups); return it.

    Microsoft 365 (Unified) or security group, at most 20 owners and members bound; the write
    goes through `replication` and the change feed like every directory write.
    """
    if not isinstance(body, dict):
        raise bad_request("A request body is required.")
    for prop in ("displayName", "mailEnabled", "mailNickname", "securityEnabled"):
        if body.get(prop) is None:
            raise bad_request(f"Property '{prop}' is required but was not specified.", target=prop)
    if not isinstance(body["displayName"], str) or not body["displayName"].strip():
        raise bad_request(INVALID_NAME, target="displayName")
    if len(body["displayName"]) > 256:
        raise bad_request(INVALID_NAME, target="displayName")
    for prop in WRITABLE - {"displayName", "mailNickname", "visibility"}:
        if body.get(prop) is not None and not isinstance(body[prop], str):
            raise bad_request(f"Invalid value specified for property '{prop}'.", target=prop)
    nickname = check_nickname(sim, body["mailNickname"])
    for prop in ("mailEnabled", "securityEnabled", "isAssignableToRole"):
        if body.get(prop) is not None and not isinstance(body[prop], bool):
            raise bad_request(f"Invalid value specified for property '{prop}'.", target=prop)
    for prop in ("groupTypes", "resourceBehaviorOptions", "resourceProvisioningOptions"):
        value = body.get(prop)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(v, str) for v in value)
        ):
            raise bad_request(f"Invalid value specified for property '{prop}'.", target=prop)
    group_types = body.get("groupTypes") or []
    if not isinstance(group_types, list):
        raise bad_request("Invalid value specified for property 'groupTypes'.", target="groupTypes")
    unified = any(str(t).lower() == "unified" for t in group_types)
    if body["mailEnabled"] and not unified:
        raise bad_request(
            "Creating mail-enabled security groups or distribution lists is not supported "
            "through Microsoft Graph."
        )
    visibility = body.get("visibility")
    if visibility is not None and visibility not in ("Private", "Public", "HiddenMembership"):
        raise bad_request("Invalid value specified for property 'visibility'.", target="visibility")
    owners = resolve_binds(sim, body.get("owners@odata.bind", []), "owners")
    members = resolve_binds(sim, body.get("members@odata.bind", []), "members")
    if len(owners) + len(members) > MAX_LINKS:
        raise bad_request(
            f"A maximum of {MAX_LINKS} owners and members can be added in one request; "
            "add the rest with PATCH /groups/{id} or members/$ref."
        )
    extensions = extension_values(sim, body)
    now = sim.now()
    stamp = sim.iso(now)
    group_id = sim.new_id()
    mail = f"{nickname}@{first_domain(sim)}" if body["mailEnabled"] else None
    group: dict[str, Any] = {
        "id": group_id,
        "deletedDateTime": None,
        "classification": body.get("classification"),
        "createdDateTime": stamp,
        "description": body.get("description"),
        "displayName": body["displayName"],
        "expirationDateTime": None,
        "groupTypes": ["Unified"] if unified else [],
        "isAssignableToRole": body.get("isAssignableToRole"),
        "mail": mail,
        "mailEnabled": bool(body["mailEnabled"]),
        "mailNickname": nickname,
        "membershipRule": None,
        "membershipRuleProcessingState": None,
        "onPremisesDomainName": None,
        "onPremisesLastSyncDateTime": None,
        "onPremisesNetBiosName": None,
        "onPremisesSamAccountName": None,
        "onPremisesSecurityIdentifier": None,
        "onPremisesSyncEnabled": None,
        "preferredDataLocation": body.get("preferredDataLocation"),
        "preferredLanguage": body.get("preferredLanguage"),
        "proxyAddresses": [f"SMTP:{mail}"] if mail else [],
        "renewedDateTime": stamp,
        "resourceBehaviorOptions": list(body.get("resourceBehaviorOptions") or []),
        "resourceProvisioningOptions": [],
        "securityEnabled": bool(body["securityEnabled"]),
        "securityIdentifier": security_identifier(sim),
        "theme": body.get("theme"),
        "visibility": (visibility or "Public") if unified else visibility,
        "onPremisesProvisioningErrors": [],
        "serviceProvisioningErrors": [],
        "assignedLicenses": [],
        **extensions,
        "_members": list(dict.fromkeys(members)),
        "_owners": list(dict.fromkeys(owners)),
        "_createdAt": now,
        "_noOwner": unified and not owners,
    }
    replication.before_write(sim, "group", group_id)
    sim.tenant.groups[group_id] = group
    for rel in ("members", "owners"):
        for object_id in group[f"_{rel}"]:
            changes.note_membership(sim, group_id, rel, object_id, removed=False)
    return group
