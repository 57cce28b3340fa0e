"""Team from scratch, group-bind refusals, bulk members, channel messages, over loopback."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from simhelp import create_group, error_code, licensed_user, plain_user

from crisiskit.sim.server import EmbeddedSimulator

GRAPH = "https://graph.microsoft.com/v1.0"
TEMPLATE = {"template@odata.bind": f"{GRAPH}/teamsTemplates('standard')"}


def member(user_id: str, owner: bool = False) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.aadUserConversationMember",
        "roles": ["owner"] if owner else [],
        "user@odata.bind": f"{GRAPH}/users('{user_id}')",
    }


@pytest.fixture
def people(es: EmbeddedSimulator, http: httpx.Client) -> list[dict[str, Any]]:
    return [licensed_user(es, http, f"equipe.{i}") for i in range(3)]


def _scratch(people: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        **TEMPLATE,
        "displayName": "Cellule de crise – Aubagne",
        "description": "Crise cyber 2026",
        "visibility": "Private",
        "members": [member(people[0]["id"], owner=True), member(people[1]["userPrincipalName"])],
        "channels": [
            {"displayName": "Main courante", "description": "Journal"},
            {"displayName": "Logistique"},
        ],
        **extra,
    }


def test_team_from_scratch_202_location_group_and_delays(
    es: EmbeddedSimulator, http: httpx.Client, people: list[dict[str, Any]]
) -> None:
    es.set_profile(team_op_s=0.45, site_delay_s=0.3, replication_lag_s=600)
    resp = http.post("teams", json=_scratch(people))
    assert resp.status_code == 202, resp.text
    assert resp.content == b""
    team_id = resp.headers["Content-Location"].split("'")[1]
    assert resp.headers["Location"].startswith(f"/teams('{team_id}')/operations('")
    group = next(g for g in es.state()["groups"] if g["id"] == team_id)
    assert group["displayName"] == "Cellule de crise – Aubagne"
    assert group["mailNickname"] == "CelluledecriseAubagne"  # derived as Teams does
    assert group["visibility"] == "Private" and group["groupTypes"] == ["Unified"]
    assert group["owners"] == [people[0]["id"]]
    assert set(group["members"]) == {people[0]["id"], people[1]["id"]}
    assert "Team" in group["resourceProvisioningOptions"]
    assert http.get(f"teams/{team_id}").status_code == 404  # not until the operation is done
    op = http.get(resp.headers["Location"].lstrip("/")).json()
    assert op["status"] in ("notStarted", "inProgress") and op["targetResourceId"] == team_id
    assert http.get(f"groups/{team_id}/drive").status_code == 404  # the site comes later
    time.sleep(0.5)
    assert http.get(resp.headers["Location"].lstrip("/")).json()["status"] == "succeeded"
    team = http.get(f"teams/{team_id}").json()
    assert team["visibility"] == "private" and team["summary"]["ownersCount"] == 1
    channels = http.get(f"teams/{team_id}/channels").json()["value"]
    assert sorted(c["displayName"] for c in channels) == ["General", "Logistique", "Main courante"]
    assert http.get(f"groups/{team_id}/drive").status_code == 200
    # The same name again gets another team and another nickname (no idempotency in Graph).
    again = http.post("teams", json=_scratch(people, channels=[]))
    other = again.headers["Content-Location"].split("'")[1]
    nicknames = {g["id"]: g["mailNickname"] for g in es.state()["groups"]}
    assert other != team_id and nicknames[other].startswith("CelluledecriseAubagne")
    assert nicknames[other] != nicknames[team_id]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"members": None}, 400),  # no owner: required with application permissions
        ({"template@odata.bind": None}, 400),
        ({"template@odata.bind": f"{GRAPH}/teamsTemplates('nope')"}, 400),
        ({"displayName": ""}, 400),
        ({"displayName": "x" * 257}, 400),
        ({"description": "x" * 1025}, 400),
        ({"visibility": "HiddenMembership"}, 400),
        ({"channels": [{"displayName": "General"}]}, 400),
        ({"channels": [{"displayName": "a/b"}]}, 400),
        ({"channels": [{"displayName": "x" * 51}]}, 400),
    ],
)
def test_team_from_scratch_refusals(
    http: httpx.Client, people: list[dict[str, Any]], change: dict[str, Any], code: int
) -> None:
    body = _scratch(people)
    for key, value in change.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    before = len(http.get("groups").json()["value"])
    resp = http.post("teams", json=body)
    assert resp.status_code == code, resp.text
    assert len(http.get("groups").json()["value"]) == before  # nothing created


def test_unknown_member_is_refused_before_anything_is_created(
    http: httpx.Client, people: list[dict[str, Any]]
) -> None:
    body = _scratch(people)
    body["members"].append(member("00000000-0000-4000-8000-000000000999"))
    assert http.post("teams", json=body).status_code == 404


@pytest.mark.parametrize(
    "prop",
    ["displayName", "visibility", "specialization", "members@odata.bind", "members"],
)
def test_team_from_group_refuses_inherited_properties(
    es: EmbeddedSimulator, http: httpx.Client, people: list[dict[str, Any]], prop: str
) -> None:
    group = create_group(http, f"crise-bind-{prop[:5].lower()}", people[0]["id"])
    body = {**TEMPLATE, "group@odata.bind": f"{GRAPH}/groups('{group['id']}')", prop: "x"}
    resp = http.post("teams", json=body)
    assert resp.status_code == 400 and error_code(resp) == "BadRequest"
    no_template = http.post("teams", json={"group@odata.bind": f"{GRAPH}/groups('{group['id']}')"})
    assert no_template.status_code == 400
    settings = {
        **TEMPLATE,
        "group@odata.bind": f"{GRAPH}/groups('{group['id']}')",
        "memberSettings": {"allowDeleteChannels": False},
    }
    assert http.post("teams", json=settings).status_code == 202  # settings are allowed


def test_young_group_404_model_still_applies_to_team_from_group(
    es: EmbeddedSimulator, http: httpx.Client, people: list[dict[str, Any]]
) -> None:
    es.set_profile(replication_lag_s=600)
    group = create_group(http, "crise-jeune", people[0]["id"])
    body = {**TEMPLATE, "group@odata.bind": f"{GRAPH}/groups('{group['id']}')"}
    assert http.post("teams", json=body).status_code == 404
    assert http.post("teams", json=_scratch(people)).status_code == 202  # no such wait


def test_members_add_in_bulk_200_then_207(
    es: EmbeddedSimulator, http: httpx.Client, people: list[dict[str, Any]]
) -> None:
    resp = http.post("teams", json=_scratch(people, channels=[]))
    team_id = resp.headers["Content-Location"].split("'")[1]
    extra = plain_user(es, http, "renfort.un")
    added = http.post(
        f"teams/{team_id}/members/add",
        json={
            "values": [
                member(people[2]["id"]),
                member(extra["userPrincipalName"], owner=True),
            ]
        },
    )
    assert added.status_code == 200, added.text
    assert [r["userId"] for r in added.json()["value"]] == [people[2]["id"], extra["id"]]
    assert all(r["error"] is None for r in added.json()["value"])
    listed = http.get(f"teams/{team_id}/members").json()["value"]
    roles = {m["userId"]: m["roles"] for m in listed}
    assert roles[extra["id"]] == ["owner"] and roles[people[2]["id"]] == []
    assert all(m["@odata.type"] == "#microsoft.graph.aadUserConversationMember" for m in listed)
    one = http.get(
        f"teams/{team_id}/members",
        params={
            "$filter": f"(microsoft.graph.aadUserConversationMember/userId eq '{extra['id']}')"
        },
    )
    assert [m["userId"] for m in one.json()["value"]] == [extra["id"]]
    partial = http.post(
        f"teams/{team_id}/members/add",
        json={
            "values": [
                member("00000000-0000-4000-8000-000000000999"),
                member(people[2]["id"]),
            ]
        },
    )
    assert partial.status_code == 207
    results = partial.json()["value"]
    assert results[0]["error"]["code"] == "NotFound" and results[1]["error"] is None
    bad = http.post(f"teams/{team_id}/members/add", json={"values": [{"roles": []}]})
    assert bad.status_code == 400
    # conversationmembers-add.md: at most 200 members in one request, refused whole.
    many = [member(f"00000000-0000-4000-8000-{n:012d}") for n in range(201)]
    assert http.post(f"teams/{team_id}/members/add", json={"values": many}).status_code == 400
    group = next(g for g in es.state()["groups"] if g["id"] == team_id)
    assert extra["id"] in group["members"] and extra["id"] in group["owners"]


# ---------------------------------------------------------------- channel messages


def _team_with_channel(
    es: EmbeddedSimulator, http: httpx.Client, people: list[dict[str, Any]]
) -> tuple[str, str]:
    resp = http.post("teams", json=_scratch(people))
    team_id = resp.headers["Content-Location"].split("'")[1]
    channels = http.get(f"teams/{team_id}/channels").json()["value"]
    return team_id, next(c["id"] for c in channels if c["displayName"] == "Main courante")


def test_channel_messages_newest_first_paged_with_replies(
    es: EmbeddedSimulator, http: httpx.Client, people: list[dict[str, Any]]
) -> None:
    team_id, channel_id = _team_with_channel(es, http, people)
    upn = people[0]["userPrincipalName"]
    es.seed(
        {
            "channelMessages": [
                {
                    "team": team_id,
                    "channel": "Main courante",
                    "from": upn,
                    "body": f"<p>Entrée {i}</p>",
                    "createdDateTime": f"2026-11-26T08:{i:02d}:00Z",
                    "replies": [
                        {
                            "from": people[1]["id"],
                            "body": f"ok {i}.{j}",
                            "bodyType": "text",
                            "createdDateTime": f"2026-11-26T09:{i:02d}:{j:02d}Z",
                        }
                        for j in range(3)
                    ],
                }
                for i in range(25)
            ]
        }
    )
    base = f"teams/{team_id}/channels/{channel_id}/messages"
    first = http.get(base).json()
    assert len(first["value"]) == 20 and "@odata.nextLink" in first  # default page: 20
    newest = first["value"][0]
    assert newest["body"] == {"contentType": "html", "content": "<p>Entrée 24</p>"}
    assert newest["replyToId"] is None and "replies" not in newest
    assert newest["from"]["user"]["id"] == people[0]["id"]
    assert newest["channelIdentity"] == {"teamId": team_id, "channelId": channel_id}
    rest = http.get(first["@odata.nextLink"]).json()["value"]
    assert len(rest) == 5
    assert http.get(base, params={"$top": "50"}).status_code == 200
    assert http.get(base, params={"$top": "51"}).status_code == 400
    replies = http.get(f"{base}/{newest['id']}/replies").json()["value"]
    assert [r["body"]["content"] for r in replies] == ["ok 24.2", "ok 24.1", "ok 24.0"]
    assert all(r["replyToId"] == newest["id"] for r in replies)
    one = http.get(f"{base}/{newest['id']}/replies/{replies[0]['id']}").json()
    assert one["id"] == replies[0]["id"]
    expanded = http.get(f"{base}/{newest['id']}", params={"$expand": "replies"}).json()
    assert len(expanded["replies"]) == 3
    listed = http.get(base, params={"$expand": "replies", "$top": "2"}).json()["value"]
    assert [len(m["replies"]) for m in listed] == [3, 3]
    assert http.get(f"{base}/{replies[0]['id']}").status_code == 404  # a reply is not top-level
    assert http.get(f"{base}/42").status_code == 404


def test_channel_messages_go_with_their_channel(
    es: EmbeddedSimulator, http: httpx.Client, people: list[dict[str, Any]]
) -> None:
    team_id, channel_id = _team_with_channel(es, http, people)
    es.seed(
        {
            "channelMessages": [
                {"team": team_id, "channel": "General", "from": people[0]["id"], "body": "a"},
                {"team": team_id, "channel": channel_id, "from": people[0]["id"], "body": "b"},
            ]
        }
    )
    assert http.delete(f"teams/{team_id}/channels/{channel_id}").status_code == 204
    assert [m["body"]["content"] for m in es.state()["channelMessages"]] == ["a"]
    with pytest.raises(RuntimeError, match="no channel"):
        es.seed(
            {
                "channelMessages": [
                    {"team": team_id, "channel": "Nope", "from": people[0]["id"], "body": "x"}
                ]
            }
        )
    assert http.delete(f"groups/{team_id}").status_code == 204  # stashed with the group
    assert es.state()["channelMessages"] == []
    assert http.post(f"directory/deletedItems/{team_id}/restore").status_code == 200
    assert [m["body"]["content"] for m in es.state()["channelMessages"]] == ["a"]
    assert http.delete(f"groups/{team_id}").status_code == 204
    es.set_roles([], token="admin", app_only=False)  # purging a group is delegated only
    with es.client("admin") as admin:
        assert admin.delete(f"directory/deletedItems/{team_id}").status_code == 204
    assert es.state()["channelMessages"] == []
    assert team_id not in [d["id"] for d in es.state()["deletedItems"]]
