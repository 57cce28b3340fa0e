"""People leaving the crisis cell: the activation's steps for accounts no longer on the roster.

The roster stays declarative: a person removed from the commune's roster in the inventory is
*leaving*, and the next activation plans, for that account only,

    user disable ──> user revoke      accountEnabled false, then revokeSignInSessions
    tap delete                        every Temporary Access Pass it still has
    loan delete                       each device lent to it, closed and held `to_wipe`

and never deletes it: until teardown, its mailbox and files are the commune's data. Its
licence and its membership of the crisis group stay too (the mailbox lives on the licence).

Only an account that carries the commune's tag AND that crisiskit's journal of created
objects knows (with the same id) is touched. A tagged account the journal does not know, or
one still on the roster but not provisioned by the playbook in use, is listed and left alone.
Once left, the account is reported `present` (disabled, sessions revoked, nothing of the kit
left with it): a rerun makes no write.

Pure: the facts read from the local state come in a `LeaverFacts` (crisiskit.engine.leaving).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from crisiskit.plan.desired import OpenLoan
from crisiskit.plan.model import Step, step
from crisiskit.resources.loans import Hold, LoanReturn
from crisiskit.resources.taps import ObservedTap, TapTarget
from crisiskit.resources.users import ObservedUser, UserTarget

PHASE = "leavers"
HOLD: Hold = "to_wipe"


@dataclass(frozen=True)
class LeaverFacts:
    """What the local state says about the commune's accounts (read by the engine)."""

    journaled: Mapping[str, str]  # lower-case UPN -> id of the accounts crisiskit created
    roster: frozenset[str]  # every UPN on the commune's roster, whatever the playbook provisions
    loans: Sequence[OpenLoan] = ()  # the commune's open loans
    revoked: frozenset[str] = frozenset()  # sessions revoked since the account last changed


@dataclass
class Leaving:
    """The leavers' steps, who is leaving (or has left), and who is left alone and why."""

    steps: list[Step] = field(default_factory=list)
    leavers: list[str] = field(default_factory=list)
    devices: dict[str, list[str]] = field(default_factory=dict)  # leaver -> asset tags back
    left_alone: dict[str, str] = field(default_factory=dict)


NOT_CONSULTED = "the journal of created objects was not consulted"


def candidates(strays: Sequence[ObservedUser], facts: LeaverFacts) -> list[ObservedUser]:
    """Return the tagged accounts that are leavers: journaled with this id, off the roster."""
    return [
        s for s in strays
        if s.upn not in facts.roster and facts.journaled.get(s.upn) == s.id
    ]


def why_left_alone(stray: ObservedUser, facts: LeaverFacts | None) -> str | None:
    """Return why a tagged account that is not desired is not touched (None: it is leaving)."""
    if facts is None:
        return NOT_CONSULTED
    if stray.upn in facts.roster:
        return "on the roster, not provisioned by this playbook"
    known = facts.journaled.get(stray.upn)
    if known is None:
        return "tagged for this commune, but not in crisiskit's journal of created objects"
    if known != stray.id:
        return "tagged for this commune, but not the account crisiskit journaled (another id)"
    return None


def leaving(
    strays: Sequence[ObservedUser],
    taps: Mapping[str, Sequence[ObservedTap]],
    facts: LeaverFacts | None,
) -> Leaving:
    """Return the steps of every leaver, and the tagged accounts left alone (pure)."""
    out = Leaving()
    for stray in sorted(strays, key=lambda s: s.upn):
        reason = why_left_alone(stray, facts)
        if reason is not None:
            out.left_alone[stray.upn] = reason
            continue
        assert facts is not None
        out.leavers.append(stray.upn)
        out.devices[stray.upn] = sorted(lo.asset_tag for lo in facts.loans if lo.upn == stray.upn)
        out.steps.extend(_leaver_steps(stray, taps.get(stray.upn, ()), facts))
    return out


def _leaver_steps(
    user: ObservedUser, passes: Sequence[ObservedTap], facts: LeaverFacts
) -> list[Step]:
    upn, target = user.upn, UserTarget(user.id)
    steps: list[Step] = []
    if user.account_enabled:
        disable = step(
            "user", "disable", upn, target, detail="leaving: block sign-in (kept until teardown)",
            graph_id=user.id, phase=PHASE, id=f"user:{upn}:disable",
        )
        steps.append(disable)
        steps.append(
            step("user", "revoke", upn, target, after=(disable.id,),
                 detail="leaving: revoke sign-in sessions", graph_id=user.id, phase=PHASE,
                 id=f"user:{upn}:revoke")
        )
    elif upn not in facts.revoked:
        steps.append(
            step("user", "revoke", upn, target, detail="leaving: revoke sign-in sessions",
                 graph_id=user.id, phase=PHASE, id=f"user:{upn}:revoke")
        )
    for tap in passes:
        steps.append(
            step("tap", "delete", upn, TapTarget(user.id, tap.id),
                 detail="leaving: remove the pass", graph_id=tap.id, phase=PHASE,
                 id=f"tap:{upn}:delete:{tap.id}")
        )
    for loan in sorted(facts.loans, key=lambda lo: lo.asset_tag):
        if loan.upn != upn:
            continue
        steps.append(
            step("loan", "delete", loan.asset_tag,
                 LoanReturn(loan.asset_tag, HOLD, reason=f"back from {upn} (left the cell)"),
                 detail=f"leaving: {loan.kind} back from {upn}, to wipe", phase=PHASE,
                 id=f"loan:{loan.asset_tag}:return")
        )
    if not steps:
        steps.append(
            step("user", "present", upn, detail="left the cell: disabled, sessions revoked, "
                 "no pass, no device (kept until teardown)", graph_id=user.id, phase=PHASE,
                 id=f"user:{upn}:left")
        )
    return steps
