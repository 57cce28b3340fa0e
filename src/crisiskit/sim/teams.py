"""Simulated Microsoft Teams: a team on a Microsoft 365 group, its async creation, its channels.

A team is created by `PUT /groups/{id}/team` (201, synchronous) or `POST /teams` (202, a
teamsAsyncOperation to poll; from a group or from scratch, see `teamcreate.py`). A team is stored
under its group's id (`tenant.teams[group_id]`) with `_readyAt`, the moment its creation
operation succeeds (`profile.team_op_s` after the request); until then `GET /teams/{id}` is 404.
Creating a team on a group younger than `profile.replication_lag_s` fails with 404, as the
reference warns for groups less than 15 minutes old; a group without owner fails with 400.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crisiskit.sim import cascade, odata, replication
from crisiskit.sim.errors import bad_request
from crisiskit.sim.objects import group_for
from crisiskit.sim.permissions import TEAMS_DENIED
from crisiskit.sim.router import (
    Router,
    SimRequest,
    SimResponse,
    json_response,
    no_content,
    strip_internal,
)
from crisiskit.sim.teamcreate import (
    DEFAULT_SETTINGS,
    channel_of,
    check_channel_name,
    check_group_can_host_team,
    get_operation,
    live_team,
    new_channel,
    new_team,
    post_team,
)

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

TEAM_READ = (
    "TeamSettings.Read.Group",
    "TeamSettings.ReadWrite.Group",
    "Team.ReadBasic.All",
    "TeamSettings.Read.All",
    "TeamSettings.ReadWrite.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
CHANNEL_READ = (
    "ChannelSettings.Read.Group",
    "ChannelSettings.ReadWrite.Group",
    "Channel.ReadBasic.All",
    "ChannelSettings.Read.All",
    "ChannelSettings.ReadWrite.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
# Application permissions per route (team-put-teams, team-get, team-post, teams-list,
# teamsasyncoperation-get, team-update, channel-post, channel-list, channel-get, channel-patch,
# channel-delete); Teams refuses in its own words.
PERMISSIONS: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("PUT", "/groups/{group_id}/team"): (
        "Team.Create",
        "Group.ReadWrite.All",
        "Directory.ReadWrite.All",
    ),
    ("GET", "/groups/{group_id}/team"): TEAM_READ,
    ("POST", "/teams"): (
        "Team.Create",
        "Teamwork.Migrate.All",
        "Group.ReadWrite.All",
        "Directory.ReadWrite.All",
    ),
    ("GET", "/teams"): (
        "Team.ReadBasic.All",
        "TeamSettings.Read.All",
        "TeamSettings.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ),
    ("GET", "/teams/{team_id}/operations/{operation_id}"): TEAM_READ,
    ("GET", "/teams/{team_id}"): TEAM_READ,
    ("PATCH", "/teams/{team_id}"): (
        "TeamSettings.ReadWrite.Group",
        "TeamSettings.ReadWrite.All",
        "Group.ReadWrite.All",
        "Directory.ReadWrite.All",
    ),
    ("POST", "/teams/{team_id}/channels"): (
        "Channel.Create.Group",
        "Channel.Create",
        "Teamwork.Migrate.All",
        "Group.ReadWrite.All",
        "Directory.ReadWrite.All",
    ),
    ("GET", "/teams/{team_id}/channels"): CHANNEL_READ,
    ("GET", "/teams/{team_id}/channels/{channel_id}"): CHANNEL_READ,
    ("PATCH", "/teams/{team_id}/channels/{channel_id}"): (
        "ChannelSettings.ReadWrite.Group",
        "ChannelSettings.ReadWrite.All",
        "Group.ReadWrite.All",
        "Directory.ReadWrite.All",
    ),
    ("DELETE", "/teams/{team_id}/channels/{channel_id}"): (
        "Channel.Delete.Group",
        "Channel.Delete.All",
        "Group.ReadWrite.All",
        "Directory.ReadWrite.All",
    ),
}
DENIED = TEAMS_DENIED


def register(router: Router) -> None:
    """Register the team and channel routes on `router`."""
    router.route("PUT", "/groups/{group_id}/team")(put_team)
    router.route("GET", "/groups/{group_id}/team")(get_group_team)
    router.route("POST", "/teams")(post_team)
    router.route("GET", "/teams")(list_teams)
    router.route("GET", "/teams/{team_id}/operations/{operation_id}")(get_operation)
    router.route("GET", "/teams/{team_id}")(get_team)
    router.route("PATCH", "/teams/{team_id}")(update_team)
    router.route("POST", "/teams/{team_id}/channels")(create_channel)
    router.route("GET", "/teams/{team_id}/channels")(list_channels)
    router.route("GET", "/teams/{team_id}/channels/{channel_id}")(get_channel)
    router.route("PATCH", "/teams/{team_id}/channels/{channel_id}")(update_channel)
    router.route("DELETE", "/teams/{team_id}/channels/{channel_id}")(delete_channel)


# ---------------------------------------------------------------- helpers


def _team_view(sim: Simulator, team: dict[str, Any]) -> dict[str, Any]:
    group = sim.tenant.groups.get(team["id"], {})
    view = strip_internal(team)
    # A team shows its group's current name, description and visibility.
    view["displayName"] = group.get("displayName", view.get("displayName"))
    view["description"] = group.get("description", view.get("description"))
    view["visibility"] = str(group.get("visibility") or "public").lower()
    owners = len(group.get("_owners", []))
    view["summary"] = {
        "ownersCount": owners,
        "membersCount": len(set(group.get("_members", [])) - set(group.get("_owners", []))),
        "guestsCount": 0,
    }
    return view


# ---------------------------------------------------------------- team handlers


def put_team(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """Create the team of a group synchronously (`PUT /groups/{id}/team`) → 201."""
    group = check_group_can_host_team(sim, sim.get_group(group_id)["id"])
    body = req.body if isinstance(req.body, dict) else {}
    team = new_team(sim, group, body, ready_at=sim.now())
    return json_response(
        201,
        {"@odata.context": f"{req.base_url}/$metadata#teams/$entity", **_team_view(sim, team)},
    )


def get_group_team(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """Read a group's team (`GET /groups/{id}/team`)."""
    group = group_for(sim, group_id)
    return _team_response(sim, req, live_team(sim, group["id"]))


