"""Simulated directory deleted items: list, read, count, restore and purge deleted users and groups.

Behaviour follows the Graph v1.0 reference (directory-deleteditems-list, -get, -restore,
-delete, -getuserownedobjects): a type cast is required to list, advanced queries as
documented. What restoring and purging do to a user's or a group's other objects is `cascade`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crisiskit.sim import cascade, odata, replication
from crisiskit.sim.errors import bad_request, not_found
from crisiskit.sim.objects import GROUP_DEFAULTS, USER_DEFAULTS, check_upn, group_view
from crisiskit.sim.permissions import GROUP_READ, GROUP_WRITE, USER_READ, require
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

DELETED_TYPES = {
    "microsoft.graph.user": "user",
    "microsoft.graph.group": "group",
    "microsoft.graph.application": None,
    "microsoft.graph.serviceprincipal": None,
    "microsoft.graph.administrativeunit": None,
    "microsoft.graph.device": None,
}

# Application permissions per route and per deleted item type (directory-deleteditems-list,
# -get, -restore, -delete). A route lists every type's grants; the handler checks the type's.
USER_DELETED_READ = ("User.DeleteRestore.All", *USER_READ)
GROUP_DELETED_READ = GROUP_READ
RESTORE = {
    "user": ("User.DeleteRestore.All", "User.ReadWrite.All"),
    "group": GROUP_WRITE,
}
# Permanently deleting a deleted group is not supported with application permissions
# (directory-deleteditems-delete). For users, GRAPH.md reads the current page as listing
# User.DeleteRestore.All (older versions of the page said "Not supported" for users too).
PURGE: dict[str, tuple[str, ...] | None] = {
    "user": ("User.DeleteRestore.All", "User.ReadWrite.All"),
    "group": None,
}
ANY_READ = tuple(dict.fromkeys((*USER_DELETED_READ, *GROUP_DELETED_READ)))
READ = {"user": USER_DELETED_READ, "group": GROUP_DELETED_READ}
PERMISSIONS: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("GET", "/directory/deletedItems"): ANY_READ,
    ("POST", "/directory/deletedItems/getUserOwnedObjects"): USER_READ,
    ("GET", "/directory/deletedItems/{cast}/$count"): ANY_READ,
    ("GET", "/directory/deletedItems/{item_id}"): ANY_READ,
    ("POST", "/directory/deletedItems/{item_id}/restore"): (*RESTORE["user"], *RESTORE["group"]),
    ("DELETE", "/directory/deletedItems/{item_id}"): PURGE["user"],
}


def register(router: Router) -> None:
    """Register the deleted items routes on `router`."""
    router.route("GET", "/directory/deletedItems")(deleted_without_cast)
    router.route("POST", "/directory/deletedItems/getUserOwnedObjects", write=False)(
        user_owned_deleted
    )
    router.route("GET", "/directory/deletedItems/{cast}/$count")(count_deleted)
    router.route("GET", "/directory/deletedItems/{item_id}")(get_deleted)
    router.route("POST", "/directory/deletedItems/{item_id}/restore")(restore_deleted)
    router.route("DELETE", "/directory/deletedItems/{item_id}")(purge_deleted)


def _deleted_view(req: SimRequest, entry: dict[str, Any]) -> dict[str, Any]:
    kind = entry.get("_kind", "user")
    view = {k: v for k, v in entry.items() if not k.startswith("_") and k != "@odata.type"}
    default = USER_DEFAULTS + ["deletedDateTime"] if kind == "user" else GROUP_DEFAULTS
    view = odata.apply_select(view, odata.selected(req), default)
    return {"@odata.type": f"#microsoft.graph.{kind}", **view}


def deleted_without_cast(sim: Simulator, req: SimRequest) -> SimResponse:
    """Refuse `GET /directory/deletedItems` without a type cast, as Graph does."""
    raise bad_request(
        "The request URI is not valid: a type cast such as microsoft.graph.user or "
        "microsoft.graph.group is required on deletedItems."
    )


def _deleted_of(sim: Simulator, req: SimRequest, cast: str) -> list[dict[str, Any]]:
    kind = DELETED_TYPES.get(cast.lower(), "?")
    if kind == "?":
        raise bad_request(f"Unsupported type cast '{cast}'.")
    # Deleted objects reach the deletedItems lists `deleted_items_lag_s` after their deletion,
    # and the list is served by a replica that may lag like any other (GRAPH.md).
    index = "$orderby" in req.query or odata.wants_count(req) or "$search" in req.query
    shown_before = sim.now() - sim.profile.deleted_items_lag_s
    entries = [
        d
        for d in replication.listing(sim, "deleted", index=index and odata.is_eventual(req))
        if kind and d.get("_kind") == kind and float(d.get("_deletedAt") or 0.0) <= shown_before
    ]
    items = [_deleted_view(req, d) for d in entries]
    raw = req.query.get("$filter")
    if raw:
        flt = odata.parse_filter(raw)
        items = [i for i in items if flt(i)]
    if "$orderby" in req.query or odata.wants_count(req) or "$search" in req.query:
        odata.require_advanced(req, "This query")
    return odata.order_by(req, items)


def get_deleted(sim: Simulator, req: SimRequest, item_id: str) -> SimResponse:
    """Read one deleted item, or list a type cast (`.../deletedItems/microsoft.graph.user`)."""
    if item_id.lower().startswith("graph."):
        # msgraph-sdk writes the cast with the namespace alias: `/deletedItems/graph.user`.
        item_id = "microsoft." + item_id
    if item_id.lower().startswith("microsoft.graph."):
        kind = DELETED_TYPES.get(item_id.lower())
        require(req.principal, READ.get(kind or "", ANY_READ))
        items = _deleted_of(sim, req, item_id)
        entity_set = "users" if item_id.lower().endswith(".user") else "groups"
        if item_id.lower().endswith(".group"):
            entity_set = "groups"
        return odata.page(sim, req, items, entity_set=entity_set)
    entry = replication.read_deleted(sim, item_id)
    require(req.principal, READ[entry.get("_kind", "user")])
    view = _deleted_view(req, entry)
    return json_response(
        200, {"@odata.context": f"{req.base_url}/$metadata#directoryObjects/$entity", **view}
    )


def count_deleted(sim: Simulator, req: SimRequest, cast: str) -> SimResponse:
    """Count deleted items of a type (advanced query only)."""
    if not odata.is_eventual(req):
        raise bad_request("$count is not currently supported.")
    cast = "microsoft." + cast if cast.lower().startswith("graph.") else cast
    kind = DELETED_TYPES.get(cast.lower())
    count = sum(1 for d in sim.tenant.deleted.values() if kind and d.get("_kind") == kind)
    return SimResponse(status=200, raw=str(count).encode(), content_type="text/plain")


def restore_deleted(sim: Simulator, req: SimRequest, item_id: str) -> SimResponse:
    """Restore a deleted user or group → 200; 400 if its UPN or mailNickname was reused."""
    entry = sim.tenant.deleted.get(item_id)
    if entry is None:
        raise not_found(item_id)
    require(req.principal, RESTORE[entry.get("_kind", "user")])
    sim.check_replicated(item_id)
    new_upn = _restore_options(sim, req, entry)
    restored = cascade.restore(sim, item_id, new_upn)
    if entry.get("_kind") == "group":
        view = group_view(restored)
        kind = "group"
    else:
        view = odata.apply_select(strip_internal(restored), None, USER_DEFAULTS)
        kind = "user"
    view = {k: v for k, v in view.items() if k not in ("@odata.context", "@odata.type")}
    return json_response(
        200,
        {
            "@odata.context": f"{req.base_url}/$metadata#directoryObjects/$entity",
            "@odata.type": f"#microsoft.graph.{kind}",
            **view,
        },
    )


def _restore_options(sim: Simulator, req: SimRequest, entry: dict[str, Any]) -> str | None:
    """Read the restore body: `newUserPrincipalName`, `autoReconcileProxyConflict` (users)."""
    body = req.body
    if body is None or body == b"":
        return None
    allowed = {"newUserPrincipalName", "autoReconcileProxyConflict"}
    if not isinstance(body, dict) or set(body) - allowed:
        raise bad_request("Invalid request body for restore.")
    if not isinstance(body.get("autoReconcileProxyConflict", False), bool):
        raise bad_request(
            "Invalid value specified for property 'autoReconcileProxyConflict'.",
            target="autoReconcileProxyConflict",
        )
    upn = body.get("newUserPrincipalName")
    if upn is None:
        return None
    if entry.get("_kind") != "user" or not isinstance(upn, str):
        raise bad_request(
            "Invalid value specified for property 'newUserPrincipalName'.",
            target="newUserPrincipalName",
        )
    check_upn(sim, upn)
    return upn


def purge_deleted(sim: Simulator, req: SimRequest, item_id: str) -> SimResponse:
    """Delete a deleted item permanently (`DELETE /directory/deletedItems/{id}`) → 204.

    Refused to app-only tokens for a group, whatever their roles (not supported with
    application permissions, directory-deleteditems-delete).
    """
    entry = sim.tenant.deleted.get(item_id)
    if entry is None:
        raise not_found(item_id)
    require(req.principal, PURGE[entry.get("_kind", "user")])
    sim.check_replicated(item_id)
    cascade.purge(sim, item_id)
    return no_content()


def user_owned_deleted(sim: Simulator, req: SimRequest) -> SimResponse:
    """List deleted groups a user owned (`POST /directory/deletedItems/getUserOwnedObjects`)."""
    body = req.body if isinstance(req.body, dict) else {}
    user_id, kind = body.get("userId"), str(body.get("type", "")).lower()
    if not user_id or kind not in ("group", "application", "serviceprincipal"):
        raise bad_request("Both userId and type (Group, Application, ...) are required.")
    items = [
        _deleted_view(req, d)
        for d in sim.tenant.deleted.values()
        if d.get("_kind") == kind and user_id in (d.get("_owners") or [])
    ]
    return json_response(200, {"value": items})
