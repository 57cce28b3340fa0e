"""Single requests through the Graph door: wire format, retries, ambiguity, errors, deadlines."""

from __future__ import annotations

import socket
import time
import traceback
from typing import Any

import pytest
from graph_scripted import DROP, FAST, TOKEN, Reply, ScriptedServer, Seen, drive, graph_error, ok

from crisiskit.graph import AmbiguousWrite, Graph, GraphError, RetryPolicy, open_graph
from crisiskit.secrets import Secret

PASSWORD = "Pw-Zq81!never-in-logs"


def user_body() -> dict[str, Any]:
    return {
        "accountEnabled": True,
        "displayName": "Jean Dupont (Aubagne)",
        "mailNickname": "jean.dupont",
        "userPrincipalName": "jean.dupont@crise.example.fr",
        "passwordProfile": {"password": Secret(PASSWORD), "forceChangePasswordNextSignIn": True},
    }


def test_get_goes_through_the_sdk_adapter_with_the_bearer_token(serve: Any) -> None:
    server = serve(lambda r: ok({"id": "u1", "displayName": "Élise"}))
    resp, graph = drive(server, lambda g: g.request("GET", "/users/u1?$select=id,displayName"))
    assert resp.status == 200
    assert resp.body == {"id": "u1", "displayName": "Élise"}
    assert resp.request_id == "rid-1"
    (seen,) = server.requests
    assert seen.target == "/v1.0/users/u1?$select=id,displayName"  # no "//", $ not escaped
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert "kiota-python" in seen.headers["user-agent"]  # the SDK middleware pipeline ran
    assert graph.stats.http_requests == 1 and graph.stats.writes == 0


def test_spaces_and_hash_in_paths_are_percent_encoded(serve: Any) -> None:
    server = serve(lambda r: ok({"value": []}))
    drive(server, lambda g: g.request("GET", "/users?$filter=mailNickname eq 'a#b'"))
    assert server.requests[0].target == "/v1.0/users?$filter=mailNickname%20eq%20'a%23b'"


def test_retry_after_is_honoured_then_the_request_succeeds(serve: Any) -> None:
    replies = iter([graph_error(429, "TooManyRequests", "slow down", **{"Retry-After": "1"})])
    server = serve(lambda r: next(replies, ok({"id": "u1"})))
    resp, graph = drive(server, lambda g: g.request("GET", "/users/u1"))
    assert resp.status == 200
    first, second = server.requests
    assert 0.95 <= second.at - first.at < 1.6
    assert graph.stats.throttled == 1 and graph.stats.retries == 1
    assert graph.stats.http_requests == 2


def test_a_throttled_post_is_retried_because_429_means_not_processed(serve: Any) -> None:
    replies = iter([graph_error(429, "TooManyRequests", "slow down", **{"Retry-After": "0"})])
    server = serve(lambda r: next(replies, ok({"id": "new"}, status=201)))
    resp, _ = drive(server, lambda g: g.request("POST", "/users", body=user_body()))
    assert resp.status == 201
    assert len(server.of("POST", "/users")) == 2


def test_post_answered_503_is_ambiguous_and_never_sent_twice(serve: Any) -> None:
    server = serve(lambda r: graph_error(503, "serviceNotAvailable", "try later"))
    writes: list[tuple[str, str, int, str | None]] = []

    async def scenario(graph: Graph) -> None:
        await graph.request("POST", "/users", body=user_body())

    with pytest.raises(AmbiguousWrite) as caught:
        drive(server, scenario, on_write=lambda *a: writes.append(a))
    assert len(server.of("POST")) == 1
    assert caught.value.status == 503 and caught.value.request_id == "rid-1"
    assert writes == [("POST", "/users", 503, "rid-1")]


def test_post_whose_connection_drops_is_ambiguous_and_never_sent_twice(serve: Any) -> None:
    server = serve(lambda r: DROP)
    stats: dict[str, int] = {}

    async def scenario(graph: Graph) -> None:
        try:
            await graph.request("POST", "/users", body=user_body())
        finally:
            stats.update(vars(graph.stats))

    with pytest.raises(AmbiguousWrite, match="connection dropped"):
        drive(server, scenario)
    assert len(server.requests) == 1
    assert stats["ambiguous"] == 1


