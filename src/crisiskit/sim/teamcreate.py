"""Teams' records: creating a team (on an existing group, or from scratch), its channels, lookups.

Shared by the Teams families (`teams.py`, `teammembers.py`, `channelmessages.py`), which serve
the routes; this module imports no family (the group a team brings is `groupcreate`'s).

`POST /teams` (team-post.md) answers 202, `Location: /teams('{id}')/operations('{op}')`, and
a teamsAsyncOperation that succeeds `profile.team_op_s` later; `template@odata.bind`
(`teamsTemplates('standard')` or another base template) is required on both paths.

- With `group@odata.bind` the team inherits the group's name, visibility, specialization and
  members: the reference says displayName, visibility, specialization or members@odata.bind in
  the body "will return an error" (400; `members` is refused too, the simulator's reading). A
  group younger than `profile.replication_lag_s` is not replicated to Teams yet: 404, as the
  reference warns for groups less than 15 minutes old; a group without owner: 400.
- From scratch (no group@odata.bind): `displayName` (≤ 256 characters), `description`
  (≤ 1024), `visibility` (private|public, default public), `members`
  (aadUserConversationMember with `user@odata.bind` by id or UPN, `roles` [] or ["owner"]; an
  owner is required with application permissions, and of every caller here: a delegated caller
  would become the owner, and the simulator's signed-in administrator is no user), and
  `channels` (validated like `POST /channels`). The Microsoft 365 group is created at once with
  the team's id, its mailNickname derived from the display name as Teams does (observed, not
  documented: ASCII letters and digits only, then a 3-digit suffix if taken), so the team id
  is known from the 202's Location before the operation completes; its site and mailbox follow
  the profile's delays like any group's. No young-group wait applies: the group is Teams' own.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from crisiskit.sim import replication
from crisiskit.sim.errors import SimError, bad_request, team_not_found, teams_not_found
from crisiskit.sim.groupcreate import new_group
from crisiskit.sim.objects import link
from crisiskit.sim.router import SimRequest, SimResponse, json_response, strip_internal

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
TEMPLATE_BIND = re.compile(r"/teamsTemplates(?:/|\(')([A-Za-z]+)", re.IGNORECASE)
USER_BIND = re.compile(r"/users(?:/|\(')([^/()']+)", re.IGNORECASE)
# Base templates (Teams "Get started with Teams templates").
TEMPLATES = {
    "standard",
    "educationclass",
    "educationstaff",
    "educationprofessionallearningcommunity",
    "healthcareward",
    "healthcarestandard",
    "retailstore",
    "retailmanagercollaboration",
}
FROM_GROUP_REFUSED = (
    "displayName",
    "visibility",
    "specialization",
    "members@odata.bind",
    "members",
)
MEMBER_TYPE = "#microsoft.graph.aadUserConversationMember"
MAX_TEAM_NAME = 256
MAX_DESCRIPTION = 1024


def thread_id(sim: Simulator) -> str:
    return f"19:{sim.rng.getrandbits(128):032x}@thread.tacv2"


def channel_url(sim: Simulator, thread: str, name: str, group_id: str) -> str:
    return (
        f"https://teams.microsoft.com/l/channel/{quote(thread, safe='')}/{quote(name)}"
        f"?groupId={group_id}&tenantId={sim.tenant.tenant_id}"
    )


def check_channel_name(sim: Simulator, team_id: str, name: Any, exclude: str | None) -> str:
    """Validate a channel name (≤ 50 characters, no reserved characters, unique per team)."""
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


def new_channel(
    sim: Simulator,
    team_id: str,
    name: str,
    description: Any,
    membership: str = "standard",
    favorite: Any = None,
    thread: str | None = None,
) -> dict[str, Any]:
    """Store a channel of `team_id`; return the record."""
    thread = thread or thread_id(sim)
    channel = {
        "id": thread,
        "createdDateTime": sim.iso(),
        "displayName": name,
        "description": description,
        "isFavoriteByDefault": favorite,
        "email": "",
        "tenantId": sim.tenant.tenant_id,
        "webUrl": channel_url(sim, thread, name, team_id),
        "membershipType": membership,
        "isArchived": False,
        "_teamId": team_id,
    }
    sim.tenant.channels[thread] = channel
    sim.touch(thread)
    return channel


def check_group_can_host_team(sim: Simulator, group_id: str) -> dict[str, Any]:
    group = sim.tenant.groups.get(group_id)
    if group is None:
        raise teams_not_found(f"Group {group_id} not found.")
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


def live_team(sim: Simulator, team_id: str) -> dict[str, Any]:
    """Return a team whose creation has completed, or raise the Teams 404."""
    team = sim.tenant.teams.get(team_id) or sim.tenant.teams.get(team_id.lower())
    if team is None or sim.now() < team.get("_readyAt", 0.0):
        raise team_not_found(team_id)
    return team


def channel_of(sim: Simulator, team_id: str, channel_id: str) -> dict[str, Any]:
    """Return a channel of a live team, or raise the Teams 404."""
    team = live_team(sim, team_id)
    channel = sim.tenant.channels.get(channel_id)
    if channel is None or channel.get("_teamId") != team["id"]:
        raise teams_not_found(f"Channel {channel_id} not found in team {team_id}.")
    return channel


def new_team(
    sim: Simulator, group: dict[str, Any], body: dict[str, Any], ready_at: float
) -> dict[str, Any]:
    """Store the team of `group` (ready at `ready_at`) and its General channel."""
    now = sim.now()
    thread = thread_id(sim)
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
    new_channel(sim, group["id"], "General", group.get("description"), thread=thread)
    if "Team" not in group["resourceProvisioningOptions"]:
        replication.before_write(sim, "group", group["id"])  # the group now says it has a team
        group["resourceProvisioningOptions"].append("Team")
    return team


def add_member(sim: Simulator, group: dict[str, Any], user_id: str, owner: bool) -> None:
    """Make a user a member (and an owner if `owner`) of a team's group, licences included.

    Through `objects.link`, as any directory membership write (replication, change feed).
    """
    if user_id not in group["_members"]:
        link(sim, group, "members", user_id)
    if owner and user_id not in group["_owners"]:
        link(sim, group, "owners", user_id)


def member_user(sim: Simulator, member: Any) -> tuple[dict[str, Any] | None, bool]:
    """Resolve an aadUserConversationMember to (user or None, is owner); 400 if malformed."""
    if not isinstance(member, dict):
        raise bad_request("Each member must be an aadUserConversationMember.", code="BadRequest")
    kind = str(member.get("@odata.type", "")).lstrip("#").lower()
    if kind != MEMBER_TYPE.lstrip("#").lower():
        raise bad_request(
            f"Unsupported member type '{member.get('@odata.type')}'.", code="BadRequest"
        )
    roles = member.get("roles", [])
    if not isinstance(roles, list) or any(str(r).lower() not in ("owner",) for r in roles):
        raise bad_request(f"Invalid roles {roles!r}: [] or ['owner'].", code="BadRequest")
    m = USER_BIND.search(str(member.get("user@odata.bind", "")))
    if m is None:
        raise bad_request("Invalid URL format specified in user@odata.bind.", code="BadRequest")
    key = m.group(1)
    user = sim.tenant.users.get(key) or (sim.user_by_upn(key) if "@" in key else None)
    return user, "owner" in [str(r).lower() for r in roles]


# ---------------------------------------------------------------- POST /teams


def _template(body: dict[str, Any]) -> str:
    bind = body.get("template@odata.bind")
    m = TEMPLATE_BIND.search(bind) if isinstance(bind, str) else None
    if m is None:
        raise bad_request(
            "A team template is required: template@odata.bind, e.g. "
            "https://graph.microsoft.com/v1.0/teamsTemplates('standard').",
            code="BadRequest",
        )
    if m.group(1).lower() not in TEMPLATES:
        raise bad_request(f"Unknown team template '{m.group(1)}'.", code="BadRequest")
    return m.group(1)


def derive_nickname(sim: Simulator, display_name: str) -> str:
    """Derive a unique mailNickname from a team's display name, as Teams does (observed)."""
    folded = unicodedata.normalize("NFKD", display_name)
    base = "".join(c for c in folded if c.isascii() and c.isalnum())[:56] or "team"
    taken = {str(g.get("mailNickname", "")).lower() for g in sim.tenant.groups.values()}
    candidate = base
    while candidate.lower() in taken:
        candidate = f"{base}{sim.rng.randrange(100, 1000)}"
    return candidate


