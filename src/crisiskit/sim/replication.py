"""Directory replication: what a lagging replica shows for `replication_lag_s` after a write.

Entra ID answers from replicas that converge within seconds to minutes (GRAPH.md, "Eventual
consistency"): for a while after a write, a read may come from a replica that has not seen it.
Such a replica shows the object as it was before the write: absent after a create (404), the
previous version after a PATCH, still present after a DELETE, still absent after a restore;
lists and `$filter` results lag the same way, and advanced queries always read the lagging
index. Before changing a user, a group or a deleted item, the families call `before_write`,
which keeps the version a lagging replica still has (the oldest of a burst of writes) and
records the change for delta queries (`changes`). Reads go through `read_user`, `read_group`,
`read_deleted` and `listing`.

Which reads lag is drawn from the simulator's seeded random source, so a `--seed` replays
the same answers: a read by id lags at `replication_404_rate` when the lagging replica lacks
an object the directory has, at `stale_read_rate` when it shows one the directory changed or
removed; a list lags as a whole at `stale_read_rate`. This module imports no family.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from crisiskit.sim import changes
from crisiskit.sim.errors import not_found

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

COLLECTIONS = ("users", "groups", "deleted")
_PRUNE_EVERY = 256


def _where(sim: Simulator, obj_id: str) -> str | None:
    t = sim.tenant
    for name in COLLECTIONS:
        if obj_id in getattr(t, name):
            return name
    return None


def _snapshot(obj: dict[str, Any]) -> dict[str, Any]:
    """Copy what a replica keeps of an object (a deleted group's workloads stay out)."""
    return copy.deepcopy({k: v for k, v in obj.items() if k != "_stash"})


def before_write(sim: Simulator, kind: str, obj_id: str) -> None:
    """Call before creating, changing or deleting a user or group (`kind`), or its record in
    deleted items: lagging replicas keep what was there; delta queries see the change."""
    changes.note(sim, kind, obj_id)
    now = sim.now()
    lag = sim.profile.replication_lag_s
    replicas = sim.tenant.replicas
    if lag > 0:
        record = replicas.get(obj_id)
        if record is not None and now - float(record["at"]) < lag:
            record["at"] = now  # a burst of writes: the replica still has the oldest version
        else:
            where = _where(sim, obj_id)
            prev = _snapshot(getattr(sim.tenant, where)[obj_id]) if where else None
            replicas[obj_id] = {"at": now, "where": where, "prev": prev}
        sim.replica_writes += 1
        if sim.replica_writes % _PRUNE_EVERY == 0:
            prune(sim)
    elif replicas:
        replicas.clear()
    sim.tenant.written_at[obj_id] = now


def prune(sim: Simulator) -> None:
    """Forget records older than the replication window (every replica has caught up)."""
    now, lag = sim.now(), sim.profile.replication_lag_s
    stale = [k for k, r in sim.tenant.replicas.items() if now - float(r["at"]) >= lag]
    for key in stale:
        del sim.tenant.replicas[key]


def _young(sim: Simulator, obj_id: str) -> dict[str, Any] | None:
    record = sim.tenant.replicas.get(obj_id)
    if record is None:
        return None
    if sim.now() - float(record["at"]) >= sim.profile.replication_lag_s:
        del sim.tenant.replicas[obj_id]
        return None
    return record


def lagging_view(record: dict[str, Any], collection: str) -> dict[str, Any] | None:
    """Return the object as the lagging replica has it in `collection`, or None."""
    prev: dict[str, Any] | None = record["prev"]
    return prev if record["where"] == collection else None


def read(sim: Simulator, collection: str, obj_id: str) -> dict[str, Any] | None:
    """Return `obj_id` from `collection` as the replica serving this read has it, or None."""
    current: dict[str, Any] | None = getattr(sim.tenant, collection).get(obj_id)
    record = _young(sim, obj_id)
    if record is None:
        return current
    behind = lagging_view(record, collection)
    if behind is None and current is None:
        return None
    rate = (
        sim.profile.replication_404_rate
        if behind is None
        else sim.profile.stale_read_rate
    )
    if sim.rng.random() < rate:
        return behind
    return current


def read_by(
    sim: Simulator, collection: str, key: str, value: str
) -> dict[str, Any] | None:
    """Return an object a lagging replica still has under `key` == `value` (case-insensitive).

    For reads by a natural key (a deleted user's userPrincipalName) the directory no longer
    resolves: only objects changed within the window can be there.
    """
    wanted = value.lower()
    for obj_id, record in list(sim.tenant.replicas.items()):
        behind = lagging_view(record, collection)
        if behind is None or str(behind.get(key, "")).lower() != wanted:
            continue
        if _young(sim, obj_id) is None or obj_id in getattr(sim.tenant, collection):
            continue
        if sim.rng.random() < sim.profile.stale_read_rate:
            return behind
    return None


def young_ids(sim: Simulator, collection: str) -> set[str]:
    """Return the ids of objects of `collection` written within the replication window."""
    out: set[str] = set()
    for obj_id in list(sim.tenant.replicas):
        record = _young(sim, obj_id)
        if record is not None and (
            record["where"] == collection or obj_id in getattr(sim.tenant, collection)
        ):
            out.add(obj_id)
    return out


def listing(sim: Simulator, collection: str, *, index: bool = False) -> list[dict[str, Any]]:
    """Return the objects of `collection` as the replica (or index) serving a list has them.

    `index=True` is an advanced query: it always reads the lagging index. Otherwise the list
    lags as a whole at `stale_read_rate` when anything in it changed within the window.
    """
    objects: dict[str, dict[str, Any]] = getattr(sim.tenant, collection)
    young = young_ids(sim, collection)
    if not young:
        return list(objects.values())
    if not index and sim.rng.random() >= sim.profile.stale_read_rate:
        return list(objects.values())
    out: list[dict[str, Any]] = []
    for obj_id, obj in objects.items():
        if obj_id not in young:
            out.append(obj)
            continue
        behind = lagging_view(sim.tenant.replicas[obj_id], collection)
        if behind is not None:
            out.append(behind)
    for obj_id in young:
        if obj_id not in objects:
            behind = lagging_view(sim.tenant.replicas[obj_id], collection)
            if behind is not None:
                out.append(behind)
    return out


def read_user(sim: Simulator, id_or_upn: str) -> dict[str, Any]:
    """Return a user as the replica serving this read has it (maybe stale), or raise 404."""
    uid = id_or_upn
    if id_or_upn not in sim.tenant.users and "@" in id_or_upn:
        found = sim.user_by_upn(id_or_upn)
        if found is None:
            behind = read_by(sim, "users", "userPrincipalName", id_or_upn)
            if behind is None:
                raise not_found(id_or_upn)
            return behind
        uid = found["id"]
    user = read(sim, "users", uid)
    if user is None:
        raise not_found(id_or_upn)
    return user


def read_group(sim: Simulator, group_id: str) -> dict[str, Any]:
    """Return a group as the replica serving this read has it (maybe stale), or raise 404."""
    group = read(sim, "groups", group_id)
    if group is None:
        raise not_found(group_id)
    return group


def read_deleted(sim: Simulator, item_id: str) -> dict[str, Any]:
    """Return a deleted item as the replica serving this read has it, or raise 404."""
    entry = read(sim, "deleted", item_id)
    if entry is None:
        raise not_found(item_id)
    return entry
