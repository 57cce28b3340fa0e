"""Simulated group membership: members and owners of a group, listed, counted, added, removed.

Behaviour follows the Graph v1.0 reference (group-list-members, group-list-owners,
group-post-members, group-post-owners, group-delete-members, group-delete-owners): references
by `@odata.id`, 400 for a link that already exists, the last owner of a Microsoft 365 group
cannot be removed, filtering a relationship is an advanced query.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crisiskit.sim import odata, replication
from crisiskit.sim.errors import bad_request, not_found
from crisiskit.sim.objects import (
    bind_target_id,
    check_can_add,
    group_for,
    link,
    links,
    member_view,
    refuse_if_unmanageable,
    unlink,
)
from crisiskit.sim.permissions import GROUP_READ, GROUP_WRITE, MEMBER_WRITE
from crisiskit.sim.router import Router, SimRequest, SimResponse, no_content

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator


def _permissions() -> dict[tuple[str, str], tuple[str, ...] | None]:
    """Application permissions per route (group-list-members, group-list-owners,
    group-post-members, group-delete-members: GroupMember.ReadWrite.All; group-post-owners,
    group-delete-owners: Group.ReadWrite.All)."""
    table: dict[tuple[str, str], tuple[str, ...] | None] = {}
    for rel, write in (("members", MEMBER_WRITE), ("owners", GROUP_WRITE)):
        base = f"/groups/{{group_id}}/{rel}"
        for suffix in ("/$count", "/microsoft.graph.user/$count", "/microsoft.graph.user",
                       "/microsoft.graph.group", "/$ref", ""):
            table[("GET", base + suffix)] = GROUP_READ
        table[("POST", base + "/$ref")] = write
        table[("DELETE", base + "/{object_id}/$ref")] = write
    return table


PERMISSIONS = _permissions()

def register(router: Router) -> None:
    """Register the membership routes on `router`."""
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


def list_links(
    sim: Simulator, req: SimRequest, rel: str, kind: str | None, group_id: str
) -> SimResponse:
    """List a group's members or owners (`GET /groups/{id}/members[/microsoft.graph.user]`)."""
    group = replication.read_group(sim, group_id)
    objs = links(sim, group, rel, kind)
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
        items = [i for i in items if odata.search_matches(i, req.query["$search"])]
    items = odata.order_by(req, items)
    select = req.query.get("$select")
    if select:
        items = [odata.apply_select(i, select) for i in items]
    entity = "users" if kind == "user" else "directoryObjects"
    return odata.page(sim, req, items, entity_set=entity)


def list_link_refs(sim: Simulator, req: SimRequest, rel: str, group_id: str) -> SimResponse:
    """List references (`GET /groups/{id}/members/$ref`)."""
    group = replication.read_group(sim, group_id)
    root = req.base_url
    items = [
        {"@odata.id": f"{root}/directoryObjects/{o['id']}"} for o in links(sim, group, rel, None)
    ]
    return odata.page(sim, req, items, entity_set="directoryObjects")


def count_links(
    sim: Simulator, req: SimRequest, rel: str, kind: str | None = None, *, group_id: str
) -> SimResponse:
    """Count members or owners (`GET /groups/{id}/members/$count`)."""
    odata.require_eventual_count(req)
    group = replication.read_group(sim, group_id)
    return odata.text(str(len(links(sim, group, rel, kind))))


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
    check_can_add(sim, group, rel, [obj["id"]])
    link(sim, group, rel, obj["id"])
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
    unlink(sim, group, rel, match)
    return no_content()
