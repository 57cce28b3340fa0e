"""What deleting, restoring and purging a user or a group does to everything that hangs off it.

The one place that knows every tenant collection a user or a group owns: memberships and
ownerships, seats, the group's team, channels, teamsAsyncOperations, drive and drive items, the
user's authentication methods and messages. Families call these functions; none of them
reaches into another family's collections. This module imports no family.

- Deleting a user (user-delete): soft delete to deleted items, seats released, removed from
  the groups it belonged to or owned; authentication methods and mail stay with the record.
- Deleting a Microsoft 365 group (group-delete): soft delete; the group's team, channels,
  operations, drive and items go with it (stashed in its deleted record); its members lose the
  licences they held through it.
- Restoring (directory-deleteditems-restore) brings these back; purging
  (directory-deleteditems-delete) removes them for good.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crisiskit.sim.errors import bad_request, not_found, object_conflict
from crisiskit.sim.seats import (
    apply_group_licences,
    release_seats,
    remove_group_licences,
    take_seats,
)

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

# Tenant collections a group's deleted record carries with it, by tenant attribute name.
GROUP_WORKLOADS = ("teams", "channels", "operations", "drives", "drive_items")
# Tenant collections of per-user objects, removed when the user is purged.
USER_OWNED = ("auth_methods", "messages")


def _pop_where(
    collection: dict[str, dict[str, Any]], keep: Callable[[dict[str, Any]], bool]
) -> dict[str, dict[str, Any]]:
    taken = {k: v for k, v in collection.items() if keep(v)}
    for k in taken:
        del collection[k]
    return taken


# ---------------------------------------------------------------- users


def delete_user(sim: Simulator, user_id: str) -> None:
    """Move a user to deleted items: seats released, memberships removed, methods kept."""
    user = sim.tenant.users.pop(user_id)
    release_seats(sim, user)
    for group in sim.tenant.groups.values():
        for key in ("_members", "_owners"):
            if user_id in group.get(key, []):
                group[key] = [m for m in group[key] if m != user_id]
    user["deletedDateTime"] = sim.iso()
    user["_kind"] = "user"
    sim.tenant.deleted[user_id] = user
    sim.touch(user_id)


def restore_user(sim: Simulator, user_id: str) -> dict[str, Any]:
    """Bring a deleted user back; 400 if its userPrincipalName was reused meanwhile."""
    entry = sim.tenant.deleted.get(user_id)
    if entry is None or entry.get("_kind") != "user":
        raise not_found(user_id)
    if sim.user_by_upn(str(entry.get("userPrincipalName", ""))) is not None:
        raise object_conflict("userPrincipalName")
    del sim.tenant.deleted[user_id]
    entry.pop("_kind", None)
    entry.pop("@odata.type", None)
    entry["deletedDateTime"] = None
    take_seats(sim, entry)
    sim.tenant.users[user_id] = entry
    sim.touch(user_id)
    return entry


def purge_user(sim: Simulator, user_id: str) -> None:
    """Delete a deleted user for good, with its authentication methods and messages."""
    if sim.tenant.deleted.pop(user_id, None) is None:
        raise not_found(user_id)
    t = sim.tenant
    for name in USER_OWNED:
        kept = {k: v for k, v in getattr(t, name).items() if v.get("_userId") != user_id}
        setattr(t, name, kept)
    t.written_at.pop(user_id, None)


# ---------------------------------------------------------------- groups


def delete_group(sim: Simulator, gid: str) -> None:
    """Soft-delete a group with its team, channels, operations, drive and items."""
    t = sim.tenant
    group = t.groups[gid]
    # Members lose what they held through the group (group-based licensing), as in Entra.
    for user_id in group["_members"]:
        if user_id in t.users:
            remove_group_licences(sim, group, t.users[user_id])
    for other in t.groups.values():
        for rel in ("_members", "_owners"):
            if gid in other.get(rel, []):
                other[rel].remove(gid)
    stash: dict[str, Any] = {
        "teams": {gid: t.teams.pop(gid)} if gid in t.teams else {},
        "channels": _pop_where(t.channels, lambda c: c.get("_teamId") == gid),
        "operations": _pop_where(t.operations, lambda o: o.get("targetResourceId") == gid),
        "drives": _pop_where(t.drives, lambda d: d.get("_groupId") == gid),
        "drive_items": _pop_where(t.drive_items, lambda i: i.get("_groupId") == gid),
    }
    del t.groups[gid]
    deleted = dict(group)
    deleted.update(
        {
            "deletedDateTime": sim.iso(),
            "@odata.type": "#microsoft.graph.group",
            "_kind": "group",
            "_stash": stash,
        }
    )
    t.deleted[gid] = deleted
    sim.touch(gid)


def restore_group(sim: Simulator, gid: str) -> dict[str, Any]:
    """Restore a soft-deleted group with its team and files; 400 if its mailNickname is taken."""
    t = sim.tenant
    obj = t.deleted.get(gid)
    if obj is None or obj.get("_kind") != "group":
        raise not_found(gid)
    lower = str(obj.get("mailNickname", "")).lower()
    if any(str(g.get("mailNickname", "")).lower() == lower for g in t.groups.values()):
        raise bad_request(
            "Another object with the same value for property mailNickname already exists.",
            target="mailNickname",
        )
    t.deleted.pop(gid, None)
    group = {k: v for k, v in obj.items() if k not in ("_kind", "_stash", "@odata.type")}
    group["deletedDateTime"] = None
    group["_members"] = [m for m in group.get("_members", []) if sim.directory_object(m)]
    group["_owners"] = [m for m in group.get("_owners", []) if sim.directory_object(m)]
    t.groups[gid] = group
    stash = obj.get("_stash") or {}
    for name in GROUP_WORKLOADS:
        getattr(t, name).update(stash.get(name, {}))
    for user_id in group["_members"]:
        if user_id in t.users:
            apply_group_licences(sim, group, t.users[user_id])
    sim.touch(gid)
    return group


def purge_group(sim: Simulator, gid: str) -> None:
    """Delete a soft-deleted group, and the team and files stashed with it, for good."""
    if sim.tenant.deleted.pop(gid, None) is None:
        raise not_found(gid)
    sim.tenant.written_at.pop(gid, None)


# ---------------------------------------------------------------- either


def restore(sim: Simulator, item_id: str) -> dict[str, Any]:
    """Restore a deleted user or group; return the stored object."""
    entry = sim.tenant.deleted.get(item_id)
    if entry is None:
        raise not_found(item_id)
    if entry.get("_kind") == "group":
        return restore_group(sim, item_id)
    return restore_user(sim, item_id)


def purge(sim: Simulator, item_id: str) -> None:
    """Permanently delete a deleted user or group."""
    entry = sim.tenant.deleted.get(item_id)
    if entry is None:
        raise not_found(item_id)
    if entry.get("_kind") == "group":
        purge_group(sim, item_id)
    else:
        purge_user(sim, item_id)
