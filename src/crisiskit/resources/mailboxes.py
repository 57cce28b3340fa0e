"""Mailbox readiness: a licensed user's Exchange mailbox appears minutes later, undocumented when.

    read:  probe (GET mailboxSettings: 404 MailboxNotEnabledForRESTAPI until it exists)
    wait:  wait_ready(...): poll with capped backoff under a deadline; a slow mailbox is
           reported as still provisioning, never as a failure

Readiness is the consistency rule of an Exchange licence: `crisiskit.resources.licences`
waits with it after assigning one. Observation probes once (`crisiskit status` re-checks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crisiskit.graph.types import GraphResponse, Request
from crisiskit.plan.model import Id
from crisiskit.resources.base import Session, get, ident

KIND = "mailbox"
NOT_READY = "MailboxNotEnabledForRESTAPI"
FIRST_DELAY_S = 0.5
MAX_DELAY_S = 15.0
WAIT = "for Exchange Online to provision the mailboxes"  # told to the operator meanwhile


@dataclass(frozen=True)
class Mailbox:
    """One mailbox to wait for: the account's UPN (its key) and the user's id."""

    upn: str
    user: Id | None  # None: the account does not exist (its creation failed)


def probe(user_id: str) -> Request:
    """Read mailboxSettings: 404 MailboxNotEnabledForRESTAPI until Exchange has provisioned it."""
    return get(f"/users/{user_id}/mailboxSettings")


def is_ready(answer: GraphResponse) -> bool:
    return answer.status == 200


@dataclass
class Readiness:
    ready: list[str]
    pending: list[str]  # still provisioning when the deadline came
    unknown: list[str]  # an answer that waiting will not change


async def wait_ready(session: Session, mailboxes: Sequence[Mailbox], budget_s: float) -> Readiness:
    """Probe the mailboxes until each is ready or `budget_s` is spent (0: look once)."""
    deadline = session.clock.monotonic() + budget_s
    out = Readiness([], [], [])
    pending = {m.upn: ident(m.user) for m in mailboxes if m.user is not None}
    delay = FIRST_DELAY_S
    while pending:
        answers = await session.send({upn: probe(uid) for upn, uid in pending.items()})
        still: dict[str, str] = {}
        for upn, uid in pending.items():
            a = answers[upn]
            if is_ready(a):
                out.ready.append(upn)
                session.event(KIND, upn, "ready", phase="mailboxes", journal=False)
            elif a.status == 404 or a.status >= 500 or a.status == 429:
                still[upn] = uid
            else:
                out.unknown.append(upn)
        pending = still
        if not pending or session.clock.monotonic() + delay > deadline:
            break
        session.event(KIND, "", "waiting", phase="mailboxes", journal=False, detail=WAIT)
        await session.clock.sleep(delay)
        delay = min(delay * 2, MAX_DELAY_S)
    out.pending.extend(pending)
    if out.unknown:
        session.warn(f"mailbox readiness could not be checked for {len(out.unknown)} account(s)")
    for upn in [*out.unknown, *out.pending]:
        session.event(KIND, upn, "still provisioning", phase="mailboxes")
    return out
