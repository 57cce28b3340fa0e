"""Team channels: natural key the display name (case-insensitive) within the team.

    read:    in_team (id and displayName of every channel), named
    create:  POST /teams/{id}/channels (standard); found again by `$filter=displayName eq`
"""

from __future__ import annotations

from dataclasses import dataclass

from crisiskit.graph.types import GraphResponse, Request
from crisiskit.plan.model import Id
from crisiskit.resources.base import Create, Resource, first_id, get, ident, post, q

KIND = "channel"


@dataclass(frozen=True)
class ChannelCreate:
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


RESOURCE = Resource(
    KIND,
    {
        "create": Create(
            request=create_request,
            lookup=lambda p: named(ident(p.team), p.name),
            found=first_id,
            duplicate=is_duplicate,
        )
    },
)
