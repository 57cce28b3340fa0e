"""Diff the desired kit against the observed tenant: the activation's plan, as data.

Each Step says what happens to one object, by natural key: `create`, `update`, `present`
(nothing to do) or `conflict` (an object holds our natural key but is not ours: activation
refuses and never touches it). Its payload is what will be sent; an id that does not exist
yet is a `Ref` to the step that creates it, so the dependencies are the data flow:

    loans ─────────────────────────────────────────┐
    users ──┬─> licences (then mailbox readiness)   │
            ├─> temporary access passes             │
            ├─> phone methods <─────────────────────┘
            └─> group ──┬─> memberships (≤ 20 binds in the create, the rest by PATCH / $ref)
                        ├─> team ──> channels
                        └─> drive ready ──> folders

Accounts leaving the cell (tagged, journaled, off the roster) get their own steps, built by
`crisiskit.plan.leavers` and appended here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crisiskit import words
from crisiskit.plan.activation import ActivationPlan
from crisiskit.plan.desired import DesiredKit
from crisiskit.plan.leavers import LeaverFacts, leaving
from crisiskit.plan.model import Action, Id, Plan, Ref, Step, step
from crisiskit.plan.observe import Observed, ObservedTap
from crisiskit.resources.channels import ChannelCreate
from crisiskit.resources.drives import DriveWait, FolderCreate
from crisiskit.resources.groups import MAX_BINDS, GroupCreate
from crisiskit.resources.licences import LicenceAssign
from crisiskit.resources.loans import LoanCreate
from crisiskit.resources.mailboxes import Mailbox
from crisiskit.resources.memberships import MembershipAdd
from crisiskit.resources.phones import PhoneCreate, PhoneUpdate, same_number
from crisiskit.resources.taps import TapCreate
from crisiskit.resources.teams import TeamCreate
from crisiskit.resources.users import UserCreate, UserUpdate

# The journal's phase of each kind (what the audit trail and `steps` have always said).
PHASES = {
    "user": "accounts",
    "licence": "licences",
    "group": "group",
    "membership": "group",
    "team": "team",
    "channel": "team",
    "drive": "sharepoint",
    "folder": "sharepoint",
    "tap": "credentials",
    "phone_method": "phones",
    "loan": "devices",
}
DRIVE_KEY = "Documents"


@dataclass(frozen=True)
class CredentialState:
    """A row of the credentials file as the diff needs it (no secret)."""

    upn: str
    valid_from: datetime
    valid_until: datetime


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _lasts(tap: ObservedTap, now: datetime) -> bool:
    start = _parse_time(tap.start)
    if start is None or tap.lifetime_minutes is None:
        return False
    return start + timedelta(minutes=int(tap.lifetime_minutes)) > now


def _tap_state(
    observed: Observed, upn: str, credentials: dict[str, CredentialState], now: datetime
) -> tuple[bool, str]:
    """Return (present, why a previous pass is replaced: empty for a first pass).

    A disabled account's pass reads `isUsable: false` until the account is enabled again; the
    plan re-enables it, so such a pass counts as usable while its lifetime lasts (replacing it
    would kill the one already handed over).
    """
    user = observed.users.get(upn)
    disabled = user is not None and not user.account_enabled
    taps = [
        t for t in observed.taps.get(upn, []) if t.usable or (disabled and _lasts(t, now))
    ]
    row = credentials.get(upn)
    if not taps:
        return False, "" if row is None else "no usable pass in the tenant"
    if row is None:
        return False, "previous pass not in the credentials file"
    if row.valid_until <= now:
        return False, "the pass in the credentials file has expired"
    starts = [_parse_time(t.start) for t in taps]
    if any(s is not None for s in starts) and not any(
        s is not None and abs(s - row.valid_from) <= timedelta(seconds=5) for s in starts
    ):
        return False, "the tenant's pass is not the one in the credentials file"
    return True, ""


def tap_is_present(
    observed: Observed, upn: str, credentials: dict[str, CredentialState], now: datetime
) -> tuple[bool, str]:
    """Tell whether a usable pass exists AND its secret is in the credentials file, still valid."""
    present, reissue = _tap_state(observed, upn, credentials, now)
    return (True, "") if present else (False, _tap_reason(reissue))


def _tap_reason(reissue: str) -> str:
    return f"reissue ({reissue})" if reissue else "issue"


class _Builder:
    """Collect the steps of one activation plan, each in its journal phase."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def add(
        self,
        kind: str,
        action: Action,
        key: str,
        payload: object = None,
        *,
        detail: str = "",
        graph_id: str | None = None,
        after: tuple[str, ...] = (),
    ) -> Step:
        s = step(
            kind, action, key, payload, after=after, detail=detail, graph_id=graph_id,
            phase=PHASES.get(kind, kind),
        )
        self.steps.append(s)
        return s


