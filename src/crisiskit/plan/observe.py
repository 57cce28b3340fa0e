"""Read the tenant for exactly one commune's desired kit, in as few round trips as data allows.

Round 1 (one set of concurrent `$batch` calls): the SKUs, each desired user by UPN, the users
carrying this commune's tag, the group by mailNickname. Round 2 needs the ids found: per user
of ours the Temporary Access Passes, phone methods and mailbox readiness (and the passes of
tagged accounts no longer on the roster, which may be leaving); the group's members,
owners, team and drive. Round 3 needs the team and drive ids: channels and root folders.
Nothing here writes. Every request and parser comes from the resource modules, so another
operation (teardown: "what we created", by journal and tag) observes with the same reads.

Replication lag (GRAPH.md, "Eventual consistency"): a rerun right after an interrupted run reads
objects created seconds ago, which a lagging replica may not show yet. Reads by id of objects
found (a user's passes and phones, a group's members) that answer 404 are re-read with capped
backoff under the consistency deadline (`consistency.settle`); an object the journal says was
created (`created`: (kind, natural key) -> id) that reads as absent, by UPN, by mailNickname or
as a team, is re-read until it appears or the deadline passes, then taken as absent.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from crisiskit.clock import SYSTEM, Clock
from crisiskit.graph.consistency import RULES, Consistency, settle
from crisiskit.graph.types import GraphResponse, Request
from crisiskit.plan.desired import DesiredKit
from crisiskit.resources import (
    channels,
    drives,
    groups,
    licences,
    mailboxes,
    memberships,
    phones,
    taps,
    teams,
    users,
)
from crisiskit.resources.groups import ObservedGroup
from crisiskit.resources.taps import ObservedTap
from crisiskit.resources.users import ObservedUser

if TYPE_CHECKING:
    from crisiskit.graph import Graph

__all__ = ["Observed", "ObservedGroup", "ObservedTap", "ObservedUser", "observe"]

K = TypeVar("K", bound=Hashable)
Created = Mapping[tuple[str, str], str]  # (kind, natural key) -> Graph id, from the journal


@dataclass
class Observed:
    """What the tenant holds of one commune's kit (and what blocks it)."""

    sku: dict[str, Any] | None
    users: dict[str, ObservedUser]  # by lower-case UPN, desired UPNs only
    strays: list[ObservedUser]  # tagged for this commune, not in the desired roster
    group: ObservedGroup | None
    team_id: str | None = None
    channels: dict[str, str] = field(default_factory=dict)  # lower-case name -> id
    drive_id: str | None = None
    drive_url: str | None = None
    team_url: str | None = None
    folders: dict[str, str] = field(default_factory=dict)  # lower-case name -> id
    taps: dict[str, list[ObservedTap]] = field(default_factory=dict)  # by UPN (strays too)
    phones: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)  # upn->type->(id,n)
    mailboxes: dict[str, bool] = field(default_factory=dict)  # upn -> ready (accounts of ours)

    @property
    def free_seats(self) -> int:
        return licences.free_seats(self.sku)

    @property
    def sku_id(self) -> str | None:
        return str(self.sku["skuId"]) if self.sku else None


def _expect_ok(answer: GraphResponse, what: str) -> None:
    if answer.status != 200:
        from crisiskit.errors import OperationFailed

        said = f": {answer.message}" if answer.message else ""
        raise OperationFailed(
            f"could not read {what}: HTTP {answer.status} {answer.code}{said} "
            f"(request-id {answer.request_id})"
        )


async def _all_pages(graph: Graph, answer: GraphResponse) -> list[dict[str, Any]]:
    """Return every item of a list answer, following `@odata.nextLink` when present."""
    items = answer.values()
    link = answer.json().get("@odata.nextLink")
    if link:
        rest = await graph.get_all(str(link))
        items.extend(x for x in rest if isinstance(x, dict))
    return items


async def _until_present(
    graph: Graph,
    clock: Clock,
    rules: Consistency,
    requests: Mapping[K, Request],
    present: Callable[[GraphResponse], bool],
) -> dict[K, GraphResponse]:
    """Re-read objects known to exist until each read shows its object, or the deadline."""
    answers: dict[K, GraphResponse] = {}
    todo = dict(requests)
    deadline = clock.monotonic() + rules.deadline_s
    delay = rules.first_delay_s
    while todo and clock.monotonic() + delay <= deadline:
        await clock.sleep(delay)
        delay = min(delay * 2, rules.max_delay_s)
        got = await graph.send(todo)
        answers.update(got)
        todo = {k: r for k, r in todo.items() if not present(got[k])}
    return answers