def _team_response(sim: Simulator, req: SimRequest, team: dict[str, Any]) -> SimResponse:
    view = _team_view(sim, team)
    select = req.query.get("$select")
    if select:
        view = odata.apply_select(view, select)
    return json_response(200, {"@odata.context": f"{req.base_url}/$metadata#teams/$entity", **view})


def get_team(sim: Simulator, req: SimRequest, team_id: str) -> SimResponse:
    """Read a team (`GET /teams/{id}`); 404 until its creation operation has succeeded."""
    return _team_response(sim, req, live_team(sim, team_id))


def list_teams(sim: Simulator, req: SimRequest) -> SimResponse:
    """List teams (`GET /teams`): id, displayName, description, with `$filter`/`$select`."""
    now = sim.now()
    items = [
        {k: v for k, v in _team_view(sim, t).items() if k in ("id", "displayName", "description")}
        for t in sim.tenant.teams.values()
        if now >= t.get("_readyAt", 0.0)
    ]
    expr = req.query.get("$filter")
    if expr:
        predicate = odata.parse_filter(expr)
        items = [i for i in items if predicate(i)]
    select = req.query.get("$select")
    if select:
        items = [odata.apply_select(i, select) for i in items]
    return odata.page(sim, req, items, entity_set="teams")


def update_team(sim: Simulator, req: SimRequest, team_id: str) -> SimResponse:
    """Update a team's settings (`PATCH /teams/{id}`) → 204."""
    team = live_team(sim, team_id)
    body = req.body if isinstance(req.body, dict) else {}
    for key, value in body.items():
        if key in DEFAULT_SETTINGS and isinstance(value, dict):
            team[key].update(value)
        elif key == "isArchived":
            raise bad_request("Use the archive action to archive a team.", code="BadRequest")
        elif key in ("displayName", "description", "classification", "specialization"):
            if not (isinstance(value, str) and (value.strip() or key != "displayName")):
                raise bad_request(f"Invalid value for team property '{key}'.", code="BadRequest")
            team[key] = value
            group = sim.tenant.groups.get(team["id"])
            if group is not None and key in ("displayName", "description"):
                replication.before_write(sim, "group", group["id"])  # the group changes too
                group[key] = value
        elif not key.startswith("@odata"):
            raise bad_request(f"Property '{key}' cannot be updated on a team.", code="BadRequest")
    return no_content()


