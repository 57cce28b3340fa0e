"""What crisiskit created for a commune, as the tenant holds it: the scope of export, teardown.

An object is in scope only if it is recorded in the journal of created objects for this
commune AND the tenant says it carries crisiskit's tag for this commune. Everything else is
listed and left alone: a tagged object the journal does not know (`strays`), a journaled one
that no longer carries the tag (`untagged`). Untagged objects are never read further, and
another commune's objects never appear (another tag, another journal).

`--from-tenant` (the local state is lost): the tag alone decides; the operation lists what it
found and asks for the commune id again before acting.

Reads, in two rounds of `$batch`: each journaled user and group by id, and the users and
groups the tag names (plain `eq` on the directory extension); then, for the accounts and the
group in scope, their Temporary Access Passes and the group's Team. A journaled object the
directory answers 404 for is `deleted` (in the recycle bin or on its way there), unless the
journal says a teardown purged it, or it was deleted more than 30 days ago: then `gone`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from crisiskit.errors import OperationFailed
from crisiskit.graph.types import GraphResponse, Request
from crisiskit.resources import taps, teams
from crisiskit.resources.base import get, q

if TYPE_CHECKING:
    from crisiskit.graph import Graph
    from crisiskit.state.api import StateStore, StepRecord

RETENTION = timedelta(days=30)
OPERATIONS = ("teardown",)


@dataclass
class Owned:
    """A user or the group in scope: its natural key, id and state in the tenant."""

    kind: str  # user | group
    key: str  # UPN (lower case) or mailNickname
    id: str
    state: str  # live | deleted | gone
    enabled: bool = True
    display_name: str = ""
    taps: list[str] = field(default_factory=list)  # ids of its passes (live users)
    team: bool = False  # the group has a Team
    mail: str = ""


@dataclass
class KitScope:
    """The commune's kit in scope, and what was found but left alone."""

    commune: str
    tag: str
    users: list[Owned]
    group: Owned | None
    strays: list[str] = field(default_factory=list)  # tagged, unknown to the journal
    untagged: list[str] = field(default_factory=list)  # journaled, not tagged for it
    from_tenant: bool = False

    @property
    def live_users(self) -> list[Owned]:
        return [u for u in self.users if u.state == "live"]

    @property
    def nothing(self) -> bool:
        """Tell whether nothing of the kit is left in the tenant (live or deleted)."""
        present = [o for o in [*self.users, self.group] if o is not None and o.state != "gone"]
        return not present


@dataclass
class History:
    """What earlier teardown runs of the commune did, step by step (latest first)."""

    steps: list[StepRecord]

    def last(self, kind: str, action: str, key: str, status: str = "done") -> StepRecord | None:
        for s in self.steps:
            if (s.kind, s.action, s.key, s.status) == (kind, action, key, status):
                return s
        return None


def history(store: StateStore, commune: str) -> History:
    """Return the steps of the commune's teardown runs since its latest activation.

    Most recent first. Runs before the latest activation belong to an earlier crisis: the
    same UPN may then name another account.
    """
    found: list[StepRecord] = []
    for run in store.runs(commune):
        if run.kind == "activate":
            break
        if run.kind in OPERATIONS:
            found.extend(reversed(store.steps(run.id)))
    return History(found)


def _expect(answer: GraphResponse, what: str, *allowed: int) -> None:
    if answer.status != 200 and answer.status not in allowed:
        raise OperationFailed(
            f"could not read {what}: HTTP {answer.status} {answer.code} "
            f"(request-id {answer.request_id})"
        )


def _deleted_state(past: History, kind: str, key: str, now: datetime) -> str:
    """Return `deleted` or `gone` for an object the directory no longer has."""
    purged = past.last(kind, "purge", key)
    if purged is not None and (purged.detail or "") == "purged":
        return "gone"
    deleted = past.last(kind, "delete", key)
    if deleted is not None:
        at = datetime.fromisoformat(deleted.at)
        return "gone" if now - at > RETENTION else "deleted"
    return "deleted"


async def _pages(graph: Graph, answer: GraphResponse) -> list[dict[str, Any]]:
    items = answer.values()
    link = answer.json().get("@odata.nextLink")
    if isinstance(link, str) and link:
        items.extend(x for x in await graph.get_all(link) if isinstance(x, dict))
    return items


def tagged(collection: str, tag: str, commune: str, fields: str) -> Request:
    """Return the read of every user or group carrying the commune's tag (a plain `eq`)."""
    return get(f"/{collection}?$filter={tag}%20eq%20'{q(commune)}'&$select={fields}&$top=999")


