"""Simulated Microsoft 365 and security groups: create, read, list, count, update, delete.

Behaviour follows the Graph v1.0 reference (group-post-groups, group-get, group-list,
group-update, group-delete) and the eventual-consistency notes in GRAPH.md. A group stores its
membership as id lists in `_members` / `_owners` (managed by `members` and `objects`);
`_createdAt` (epoch seconds) drives the replication window, site provisioning and team creation;
`_noOwner` marks a group created without an owner, which Microsoft documents as unmanageable
later (no SharePoint site, no team). Deleting a group is `cascade.delete_group`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crisiskit.sim import cascade, changes, odata, queryrules, replication
from crisiskit.sim.errors import bad_request
from crisiskit.sim.objects import (
    MAX_LINKS,
    check_can_add,
    group_for,
    group_view,
    link,
    refuse_if_unmanageable,
    resolve_binds,
)
from crisiskit.sim.permissions import GROUP_READ, GROUP_WRITE, MEMBER_WRITE, require
from crisiskit.sim.router import (
    Router,
    SimRequest,
    SimResponse,
    json_response,
    no_content,
    strip_internal,
)

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

# Operators the directory only serves as advanced queries (ConsistencyLevel: eventual).
NICKNAME_FORBIDDEN = set('@()\\[]";:<>, ')
# Properties `GET /groups/{id}` returns without $select (group resource, "default" properties).
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

# Application permissions per route (group-post-groups, group-list, group-get, group-update,
# group-delete). PATCH with only `members@odata.bind` is "add members" (group-post-members,
# GroupMember.ReadWrite.All); any other property needs what group-update lists.
PERMISSIONS: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("POST", "/groups"): ("Group.Create", *GROUP_WRITE),
    ("GET", "/groups"): GROUP_READ,
    ("GET", "/groups/$count"): GROUP_READ,
    ("GET", "/groups/{group_id}"): GROUP_READ,
    ("PATCH", "/groups/{group_id}"): MEMBER_WRITE,
    ("DELETE", "/groups/{group_id}"): GROUP_WRITE,
}


def register(router: Router) -> None:
    """Register the group routes on `router`."""
    router.route("POST", "/groups")(create_group)
    router.route("GET", "/groups")(list_groups)
    router.route("GET", "/groups/$count")(count_groups)
    router.route("GET", "/groups/{group_id}")(get_group)
    router.route("PATCH", "/groups/{group_id}")(update_group)
    router.route("DELETE", "/groups/{group_id}")(delete_group)


# ---------------------------------------------------------------- helpers


def first_domain(sim: Simulator) -> str:
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


def _extension_values(sim: Simulator, body: dict[str, Any]) -> dict[str, Any]:
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


def _security_identifier(sim: Simulator) -> str:
    parts = [str(sim.rng.randrange(10**8, 4 * 10**9)) for _ in range(4)]
    return "S-1-12-1-" + "-".join(parts)


# ---------------------------------------------------------------- handlers


def create_group(sim: Simulator, req: SimRequest) -> SimResponse:
    """Create a group (`POST /groups`): Microsoft 365 (Unified) or security."""
    body = req.body
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
    extensions = _extension_values(sim, body)
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
        "securityIdentifier": _security_identifier(sim),
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
    return json_response(
        201,
        {"@odata.context": f"{req.base_url}/$metadata#groups/$entity", **group_view(group)},
    )


def get_group(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """Read one group (`GET /groups/{id}`), maybe stale."""
    group = replication.read_group(sim, group_id)
    body = {"@odata.context": f"{req.base_url}/$metadata#groups/$entity"}
    body.update(group_view(group, req.query.get("$select")))
    return json_response(200, body)


def _filtered_groups(
    sim: Simulator, req: SimRequest, query: queryrules.Query
) -> list[dict[str, Any]]:
    # A list is served by a replica that may lag behind the latest writes; advanced queries
    # read an index that always does (GRAPH.md).
    live = replication.listing(sim, "groups", index=query.advanced)
    groups = [strip_internal(g) for g in live]
    if query.filter is not None:
        groups = [g for g in groups if query.filter(g)]
    if req.query.get("$search"):
        groups = [g for g in groups if odata.search_matches(g, req.query["$search"])]
    return odata.order_by(req, groups)


def list_groups(sim: Simulator, req: SimRequest) -> SimResponse:
    """List groups (`GET /groups`) with `$filter`, `$select`, `$top` and paging."""
    query = queryrules.directory_query(req, "Group")
    select = req.query.get("$select")
    items = [group_view(g, select) for g in _filtered_groups(sim, req, query)]
    return odata.page(sim, req, items, count=query.count)


def count_groups(sim: Simulator, req: SimRequest) -> SimResponse:
    """Count groups (`GET /groups/$count`); needs `ConsistencyLevel: eventual`."""
    queryrules.require_count_segment(req)
    query = queryrules.directory_query(req, "Group")
    return odata.text(str(len(_filtered_groups(sim, req, query))))


def update_group(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """Update a group (`PATCH /groups/{id}`), including `members@odata.bind` (all-or-nothing)."""
    group = group_for(sim, group_id)
    body = req.body
    if not isinstance(body, dict):
        raise bad_request("A request body is required.")
    refuse_if_unmanageable(group)
    if set(body) - {"members@odata.bind"}:
        # Anything but adding members is group-update, which GroupMember.* does not grant.
        require(req.principal, GROUP_WRITE)
    edits: dict[str, Any] = {}
    additions: dict[str, list[str]] = {}
    for key, value in body.items():
        if key in ("members@odata.bind", "owners@odata.bind"):
            rel = key.split("@", 1)[0]
            additions[rel] = resolve_binds(sim, value, rel)
        elif key.lower().startswith("extension_"):
            edits.update(_extension_values(sim, {key: value}))
        elif key == "mailNickname":
            edits[key] = check_nickname(sim, value, exclude=group["id"])
        elif key in WRITABLE:
            if key == "displayName" and (not isinstance(value, str) or not value.strip()):
                raise bad_request(INVALID_NAME, target="displayName")
            if value is not None and not isinstance(value, str):
                raise bad_request(f"Invalid value specified for property '{key}'.", target=key)
            edits[key] = value
        elif key.startswith("@odata"):
            continue
        else:
            raise bad_request(
                f"Property '{key}' is read-only or does not exist on resource 'Group'."
            )
    total = sum(len(v) for v in additions.values())
    if total > MAX_LINKS:
        raise bad_request(
            f"A maximum of {MAX_LINKS} directory objects can be added in one request."
        )
    for rel, ids in additions.items():
        check_can_add(sim, group, rel, ids)
    if edits or additions:
        replication.before_write(sim, "group", group["id"])
    for rel, ids in additions.items():
        for object_id in ids:
            link(sim, group, rel, object_id)
    if edits:
        group.update(edits)
        if "mailNickname" in edits and group.get("mail"):
            group["mail"] = f"{edits['mailNickname']}@{group['mail'].split('@', 1)[1]}"
            group["proxyAddresses"] = [f"SMTP:{group['mail']}"]
    return no_content()


def delete_group(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """Soft-delete a group with its team, channels, drive and items (`DELETE /groups/{id}`)."""
    group = group_for(sim, group_id)
    cascade.delete_group(sim, group["id"])
    return no_content()
