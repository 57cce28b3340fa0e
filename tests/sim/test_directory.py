"""Users, licences and deleted items as the Graph reference documents them."""

from __future__ import annotations

import json

import pytest
from simhelp import DOMAIN, create_user, error_code, user_body

EVENTUAL = {"ConsistencyLevel": "eventual"}


def ext_name(sim) -> str:
    return sim.state()["extensionProperties"][0]


def sku_of(sim) -> dict:
    return sim.state()["subscribedSkus"][0]


def assign(c, user_id, sku_id):
    return c.post(
        f"users/{user_id}/assignLicense",
        json={"addLicenses": [{"skuId": sku_id, "disabledPlans": []}], "removeLicenses": []},
    )


def test_create_returns_default_properties_only(sim):
    with sim.client() as c:
        resp = c.post("users", json=user_body("default.props", usageLocation="FR"))
    assert resp.status_code == 201
    body = resp.json()
    assert set(body) == {
        "@odata.context",
        "id",
        "businessPhones",
        "displayName",
        "givenName",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
    }
    assert "Xy!23456789abc" not in json.dumps(sim.state())  # the password is not kept


@pytest.mark.parametrize(
    "missing", ["accountEnabled", "displayName", "mailNickname", "passwordProfile"]
)
def test_required_properties(sim, missing):
    body = user_body("required.one")
    del body[missing]
    with sim.client() as c:
        resp = c.post("users", json=body)
    assert resp.status_code == 400 and error_code(resp) == "Request_BadRequest"
    assert missing in resp.json()["error"]["message"]


@pytest.mark.parametrize(
    "upn, fragment",
    [
        (f"élodie@{DOMAIN}", "userPrincipalName is invalid"),
        (f"a b@{DOMAIN}", "userPrincipalName is invalid"),
        ("someone@not-ours.example", "verified domain"),
        ("no-at-sign", "userPrincipalName is invalid"),
    ],
)
def test_upn_rules(sim, upn, fragment):
    with sim.client() as c:
        resp = c.post("users", json={**user_body("x"), "userPrincipalName": upn})
    assert resp.status_code == 400
    assert fragment in resp.json()["error"]["message"]


def test_duplicate_upn_is_400_with_target(sim):
    with sim.client() as c:
        create_user(c, "dup.one")
        again = c.post("users", json=user_body("DUP.one"))
    assert again.status_code == 400 and error_code(again) == "Request_BadRequest"
    error = again.json()["error"]
    assert "Another object with the same value for property userPrincipalName" in error["message"]
    assert error["details"][0]["target"] == "userPrincipalName"


def test_extension_property_must_be_registered_and_filters_plainly(sim):
    ext = ext_name(sim)
    with sim.client() as c:
        unknown = c.post(
            "users", json=user_body("ext.bad", extension_deadbeef_crisiskitCommune="x")
        )
        tagged = create_user(c, "ext.good", **{ext: "aubagne"})
        found = c.get("users", params={"$filter": f"{ext} eq 'aubagne'", "$select": f"id,{ext}"})
    assert unknown.status_code == 400 and "does not exist" in unknown.json()["error"]["message"]
    assert [u["id"] for u in found.json()["value"]] == [tagged["id"]]
    assert found.json()["value"][0][ext] == "aubagne"


def test_get_by_upn_and_select(sim):
    with sim.client() as c:
        user = create_user(c, "get.me", usageLocation="FR", employeeType="crisis")
        by_upn = c.get(f"users/get.me@{DOMAIN}")
        plain = c.get(f"users/{user['id']}").json()
        selected = c.get(
            f"users/{user['id']}", params={"$select": "id,usageLocation,employeeType"}
        )
    assert by_upn.status_code == 200 and by_upn.json()["id"] == user["id"]
    assert "usageLocation" not in plain and "employeeType" not in plain
    assert selected.json()["usageLocation"] == "FR"
    assert selected.json()["employeeType"] == "crisis"
    assert "displayName" not in selected.json()


def test_basic_filters_work_without_advanced_query(sim):
    with sim.client() as c:
        create_user(c, "filter.alpha")
        create_user(c, "filter.beta")
        starts = c.get("users", params={"$filter": "startswith(userPrincipalName,'filter.')"})
        eq = c.get("users", params={"$filter": f"userPrincipalName eq 'FILTER.BETA@{DOMAIN}'"})
        either = c.get(
            "users",
            params={"$filter": "mailNickname eq 'filter.alpha' or mailNickname eq 'filter.beta'"},
        )
    assert sorted(u["userPrincipalName"] for u in starts.json()["value"]) == [
        f"filter.alpha@{DOMAIN}",
        f"filter.beta@{DOMAIN}",
    ]
    assert len(eq.json()["value"]) == 1
    assert len(either.json()["value"]) == 2


