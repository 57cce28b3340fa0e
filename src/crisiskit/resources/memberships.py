"""Group memberships: natural key `owner:<upn>` or `member:<upn>`.

    read:    members / owners (ids, every page)
    create:  bound in the group's create (nothing to send), owners by `POST owners/$ref` one
             at a time, members by `PATCH /groups/{id}` with ≤ 20 binds (all-or-nothing).
             An uncertain answer is settled by reading the owners or members and adding only
             those still missing, never by re-sending blind.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from crisiskit.graph.types import GraphResponse, Request
from crisiskit.plan.model import Id, Step
from crisiskit.resources.base import Resource, Session, get, ident, patch, post
from crisiskit.resources.groups import MAX_BINDS, bind_url

if TYPE_CHECKING:
    from crisiskit.graph import Graph

KIND = "membership"
ATTEMPTS = 4
RETRY_DELAY_S = 0.1


@dataclass(frozen=True)
class MembershipAdd:
    """Make `member` an owner or a member of `group`.

    `in_group_create`: the bind travels in the group's own create, so once the group exists
    there is nothing left to send.
    """

    group: Id
    member: Id
    role: Literal["owner", "member"]
    graph_root: str
    in_group_create: bool = False


def members(group_id: str) -> Request:
    return get(f"/groups/{group_id}/members?$select=id&$top=999")


def owners(group_id: str) -> Request:
    return get(f"/groups/{group_id}/owners?$select=id&$top=999")


async def all_ids(graph: Graph, answer: GraphResponse) -> set[str]:
    """Return the ids of a members/owners answer, following `@odata.nextLink`."""
    items: list[Any] = list(answer.values())
    link = answer.json().get("@odata.nextLink")
    if link:
        items.extend(await graph.get_all(str(link)))
    return {str(x.get("id")) for x in items if isinstance(x, dict)}


async def add(session: Session, steps: Sequence[Step]) -> None:
    """Add owners then members; bound-in-create ones are done with the group."""
    with session.journal():
        for s in steps:
            if s.payload.in_group_create:
                session.done(s, detail="bound in the group create")
    rest = [s for s in steps if not s.payload.in_group_create]
    by_group: dict[str, list[Step]] = defaultdict(list)
    for s in rest:
        by_group[ident(s.payload.group)].append(s)
    for gid, group_steps in by_group.items():
        owner_steps = [s for s in group_steps if s.payload.role == "owner"]
        member_steps = [s for s in group_steps if s.payload.role == "member"]
        if owner_steps:
            await _add_owners(session, gid, owner_steps)
        if member_steps:
            await _add_members(session, gid, member_steps)


async def _add_owners(session: Session, gid: str, steps: list[Step]) -> None:
    """Add owners one `$ref` at a time; an uncertain add is checked against the owners."""
    missing = list(steps)
    for _ in range(ATTEMPTS):
        reqs = {
            s.id: post(
                f"/groups/{gid}/owners/$ref",
                {"@odata.id": bind_url(s.payload.graph_root, ident(s.payload.member))},
            )
            for s in missing
        }
        answers = await session.settle(reqs)
        unsure: list[Step] = []
        with session.journal():
            for s in missing:
                a = answers[s.id]
                if a.ok or (a.status == 400 and "already exist" in a.message):
                    session.done(s, request_id=a.request_id)
                elif a.ambiguous:
                    unsure.append(s)
                else:
                    session.failed(s, a)
        if not unsure:
            return
        current = (await session.settle({"owners": owners(gid)}))["owners"]
        if current.status != 200:
            missing = unsure
            break
        present = await all_ids(session.graph, current)
        with session.journal():
            for s in unsure:
                if ident(s.payload.member) in present:
                    session.done(s, detail="found among the owners after an uncertain answer")
        missing = [s for s in unsure if ident(s.payload.member) not in present]
        if not missing:
            return
    for s in missing:
        session.failed(s, why="could not be added")


async def _add_members(session: Session, gid: str, steps: list[Step]) -> None:
    """PATCH members by ≤ 20; after an uncertain or partial answer, read the members."""
    missing = list(steps)
    for _ in range(ATTEMPTS):
        chunks = [missing[i : i + MAX_BINDS] for i in range(0, len(missing), MAX_BINDS)]
        reqs = {
            n: patch(
                f"/groups/{gid}",
                {
                    "members@odata.bind": [
                        bind_url(s.payload.graph_root, ident(s.payload.member)) for s in chunk
                    ]
                },
            )
            for n, chunk in enumerate(chunks)
        }
        answers = await session.settle(reqs)
        recheck: list[Step] = []
        with session.journal():
            for n, chunk in enumerate(chunks):
                a = answers[n]
                if a.ok:
                    for s in chunk:
                        session.done(s, request_id=a.request_id)
                elif a.ambiguous or a.status == 400:
                    recheck.extend(chunk)
                else:
                    for s in chunk:
                        session.failed(s, a)
        if not recheck:
            return
        # The PATCH is all-or-nothing but its outcome may be unknown, or some members were
        # already there: read the members and add only those still missing.
        current = (await session.settle({"members": members(gid)}))["members"]
        if current.status != 200:
            missing = recheck
            break
        present = await all_ids(session.graph, current)
        with session.journal():
            for s in recheck:
                if ident(s.payload.member) in present:
                    session.done(s, detail="found in the group after an uncertain answer")
        missing = [s for s in recheck if ident(s.payload.member) not in present]
        if not missing:
            return
        await session.clock.sleep(RETRY_DELAY_S)
    for s in missing:
        session.failed(s, why="could not be added")


RESOURCE = Resource(KIND, {"create": add})
