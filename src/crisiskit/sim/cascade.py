"""What deleting, restoring and purging a user or a group does to everything that hangs off it.

The one place that knows every tenant collection a user or a group owns: memberships and
ownerships, seats, the group's team, channels and their messages, teamsAsyncOperations, drive
and drive items, conversations (threads, posts), calendars and events, attachments; the user's
authentication methods, messages, mail folders, OneDrive, calendars, events and contacts.
Families call these functions; none of them reaches into another family's collections. This
module imports no family.

- Deleting a user (user-delete): soft delete to deleted items, seats released, removed from
  the groups it belonged to or owned (remembered in `_memberOf` / `_ownerOf`); what it owns
  (`USER_OWNED`: authentication methods, mail, OneDrive, calendars, contacts) stays where it
  is, keyed by the user's id and read only through a live user, so it is hidden until a restore.
- Deleting a Microsoft 365 group (group-delete): soft delete; the group's team, channels,
  channel messages, operations, drive and items, conversations, calendars, events and
  attachments (`GROUP_WORKLOADS`) go with it (stashed in its deleted record); its members lose
  the licences they held through it. A security group is deleted permanently at once and
  cannot be restored (directory-deleteditems-restore).
- Deleting a channel (channel-delete): its messages go with it.
- Restoring (directory-deleteditems-restore) brings these back: a user gets its memberships and
  ownerships of groups that still exist back, with the licences those groups carry (and is put
  back among the members of deleted groups, for their own restore); a group gets its members,
  and its team and site come back `restore_delay_s` later, not at once.
- Purging (directory-deleteditems-delete), or 30 days in deleted items (`expire`, on the
  simulator's clock), removes them for good.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crisiskit.sim import changes, replication
from crisiskit.sim.errors import bad_request, not_found, object_conflict
from crisiskit.sim.seats import (
    apply_group_licences,
    release_seats,
    remove_group_licences,
    take_seats,
)

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

# Tenant collections of per-group objects, by tenant attribute name, with the key that names
# their group (a team and its operations are keyed by the group's id too). A group's deleted
# record carries them (its `_stash`), a restore puts them back, a purge drops them.
GROUP_OWNED: dict[str, str] = {
    "channels": "_teamId",
    "chat_messages": "_teamId",
    "operations": "targetResourceId",
    "drives": "_groupId",
    "drive_items": "_groupId",
    "threads": "_groupId",
    "posts": "_groupId",
    "calendars": "_ownerId",
    "events": "_ownerId",
    "attachments": "_ownerId",
}
GROUP_WORKLOADS = ("teams", *GROUP_OWNED)
# Tenant collections of per-user objects, with the key that names their user: they stay in
# place while the user is in deleted items, and are removed when the user is purged.
USER_OWNED: dict[str, str] = {
    "auth_methods": "_userId",
    "messages": "_userId",
    "mail_folders": "_userId",
    "attachments": "_ownerId",
    "drives": "_userId",
    "drive_items": "_userId",
    "calendars": "_ownerId",
    "events": "_ownerId",
    "contacts": "_userId",
}


def _pop_owned(
    collection: dict[str, dict[str, Any]], key: str, owner: str
) -> dict[str, dict[str, Any]]:
    """Remove and return the records of `collection` whose `key` names `owner`."""
    taken = {k: v for k, v in collection.items() if v.get(key) == owner}
    for k in taken:
        del collection[k]
    return taken


# ---------------------------------------------------------------- users


def delete_user(sim: Simulator, user_id: str) -> None:
    """Move a user to deleted items: seats released, memberships removed, methods kept."""
    t = sim.tenant
    replication.before_write(sim, "user", user_id)
    user = t.users.pop(user_id)
    release_seats(sim, user)
    member_of: list[str] = []
    owner_of: list[str] = []
    for gid, group in t.groups.items():
        for key, kept in (("_members", member_of), ("_owners", owner_of)):
            if user_id in group.get(key, []):
                replication.before_write(sim, "group", gid)
                group[key] = [m for m in group[key] if m != user_id]
                changes.note_membership(sim, gid, key[1:], user_id, removed=True)
                kept.append(gid)
    user["deletedDateTime"] = sim.iso()
    user["_kind"] = "user"
    user["_deletedAt"] = sim.now()
    user["_memberOf"] = member_of
    user["_ownerOf"] = owner_of
    t.deleted[user_id] = user
    schedule_expiry(sim)


def restore_user(
    sim: Simulator, user_id: str, new_upn: str | None = None
) -> dict[str, Any]:
    """Bring a deleted user back, with its memberships; 400 if its UPN was reused meanwhile."""
    t = sim.tenant
    entry = t.deleted.get(user_id)
    if entry is None or entry.get("_kind") != "user":
        raise not_found(user_id)
    upn = new_upn or str(entry.get("userPrincipalName", ""))
    if sim.user_by_upn(upn) is not None:
        raise object_conflict("userPrincipalName")
    replication.before_write(sim, "user", user_id)
    del t.deleted[user_id]
    member_of = entry.pop("_memberOf", None) or []
    owner_of = entry.pop("_ownerOf", None) or []
    for key in ("_kind", "@odata.type", "_deletedAt"):
        entry.pop(key, None)
    entry["deletedDateTime"] = None
    entry["userPrincipalName"] = upn
    take_seats(sim, entry)
    t.users[user_id] = entry
    sim.invalidate_upns()
    for rel, ids in (("members", member_of), ("owners", owner_of)):
        for gid in ids:
            group = t.groups.get(gid)
            if group is not None:
                if user_id not in group[f"_{rel}"]:
                    replication.before_write(sim, "group", gid)
                    group[f"_{rel}"].append(user_id)
                    changes.note_membership(sim, gid, rel, user_id, removed=False)
                    if rel == "members":
                        apply_group_licences(sim, group, entry)
            elif gid in t.deleted and user_id not in t.deleted[gid].get(f"_{rel}", []):
                # The group is in deleted items too: its own restore brings the user back.
                t.deleted[gid].setdefault(f"_{rel}", []).append(user_id)
    return entry


def purge_user(sim: Simulator, user_id: str) -> None:
    """Delete a deleted user for good, with everything it owns (`USER_OWNED`)."""
    t = sim.tenant
    if user_id not in t.deleted:
        raise not_found(user_id)
    replication.before_write(sim, "user", user_id)
    del t.deleted[user_id]
    for name, key in USER_OWNED.items():
        kept = {k: v for k, v in getattr(t, name).items() if v.get(key) != user_id}
        setattr(t, name, kept)


# ---------------------------------------------------------------- groups


def delete_group(sim: Simulator, gid: str) -> None:
    """Soft-delete a Microsoft 365 group with its workloads; a security group goes for good."""
    t = sim.tenant
    group = t.groups[gid]
    replication.before_write(sim, "group", gid)
    # Members lose what they held through the group (group-based licensing), as in Entra.
    for user_id in group["_members"]:
        if user_id in t.users:
            remove_group_licences(sim, group, t.users[user_id])
    for other_id, other in t.groups.items():
        for rel in ("_members", "_owners"):
            if gid in other.get(rel, []):
                replication.before_write(sim, "group", other_id)
                other[rel].remove(gid)
                changes.note_membership(sim, other_id, rel[1:], gid, removed=True)
    stash: dict[str, Any] = {"teams": {gid: t.teams.pop(gid)} if gid in t.teams else {}}
    for name, key in GROUP_OWNED.items():
        stash[name] = _pop_owned(getattr(t, name), key, gid)
    del t.groups[gid]
    if "Unified" not in group.get("groupTypes", []):
        return  # security groups are deleted permanently at once
    deleted = dict(group)
    deleted.update(
        {
            "deletedDateTime": sim.iso(),
            "@odata.type": "#microsoft.graph.group",
            "_kind": "group",
            "_stash": stash,
            "_deletedAt": sim.now(),
        }
    )
    t.deleted[gid] = deleted
    schedule_expiry(sim)


def restore_group(sim: Simulator, gid: str) -> dict[str, Any]:
    """Restore a soft-deleted group; its team and site return `restore_delay_s` later."""
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
    replication.before_write(sim, "group", gid)
    del t.deleted[gid]
    drop = ("_kind", "_stash", "@odata.type", "_deletedAt")
    group = {k: v for k, v in obj.items() if k not in drop}
    group["deletedDateTime"] = None
    group["_members"] = [m for m in group.get("_members", []) if sim.directory_object(m)]
    group["_owners"] = [m for m in group.get("_owners", []) if sim.directory_object(m)]
    back = sim.now() + sim.profile.restore_delay_s
    group["_workloadsAt"] = back  # the site answers 404 until then (drive.site_ready)
    t.groups[gid] = group
    stash = obj.get("_stash") or {}
    for name in GROUP_WORKLOADS:
        getattr(t, name).update(stash.get(name, {}))
    for team in stash.get("teams", {}).values():
        team["_readyAt"] = max(float(team.get("_readyAt", 0.0)), back)
    for user_id in group["_members"]:
        if user_id in t.users:
            apply_group_licences(sim, group, t.users[user_id])
    return group


def purge_group(sim: Simulator, gid: str) -> None:
    """Delete a soft-deleted group, and everything stashed with it (`GROUP_WORKLOADS`), for good."""
    if gid not in sim.tenant.deleted:
        raise not_found(gid)
    replication.before_write(sim, "group", gid)
    del sim.tenant.deleted[gid]


# ---------------------------------------------------------------- channels


def delete_channel(sim: Simulator, channel_id: str) -> None:
    """Delete a channel and its messages (replies included)."""
    t = sim.tenant
    del t.channels[channel_id]
    t.chat_messages = {
        k: m for k, m in t.chat_messages.items() if m.get("_channelId") != channel_id
    }


# ---------------------------------------------------------------- either


def restore(sim: Simulator, item_id: str, new_upn: str | None = None) -> dict[str, Any]:
    """Restore a deleted user or group; return the stored object."""
    entry = sim.tenant.deleted.get(item_id)
    if entry is None:
        raise not_found(item_id)
    if entry.get("_kind") == "group":
        return restore_group(sim, item_id)
    return restore_user(sim, item_id, new_upn)


def purge(sim: Simulator, item_id: str) -> None:
    """Permanently delete a deleted user or group."""
    entry = sim.tenant.deleted.get(item_id)
    if entry is None:
        raise not_found(item_id)
    if entry.get("_kind") == "group":
        purge_group(sim, item_id)
    else:
        purge_user(sim, item_id)


# ---------------------------------------------------------------- retention


def _deleted_at(entry: dict[str, Any]) -> float:
    return float(entry.get("_deletedAt") or 0.0)


def schedule_expiry(sim: Simulator) -> None:
    """Make the next `expire` look again when the oldest deleted item reaches 30 days."""
    sim.next_expiry = min(
        (_deleted_at(e) + sim.profile.deleted_retention_s for e in sim.tenant.deleted.values()),
        default=float("inf"),
    )


def expire(sim: Simulator) -> list[str]:
    """Purge the deleted items kept longer than `deleted_retention_s`; return their ids.

    Driven by the simulator's clock (`/_sim/clock` advances it): called before each request.
    """
    if sim.now() < sim.next_expiry:
        return []
    limit = sim.now() - sim.profile.deleted_retention_s
    due = [k for k, e in sim.tenant.deleted.items() if _deleted_at(e) <= limit]
    for item_id in due:
        purge(sim, item_id)
    schedule_expiry(sim)
    return due
