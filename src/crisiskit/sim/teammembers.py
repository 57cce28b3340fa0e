"""Simulated team membership: list a team's members, add members in bulk.

A team's members are its group's members, owners with the role `owner` (team-list-members.md;
membership ids are opaque: base64 of `{teamId}##{userId}`). `POST /teams/{id}/members/add`
(conversationmembers-add.md) takes `{"values": [aadUserConversationMember, ...]}` with
`user@odata.bind` by id or UPN and `roles` [] or ["owner"], and answers 200 when every member
was added, 207 when some were not, with one aadUserConversationMemberResult per value (`error`
`{"code": "NotFound"}` for an unknown user). Adding someone who already is a member succeeds
(and makes them an owner if asked). A malformed value refuses the whole request (400), and so
do more than 200 values ("A maximum of 200 conversationMember derivatives can be added in one
single request", conversationmembers-add.md).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from crisiskit.sim import odata
from crisiskit.sim.errors import bad_request
from crisiskit.sim.permissions import TEAMS_DENIED
from crisiskit.sim.router import Router, SimRequest, SimResponse, json_response
from crisiskit.sim.teamcreate import add_member, live_team, member_user

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

MAX_VALUES = 200  # conversationmembers-add.md
MEMBER_TYPE = "#microsoft.graph.aadUserConversationMember"
RESULT_TYPE = "#microsoft.graph.aadUserConversationMemberResult"
PERMISSIONS: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("GET", "/teams/{team_id}/members"): (
        "TeamMember.Read.Group",
        "TeamMember.Read.All",
        "TeamMember.ReadWrite.All",
    ),
    ("POST", "/teams/{team_id}/members/add"): ("TeamMember.ReadWrite.All",),
}
DENIED = TEAMS_DENIED


def register(router: Router) -> None:
    """Register the team membership routes on `router`."""
    router.route("POST", "/teams/{team_id}/members/add")(add_members)
    router.route("GET", "/teams/{team_id}/members")(list_members)


def member_view(sim: Simulator, team_id: str, user: dict[str, Any], owner: bool) -> dict[str, Any]:
    raw = f"{team_id}##{user['id']}".encode()
    return {
        "@odata.type": MEMBER_TYPE,
        "id": base64.b64encode(raw).decode(),
        "roles": ["owner"] if owner else [],
        "displayName": user.get("displayName"),
        "visibleHistoryStartDateTime": "0001-01-01T00:00:00Z",
        "userId": user["id"],
        "email": user.get("mail") or user.get("userPrincipalName"),
        "tenantId": sim.tenant.tenant_id,
    }


def list_members(sim: Simulator, req: SimRequest, team_id: str) -> SimResponse:
    """List a team's members (`GET /teams/{id}/members`)."""
    team = live_team(sim, team_id)
    group = sim.tenant.groups[team["id"]]
    ids = list(dict.fromkeys(group["_owners"] + group["_members"]))
    items = [
        member_view(sim, team["id"], sim.tenant.users[u], u in group["_owners"])
        for u in ids
        if u in sim.tenant.users
    ]
    expr = req.query.get("$filter")
    if expr:
        predicate = odata.parse_filter(
            expr.replace("microsoft.graph.aadUserConversationMember/", "")
        )
        items = [i for i in items if predicate(i)]
    select = req.query.get("$select")
    if select:
        items = [odata.apply_select(i, select) for i in items]
    return odata.page(sim, req, items, entity_set=f"teams('{team['id']}')/members")


def add_members(sim: Simulator, req: SimRequest, team_id: str) -> SimResponse:
    """Add members in bulk (`POST /teams/{id}/members/add`) → 200, or 207 if some failed."""
    team = live_team(sim, team_id)
    group = sim.tenant.groups[team["id"]]
    body = req.body if isinstance(req.body, dict) else {}
    values = body.get("values")
    if not isinstance(values, list) or not values:
        raise bad_request("The request body needs 'values': a list of members.", code="BadRequest")
    if len(values) > MAX_VALUES:
        raise bad_request(
            f"A maximum of {MAX_VALUES} members can be added in one request; got {len(values)}.",
            code="BadRequest",
        )
    resolved = [member_user(sim, v) for v in values]
    results: list[dict[str, Any]] = []
    for value, (user, owner) in zip(values, resolved, strict=True):
        if user is None:
            key = str(value.get("user@odata.bind", "")).rstrip("')").rsplit("'", 1)[-1]
            results.append(
                {
                    "@odata.type": RESULT_TYPE,
                    "userId": key.rsplit("/", 1)[-1],
                    "error": {"code": "NotFound", "message": ""},
                }
            )
            continue
        add_member(sim, group, user["id"], owner)
        results.append({"@odata.type": RESULT_TYPE, "userId": user["id"], "error": None})
    failed = any(r["error"] for r in results)
    kind = "addConversationMemberResult" if failed else "aadUserConversationMemberResult"
    ctx = f"{req.base_url}/$metadata#Collection(microsoft.graph.{kind})"
    return json_response(207 if failed else 200, {"@odata.context": ctx, "value": results})
