"""The crisis group created with its Team by one `POST /teams` (team-post.md), then tagged.

    create:  `TeamGroupCreate`: `POST /teams` from scratch, as team-post.md's example 2
             (application permissions): template@odata.bind, displayName, description,
             visibility Private, `members` (aadUserConversationMember: the owners with roles
             ["owner"] — required with application permissions — then members, at most 20 in
             all), `channels` and the member/messaging settings, in one body. No group exists
             before, so no young-group wait applies. 202: the team id (= its group's id) is
             read from `Location` / `Content-Location` and journaled at once; then, before
             anything else is done with it, the group is tagged (`PATCH` of the directory
             extension), then its mailNickname, which Teams derives from the display name, is
             set to the kit's natural key `crisiskit-<commune>` (group-update.md lists
             mailNickname as updatable), so that the kit is observed, refused on a clash and
             torn down by the same key as a group made by `POST /groups`. The step's values
             carry the operation's `Location`, which the Team's wait polls.
             An uncertain answer (5xx, timeout, dropped connection) is settled by lookup:
             groups with this display name created since the request was sent, untagged (or
             tagged for this commune), whose owners are all among the accounts the request
             named. Absent after consecutive empty reads → sent again (at most 4 times); a
             candidate that fails that proof is never adopted: the step fails and says why.
    update:  `GroupAdopt`: tag and name a group a crisiskit run created but did not finish
             (killed between its create and its tag: the id was journaled, or the proof holds).

Before the request is sent, the journal records that it was ("sent"), so that a run killed
before the 202 arrived leaves the next one a reason and a time to look for the group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crisiskit.graph.consistency import Lookup
from crisiskit.graph.types import GraphResponse, Request
from crisiskit.plan.model import Id, Step
from crisiskit.resources.base import Session, ident, patch, post
from crisiskit.resources.groups import by_display_name
from crisiskit.resources.memberships import owners
from crisiskit.resources.teams import SETTINGS, team_id_of
from crisiskit.resources.waiting import parse_time

KIND = "group"
ATTEMPTS = 4  # creates sent, each only after the previous one was confirmed absent
MAX_MEMBERS = 20  # in the create body: reported limit (pnp/powershell#5405), not in the docs
CLOCK_SKEW_S = 300.0  # between this machine's clock and the service's createdDateTime
MEMBER = "#microsoft.graph.aadUserConversationMember"


@dataclass(frozen=True)
class TeamGroupCreate:
    """`POST /teams` from scratch: the group and its Team; then tag it and set its nickname."""

    nickname: str  # the kit's natural key, set once the group is tagged
    display_name: str
    description: str
    tag: str
    commune: str
    graph_root: str  # root of the bind URLs (the tenant's Graph, national clouds included)
    owners: tuple[Id, ...] = ()  # user ids (refs dropped if their user failed)
    members: tuple[Id, ...] = ()  # owners + members ≤ MAX_MEMBERS
    channels: tuple[tuple[str, str], ...] = ()  # (name, description)


@dataclass(frozen=True)
class GroupAdopt:
    """Tag group `group` for `commune` and give it the kit's nickname (an interrupted run's)."""

    group: str
    nickname: str
    tag: str
    commune: str
    why: str  # how crisiskit knows it is its own: "journaled id" or the proof


def _member(graph_root: str, user: str, owner: bool) -> dict[str, Any]:
    return {
        "@odata.type": MEMBER,
        "roles": ["owner"] if owner else [],
        "user@odata.bind": f"{graph_root.rstrip('/')}/users('{user}')",
    }


def create_request(p: TeamGroupCreate) -> Request:
    """Build `POST /teams` from scratch with its owners, members and channels in one body."""
    if len(p.owners) + len(p.members) > MAX_MEMBERS:
        raise ValueError(f"a team create names at most {MAX_MEMBERS} owners and members")
    root = p.graph_root.rstrip("/")
    body: dict[str, Any] = {
        "template@odata.bind": f"{root}/teamsTemplates('standard')",
        "displayName": p.display_name,
        "description": p.description,
        "visibility": "Private",
        "members": [_member(root, ident(u), True) for u in p.owners]
        + [_member(root, ident(u), False) for u in p.members],
        "channels": [{"displayName": n, "description": d} for n, d in p.channels],
        **SETTINGS,
    }
    return post("/teams", body)


def tag_request(group_id: str, tag: str, commune: str) -> Request:
    return patch(f"/groups/{group_id}", {tag: commune})


def nickname_request(group_id: str, nickname: str) -> Request:
    return patch(f"/groups/{group_id}", {"mailNickname": nickname})


async def create(session: Session, steps: Sequence[Step]) -> None:
    for s in steps:
        await _create_one(session, s)


async def _create_one(session: Session, step: Step) -> None:
    p: TeamGroupCreate = step.payload
    if not p.owners:
        # Application permissions need a user in `members` (team-post.md), and the group an
        # owner to be managed later.
        session.failed(step, why="no owner account exists")
        return
    for _ in range(ATTEMPTS):
        sent_at = session.clock.now()
        session.event(KIND, step.key, "sent", phase=step.phase, action="create")
        answer = (await session.send({"team": create_request(p)}))["team"]
        if answer.status == 202:
            gid = team_id_of(answer)
            if gid is None:
                session.failed(step, answer, "202 without a team id in Location; rerun")
                return
            session.created(step, gid)  # before anything else, before any wait
            await _finish(session, step, gid, answer.headers.get("location"), sent_at)
            return
        if not answer.ambiguous:
            session.failed(step, answer)
            return
        found = await _look_up(session, p, sent_at)
        if found is None:
            continue  # confirmed absent: the create did not happen, send it again
        gid, proof = found
        if gid is None:
            session.failed(step, why=proof)
            return
        session.created(step, gid)
        await _finish(session, step, gid, None, sent_at, detail=proof)
        return
    session.failed(step, why="still absent after repeated attempts")


async def _finish(
    session: Session,
    step: Step,
    gid: str,
    location: str | None,
    sent_at: datetime,
    detail: str = "",
) -> None:
    p: TeamGroupCreate = step.payload
    problem = await tag_and_name(session, gid, p.tag, p.commune, p.nickname)
    if problem:
        session.failed(step, why=f"created (id {gid}) but {problem}; a rerun adopts it")
        return
    values: dict[str, Any] = {"id": gid, "createdDateTime": sent_at.isoformat()}
    if location:
        values["operation"] = location
    session.done(step, values=values, detail=detail or "created with its Team (POST /teams)")


async def tag_and_name(
    session: Session, gid: str, tag: str, commune: str, nickname: str
) -> str:
    """Tag the group, then set its nickname; return what failed ("" when both are done).

    The tag goes first and alone: whatever happens to the nickname, the group is then
    recognisably crisiskit's. A PATCH whose answer was lost is sent once more (repeating it
    changes nothing more); a service that does not answer twice is not insisted on: the id
    is journaled, a rerun adopts the group.
    """
    tagged = await _patch(session, tag_request(gid, tag, commune))
    if not tagged.ok:
        return f"not tagged ({_said(tagged)})"
    named = await _patch(session, nickname_request(gid, nickname))
    if not named.ok:
        return f"its mailNickname could not be set ({_said(named)})"
    return ""


async def _patch(session: Session, request: Request) -> GraphResponse:
    answer = (await session.settle({"p": request}))["p"]
    if answer.ambiguous:
        answer = (await session.settle({"p": request}))["p"]
    return answer


def _said(answer: GraphResponse) -> str:
    return f"HTTP {answer.status} {answer.code}".strip() if answer.status else "no answer"


async def _look_up(
    session: Session, p: TeamGroupCreate, sent_at: datetime
) -> tuple[str | None, str] | None:
    """Settle an uncertain create: (id, proof), (None, why not adoptable), or None: absent."""
    since = sent_at - timedelta(seconds=CLOCK_SKEW_S)

    def candidates(answer: GraphResponse) -> list[dict[str, Any]] | None:
        out = [
            g for g in answer.values()
            if g.get("displayName") == p.display_name
            and g.get(p.tag) in (None, p.commune)
            and (parse_time(g.get("createdDateTime")) or since) >= since
        ]
        return out or None

    found = await session.look_up({"g": Lookup(by_display_name(p.display_name, p.tag),
                                               candidates)})
    if "g" not in found:
        return None, "outcome unknown (the lookup got no answer); rerun"
    groups = found["g"]
    if groups is None:
        return None
    named = {ident(u) for u in (*p.owners, *p.members)}
    proven = await prove(session, [str(g["id"]) for g in groups], named)
    if len(proven) == 1:
        return proven[0], "found by display name and owners after an uncertain answer"
    ids = ", ".join(str(g["id"]) for g in groups)
    return None, (
        f"groups named {p.display_name!r} appeared ({ids}) that crisiskit cannot prove are "
        "its own: check their owners and creation time, delete the stray one, rerun"
    )


async def prove(session: Session, group_ids: Sequence[str], accounts: set[str]) -> list[str]:
    """Return the groups whose owners are all among `accounts` (and that have an owner).

    A group just created may list no owner for a moment: an empty list is read again.
    """
    proven: list[str] = []
    todo = list(group_ids)
    for _ in range(session.rules.absent_reads):
        answers = await session.settle({g: owners(g) for g in todo})
        again = []
        for g in todo:
            ids = _ids(answers[g])
            if ids is None or not ids:
                again.append(g)
            elif ids <= accounts:
                proven.append(g)
        todo = again
        if not todo:
            break
        await session.clock.sleep(session.rules.absent_spacing_s)
    return proven


def _ids(answer: GraphResponse) -> set[str] | None:
    if answer.status != 200:
        return None
    return {str(x.get("id")) for x in answer.values() if isinstance(x, Mapping)}


async def adopt(session: Session, steps: Sequence[Step]) -> None:
    """Tag and name groups crisiskit created but an interrupted run did not tag."""
    for s in steps:
        p: GroupAdopt = s.payload
        problem = await tag_and_name(session, p.group, p.tag, p.commune, p.nickname)
        if problem:
            session.failed(s, why=problem)
        else:
            session.done(s, values={"id": p.group}, detail=f"adopted ({p.why}): tagged, named")