# ---------------------------------------------------------------- channel handlers


def create_channel(sim: Simulator, req: SimRequest, team_id: str) -> SimResponse:
    """Create a channel (`POST /teams/{id}/channels`) → 201; names are unique per team."""
    team = live_team(sim, team_id)
    body = req.body if isinstance(req.body, dict) else {}
    name = check_channel_name(sim, team["id"], body.get("displayName"), None)
    membership = body.get("membershipType", "standard")
    if membership not in ("standard", "private", "shared"):
        raise bad_request(f"Invalid membershipType '{membership}'.", code="BadRequest")
    channel = new_channel(
        sim, team["id"], name, body.get("description"), membership, body.get("isFavoriteByDefault")
    )
    ctx = f"{req.base_url}/$metadata#teams('{team['id']}')/channels/$entity"
    return json_response(201, {"@odata.context": ctx, **strip_internal(channel)})


def list_channels(sim: Simulator, req: SimRequest, team_id: str) -> SimResponse:
    """List a team's channels (`GET /teams/{id}/channels`), `$filter=displayName eq '…'`."""
    team = live_team(sim, team_id)
    items = [
        strip_internal(c) for c in sim.tenant.channels.values() if c.get("_teamId") == team["id"]
    ]
    expr = req.query.get("$filter")
    if expr:
        predicate = odata.parse_filter(expr)
        items = [i for i in items if predicate(i)]
    select = req.query.get("$select")
    if select:
        items = [odata.apply_select(i, select) for i in items]
    return odata.page(sim, req, items, entity_set=f"teams('{team['id']}')/channels")


def get_channel(sim: Simulator, req: SimRequest, team_id: str, channel_id: str) -> SimResponse:
    """Read a channel (`GET /teams/{id}/channels/{cid}`)."""
    view = strip_internal(channel_of(sim, team_id, channel_id))
    select = req.query.get("$select")
    if select:
        view = odata.apply_select(view, select)
    ctx = f"{req.base_url}/$metadata#teams('{team_id}')/channels/$entity"
    return json_response(200, {"@odata.context": ctx, **view})


def update_channel(sim: Simulator, req: SimRequest, team_id: str, channel_id: str) -> SimResponse:
    """Update a channel's name or description (`PATCH /teams/{id}/channels/{cid}`) → 204."""
    channel = channel_of(sim, team_id, channel_id)
    body = req.body if isinstance(req.body, dict) else {}
    if "displayName" in body:
        if channel["displayName"] == "General":
            raise bad_request("The General channel cannot be renamed.", code="BadRequest")
        channel["displayName"] = check_channel_name(
            sim, channel["_teamId"], body["displayName"], channel_id
        )
    if "description" in body:
        channel["description"] = body["description"]
    return no_content()


def delete_channel(sim: Simulator, req: SimRequest, team_id: str, channel_id: str) -> SimResponse:
    """Delete a channel (`DELETE /teams/{id}/channels/{cid}`) → 204; General cannot go."""
    channel = channel_of(sim, team_id, channel_id)
    if channel["displayName"] == "General":
        raise bad_request("The General channel cannot be deleted.", code="BadRequest")
    cascade.delete_channel(sim, channel_id)  # its messages go with it
    return no_content()
