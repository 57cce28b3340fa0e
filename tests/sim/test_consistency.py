"""The directory's eventual consistency: stale reads, deleted items' lag and retention, restores.

Each test sets the knobs it shows at runtime (`PUT /_sim/profile`) and ages objects with the
simulator's clock (`POST /_sim/clock`), so nothing waits in real time.
"""

from __future__ import annotations

from typing import Any

import httpx
from simhelp import create_group, create_user

from crisiskit.sim.server import EmbeddedSimulator

LAG = 60.0


def _age(sim: EmbeddedSimulator) -> None:
    sim.advance(LAG + 1)


def _lagging(sim: EmbeddedSimulator, *, stale: float = 1.0, missing: float = 1.0) -> None:
    sim.set_profile(replication_lag_s=LAG, stale_read_rate=stale, replication_404_rate=missing)


def test_a_read_after_patch_can_return_the_previous_version(sim: EmbeddedSimulator):
    with sim.client() as http:
        user = create_user(http, "stale.patch", jobTitle="Agent")
        _lagging(sim)
        _age(sim)  # the create is replicated everywhere
        assert http.patch(f"users/{user['id']}", json={"jobTitle": "Maire"}).status_code == 204
        old = http.get(f"users/{user['id']}?$select=jobTitle").json()
        assert old["jobTitle"] == "Agent"
        sim.set_profile(stale_read_rate=0.0)
        assert http.get(f"users/{user['id']}?$select=jobTitle").json()["jobTitle"] == "Maire"
        sim.set_profile(stale_read_rate=1.0)
        _age(sim)
        assert http.get(f"users/{user['id']}?$select=jobTitle").json()["jobTitle"] == "Maire"


def test_lists_and_filters_lag_the_same_way(sim: EmbeddedSimulator):
    with sim.client() as http:
        user = create_user(http, "stale.list", jobTitle="Agent")
        _lagging(sim)
        _age(sim)
        http.patch(f"users/{user['id']}", json={"jobTitle": "Maire"})
        flt = http.get("users?$filter=jobTitle eq 'Maire'&$select=id").json()["value"]
        assert user["id"] not in [u["id"] for u in flt]
        fresh = create_user(http, "stale.fresh")
        listed = [u["id"] for u in http.get("users?$top=999").json()["value"]]
        assert fresh["id"] not in listed  # the lagging replica has not seen the create
        _age(sim)
        flt = http.get("users?$filter=jobTitle eq 'Maire'&$select=id").json()["value"]
        assert [u["id"] for u in flt] == [user["id"]]
        assert fresh["id"] in [u["id"] for u in http.get("users?$top=999").json()["value"]]


def test_a_deleted_user_stays_readable_then_disappears(sim: EmbeddedSimulator):
    with sim.client() as http:
        user = create_user(http, "stale.deleted")
        _lagging(sim)
        _age(sim)
        assert http.delete(f"users/{user['id']}").status_code == 204
        assert http.get(f"users/{user['id']}").status_code == 200
        assert http.get(f"users/{user['userPrincipalName']}").status_code == 200
        # Writes go to the directory itself: the user is gone for them.
        assert http.patch(f"users/{user['id']}", json={"jobTitle": "x"}).status_code == 404
        _age(sim)
        assert http.get(f"users/{user['id']}").status_code == 404
        assert http.get(f"users/{user['userPrincipalName']}").status_code == 404


def test_a_restored_user_can_still_be_missing_for_a_while(sim: EmbeddedSimulator):
    with sim.client() as http:
        user = create_user(http, "stale.restored")
        assert http.delete(f"users/{user['id']}").status_code == 204
        _lagging(sim)
        _age(sim)
        restored = http.post(f"directory/deletedItems/{user['id']}/restore")
        assert restored.status_code == 200, restored.text
        assert http.get(f"users/{user['id']}").status_code == 404
        _age(sim)
        assert http.get(f"users/{user['id']}").status_code == 200


