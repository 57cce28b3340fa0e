"""Day-2 calls on users: revoke sessions, disable an account; and licence seats as knobs."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from simhelp import create_user, error_code

from crisiskit.sim.server import EmbeddedSimulator


def test_revoke_sign_in_sessions_invalidates_earlier_sessions(sim: EmbeddedSimulator):
    with sim.client() as http:
        user = create_user(http, "day2.revoke")
        before = sim.simulator.now()
        assert sim.sign_in(user["id"], sessionIssuedAt=before)["allowed"] is True
        sim.advance(5)
        # The revocation's time lies between these two readings of the simulated clock (the
        # clock runs on: comparing it with one later reading breaks on a second's edge).
        earliest = sim.simulator.now()
        resp = http.post(f"users/{user['id']}/revokeSignInSessions")
        latest = sim.simulator.now()
        assert resp.status_code == 200
        assert resp.json()["value"] is True
        assert resp.json()["@odata.context"].endswith("$metadata#Edm.Boolean")
        valid_from = http.get(f"users/{user['id']}?$select=signInSessionsValidFromDateTime")
        revoked = datetime.strptime(
            valid_from.json()["signInSessionsValidFromDateTime"], "%Y-%m-%dT%H:%M:%S%z"
        ).timestamp()
        assert int(earliest) <= revoked <= latest
        assert sim.sign_in(user["id"], sessionIssuedAt=before) == {
            "allowed": False,
            "reason": "SessionRevoked",
        }
        assert sim.sign_in(user["id"], sessionIssuedAt=sim.simulator.now())["allowed"] is True
        missing = http.post("users/nobody@crise.ampmetropole.fr/revokeSignInSessions")
        assert missing.status_code == 404 and error_code(missing) == "Request_ResourceNotFound"


def test_a_disabled_account_cannot_sign_in_even_with_a_valid_pass(sim: EmbeddedSimulator):
    with sim.client() as http:
        user = create_user(http, "day2.disabled")
        tap = http.post(
            f"users/{user['id']}/authentication/temporaryAccessPassMethods",
            json={"lifetimeInMinutes": 60, "isUsableOnce": False},
        ).json()["temporaryAccessPass"]
        assert sim.sign_in(user["userPrincipalName"], temporaryAccessPass=tap)["allowed"]
        assert http.patch(f"users/{user['id']}", json={"accountEnabled": False}).status_code == 204
        assert sim.sign_in(user["id"], temporaryAccessPass=tap) == {
            "allowed": False,
            "reason": "UserAccountDisabled",
        }
        assert not sim.sign_in(user["id"], sessionIssuedAt=sim.simulator.now())["allowed"]
        listed = http.get("users", params={"$filter": "accountEnabled eq false"}).json()["value"]
        assert user["id"] in [u["id"] for u in listed]
        assert http.patch(f"users/{user['id']}", json={"accountEnabled": True}).status_code == 204
        assert sim.sign_in(user["id"], temporaryAccessPass=tap)["allowed"]
        assert sim.sign_in(user["id"], temporaryAccessPass="wrong") == {
            "allowed": False,
            "reason": "InvalidTemporaryAccessPass",
        }


def test_a_single_use_pass_signs_in_once(sim: EmbeddedSimulator):
    with sim.client() as http:
        user = create_user(http, "day2.once")
        tap = http.post(
            f"users/{user['id']}/authentication/temporaryAccessPassMethods",
            json={"lifetimeInMinutes": 60, "isUsableOnce": True},
        ).json()["temporaryAccessPass"]
    assert sim.sign_in(user["id"], temporaryAccessPass=tap)["allowed"]
    assert sim.sign_in(user["id"], temporaryAccessPass=tap)["reason"] == "OneTimeUsed"


@pytest.mark.parametrize(
    "body",
    [{}, {"user": 3}, {"user": "a", "sessionIssuedAt": "yesterday"}, {"user": "a", "x": 1}],
)
def test_sign_in_control_refuses_bad_bodies(sim: EmbeddedSimulator, body):
    resp = httpx.post(sim.root_url + "/_sim/signin", json=body)
    assert resp.status_code == 400


def _seats(sim: EmbeddedSimulator) -> int:
    return int(sim.state()["subscribedSkus"][0]["prepaidUnits"]["enabled"])


def test_seats_are_set_at_start_and_at_runtime(sample_inventory):
    with EmbeddedSimulator(sample_inventory, seats=2) as es, es.client() as http:
        assert _seats(es) == 2
        sku = es.state()["subscribedSkus"][0]
        lic = {"addLicenses": [{"skuId": sku["skuId"]}], "removeLicenses": []}
        users = [create_user(http, f"seat.{i}", usageLocation="FR") for i in range(3)]
        answers = [http.post(f"users/{u['id']}/assignLicense", json=lic) for u in users]
        assert [a.status_code for a in answers] == [200, 200, 400]
        assert "does not have any available licenses" in answers[2].text
        assert es.set_profile(seats=3)["seats"] == {sku["skuPartNumber"]: 3}
        assert http.post(f"users/{users[2]['id']}/assignLicense", json=lic).status_code == 200
        es.set_profile(seats={sku["skuPartNumber"]: 10})
        assert _seats(es) == 10
        for bad in (-1, 1.5, True, {"NO_SUCH_SKU": 1}, "3"):
            resp = httpx.put(es.root_url + "/_sim/profile", json={"seats": bad})
            assert resp.status_code == 400, bad
        assert _seats(es) == 10