def _accepted(sim: Simulator, team: dict[str, Any], now: float, op_s: float) -> SimResponse:
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


def post_team(sim: Simulator, req: SimRequest) -> SimResponse:
    """Create a team (`POST /teams`) → 202 + the teamsAsyncOperation's Location."""
    body = req.body if isinstance(req.body, dict) else {}
    _template(body)
    bind = body.get("group@odata.bind")
    if bind is None:
        return _from_scratch(sim, body)
    refused = [p for p in FROM_GROUP_REFUSED if p in body]
    if refused:
        raise bad_request(
            f"Property '{refused[0]}' cannot be set when creating a team from a group: the "
            "team inherits the group's displayName, visibility, specialization and members.",
            code="BadRequest",
        )
    m = GROUP_BIND.search(bind) if isinstance(bind, str) else None
    if m is None:
        raise bad_request(
            "Invalid URL format specified in @odata.bind for group.", code="BadRequest"
        )
    group = check_group_can_host_team(sim, m.group(1))
    now = sim.now()
    team = new_team(sim, group, body, ready_at=now + sim.profile.team_op_s)
    return _accepted(sim, team, now, sim.profile.team_op_s)


def _from_scratch(sim: Simulator, body: dict[str, Any]) -> SimResponse:
    name = body.get("displayName")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_TEAM_NAME:
        raise bad_request(
            f"displayName is required and must be 1 to {MAX_TEAM_NAME} characters.",
            code="BadRequest",
        )
    description = body.get("description")
    if description is not None and (
        not isinstance(description, str) or len(description) > MAX_DESCRIPTION
    ):
        raise bad_request(
            f"description must be at most {MAX_DESCRIPTION} characters.", code="BadRequest"
        )
    visibility = str(body.get("visibility") or "public").lower()
    if visibility not in ("private", "public"):
        raise bad_request(f"Invalid visibility '{body.get('visibility')}'.", code="BadRequest")
    members = body.get("members") or []
    if not isinstance(members, list):
        raise bad_request(
            "members must be a collection of conversation members.", code="BadRequest"
        )
    resolved: list[tuple[str, bool]] = []
    for member in members:
        user, owner = member_user(sim, member)
        if user is None:
            raise teams_not_found(f"Member {member.get('user@odata.bind')} not found.")
        resolved.append((user["id"], owner))
    if not any(owner for _, owner in resolved):
        raise bad_request(
            "An owner is required in 'members' to create a team with application permissions.",
            code="BadRequest",
        )
    channels = body.get("channels") or []
    if not isinstance(channels, list) or not all(isinstance(c, dict) for c in channels):
        raise bad_request("channels must be a collection of channels.", code="BadRequest")
    for spec in channels:  # all checked before anything is created
        check_channel_name(sim, "", spec.get("displayName"), None)
    names = [str(c.get("displayName")) for c in channels]
    if "general" in [n.lower() for n in names] or len({n.lower() for n in names}) != len(names):
        raise bad_request(
            "Channel name already existed, please use other name.", code="NameAlreadyExists"
        )
    first_owner = next(uid for uid, owner in resolved if owner)
    group_body = {
        "displayName": name,
        "description": description,
        "mailEnabled": True,
        "mailNickname": derive_nickname(sim, name),
        "securityEnabled": False,
        "groupTypes": ["Unified"],
        "visibility": visibility.capitalize(),
        "owners@odata.bind": [f"https://graph.microsoft.com/v1.0/users/{first_owner}"],
    }
    group = new_group(sim, group_body)
    for user_id, owner in resolved:
        add_member(sim, group, user_id, owner)
    now = sim.now()
    team = new_team(sim, group, body, ready_at=now + sim.profile.team_op_s)
    for spec in channels:
        channel_name = check_channel_name(sim, team["id"], spec.get("displayName"), None)
        new_channel(
            sim,
            team["id"],
            channel_name,
            spec.get("description"),
            favorite=spec.get("isFavoriteByDefault"),
        )
    return _accepted(sim, team, now, sim.profile.team_op_s)


def get_operation(sim: Simulator, req: SimRequest, team_id: str, operation_id: str) -> SimResponse:
    """Poll a teamsAsyncOperation: notStarted → inProgress → succeeded over `team_op_s`."""
    op = sim.tenant.operations.get(operation_id)
    if op is None or op["targetResourceId"].lower() != team_id.lower():
        raise teams_not_found(f"Operation {operation_id} not found.")
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
