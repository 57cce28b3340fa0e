"""Simulated Microsoft 365 groups: create, read, list, update, membership, soft delete.

Behaviour follows the Graph v1.0 reference (group-post-groups, group-update, group-post-members,
group-delete) and the eventual-consistency notes in GRAPH.md. A group stores its membership as
id lists in `_members` / `_owners`; `_createdAt` (epoch seconds) drives the replication window,
site provisioning and team creation; `_noOwner` marks a group created without an owner, which
Microsoft documents as unmanageable later (no SharePoint site, no team).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from crisiskit.sim import odata
from crisiskit.sim.router import (
    Router,
    SimError,
    SimRequest,
    SimResponse,
    json_response,
    no_content,
    strip_internal,
)

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

MAX_LINKS = 20
# Operators the directory only serves as advanced queries (ConsistencyLevel: eventual).
ADVANCED_OPERATORS = {"ne", "not", "endswith", "contains"}
NICKNAME_FORBIDDEN = set('@()\\[]";:<>, ')
# Properties `GET /groups/{id}` returns without $select (group resource, "default" properties).
GROUP_DEFAULTS = (
    "id deletedDateTime classification createdDateTime description displayName "
    "expirationDateTime groupTypes isAssignableToRole mail mailEnabled mailNickname "
    "membershipRule membershipRuleProcessingState onPremisesDomainName "
    "onPremisesLastSyncDateTime onPremisesNetBiosName onPremisesSamAccountName "
    "onPremisesSecurityIdentifier onPremisesSyncEnabled preferredDataLocation preferredLanguage "
    "proxyAddresses renewedDateTime resourceBehaviorOptions resourceProvisioningOptions "
    "securityEnabled securityIdentifier theme visibility onPremisesProvisioningErrors "
    "serviceProvisioningErrors"
).split()
USER_DEFAULTS = (
    "id accountEnabled businessPhones displayName givenName jobTitle mail mobilePhone "
    "officeLocation preferredLanguage surname userPrincipalName"
).split()
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
BIND_URL = re.compile(
    r"/(?:users|directoryObjects|groups)(?:/|\(')([0-9A-Za-z-]+)(?:'\))?(?:/[\w.]*)?/?$",
    re.IGNORECASE,
)
INVALID_NAME = "Invalid value specified for property 'displayName' of resource 'Group'."
ALREADY_EXIST = (
    "One or more added object references already exist for the following modified "
    "properties: '{prop}'."
)
DO_NOT_EXIST = (
    "One or more added object references do not exist for the following modified "
    "properties: '{prop}'."
)


def register(router: Router) -> None:
    """Register the group routes on `router`."""
    router.route("POST", "/groups")(create_group)
    router.route("GET", "/groups")(list_groups)
    router.route("GET", "/groups/$count")(count_groups)
    router.route("GET", "/groups/{group_id}")(get_group)
    router.route("PATCH", "/groups/{group_id}")(update_group)
    router.route("DELETE", "/groups/{group_id}")(delete_group)
    router.route("POST", "/groups/{group_id}/assignLicense")(assign_group_license)
    for rel in ("members", "owners"):
        router.route("GET", f"/groups/{{group_id}}/{rel}/$count")(_bound(count_links, rel))
        router.route("GET", f"/groups/{{group_id}}/{rel}/microsoft.graph.user/$count")(
            _bound(count_links, rel, "user")
        )
        router.route("GET", f"/groups/{{group_id}}/{rel}/microsoft.graph.user")(
            _bound(list_links, rel, "user")
        )
        router.route("GET", f"/groups/{{group_id}}/{rel}/microsoft.graph.group")(
            _bound(list_links, rel, "group")
        )
        router.route("GET", f"/groups/{{group_id}}/{rel}/$ref")(_bound(list_link_refs, rel))
        router.route("POST", f"/groups/{{group_id}}/{rel}/$ref")(_bound(add_link, rel))
        router.route("DELETE", f"/groups/{{group_id}}/{rel}/{{object_id}}/$ref")(
            _bound(remove_link, rel)
        )
        router.route("GET", f"/groups/{{group_id}}/{rel}")(_bound(list_links, rel, None))


def _bound(fn: Callable[..., SimResponse], *args: Any) -> Callable[..., SimResponse]:
    def handler(sim: Simulator, req: SimRequest, **params: str) -> SimResponse:
        return fn(sim, req, *args, **params)

    handler.__name__ = fn.__name__
    return handler


# ---------------------------------------------------------------- helpers


def bad_request(
    message: str, code: str = "Request_BadRequest", target: str | None = None
) -> SimError:
    details: list[dict[str, Any]] | None = None
    if target:
        details = [{"code": "InvalidValue", "message": message, "target": target}]
    return SimError(400, code, message, details=details)


def not_found(object_id: str) -> SimError:
    return SimError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{object_id}' does not exist or one of its queried reference-property "
        "objects are not present.",
    )


def bind_target_id(url: Any, prop: str) -> str:
    """Return the object id a `@odata.bind` / `@odata.id` URL points to, or raise 400."""
    if isinstance(url, str):
        m = BIND_URL.search(url.split("?", 1)[0])
        if m:
            return m.group(1)
    raise bad_request(f"Invalid URL format specified in @odata.bind for {prop}", target=prop)


def resolve_binds(sim: Simulator, urls: Any, prop: str) -> list[str]:
    """Resolve a list of bind URLs to existing directory object ids (404 for an unknown one)."""
    if not isinstance(urls, list):
        raise bad_request(f"Property '{prop}@odata.bind' must be a collection of URLs.")
    ids: list[str] = []
    for url in urls:
        object_id = bind_target_id(url, prop)
        obj = sim.directory_object(object_id)
        if obj is None:
            raise not_found(object_id)
        ids.append(obj["id"])
    return ids


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


def group_view(group: dict[str, Any], select: str | None = None) -> dict[str, Any]:
    """Return a group as Graph sends it: default properties, or exactly `$select`."""
    public = strip_internal(group)
    if select:
        return odata.apply_select(public, select)
    return {k: public.get(k) for k in GROUP_DEFAULTS if k in public}


def member_view(obj: dict[str, Any]) -> dict[str, Any]:
    """Return a directory object as listed under a group's members or owners."""
    public = strip_internal(obj)
    if "userPrincipalName" in public:
        view: dict[str, Any] = {"@odata.type": "#microsoft.graph.user"}
        view.update({k: public.get(k) for k in USER_DEFAULTS})
        return view
    view = {"@odata.type": "#microsoft.graph.group"}
    view.update({k: public.get(k) for k in GROUP_DEFAULTS if k in public})
    return view


