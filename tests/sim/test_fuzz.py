"""Fuzzing the simulator's parsers: whatever a client sends, the answer is never a 5xx.

Requests go to the ASGI application directly (no socket, so hundreds per second): every
registered route with random path parameters, OData query options, headers and bodies (JSON of
any shape, invalid JSON, NaN and Infinity, nesting far too deep, `$batch` payloads with
sub-requests of every wrong type) and the control API with bodies of the wrong types.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crisiskit.sim.app import SimApp
from crisiskit.sim.server import build_simulator

ASCII = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
TRICKY = [
    "", "'", "''", "(", ")", "((((", "not", "not not not", "eq", " and ", "any(", "x/any(y:",
    "2021-13-45", "2021-01-01T25:61:61Z", "9" * 400, "-", "/", "$count", "null", "\x00",
    "é", "💥", "' or 1 eq 1 or '", "startswith(", "id eq", "in ()", "a/$count eq",
]
FILTERS = st.one_of(
    ASCII,
    st.sampled_from(TRICKY),
    st.lists(st.sampled_from(TRICKY + ["displayName eq 'x'", "id eq 'y'"]), max_size=8).map(
        " ".join
    ),
    st.integers(1, 400).map(lambda n: "(" * n + "id eq 'x'" + ")" * n),
    st.integers(1, 400).map(lambda n: "not " * n + "accountEnabled eq true"),
    st.integers(1, 300).map(lambda n: " and ".join(["id eq 'x'"] * n)),
)
PROPS = [
        "displayName", "mailNickname", "userPrincipalName", "accountEnabled", "passwordProfile",
        "members@odata.bind", "owners@odata.bind", "groupTypes", "mailEnabled",
        "securityEnabled", "visibility", "description", "jobTitle", "usageLocation",
        "addLicenses", "removeLicenses", "skuId", "@odata.id", "requests", "id", "method",
        "url", "headers", "body", "dependsOn", "lifetimeInMinutes", "isUsableOnce",
        "phoneNumber", "phoneType", "name", "folder", "businessPhones", "identities",
        "onPremisesExtensionAttributes", "resourceBehaviorOptions", "newUserPrincipalName",
        "autoReconcileProxyConflict", "template@odata.bind", "group@odata.bind", "values",
    ]
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(PROPS) | st.text(max_size=10), children, max_size=5),
    max_leaves=12,
)
RAW_BODIES = st.sampled_from([
    b"{", b"[1,", b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}', b"NaN",
    b'{"a": 1e999}', b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b"\xff\xfe", b'"\\ud800"', b'{"a": "\\u0000"}', b"1" * 5000, b"", b"null", b"[]",
])


def _sub_request() -> st.SearchStrategy[Any]:
    return st.one_of(
        JSON_VALUES,
        st.fixed_dictionaries(
            {
                "id": st.one_of(ASCII, st.integers(), st.none()),
                "method": st.one_of(st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT"]),
                                    ASCII, st.integers()),
                "url": st.one_of(st.sampled_from(["/users", "users", "/groups", "/users/delta",
                                                  "/$batch", "http://x/users", "/me"]), ASCII),
            },
            optional={
                "headers": st.one_of(JSON_VALUES, st.dictionaries(ASCII, JSON_VALUES, max_size=3)),
                "body": JSON_VALUES,
                "dependsOn": st.one_of(JSON_VALUES, st.lists(ASCII, max_size=3)),
            },
        ),
    )


def _target(inventory: Any) -> tuple[SimApp, asyncio.AbstractEventLoop]:
    sim = build_simulator(inventory=inventory)
    return SimApp(sim, roles=tuple(sim.router.grants())), asyncio.new_event_loop()


@pytest.fixture(scope="module")
def target(sample_inventory: Any) -> Iterator[tuple[SimApp, asyncio.AbstractEventLoop]]:
    app, loop = _target(sample_inventory)
    yield app, loop
    loop.close()


@pytest.fixture(scope="module")
def control_target(sample_inventory: Any) -> Iterator[tuple[SimApp, asyncio.AbstractEventLoop]]:
    """A simulator of its own: fuzzing the control API changes roles, profiles, the clock."""
    app, loop = _target(sample_inventory)
    yield app, loop
    loop.close()


SEEN: Counter[int] = Counter()  # statuses the Graph fuzzing got, checked by the last test


def call(
    target: tuple[SimApp, asyncio.AbstractEventLoop],
    method: str,
    path: str,
    *,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> tuple[int, bytes]:
    app, loop = target
    raw_headers = [(b"authorization", b"Bearer fuzz"), (b"host", b"127.0.0.1")]
    for name, value in (headers or {}).items():
        raw_headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": urlencode(query or {}).encode(),
        "headers": raw_headers,
        "client": ("127.0.0.1", 4242),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    loop.run_until_complete(app(scope, receive, send))
    status = int(sent[0]["status"])
    payload = b"".join(m.get("body", b"") for m in sent[1:])
    return status, payload


def _path_for(template: str, values: list[str]) -> str:
    out, i = "", 0
    for part in template.split("/"):
        if part.startswith("{"):
            out += "/" + quote(values[i % len(values)] or "x", safe="")
            i += 1
        elif part:
            out += "/" + part
    return out


PARAM_VALUES = st.lists(
    st.one_of(ASCII, st.sampled_from(["me", "$count", "..", ".", "delta", "microsoft.graph.user",
                                      "graph.group", "root", "root:", "root:/a/b:", "a:b"])),
    min_size=1,
    max_size=4,
)
QUERY = st.dictionaries(
    st.sampled_from(["$filter", "$select", "$top", "$orderby", "$search", "$count", "$skiptoken",
                     "$deltatoken", "$expand"]),
    st.one_of(FILTERS, ASCII, st.sampled_from(["true", "0", "-1", "99999", '"x:y"'])),
    max_size=4,
)
HEADERS = st.dictionaries(
    st.sampled_from(["ConsistencyLevel", "Prefer", "Content-Type", "client-request-id", "Range"]),
    st.one_of(ASCII, st.sampled_from(["eventual", "application/json", "text/plain",
                                      "odata.maxpagesize=0", "return=minimal", "bytes=5-1"])),
    max_size=3,
)
SETTINGS = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(
    route=st.integers(0, 10_000),
    values=PARAM_VALUES,
    query=QUERY,
    headers=HEADERS,
    body=st.one_of(JSON_VALUES.map(lambda v: json.dumps(v).encode()), RAW_BODIES),
)
def test_graph_routes_never_answer_5xx(target, route, values, query, headers, body):
    routes = target[0].sim.router.routes
    chosen = routes[route % len(routes)]
    path = "/v1.0" + _path_for(chosen.template, values)
    headers = {"Content-Type": "application/json", **headers}
    status, payload = call(target, chosen.method, path, query=query, headers=headers, body=body)
    SEEN[status] += 1
    assert status < 500, (chosen.method, path, query, headers, body[:200], payload[:500])


@SETTINGS
@given(requests=st.lists(_sub_request(), max_size=6), wrapper=st.booleans())
def test_batch_payloads_never_answer_5xx(target, requests, wrapper):
    body = json.dumps({"requests": requests} if wrapper else requests).encode()
    status, payload = call(
        target, "POST", "/v1.0/$batch", headers={"Content-Type": "application/json"}, body=body
    )
    assert status < 500, payload[:500]
    if status == 200:
        for sub in json.loads(payload)["responses"]:
            assert sub["status"] < 500, sub


USER_BODY = {
    "accountEnabled": True,
    "displayName": "Fuzz",
    "mailNickname": "fuzz",
    "userPrincipalName": "fuzz@crise.ampmetropole.fr",
    "passwordProfile": {"password": "Xy!23456789abc"},
}
GROUP_BODY = {
    "displayName": "Fuzz",
    "mailEnabled": True,
    "mailNickname": "fuzz-group",
    "securityEnabled": False,
    "groupTypes": ["Unified"],
}
READS = [
    ("/v1.0/users", {"$orderby": "displayName"}),
    ("/v1.0/users", {"$filter": "startswith(displayName,'F')", "$select": "displayName,jobTitle"}),
    ("/v1.0/users", {"$search": '"displayName:fu"'}),
    ("/v1.0/groups", {"$orderby": "displayName"}),
    ("/v1.0/groups", {"$filter": "startswith(displayName,'F')"}),
    ("/v1.0/users/delta", {}),
    ("/v1.0/groups/delta", {"$select": "displayName,members"}),
    ("/_sim/state", {}),
]


@SETTINGS
@given(
    kind=st.sampled_from(["user", "group", "patch-user", "patch-group", "licence", "member",
                          "tap", "phone", "restore", "folder"]),
    key=st.one_of(st.sampled_from(PROPS), ASCII),
    value=JSON_VALUES,
)
def test_typed_writes_never_answer_5xx_nor_break_later_reads(target, kind, key, value):
    sim = target[0].sim
    some_user = next(iter(sim.tenant.users))
    some_group = next(iter(sim.tenant.groups))
    if kind == "user":
        method, path, body = "POST", "/v1.0/users", {**USER_BODY, key: value}
    elif kind == "group":
        method, path, body = "POST", "/v1.0/groups", {**GROUP_BODY, key: value}
    elif kind == "patch-user":
        method, path, body = "PATCH", f"/v1.0/users/{some_user}", {key: value}
    elif kind == "patch-group":
        method, path, body = "PATCH", f"/v1.0/groups/{some_group}", {key: value}
    elif kind == "licence":
        method, path, body = "POST", f"/v1.0/users/{some_user}/assignLicense", {key: value}
    elif kind == "member":
        method, path, body = "POST", f"/v1.0/groups/{some_group}/members/$ref", {key: value}
    elif kind == "tap":
        path = f"/v1.0/users/{some_user}/authentication/temporaryAccessPassMethods"
        method, body = "POST", {key: value}
    elif kind == "phone":
        path = f"/v1.0/users/{some_user}/authentication/phoneMethods"
        method, body = "POST", {"phoneType": "mobile", key: value}
    elif kind == "restore":
        path = f"/v1.0/directory/deletedItems/{some_user}/restore"
        method, body = "POST", {key: value}
    else:
        path = f"/v1.0/groups/{some_group}/drive/root/children"
        method, body = "POST", {"name": "x", "folder": {}, key: value}
    status, payload = call(
        target, method, path, headers={"Content-Type": "application/json"},
        body=json.dumps(body).encode(),
    )
    SEEN[status] += 1
    assert status < 500, (method, path, body, payload[:500])
    for read, query in READS:
        status, payload = call(target, "GET", read, query=query,
                               headers={"ConsistencyLevel": "eventual"})
        assert status < 500, (method, path, body, "then", read, query, payload[:500])


CONTROL = ["state", "requests", "profile", "seed", "clock", "tokens", "signin", "reset", "x"]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.sampled_from(CONTROL),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    body=st.one_of(JSON_VALUES.map(lambda v: json.dumps(v).encode()), RAW_BODIES),
)
def test_control_api_never_answers_5xx(control_target, route, method, body):
    status, payload = call(control_target, method, f"/_sim/{route}", body=body)
    assert status < 500, (method, route, body[:200], payload[:500])


def test_the_fuzzer_reaches_the_handlers(target):
    """Guard against a fuzzer that only ever gets refused: calls were served and refused."""
    status, payload = call(target, "GET", "/v1.0/users", query={"$top": "1"})
    assert status == 200 and json.loads(payload)["value"]
    assert SEEN[200] + SEEN[201] + SEEN[204] >= 10, SEEN
    assert SEEN[400] + SEEN[404] >= 50, SEEN
    assert SEEN[401] + SEEN[403] < sum(SEEN.values()) / 2, SEEN
