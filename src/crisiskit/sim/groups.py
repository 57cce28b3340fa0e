"""Simulated Microsoft 365 and security groups: create, read, list, count, update, delete.

Behaviour follows the Graph v1.0 reference (group-post-groups, group-get, group-list,
group-update, group-delete) and the eventual-consistency notes in GRAPH.md. A group stores its
membership as id lists in `_members` / `_owners` (managed by `members` and `objects`); a new
group's record is `groupcreate.new_group`'s;
`_createdAt` (epoch seconds) drives the replication window, site provisioning and team creation;
`_noOwner` marks a group created without an owner, which Microsoft documents as unmanageable
later (no SharePoint site, no team). Deleting a group is `cascade.delete_group`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crisiskit.sim import cascade, odata, queryrules, replication
from crisiskit.sim.errors import bad_request
from crisiskit.sim.groupcreate import (
    INVALID_NAME,
    WRITABLE,
    check_nickname,
    extension_values,
    new_group,
)
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


# ---------------------------------------------------------------- handlers


def create_group(sim: Simulator, req: SimRequest) -> SimResponse:
    """Create a group (`POST /groups`): Microsoft 365 (Unified) or security."""
    group = new_group(sim, req.body)
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
            edits.update(extension_values(sim, {key: value}))
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
