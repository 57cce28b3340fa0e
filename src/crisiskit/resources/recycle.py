"""Permanent deletion from `directory/deletedItems` (the `purge` verb of users and groups).

    GET    /directory/deletedItems/{id}      wait until the deleted object is listed there
    DELETE /directory/deletedItems/{id}      204: gone for good; then N consecutive 404s
           403 Authorization_RequestDenied   the token may not purge it: kept by the service

A soft-deleted object reaches deletedItems after a lag (GRAPH.md, "Eventual consistency"), so
a 404 on the DELETE right after the delete does not mean "purged": the object must first be
seen listed, then deleted, then read as absent several times in a row. Permanently deleting a
deleted *group* is not supported with application permissions
(directory-deleteditems-delete.md): the 403 is reported as a fact, with the date the service
purges it by itself (30 days after its deletion), never as a failure, and never retried by
a later run (the journal says it was refused).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from crisiskit.graph.types import GraphResponse, Request
from crisiskit.plan.model import Step
from crisiskit.resources.base import Session, get, ident

RETENTION = timedelta(days=30)  # deleted users and Microsoft 365 groups (GRAPH.md)
RETAINED = "retained by the service"


def _item(p: Any) -> str:
    """Return the deletedItems URL of a `UserTarget` or `GroupTarget` (the id is unchanged)."""
    target = p.user if hasattr(p, "user") else p.group
    return f"/directory/deletedItems/{ident(target)}"


def retained_until(answer: GraphResponse, fallback: datetime) -> datetime:
    """Return when the service purges a deleted object: its deletedDateTime + 30 days."""
    raw = answer.json().get("deletedDateTime") if answer.status == 200 else None
    try:
        deleted = datetime.fromisoformat(str(raw).replace("Z", "+00:00")) if raw else fallback
    except ValueError:
        deleted = fallback
    return deleted + RETENTION


async def _listed(session: Session, steps: Sequence[Step]) -> dict[str, GraphResponse]:
    """Read each object in deletedItems until it is listed there, under the lookup deadline."""
    rules, clock = session.rules, session.clock
    deadline = clock.monotonic() + rules.lookup_deadline_s
    todo = {s.id: s for s in steps}
    seen: dict[str, GraphResponse] = {}
    while todo:
        answers = await session.send({k: get(_item(s.payload)) for k, s in todo.items()})
        for key, answer in answers.items():
            if answer.status == 200:
                seen[key] = answer
                del todo[key]
        if not todo or clock.monotonic() + rules.absent_spacing_s > deadline:
            break
        await clock.sleep(rules.absent_spacing_s)
    return seen


async def purge(session: Session, steps: Sequence[Step]) -> None:
    """Purge deleted objects (see the module docstring); report each step once."""
    listed = await _listed(session, steps)
    with session.journal():
        for s in steps:
            if s.id not in listed:
                session.failed(s, why="not listed in deletedItems yet; rerun to purge it")
    ready = [s for s in steps if s.id in listed]
    if not ready:
        return
    answers = await session.settle(
        {s.id: Request("DELETE", _item(s.payload)) for s in ready}, retry_ambiguous=True
    )
    purged: list[Step] = []
    with session.journal():
        for s in ready:
            a = answers[s.id]
            if a.status == 403:
                until = retained_until(listed[s.id], session.clock.now())
                session.done(
                    s,
                    values={"retained_until": until.isoformat(timespec="seconds")},
                    request_id=a.request_id,
                    detail=f"{RETAINED} until {until.date().isoformat()} "
                    f"(403 {a.code}: not permitted to this application)",
                )
            elif a.ok or a.status == 404:
                purged.append(s)
            else:
                session.failed(s, a)
    if not purged:
        return
    from crisiskit.graph import consistency

    gone = await consistency.confirm(
        session.graph, session.clock, {s.id: get(_item(s.payload)) for s in purged},
        lambda key, answer: answer.status == 404, rules=session.rules,
    )
    with session.journal():
        for s in purged:
            if s.id in gone:
                session.done(s, request_id=answers[s.id].request_id, detail="purged")
            else:
                session.failed(s, answers[s.id], "purged, but still listed; rerun to confirm")