def test_get_answered_503_is_retried(serve: Any) -> None:
    replies = iter([graph_error(503, "serviceNotAvailable", "x")] * 2)
    server = serve(lambda r: next(replies, ok({"id": "u1"})))
    resp, graph = drive(server, lambda g: g.request("GET", "/users/u1"))
    assert resp.status == 200 and len(server.requests) == 3
    assert graph.stats.retries == 2


def test_get_whose_connection_drops_is_retried(serve: Any) -> None:
    replies = iter([DROP])
    server = serve(lambda r: next(replies, ok({"id": "u1"})))
    resp, _ = drive(server, lambda g: g.request("GET", "/users/u1"))
    assert resp.status == 200 and len(server.requests) == 2


def test_patch_of_properties_is_retried_but_patch_adding_members_is_not(serve: Any) -> None:
    server = serve(lambda r: graph_error(504, "gatewayTimeout", "x"))

    async def patch_props(graph: Graph) -> None:
        await graph.request("PATCH", "/users/u1", body={"usageLocation": "FR"})

    with pytest.raises(GraphError) as caught:
        drive(server, patch_props, policy=RetryPolicy(3, 10.0, 0.01, 0.02))
    assert not isinstance(caught.value, AmbiguousWrite)
    assert len(server.of("PATCH")) == 3

    async def add_members(graph: Graph) -> None:
        body = {"members@odata.bind": ["https://graph.microsoft.com/v1.0/directoryObjects/u2"]}
        await graph.request("PATCH", "/groups/g1", body=body)

    with pytest.raises(AmbiguousWrite):
        drive(server, add_members, policy=RetryPolicy(3, 10.0, 0.01, 0.02))
    assert len(server.of("PATCH", "/groups/g1")) == 1


def test_post_that_could_not_connect_is_retried_not_ambiguous() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: connections are refused

    async def scenario() -> None:
        graph = open_graph(
            None,
            base_url=f"http://127.0.0.1:{port}/v1.0",
            token=TOKEN,
            policy=RetryPolicy(3, 5.0, 0.01, 0.02),
        )
        try:
            await graph.request("POST", "/users", body={"a": 1})
        finally:
            assert graph.stats.http_requests == 3
            await graph.aclose()

    import asyncio

    with pytest.raises(GraphError) as caught:
        asyncio.run(scenario())
    assert not isinstance(caught.value, AmbiguousWrite)
    assert caught.value.code == "noResponse"


def test_graph_errors_carry_status_code_message_and_request_id(serve: Any) -> None:
    server = serve(
        lambda r: graph_error(
            400,
            "Request_BadRequest",
            "Another object with the same value for property userPrincipalName already exists.",
        )
    )
    with pytest.raises(GraphError) as caught:
        drive(server, lambda g: g.request("POST", "/users", body=user_body()))
    err = caught.value
    assert (err.status, err.code, err.request_id) == (400, "Request_BadRequest", "rid-1")
    assert "userPrincipalName already exists" in err.message
    assert err.exit_code == 1
    assert str(err).startswith("Graph POST /users: 400 Request_BadRequest: ")


def test_expected_statuses_are_returned_instead_of_raised(serve: Any) -> None:
    server = serve(lambda r: graph_error(404, "Request_ResourceNotFound", "gone"))
    resp, _ = drive(server, lambda g: g.request("GET", "/users/x", expect=(404,)))
    assert resp.status == 404 and resp.code == "Request_ResourceNotFound"
    assert len(server.requests) == 1  # 404s are not retried here: the engine waits for consistency