def test_stale_reads_replay_identically_under_a_seed(sample_inventory: Any):
    def run() -> list[int | str]:
        seen: list[int | str] = []
        with EmbeddedSimulator(sample_inventory, seed=11) as es, es.client() as http:
            user = create_user(http, "seeded.user", jobTitle="A")
            es.set_profile(replication_lag_s=LAG, stale_read_rate=0.5, replication_404_rate=0.5)
            es.advance(LAG + 1)
            for title in ("B", "C", "D", "E", "F", "G"):
                http.patch(f"users/{user['id']}", json={"jobTitle": title})
                resp = http.get(f"users/{user['id']}?$select=jobTitle")
                seen.append(resp.json()["jobTitle"])
                seen.append(len(http.get("users?$filter=jobTitle eq 'A'").json()["value"]))
        return seen

    first, second = run(), run()
    assert first == second
    assert set(first) & {"A"} and set(first) - {"A", 0, 1}  # both stale and fresh answers


def test_deleted_items_appear_after_their_lag(sim: EmbeddedSimulator):
    sim.set_profile(deleted_items_lag_s=30.0)
    with sim.client() as http:
        owner = create_user(http, "lag.owner")
        group = create_group(http, "lag-group", owner["id"])
        assert http.delete(f"groups/{group['id']}").status_code == 204
        listed = http.get("directory/deletedItems/microsoft.graph.group").json()["value"]
        assert group["id"] not in [g["id"] for g in listed]
        sim.advance(31)
        listed = http.get("directory/deletedItems/microsoft.graph.group").json()["value"]
        assert group["id"] in [g["id"] for g in listed]


def test_deleted_items_are_purged_after_30_days_on_the_simulator_clock(sim: EmbeddedSimulator):
    with sim.client() as http:
        user = create_user(http, "retention.user")
        tap = http.post(f"users/{user['id']}/authentication/temporaryAccessPassMethods", json={})
        assert tap.status_code == 201
        owner = create_user(http, "retention.owner")
        group = create_group(http, "retention-group", owner["id"])
        assert http.delete(f"users/{user['id']}").status_code == 204
        assert http.delete(f"groups/{group['id']}").status_code == 204
        sim.advance(29 * 86400)
        assert http.get(f"directory/deletedItems/{user['id']}").status_code == 200
        sim.advance(1 * 86400 + 1)
        # The clock alone purges them: no Graph request needed.
        state = sim.state()
        assert {d["id"] for d in state["deletedItems"]} & {user["id"], group["id"]} == set()
        assert not [m for m in state["authenticationMethods"] if m["userId"] == user["id"]]
        assert http.get(f"directory/deletedItems/{user['id']}").status_code == 404
        assert http.post(f"directory/deletedItems/{group['id']}/restore").status_code == 404


def test_a_security_group_is_deleted_for_good_at_once(sim: EmbeddedSimulator):
    with sim.client() as http:
        body = {
            "displayName": "Sécurité",
            "mailEnabled": False,
            "mailNickname": "secu-crise",
            "securityEnabled": True,
        }
        group = http.post("groups", json=body).json()
        assert http.delete(f"groups/{group['id']}").status_code == 204
        assert http.get(f"directory/deletedItems/{group['id']}").status_code == 404
        assert http.post(f"directory/deletedItems/{group['id']}/restore").status_code == 404
        listed = http.get("directory/deletedItems/microsoft.graph.group").json()["value"]
        assert group["id"] not in [g["id"] for g in listed]


def _team_and_drive(sim: EmbeddedSimulator, http: httpx.Client, owner: dict[str, Any]) -> str:
    group = create_group(http, "restore-workloads", owner["id"])
    assert http.put(f"groups/{group['id']}/team", json={}).status_code == 201
    assert http.get(f"groups/{group['id']}/drive").status_code == 200
    return str(group["id"])


