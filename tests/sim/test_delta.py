"""Delta queries for users and groups (user-delta, group-delta, delta-query-overview)."""

from __future__ import annotations

from typing import Any

import httpx
from simhelp import create_group, create_user, error_code

from crisiskit.sim.server import EmbeddedSimulator


def _round(http: httpx.Client, url: str, **headers: str) -> tuple[list[dict[str, Any]], str]:
    """Follow nextLinks to the deltaLink; return the items and the deltaLink."""
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        resp = http.get(url, headers=headers)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        items += body["value"]
        pages += 1
        assert pages < 100
        if "@odata.deltaLink" in body:
            assert "@odata.nextLink" not in body
            return items, body["@odata.deltaLink"]
        url = body["@odata.nextLink"]


def test_a_first_round_pages_through_every_user_then_gives_a_delta_link(sim: EmbeddedSimulator):
    with sim.client() as http:
        items, link = _round(http, "users/delta", prefer="odata.maxpagesize=2")
        users = {u["id"] for u in sim.state()["users"]}
        assert {i["id"] for i in items} == users and len(items) == len(users)
        assert all("userPrincipalName" in i and "@removed" not in i for i in items)
        assert "$deltatoken=" in link
        again, _ = _round(http, link)
        assert again == []  # nothing changed since


def test_a_later_round_returns_what_changed_and_what_was_removed(sim: EmbeddedSimulator):
    with sim.client() as http:
        kept = create_user(http, "delta.kept")
        edited = create_user(http, "delta.edited")
        soft = create_user(http, "delta.soft")
        hard = create_user(http, "delta.hard")
        _, link = _round(http, "users/delta?$select=displayName,jobTitle")
        added = create_user(http, "delta.added")
        assert http.patch(f"users/{edited['id']}", json={"jobTitle": "Maire"}).status_code == 204
        assert http.delete(f"users/{soft['id']}").status_code == 204
        assert http.delete(f"users/{hard['id']}").status_code == 204
        sim.set_roles([], token="admin", app_only=False)
        with sim.client("admin") as admin:
            assert admin.delete(f"directory/deletedItems/{hard['id']}").status_code == 204
        items, link2 = _round(http, link)
        by_id = {i["id"]: i for i in items}
        assert set(by_id) == {added["id"], edited["id"], soft["id"], hard["id"]}
        assert kept["id"] not in by_id
        assert by_id[edited["id"]]["jobTitle"] == "Maire"
        assert set(by_id[added["id"]]) <= {"id", "displayName", "jobTitle"}  # $select kept
        assert by_id[soft["id"]] == {"id": soft["id"], "@removed": {"reason": "changed"}}
        assert by_id[hard["id"]] == {"id": hard["id"], "@removed": {"reason": "deleted"}}
        assert http.post(f"directory/deletedItems/{soft['id']}/restore").status_code == 200
        restored, _ = _round(http, link2)
        assert [i["id"] for i in restored] == [soft["id"]] and "@removed" not in restored[0]


def test_group_delta_reports_members_added_and_removed(sim: EmbeddedSimulator):
    with sim.client() as http:
        owner = create_user(http, "gdelta.owner")
        first = create_user(http, "gdelta.first")
        second = create_user(http, "gdelta.second")
        bind = {"members@odata.bind": [f"https://graph.microsoft.com/v1.0/users/{first['id']}"]}
        group = create_group(http, "gdelta-group", owner["id"], **bind)
        items, link = _round(http, "groups/delta?$select=displayName,members")
        mine = next(i for i in items if i["id"] == group["id"])
        user_type = "#microsoft.graph.user"
        assert mine["members@delta"] == [{"@odata.type": user_type, "id": first["id"]}]
        ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/users/{second['id']}"}
        assert http.post(f"groups/{group['id']}/members/$ref", json=ref).status_code == 204
        assert http.delete(f"groups/{group['id']}/members/{first['id']}/$ref").status_code == 204
        items, _ = _round(http, link)
        (changed,) = [i for i in items if i["id"] == group["id"]]
        entries = {e["id"]: e for e in changed["members@delta"]}
        assert "@removed" not in entries[second["id"]]
        assert entries[first["id"]]["@removed"] == {"reason": "deleted"}


def test_delta_filters_only_by_id(sim: EmbeddedSimulator):
    with sim.client() as http:
        one = create_user(http, "dfilter.one")
        create_user(http, "dfilter.two")
        items, _ = _round(http, f"users/delta?$filter=id eq '{one['id']}'")
        assert [i["id"] for i in items] == [one["id"]]
        refused = http.get("users/delta?$filter=displayName eq 'x'")
        assert refused.status_code == 400 and error_code(refused) == "Request_UnsupportedQuery"


def test_a_token_that_is_not_ours_is_a_400(sim: EmbeddedSimulator):
    with sim.client() as http:
        for token in ("garbage", "e30", "eyJjIjoidXNlcnMifQ"):
            resp = http.get(f"users/delta?$deltatoken={token}")
            assert resp.status_code == 400, token
        _, link = _round(http, "groups/delta")
        swapped = link.replace("/groups/delta", "/users/delta")
        assert http.get(swapped).status_code == 400  # a groups token is not a users token
