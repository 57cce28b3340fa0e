"""Teams in the simulator (team from a group, async creation, channels), over loopback."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from crisiskit.sim.server import EmbeddedSimulator

DOMAIN = "crise.example.fr"
GRAPH = "https://graph.microsoft.com/v1.0"


def make_user(http: httpx.Client, nick: str) -> dict[str, Any]:
    body = {
        "accountEnabled": True,
        "displayName": nick,
        "mailNickname": nick,
        "userPrincipalName": f"{nick}@{DOMAIN}",
        "passwordProfile": {"password": "S3cret-pass-1234"},
        "usageLocation": "FR",
    }
    resp = http.post("users", json=body)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def make_group(http: httpx.Client, nick: str, owner: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "displayName": f"Cellule de crise – {nick}",
        "description": "Cellule de crise",
        "mailEnabled": True,
        "mailNickname": nick,
        "securityEnabled": False,
        "groupTypes": ["Unified"],
        "visibility": "Private",
    }
    if owner:
        body["owners@odata.bind"] = [f"{GRAPH}/users/{owner}"]
    resp = http.post("groups", json=body)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


@pytest.fixture
def group(http: httpx.Client) -> dict[str, Any]:
    owner = make_user(http, "maire.teams")
    return make_group(http, "crise-teams", owner["id"])


def error_code(resp: httpx.Response) -> str:
    return str(resp.json()["error"]["code"])


# ---------------------------------------------------------------- PUT /groups/{id}/team


def test_put_team_creates_it_synchronously(
    es: EmbeddedSimulator, http: httpx.Client, group: dict[str, Any]
) -> None:
    resp = http.put(
        f"groups/{group['id']}/team",
        json={"memberSettings": {"allowDeleteChannels": False}},
    )
    assert resp.status_code == 201
    team = resp.json()
    assert team["id"] == group["id"]
    assert team["memberSettings"]["allowDeleteChannels"] is False
    assert team["memberSettings"]["allowCreateUpdateChannels"] is True
    for facet in ("guestSettings", "messagingSettings", "funSettings"):
        assert isinstance(team[facet], dict)
    got = http.get(f"teams/{group['id']}")
    assert got.status_code == 200
    assert got.json()["displayName"] == group["displayName"]
    assert got.json()["summary"]["ownersCount"] == 1
    assert http.get(f"groups/{group['id']}").json()["resourceProvisioningOptions"] == ["Team"]
    channels = http.get(f"teams/{group['id']}/channels").json()["value"]
    assert [c["displayName"] for c in channels] == ["General"]
    again = http.put(f"groups/{group['id']}/team", json={})
    assert again.status_code == 409
    assert error_code(again) == "Conflict"


def test_team_on_group_without_owner_fails(http: httpx.Client) -> None:
    orphan = make_group(http, "crise-noowner")
    resp = http.put(f"groups/{orphan['id']}/team", json={})
    assert resp.status_code == 400
    assert "owner" in resp.json()["error"]["message"].lower()


def test_team_on_unknown_group_is_404(http: httpx.Client) -> None:
    resp = http.put("groups/00000000-0000-4000-8000-00000000abcd/team", json={})
    assert resp.status_code == 404


def test_team_on_young_group_404s_until_replicated(
    es: EmbeddedSimulator, http: httpx.Client
) -> None:
    owner = make_user(http, "maire.young")
    es.set_profile(replication_lag_s=0.3)
    young = make_group(http, "crise-young", owner["id"])
    resp = http.put(f"groups/{young['id']}/team", json={})
    assert resp.status_code == 404
    assert error_code(resp) == "NotFound"
    assert http.get(f"teams/{young['id']}").status_code == 404
    time.sleep(0.35)
    assert http.put(f"groups/{young['id']}/team", json={}).status_code == 201


# ---------------------------------------------------------------- POST /teams (async)


def _post_team(http: httpx.Client, group_id: str) -> httpx.Response:
    return http.post(
        "teams",
        json={
            "template@odata.bind": f"{GRAPH}/teamsTemplates('standard')",
            "group@odata.bind": f"{GRAPH}/groups('{group_id}')",
        },
    )


def test_post_team_returns_202_and_operation_progresses_over_team_op_s(
    es: EmbeddedSimulator, http: httpx.Client, group: dict[str, Any]
) -> None:
    # The operation is followed on the simulator's clock (advanced by hand), not the wall
    # clock: a loaded machine cannot make a poll miss a phase. Each phase is a third of it.
    es.set_profile(team_op_s=300)
    resp = _post_team(http, group["id"])
    assert resp.status_code == 202
    assert resp.content == b""
    location = resp.headers["Location"]
    assert location.startswith(f"/teams('{group['id']}')/operations('")
    assert resp.headers["Content-Location"] == f"/teams('{group['id']}')"
    statuses = []
    elapsed = 0
    for offset in (0, 50, 150, 290, 310):  # seconds since the request, on the simulator clock
        es.advance(offset - elapsed)
        elapsed = offset
        op = http.get(location.lstrip("/"))
        assert op.status_code == 200
        body = op.json()
        statuses.append(body["status"])
        team = http.get(f"teams/{group['id']}").status_code
        assert team == (200 if body["status"] == "succeeded" else 404), (offset, body["status"])
    assert statuses == ["notStarted", "notStarted", "inProgress", "inProgress", "succeeded"]
    assert body["operationType"] == "createTeam"
    assert body["targetResourceId"] == group["id"]
    assert body["targetResourceLocation"] == f"/teams('{group['id']}')"
    assert body["attemptsCount"] == 1


def test_post_team_with_instant_profile_succeeds_at_once(
    http: httpx.Client, group: dict[str, Any]
) -> None:
    resp = _post_team(http, group["id"])
    op_id = resp.headers["Location"].split("operations('")[1].rstrip("')")
    op = http.get(f"teams/{group['id']}/operations/{op_id}").json()
    assert op["status"] == "succeeded"
    assert _post_team(http, group["id"]).status_code == 409


def test_post_team_without_group_bind_is_refused(http: httpx.Client) -> None:
    assert http.post("teams", json={"displayName": "x"}).status_code == 400


def test_list_and_patch_teams(http: httpx.Client, group: dict[str, Any]) -> None:
    assert http.put(f"groups/{group['id']}/team", json={}).status_code == 201
    teams = http.get("teams").json()["value"]
    assert {"id": group["id"], "displayName": group["displayName"],
            "description": "Cellule de crise"} in teams
    patch = http.patch(
        f"teams/{group['id']}", json={"messagingSettings": {"allowUserDeleteMessages": False}}
    )
    assert patch.status_code == 204
    team = http.get(f"teams/{group['id']}").json()
    assert team["messagingSettings"]["allowUserDeleteMessages"] is False
    assert http.patch(f"teams/{group['id']}", json={"id": "x"}).status_code == 400


# ---------------------------------------------------------------- channels


@pytest.fixture
def team_id(http: httpx.Client, group: dict[str, Any]) -> str:
    assert http.put(f"groups/{group['id']}/team", json={}).status_code == 201
    return str(group["id"])


def test_channel_create_list_filter_get_delete(
    es: EmbeddedSimulator, http: httpx.Client, team_id: str
) -> None:
    resp = http.post(
        f"teams/{team_id}/channels",
        json={"displayName": "Main courante", "description": "Journal",
              "membershipType": "standard"},
    )
    assert resp.status_code == 201
    channel = resp.json()
    assert channel["id"].startswith("19:") and channel["id"].endswith("@thread.tacv2")
    assert channel["membershipType"] == "standard"
    found = http.get(
        f"teams/{team_id}/channels", params={"$filter": "displayName eq 'Main courante'"}
    ).json()["value"]
    assert [c["id"] for c in found] == [channel["id"]]
    one = http.get(f"teams/{team_id}/channels/{channel['id']}")
    assert one.status_code == 200
    assert one.json()["description"] == "Journal"
    stored = [c for c in es.state()["channels"] if c["id"] == channel["id"]]
    assert stored[0]["teamId"] == team_id
    assert http.delete(f"teams/{team_id}/channels/{channel['id']}").status_code == 204
    assert http.get(f"teams/{team_id}/channels/{channel['id']}").status_code == 404


def test_channel_names_are_unique_per_team_case_insensitively(
    http: httpx.Client, team_id: str
) -> None:
    url = f"teams/{team_id}/channels"
    assert http.post(url, json={"displayName": "Logistique"}).status_code == 201
    dup = http.post(url, json={"displayName": "LOGISTIQUE"})
    assert dup.status_code == 400
    assert error_code(dup) == "NameAlreadyExists"
    general = http.post(url, json={"displayName": "general"})
    assert general.status_code == 400


@pytest.mark.parametrize("name", ["a/b", "_hidden", "trailing.", "x" * 51, "", "q?"])
def test_invalid_channel_names_are_refused(http: httpx.Client, team_id: str, name: str) -> None:
    assert http.post(f"teams/{team_id}/channels", json={"displayName": name}).status_code == 400


def test_general_channel_cannot_be_deleted(http: httpx.Client, team_id: str) -> None:
    general = http.get(f"teams/{team_id}/channels").json()["value"][0]
    resp = http.delete(f"teams/{team_id}/channels/{general['id']}")
    assert resp.status_code == 400


def test_channels_of_unknown_team_are_404(http: httpx.Client) -> None:
    resp = http.get("teams/00000000-0000-4000-8000-00000000beef/channels")
    assert resp.status_code == 404
    assert error_code(resp) == "NotFound"
