"""JSON batching: limits, dependencies, per-request outcomes, per-request throttling."""

from __future__ import annotations

from simhelp import create_user, error_code, user_body


def batch(client, requests):
    return client.post("$batch", json={"requests": requests})


def test_batch_runs_each_request_and_logs_it(sim):
    with sim.client() as c:
        user = create_user(c, "batch.one")
        resp = batch(
            c,
            [
                {"id": "1", "method": "GET", "url": f"/users/{user['id']}"},
                {"id": "2", "method": "GET", "url": "users?$select=id&$top=1"},
                {
                    "id": "3",
                    "method": "POST",
                    "url": "/users",
                    "headers": {"Content-Type": "application/json"},
                    "body": user_body("batch.two"),
                },
                {"id": "4", "method": "GET", "url": "/users/nobody@crise.ampmetropole.fr"},
            ],
        )
    assert resp.status_code == 200
    out = {r["id"]: r for r in resp.json()["responses"]}
    assert out["1"]["status"] == 200 and out["1"]["body"]["id"] == user["id"]
    assert len(out["2"]["body"]["value"]) == 1 and "@odata.nextLink" in out["2"]["body"]
    assert out["3"]["status"] == 201
    assert out["3"]["body"]["userPrincipalName"].startswith("batch.two")
    assert out["4"]["status"] == 404
    assert out["4"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    via = [e for e in sim.requests() if e.get("via") == "$batch"]
    assert [e["path"] for e in via] == [
        f"/users/{user['id']}",
        "/users",
        "/users",
        "/users/nobody@crise.ampmetropole.fr",
    ]
    assert any(e["path"] == "/$batch" and "via" not in e for e in sim.requests())


def test_more_than_20_or_duplicate_ids_refuse_the_whole_batch(sim):
    many = [{"id": str(i), "method": "GET", "url": "/users"} for i in range(21)]
    twice = [{"id": "1", "method": "GET", "url": "/users"}] * 2
    with sim.client() as c:
        too_many = batch(c, many)
        duplicated = batch(c, twice)
        twenty = batch(c, many[:20])
    assert too_many.status_code == 400 and error_code(too_many) == "BadRequest"
    assert duplicated.status_code == 400
    assert twenty.status_code == 200 and len(twenty.json()["responses"]) == 20
    assert not [e for e in sim.requests() if e.get("via") == "$batch" and e["status"] == 400]


def test_body_without_content_type_refuses_the_batch(sim):
    with sim.client() as c:
        resp = batch(c, [{"id": "1", "method": "POST", "url": "/users", "body": user_body("nb")}])
    assert resp.status_code == 400
    assert "nb@crise.ampmetropole.fr" not in [u["userPrincipalName"] for u in sim.state()["users"]]


def test_failed_dependency_gives_424_and_does_not_run(sim):
    with sim.client() as c:
        resp = batch(
            c,
            [
                {
                    "id": "a",
                    "method": "POST",
                    "url": "/users",
                    "headers": {"Content-Type": "application/json"},
                    "body": {"displayName": "incomplete"},
                },
                {
                    "id": "b",
                    "method": "POST",
                    "url": "/users",
                    "dependsOn": ["a"],
                    "headers": {"Content-Type": "application/json"},
                    "body": user_body("dep.b"),
                },
            ],
        )
    out = {r["id"]: r for r in resp.json()["responses"]}
    assert out["a"]["status"] == 400
    assert out["b"]["status"] == 424
    upns = [u["userPrincipalName"] for u in sim.state()["users"]]
    assert "dep.b@crise.ampmetropole.fr" not in upns


def test_unknown_dependency_refuses_the_batch(sim):
    with sim.client() as c:
        resp = batch(c, [{"id": "1", "method": "GET", "url": "/users", "dependsOn": ["9"]}])
    assert resp.status_code == 400


def test_absolute_sub_urls_are_refused_like_graph(sim):
    with sim.client() as c:
        resp = batch(
            c, [{"id": "1", "method": "GET", "url": f"{sim.base_url}/users"}]
        )
    assert resp.status_code == 200
    assert resp.json()["responses"][0]["status"] == 400


def test_each_sub_request_is_throttled_on_its_own(sim):
    sim.set_profile(throttle_rate=0.5, throttle_burst=3)
    with sim.client() as c:
        resp = batch(c, [{"id": str(i), "method": "GET", "url": "/users"} for i in range(5)])
    assert resp.status_code == 200
    statuses = {r["id"]: r["status"] for r in resp.json()["responses"]}
    assert sorted(statuses.values()) == [200, 200, 200, 429, 429]
    throttled = [r for r in resp.json()["responses"] if r["status"] == 429]
    assert all(int(r["headers"]["Retry-After"]) >= 1 for r in throttled)
