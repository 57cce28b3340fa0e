"""Replay the Graph reference's own examples for the workload families against the simulator.

`data/graph-examples.json` (the reference's example requests and responses, collected in
waldekmastykarz/graph-mocks, MIT) is replayed for groups, members/owners, teams, channels,
sites and authentication methods: after creating the objects an example refers to, the
simulator must answer with the example's status code, headers, property names and JSON types.
Examples the simulator does not model are listed in NOT_APPLICABLE with the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from crisiskit.sim.server import EmbeddedSimulator

EXAMPLES = Path(__file__).parent / "data" / "graph-examples.json"
GRAPH = "https://graph.microsoft.com/v1.0"
DOMAIN = "crise.example.fr"

# (method, placeholder URL) → names of the objects that fill its `*`, and the request body.
CASES: dict[tuple[str, str], tuple[list[str], Any]] = {
    ("GET", "groups/*/members/microsoft.graph.user"): (["G"], None),
    ("GET", "groups"): ([], None),  # several examples: plain, $search, startswith + $count
    ("GET", "groups/*/members"): (["G"], None),
    ("GET", "groups/*/owners"): (["G"], None),
    ("GET", "groups/*/members/microsoft.graph.user/$count"): (["G"], None),
    ("GET", "groups/*/members/$count"): (["G"], None),
    ("DELETE", "groups/*/members/*/$ref"): (["G", "morales"], None),
    ("DELETE", "groups/*/owners/*/$ref"): (["G", "morales"], None),
    ("POST", "groups/*/members/$ref"): (
        ["G", "price"], {"@odata.id": "{GRAPH}/directoryObjects/{price}"}
    ),
    ("POST", "groups/*/owners/$ref"): (["G", "aubert"], {"@odata.id": "{GRAPH}/users/{aubert}"}),
    ("POST", "groups/*/assignLicense"): (
        ["G"],
        {"addLicenses": [{"skuId": "{sku}", "disabledPlans": []}], "removeLicenses": []},
    ),
    ("GET", "groups/*"): (["G"], None),
    ("PATCH", "groups/*"): (["G"], {"description": "Cellule de crise – main courante"}),
    ("DELETE", "groups/*"): (["G2"], None),
    ("POST", "groups"): (
        [],
        {
            "description": "Self help community for library",
            "displayName": "Library Assist",
            "groupTypes": ["Unified"],
            "mailEnabled": True,
            "mailNickname": "library",
            "securityEnabled": False,
            "owners@odata.bind": ["{GRAPH}/users/{price}"],
        },
    ),
    ("GET", "groups/*/sites/root"): (["G"], None),
    ("PUT", "groups/*/team"): (["G2"], {"memberSettings": {"allowCreateUpdateChannels": True}}),
    ("GET", "teams"): ([], None),
    ("POST", "teams"): (
        ["G3"],
        {
            "template@odata.bind": "{GRAPH}/teamsTemplates('standard')",
            "group@odata.bind": "{GRAPH}/groups('{G3}')",
        },
    ),
    ("GET", "teams/*"): (["G"], None),
    ("PATCH", "teams/*"): (["G"], {"memberSettings": {"allowCreateUpdateChannels": True}}),
    ("GET", "teams/*/channels"): (["G"], None),
    ("POST", "teams/*/channels"): (
        ["G"],
        {"displayName": "Architecture Discussion",
         "description": "This channel is where we debate all future architecture plans"},
    ),
    ("POST", "users/*/authentication/temporaryAccessPassMethods"): (
        ["price"],
        {"startDateTime": "2099-06-05T00:00:00.000Z", "lifetimeInMinutes": 60,
         "isUsableOnce": False},
    ),
    ("GET", "users/*/authentication/temporaryAccessPassMethods"): (["price"], None),
    ("GET", "users/*/authentication/temporaryAccessPassMethods/*"): (["price", "tap"], None),
    ("DELETE", "users/*/authentication/temporaryAccessPassMethods/*"): (["price", "tap"], None),
    ("POST", "users/*/authentication/phoneMethods"): (
        ["price"], {"phoneNumber": "+1 2065555555", "phoneType": "office"}
    ),
    ("PATCH", "users/*/authentication/phoneMethods/*"): (
        ["price", "mobile"], {"phoneNumber": "+1 2065555554", "phoneType": "mobile"}
    ),
}
NOT_APPLICABLE = {
    "groups?$filter=mailEnabled": "dynamic membership rules are not simulated",
    "groups?$select=id,assignedLicenses&$filter=assignedLicenses/any()": "$expand is not simulated",
    "groups?$filter=hasMembersWithLicenseErrors": "licence errors on groups are not simulated",
}


def _key(example: dict[str, Any]) -> tuple[str, str] | None:
    url = example["request"]["url"]
    if any(url.removeprefix(f"{GRAPH}/").startswith(p) for p in NOT_APPLICABLE):
        return None
    path = urlsplit(url).path.removeprefix("/v1.0/")
    key = (example["request"]["method"], path)
    return key if key in CASES else None


def _examples() -> list[Any]:
    examples = json.loads(EXAMPLES.read_text(encoding="utf-8"))["examples"]
    return [
        pytest.param(e, id=f"{e['request']['method']} {e['request']['exampleUrl'][len(GRAPH):]}")
        for e in examples
        if _key(e) is not None
    ]


def test_every_case_has_a_reference_example() -> None:
    found = {_key(p.values[0]) for p in _examples()}  # type: ignore[arg-type]
    assert found == set(CASES)


@pytest.fixture
def world(server: EmbeddedSimulator) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """Create what the examples refer to: users, groups with owners and members, a team."""
    server.reset()
    with server.client() as http:
        ids: dict[str, str] = {"GRAPH": GRAPH, "sku": server.state()["subscribedSkus"][0]["skuId"]}
        for name, display in (
            ("price", "Joseph Price"),
            ("morales", "Preston Morales"),
            ("aubert", "alice Aubert"),
        ):
            resp = http.post(
                "users",
                json={
                    "accountEnabled": True,
                    "displayName": display,
                    "mailNickname": name,
                    "userPrincipalName": f"{name}@{DOMAIN}",
                    "mail": f"{name}@{DOMAIN}",
                    "passwordProfile": {"password": "S3cret-pass-1234"},
                    "usageLocation": "FR",
                },
            )
            assert resp.status_code == 201, resp.text
            ids[name] = resp.json()["id"]
        for name, display, nick in (
            ("G", "a crisis cell", "crise-a"),
            ("G2", "Video Production", "videoprod"),
            ("G3", "HR Taskforce", "hrtaskforce"),
        ):
            resp = http.post(
                "groups",
                json={
                    "displayName": display,
                    "description": "Welcome to the team.",
                    "mailEnabled": True,
                    "mailNickname": nick,
                    "securityEnabled": False,
                    "groupTypes": ["Unified"],
                    "visibility": "Private",
                    "owners@odata.bind": [
                        f"{GRAPH}/users/{ids['price']}",
                        f"{GRAPH}/users/{ids['morales']}",
                    ],
                    "members@odata.bind": [
                        f"{GRAPH}/users/{ids['morales']}",
                        f"{GRAPH}/users/{ids['aubert']}",
                    ],
                },
            )
            assert resp.status_code == 201, resp.text
            ids[name] = resp.json()["id"]
        assert http.put(f"groups/{ids['G']}/team", json={}).status_code == 201
        auth = f"users/{ids['price']}/authentication"
        tap = http.post(f"{auth}/temporaryAccessPassMethods", json={"lifetimeInMinutes": 60})
        ids["tap"] = tap.json()["id"]
        phone = http.post(
            f"{auth}/phoneMethods", json={"phoneNumber": "+33 612345678", "phoneType": "mobile"}
        )
        ids["mobile"] = phone.json()["id"]
        yield http, ids


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], value)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _merged(items: list[Any]) -> Any:
    """Merge a list's example elements into one shape: the union of their properties."""
    if not all(isinstance(i, dict) for i in items):
        return items[0]
    merged: dict[str, Any] = {}
    for item in items:
        for k, v in item.items():
            if merged.get(k) is None:
                merged[k] = v
    return merged