async def observe_scope(
    graph: Graph,
    store: StateStore,
    commune: str,
    tag: str,
    now: datetime,
    *,
    from_tenant: bool = False,
) -> KitScope:
    """Read the commune's kit in the tenant (read-only; see the module docstring)."""
    user_fields = f"id,userPrincipalName,displayName,accountEnabled,mail,{tag}"
    group_fields = f"id,displayName,mailNickname,mail,{tag}"
    journal_users = {} if from_tenant else {
        o.natural_key.lower(): o.graph_id for o in store.objects(commune, "user")
    }
    journal_groups = {} if from_tenant else {
        o.natural_key: o.graph_id for o in store.objects(commune, "group")
    }
    round1: dict[str, Request] = {
        "tagged_users": tagged("users", tag, commune, user_fields),
        "tagged_groups": tagged("groups", tag, commune, group_fields),
    }
    for upn, uid in journal_users.items():
        round1[f"u:{upn}"] = get(f"/users/{uid}?$select={user_fields}")
    for nick, gid in journal_groups.items():
        round1[f"g:{nick}"] = get(f"/groups/{gid}?$select={group_fields}")
    r1 = await graph.send(round1)
    _expect(r1["tagged_users"], "the accounts tagged for this commune")
    _expect(r1["tagged_groups"], "the groups tagged for this commune")
    tagged_users = await _pages(graph, r1["tagged_users"])
    tagged_groups = await _pages(graph, r1["tagged_groups"])
    past = history(store, commune)

    scope = KitScope(commune, tag, [], None, from_tenant=from_tenant)
    if from_tenant:
        journal_users = {str(u.get("userPrincipalName", "")).lower(): str(u["id"])
                         for u in tagged_users}
        journal_groups = {str(g.get("mailNickname", "")): str(g["id"]) for g in tagged_groups}
        r1.update({f"u:{k}": GraphResponse(200, {}, u) for k, u in
                   zip(journal_users, tagged_users, strict=True)})
        r1.update({f"g:{k}": GraphResponse(200, {}, g) for k, g in
                   zip(journal_groups, tagged_groups, strict=True)})
    for upn, uid in sorted(journal_users.items()):
        a = r1[f"u:{upn}"]
        _expect(a, f"account {upn}", 404)
        if a.status == 404:
            scope.users.append(Owned("user", upn, uid, _deleted_state(past, "user", upn, now)))
        elif a.json().get(tag) != commune:
            scope.untagged.append(upn)
        else:
            body = a.json()
            scope.users.append(Owned(
                "user", upn, uid, "live", enabled=bool(body.get("accountEnabled", True)),
                display_name=str(body.get("displayName") or ""), mail=str(body.get("mail") or ""),
            ))
    for nick, gid in sorted(journal_groups.items()):
        a = r1[f"g:{nick}"]
        _expect(a, f"group {nick}", 404)
        if a.status == 404:
            group = Owned("group", nick, gid, _deleted_state(past, "group", nick, now))
        elif a.json().get(tag) != commune:
            scope.untagged.append(nick)
            continue
        else:
            body = a.json()
            group = Owned("group", nick, gid, "live",
                          display_name=str(body.get("displayName") or ""),
                          mail=str(body.get("mail") or ""))
        if scope.group is None or group.state == "live":
            scope.group = group
    known = set(journal_users.values()) | set(journal_groups.values())
    scope.strays = sorted(
        [str(u.get("userPrincipalName")) for u in tagged_users if str(u["id"]) not in known]
        + [str(g.get("mailNickname")) for g in tagged_groups if str(g["id"]) not in known]
    )
    await _round2(graph, scope)
    return scope


async def _round2(graph: Graph, scope: KitScope) -> None:
    """Read the passes of the live accounts and whether the live group has a Team."""
    round2: dict[str, Request] = {f"tap:{u.key}": taps.of_user(u.id) for u in scope.live_users}
    group = scope.group
    if group is not None and group.state == "live":
        round2["team"] = teams.by_group(group.id)
    r2 = await graph.send(round2)
    for u in scope.live_users:
        a = r2[f"tap:{u.key}"]
        _expect(a, f"the passes of {u.key}", 404)
        u.taps = sorted(str(t.get("id")) for t in a.values() if t.get("id"))
    if "team" in r2:
        _expect(r2["team"], "the group's Team", 404)
        assert group is not None
        group.team = r2["team"].status == 200


def keys(owned: Iterable[Owned]) -> list[str]:
    return [o.key for o in owned]