def diff(
    kit: DesiredKit,
    observed: Observed,
    credentials: dict[str, CredentialState],
    now: datetime,
    leavers: LeaverFacts | None = None,
) -> ActivationPlan:
    """Compare desired with observed and return the activation's plan (pure: no I/O).

    `leavers`: what the journal says of the commune's accounts; with it, tagged accounts no
    longer on the roster are leaving (crisiskit.plan.leavers), without it they are left alone.
    """
    b = _Builder()
    ours: dict[str, str] = {}  # upn -> id of accounts that are ours
    seats = 0
    sku_id = observed.sku_id
    for u in kit.users:
        o = observed.users.get(u.upn)
        if o is None:
            create = UserCreate(
                upn=u.upn,
                mail_nickname=u.mail_nickname,
                display_name=u.display_name,
                given_name=u.given_name,
                surname=u.surname,
                usage_location=u.usage_location,
                tag=kit.tag,
                commune=kit.commune_id,
            )
            b.add("user", "create", u.upn, create, detail=u.display_name)
            continue
        if o.tag != kit.commune_id:
            owner = f"tagged for {o.tag!r}" if o.tag else "not created by crisiskit"
            b.add("user", "conflict", u.upn, detail=f"an account exists, {owner}", graph_id=o.id)
            continue
        ours[u.upn] = o.id
        changes = []
        if o.display_name != u.display_name:
            changes.append("displayName")
        if (o.usage_location or "") != u.usage_location:
            changes.append("usageLocation")
        if not o.account_enabled:
            changes.append("accountEnabled")
        if changes:
            body = {
                "displayName": u.display_name,
                "usageLocation": u.usage_location,
                "accountEnabled": True,
            }
            b.add(
                "user", "update", u.upn, UserUpdate(o.id, body),
                detail=", ".join(changes), graph_id=o.id,
            )
        else:
            b.add("user", "present", u.upn, graph_id=o.id)
    conflicted = {s.key for s in b.steps if s.action == "conflict"}
    wanted = [u for u in kit.users if u.upn not in conflicted]

    def uid(upn: str, *, optional: bool = False) -> Id:
        return ours[upn] if upn in ours else Ref(f"user:{upn}", optional=optional)

    if kit.licence_mode == "direct":
        for u in wanted:
            o = observed.users.get(u.upn)
            if o is not None and sku_id is not None and sku_id in o.sku_ids:
                b.add("licence", "present", u.upn, detail=kit.sku_part_number)
                continue
            seats += 1
            assign = LicenceAssign(
                target=uid(u.upn),
                target_kind="user",
                sku_id=sku_id or "",
                sku=kit.sku_part_number,
                mailboxes=(Mailbox(u.upn, uid(u.upn)),),
                mailbox_deadline_s=kit.readiness.mailbox_s,
            )
            b.add("licence", "create", u.upn, assign, detail=kit.sku_part_number)

    group = observed.group
    group_ours = group is not None and group.tag == kit.commune_id
    if kit.group is not None:
        g = kit.group
        group_step = f"group:{g.mail_nickname}"
        gid: Id = group.id if group is not None and group_ours else Ref(group_step)
        owners_bound: set[str] = set()
        members_bound: set[str] = set()
        if group is None:
            owner_upns = [u for u in g.owners if u not in conflicted][:MAX_BINDS]
            room = MAX_BINDS - len(owner_upns)
            member_upns = [u for u in g.members if u not in conflicted][:room]
            owners_bound, members_bound = set(owner_upns), set(member_upns)
            group_create = GroupCreate(
                nickname=g.mail_nickname,
                display_name=g.display_name,
                description=g.description,
                tag=kit.tag,
                commune=kit.commune_id,
                graph_root=kit.graph_root,
                owners=tuple(uid(u, optional=True) for u in owner_upns),
                members=tuple(uid(u, optional=True) for u in member_upns),
            )
            b.add("group", "create", g.mail_nickname, group_create, detail=g.display_name)
        elif not group_ours:
            owner = f"tagged for {group.tag!r}" if group.tag else "not created by crisiskit"
            b.add(
                "group", "conflict", g.mail_nickname,
                detail=f"a group exists, {owner}", graph_id=group.id,
            )
        else:
            b.add("group", "present", g.mail_nickname, detail=g.display_name, graph_id=group.id)
        if kit.licence_mode == "group":
            if group_ours and group is not None and sku_id in group.sku_ids:
                b.add("licence", "present", g.mail_nickname, detail=kit.sku_part_number)
            else:
                seats += sum(
                    1
                    for u in wanted
                    if not (u.upn in observed.users and sku_id in observed.users[u.upn].sku_ids)
                )
                group_licence = LicenceAssign(
                    target=gid,
                    target_kind="group",
                    sku_id=sku_id or "",
                    sku=kit.sku_part_number,
                    mailboxes=tuple(Mailbox(u.upn, uid(u.upn, optional=True)) for u in wanted),
                    mailbox_deadline_s=kit.readiness.mailbox_s,
                )
                b.add(
                    "licence", "create", g.mail_nickname, group_licence,
                    detail=kit.sku_part_number,
                )
        if group is None or group_ours:
            _memberships(b, kit, observed, conflicted, ours, gid, owners_bound, members_bound)
            if kit.team is not None:
                _team(b, kit, observed, gid, group_step)
            if kit.folders:
                _sharepoint(b, kit, observed, gid)

    for u in wanted:
        present, reissue = _tap_state(observed, u.upn, credentials, now)
        if present:
            b.add("tap", "present", u.upn)
            continue
        tap = TapCreate(
            user=uid(u.upn),
            upn=u.upn,
            display_name=u.display_name,
            lifetime_minutes=kit.tap_lifetime_minutes,
            usable_once=kit.tap_usable_once,
            reissue=reissue,
        )
        b.add("tap", "create", u.upn, tap, detail=_tap_reason(reissue))

    loan_step = {a.asset_tag: f"loan:{a.asset_tag}" for a in kit.allocations}
    if kit.register_phone:
        for u in wanted:
            phone = kit.phone_for(u.upn)
            if phone is None or phone.graph_number is None:
                continue
            existing = observed.phones.get(u.upn, {}).get("mobile")
            number = phone.graph_number
            shown = words.phone(phone.number or number)  # one format on every screen
            if existing is None:
                b.add(
                    "phone_method", "create", u.upn, PhoneCreate(uid(u.upn), number),
                    detail=shown, after=(loan_step[phone.asset_tag],),
                )
            elif same_number(existing[1], number):
                b.add("phone_method", "present", u.upn, detail=shown)
            else:
                b.add(
                    "phone_method", "update", u.upn, PhoneUpdate(ours[u.upn], existing[0], number),
                    detail=shown, graph_id=existing[0], after=(loan_step[phone.asset_tag],),
                )

    for a in kit.allocations:
        if a.upn in conflicted:
            continue
        b.add(
            "loan", "present" if a.existing else "create", a.asset_tag,
            LoanCreate(a.kind, a.asset_tag, a.upn), detail=f"{a.kind} → {a.upn}",
        )

    shortages = [
        f"{s.kind}s: {s.needed} needed, {s.available} available "
        f"(none left for {', '.join(s.upns)})"
        for s in kit.shortages
    ]
    left = leaving(observed.strays, observed.taps, leavers)
    plan = Plan("activate", kit.commune_id, [*b.steps, *left.steps], playbook=kit.playbook)
    return ActivationPlan(
        plan=plan,
        strays=sorted(left.left_alone),
        leavers=left.leavers,
        leaver_devices=left.devices,
        left_alone=left.left_alone,
        shortages=shortages,
        sku_id=sku_id,
        free_seats=observed.free_seats,
        seats_needed=seats,
    )