@pytest.mark.parametrize(
    "params",
    [
        {"$filter": "employeeType eq 'crisis'"},
        {"$filter": "onPremisesExtensionAttributes/extensionAttribute1 eq 'aubagne'"},
        {"$filter": "endswith(userPrincipalName,'@crise.ampmetropole.fr')"},
        {"$filter": "displayName ne 'x'"},
        {"$filter": "not(startswith(displayName,'x'))"},
    ],
)
def test_advanced_queries_need_eventual_and_count(sim, params):
    with sim.client() as c:
        create_user(
            c,
            "adv.one",
            employeeType="crisis",
            onPremisesExtensionAttributes={"extensionAttribute1": "aubagne"},
        )
        plain = c.get("users", params=params)
        header_only = c.get("users", params=params, headers=EVENTUAL)
        advanced = c.get("users", params={**params, "$count": "true"}, headers=EVENTUAL)
    assert plain.status_code == 400 and error_code(plain) == "Request_UnsupportedQuery"
    assert header_only.status_code == 400
    assert advanced.status_code == 200
    assert advanced.json()["@odata.count"] == len(advanced.json()["value"]) >= 1


def test_search_needs_only_the_eventual_header(sim):
    """aad-advanced-queries: `$search` needs ConsistencyLevel, not `$count=true`."""
    with sim.client() as c:
        create_user(c, "adv.search", displayName="Adverse Search")
        plain = c.get("users", params={"$search": '"displayName:adv"'})
        header_only = c.get("users", params={"$search": '"displayName:adv"'}, headers=EVENTUAL)
    assert plain.status_code == 400 and error_code(plain) == "Request_UnsupportedQuery"
    assert "ConsistencyLevel: eventual" in plain.json()["error"]["message"]
    assert header_only.status_code == 200
    assert "@odata.count" not in header_only.json()
    assert [u["displayName"] for u in header_only.json()["value"]] == ["Adverse Search"]


def test_count_endpoint(sim):
    with sim.client() as c:
        plain = c.get("users/$count")
        eventual = c.get("users/$count", headers=EVENTUAL)
    assert plain.status_code == 400 and "$count is not currently supported" in plain.text
    assert eventual.status_code == 200 and int(eventual.text) == len(sim.state()["users"])


def test_paging_follows_next_links_to_the_end(sim):
    sim.seed({"users": [{"userPrincipalName": f"page.{i:03}@{DOMAIN}"} for i in range(25)]})
    seen: list[str] = []
    pages = 0
    with sim.client() as c:
        url: str | None = "users?$top=10&$filter=startswith(userPrincipalName,'page.')"
        while url:
            body = c.get(url).json()
            seen += [u["userPrincipalName"] for u in body["value"]]
            url = body.get("@odata.nextLink")
            assert url is None or url.startswith(sim.base_url)
            pages += 1
        too_big = c.get("users", params={"$top": "1000"})
    assert pages == 3 and len(seen) == 25 == len(set(seen))
    assert too_big.status_code == 400


def test_patch_is_204_and_validated(sim):
    with sim.client() as c:
        user = create_user(c, "patch.me")
        ok = c.patch(f"users/{user['id']}", json={"jobTitle": "DSI", "usageLocation": "FR"})
        bad = c.patch(f"users/{user['id']}", json={"favouriteColour": "blue"})
        after = c.get(f"users/{user['id']}", params={"$select": "jobTitle,usageLocation"}).json()
    assert ok.status_code == 204 and ok.content == b""
    assert bad.status_code == 400
    assert after == {
        "@odata.context": after["@odata.context"],
        "jobTitle": "DSI",
        "usageLocation": "FR",
    }


