"""The plan of `credentials reissue`: a new Temporary Access Pass for each account named.

Per account, as data:

    tap delete (each pass the account has)  ──>  tap create (the new pass, its secret to the
                                                 new credentials file the moment it exists)

Graph keeps one usable pass per user; the old one is removed first, explicitly, so that the
plan says what happens to it. Every run issues new passes: a run killed after the delete is
finished by a rerun (no pass: it is issued); a pass created by a run killed before its secret
reached a file is lost, and the rerun says so and replaces it. Refusals (exit 3, nothing
done): an account the tenant does not hold, one that is not the commune's, a disabled one.

Pure: the accounts come observed (`crisiskit.plan.accounts`), the passes on file as
validity windows (`crisiskit.plan.diff.CredentialState`), never as secrets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from crisiskit.plan.accounts import AccountView
from crisiskit.plan.desired import DesiredKit
from crisiskit.plan.diff import CredentialState
from crisiskit.plan.model import Plan, step
from crisiskit.resources.taps import ObservedTap, TapCreate, TapTarget

KIND = "reissue"
PHASE = "credentials"
ON_REQUEST = "on request"
LOST = "the tenant's pass is in no credentials file: an interrupted run lost its secret"


@dataclass
class ReissuePlan:
    """The steps of one reissue, the accounts it serves, and why it would refuse."""

    plan: Plan
    accounts: list[str]
    refusals: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # accounts whose pass on the tenant is lost

    @property
    def commune(self) -> str:
        return self.plan.commune

    @property
    def empty(self) -> bool:
        return self.plan.empty

    def to_json(self) -> dict[str, Any]:
        return {
            **self.plan.to_json(),
            "accounts": list(self.accounts),
            "refusals": list(self.refusals),
            "lost": list(self.lost),
        }


def _start(tap: ObservedTap) -> datetime | None:
    if not tap.start:
        return None
    try:
        moment = datetime.fromisoformat(tap.start.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def on_file(tap: ObservedTap, row: CredentialState | None, journaled: str | None) -> bool:
    """Tell whether the tenant's pass is one whose secret reached a credentials file.

    A pass is journaled (its id, in the journal of created objects) only once its secret is
    saved: the id says it exactly. Without a journal record (state lost), the pass on file
    with the same start time is taken for it.
    """
    if journaled is not None:
        return tap.id == journaled
    start = _start(tap)
    return row is not None and start is not None and abs(start - row.valid_from) <= timedelta(
        seconds=5
    )


def reissue_plan(
    kit: DesiredKit,
    views: Mapping[str, AccountView],
    credentials: Mapping[str, CredentialState],
    upns: Sequence[str],
    journaled: Mapping[str, str] | None = None,
) -> ReissuePlan:
    """Return the reissue's plan for the accounts `upns` (lower-case, the kit's).

    `journaled`: the id of each account's last pass whose secret was saved (the journal).
    """
    journaled = journaled or {}
    steps = []
    refusals: list[str] = []
    lost: list[str] = []
    for upn in upns:
        view = views[upn]
        user = view.user
        if user is None:
            refusals.append(f"account {upn} does not exist in the tenant: activate first")
            continue
        if not view.ours:
            owner = f"tagged for {user.tag!r}" if user.tag else "not created by crisiskit"
            refusals.append(f"account {upn} is {owner} (crisiskit will not touch it)")
            continue
        if not user.account_enabled:
            refusals.append(
                f"account {upn} is disabled: a pass could not be used (activate re-enables "
                "an account that is on the roster)"
            )
            continue
        reason = ON_REQUEST
        if view.taps and not any(
            on_file(t, credentials.get(upn), journaled.get(upn)) for t in view.taps
        ):
            reason = f"{ON_REQUEST}; {LOST}"
            lost.append(upn)
        deletes = [
            step("tap", "delete", upn, TapTarget(user.id, t.id), detail="the current pass",
                 graph_id=t.id, phase=PHASE, id=f"tap:{upn}:delete:{t.id}")
            for t in view.taps
        ]
        steps.extend(deletes)
        desired = kit.user(upn)
        create = TapCreate(
            user=user.id,
            upn=upn,
            display_name=desired.display_name,
            lifetime_minutes=kit.tap_lifetime_minutes,
            usable_once=kit.tap_usable_once,
            reissue=reason,
        )
        steps.append(
            step("tap", "create", upn, create, after=tuple(d.id for d in deletes),
                 detail=f"new pass, {reason}", phase=PHASE)
        )
    plan = Plan(KIND, kit.commune_id, steps, playbook=kit.playbook)
    return ReissuePlan(plan, list(upns), refusals, lost)