def refuse_if_unmanageable(group: dict[str, Any]) -> None:
    """Refuse changes to a group created app-only without owner (documented: not modifiable)."""
    if group.get("_noOwner"):
        raise SimError(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )


def group_for(sim: Simulator, group_id: str, *, replicated: bool = True) -> dict[str, Any]:
    """Return the stored group, 404 if absent (or, by chance, if written too recently)."""
    group = sim.get_group(group_id)
    if replicated:
        sim.check_replicated(group["id"])
    return group


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
    sim.tenant.groups[group_id] = group
    sim.touch(group_id)
    return json_response(
        201,
        {"@odata.context": f"{req.base_url}/$metadata#groups/$entity", **group_view(group)},
    )


def get_group(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """Read one group (`GET /groups/{id}`)."""
    group = group_for(sim, group_id)
    body = {"@odata.context": f"{req.base_url}/$metadata#groups/$entity"}
    body.update(group_view(group, req.query.get("$select")))
    return json_response(200, body)


def _filtered_groups(sim: Simulator, req: SimRequest) -> list[dict[str, Any]]:
    expr = req.query.get("$filter")
    predicate = odata.parse_filter(expr) if expr else None
    advanced = "$search" in req.query or odata.wants_count(req)
    if predicate is not None and predicate.operators & ADVANCED_OPERATORS:
        advanced = True
    live = list(sim.tenant.groups.values())
    if advanced:
        odata.require_advanced(req, "This query")
        # Advanced queries read an index that lags behind the directory (GRAPH.md): groups
        # written within the replication window are not in it yet.
        live = [g for g in live if not sim.is_young(g["id"])]
    groups = [strip_internal(g) for g in live]
    if predicate is not None:
        groups = [g for g in groups if predicate(g)]
    if req.query.get("$search"):
        groups = [g for g in groups if search_matches(g, req.query["$search"])]
    return odata.order_by(req, groups)


def search_matches(obj: dict[str, Any], expr: str) -> bool:
    """Evaluate `$search="prop:word" OR "prop:word"`: case-insensitive word-prefix match."""
    clauses = re.findall(r'"([^"]*)"', expr)
    if not clauses or any(":" not in c for c in clauses):
        raise bad_request("Invalid $search query: expected \"property:value\" clauses.")
    combine = all if re.search(r'"\s+AND\s+"', expr) else any
    return combine(
        any(
            word.startswith(term.lower())
            for word in re.split(r"[\s._@-]+", str(obj.get(prop) or "").lower())
        )
        for prop, _, term in (c.partition(":") for c in clauses)
    )


def list_groups(sim: Simulator, req: SimRequest) -> SimResponse:
    """List groups (`GET /groups`) with `$filter`, `$select`, `$top` and paging."""
    select = req.query.get("$select")
    items = [group_view(g, select) for g in _filtered_groups(sim, req)]
    return odata.page(sim, req, items)


def count_groups(sim: Simulator, req: SimRequest) -> SimResponse:
    """Count groups (`GET /groups/$count`); needs `ConsistencyLevel: eventual`."""
    _require_eventual(req)
    return _text(str(len(_filtered_groups(sim, req))))


def update_group(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """Update a group (`PATCH /groups/{id}`), including `members@odata.bind` (all-or-nothing)."""
    group = group_for(sim, group_id)
    body = req.body
    if not isinstance(body, dict):
        raise bad_request("A request body is required.")
    refuse_if_unmanageable(group)
    changes: dict[str, Any] = {}
    additions: dict[str, list[str]] = {}
    for key, value in body.items():
        if key in ("members@odata.bind", "owners@odata.bind"):
            rel = key.split("@", 1)[0]
            additions[rel] = resolve_binds(sim, value, rel)
        elif key.lower().startswith("extension_"):
            changes.update(_extension_values(sim, {key: value}))
        elif key == "mailNickname":
            changes[key] = check_nickname(sim, value, exclude=group["id"])
        elif key in WRITABLE:
            if key == "displayName" and (not isinstance(value, str) or not value.strip()):
                raise bad_request(INVALID_NAME, target="displayName")
            if value is not None and not isinstance(value, str):
                raise bad_request(f"Invalid value specified for property '{key}'.", target=key)
            changes[key] = value
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
        _check_can_add(sim, group, rel, ids)
    for rel, ids in additions.items():
        for object_id in ids:
            _link(sim, group, rel, object_id)
    if changes:
        group.update(changes)
        if "mailNickname" in changes and group.get("mail"):
            group["mail"] = f"{changes['mailNickname']}@{group['mail'].split('@', 1)[1]}"
            group["proxyAddresses"] = [f"SMTP:{group['mail']}"]
        sim.touch(group["id"])
    return no_content()


def _check_can_add(sim: Simulator, group: dict[str, Any], rel: str, ids: list[str]) -> None:
    prop = rel
    if len(set(ids)) != len(ids) or any(i in group[f"_{rel}"] for i in ids):
        raise bad_request(ALREADY_EXIST.format(prop=prop))
    young = sim.is_young(group["id"]) or any(sim.is_young(i) for i in ids)
    if young and sim.rng.random() < sim.profile.replication_404_rate:
        # Eventual consistency: the replica serving the write has not seen the group or user yet.
        raise bad_request(DO_NOT_EXIST.format(prop=prop))


def _link(sim: Simulator, group: dict[str, Any], rel: str, object_id: str) -> None:
    group[f"_{rel}"].append(object_id)
    if rel == "members" and object_id in sim.tenant.users:
        apply_group_licences(sim, group, sim.tenant.users[object_id])


def _links(
    sim: Simulator, group: dict[str, Any], rel: str, kind: str | None
) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    for object_id in group[f"_{rel}"]:
        obj = sim.directory_object(object_id)
        if obj is None:
            continue
        is_user = "userPrincipalName" in obj
        if kind == "user" and not is_user or kind == "group" and is_user:
            continue
        objs.append(obj)
    return objs


def list_links(
    sim: Simulator, req: SimRequest, rel: str, kind: str | None, group_id: str
) -> SimResponse:
    """List a group's members or owners (`GET /groups/{id}/members[/microsoft.graph.user]`)."""
    group = group_for(sim, group_id)
    objs = _links(sim, group, rel, kind)
    expr = req.query.get("$filter")
    if expr or "$search" in req.query:
        # Filtering a relationship is an advanced query (group-list-members), read from the
        # lagging index: members written within the replication window are not in it yet.
        odata.require_advanced(req, "Filtering members")
        objs = [o for o in objs if not sim.is_young(o["id"])]
    items = [member_view(o) for o in objs]
    if expr:
        predicate = odata.parse_filter(expr)
        items = [i for i in items if predicate(i)]
    if req.query.get("$search"):
        items = [i for i in items if search_matches(i, req.query["$search"])]
    items = odata.order_by(req, items)
    select = req.query.get("$select")
    if select:
        items = [odata.apply_select(i, select) for i in items]
    entity = "users" if kind == "user" else "directoryObjects"
    return odata.page(sim, req, items, entity_set=entity)


def list_link_refs(sim: Simulator, req: SimRequest, rel: str, group_id: str) -> SimResponse:
    """List references (`GET /groups/{id}/members/$ref`)."""
    group = group_for(sim, group_id)
    root = req.base_url
    items = [
        {"@odata.id": f"{root}/directoryObjects/{o['id']}"} for o in _links(sim, group, rel, None)
    ]
    return odata.page(sim, req, items, entity_set="directoryObjects")


def count_links(
    sim: Simulator, req: SimRequest, rel: str, kind: str | None = None, *, group_id: str
) -> SimResponse:
    """Count members or owners (`GET /groups/{id}/members/$count`)."""
    _require_eventual(req)
    group = group_for(sim, group_id)
    return _text(str(len(_links(sim, group, rel, kind))))


def add_link(sim: Simulator, req: SimRequest, rel: str, group_id: str) -> SimResponse:
    """Add a member or owner (`POST /groups/{id}/members/$ref`, `{"@odata.id": URL}`)."""
    group = group_for(sim, group_id)
    body = req.body if isinstance(req.body, dict) else {}
    if "@odata.id" not in body:
        raise bad_request("Missing required property '@odata.id' in the request body.")
    refuse_if_unmanageable(group)
    object_id = bind_target_id(body["@odata.id"], rel)
    obj = sim.directory_object(object_id)
    if obj is None:
        raise not_found(object_id)
    _check_can_add(sim, group, rel, [obj["id"]])
    _link(sim, group, rel, obj["id"])
    return no_content()


def remove_link(
    sim: Simulator, req: SimRequest, rel: str, group_id: str, object_id: str
) -> SimResponse:
    """Remove a member or owner (`DELETE /groups/{id}/members/{oid}/$ref`)."""
    group = group_for(sim, group_id)
    ids = group[f"_{rel}"]
    match = next((i for i in ids if i.lower() == object_id.lower()), None)
    if match is None:
        raise not_found(object_id)
    if rel == "owners" and len(ids) == 1 and "Unified" in group.get("groupTypes", []):
        raise bad_request(
            "The group must have at least one owner, hence this owner cannot be removed."
        )
    ids.remove(match)
    if rel == "members" and match in sim.tenant.users:
        remove_group_licences(sim, group, sim.tenant.users[match])
    return no_content()


def delete_group(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """Soft-delete a group with its team, channels, drive and items (`DELETE /groups/{id}`)."""
    group = group_for(sim, group_id)
    gid = group["id"]
    # Members lose what they held through the group (group-based licensing), as in Entra.
    for user_id in group["_members"]:
        if user_id in sim.tenant.users:
            remove_group_licences(sim, group, sim.tenant.users[user_id])
    for other in sim.tenant.groups.values():
        for rel in ("_members", "_owners"):
            if gid in other.get(rel, []):
                other[rel].remove(gid)
    stash: dict[str, Any] = {
        "teams": {gid: sim.tenant.teams.pop(gid)} if gid in sim.tenant.teams else {},
        "channels": _pop_where(sim.tenant.channels, lambda c: c.get("_teamId") == gid),
        "operations": _pop_where(
            sim.tenant.operations, lambda o: o.get("targetResourceId") == gid
        ),
        "drives": _pop_where(sim.tenant.drives, lambda d: d.get("_groupId") == gid),
        "drive_items": _pop_where(sim.tenant.drive_items, lambda i: i.get("_groupId") == gid),
    }
    del sim.tenant.groups[gid]
    deleted = dict(group)
    deleted.update(
        {
            "deletedDateTime": sim.iso(),
            "@odata.type": "#microsoft.graph.group",
            "_kind": "group",
            "_stash": stash,
        }
    )
    sim.tenant.deleted[gid] = deleted
    sim.touch(gid)
    return no_content()


def _pop_where(
    collection: dict[str, dict[str, Any]], keep: Callable[[dict[str, Any]], bool]
) -> dict[str, dict[str, Any]]:
    taken = {k: v for k, v in collection.items() if keep(v)}
    for k in taken:
        del collection[k]
    return taken


def restore_group(sim: Simulator, obj: dict[str, Any]) -> dict[str, Any]:
    """Restore a soft-deleted group record from `tenant.deleted`, with its team and files.

    For directory.py's `POST /directory/deletedItems/{id}/restore`: raises 400 when another
    group took the mailNickname since; returns the restored group's Graph JSON.
    """
    gid = obj["id"]
    lower = str(obj.get("mailNickname", "")).lower()
    if any(str(g.get("mailNickname", "")).lower() == lower for g in sim.tenant.groups.values()):
        raise bad_request(
            "Another object with the same value for property mailNickname already exists.",
            target="mailNickname",
        )
    sim.tenant.deleted.pop(gid, None)
    group = {k: v for k, v in obj.items() if k not in ("_kind", "_stash", "@odata.type")}
    group["deletedDateTime"] = None
    group["_members"] = [m for m in group.get("_members", []) if sim.directory_object(m)]
    group["_owners"] = [m for m in group.get("_owners", []) if sim.directory_object(m)]
    sim.tenant.groups[gid] = group
    stash = obj.get("_stash") or {}
    for name in ("teams", "channels", "operations", "drives", "drive_items"):
        getattr(sim.tenant, name).update(stash.get(name, {}))
    for user_id in group["_members"]:
        if user_id in sim.tenant.users:
            apply_group_licences(sim, group, sim.tenant.users[user_id])
    sim.touch(gid)
    return group_view(group)


def purge_group(sim: Simulator, group_id: str) -> None:
    """Delete a soft-deleted group, and the team and files stashed with it, for good."""
    sim.tenant.deleted.pop(group_id, None)
    sim.tenant.written_at.pop(group_id, None)


# ---------------------------------------------------------------- group-based licensing


def assign_group_license(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """Assign licences to a group (`POST /groups/{id}/assignLicense`) → 202; members follow."""
    group = group_for(sim, group_id)
    body = req.body if isinstance(req.body, dict) else {}
    if "addLicenses" not in body or "removeLicenses" not in body:
        raise bad_request("Both addLicenses and removeLicenses are required.")
    add = body["addLicenses"] or []
    remove = [str(s).lower() for s in body["removeLicenses"] or []]
    skus = {k.lower(): k for k in sim.tenant.skus}
    for lic in add:
        sku = str(lic.get("skuId", "")).lower() if isinstance(lic, dict) else ""
        if sku not in skus:
            raise bad_request(f"License {lic} does not correspond to a valid company License.")
    members = [sim.tenant.users[u] for u in group["_members"] if u in sim.tenant.users]
    for user in members:
        remove_group_licences(sim, group, user)
    kept = [a for a in group["assignedLicenses"] if str(a["skuId"]).lower() not in remove]
    for lic in add:
        sku_id = skus[str(lic["skuId"]).lower()]
        kept = [a for a in kept if a["skuId"] != sku_id]
        kept.append({"skuId": sku_id, "disabledPlans": list(lic.get("disabledPlans") or [])})
    group["assignedLicenses"] = kept
    for user in members:
        apply_group_licences(sim, group, user)
    view = {k: group.get(k) for k in ("id", "createdDateTime", "groupTypes", "securityEnabled")}
    view["assignedLicenses"] = kept
    location = f"{req.base_url}/directoryObjects/{group['id']}/Microsoft.DirectoryServices.Group"
    return json_response(202, view, {"Location": location})


def _sku_has_exchange(sku: dict[str, Any], disabled: Iterable[str]) -> bool:
    off = {str(d).lower() for d in disabled}
    return any(
        str(p.get("servicePlanName", "")).upper().startswith("EXCHANGE")
        and str(p.get("servicePlanId", "")).lower() not in off
        for p in sku.get("servicePlans", [])
    )


def apply_group_licences(sim: Simulator, group: dict[str, Any], user: dict[str, Any]) -> None:
    """Give `user` the licences its group carries, consuming seats; record failures like Graph."""
    states: list[dict[str, Any]] = user.setdefault("licenseAssignmentStates", [])
    assigned: list[dict[str, Any]] = user.setdefault("assignedLicenses", [])
    for lic in group.get("assignedLicenses", []):
        sku = sim.tenant.skus.get(lic["skuId"])
        if sku is None or any(
            s.get("assignedByGroup") == group["id"] and s["skuId"] == lic["skuId"] for s in states
        ):
            continue
        state = {
            "assignedByGroup": group["id"],
            "disabledPlans": lic["disabledPlans"],
            "error": "None",
            "skuId": lic["skuId"],
            "state": "Active",
            "lastUpdatedDateTime": sim.iso(),
        }
        seats: list[str] = user.setdefault("_groupSeats", [])
        if not any(a["skuId"] == lic["skuId"] for a in assigned):
            free = sku.get("prepaidUnits", {}).get("enabled", 0) - sku.get("consumedUnits", 0)
            if not user.get("usageLocation"):
                state.update(state="Error", error="UsageLocationNotAllowed")
            elif free <= 0:
                state.update(state="Error", error="CountViolation")
            else:
                sku["consumedUnits"] = sku.get("consumedUnits", 0) + 1
                assigned.append({"skuId": lic["skuId"], "disabledPlans": lic["disabledPlans"]})
                seats.append(lic["skuId"])
                if _sku_has_exchange(sku, lic["disabledPlans"]) and not user.get("_licensedAt"):
                    user["_licensedAt"] = sim.now()
        states.append(state)


def remove_group_licences(sim: Simulator, group: dict[str, Any], user: dict[str, Any]) -> None:
    """Withdraw the licences `user` received through `group`, releasing their seats."""
    states = user.get("licenseAssignmentStates", [])
    mine = [s for s in states if s.get("assignedByGroup") == group["id"]]
    seats: list[str] = user.get("_groupSeats", [])
    for state in mine:
        states.remove(state)
        if state["skuId"] not in seats:
            continue  # the seat came from a direct assignment or never was taken
        still = any(s["skuId"] == state["skuId"] and s["state"] == "Active" for s in states)
        if still:
            continue
        seats.remove(state["skuId"])
        user["assignedLicenses"] = [
            a for a in user.get("assignedLicenses", []) if a["skuId"] != state["skuId"]
        ]
        sku = sim.tenant.skus.get(state["skuId"])
        if sku is not None:
            sku["consumedUnits"] = max(0, sku.get("consumedUnits", 0) - 1)


# ---------------------------------------------------------------- small helpers


def _require_eventual(req: SimRequest) -> None:
    if req.headers.get("consistencylevel", "").lower() != "eventual":
        raise bad_request("$count is not currently supported.")


def _text(value: str) -> SimResponse:
    return SimResponse(status=200, raw=value.encode(), content_type="text/plain")