def test_secrets_reach_the_wire_and_nowhere_else(serve: Any) -> None:
    server = serve(lambda r: graph_error(400, "Request_BadRequest", "password too weak"))
    with pytest.raises(GraphError) as caught:
        drive(server, lambda g: g.request("POST", "/users", body=user_body()))
    sent = server.requests[0]
    assert sent.json()["passwordProfile"]["password"] == PASSWORD
    assert sent.headers["content-type"] == "application/json"
    shown = "".join(traceback.format_exception(caught.value)) + repr(caught.value)
    assert PASSWORD not in shown and TOKEN not in shown


def test_ambiguous_write_messages_hold_no_secret(serve: Any) -> None:
    server = serve(lambda r: DROP)
    with pytest.raises(AmbiguousWrite) as caught:
        drive(server, lambda g: g.request("POST", "/users", body=user_body()))
    shown = "".join(traceback.format_exception(caught.value)) + repr(caught.value)
    assert PASSWORD not in shown and TOKEN not in shown and "Bearer" not in shown


def test_temporary_access_pass_comes_back_as_a_secret(serve: Any) -> None:
    tap = "Xk9#mP2q"
    server = serve(lambda r: ok({"id": "m1", "temporaryAccessPass": tap}, status=201))
    resp, _ = drive(
        server,
        lambda g: g.request(
            "POST",
            "/users/u1/authentication/temporaryAccessPassMethods",
            body={"lifetimeInMinutes": 60, "isUsableOnce": False},
        ),
    )
    secret = resp.body["temporaryAccessPass"]
    assert isinstance(secret, Secret) and secret.reveal() == tap
    assert tap not in repr(resp) and tap not in str(resp.body)


def test_slow_get_gives_up_at_its_deadline(serve: Any) -> None:
    server = serve(lambda r: Reply(200, {"id": "u1"}, delay_s=3.0))
    started = time.monotonic()
    with pytest.raises(GraphError) as caught:
        drive(server, lambda g: g.request("GET", "/users/u1", deadline_s=0.5))
    assert time.monotonic() - started < 1.5
    assert caught.value.status == 0 and not isinstance(caught.value, AmbiguousWrite)


def test_slow_post_at_its_deadline_is_ambiguous(serve: Any) -> None:
    server = serve(lambda r: Reply(201, {"id": "u1"}, delay_s=3.0))
    started = time.monotonic()
    with pytest.raises(AmbiguousWrite):
        drive(server, lambda g: g.request("POST", "/users", body={"a": 1}, deadline_s=0.5))
    assert time.monotonic() - started < 1.5
    assert len(server.requests) == 1


def test_fractional_retry_after_is_honoured_and_429s_do_not_use_up_attempts(serve: Any) -> None:
    """Graph sends Retry-After with fractions (2.128); a 429 was not processed, so five in
    a row leave a 3-attempt policy every attempt."""
    throttle = graph_error(429, "TooManyRequests", "x", **{"Retry-After": "0.25"})
    replies = iter([throttle] * 5)
    server = serve(lambda r: next(replies, ok({"id": "u1"})))
    resp, _ = drive(
        server, lambda g: g.request("GET", "/users/u1"), policy=RetryPolicy(3, 10.0, 0.01)
    )
    assert resp.status == 200 and len(server.requests) == 6
    gaps = [b.at - a.at for a, b in zip(server.requests, server.requests[1:], strict=False)]
    assert all(gap >= 0.24 for gap in gaps), gaps


def test_throttled_answers_are_bounded_by_max_throttled(serve: Any) -> None:
    """429s are not attempts, but they are not endless either: `max_throttled` ends them."""
    server = serve(lambda r: graph_error(429, "TooManyRequests", "x", **{"Retry-After": "0.01"}))
    policy = RetryPolicy(3, 10.0, 0.01, max_throttled=4)
    with pytest.raises(GraphError, match="throttled 4 times") as caught:
        drive(server, lambda g: g.request("GET", "/users"), policy=policy)
    assert caught.value.status == 429 and len(server.requests) == 4


