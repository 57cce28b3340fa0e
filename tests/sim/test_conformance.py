"""Replay the Graph reference's own examples (tests/sim/data/graph-examples*.json).

For each supported example: create what it refers to, send the request (placeholders replaced
by real ids), and check the status code and that every property of the documented response
exists in ours with the same JSON type (recursively; first element of arrays; null matches any
type, as Graph returns null for unset properties). Examples we do not replay are listed in
SKIPPED with the reason; a test checks every example is in exactly one of the two lists.
Documented response headers (Location, Content-Range, Preference-Applied, ...) must be sent too.
`graph-examples.json` (a copy of ../shared/graph-examples.json) is mapped here by index; every
other `graph-examples-<suffix>.json` names its source pages, and `conformance_<suffix>.py` maps
its examples by name (or, in a file whose examples have no name, by position), a test failing
on a file with no mapping. Examples the reference documents only with delegated permissions
(its application column says "Not supported") are listed in the mapping's DELEGATED and
replayed with a delegated token, which the simulator does not check against application roles.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from conformance import EVENTUAL, JSON, Build, Ctx, get, mismatches
from simhelp import DOMAIN, create_group, create_user

# A copy of ../shared/graph-examples.json (Microsoft Graph reference examples as collected in
# waldekmastykarz/graph-mocks, MIT), kept beside the test so a fresh clone can run it.
DATA = Path(__file__).parent / "data"
EXAMPLES_FILE = DATA / "graph-examples.json"
EXAMPLES: list[dict[str, Any]] = json.loads(EXAMPLES_FILE.read_text())["examples"]
# Every other examples file: graph-examples-<suffix>.json, replayed by conformance_<suffix>.py.
OTHER_FILES = sorted(p for p in DATA.glob("graph-examples*.json") if p != EXAMPLES_FILE)

SKIPPED: dict[int, str] = {
    0: "dynamic-membership security groups (membershipRule) are not simulated",
    3: "$expand is not simulated",
    4: "identities/any() on Azure AD B2C local accounts is not simulated",
    9: "hasMembersWithLicenseErrors (group-based licensing errors) filter is not simulated",
    45: "synthetic placeholder, not the reference: wraps a single user in 'value' "
    "(user-get documents the user object itself)",
    46: "synthetic placeholder, not the reference: PATCH /users answers 200 with a body "
    "(user-update documents 204 No Content)",
    54: "same synthetic placeholder as 45",
    55: "same synthetic placeholder as 46",
}


G = "{ctx.group[id]}"
SUPPORTED: dict[int, Build] = {
    1: lambda ctx: (
        ctx.deleted_group() and "GET",
        "directory/deletedItems/microsoft.graph.group?$count=true&$orderby=deletedDateTime asc"
        "&$select=id,DisplayName,deletedDateTime",
        None,
        EVENTUAL,
    ),
    2: get(
        f"groups/{G}/members/microsoft.graph.user?$count=true&$orderby=displayName"
        '&$search="displayName:Member"&$select=displayName,id',
        EVENTUAL,
    ),
    5: get(
        'groups?$search="displayName:Groupe" OR "description:prod"&$orderby=displayName'
        "&$count=true",
        EVENTUAL,
    ),
    6: get(
        "users?$select=id,displayName,mail,identities"
        "&$filter=endswith(userPrincipalName,'ampmetropole.fr')&$count=true",
        EVENTUAL,
    ),
    7: get(
        "groups?$filter=startswith(displayName,'G')&$count=true&$top=1&$orderby=displayName",
        EVENTUAL,
    ),
    8: get('users?$search="displayName:conf" OR "displayName:jean"&$count=true', EVENTUAL),
    10: get(
        "users?$filter=endswith(mail,'ampmetropole.fr')&$orderby=userPrincipalName&$count=true",
        EVENTUAL,
    ),
    11: get(f"groups/{G}/members?$count=true&$filter=startswith(displayName,'Conf')", EVENTUAL),
    12: get('users?$search="displayName:conf"&$orderby=displayName&$count=true', EVENTUAL),
    13: get("users?$select=displayName,userPrincipalName,signInActivity"),
    14: lambda ctx: (
        "DELETE",
        f"users/{ctx.member['id']}/authentication/temporaryAccessPassMethods/{ctx.tap()}",
        None,
        {},
    ),
    15: lambda ctx: (
        "GET",
        f"users/{ctx.member['id']}/authentication/temporaryAccessPassMethods/{ctx.tap()}",
        None,
        {},
    ),
    16: lambda ctx: (
        ctx.tap() and "GET",
        f"users/{ctx.member['id']}/authentication/temporaryAccessPassMethods",
        None,
        {},
    ),
    17: lambda ctx: (
        "POST",
        f"users/{ctx.member['id']}/authentication/temporaryAccessPassMethods",
        {"startDateTime": None, "lifetimeInMinutes": 60, "isUsableOnce": False},
        {},
    ),
    18: lambda ctx: (
        ctx.deleted_group() and "GET",
        "directory/deletedItems/microsoft.graph.group",
        None,
        {},
    ),
    19: get(f"groups/{G}/members/microsoft.graph.user/$count", EVENTUAL),
    20: lambda ctx: (
        ctx.deleted_group() and "POST",
        "directory/deletedItems/getUserOwnedObjects",
        {"userId": ctx.owner["id"], "type": "Group"},
        {},
    ),
    21: get("users?$select=ext55gb1l09_msLearnCourses"),
    22: lambda ctx: (
        "PATCH",
        f"users/{ctx.member['id']}/authentication/phoneMethods/{ctx.phone()}",
        {"phoneNumber": "+33 698765432", "phoneType": "mobile"},
        {},
    ),
    23: lambda ctx: (
        "POST",
        f"users/{ctx.member['upn']}/authentication/phoneMethods",
        {"phoneNumber": "+33 612345678", "phoneType": "mobile"},
        {},
    ),
    24: lambda ctx: ("POST", f"directory/deletedItems/{ctx.deleted_group()}/restore", None, {}),
    25: lambda ctx: ("DELETE", f"directory/deletedItems/{ctx.deleted_user()}", None, {}),
    26: lambda ctx: ("GET", f"directory/deletedItems/{ctx.deleted_group()}", None, {}),
    27: lambda ctx: (
        "DELETE",
        f"groups/{ctx.group['id']}/members/{ctx.member['id']}/$ref",
        None,
        {},
    ),
    28: get(f"groups/{G}/members/$count", EVENTUAL),
    29: lambda ctx: (
        "POST",
        f"groups/{ctx.group['id']}/assignLicense",
        {"addLicenses": [{"skuId": ctx.sku["skuId"], "disabledPlans": []}], "removeLicenses": []},
        {},
    ),
    30: lambda ctx: (
        "DELETE",
        f"groups/{ctx.group['id']}/owners/{ctx.third['id']}/$ref",
        None,
        {},
    ),
    31: lambda ctx: (
        "POST",
        f"groups/{ctx.group['id']}/members/$ref",
        {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{ctx.third['id']}"},
        {},
    ),
    32: lambda ctx: (
        "POST",
        f"groups/{ctx.group['id']}/owners/$ref",
        {"@odata.id": f"https://graph.microsoft.com/v1.0/users/{ctx.member['id']}"},
        {},
    ),
    33: get(f"groups/{G}/sites/root"),
    34: lambda ctx: ("GET", f"teams/{ctx.team()}/channels", None, {}),
    35: lambda ctx: (
        "POST",
        f"teams/{ctx.team()}/channels",
        {"displayName": "Main courante", "description": "Journal", "membershipType": "standard"},
        {},
    ),
    36: get(f"groups/{G}/members"),
    37: get("subscribedSkus/{ctx.sku[id]}"),
    38: get(f"groups/{G}/owners"),
    39: get("subscribedSkus"),
    40: lambda ctx: (
        "PUT",
        f"groups/{ctx.group['id']}/team",
        {"memberSettings": {"allowCreatePrivateChannels": True}},
        {},
    ),
    41: lambda ctx: ("DELETE", f"groups/{ctx.group['id']}", None, {}),
    42: lambda ctx: ctx.team() and ("GET", f"groups/{ctx.group['id']}", None, {}),
    43: lambda ctx: ("PATCH", f"groups/{ctx.group['id']}", {"description": "Mise à jour"}, {}),
    44: lambda ctx: ("DELETE", f"users/{ctx.third['id']}", None, {}),
    47: lambda ctx: ("GET", f"teams/{ctx.team()}", None, {}),
    48: lambda ctx: (
        "PATCH",
        f"teams/{ctx.team()}",
        {"memberSettings": {"allowCreateUpdateChannels": True}},
        {},
    ),
    49: get("groups"),
    50: lambda ctx: (
        "POST",
        "groups",
        {
            "displayName": "Conformance",
            "mailEnabled": True,
            "mailNickname": "conformance",
            "securityEnabled": False,
            "groupTypes": ["Unified"],
            "owners@odata.bind": [f"https://graph.microsoft.com/v1.0/users/{ctx.owner['id']}"],
        },
        {},
    ),
    51: lambda ctx: (
        "POST",
        "users",
        {
            "accountEnabled": True,
            "displayName": "Adele Vance",
            "mailNickname": "AdeleV",
            "userPrincipalName": f"AdeleV@{DOMAIN}",
            "passwordProfile": {"forceChangePasswordNextSignIn": True, "password": "xWwv]6N+bH-d"},
        },
        {},
    ),
    52: get("users"),
    53: lambda ctx: ("DELETE", f"users/{ctx.third['upn']}", None, {}),
    56: lambda ctx: ctx.team() and ("GET", "teams", None, {}),
    57: lambda ctx: (
        "POST",
        "teams",
        {
            "template@odata.bind": "https://graph.microsoft.com/v1.0/teamsTemplates('standard')",
            "group@odata.bind": f"https://graph.microsoft.com/v1.0/groups('{ctx.group['id']}')",
        },
        {},
    ),
    58: lambda ctx: (
        "POST",
        "users",
        {
            "accountEnabled": True,
            "displayName": "Alex Wilber",
            "mailNickname": "AlexW",
            "userPrincipalName": f"AlexW@{DOMAIN}",
            "passwordProfile": {"password": "Xy!23456789abc"},
        },
        {},
    ),
    59: get("users?$top=5"),
}
# The generic examples (51, 52, 58, 59) annotate every user with @odata.type; Graph's
# user-post-users / user-list pages do not, and the SDK does not need it for a user.
IGNORED_KEYS: dict[int, set[str]] = {
    51: {"@odata.type"},
    52: {"@odata.type"},
    58: {"@odata.type"},
    59: {"@odata.type"},
    # The reference is inconsistent on `id` under $select (present here, absent in example 21
    # and in user-list's $select example); the simulator returns exactly what is selected.
    13: {"id"},
}


@pytest.fixture
def ctx(sim) -> Any:
    with sim.client() as c:
        owner = create_user(c, "conf.owner", usageLocation="FR", givenName="Conf")
        member = create_user(c, "conf.member", usageLocation="FR", displayName="Member Conf")
        third = create_user(c, "conf.third", usageLocation="FR", displayName="Conf Third")
        sku = sim.state()["subscribedSkus"][0]
        lic = {"addLicenses": [{"skuId": sku["skuId"], "disabledPlans": []}], "removeLicenses": []}
        assert c.post(f"users/{owner['id']}/assignLicense", json=lic).status_code == 200
        group = create_group(
            c,
            "conf-group",
            owner["id"],
            **{
                "members@odata.bind": [
                    f"https://graph.microsoft.com/v1.0/users/{member['id']}",
                    f"https://graph.microsoft.com/v1.0/users/{owner['id']}",
                ]
            },
        )
        ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/users/{third['id']}"}
        assert c.post(f"groups/{group['id']}/owners/$ref", json=ref).status_code == 204
        for user in (owner, member, third):
            user["upn"] = user["userPrincipalName"]
        yield Ctx(sim, c, owner, member, third, group, sku)


def test_every_example_is_either_supported_or_skipped_with_a_reason():
    assert not set(SUPPORTED) & set(SKIPPED)
    assert set(SUPPORTED) | set(SKIPPED) == set(range(len(EXAMPLES)))
    assert len(SUPPORTED) >= 50


DELEGATED_TOKEN = "conformance-delegated-admin"


def _replay(
    ctx: Ctx, example: dict[str, Any], build: Build, ignored: set[str], delegated: bool = False
) -> None:
    method, url, body, headers = build(ctx)
    assert method == example["request"]["method"]
    documented = example["response"]
    if body is not None:
        headers = {**JSON, **headers}
    if delegated:
        ctx.sim.set_roles([], token=DELEGATED_TOKEN, app_only=False)
        headers = {**headers, "Authorization": f"Bearer {DELEGATED_TOKEN}"}
    resp = ctx.c.request(
        method, url, content=None if body is None else json.dumps(body), headers=headers
    )
    assert resp.status_code == documented["statusCode"], f"{method} {url}: {resp.text}"
    if "/_sim/download/" not in url:  # a pre-authenticated download URL is not Graph
        assert resp.headers.get("request-id")
    for header in documented.get("headers") or []:
        if header["name"].lower() not in ("content-type", "content-length"):
            assert header["name"] in resp.headers, f"{method} {url}: no {header['name']} header"
    expected = documented.get("body")
    if isinstance(expected, str):
        try:
            expected = json.loads(expected)
        except ValueError:
            assert resp.text.strip().isdigit() == expected.strip().isdigit(), resp.text
            return
    if expected is None:
        return
    actual = resp.json()
    problems = mismatches(expected, actual, "$", ignored)
    assert not problems, f"{method} {url}:\n" + "\n".join(problems)


@pytest.mark.parametrize("index", sorted(SUPPORTED))
def test_example(ctx, index):
    _replay(ctx, EXAMPLES[index], SUPPORTED[index], IGNORED_KEYS.get(index, set()))


def _mapping(path: Path) -> Any:
    suffix = path.stem.removeprefix("graph-examples-")
    return importlib.import_module(f"conformance_{suffix.replace('-', '_')}")


def _key(index: int, example: dict[str, Any]) -> str | int:
    """An example's key in its mapping: its name, or its position in a file without names."""
    return example["name"] if "name" in example else index


