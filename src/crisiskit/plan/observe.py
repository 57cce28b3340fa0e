"""Read the tenant for exactly one commune's kit, in as few round trips as the data allows.

Round 1 (one set of concurrent `$batch` calls): the SKUs, each desired user by UPN, the users
carrying this commune's tag, the group by mailNickname. Round 2 needs the ids found: per user
the Temporary Access Pass and phone methods; the group's members, owners, team and drive.
Round 3 needs the team and drive ids: channels and root folders. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crisiskit.plan.desired import DesiredKit
from crisiskit.resources import authmethods, directory, groups, sharepoint, teams
from crisiskit.resources.base import Answer, Req, send

if TYPE_CHECKING:
    from crisiskit.graph import Graph


@dataclass
class ObservedUser:
    id: str
    upn: str
    display_name: str
    usage_location: str | None
    account_enabled: bool
    sku_ids: set[str]
    tag: str | None


@dataclass
class ObservedGroup:
    id: str
    mail_nickname: str
    display_name: str
    tag: str | None
    sku_ids: set[str]
    members: set[str] = field(default_factory=set)  # directory object ids
    owners: set[str] = field(default_factory=set)


@dataclass
class ObservedTap:
    id: str
    usable: bool
    start: str | None
    lifetime_minutes: int | None


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
    taps: dict[str, list[ObservedTap]] = field(default_factory=dict)  # by UPN
    phones: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)  # upn->type->(id,n)

    @property
    def free_seats(self) -> int:
        if self.sku is None:
            return 0
        prepaid = self.sku.get("prepaidUnits") or {}
        return int(prepaid.get("enabled") or 0) - int(self.sku.get("consumedUnits") or 0)

    @property
    def sku_id(self) -> str | None:
        return str(self.sku["skuId"]) if self.sku else None


def _user(body: dict[str, Any], tag: str) -> ObservedUser:
    return ObservedUser(
        id=str(body.get("id")),
        upn=str(body.get("userPrincipalName") or "").lower(),
        display_name=str(body.get("displayName") or ""),
        usage_location=body.get("usageLocation"),
        account_enabled=bool(body.get("accountEnabled", True)),
        sku_ids={str(x.get("skuId")) for x in body.get("assignedLicenses") or [] if x},
        tag=body.get(tag),
    )


def _group(body: dict[str, Any], tag: str) -> ObservedGroup:
    return ObservedGroup(
        id=str(body.get("id")),
        mail_nickname=str(body.get("mailNickname") or ""),
        display_name=str(body.get("displayName") or ""),
        tag=body.get(tag),
        sku_ids={str(x.get("skuId")) for x in body.get("assignedLicenses") or [] if x},
    )


def _expect_ok(answer: Answer, what: str) -> None:
    if answer.status != 200:
        from crisiskit.errors import OperationFailed

        raise OperationFailed(
            f"could not read {what}: HTTP {answer.status} {answer.code} "
            f"(request-id {answer.request_id})"
        )


async def _all_pages(graph: Graph, answer: Answer) -> list[dict[str, Any]]:
    """Return every item of a list answer, following `@odata.nextLink` when present."""
    items = answer.values()
    link = answer.json().get("@odata.nextLink")
    if link:
        rest = await graph.get_all(str(link))
        items.extend(x for x in rest if isinstance(x, dict))
    return items


async def observe(graph: Graph, kit: DesiredKit) -> Observed:
    """Observe the tenant's state of this kit (read-only)."""
    tag = kit.tag
    round1: list[Req] = [directory.list_skus("skus")]
    round1 += [directory.get_user(f"u{i}", u.upn, tag) for i, u in enumerate(kit.users)]
    round1.append(directory.users_tagged("tagged", tag, kit.commune_id))
    if kit.group is not None:
        round1.append(groups.find_by_nickname("group", kit.group.mail_nickname, tag))
    r1 = await send(graph, round1)

    _expect_ok(r1["skus"], "the subscribed SKUs")
    sku = next(
        (
            s
            for s in r1["skus"].values()
            if str(s.get("skuPartNumber", "")).lower() == kit.sku_part_number.lower()
        ),
        None,
    )
    users: dict[str, ObservedUser] = {}
    for i, u in enumerate(kit.users):
        a = r1[f"u{i}"]
        if a.status == 200:
            users[u.upn] = _user(a.json(), tag)
        elif a.status != 404:
            _expect_ok(a, f"user {u.upn}")
    _expect_ok(r1["tagged"], "the accounts tagged for this commune")
    desired_upns = {u.upn for u in kit.users}
    strays = [
        _user(x, tag)
        for x in await _all_pages(graph, r1["tagged"])
        if str(x.get("userPrincipalName", "")).lower() not in desired_upns
    ]
    group: ObservedGroup | None = None
    if kit.group is not None:
        _expect_ok(r1["group"], f"group {kit.group.mail_nickname}")
        found = r1["group"].values()
        if found:
            group = _group(found[0], tag)
    observed = Observed(sku=sku, users=users, strays=strays, group=group)

    # Round 2: what hangs off the objects found. Nothing of a conflicting object is read.
    round2: list[Req] = []
    ours = {upn: o for upn, o in users.items() if o.tag == kit.commune_id}
    for upn, o in ours.items():
        round2.append(authmethods.list_taps(f"tap:{upn}", o.id))
        if kit.register_phone:
            round2.append(authmethods.list_phones(f"phone:{upn}", o.id))
    group_ours = group is not None and group.tag == kit.commune_id
    if group is not None and group_ours:
        round2.append(groups.list_members("members", group.id))
        round2.append(groups.list_owners("owners", group.id))
        if kit.team is not None:
            round2.append(teams.get_team("team", group.id))
        if kit.folders:
            round2.append(sharepoint.get_group_drive("drive", group.id))
    r2 = await send(graph, round2)
    for upn in ours:
        a = r2[f"tap:{upn}"]
        _expect_ok(a, f"the Temporary Access Passes of {upn}")
        observed.taps[upn] = [
            ObservedTap(
                id=str(t.get("id")),
                usable=bool(t.get("isUsable", True)),
                start=t.get("startDateTime"),
                lifetime_minutes=t.get("lifetimeInMinutes"),
            )
            for t in a.values()
        ]
        if kit.register_phone:
            a = r2[f"phone:{upn}"]
            _expect_ok(a, f"the phone methods of {upn}")
            observed.phones[upn] = {
                str(p.get("phoneType")): (str(p.get("id")), str(p.get("phoneNumber")))
                for p in a.values()
            }
    round3: list[Req] = []
    if group is not None and group_ours:
        _expect_ok(r2["members"], "the group's members")
        group.members = {str(x.get("id")) for x in await _all_pages(graph, r2["members"])}
        _expect_ok(r2["owners"], "the group's owners")
        group.owners = {str(x.get("id")) for x in await _all_pages(graph, r2["owners"])}
        if kit.team is not None:
            a = r2["team"]
            if a.status == 200:
                observed.team_id = str(a.json().get("id") or group.id)
                observed.team_url = a.json().get("webUrl")
                round3.append(teams.list_channels("channels", observed.team_id))
            elif a.status != 404:
                _expect_ok(a, "the group's team")
        if kit.folders:
            a = r2["drive"]
            if a.status == 200:
                observed.drive_id = str(a.json().get("id"))
                observed.drive_url = a.json().get("webUrl")
                round3.append(sharepoint.list_root_children("folders", observed.drive_id))
            elif a.status != 404:
                _expect_ok(a, "the group's drive")
    r3 = await send(graph, round3)
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