def assert_shape(actual: Any, expected: Any, where: str = "body") -> None:
    """Assert that `actual` has every property of `expected`, each of the same JSON type."""
    if expected is None or actual is None:
        return  # null in the example says nothing of the type; Graph properties are nullable
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}: property {key!r} missing (has {sorted(actual)})"
            assert_shape(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: expected an array, got {actual!r}"
        if expected:
            shape = _merged(expected)
            for i, item in enumerate(actual):
                assert_shape(item, shape, f"{where}[{i}]")
    elif isinstance(expected, bool):
        assert isinstance(actual, bool), f"{where}: expected a boolean, got {actual!r}"
    elif isinstance(expected, int | float):
        assert isinstance(actual, int | float) and not isinstance(actual, bool), where
    else:
        assert isinstance(actual, str), f"{where}: expected a string, got {actual!r}"


def _expected_body(response: dict[str, Any]) -> Any:
    body = response.get("body")
    if isinstance(body, str):
        try:
            return json.loads(re.sub(r",(\s*[}\]])", r"\1", body))
        except json.JSONDecodeError:
            return body
    return body


@pytest.mark.parametrize("example", _examples())
def test_reference_example(
    world: tuple[httpx.Client, dict[str, str]], example: dict[str, Any]
) -> None:
    http, ids = world
    key = _key(example)
    assert key is not None
    names, body = CASES[key]
    method, template = key
    values = iter(ids[n] for n in names)
    path = re.sub(r"\*", lambda _: next(values), template)
    query = urlsplit(example["request"]["exampleUrl"]).query
    headers = {}
    if "$count" in query or "$search" in query or path.endswith("$count"):
        headers["ConsistencyLevel"] = "eventual"
    resp = http.request(
        method,
        path + (f"?{query}" if query else ""),
        json=_fill(body, ids) if body is not None else None,
        headers=headers,
    )
    expected = example["response"]
    assert resp.status_code == expected["statusCode"], resp.text
    assert resp.headers["request-id"]
    for header in expected.get("headers", []):
        name = header["name"].lower()
        if name == "content-length":
            continue
        if name == "content-type":
            if resp.content:
                want = header["value"].split(";")[0].lower()
                assert resp.headers["content-type"].split(";")[0].lower() == want
            continue
        assert name in resp.headers, f"header {header['name']} missing"
    want_body = _expected_body(expected)
    if want_body is None:
        return
    if isinstance(want_body, str):
        assert want_body.isdigit() and resp.text.isdigit()
        return
    assert_shape(resp.json(), want_body)