OTHER = [
    (path, _key(i, example), example)
    for path in OTHER_FILES
    for i, example in enumerate(json.loads(path.read_text())["examples"])
]


def test_every_examples_file_is_replayed_and_names_its_sources():
    assert {p.name for p in OTHER_FILES} >= {
        "graph-examples-directory.json",
        "graph-examples-workloads.json",
    }
    for path in OTHER_FILES:
        mapping = _mapping(path)
        keys = [key for p, key, _ in OTHER if p == path]
        assert len(keys) == len(set(keys)), path.name
        assert not set(mapping.SUPPORTED) & set(mapping.SKIPPED), path.name
        assert set(mapping.SUPPORTED) | set(mapping.SKIPPED) == set(keys), path.name
        assert all(reason.strip() for reason in mapping.SKIPPED.values()), path.name
        assert set(getattr(mapping, "DELEGATED", ())) <= set(mapping.SUPPORTED), path.name
    for _path, _name, example in OTHER:
        source = example["source"]
        page = source.removeprefix("microsoftgraph/microsoft-graph-docs-contrib:")
        assert page.startswith(("api-reference/v1.0/api/", "concepts/")), source
        assert source.endswith(".md"), source


@pytest.mark.parametrize(
    "path,key,example",
    [(p, k, e) for p, k, e in OTHER if k in _mapping(p).SUPPORTED],
    ids=[f"{p.stem}:{k}" for p, k, e in OTHER if k in _mapping(p).SUPPORTED],
)
def test_named_example(ctx, path, key, example):
    mapping = _mapping(path)
    _replay(
        ctx,
        example,
        mapping.SUPPORTED[key],
        mapping.IGNORED_KEYS.get(key, set()),
        delegated=key in getattr(mapping, "DELEGATED", ()),
    )
