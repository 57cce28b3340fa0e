"""JSON `$batch` and paging: chunking, per-id throttling, ambiguity of batched writes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from graph_scripted import DROP, Reply, Seen, drive, graph_error, ok

from crisiskit.graph import BatchItem, GraphError, RetryPolicy
from crisiskit.secrets import Secret

SubHandler = Callable[[dict[str, Any], int], dict[str, Any]]


def batch_server(sub: SubHandler) -> Callable[[Seen], Reply]:
    """Answer each `$batch` call by applying `sub(sub_request, call_number)` to every item."""
    calls = {"n": 0}

    def handler(seen: Seen) -> Reply:
        assert seen.path == "/v1.0/$batch", seen.path
        calls["n"] += 1
        responses = [sub(r, calls["n"]) for r in seen.json()["requests"]]
        return ok({"responses": list(reversed(responses))})  # any order, as Graph may

    return handler


def created(r: dict[str, Any], _: int) -> dict[str, Any]:
    return {"id": r["id"], "status": 201, "headers": {}, "body": {"id": f"obj-{r['id']}"}}


def sent_ids(seen: Seen) -> list[str]:
    return [r["id"] for r in seen.json()["requests"]]


def test_45_items_travel_in_3_batches_of_at_most_20(serve: Any) -> None:
    server = serve(batch_server(created))
    items = [BatchItem(str(i), "POST", "/users", body={"n": i}) for i in range(45)]
    results, graph = drive(server, lambda g: g.batch(items))
    assert sorted(len(sent_ids(s)) for s in server.requests) == [5, 20, 20]
    assert set(results) == {str(i) for i in range(45)}
    assert all(r.status == 201 and r.body == {"id": f"obj-{i}"} for i, r in results.items())
    assert (graph.stats.batches, graph.stats.sub_requests, graph.stats.http_requests) == (3, 45, 3)


def test_sub_requests_are_relative_with_json_bodies_and_depends_on(serve: Any) -> None:
    server = serve(batch_server(created))
    items = [
        BatchItem("u", "POST", "/users", body={"password": Secret("s3cret!")}),
        BatchItem("l", "POST", "/users/x/assignLicense", body={"addLicenses": []},
                  depends_on=("u",)),
        BatchItem("g", "GET", "https://ignored/v1.0/users/y"),
    ]
    with pytest.raises(GraphError, match="outside"):
        drive(server, lambda g: g.batch(items))
    items[2] = BatchItem("g", "GET", "/users?$filter=mailNickname eq 'a'")
    drive(server, lambda g: g.batch(items))
    subs = {r["id"]: r for r in server.requests[-1].json()["requests"]}
    assert subs["u"] == {
        "id": "u",
        "method": "POST",
        "url": "/users",
        "headers": {"Content-Type": "application/json"},
        "body": {"password": "s3cret!"},
    }
    assert subs["l"]["dependsOn"] == ["u"]
    assert subs["g"] == {
        "id": "g", "method": "GET", "url": "/users?$filter=mailNickname%20eq%20'a'"
    }


def test_depends_on_groups_stay_in_one_batch(serve: Any) -> None:
    server = serve(batch_server(created))
    items = [BatchItem(f"a{i}", "GET", f"/users/a{i}") for i in range(19)]
    items += [BatchItem("p", "POST", "/groups"), BatchItem("c", "PUT", "/groups/x/team",
                                                           depends_on=("p",))]
    drive(server, lambda g: g.batch(items))
    batches = [set(sent_ids(s)) for s in server.requests]
    assert any({"p", "c"} <= b for b in batches)
    assert all(len(b) <= 20 for b in batches)


def test_each_call_has_one_of_the_dependency_shapes_graph_accepts(serve: Any) -> None:
    """json-batching: parallel, serial, or every dependent item on the same one."""
    server = serve(batch_server(created))
    items = [BatchItem("a", "POST", "/groups"), BatchItem("a2", "PUT", "/x", depends_on=("a",))]
    items += [BatchItem("b", "POST", "/groups"), BatchItem("b2", "PUT", "/y", depends_on=("b",))]
    items += [BatchItem("c1", "POST", "/users"), BatchItem("c2", "GET", "/z", depends_on=("c1",)),
              BatchItem("c3", "GET", "/w", depends_on=("c2",))]
    items += [BatchItem("free", "GET", "/users")]
    drive(server, lambda g: g.batch(items))
    for sent in server.requests:
        subs = sent.json()["requests"]
        deps = [tuple(r.get("dependsOn", ())) for r in subs]
        stated = {d for ds in deps for d in ds}
        serial = all(deps[i] == (subs[i - 1]["id"],) for i in range(1, len(subs)))
        assert not stated or len(stated) == 1 or serial, subs
    chain = [set(sent_ids(s)) for s in server.requests if "c3" in sent_ids(s)]
    assert chain == [{"c1", "c2", "c3"}]  # a chain travels alone


def test_invalid_batches_are_refused_before_any_request(serve: Any) -> None:
    server = serve(batch_server(created))
    with pytest.raises(ValueError, match="unique"):
        drive(server, lambda g: g.batch([BatchItem("a", "GET", "/x"), BatchItem("a", "GET", "/y")]))
    with pytest.raises(ValueError, match="unique"):  # Graph compares ids case-insensitively
        drive(server, lambda g: g.batch([BatchItem("a", "GET", "/x"), BatchItem("A", "GET", "/y")]))
    with pytest.raises(ValueError, match="unknown"):
        drive(server, lambda g: g.batch([BatchItem("a", "GET", "/x", depends_on=("z",))]))
    assert server.requests == []


def test_only_throttled_ids_are_resent_after_the_longest_retry_after(serve: Any) -> None:
    def sub(r: dict[str, Any], call: int) -> dict[str, Any]:
        if call == 1 and r["id"] in ("2", "3"):
            wait = "1" if r["id"] == "3" else "0"
            return {"id": r["id"], "status": 429, "headers": {"Retry-After": wait},
                    "body": {"error": {"code": "TooManyRequests", "message": "x"}}}
        return created(r, call)

    server = serve(batch_server(sub))
    items = [BatchItem(str(i), "POST", "/users", body={"n": i}) for i in range(5)]
    results, graph = drive(server, lambda g: g.batch(items))
    first, second = server.requests
    assert sent_ids(first) == ["0", "1", "2", "3", "4"]
    assert sorted(sent_ids(second)) == ["2", "3"]
    assert 0.95 <= second.at - first.at < 1.6
    assert all(r.status == 201 for r in results.values())
    assert graph.stats.throttled == 2 and graph.stats.sub_requests == 7


def test_dependents_of_a_throttled_item_are_resent_with_it(serve: Any) -> None:
    def sub(r: dict[str, Any], call: int) -> dict[str, Any]:
        if call == 1 and r["id"] == "u":
            return {"id": "u", "status": 429, "headers": {"Retry-After": "0"}, "body": None}
        if call == 1 and r["id"] == "l":
            return {"id": "l", "status": 424, "headers": {}, "body": None}
        return created(r, call)

    server = serve(batch_server(sub))
    items = [BatchItem("u", "POST", "/users"),
             BatchItem("l", "POST", "/users/u/assignLicense", depends_on=("u",)),
             BatchItem("x", "GET", "/users/x")]
    results, _ = drive(server, lambda g: g.batch(items))
    assert sorted(sent_ids(server.requests[1])) == ["l", "u"]
    assert server.requests[1].json()["requests"][1]["dependsOn"] == ["u"]
    assert {k: r.status for k, r in results.items()} == {"u": 201, "l": 201, "x": 201}


def test_sub_503_marks_a_post_ambiguous_but_retries_a_get(serve: Any) -> None:
    def sub(r: dict[str, Any], call: int) -> dict[str, Any]:
        if call == 1:
            return {"id": r["id"], "status": 503, "headers": {}, "body": None}
        return {"id": r["id"], "status": 200, "headers": {}, "body": {"ok": True}}

    server = serve(batch_server(sub))
    writes: list[tuple[str, str, int, str | None]] = []
    items = [BatchItem("post", "POST", "/users", body={}), BatchItem("get", "GET", "/users/a")]
    results, graph = drive(server, lambda g: g.batch(items), on_write=lambda *a: writes.append(a))
    assert results["post"].ambiguous and results["post"].status == 503
    assert results["get"].status == 200 and not results["get"].ambiguous
    assert sent_ids(server.requests[1]) == ["get"]  # the POST is never resent blind
    assert writes == [("POST", "/users", 503, "rid-1")]
    assert graph.stats.ambiguous == 1


@pytest.mark.parametrize("failure", ["503", "drop"])
def test_whole_batch_failure_retries_reads_and_marks_writes_ambiguous(
    serve: Any, failure: str
) -> None:
    calls = {"n": 0}
    good = batch_server(created)

    def handler(seen: Seen) -> Reply:
        calls["n"] += 1
        if calls["n"] == 1:
            return DROP if failure == "drop" else graph_error(503, "serviceNotAvailable", "x")
        return good(seen)

    server = serve(handler)
    items = [BatchItem("w", "POST", "/groups", body={}), BatchItem("r", "GET", "/groups/a"),
             BatchItem("d", "DELETE", "/groups/b")]
    results, _ = drive(server, lambda g: g.batch(items))
    assert results["w"].ambiguous and results["w"].status == (503 if failure == "503" else 0)
    assert sorted(sent_ids(server.requests[1])) == ["d", "r"]
    assert results["r"].status == 201 and results["d"].status == 201


def test_whole_batch_429_resends_everything_after_retry_after(serve: Any) -> None:
    calls = {"n": 0}
    good = batch_server(created)

    def handler(seen: Seen) -> Reply:
        calls["n"] += 1
        if calls["n"] == 1:
            return graph_error(429, "TooManyRequests", "x", **{"Retry-After": "1"})
        return good(seen)

    server = serve(handler)
    results, _ = drive(server, lambda g: g.batch([BatchItem("a", "POST", "/users")]))
    first, second = server.requests
    assert results["a"].status == 201 and 0.95 <= second.at - first.at < 1.6


def test_throttling_that_outlasts_the_budget_returns_the_429(serve: Any) -> None:
    def sub(r: dict[str, Any], call: int) -> dict[str, Any]:
        return {"id": r["id"], "status": 429, "headers": {"Retry-After": "0"}, "body": None}

    server = serve(batch_server(sub))
    policy = RetryPolicy(3, 5.0, 0.01, max_throttled=3)
    results, _ = drive(server, lambda g: g.batch([BatchItem("a", "GET", "/x")]), policy=policy)
    assert results["a"].status == 429 and len(server.requests) == 3


def test_throttled_rounds_do_not_use_up_the_attempts(serve: Any) -> None:
    """A 429 was not processed: five of them in a row still leave every attempt available."""

    def sub(r: dict[str, Any], call: int) -> dict[str, Any]:
        if call <= 5:
            return {"id": r["id"], "status": 429, "headers": {"Retry-After": "0.01"}, "body": None}
        return {"id": r["id"], "status": 200, "headers": {}, "body": {"id": "x"}}

    server = serve(batch_server(sub))
    policy = RetryPolicy(3, 5.0, 0.01)
    results, _ = drive(server, lambda g: g.batch([BatchItem("a", "GET", "/x")]), policy=policy)
    assert results["a"].status == 200 and len(server.requests) == 6


def test_get_all_follows_next_links_and_resends_headers(serve: Any) -> None:
    pages: dict[str, Any] = {}

    def handler(seen: Seen) -> Reply:
        return ok(pages[seen.target])

    server = serve(handler)
    base = server.base_url
    pages["/v1.0/users?$filter=x&$count=true"] = {"value": [1, 2], "@odata.nextLink":
                                                  f"{base}/users?$skiptoken=p2"}
    pages["/v1.0/users?$skiptoken=p2"] = {"value": [3], "@odata.nextLink":
                                          f"{base}/users?$skiptoken=p3"}
    pages["/v1.0/users?$skiptoken=p3"] = {"value": [4]}
    eventual = {"ConsistencyLevel": "eventual"}
    items, _ = drive(server, lambda g: g.get_all("/users?$filter=x&$count=true", headers=eventual))
    assert items == [1, 2, 3, 4]
    assert [s.headers.get("consistencylevel") for s in server.requests] == ["eventual"] * 3


def test_get_all_stops_on_a_paging_loop(serve: Any) -> None:
    server = serve(lambda s: ok({"value": [1], "@odata.nextLink": f"{base}/users"}))
    base = server.base_url
    with pytest.raises(GraphError, match="paging"):
        drive(server, lambda g: g.get_all("/users"))
    assert len(server.requests) == 2


def test_batches_run_concurrently(serve: Any) -> None:
    def handler(seen: Seen) -> Reply:
        reply = batch_server(created)(seen)
        reply.delay_s = 0.3
        return reply

    server = serve(handler)
    items = [BatchItem(str(i), "GET", f"/users/{i}") for i in range(80)]
    started = time.monotonic()
    drive(server, lambda g: g.batch(items))
    assert time.monotonic() - started < 0.3 * 4 - 0.2  # 4 calls of 0.3 s, overlapped
    assert max(s.in_flight for s in server.requests) >= 2


def test_answers_already_received_survive_a_deadline(serve: Any) -> None:
    def sub(r: dict[str, Any], call: int) -> dict[str, Any]:
        if r["id"] == "slow":
            return {"id": "slow", "status": 429, "headers": {"Retry-After": "30"}, "body": None}
        return created(r, call)

    server = serve(batch_server(sub))
    items = [BatchItem("made", "POST", "/users"), BatchItem("slow", "POST", "/users")]
    started = time.monotonic()
    results, _ = drive(server, lambda g: g.batch(items, deadline_s=1.0))
    assert time.monotonic() - started < 1.5
    assert results["made"].status == 201 and results["made"].body == {"id": "obj-made"}
    assert results["slow"].status == 429
    assert len(server.requests) == 1


def test_a_refused_batch_answers_every_item(serve: Any) -> None:
    server = serve(lambda s: graph_error(403, "Authorization_RequestDenied", "no"))
    writes: list[tuple[str, str, int, str | None]] = []
    items = [BatchItem("a", "POST", "/users"), BatchItem("b", "GET", "/users/b")]
    results, _ = drive(server, lambda g: g.batch(items), on_write=lambda *a: writes.append(a))
    assert {k: (r.status, r.code) for k, r in results.items()} == {
        "a": (403, "Authorization_RequestDenied"),
        "b": (403, "Authorization_RequestDenied"),
    }
    assert writes == [("POST", "/users", 403, "rid-1")]
    assert len(server.requests) == 1


def test_a_dependent_of_an_ambiguous_write_is_not_resent_alone(serve: Any) -> None:
    calls = {"n": 0}
    good = batch_server(created)

    def handler(seen: Seen) -> Reply:
        calls["n"] += 1
        return graph_error(503, "serviceNotAvailable", "x") if calls["n"] == 1 else good(seen)

    server = serve(handler)
    items = [
        BatchItem("group", "POST", "/groups", body={}),
        BatchItem("team", "PUT", "/groups/g/team", body={}, depends_on=("group",)),
        BatchItem("read", "GET", "/groups/other"),
    ]
    results, _ = drive(server, lambda g: g.batch(items))
    assert results["group"].ambiguous
    assert results["team"].status == 424 and results["team"].code == "failedDependency"
    assert sent_ids(server.requests[1]) == ["read"]


def test_items_that_never_got_a_slot_come_back_unsent_at_the_deadline(serve: Any) -> None:
    def handler(seen: Seen) -> Reply:
        reply = batch_server(created)(seen)
        reply.delay_s = 2.0
        return reply

    server = serve(handler)
    items = [BatchItem(f"r{i}", "GET", f"/users/{i}") for i in range(21)]
    started = time.monotonic()
    results, _ = drive(server, lambda g: g.batch(items, deadline_s=0.5), max_concurrency=1)
    assert time.monotonic() - started < 1.5
    assert len(server.requests) == 1  # the second call never got a slot
    assert {r.status for r in results.values()} == {0}
    codes = [r.code for r in results.values()]
    assert codes.count("deadlineExceeded") == 1 and len(results) == 21
