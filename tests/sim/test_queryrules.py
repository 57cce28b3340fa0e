"""Directory query rules (concepts/aad-advanced-queries.md, includes/filter-directory-objects.md).

Each case is a query and what Graph documents for it: served plainly, only as an advanced
query (`ConsistencyLevel: eventual` + `$count=true`), or refused even then. The last test
replays every `$filter` crisiskit sends today, found by reading its source.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from simhelp import DOMAIN, create_group, create_user, error_code

from crisiskit.sim.server import EmbeddedSimulator

EVENTUAL = {"ConsistencyLevel": "eventual"}
SRC = Path(__file__).resolve().parents[2] / "src" / "crisiskit"
SKU = "f245ecc8-75af-4f8e-b61f-27d8114de5f3"

CASES: list[tuple[str, str, str]] = [
    # users: plain
    ("users", f"userPrincipalName eq 'q.one@{DOMAIN}'", "plain"),
    ("users", "startswith(displayName,'Q')", "plain"),
    ("users", "displayName in ('Q One', 'Q Two')", "plain"),
    ("users", "accountEnabled eq true", "plain"),
    ("users", "mailNickname eq 'q.one' or mailNickname eq 'q.two'", "plain"),
    ("users", f"assignedLicenses/any(x:x/skuId eq {SKU})", "plain"),
    ("users", "usageLocation eq 'FR'", "plain"),
    ("users", "extension_0000000000000000000000000000c1b2_crisiskitCommune eq 'x'", "plain"),
    # users: advanced only
    ("users", "displayName ne 'x'", "advanced"),
    ("users", "NOT startsWith(displayName, 'Conf')", "advanced"),
    ("users", "endswith(mail,'@crise.ampmetropole.fr')", "advanced"),
    ("users", "endswith(userPrincipalName,'ampmetropole.fr')", "advanced"),
    ("users", "companyName eq 'Métropole'", "advanced"),
    ("users", "employeeType eq 'crisis'", "advanced"),
    ("users", "mobilePhone eq '+33 612345678'", "advanced"),
    ("users", "onPremisesExtensionAttributes/extensionAttribute1 eq 'x'", "advanced"),
    ("users", "createdDateTime ge 2020-01-01T00:00:00Z", "advanced"),
    ("users", "createdDateTime le 2099-01-01", "advanced"),
    ("users", "assignedLicenses/$count eq 0", "advanced"),
    ("users", "city eq null", "advanced"),
    # users: refused even as an advanced query
    ("users", "endswith(displayName,'x')", "never"),
    ("users", "contains(displayName,'x')", "never"),
    ("users", "createdDateTime gt 2020-01-01T00:00:00Z", "never"),
    ("users", "passwordPolicies eq 'None'", "never"),
    ("users", "userPrincipalName eq null", "never"),
    ("users", "favouriteColour eq 'blue'", "never"),
    # groups
    ("groups", "mailNickname eq 'q-group'", "plain"),
    ("groups", "groupTypes/any(c:c eq 'Unified')", "plain"),
    ("groups", "resourceProvisioningOptions/any(x:x eq 'Team')", "plain"),
    ("groups", "startswith(displayName,'Groupe')", "plain"),
    ("groups", "mailEnabled eq true and securityEnabled eq false", "plain"),
    ("groups", "description eq 'x'", "advanced"),
    ("groups", "mailNickname ne 'x'", "advanced"),
    ("groups", "NOT groupTypes/any(c:c eq 'Unified')", "advanced"),
    ("groups", "createdDateTime ge 2021-11-01", "never"),  # the page's own example
    ("groups", "visibility eq 'Private'", "never"),
    ("groups", "endswith(mail,'x')", "advanced"),
    ("groups", "endswith(displayName,'x')", "never"),
]


@pytest.fixture
def tenant(sim: EmbeddedSimulator) -> EmbeddedSimulator:
    with sim.client() as c:
        one = create_user(c, "q.one", displayName="Q One", usageLocation="FR")
        create_user(c, "q.two", displayName="Q Two")
        create_group(c, "q-group", one["id"])
    return sim


@pytest.mark.parametrize("entity,flt,expect", CASES, ids=[c[1] for c in CASES])
def test_filter_support_as_documented(tenant: EmbeddedSimulator, entity, flt, expect):
    with tenant.client() as c:
        plain = c.get(entity, params={"$filter": flt})
        advanced = c.get(entity, params={"$filter": flt, "$count": "true"}, headers=EVENTUAL)
    if expect == "plain":
        assert plain.status_code == 200, plain.text
        assert advanced.status_code == 200, advanced.text
        assert "@odata.count" not in plain.json()
        assert advanced.json()["@odata.count"] == len(advanced.json()["value"])
    elif expect == "advanced":
        assert plain.status_code == 400 and error_code(plain) == "Request_UnsupportedQuery"
        assert "ConsistencyLevel:eventual" in plain.json()["error"]["message"]
        assert advanced.status_code == 200, advanced.text
    else:
        assert advanced.status_code == 400, advanced.text
        assert error_code(advanced) == "Request_UnsupportedQuery"


def test_plain_filters_return_what_they_select(tenant: EmbeddedSimulator):
    with tenant.client() as c:
        got = c.get("users", params={"$filter": "displayName in ('Q One', 'Q Two')"}).json()
        assert sorted(u["displayName"] for u in got["value"]) == ["Q One", "Q Two"]
        sku = c.get("users", params={"$filter": f"assignedLicenses/any(x:x/skuId eq {SKU})"})
        assert sku.json()["value"] == []


def test_filter_with_orderby_needs_the_advanced_parameters(tenant: EmbeddedSimulator):
    params = {"$filter": "startswith(displayName,'Q')", "$orderby": "displayName"}
    with tenant.client() as c:
        plain = c.get("users", params=params)
        advanced = c.get("users", params={**params, "$count": "true"}, headers=EVENTUAL)
        orderby_alone = c.get("users", params={"$orderby": "displayName"})
        by_created = c.get("users", params={"$orderby": "createdDateTime"})
        by_mail = c.get("users", params={"$orderby": "mail", "$count": "true"}, headers=EVENTUAL)
    assert plain.status_code == 400 and error_code(plain) == "Request_UnsupportedQuery"
    assert [u["displayName"] for u in advanced.json()["value"]] == ["Q One", "Q Two"]
    assert orderby_alone.status_code == 200  # displayName sorts plainly
    assert by_created.status_code == 400  # createdDateTime sorts only in advanced queries
    assert by_mail.status_code == 400  # not a sortable property at all


def test_count_without_the_header_is_ignored_not_refused(tenant: EmbeddedSimulator):
    with tenant.client() as c:
        resp = c.get("users", params={"$count": "true"})
        segment = c.get("users/$count")
    assert resp.status_code == 200 and "@odata.count" not in resp.json()
    assert segment.status_code == 400  # the URL segment, unlike the option, is refused


def test_datetime_literals_compare_as_dates(tenant: EmbeddedSimulator):
    with tenant.client() as c:
        after = c.get(
            "users",
            params={"$filter": "createdDateTime ge 2000-01-01T00:00:00Z", "$count": "true"},
            headers=EVENTUAL,
        )
        future = c.get(
            "users",
            params={"$filter": "createdDateTime ge 2999-01-01", "$count": "true"},
            headers=EVENTUAL,
        )
        quoted = c.get(
            "users",
            params={"$filter": "createdDateTime ge '2000-01-01'", "$count": "true"},
            headers=EVENTUAL,
        )
    assert after.status_code == 200 and len(after.json()["value"]) >= 2
    assert future.status_code == 200 and future.json()["value"] == []
    assert quoted.status_code == 400 and "incompatible types" in quoted.text


# ---------------------------------------------------------------- what crisiskit sends


def _filter_lines(source: str) -> list[int]:
    """Return the lines of the string literals holding `$filter`, docstrings left out."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return sorted(
        {
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and "$filter" in node.value
            and id(node) not in docstrings
        }
    )


