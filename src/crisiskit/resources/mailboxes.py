"""Mailbox readiness: a licensed user's Exchange mailbox appears after the licence, within 24 h.

    read:  probe (GET mailboxSettings: 404 MailboxNotEnabledForRESTAPI until it exists)
    wait:  one step per account (kind `mailbox`, action `wait`), after its licence: probed
           together in `$batch`, capped backoff, until each is ready or the documented bound
           (24 h after the licence, `crisiskit.resources.waiting`) has passed: `ready`, else
           `pending` (never a failure: `crisiskit status --wait` or a rerun waits on)

Observation probes once (`crisiskit status` re-checks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from crisiskit.graph.consistency import is_consistency_failure
from crisiskit.graph.types import GraphResponse, Request
from crisiskit.plan.model import Id, Step
from crisiskit.resources.base import Resource, Session, get, ident
from crisiskit.resources.waiting import (
    MAILBOX,
    MAILBOX_BOUND_S,
    MIN_DELAY_S,
    Waiter,
    note,
    parse_time,
)

KIND = "mailbox"
PHASE = "mailboxes"
NOT_READY = "MailboxNotEnabledForRESTAPI"
WAIT = "for Exchange Online to provision the mailboxes"  # told to the operator meanwhile


@dataclass(frozen=True)
class MailboxWait:
    """Wait for the mailbox of `user` (key: its UPN), licensed `since` (ISO; None: now)."""

    user: Id
    upn: str
    bound_s: float = MAILBOX_BOUND_S  # 0: look once (activate --no-wait)
    since: str | None = None


def probe(user_id: str) -> Request:
    """Read mailboxSettings: 404 MailboxNotEnabledForRESTAPI until Exchange has provisioned it."""
    return get(f"/users/{user_id}/mailboxSettings")


def is_ready(answer: GraphResponse) -> bool:
    return answer.status == 200


def _worth_waiting(answer: GraphResponse) -> bool:
    """Not provisioned yet (404 MailboxNotEnabledForRESTAPI). No answer, or a 5xx, was already
    retried by the Graph door: waiting on a service that does not answer is pointless (a rerun
    looks again)."""
    return answer.status == 404 and not is_consistency_failure(answer)


async def wait(session: Session, steps: Sequence[Step]) -> None:
    """Probe every mailbox until it is ready or its bound has passed.

    One `$batch` per look; each mailbox is journaled ready the moment a look sees it, never
    held behind another. A replica that has not seen a new account yet answers a plain 404:
    that mailbox alone is looked at again soon (the consistency rules' backoff), between the
    schedule's looks at all of them, for as long as those rules give a lagging replica
    (`session.rules.deadline_s`, never scaled, past the bound too), then it fails as
    unreadable. (Settling each round instead held every mailbox seen ready behind the slowest
    replica, for up to a minute of consistency backoff; looking again at all of them whenever
    one lagged probed fifty mailboxes every round trip while young accounts lagged.)
    """
    waiters: dict[str, Waiter] = {}
    for s in steps:
        p: MailboxWait = s.payload
        since: datetime | None = parse_time(p.since)
        waiters[s.id] = Waiter(session, MAILBOX, p.bound_s, since)
    todo = {s.id: s for s in steps}
    lagging: dict[str, float] = {}  # step id -> when its plain 404s began (monotonic)
    misses: dict[str, int] = {}  # step id -> its consecutive plain 404s
    # One schedule for the batch, set by the mailbox that may wait longest; each mailbox
    # still stops at its own bound.
    pace = max(waiters.values(), key=lambda w: w.deadline)
    last: GraphResponse | None = None
    cap = MAILBOX.cap_s * session.wait_scale  # never slower than the schedule's pace
    clock = session.clock
    looking = list(todo)  # what this round looks at: all of them, or the lagging ones
    every = True
    full_at = clock.monotonic()  # when the schedule looks at all of them again
    while todo:
        answers = await session.send(
            {k: probe(ident(todo[k].payload.user)) for k in looking if k in todo}
        )
        now = clock.monotonic()
        with session.journal():
            for key, a in answers.items():
                s = todo[key]
                if is_consistency_failure(a):
                    began = lagging.setdefault(key, now)
                    misses[key] = misses.get(key, 0) + 1
                    if now - began <= session.rules.deadline_s:
                        continue  # looked at again soon, past its bound too
                    session.failed(s, a, "mailbox readiness could not be read; rerun")
                    del todo[key]
                    continue
                lagging.pop(key, None)
                misses.pop(key, None)
                if is_ready(a):
                    session.done(s, status="ready", request_id=a.request_id)
                    del todo[key]
                elif not _worth_waiting(a):
                    session.failed(s, a, "mailbox readiness could not be read; rerun")
                    del todo[key]
                elif waiters[key].remaining() <= 0:
                    why = f"mailbox still provisioning ({waiters[key].progress()})"
                    session.pending(s, why)
                    del todo[key]
                else:
                    last = a
        if not todo:
            return
        note(session, KIND, "", PHASE, f"{WAIT} (up to {pace.bound()})")
        if every:
            # Past the last bound, the next full look reports each remaining mailbox pending.
            full_at = now + pace.next_delay(last)
        hidden = [k for k in answers if k in misses]
        if hidden:
            # A replica lagging: look again soon at what it hid, with the consistency rules'
            # capped backoff (unscaled, from the freshest lag), as `settle` would, without
            # holding the others or looking at them before the schedule does.
            rules = session.rules
            delay = rules.first_delay_s * rules.factor ** (min(misses[k] for k in hidden) - 1)
            delay = max(MIN_DELAY_S, min(delay, rules.max_delay_s, cap))
            if now + delay < full_at:
                await clock.sleep(delay)
                looking, every = hidden, False
                continue
            await clock.sleep(max(delay, full_at - clock.monotonic()))
        else:
            await clock.sleep(max(0.0, full_at - clock.monotonic()))
        looking, every = list(todo), True


RESOURCE = Resource(KIND, {"wait": wait})
