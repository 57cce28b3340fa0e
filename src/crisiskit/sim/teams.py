"""Simulated Microsoft Teams: a team on a Microsoft 365 group, its async creation, its channels.

Two documented ways to create a team from a group: `PUT /groups/{id}/team` (201, synchronous)
and `POST /teams` with `group@odata.bind` (202, a teamsAsyncOperation to poll). A team is stored
under its group's id (`tenant.teams[group_id]`) with `_readyAt`, the moment its creation
operation succeeds (`profile.team_op_s` after the request); until then `GET /teams/{id}` is 404.
Creating a team on a group younger than `profile.replication_lag_s` fails with 404, as the
reference warns for groups less than 15 minutes old; a group without owner fails with 400.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from crisiskit.sim import odata
from crisiskit.sim.errors import SimError, bad_request, team_not_found
from crisiskit.sim.objects import group_for
from crisiskit.sim.router import (
    Router,
    SimRequest,
    SimResponse,
    json_response,
    no_content,
    strip_internal,
)

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

DEFAULT_SETTINGS: dict[str, dict[str, Any]] = {
    "memberSettings": {
        "allowCreateUpdateChannels": True,
        "allowCreatePrivateChannels": True,
        "allowDeleteChannels": True,
        "allowAddRemoveApps": True,
        "allowCreateUpdateRemoveTabs": True,
        "allowCreateUpdateRemoveConnectors": True,
    },
    "guestSettings": {"allowCreateUpdateChannels": False, "allowDeleteChannels": False},
    "messagingSettings": {
        "allowUserEditMessages": True,
        "allowUserDeleteMessages": True,
        "allowOwnerDeleteMessages": True,
        "allowTeamMentions": True,
        "allowChannelMentions": True,
    },
    "funSettings": {
        "allowGiphy": True,
        "giphyContentRating": "moderate",
        "allowStickersAndMemes": True,
        "allowCustomMemes": True,
    },
    "discoverySettings": {"showInTeamsSearchAndSuggestions": True},
}
# Channel names: ≤ 50 characters, none of these, not starting with `_` or `.`, no final `.`.
CHANNEL_FORBIDDEN = set("~#%&*{}+/\\:<>?|'\"")
GROUP_BIND = re.compile(r"/groups(?:/|\(')([0-9A-Za-z-]+)", re.IGNORECASE)

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
# channel-delete); Teams refuses in its own words (reported: "Missing role permissions").
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
DENIED = (
    "Forbidden",
    "Missing role permissions on the request. API requires one of '{required}'. "
    "Roles on the request '{held}'.",
)


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


def _thread_id(sim: Simulator) -> str:
    return f"19:{sim.rng.getrandbits(128):032x}@thread.tacv2"


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


def live_team(sim: Simulator, team_id: str) -> dict[str, Any]:
    """Return a team whose creation has completed, or raise the Teams 404."""
    team = sim.tenant.teams.get(team_id) or sim.tenant.teams.get(team_id.lower())
    if team is None or sim.now() < team.get("_readyAt", 0.0):
        raise team_not_found(team_id)
    return team


def _check_group_can_host_team(sim: Simulator, group_id: str) -> dict[str, Any]:
    group = sim.tenant.groups.get(group_id)
    if group is None:
        raise SimError(404, "NotFound", f"Group {group_id} not found.")
    age = sim.now() - float(group.get("_createdAt", 0.0))
    if age < sim.profile.replication_lag_s:
        # Documented: a group younger than 15 minutes may not be replicated to Teams yet.
        raise SimError(
            404,
            "NotFound",
            "Failed to execute Templates backend request CreateTeamFromGroupWithTemplateRequest. "
            f"Group {group_id} is not found; it may not be replicated yet.",
        )
    if "Unified" not in group.get("groupTypes", []):
        raise bad_request("A team can only be created on a Microsoft 365 group.", code="BadRequest")
    if not group.get("_owners"):
        raise bad_request(f"Team owner not found for group {group_id}.", code="BadRequest")
    if group_id in sim.tenant.teams:
        raise SimError(409, "Conflict", "Team already exists.")
    return group


def _new_team(
    sim: Simulator, group: dict[str, Any], body: dict[str, Any], ready_at: float
) -> dict[str, Any]:
    now = sim.now()
    thread = _thread_id(sim)
    settings = {k: dict(v) for k, v in DEFAULT_SETTINGS.items()}
    for key, value in body.items():
        if key in settings and isinstance(value, dict):
            settings[key].update(value)
    team: dict[str, Any] = {
        "id": group["id"],
        "createdDateTime": sim.iso(now),
        "displayName": group["displayName"],
        "description": group.get("description"),
        "internalId": thread,
        "classification": None,
        "specialization": "none",
        "visibility": str(group.get("visibility") or "public").lower(),
        "webUrl": (
            f"https://teams.microsoft.com/l/team/{quote(thread, safe='')}/conversations"
            f"?groupId={group['id']}&tenantId={sim.tenant.tenant_id}"
        ),
        "isArchived": False,
        "isMembershipLimitedToOwners": False,
        "tenantId": sim.tenant.tenant_id,
        **settings,
        "_readyAt": ready_at,
    }
    sim.tenant.teams[group["id"]] = team
    general = {
        "id": thread,
        "createdDateTime": sim.iso(now),
        "displayName": "General",
        "description": group.get("description"),
        "isFavoriteByDefault": None,
        "email": "",
        "tenantId": sim.tenant.tenant_id,
        "webUrl": _channel_url(sim, thread, "General", group["id"]),
        "membershipType": "standard",
        "isArchived": False,
        "_teamId": group["id"],
    }
    sim.tenant.channels[thread] = general
    if "Team" not in group["resourceProvisioningOptions"]:
        group["resourceProvisioningOptions"].append("Team")
    return team


def _channel_url(sim: Simulator, thread: str, name: str, group_id: str) -> str:
    return (
        f"https://teams.microsoft.com/l/channel/{quote(thread, safe='')}/{quote(name)}"
        f"?groupId={group_id}&tenantId={sim.tenant.tenant_id}"
    )


# ---------------------------------------------------------------- team handlers


def put_team(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """Create the team of a group synchronously (`PUT /groups/{id}/team`) → 201."""
    group = _check_group_can_host_team(sim, sim.get_group(group_id)["id"])
    body = req.body if isinstance(req.body, dict) else {}
    team = _new_team(sim, group, body, ready_at=sim.now())
    return json_response(
        201,
        {"@odata.context": f"{req.base_url}/$metadata#teams/$entity", **_team_view(sim, team)},
    )


def get_group_team(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """Read a group's team (`GET /groups/{id}/team`)."""
    group = group_for(sim, group_id)
    return _team_response(sim, req, live_team(sim, group["id"]))


