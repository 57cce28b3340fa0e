"""Diff the desired kit against the observed tenant: an ordered, JSON-able Plan of Steps.

A Step says what would happen to one object, by natural key: `create`, `update`, `present`
(nothing to do) or `conflict` (an object holds our natural key but is not ours: activation
refuses and never touches it). The plan is empty when every step is `present`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

from crisiskit.plan.desired import DesiredKit
from crisiskit.plan.observe import Observed, ObservedTap

Kind = Literal[
    "user",
    "licence",
    "group",
    "membership",
    "team",
    "channel",
    "drive",
    "folder",
    "tap",
    "phone_method",
    "loan",
]
Action = Literal["create", "update", "present", "conflict"]

KINDS: tuple[str, ...] = get_args(Kind)


@dataclass(frozen=True)
class Step:
    """One object of the kit and what the activation would do with it."""

    kind: Kind
    action: Action
    key: str
    detail: str = ""
    graph_id: str | None = None


@dataclass(frozen=True)
class CredentialState:
    """A row of the credentials file as the diff needs it (no secret)."""

    upn: str
    valid_from: datetime
    valid_until: datetime


@dataclass
class Plan:
    """The ordered steps of one activation, with counts by kind and action."""

    commune: str
    playbook: str
    steps: list[Step]
    strays: list[str] = field(default_factory=list)  # tagged accounts no longer in the roster
    shortages: list[str] = field(default_factory=list)
    sku_id: str | None = None
    free_seats: int = 0
    seats_needed: int = 0
    refusals: list[str] = field(default_factory=list)  # why `activate` would refuse it

    @property
    def empty(self) -> bool:
        return all(s.action == "present" for s in self.steps)

    @property
    def conflicts(self) -> list[Step]:
        return [s for s in self.steps if s.action == "conflict"]

    def of(self, kind: str, *actions: str) -> list[Step]:
        """Return the steps of one kind, optionally only those with one of these actions."""
        return [s for s in self.steps if s.kind == kind and (not actions or s.action in actions)]

    def counts(self) -> dict[str, dict[str, int]]:
        """Count steps by kind then action, kinds in execution order."""
        c: dict[str, Counter[str]] = {}
        for s in self.steps:
            c.setdefault(s.kind, Counter())[s.action] += 1
        return {k: dict(sorted(c[k].items())) for k in KINDS if k in c}

    def to_json(self) -> dict[str, Any]:
        return {
            "commune": self.commune,
            "playbook": self.playbook,
            "empty": self.empty,
            "counts": self.counts(),
            "steps": [asdict(s) for s in self.steps],
            "strays": list(self.strays),
            "shortages": list(self.shortages),
            "refusals": list(self.refusals),
            "licences": {
                "sku_id": self.sku_id,
                "free_seats": self.free_seats,
                "needed": self.seats_needed,
            },
        }


def _same_number(a: str, b: str) -> bool:
    return a.replace(" ", "") == b.replace(" ", "")


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


def tap_is_present(
    observed: Observed, upn: str, credentials: dict[str, CredentialState], now: datetime
) -> tuple[bool, str]:
    """Tell whether a usable pass exists AND its secret is in the credentials file, still valid.

    A disabled account's pass reads `isUsable: false` until the account is enabled again; the
    plan re-enables it, so such a pass counts as usable while its lifetime lasts.
    """
    user = observed.users.get(upn)
    disabled = user is not None and not user.account_enabled
    taps = [
        t for t in observed.taps.get(upn, []) if t.usable or (disabled and _lasts(t, now))
    ]
    row = credentials.get(upn)
    if not taps:
        return False, "issue" if row is None else "reissue (no usable pass in the tenant)"
    if row is None:
        return False, "reissue (previous pass not in the credentials file)"
    if row.valid_until <= now:
        return False, "reissue (the pass in the credentials file has expired)"
    starts = [_parse_time(t.start) for t in taps]
    if any(s is not None for s in starts) and not any(
        s is not None and abs(s - row.valid_from) <= timedelta(seconds=5) for s in starts
    ):
        return False, "reissue (the tenant's pass is not the one in the credentials file)"
    return True, ""


def diff(
    kit: DesiredKit,
    observed: Observed,
    credentials: dict[str, CredentialState],
    now: datetime,
) -> Plan:
    """Compare desired with observed and return the plan (pure: no I/O)."""
    steps: list[Step] = []
    ours: dict[str, str] = {}  # upn -> id of accounts that are ours
    seats = 0
    sku_id = observed.sku_id
    for u in kit.users:
        o = observed.users.get(u.upn)
        if o is None:
            steps.append(Step("user", "create", u.upn, u.display_name))
            continue
        if o.tag != kit.commune_id:
            owner = f"tagged for {o.tag!r}" if o.tag else "not created by crisiskit"
            steps.append(Step("user", "conflict", u.upn, f"an account exists, {owner}", o.id))
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
            steps.append(Step("user", "update", u.upn, ", ".join(changes), o.id))
        else:
            steps.append(Step("user", "present", u.upn, "", o.id))
    conflicted = {s.key for s in steps if s.action == "conflict"}

    if kit.licence_mode == "direct":
        for u in kit.users:
            if u.upn in conflicted:
                continue
            o = observed.users.get(u.upn)
            if o is not None and sku_id is not None and sku_id in o.sku_ids:
                steps.append(Step("licence", "present", u.upn, kit.sku_part_number))
            else:
                seats += 1
                steps.append(Step("licence", "create", u.upn, kit.sku_part_number))

    group = observed.group
    group_ours = group is not None and group.tag == kit.commune_id
    if kit.group is not None:
        g = kit.group
        if group is None:
            steps.append(Step("group", "create", g.mail_nickname, g.display_name))
        elif not group_ours:
            owner = f"tagged for {group.tag!r}" if group.tag else "not created by crisiskit"
            steps.append(
                Step("group", "conflict", g.mail_nickname, f"a group exists, {owner}", group.id)
            )
        else:
            steps.append(Step("group", "present", g.mail_nickname, g.display_name, group.id))
        if kit.licence_mode == "group":
            if group_ours and group is not None and sku_id in group.sku_ids:
                steps.append(Step("licence", "present", g.mail_nickname, kit.sku_part_number))
            else:
                seats += sum(
                    1
                    for u in kit.users
                    if u.upn not in conflicted
                    and not (u.upn in observed.users and sku_id in observed.users[u.upn].sku_ids)
                )
                steps.append(Step("licence", "create", g.mail_nickname, kit.sku_part_number))
        if group is None or group_ours:
            members = group.members if group is not None else set()
            owners = group.owners if group is not None else set()
            for upn in g.owners:
                if upn in conflicted:
                    continue
                uid = ours.get(upn)
                action: Action = "present" if uid is not None and uid in owners else "create"
                steps.append(Step("membership", action, f"owner:{upn}"))
            for upn in g.members:
                if upn in conflicted:
                    continue
                uid = ours.get(upn)
                action = "present" if uid is not None and uid in members else "create"
                steps.append(Step("membership", action, f"member:{upn}"))
            if kit.team is not None:
                t = kit.team
                if observed.team_id is not None:
                    steps.append(Step("team", "present", t.display_name, "", observed.team_id))
                else:
                    steps.append(Step("team", "create", t.display_name))
                for ch in t.channels:
                    cid = observed.channels.get(ch.name.lower())
                    if cid is not None:
                        steps.append(Step("channel", "present", ch.name, "", cid))
                    else:
                        steps.append(Step("channel", "create", ch.name))
            if kit.folders:
                if observed.drive_id is not None:
                    steps.append(Step("drive", "present", "Documents", "", observed.drive_id))
                else:
                    steps.append(
                        Step("drive", "create", "Documents", "wait for the group's site")
                    )
                for name in kit.folders:
                    fid = observed.folders.get(name.lower())
                    if fid is not None:
                        steps.append(Step("folder", "present", name, "", fid))
                    else:
                        steps.append(Step("folder", "create", name))

    for u in kit.users:
        if u.upn in conflicted:
            continue
        present, why = tap_is_present(observed, u.upn, credentials, now)
        if present:
            steps.append(Step("tap", "present", u.upn))
        else:
            steps.append(Step("tap", "create", u.upn, why))

    if kit.register_phone:
        for u in kit.users:
            phone = kit.phone_for(u.upn)
            if u.upn in conflicted or phone is None or phone.graph_number is None:
                continue
            existing = observed.phones.get(u.upn, {}).get("mobile")
            if existing is None:
                steps.append(Step("phone_method", "create", u.upn, phone.graph_number))
            elif _same_number(existing[1], phone.graph_number):
                steps.append(Step("phone_method", "present", u.upn, phone.graph_number))
            else:
                steps.append(
                    Step("phone_method", "update", u.upn, phone.graph_number, existing[0])
                )

    for a in kit.allocations:
        if a.upn in conflicted:
            continue
        steps.append(
            Step("loan", "present" if a.existing else "create", a.asset_tag, f"{a.kind} → {a.upn}")
        )

    shortages = [
        f"{s.kind}s: {s.needed} needed, {s.available} available "
        f"(none left for {', '.join(s.upns)})"
        for s in kit.shortages
    ]
    return Plan(
        commune=kit.commune_id,
        playbook=kit.playbook,
        steps=steps,
        strays=sorted(s.upn for s in observed.strays),
        shortages=shortages,
        sku_id=sku_id,
        free_seats=observed.free_seats,
        seats_needed=seats,
    )