def test_a_restored_group_gets_its_team_and_site_back_after_a_delay(sim: EmbeddedSimulator):
    sim.set_profile(restore_delay_s=20.0)
    with sim.client() as http:
        owner = create_user(http, "restore.owner")
        gid = _team_and_drive(sim, http, owner)
        assert http.delete(f"groups/{gid}").status_code == 204
        assert http.post(f"directory/deletedItems/{gid}/restore").status_code == 200
        assert http.get(f"groups/{gid}").status_code == 200
        assert http.get(f"teams/{gid}").status_code == 404
        assert http.get(f"groups/{gid}/drive").status_code == 404
        sim.advance(21)
        assert http.get(f"teams/{gid}").status_code == 200
        assert http.get(f"groups/{gid}/drive").status_code == 200


def test_a_restored_user_gets_its_memberships_and_group_licences_back(sim: EmbeddedSimulator):
    with sim.client() as http:
        owner = create_user(http, "memb.owner", usageLocation="FR")
        user = create_user(http, "memb.user", usageLocation="FR")
        group = create_group(http, "memb-group", owner["id"])
        ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/users/{user['id']}"}
        assert http.post(f"groups/{group['id']}/members/$ref", json=ref).status_code == 204
        assert http.post(f"groups/{group['id']}/owners/$ref", json=ref).status_code == 204
        sku = sim.state()["subscribedSkus"][0]
        lic = {"addLicenses": [{"skuId": sku["skuId"]}], "removeLicenses": []}
        assert http.post(f"groups/{group['id']}/assignLicense", json=lic).status_code == 202
        used = sim.state()["subscribedSkus"][0]["consumedUnits"]
        assert http.delete(f"users/{user['id']}").status_code == 204
        assert sim.state()["subscribedSkus"][0]["consumedUnits"] == used - 1
        members = http.get(f"groups/{group['id']}/members").json()["value"]
        assert user["id"] not in [m["id"] for m in members]
        assert http.post(f"directory/deletedItems/{user['id']}/restore").status_code == 200
        groups = {g["id"]: g for g in sim.state()["groups"]}
        assert user["id"] in groups[group["id"]]["members"]
        assert user["id"] in groups[group["id"]]["owners"]
        assert sim.state()["subscribedSkus"][0]["consumedUnits"] == used


def test_a_user_restored_while_its_group_is_deleted_returns_with_the_group(sim: EmbeddedSimulator):
    with sim.client() as http:
        owner = create_user(http, "both.owner")
        user = create_user(http, "both.user")
        group = create_group(
            http,
            "both-group",
            owner["id"],
            **{"members@odata.bind": [f"https://graph.microsoft.com/v1.0/users/{user['id']}"]},
        )
        assert http.delete(f"users/{user['id']}").status_code == 204
        assert http.delete(f"groups/{group['id']}").status_code == 204
        assert http.post(f"directory/deletedItems/{user['id']}/restore").status_code == 200
        assert http.post(f"directory/deletedItems/{group['id']}/restore").status_code == 200
        members = http.get(f"groups/{group['id']}/members").json()["value"]
        assert user["id"] in [m["id"] for m in members]


def test_restore_with_a_new_user_principal_name(sim: EmbeddedSimulator):
    with sim.client() as http:
        user = create_user(http, "renamed.user")
        assert http.delete(f"users/{user['id']}").status_code == 204
        create_user(http, "renamed.user")  # someone took the name meanwhile
        conflict = http.post(f"directory/deletedItems/{user['id']}/restore")
        assert conflict.status_code == 400
        new = "renamed.user2@" + user["userPrincipalName"].split("@")[1]
        resp = http.post(
            f"directory/deletedItems/{user['id']}/restore", json={"newUserPrincipalName": new}
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["userPrincipalName"] == new
        assert http.get(f"users/{new}").json()["id"] == user["id"]
