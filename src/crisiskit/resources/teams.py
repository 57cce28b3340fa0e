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
    """Build `POST /teams` from the group: 202 and a teamsAsyncOperation to poll at Location."""
    body = {
        "template@odata.bind": "https://graph.microsoft.com/v1.0/teamsTemplates('standard')",
        "group@odata.bind": f"https://graph.microsoft.com/v1.0/groups('{group_id}')",
        **TEAM_BODY,
    }
    return Req(rid, "POST", "/teams", body, {"Content-Type": "application/json"})


def get_operation(rid: str, location: str) -> Req:
    """Build the GET of a teamsAsyncOperation from the `Location` of the 202."""
    path = location.split("/v1.0", 1)[-1] if "://" in location else location
    return Req(rid, "GET", path if path.startswith("/") else f"/{path}")


def list_channels(rid: str, team_id: str) -> Req:
    return Req(rid, "GET", f"/teams/{team_id}/channels?$select=id,displayName")


def find_channel(rid: str, team_id: str, name: str) -> Req:
    return Req(rid, "GET", f"/teams/{team_id}/channels?$filter=displayName%20eq%20'{q(name)}'")


def create_channel(rid: str, team_id: str, name: str, description: str) -> Req:
    body = {"displayName": name, "description": description, "membershipType": "standard"}
    return Req(
        rid, "POST", f"/teams/{team_id}/channels", body, {"Content-Type": "application/json"}
    )
