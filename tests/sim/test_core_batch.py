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
    assert all(float(r["headers"]["Retry-After"]) > 0 for r in throttled)  # may be "1.998"


# ---------------------------------------------------------------- documented rules


def _get(rid: str, depends: list[str] | None = None, url: str = "/users?$top=1") -> dict:
    req: dict = {"id": rid, "method": "GET", "url": url}
    if depends is not None:
        req["dependsOn"] = depends
    return req


def test_request_ids_are_compared_case_insensitively(sim):
    with sim.client() as c:
        dup = batch(c, [_get("Req"), _get("rEQ")])
        assert dup.status_code == 400 and error_code(dup) == "BadRequest"
        linked = batch(c, [_get("First"), _get("second", ["FIRST"])])
    assert linked.status_code == 200
    out = linked.json()["responses"]
    assert [r["id"] for r in out] == ["First", "second"]  # answered under the ids as sent
    assert all(r["status"] == 200 for r in out)


def test_depends_on_follows_the_documented_patterns(sim):
    with sim.client() as c:
        serial = batch(c, [_get("1"), _get("2", ["1"]), _get("4", ["2"]), _get("3", ["4"])])
        same = batch(c, [_get("a"), _get("b", ["a"]), _get("c", ["a"]), _get("d")])
        mixed = batch(c, [_get("a"), _get("b", ["a"]), _get("c"), _get("d", ["c"])])
        two = batch(c, [_get("a"), _get("b"), _get("c", ["a", "b"])])
        chain_and_free = batch(c, [_get("a"), _get("b", ["a"]), _get("c", ["b"]), _get("d")])
        self_ref = batch(c, [_get("a", ["a"])])
    assert serial.status_code == 200
    assert [r["id"] for r in serial.json()["responses"]] == ["1", "2", "4", "3"]
    assert same.status_code == 200
    for refused in (mixed, two, chain_and_free, self_ref):
        assert refused.status_code == 400 and error_code(refused) == "BadRequest", refused.text


def test_sub_request_fields_of_the_wrong_type_are_a_400_not_a_500(sim):
    bad_items = [
        {"id": "1", "method": "GET", "url": "/users", "headers": ["x"]},
        {"id": "1", "method": "GET", "url": "/users", "headers": {"ConsistencyLevel": None}},
        {"id": "1", "method": "GET", "url": "/users", "headers": {"X": {"y": 1}}},
        {"id": "1", "method": "GET", "url": "/users", "dependsOn": "0"},
        {"id": "1", "method": "GET", "url": "/users", "dependsOn": [7]},
        {"id": 1, "method": "GET", "url": "/users"},
        {"id": "1", "method": ["GET"], "url": "/users"},
    ]
    with sim.client() as c:
        for item in bad_items:
            resp = batch(c, [item])
            assert resp.status_code == 400, (item, resp.text)


def test_retry_after_carries_fractions_of_a_second_inside_batches_too(sim):
    sim.set_profile(throttle_rate=1.0, throttle_burst=1.0)
    with sim.client() as c:
        first = c.get("users?$top=1")
        second = c.get("users?$top=1")
        inner = batch(c, [_get("x")]).json()["responses"][0]
    assert first.status_code == 200
    assert second.status_code == 429
    header = second.headers["Retry-After"]
    assert 0 < float(header) <= 1 and header != str(int(float(header)))  # e.g. "0.998"
    assert inner["status"] == 429
    assert 0 < float(inner["headers"]["Retry-After"]) <= 1
