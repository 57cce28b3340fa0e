"""Team channels: natural key the display name (case-insensitive) within the team.

    read:    in_team (id and displayName of every channel), named
    create:  POST /teams/{id}/channels (standard); found again by `$filter=displayName eq`;
             or, for a channel sent in the Team's own create (`ChannelInCreate`), checked
             among the team's channels once the Team is ready (nothing is sent)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crisiskit.graph.types import GraphResponse, Request
from crisiskit.plan.model import Id, Step
from crisiskit.resources.base import (
    ByPayload,
    Create,
    Resource,
    Session,
    first_id,
    get,
    ident,
    post,
    q,
)

KIND = "channel"


@dataclass(frozen=True)
class ChannelCreate:
    team: Id
    name: str
    description: str


@dataclass(frozen=True)
class ChannelInCreate:
    """A channel sent in the body of the Team's create: only checked once the Team is ready."""

    team: Id
    name: str
    description: str


def in_team(team_id: str) -> Request:
    return get(f"/teams/{team_id}/channels?$select=id,displayName")


def named(team_id: str, name: str) -> Request:
    return get(f"/teams/{team_id}/channels?$filter=displayName%20eq%20'{q(name)}'")


def create_request(p: ChannelCreate) -> Request:
    body = {"displayName": p.name, "description": p.description, "membershipType": "standard"}
    return post(f"/teams/{ident(p.team)}/channels", body)


def is_duplicate(answer: GraphResponse) -> bool:
    return answer.status in (400, 409) and (
        "exist" in answer.message.lower() or answer.code.lower() == "namealreadyexists"
    )


async def check_created(session: Session, steps: Sequence[Step]) -> None:
    """Find the channels the Team's create made among its channels (one read per team)."""
    teams = {ident(s.payload.team) for s in steps}
    answers = await session.settle({t: in_team(t) for t in teams})
    with session.journal():
        for s in steps:
            a = answers[ident(s.payload.team)]
            names = {str(c.get("displayName", "")).lower(): str(c.get("id")) for c in a.values()}
            cid = names.get(s.payload.name.lower()) if a.status == 200 else None
            if cid:
                session.done(s, values={"id": cid}, detail="created with the Team")
            elif a.status == 200:
                session.failed(s, why="not among the channels of the Team created with it; "
                                      "a rerun creates it")
            else:
                session.failed(s, a)


RESOURCE = Resource(
    KIND,
    {
        "create": ByPayload({
            ChannelCreate: Create(
                request=create_request,
                lookup=lambda p: named(ident(p.team), p.name),
                found=first_id,
                duplicate=is_duplicate,
            ),
            ChannelInCreate: check_created,
        })
    },
)
