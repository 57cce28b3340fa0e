"""The fault tests' own checks can fail: each is shown a tenant or a log it must reject."""

from __future__ import annotations

import copy
from typing import Any

from faultkit import diff_snapshots, duplicates, is_write, kit_snapshot, retry_after_violations

TAG = "extension_0123_crisiskitCommune"


def tenant() -> dict[str, Any]:
    users = [
        {"id": "u1", "userPrincipalName": "a@x.fr", TAG: "aubagne", "assignedLicenses": []},
        {"id": "u2", "userPrincipalName": "b@x.fr", TAG: "aubagne", "assignedLicenses": []},
        {"id": "d1", "userPrincipalName": "decoy@x.fr"},
    ]
    groups = [
        {"id": "g1", "mailNickname": "crisiskit-aubagne", TAG: "aubagne",
         "members": ["u1", "u2"], "owners": ["u1"]},
    ]  # fmt: skip
    return {
        "users": users,
        "groups": groups,
        "teams": [{"id": "g1"}],
        "channels": [{"teamId": "g1", "displayName": "Décisions"}],
        "driveItems": [{"groupId": "g1", "path": "Main courante", "folder": {}}],
        "authenticationMethods": [
            {"userId": "u1", "@odata.type": "#microsoft.graph.phoneAuthenticationMethod",
             "phoneType": "mobile", "phoneNumber": "+33 612345678"},
        ],  # fmt: skip
        "subscribedSkus": [],
        "deletedItems": [],
    }


def test_duplicates_are_found_per_natural_key() -> None:
    assert duplicates(tenant()) == []
    for key, extra in [
        ("channels", {"teamId": "g1", "displayName": "décisions"}),
        ("driveItems", {"groupId": "g1", "path": "main courante", "folder": {}}),
        ("groups", {"id": "g2", "mailNickname": "CRISISKIT-aubagne"}),
        (
            "authenticationMethods",
            {"userId": "u1", "@odata.type": "#microsoft.graph.phoneAuthenticationMethod",
             "phoneType": "mobile", "phoneNumber": "+33 600000000"},
        ),  # fmt: skip
    ]:
        t = tenant()
        t[key].append(extra)
        assert duplicates(t), key


def test_snapshots_differ_on_membership_extra_folder_or_renamed_account() -> None:
    base = kit_snapshot(tenant())
    assert diff_snapshots(base, kit_snapshot(tenant())) == ""
    t = tenant()
    t["groups"][0]["members"] = ["u1"]
    assert "members" in diff_snapshots(base, kit_snapshot(t))
    t = tenant()
    t["driveItems"].append({"groupId": "g1", "path": "Main courante 1", "folder": {}})
    assert "Main courante 1" in diff_snapshots(base, kit_snapshot(t))
    t = tenant()
    t["users"][1]["userPrincipalName"] = "b2@x.fr"
    assert "b2@x.fr" in diff_snapshots(base, kit_snapshot(t))
    t = copy.deepcopy(tenant())
    t["users"][2]["displayName"] = "changed decoy"  # not ours: not in the kit snapshot
    assert diff_snapshots(base, kit_snapshot(t)) == ""


def test_retry_after_checker_flags_an_early_request_only() -> None:
    latency = 0.05
    log = [
        {"method": "GET", "path": "/users", "status": 200, "time": 9.99},  # in flight
        {"method": "GET", "path": "/groups", "status": 429, "time": 10.0},
        {"method": "GET", "path": "/groups", "status": 200, "time": 11.1},  # after 1 s: fine
    ]
    assert retry_after_violations(log, latency, 1.0) == []
    early = {"method": "GET", "path": "/groups", "status": 200, "time": 10.4}
    assert retry_after_violations([*log, early], latency, 1.0)


def test_batch_carriers_are_not_writes_but_their_sub_requests_are() -> None:
    assert not is_write({"method": "POST", "path": "/$batch", "status": 200})
    assert is_write({"method": "POST", "path": "/users", "status": 201, "via": "$batch"})
    assert not is_write({"method": "GET", "path": "/users", "status": 200, "via": "$batch"})