def test_licence_needs_usage_location_and_a_free_seat(sim):
    sku = sku_of(sim)
    with sim.client() as c:
        nowhere = create_user(c, "lic.nowhere")
        no_location = assign(c, nowhere["id"], sku["skuId"])
        user = create_user(c, "lic.here", usageLocation="FR")
        ok = assign(c, user["id"], sku["skuId"])
        unknown = assign(c, user["id"], "00000000-0000-0000-0000-000000000000")
        missing_array = c.post(f"users/{user['id']}/assignLicense", json={"addLicenses": []})
    assert no_location.status_code == 400
    assert "invalid usage location" in no_location.json()["error"]["message"]
    assert ok.status_code == 200 and ok.json()["id"] == user["id"]
    assert unknown.status_code == 400 and missing_array.status_code == 400
    assert sku_of(sim)["consumedUnits"] == sku["consumedUnits"] + 1
    # Exhaust the seats: the simulator's SKU is ours to shrink for the test.
    with sim.simulator.lock:
        live = next(iter(sim.simulator.tenant.skus.values()))
        live["prepaidUnits"]["enabled"] = live["consumedUnits"]
    with sim.client() as c:
        other = create_user(c, "lic.late", usageLocation="FR")
        full = assign(c, other["id"], sku["skuId"])
    assert full.status_code == 400 and "does not have any available licenses" in full.text


def test_delete_restore_and_purge_a_user(sim):
    sku = sku_of(sim)
    with sim.client() as c:
        user = create_user(c, "gone.soon", usageLocation="FR")
        assign(c, user["id"], sku["skuId"])
        assert c.delete(f"users/{user['id']}").status_code == 204
        assert c.get(f"users/{user['id']}").status_code == 404
        assert sku_of(sim)["consumedUnits"] == sku["consumedUnits"]
        no_cast = c.get("directory/deletedItems")
        deleted = c.get("directory/deletedItems/microsoft.graph.user").json()["value"]
        one = c.get(f"directory/deletedItems/{user['id']}")
        restored = c.post(f"directory/deletedItems/{user['id']}/restore")
        back = c.get(f"users/{user['id']}")
        c.delete(f"users/{user['id']}")
        purged = c.delete(f"directory/deletedItems/{user['id']}")
        after_purge = c.get(f"directory/deletedItems/{user['id']}")
    assert no_cast.status_code == 400
    assert [d["id"] for d in deleted] == [user["id"]] and deleted[0]["deletedDateTime"]
    assert one.status_code == 200 and one.json()["@odata.type"] == "#microsoft.graph.user"
    assert restored.status_code == 200 and back.status_code == 200
    assert purged.status_code == 204 and after_purge.status_code == 404


def test_restore_fails_when_the_upn_was_reused(sim):
    with sim.client() as c:
        user = create_user(c, "reused.upn")
        c.delete(f"users/{user['id']}")
        create_user(c, "reused.upn")
        resp = c.post(f"directory/deletedItems/{user['id']}/restore")
    assert resp.status_code == 400 and error_code(resp) == "Request_BadRequest"


def test_restore_a_group_with_its_nickname_reused_fails(sim):
    with sim.client() as c:
        owner = create_user(c, "grp.owner")
        body = {
            "displayName": "G",
            "mailEnabled": True,
            "mailNickname": "reuse-me",
            "securityEnabled": False,
            "groupTypes": ["Unified"],
            "owners@odata.bind": [f"https://graph.microsoft.com/v1.0/users/{owner['id']}"],
        }
        group = c.post("groups", json=body).json()
        c.delete(f"groups/{group['id']}")
        listed = c.get("directory/deletedItems/microsoft.graph.group").json()["value"]
        owned = c.post(
            "directory/deletedItems/getUserOwnedObjects",
            json={"userId": owner["id"], "type": "Group"},
        ).json()["value"]
        c.post("groups", json=body)
        resp = c.post(f"directory/deletedItems/{group['id']}/restore")
    assert [g["id"] for g in listed] == [group["id"]]
    assert [g["id"] for g in owned] == [group["id"]]
    assert resp.status_code == 400


def test_advanced_queries_lag_behind_writes(sim):
    sim.set_profile(replication_lag_s=60)
    params = {"$filter": "employeeType eq 'lagging'", "$count": "true"}
    with sim.client() as c:
        create_user(c, "lag.index", employeeType="lagging")
        fresh = c.get("users", params=params, headers=EVENTUAL).json()["value"]
        plain = c.get("users", params={"$filter": f"userPrincipalName eq 'lag.index@{DOMAIN}'"})
        sim.advance(61)
        later = c.get("users", params=params, headers=EVENTUAL).json()["value"]
    assert fresh == [] and len(plain.json()["value"]) == 1
    assert len(later) == 1


def test_orderby_display_name_is_plain(sim):
    with sim.client() as c:
        plain = c.get("users", params={"$orderby": "displayName"})
        advanced = c.get("users", params={"$orderby": "jobTitle"})
    names = [u["displayName"] for u in plain.json()["value"]]
    assert plain.status_code == 200 and names == sorted(names, key=str.lower)
    assert advanced.status_code == 400