# Parsed at collection, as in test_structure.py (ast.parse late in a session can fail on 3.11.7).
FILTER_SITES = [
    f"{folder}/{path.name}:{n}"
    for folder in ("resources", "plan")
    for path in sorted((SRC / folder).glob("*.py"))
    for n in _filter_lines(path.read_text())
]


def _crisiskit_filters() -> list[str]:
    """Return `file:line` of every `$filter` in crisiskit's resources and plan."""
    return FILTER_SITES


def _replay(sim: EmbeddedSimulator) -> dict[str, Any]:
    """Build each request crisiskit sends with a `$filter`, keyed by the module that builds it."""
    from crisiskit.plan import scope
    from crisiskit.resources import channels, groups, users

    tag = sim.state()["extensionProperties"][0]
    with sim.client() as c:
        owner = create_user(c, "filters.owner")
        group = create_group(c, "filters-group", owner["id"])
        assert c.put(f"groups/{group['id']}/team", json={}).status_code == 201
    return {
        "resources/users.py": users.tagged(tag, "aubagne"),
        "resources/groups.py": groups.by_nickname("filters-group", tag),
        # A module with two filters: the second one's key names it after a "#".
        "resources/groups.py#by_display_name": groups.by_display_name("filters-group", tag),
        "resources/channels.py": channels.named(group["id"], "Décisions – état"),
        "plan/scope.py": scope.tagged("groups", tag, "aubagne", "id,mailNickname"),
    }


def test_every_filter_crisiskit_sends_is_served_plainly(sim: EmbeddedSimulator):
    requests = _replay(sim)
    sites = _crisiskit_filters()
    # Every $filter in the source is one of the requests replayed here (add new ones above).
    assert {s.split(":")[0] for s in sites} == {k.split("#")[0] for k in requests}, sites
    assert len(sites) == len(requests), sites
    with sim.client() as c:
        for where, req in requests.items():
            assert "consistencylevel" not in {h.lower() for h in req.headers}, where
            resp = c.request(req.method, req.url.lstrip("/"), headers=req.headers)
            assert resp.status_code == 200, f"{where}: {req.url}: {resp.text}"
            # ...and the same query passes the documented rules as a plain one, so it reads
            # the directory, not the lagging advanced-query index.
            assert not re.search(r"\$count|\$search|\$orderby", req.url), where
