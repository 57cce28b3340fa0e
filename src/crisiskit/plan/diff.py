"""Diff the desired kit against the observed tenant: the activation's plan, as data.

Each Step says what happens to one object, by natural key: `create`, `update`, `present`
(nothing to do) or `conflict` (an object holds our natural key but is not ours: activation
refuses and never touches it). Its payload is what will be sent; an id that does not exist
yet is a `Ref` to the step that creates it, so the dependencies are the data flow:

    loans ─────────────────────────────────────────┐
    users ──┬─> licences ──> mailbox waits          │
            ├─> temporary access passes             │
            ├─> phone methods <─────────────────────┘
            └─> group (+ Team, POST /teams) ──┬─> memberships (the rest by PATCH of ≤ 20)
                                              ├─> team wait ──> channels
                                              └─> drive wait ──> folders

The group half lives in `crisiskit.plan.diff_group`. Waits are steps (action `wait`) bounded
by `Bounds`: the kit's readiness (documented bounds), or 0 when the run does not wait.

Accounts leaving the cell (tagged, journaled, off the roster) get their own steps, built by
`crisiskit.plan.leavers` and appended here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crisiskit import words
from crisiskit.plan.activation import ActivationPlan
from crisiskit.plan.builder import PHASES, StepBuilder
from crisiskit.plan.desired import DesiredKit, DesiredUser
from crisiskit.plan.diff_group import DRIVE_KEY, Bounds, TeamPath, memberships, sharepoint, team
from crisiskit.plan.diff_group import group as group_step
from crisiskit.plan.leavers import LeaverFacts, leaving
from crisiskit.plan.model import Id, Plan, Ref
from crisiskit.plan.observe import Observed, ObservedTap
from crisiskit.resources.licences import LicenceAssign
from crisiskit.resources.loans import LoanCreate
from crisiskit.resources.mailboxes import MailboxWait
from crisiskit.resources.phones import PhoneCreate, PhoneUpdate, same_number
from crisiskit.resources.taps import TapCreate
from crisiskit.resources.users import UserCreate, UserUpdate

__all__ = ["DRIVE_KEY", "PHASES", "Bounds", "CredentialState", "diff", "tap_is_present"]


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


def diff(
    kit: DesiredKit,
    observed: Observed,
    credentials: dict[str, CredentialState],
    now: datetime,
    leavers: LeaverFacts | None = None,
    *,
    wait: bool = True,
    team_path: TeamPath = "scratch",
) -> ActivationPlan:
    """Compare desired with observed and return the activation's plan (pure: no I/O).

    `leavers`: what the journal says of the commune's accounts; with it, tagged accounts no
    longer on the roster are leaving (crisiskit.plan.leavers), without it they are left alone.
    `wait=False` (activate --no-wait): every wait looks once. `team_path="group"` creates
    the group by POST /groups and its Team from it, as crisiskit did before (benchmarks).
    """
    r = kit.readiness
    bounds = Bounds(r.mailbox_s, r.team_s, r.drive_s) if wait else Bounds(0.0, 0.0, 0.0)
    b = StepBuilder()
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

    licensed: dict[str, str] = {}  # upn -> the step after which its mailbox is waited for
    if kit.licence_mode == "direct":
        for u in wanted:
            o = observed.users.get(u.upn)
            if o is not None and sku_id is not None and sku_id in o.sku_ids:
                b.add("licence", "present", u.upn, detail=kit.sku_part_number)
                continue
            seats += 1
            assign = LicenceAssign(
                target=uid(u.upn), target_kind="user", sku_id=sku_id or "",
                sku=kit.sku_part_number,
            )
            licensed[u.upn] = b.add(
                "licence", "create", u.upn, assign, detail=kit.sku_part_number
            ).id

    gp = None
    if kit.group is not None:
        gp = group_step(b, kit, observed, conflicted, uid, team_path)
        group = observed.group
        if kit.licence_mode == "group" and gp is not None:
            if group is not None and sku_id in group.sku_ids:
                b.add("licence", "present", kit.group.mail_nickname, detail=kit.sku_part_number)
            else:
                seats += sum(
                    1
                    for u in wanted
                    if not (u.upn in observed.users and sku_id in observed.users[u.upn].sku_ids)
                )
                group_licence = LicenceAssign(
                    target=gp.gid, target_kind="group", sku_id=sku_id or "",
                    sku=kit.sku_part_number,
                )
                step_id = b.add(
                    "licence", "create", kit.group.mail_nickname, group_licence,
                    detail=kit.sku_part_number,
                ).id
                licensed.update({u.upn: step_id for u in wanted})
        if gp is not None:
            memberships(b, kit, observed, conflicted, ours, gp)
            if kit.team is not None:
                team(b, kit, observed, gp, bounds)
            if kit.folders:
                sharepoint(b, kit, observed, gp, bounds)

    _mailboxes(b, kit, observed, wanted, ours, licensed, bounds)
    # Shown (and journaled) with the licences they follow.
    waits = [s for s in b.steps if s.kind == "mailbox"]
    rest = [s for s in b.steps if s.kind != "mailbox"]
    last = max((n for n, s in enumerate(rest) if s.kind == "licence"), default=len(rest) - 1)
    b.steps = rest[: last + 1] + waits + rest[last + 1 :]

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


def _mailboxes(
    b: StepBuilder,
    kit: DesiredKit,
    observed: Observed,
    wanted: list[DesiredUser],
    ours: dict[str, str],
    licensed: dict[str, str],
    bounds: Bounds,
) -> None:
    """Wait for the mailbox of every account licensed now, or licensed and not ready yet."""
    for u in wanted:
        after = licensed.get(u.upn)
        if after is None and (u.upn not in ours or observed.mailboxes.get(u.upn)):
            continue  # not ours (yet), or its mailbox is ready
        if after is None and not _licensed(observed, u.upn):
            continue  # no licence to wait on (a group licence that is not ours)
        user: Id = ours[u.upn] if u.upn in ours else Ref(f"user:{u.upn}")
        since = None if after is not None else observed.licensed_at.get(u.upn)
        b.add(
            "mailbox", "wait", u.upn, MailboxWait(user, u.upn, bounds.mailbox_s, since),
            after=(after,) if after else (),
        )


def _licensed(observed: Observed, upn: str) -> bool:
    o = observed.users.get(upn)
    return o is not None and observed.sku_id is not None and observed.sku_id in o.sku_ids
