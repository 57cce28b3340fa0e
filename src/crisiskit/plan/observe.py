"""Read the tenant for exactly one commune's desired kit, in as few round trips as data allows.

Round 1 (one set of concurrent `$batch` calls): the SKUs, each desired user by UPN, the users
carrying this commune's tag, the group by mailNickname (and, when the journal says a run
created a group it may not have tagged, that group by id and the groups with the kit's display
name). Round 2 needs the ids found: per user of ours the Temporary Access Passes, phone methods
and mailbox readiness (and the passes of tagged accounts no longer on the roster, which may
be leaving); the group's members, owners, team and drive. Round 3 needs the team and drive
ids: channels and root folders.

A group found by its journaled id is the one a run of crisiskit created (the id was journaled
from the create's answer): it is adopted. A group found by display name is adopted only when
the journal says a create was sent whose answer never came, the group was created after it,
and every owner it has is an account of this kit; a same-named group owned by others is
someone else's and ignored (the kit's key is its nickname); any group that cannot be told
apart (two proven, or owners unreadable or mixed) is a lookalike, shown in the plan with what
to do, never touched.

Nothing here writes. Every request and parser comes from the resource modules, so another
operation (teardown: "what we created", by journal and tag) observes with the same reads.

Replication lag (GRAPH.md, "Eventual consistency"): a rerun right after an interrupted run reads
objects created seconds ago, which a lagging replica may not show yet. Reads by id of objects
found (a user's passes and phones, a group's members) that answer 404 are re-read with capped
backoff under the consistency deadline (`consistency.settle`). The journal's hints
(`Hints.created`: (kind, natural key) -> id, `Hints.group_id`) name what runs created: an account
that reads as absent by UPN, the group read by its journaled id, a team of the old path, are
re-read until they appear or the deadline passes, then taken as absent. A group tagged and named
that its id shows while the listing by nickname does not yet is the kit's group, not adopted.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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

__all__ = ["Hints", "Observed", "ObservedGroup", "ObservedTap", "ObservedUser", "observe"]

CLOCK_SKEW_S = 300.0  # between this machine's clock and the service's createdDateTime


@dataclass(frozen=True)
class Hints:
    """What the local journal knows that the tenant cannot say (`crisiskit.engine.hints`)."""

    group_id: str | None = None  # the group a run created (journaled from the create's answer)
    sent_at: datetime | None = None  # the last `POST /teams` a run sent for this kit
    licensed_at: Mapping[str, str] = field(default_factory=dict)  # upn -> ISO time
    # Every object a run created: (kind, natural key) -> Graph id. Absent from a read, it is
    # a lagging replica, re-read under the consistency deadline before it is taken as absent.
    created: Mapping[tuple[str, str], str] = field(default_factory=dict)


K = TypeVar("K", bound=Hashable)


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
    licensed_at: Mapping[str, str] = field(default_factory=dict)  # upn -> when (journal)
    lookalikes: list[str] = field(default_factory=list)  # groups that may be ours: what to do

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
    hints: Hints | None = None,
    *,
    clock: Clock = SYSTEM,
    rules: Consistency = RULES,
) -> Observed:
    """Observe the tenant's state of this kit (read-only); see the module docstring."""
    hints = hints or Hints()
    tag = kit.tag
    journaled = hints.created
    round1: dict[str, Request] = {"skus": licences.skus()}
    round1.update({f"u{i}": users.by_upn(u.upn, tag) for i, u in enumerate(kit.users)})
    round1["tagged"] = users.tagged(tag, kit.commune_id)
    if kit.group is not None:
        round1["group"] = groups.by_nickname(kit.group.mail_nickname, tag)
        if hints.group_id:
            round1["journaled"] = groups.by_id(hints.group_id, tag)
        if hints.sent_at is not None:
            round1["named"] = groups.by_display_name(kit.group.display_name, tag)
    r1 = await graph.send(round1)
    lagging = {
        f"u{i}": users.by_upn(u.upn, tag)
        for i, u in enumerate(kit.users)
        if r1[f"u{i}"].status == 404 and ("user", u.upn) in journaled
    }
    if "journaled" in r1 and r1["journaled"].status == 404:
        lagging["journaled"] = round1["journaled"]  # the group a run created, by its id
    if lagging:
        r1.update(await _until_present(
            graph, clock, rules, lagging, lambda a: a.status == 200
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
    lookalikes: list[str] = []
    if kit.group is not None:
        _expect_ok(r1["group"], f"group {kit.group.mail_nickname}")
        values = r1["group"].values()
        if values:
            group = groups.parse(values[0], tag)
        elif "journaled" in r1 and r1["journaled"].status == 200:
            group = groups.parse(r1["journaled"].json(), tag)
            if group.tag != kit.commune_id or group.mail_nickname != kit.group.mail_nickname:
                group.adopt = "its id was journaled when it was created"
            # else: tagged and named already, the listing by nickname lags behind the read
        elif "named" in r1:
            _expect_ok(r1["named"], f"the groups named {kit.group.display_name!r}")
            accounts = {o.id for o in found.values() if o.tag == kit.commune_id}
            group, lookalikes = await _interrupted_create(
                graph, kit, r1["named"], hints, accounts
            )
    observed = Observed(
        sku=sku, users=found, strays=strays, group=group,
        licensed_at=dict(hints.licensed_at), lookalikes=lookalikes,
    )

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


async def _interrupted_create(
    graph: Graph, kit: DesiredKit, named: GraphResponse, hints: Hints, accounts: set[str]
) -> tuple[ObservedGroup | None, list[str]]:
    """Find the group of a `POST /teams` whose answer never came: (adopted, lookalikes)."""
    assert kit.group is not None and hints.sent_at is not None
    since = hints.sent_at - timedelta(seconds=CLOCK_SKEW_S)
    candidates = []
    for body in named.values():
        g = groups.parse(body, kit.tag)
        created = _time(g.created)
        if g.tag in (None, kit.commune_id) and (created is None or created >= since):
            candidates.append(g)
    if not candidates:
        return None, []
    answers = await graph.send({g.id: memberships.owners(g.id) for g in candidates})
    proven, doubtful = [], []
    for g in candidates:
        owners = {str(x.get("id")) for x in answers[g.id].values()}
        if answers[g.id].status == 200 and owners and owners <= accounts:
            proven.append(g)
        elif answers[g.id].status != 200 or not owners or owners & accounts:
            doubtful.append(g)  # cannot tell: its owners could not be read, or are mixed
    # A same-named group owned by others is someone else's: the kit's key is its nickname.
    if len(proven) == 1 and not doubtful:
        proven[0].adopt = (
            f"created {proven[0].created} by a run that never read the answer; its owners "
            "are this kit's accounts"
        )
        return proven[0], []
    return None, [
        f"group {g.id} ({g.display_name!r}, created {g.created}, untagged) may be the one an "
        "interrupted run created: check its owners; keep one (delete the others in the Entra "
        "admin center, or rename the ones that are not the kit's) and rerun"
        for g in [*proven, *doubtful]
    ]


def _time(value: str | None) -> datetime | None:
    from crisiskit.resources.waiting import parse_time

    return parse_time(value)
