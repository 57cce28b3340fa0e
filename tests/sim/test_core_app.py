"""The simulator's HTTP surface: headers, errors, authentication, paths, the control API."""

from __future__ import annotations

import httpx
import pytest
from simhelp import create_user, error_code, user_body

from crisiskit.sim.server import EmbeddedSimulator


def test_every_response_has_request_id_and_echoes_client_request_id(sim):
    with sim.client() as c:
        ok = c.get("users", headers={"client-request-id": "abc-123"})
        missing = c.get("users/00000000-0000-0000-0000-00000000dead")
    assert ok.status_code == 200 and ok.headers["request-id"]
    assert ok.headers["client-request-id"] == "abc-123"
    assert missing.status_code == 404
    assert error_code(missing) == "Request_ResourceNotFound"
    assert "does not exist" in missing.json()["error"]["message"]
    assert missing.headers["request-id"] != ok.headers["request-id"]


def test_doubled_slash_and_key_syntax_are_tolerated(sim):
    with sim.client() as c:
        user = create_user(c, "slash.test")
        doubled = httpx.get(
            f"{sim.base_url}//users/{user['id']}", headers={"Authorization": "Bearer t"}
        )
        keyed = c.get(f"users('{user['id']}')")
    assert doubled.status_code == 200 and doubled.json()["id"] == user["id"]
    assert keyed.status_code == 200


def test_unknown_segment_is_a_graph_400(sim):
    with sim.client() as c:
        resp = c.get("nonexistentThings")
    assert resp.status_code == 400
    assert error_code(resp) == "BadRequest"


def test_missing_token_is_401(sim):
    resp = httpx.get(f"{sim.base_url}/users")
    assert resp.status_code == 401
    assert error_code(resp) == "InvalidAuthenticationToken"


def test_token_option_refuses_any_other_token(sample_inventory):
    with EmbeddedSimulator(sample_inventory, token="s3cret") as s:
        good = httpx.get(f"{s.base_url}/users", headers={"Authorization": "Bearer s3cret"})
        bad = httpx.get(f"{s.base_url}/users", headers={"Authorization": "Bearer other"})
        control = httpx.get(f"{s.root_url}/_sim/state")
    assert good.status_code == 200
    assert bad.status_code == 401 and error_code(bad) == "InvalidAuthenticationToken"
    assert control.status_code == 200  # the control API is not Graph and is loopback-only


def test_state_reports_links_and_requests_are_logged(sim):
    with sim.client() as c:
        user = create_user(c, "log.test")
        c.get(f"users/{user['id']}")
    state = sim.state()
    assert set(state) >= {
        "users",
        "groups",
        "teams",
        "driveItems",
        "authenticationMethods",
        "messages",
        "deletedItems",
        "subscribedSkus",
    }
    assert any(u["id"] == user["id"] for u in state["users"])
    decoy = next(g for g in state["groups"] if g["mailNickname"] == "crise-aubagne-old")
    assert decoy["owners"] and decoy["members"]
    log = sim.requests()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", "/users", 201),
        ("GET", f"/users/{user['id']}", 200),
    ]
    assert all(isinstance(e["time"], float) for e in log)


def test_reset_returns_to_the_seeded_tenant(sim):
    before = sim.state()
    with sim.client() as c:
        create_user(c, "reset.test")
    sim.set_profile(latency_ms=5)
    sim.reset()
    after = sim.state()
    assert [u["id"] for u in after["users"]] == [u["id"] for u in before["users"]]
    assert sim.requests() == []
    assert httpx.get(f"{sim.root_url}/_sim/profile").json()["latency_ms"] == 0
    # New ids after a reset must not collide with the seeded objects' ids.
    with sim.client() as c:
        create_user(c, "after.reset")
    ids = [u["id"] for u in sim.state()["users"]]
    assert len(ids) == len(set(ids)) == len(before["users"]) + 1


def test_control_profile_rejects_unknown_knobs_and_changes_nothing(sim):
    resp = httpx.put(f"{sim.root_url}/_sim/profile", json={"latency_ms": 5, "warp": 9})
    assert resp.status_code == 400 and "warp" in resp.json()["error"]
    assert httpx.get(f"{sim.root_url}/_sim/profile").json()["latency_ms"] == 0
    bad_rate = httpx.put(f"{sim.root_url}/_sim/profile", json={"drop_rate": 2})
    assert bad_rate.status_code == 400


def test_seed_adds_users_groups_messages_and_files(sim):
    created = sim.seed(
        {
            "users": [
                {"userPrincipalName": "seeded.one@crise.ampmetropole.fr", "usageLocation": "FR"}
            ],
            "groups": [
                {
                    "displayName": "Seeded",
                    "mailNickname": "seeded-group",
                    "owners": ["seeded.one@crise.ampmetropole.fr"],
                }
            ],
            "messages": [
                {
                    "user": "seeded.one@crise.ampmetropole.fr",
                    "subject": "Rançongiciel",
                    "from": "soc@example.org",
                    "body": "Bonjour",
                }
            ],
            "files": [
                {"group": "seeded-group", "path": "Main courante/a.txt", "contentBase64": "aGk="}
            ],
        }
    )
    assert {k: len(v) for k, v in created.items()} == {
        "users": 1,
        "groups": 1,
        "messages": 1,
        "files": 1,
    }
    state = sim.state()
    item = next(i for i in state["driveItems"] if i["id"] == created["files"][0])
    assert item["path"] == "Main courante/a.txt"
    assert state["messages"][0]["userId"] == created["users"][0]
    bad = httpx.post(f"{sim.root_url}/_sim/seed", json={"users": [{"displayName": "x"}]})
    assert bad.status_code == 400 and "users[0]" in bad.json()["error"]


def test_me_is_refused_app_only(sim):
    with sim.client() as c:
        resp = c.get("me")
    assert resp.status_code == 400


@pytest.mark.parametrize("body", [b"{not json", b"[1,"])
def test_malformed_json_is_400(sim, body):
    with sim.client() as c:
        resp = c.post("users", content=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert error_code(resp) == "BadRequest"
    assert user_body("x")  # the helper is valid JSON-able input


def test_paths_outside_v1_are_not_served(sim):
    resp = httpx.get(f"{sim.root_url}/users", headers={"Authorization": "Bearer t"})
    beta = httpx.get(f"{sim.root_url}/beta/users", headers={"Authorization": "Bearer t"})
    assert resp.status_code == 400 and "Invalid version" in resp.text
    assert beta.status_code == 400
