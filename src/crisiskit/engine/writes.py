"""The executor's write machinery for declared verbs: creates never duplicate, writes settle.

`create_all` sends a `Create`; an answer that leaves the outcome unknown (5xx, timeout,
dropped connection) or says "already exists" is followed by a lookup by natural key, and the
object is created again only once several consecutive reads found it absent. Every id is
journaled as soon as it is known. `write_all` sends a `Write` (repeatable: an ambiguous answer
is re-sent) and then applies its consistency rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crisiskit.graph import consistency
from crisiskit.graph.consistency import Lookup
from crisiskit.graph.types import GraphResponse
from crisiskit.plan.model import Step
from crisiskit.resources.base import Create, Found, Session, Write

ATTEMPTS = 4  # creates of one object (after confirmed absence)


async def create_all(session: Session, steps: Sequence[Step], spec: Create[Any]) -> None:
    """Create objects, never twice: an uncertain create is looked up before any retry."""
    pending: list[Step] = []
    for s in steps:
        reason = spec.refuse(s.payload)
        if reason:
            session.failed(s, why=reason)
        else:
            pending.append(s)
    for _ in range(ATTEMPTS):
        if not pending:
            return
        answers = await session.settle({s.id: spec.request(s.payload) for s in pending})
        uncertain: list[Step] = []
        with session.journal():
            for s in pending:
                a = answers[s.id]
                values = spec.created(a, s.payload) if a.ok else None
                if values and values.get("id"):
                    session.created(s, str(values["id"]))
                    session.done(s, values=values, request_id=a.request_id)
                elif a.ambiguous or spec.duplicate(a):
                    uncertain.append(s)
                else:
                    session.failed(s, a)
        pending = []
        if not uncertain:
            return
        found = await session.look_up(
            {s.id: Lookup(spec.lookup(s.payload), _parser(spec, s)) for s in uncertain}
        )
        with session.journal():
            for s in uncertain:
                if s.id not in found:
                    session.failed(s, why="outcome unknown (the lookup got no answer); rerun")
                    continue
                hit = found[s.id]
                if hit is None:
                    pending.append(s)
                elif not hit.ours:
                    session.failed(s, why="exists and is not ours: left alone")
                else:
                    session.created(s, hit.id)
                    session.done(
                        s,
                        values={**hit.values, "id": hit.id},
                        detail="found by natural key after an uncertain answer",
                    )
    for s in pending:
        session.failed(s, why="still absent after repeated attempts")


def _parser(spec: Create[Any], s: Step) -> Any:
    def parse(answer: GraphResponse) -> Found | None:
        return spec.found(answer, s.payload)

    return parse


async def write_all(session: Session, steps: Sequence[Step], spec: Write[Any]) -> None:
    """Send writes that repeating cannot duplicate, then confirm them by their rule."""
    answers = await session.settle(
        {s.id: spec.request(s.payload) for s in steps}, retry_ambiguous=True
    )
    accepted: list[Step] = []
    with session.journal():
        for s in steps:
            a = answers[s.id]
            if a.ok or spec.accept(a) or (spec.gone_is_done and a.status == 404):
                accepted.append(s)
            else:
                session.failed(s, a)
    confirmed = {s.id for s in accepted}
    rule = spec.confirm
    if rule is not None and accepted:
        payloads = {s.id: s.payload for s in accepted}
        confirmed = await consistency.confirm(
            session.graph,
            session.clock,
            {s.id: rule.read(s.payload) for s in accepted},
            lambda key, answer: rule.agrees(answer, payloads[key]),
            rules=session.rules,
        )
    with session.journal():
        for s in accepted:
            a = answers[s.id]
            if s.id in confirmed:
                gone = spec.gone_is_done and a.status == 404
                session.done(
                    s, request_id=a.request_id, detail="already gone" if gone else ""
                )
            else:
                assert rule is not None
                session.failed(s, a, rule.unconfirmed)