async def observe(
    graph: Graph,
    kit: DesiredKit,
    *,
    clock: Clock = SYSTEM,
    rules: Consistency = RULES,
    created: Created | None = None,
) -> Observed:
    """Observe the tenant's state of this kit (read-only); see the module docstring."""
    tag = kit.tag
    journaled = dict(created or {})
    round1: dict[str, Request] = {"skus": licences.skus()}
    round1.update({f"u{i}": users.by_upn(u.upn, tag) for i, u in enumerate(kit.users)})
    round1["tagged"] = users.tagged(tag, kit.commune_id)
    if kit.group is not None:
        round1["group"] = groups.by_nickname(kit.group.mail_nickname, tag)
    r1 = await graph.send(round1)
    lagging = {
        f"u{i}": users.by_upn(u.upn, tag)
        for i, u in enumerate(kit.users)
        if r1[f"u{i}"].status == 404 and ("user", u.upn) in journaled
    }
    if kit.group is not None and ("group", kit.group.mail_nickname) in journaled:
        if r1["group"].status == 200 and not r1["group"].values():
            lagging["group"] = round1["group"]
    if lagging:
        r1.update(await _until_present(
            graph, clock, rules, lagging, lambda a: a.status == 200 and (
                bool(a.values()) or "value" not in a.json()
            ),
        ))

    _expect_ok(r1["skus"], "the subscribed SKUs")
    sku = licences.sku_named(r1["skus"].values(), kit.sku_part_number)
    found: dict[str, ObservedUser] = {}
    for i, u in enumerate(kit.users):
        a = r1[f"u{i}"]
        if a.status == 200:
            found[u.upn] = users.parse(a.json(), tag)
        elif a.status != 404:
            _expect_ok(a, f"user {u.upn}")
    _expect_ok(r1["tagged"], "the accounts tagged for this commune")
    desired_upns = {u.upn for u in kit.users}
    strays = [
        users.parse(x, tag)
        for x in await _all_pages(graph, r1["tagged"])
        if str(x.get("userPrincipalName", "")).lower() not in desired_upns
    ]
    group: ObservedGroup | None = None
    if kit.group is not None:
        _expect_ok(r1["group"], f"group {kit.group.mail_nickname}")
        values = r1["group"].values()
        if values:
            group = groups.parse(values[0], tag)
    observed = Observed(sku=sku, users=found, strays=strays, group=group)

    # Round 2: what hangs off the objects found. Nothing of a conflicting object is read.
    # Those objects exist (found just now), so a 404 reading them by id is a lagging replica.
    round2: dict[str, Request] = {}
    ours = {upn: o for upn, o in found.items() if o.tag == kit.commune_id}
    for upn, o in ours.items():
        round2[f"tap:{upn}"] = taps.of_user(o.id)
        if kit.register_phone:
            round2[f"phone:{upn}"] = phones.of_user(o.id)
        round2[f"mailbox:{upn}"] = mailboxes.probe(o.id)
    for stray in strays:
        # A tagged account no longer on the roster may be leaving: its passes are removed.
        round2[f"tap:{stray.upn}"] = taps.of_user(stray.id)
    group_ours = group is not None and group.tag == kit.commune_id
    optional: dict[str, Request] = {}  # absent is a normal answer for these
    if group is not None and group_ours:
        round2["members"] = memberships.members(group.id)
        round2["owners"] = memberships.owners(group.id)
        if kit.team is not None:
            optional["team"] = teams.by_group(group.id)
        if kit.folders:
            optional["drive"] = drives.of_group(group.id)
    r2 = await settle(graph, clock, round2, rules=rules)
    r2.update(await graph.send(optional))
    if kit.team is not None and "team" in r2 and r2["team"].status == 404 and (
        ("team", kit.team.display_name) in journaled
    ):
        r2.update(await _until_present(
            graph, clock, rules, {"team": optional["team"]}, lambda a: a.status == 200
        ))
    for upn in ours:
        a = r2[f"tap:{upn}"]
        _expect_ok(a, f"the Temporary Access Passes of {upn}")
        observed.taps[upn] = [taps.parse(t) for t in a.values()]
        if kit.register_phone:
            a = r2[f"phone:{upn}"]
            _expect_ok(a, f"the phone methods of {upn}")
            observed.phones[upn] = phones.parse(a.values())
        observed.mailboxes[upn] = mailboxes.is_ready(r2[f"mailbox:{upn}"])
    for stray in strays:
        a = r2[f"tap:{stray.upn}"]
        _expect_ok(a, f"the Temporary Access Passes of {stray.upn}")
        observed.taps[stray.upn] = [taps.parse(t) for t in a.values()]
    round3: dict[str, Request] = {}
    if group is not None and group_ours:
        _expect_ok(r2["members"], "the group's members")
        group.members = await memberships.all_ids(graph, r2["members"])
        _expect_ok(r2["owners"], "the group's owners")
        group.owners = await memberships.all_ids(graph, r2["owners"])
        if kit.team is not None:
            a = r2["team"]
            if a.status == 200:
                observed.team_id = str(a.json().get("id") or group.id)
                observed.team_url = a.json().get("webUrl")
                round3["channels"] = channels.in_team(observed.team_id)
            elif a.status != 404:
                _expect_ok(a, "the group's team")
        if kit.folders:
            a = r2["drive"]
            if a.status == 200:
                observed.drive_id = str(a.json().get("id"))
                observed.drive_url = a.json().get("webUrl")
                round3["folders"] = drives.root_children(observed.drive_id)
            elif a.status != 404:
                _expect_ok(a, "the group's drive")
    r3 = await settle(graph, clock, round3, rules=rules)
    if "channels" in r3:
        _expect_ok(r3["channels"], "the team's channels")
        observed.channels = {
            str(c.get("displayName", "")).lower(): str(c.get("id"))
            for c in await _all_pages(graph, r3["channels"])
        }
    if "folders" in r3:
        _expect_ok(r3["folders"], "the drive's folders")
        observed.folders = {
            str(f.get("name", "")).lower(): str(f.get("id"))
            for f in await _all_pages(graph, r3["folders"])
            if "folder" in f
        }
    return observed
