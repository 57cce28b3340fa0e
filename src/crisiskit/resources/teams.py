"""The crisis Team and its channels."""

from __future__ import annotations

from crisiskit.resources.base import Req, q

# Settings mirror the Teams defaults for a crisis cell: members may not delete channels or
# messages, so the main courante cannot be purged from a compromised account.
TEAM_BODY = {
    "memberSettings": {
        "allowCreateUpdateChannels": True,
        "allowDeleteChannels": False,
    },
    "messagingSettings": {"allowUserDeleteMessages": False, "allowUserEditMessages": True},
}


def get_team(rid: str, group_id: str) -> Req:
    return Req(rid, "GET", f"/teams/{group_id}")


def create_team(rid: str, group_id: str) -> Req:
    """Build the PUT /groups/{id}/team request (201, synchronous, idempotent by nature)."""
    headers = {"Content-Type": "application/json"}
    return Req(rid, "PUT", f"/groups/{group_id}/team", dict(TEAM_BODY), headers)


def list_channels(rid: str, team_id: str) -> Req:
    return Req(rid, "GET", f"/teams/{team_id}/channels?$select=id,displayName")


def find_channel(rid: str, team_id: str, name: str) -> Req:
    return Req(rid, "GET", f"/teams/{team_id}/channels?$filter=displayName%20eq%20'{q(name)}'")


def create_channel(rid: str, team_id: str, name: str, description: str) -> Req:
    body = {"displayName": name, "description": description, "membershipType": "standard"}
    return Req(
        rid, "POST", f"/teams/{team_id}/channels", body, {"Content-Type": "application/json"}
    )