def post_team(sim: Simulator, req: SimRequest) -> SimResponse:
    """Create a team from a group asynchronously (`POST /teams`) → 202 + operation Location."""
    body = req.body if isinstance(req.body, dict) else {}
    bind = body.get("group@odata.bind")
    if not isinstance(bind, str):
        raise bad_request(
            "Creating a team requires 'group@odata.bind' in this simulator (team from an "
            "existing group).",
            code="BadRequest",
        )
    m = GROUP_BIND.search(bind)
    if m is None:
        raise bad_request(
            "Invalid URL format specified in @odata.bind for group.", code="BadRequest"
        )
    group = _check_group_can_host_team(sim, m.group(1))
    now = sim.now()
    op_s = sim.profile.team_op_s
    team = _new_team(sim, group, body, ready_at=now + op_s)
    op_id = sim.new_id()
    sim.tenant.operations[op_id] = {
        "id": op_id,
        "operationType": "createTeam",
        "createdDateTime": sim.iso(now),
        "attemptsCount": 1,
        "targetResourceId": team["id"],
        "targetResourceLocation": f"/teams('{team['id']}')",
        "error": None,
        "_startedAt": now,
        "_readyAt": now + op_s,
    }
    headers = {
        "Location": f"/teams('{team['id']}')/operations('{op_id}')",
        "Content-Location": f"/teams('{team['id']}')",
    }
    return SimResponse(status=202, headers=headers, raw=b"", content_type="application/json")


