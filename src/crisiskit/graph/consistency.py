"""Entra ID's eventual consistency, as rules every verb applies (GRAPH.md, "Eventual consistency").

    is_consistency_failure(answer)   the directory has not caught up with a recent write
    settle(...)                      re-send what hit eventual consistency, capped backoff,
                                     under a deadline (and ambiguous repeatable writes)
    look_up(...)                     find objects by natural key after an uncertain write;
                                     absent only after several consecutive empty reads
    confirm(...)                     N consecutive reads that agree, a few seconds apart
    is_gone(answer)                  a 404 after a delete means gone (confirmed by `confirm`
                                     seeing it N times in a row)

Replication lag is a property of the service, not of the documented waits a rehearsal may
scale down: these rules are never scaled, only bounded by attempts and deadlines. Every wait
goes through the `Clock` it is given.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from crisiskit.clock import Clock
from crisiskit.graph.types import GraphResponse, Request

if TYPE_CHECKING:
    from crisiskit.graph.client import Graph

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

# 404s that are the service's answer, not a replica lagging: a mailbox not provisioned yet
# (`MailboxNotEnabledForRESTAPI`) and a drive item that is not there (`itemNotFound`).
SETTLED_404 = frozenset({"MailboxNotEnabledForRESTAPI", "itemNotFound"})


@dataclass(frozen=True)
class Consistency:
    """How long, how often and how many times to wait for the directory to agree."""

    # Re-sending a request that met a replica lagging behind a new object (GRAPH.md; Entra's
    # support article "404 error when managing objects using Microsoft Graph": the request
    # "might connect to a replica that hasn't yet been updated"; its solution: "wait some time
    # and retry ... If the 404 error still occurs after retrying, double your waiting time").
    # Each request reaches a replica of its own, so the first re-send comes after about one
    # round trip, then each wait doubles, capped: 0.02, 0.04, ... 1.28, then 2 s. The early
    # re-sends are where the time went (50 licences: 6 to 8 sends for some, their mailboxes'
    # clocks waiting on the last one); the patience is not shorter: the 15th send is 16.5 s
    # after the first (14.9 s with the former 0.1 s × 1.5 over 14 sends), under the deadline.
    attempts: int = 15  # sends of one request that keeps hitting eventual consistency
    first_delay_s: float = 0.02
    factor: float = 2.0
    max_delay_s: float = 2.0
    deadline_s: float = 60.0
    absent_reads: int = 3  # consecutive empty lookups before "it was not created"
    absent_spacing_s: float = 1.0  # between them (a replica may lag behind the write)
    lookup_deadline_s: float = 60.0
    agree_reads: int = 3  # consecutive reads that agree (terraform-provider-azuread)
    agree_spacing_s: float = 1.0
    agree_deadline_s: float = 120.0


RULES = Consistency()


def is_gone(answer: GraphResponse) -> bool:
    """Tell whether a read of a deleted object says it is gone: a 404, nothing else."""
    return answer.status == 404


def is_consistency_failure(answer: GraphResponse) -> bool:
    """Tell whether an error is the directory not having caught up with a recent write."""
    if answer.ambiguous:
        return False
    text = answer.message.lower()
    if answer.status == 404 and answer.code not in SETTLED_404:
        return True
    if answer.status == 400 and ("does not exist" in text or "do not exist" in text):
        return True
    return answer.status == 409 and answer.code == "Directory_ConcurrencyViolation"


async def settle(
    graph: Graph,
    clock: Clock,
    requests: Mapping[K, Request],
    *,
    retry_ambiguous: bool = False,
    rules: Consistency = RULES,
) -> dict[K, GraphResponse]:
    """Send requests; re-send those that hit eventual consistency, with capped backoff.

    With `retry_ambiguous`, an ambiguous answer is re-sent too: only for requests whose
    repetition cannot duplicate anything (assignLicense, PATCH of properties, DELETE).
    """
    pending = dict(requests)
    answers: dict[K, GraphResponse] = {}
    deadline = clock.monotonic() + rules.deadline_s
    delay = rules.first_delay_s
    for attempt in range(rules.attempts):
        got = await graph.send(pending)
        answers.update(got)
        pending = {
            k: r
            for k, r in pending.items()
            if is_consistency_failure(got[k]) or (retry_ambiguous and got[k].ambiguous)
        }
        if not pending or attempt == rules.attempts - 1:
            break
        if clock.monotonic() + delay > deadline:
            break
        await clock.sleep(delay)
        delay = min(delay * rules.factor, rules.max_delay_s)
    return answers


@dataclass(frozen=True)
class Lookup(Generic[T]):
    """How to find one object by natural key: the read, and what a 200 says (None: absent)."""

    request: Request
    parse: Callable[[GraphResponse], T | None]


async def look_up(
    graph: Graph,
    clock: Clock,
    lookups: Mapping[K, Lookup[T]],
    *,
    rules: Consistency = RULES,
) -> dict[K, T | None]:
    """Find objects by natural key; absent only after several consecutive empty reads.

    The answer maps a key to what `parse` found, or to None when confirmed absent; a key
    missing from it could not be settled (no usable answer, deadline): its outcome is unknown,
    and an unknown object is never created again blind.
    """
    result: dict[K, T | None] = {}
    empty: Counter[K] = Counter()
    todo = dict(lookups)
    deadline = clock.monotonic() + rules.lookup_deadline_s
    while todo:
        answers = await graph.send({k: lk.request for k, lk in todo.items()})
        still: dict[K, Lookup[T]] = {}
        for key, lk in todo.items():
            answer = answers[key]
            found = lk.parse(answer) if answer.status == 200 else None
            if found is not None:
                result[key] = found
                continue
            if answer.status not in (200, 404):
                # No usable answer even after the Graph door's own retries.
                continue
            empty[key] += 1
            if empty[key] >= rules.absent_reads:
                result[key] = None
            else:
                still[key] = lk
        todo = still
        if todo:
            if clock.monotonic() >= deadline:
                break
            await clock.sleep(rules.absent_spacing_s)
    return result


async def confirm(
    graph: Graph,
    clock: Clock,
    reads: Mapping[K, Request],
    agrees: Callable[[K, GraphResponse], bool],
    *,
    rules: Consistency = RULES,
) -> set[K]:
    """Read until each object gives `agree_reads` consecutive answers that agree.

    A read that disagrees starts the count again. Return the keys confirmed before the
    deadline; the others are still inconsistent (the caller says so, it does not guess).
    """
    streak: Counter[K] = Counter()
    done: set[K] = set()
    todo = dict(reads)
    deadline = clock.monotonic() + rules.agree_deadline_s
    while todo:
        answers = await graph.send(todo)
        for key in list(todo):
            if agrees(key, answers[key]):
                streak[key] += 1
                if streak[key] >= rules.agree_reads:
                    done.add(key)
                    del todo[key]
            else:
                streak[key] = 0
        if not todo or clock.monotonic() + rules.agree_spacing_s > deadline:
            break
        await clock.sleep(rules.agree_spacing_s)
    return done