def _memberships(
    b: _Builder,
    kit: DesiredKit,
    observed: Observed,
    conflicted: set[str],
    ours: dict[str, str],
    gid: Id,
    owners_bound: set[str],
    members_bound: set[str],
) -> None:
    g = kit.group
    assert g is not None
    group = observed.group
    current = {"owner": group.owners, "member": group.members} if group else {}
    bound = {"owner": owners_bound, "member": members_bound}
    for role, upns in (("owner", g.owners), ("member", g.members)):
        for upn in upns:
            if upn in conflicted:
                continue
            key = f"{role}:{upn}"
            existing = ours.get(upn)
            if existing is not None and existing in current.get(role, set()):
                b.add("membership", "present", key)
                continue
            member: Id = existing if existing is not None else Ref(f"user:{upn}")
            payload = MembershipAdd(
                group=gid,
                member=member,
                role="owner" if role == "owner" else "member",
                graph_root=kit.graph_root,
                in_group_create=upn in bound[role],
            )
            b.add("membership", "create", key, payload)


def _team(b: _Builder, kit: DesiredKit, observed: Observed, gid: Id, group_step: str) -> None:
    t = kit.team
    assert t is not None
    team_id: Id
    if observed.team_id is not None:
        b.add("team", "present", t.display_name, graph_id=observed.team_id)
        team_id = observed.team_id
    else:
        created: Id | None = (
            observed.group.created
            if observed.group is not None
            else Ref(group_step, "createdDateTime", optional=True)
        )
        payload = TeamCreate(
            group=gid, graph_root=kit.graph_root, deadline_s=kit.readiness.team_s,
            group_created=created,
        )
        s = b.add("team", "create", t.display_name, payload)
        team_id = Ref(s.id)
    for ch in t.channels:
        cid = observed.channels.get(ch.name.lower())
        if cid is not None:
            b.add("channel", "present", ch.name, graph_id=cid)
        else:
            b.add("channel", "create", ch.name, ChannelCreate(team_id, ch.name, ch.description))


def _sharepoint(b: _Builder, kit: DesiredKit, observed: Observed, gid: Id) -> None:
    drive_id: Id
    if observed.drive_id is not None:
        b.add("drive", "present", DRIVE_KEY, graph_id=observed.drive_id)
        drive_id = observed.drive_id
    else:
        s = b.add(
            "drive", "create", DRIVE_KEY, DriveWait(gid, kit.readiness.drive_s),
            detail="wait for the group's site",
        )
        drive_id = Ref(s.id)
    for name in kit.folders:
        fid = observed.folders.get(name.lower())
        if fid is not None:
            b.add("folder", "present", name, graph_id=fid)
        else:
            b.add("folder", "create", name, FolderCreate(drive_id, name))