def get_operation(sim: Simulator, req: SimRequest, team_id: str, operation_id: str) -> SimResponse:
    """Poll a teamsAsyncOperation: notStarted → inProgress → succeeded over `team_op_s`."""
    op = sim.tenant.operations.get(operation_id)
    if op is None or op["targetResourceId"].lower() != team_id.lower():
        raise SimError(404, "NotFound", f"Operation {operation_id} not found.")
    now = sim.now()
    started, ready = op["_startedAt"], op["_readyAt"]
    if now >= ready:
        status, last = "succeeded", ready
    elif now < started + (ready - started) / 3:
        status, last = "notStarted", started
    else:
        status, last = "inProgress", now
    view = strip_internal(op)
    view.update(status=status, lastActionDateTime=sim.iso(last))
    body = {"@odata.context": f"{req.base_url}/$metadata#teams('{team_id}')/operations/$entity"}
    body.update(view)
    return json_response(200, body)


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
                group[key] = value
        elif not key.startswith("@odata"):
            raise bad_request(f"Property '{key}' cannot be updated on a team.", code="BadRequest")
    return no_content()


# ---------------------------------------------------------------- channel handlers


def _check_channel_name(sim: Simulator, team_id: str, name: Any, exclude: str | None) -> str:
    if (
        not isinstance(name, str)
        or not name.strip()
        or len(name) > 50
        or any(c in CHANNEL_FORBIDDEN for c in name)
        or name.startswith(("_", "."))
        or name.endswith(".")
    ):
        raise bad_request(f"Channel name '{name}' is invalid.", code="BadRequest")
    for cid, channel in sim.tenant.channels.items():
        if (
            cid != exclude
            and channel.get("_teamId") == team_id
            and str(channel["displayName"]).lower() == name.lower()
        ):
            raise bad_request(
                "Channel name already existed, please use other name.", code="NameAlreadyExists"
            )
    return name


def create_channel(sim: Simulator, req: SimRequest, team_id: str) -> SimResponse:
    """Create a channel (`POST /teams/{id}/channels`) → 201; names are unique per team."""
    team = live_team(sim, team_id)
    body = req.body if isinstance(req.body, dict) else {}
    name = _check_channel_name(sim, team["id"], body.get("displayName"), None)
    membership = body.get("membershipType", "standard")
    if membership not in ("standard", "private", "shared"):
        raise bad_request(f"Invalid membershipType '{membership}'.", code="BadRequest")
    thread = _thread_id(sim)
    channel = {
        "id": thread,
        "createdDateTime": sim.iso(),
        "displayName": name,
        "description": body.get("description"),
        "isFavoriteByDefault": body.get("isFavoriteByDefault"),
        "email": "",
        "tenantId": sim.tenant.tenant_id,
        "webUrl": _channel_url(sim, thread, name, team["id"]),
        "membershipType": membership,
        "isArchived": False,
        "_teamId": team["id"],
    }
    sim.tenant.channels[thread] = channel
    sim.touch(thread)
    ctx = f"{req.base_url}/$metadata#teams('{team['id']}')/channels/$entity"
    return json_response(201, {"@odata.context": ctx, **strip_internal(channel)})


def _channel(sim: Simulator, team_id: str, channel_id: str) -> dict[str, Any]:
    team = live_team(sim, team_id)
    channel = sim.tenant.channels.get(channel_id)
    if channel is None or channel.get("_teamId") != team["id"]:
        raise SimError(404, "NotFound", f"Channel {channel_id} not found in team {team_id}.")
    return channel


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
    view = strip_internal(_channel(sim, team_id, channel_id))
    select = req.query.get("$select")
    if select:
        view = odata.apply_select(view, select)
    ctx = f"{req.base_url}/$metadata#teams('{team_id}')/channels/$entity"
    return json_response(200, {"@odata.context": ctx, **view})


def update_channel(sim: Simulator, req: SimRequest, team_id: str, channel_id: str) -> SimResponse:
    """Update a channel's name or description (`PATCH /teams/{id}/channels/{cid}`) → 204."""
    channel = _channel(sim, team_id, channel_id)
    body = req.body if isinstance(req.body, dict) else {}
    if "displayName" in body:
        if channel["displayName"] == "General":
            raise bad_request("The General channel cannot be renamed.", code="BadRequest")
        channel["displayName"] = _check_channel_name(
            sim, channel["_teamId"], body["displayName"], channel_id
        )
    if "description" in body:
        channel["description"] = body["description"]
    return no_content()


def delete_channel(sim: Simulator, req: SimRequest, team_id: str, channel_id: str) -> SimResponse:
    """Delete a channel (`DELETE /teams/{id}/channels/{cid}`) → 204; General cannot go."""
    channel = _channel(sim, team_id, channel_id)
    if channel["displayName"] == "General":
        raise bad_request("The General channel cannot be deleted.", code="BadRequest")
    del sim.tenant.channels[channel_id]
    return no_content()