def test_a_5xx_is_an_attempt_between_429s_that_are_not(serve: Any) -> None:
    """Only answers the service processed use up attempts: 503, 429, 429, 503 is 2 of 2."""
    unavailable = graph_error(503, "serviceNotAvailable", "x")
    throttle = graph_error(429, "TooManyRequests", "x", **{"Retry-After": "0.01"})
    replies = iter([unavailable, throttle, throttle, unavailable])
    server = serve(lambda r: next(replies, ok({"id": "u1"})))
    with pytest.raises(GraphError) as caught:
        drive(server, lambda g: g.request("GET", "/users"), policy=RetryPolicy(2, 10.0, 0.01))
    assert caught.value.status == 503 and len(server.requests) == 4


def test_retry_after_longer_than_the_deadline_fails_at_once(serve: Any) -> None:
    server = serve(lambda r: graph_error(429, "TooManyRequests", "x", **{"Retry-After": "30"}))
    started = time.monotonic()
    with pytest.raises(GraphError) as caught:
        drive(server, lambda g: g.request("GET", "/users", deadline_s=2.0))
    assert time.monotonic() - started < 1.0
    assert caught.value.status == 429 and len(server.requests) == 1


def test_retries_stop_at_max_attempts(serve: Any) -> None:
    server = serve(lambda r: graph_error(503, "serviceNotAvailable", "x"))
    with pytest.raises(GraphError) as caught:
        drive(server, lambda g: g.request("GET", "/users"), policy=RetryPolicy(3, 10.0, 0.01))
    assert caught.value.status == 503 and len(server.requests) == 3


def test_on_write_sees_writes_only_with_their_request_ids(serve: Any) -> None:
    def handler(r: Seen) -> Reply:
        return ok(None, status=204) if r.method == "DELETE" else ok({"id": "x"})

    server = serve(handler)
    writes: list[tuple[str, str, int, str | None]] = []

    async def scenario(graph: Graph) -> None:
        await graph.request("GET", "/users/x")
        await graph.request("DELETE", "/users/x")

    _, graph = drive(server, scenario, on_write=lambda *a: writes.append(a))
    assert writes == [("DELETE", "/users/x", 204, "rid-2")]
    assert graph.stats.writes == 1


def test_typed_sdk_calls_are_not_retried_blind_either(serve: Any) -> None:
    """The SDK's RetryHandler is off client-wide: a typed POST on 503 is sent once."""
    server = serve(lambda r: graph_error(503, "serviceNotAvailable", "x"))

    async def scenario(graph: Graph) -> None:
        from msgraph.generated.models.group import Group

        await graph.sdk.groups.post(Group(display_name="x", mail_nickname="x"))

    with pytest.raises(Exception) as caught:
        drive(server, scenario)
    assert getattr(caught.value, "response_status_code", None) == 503
    assert len(server.of("POST")) == 1


def test_links_outside_the_graph_origin_are_refused(serve: Any) -> None:
    elsewhere: ScriptedServer = serve(lambda r: ok({"value": []}))
    server = serve(lambda r: ok({"value": [1], "@odata.nextLink": f"{elsewhere.base_url}/users"}))
    with pytest.raises(GraphError, match="outside"):
        drive(server, lambda g: g.get_all("/users"))
    assert elsewhere.requests == []  # the token never left for another host


def test_fast_policy_is_what_the_tests_assume() -> None:
    assert FAST.max_attempts >= 3 and FAST.base_delay_s <= 0.05


def test_aclose_leaves_no_socket_open(serve: Any) -> None:
    """msgraph-core's transport wrapper forgets to close its pool; the Graph door does not."""
    import gc
    import warnings

    server = serve(lambda r: ok({"id": "u1"}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        drive(server, lambda g: g.request("GET", "/users/u1"))
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_graph_is_an_async_context_manager(serve: Any) -> None:
    import asyncio

    server = serve(lambda r: ok({"id": "u1"}))

    async def scenario() -> int:
        async with open_graph(None, base_url=server.base_url, token=TOKEN) as graph:
            await graph.request("GET", "/users/u1")
        with pytest.raises(RuntimeError):  # closed: the pool refuses new requests
            await graph.request("GET", "/users/u1")
        return len(server.requests)

    assert asyncio.run(scenario()) == 1
