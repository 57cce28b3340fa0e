"""Temporary Access Pass and phone methods in the simulator, over loopback."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from crisiskit.sim.server import EmbeddedSimulator

DOMAIN = "crise.example.fr"
TAP_TYPE = "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
MOBILE_ID = "3179e48a-750b-4051-897c-87b9720928f7"
ALTERNATE_ID = "b6332ec1-7057-4abe-9331-3d72feddfe41"
OFFICE_ID = "e37fc753-ff3b-4958-9484-eaa9425c82bc"


@pytest.fixture
def user(http: httpx.Client) -> dict[str, Any]:
    resp = http.post(
        "users",
        json={
            "accountEnabled": True,
            "displayName": "Agent TAP",
            "mailNickname": "agent.tap",
            "userPrincipalName": f"agent.tap@{DOMAIN}",
            "passwordProfile": {"password": "S3cret-pass-1234"},
        },
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def taps_url(user: dict[str, Any]) -> str:
    return f"users/{user['id']}/authentication/temporaryAccessPassMethods"


def phones_url(user: dict[str, Any]) -> str:
    return f"users/{user['id']}/authentication/phoneMethods"


def error_code(resp: httpx.Response) -> str:
    return str(resp.json()["error"]["code"])


# ---------------------------------------------------------------- Temporary Access Pass


def test_tap_secret_is_returned_once_and_only_state_keeps_it(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]
) -> None:
    resp = http.post(taps_url(user), json={"lifetimeInMinutes": 480, "isUsableOnce": False})
    assert resp.status_code == 201
    tap = resp.json()
    secret = tap["temporaryAccessPass"]
    assert isinstance(secret, str) and len(secret) >= 8
    assert tap["@odata.type"] == TAP_TYPE
    assert tap["lifetimeInMinutes"] == 480
    assert tap["isUsable"] is True
    assert tap["methodUsabilityReason"] == "EnabledByPolicy"
    one = http.get(f"{taps_url(user)}/{tap['id']}")
    assert one.status_code == 200
    assert one.json()["temporaryAccessPass"] is None
    listed = http.get(taps_url(user))
    assert [m["temporaryAccessPass"] for m in listed.json()["value"]] == [None]
    everything = http.get(f"users/{user['id']}/authentication/methods")
    assert secret not in everything.text
    assert secret not in one.text and secret not in listed.text
    methods = es.state()["authenticationMethods"]
    stored = [m for m in methods if m["id"] == tap["id"]]
    assert stored[0]["temporaryAccessPass"] == secret
    assert stored[0]["userId"] == user["id"]
    assert stored[0]["@odata.type"] == TAP_TYPE
    # No request other than the create ever carried the secret back.
    log = json.dumps(es.requests())
    assert secret not in log


def test_a_new_tap_replaces_the_old_one(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]
) -> None:
    first = http.post(taps_url(user), json={}).json()
    second = http.post(taps_url(user), json={"isUsableOnce": True}).json()
    assert first["id"] != second["id"]
    assert first["temporaryAccessPass"] != second["temporaryAccessPass"]
    assert second["lifetimeInMinutes"] == 60
    ids = [m["id"] for m in http.get(taps_url(user)).json()["value"]]
    assert ids == [second["id"]]
    assert http.get(f"{taps_url(user)}/{first['id']}").status_code == 404


@pytest.mark.parametrize("lifetime", [9, 43201, "60", 1.5, True])
def test_tap_lifetime_out_of_range_is_refused(
    http: httpx.Client, user: dict[str, Any], lifetime: object
) -> None:
    resp = http.post(taps_url(user), json={"lifetimeInMinutes": lifetime})
    assert resp.status_code == 400
    assert error_code(resp) == "badRequest"


@pytest.mark.parametrize("lifetime", [10, 43200])
def test_tap_lifetime_bounds_are_accepted(
    http: httpx.Client, user: dict[str, Any], lifetime: int
) -> None:
    assert http.post(taps_url(user), json={"lifetimeInMinutes": lifetime}).status_code == 201


def test_future_start_is_not_yet_valid(http: httpx.Client, user: dict[str, Any]) -> None:
    tap = http.post(
        taps_url(user), json={"startDateTime": "2099-06-05T00:00:00.000Z", "lifetimeInMinutes": 60}
    ).json()
    assert tap["startDateTime"] == "2099-06-05T00:00:00Z"
    assert tap["isUsable"] is False
    assert tap["methodUsabilityReason"] == "NotYetValid"


def test_tap_expires_after_its_lifetime(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]
) -> None:
    tap = http.post(taps_url(user), json={"lifetimeInMinutes": 10}).json()
    es.advance(601)
    later = http.get(f"{taps_url(user)}/{tap['id']}").json()
    assert later["isUsable"] is False
    assert later["methodUsabilityReason"] == "Expired"


def test_tap_refused_when_policy_disabled(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]
) -> None:
    es.set_profile(tapPolicyEnabled=False)
    resp = http.post(taps_url(user), json={})
    assert resp.status_code == 400
    assert "TemporaryAccessPass" in resp.json()["error"]["message"]
    assert not [m for m in es.state()["authenticationMethods"] if m["userId"] == user["id"]]


def test_tap_delete_and_unknown_user(http: httpx.Client, user: dict[str, Any]) -> None:
    tap = http.post(taps_url(user), json={}).json()
    assert http.delete(f"{taps_url(user)}/{tap['id']}").status_code == 204
    assert http.delete(f"{taps_url(user)}/{tap['id']}").status_code == 404
    missing = http.post(
        "users/00000000-0000-4000-8000-000000000042/authentication/temporaryAccessPassMethods",
        json={},
    )
    assert missing.status_code == 404
    assert error_code(missing) == "Request_ResourceNotFound"


def test_tap_by_upn(http: httpx.Client, user: dict[str, Any]) -> None:
    resp = http.post(
        f"users/{user['userPrincipalName']}/authentication/temporaryAccessPassMethods", json={}
    )
    assert resp.status_code == 201


# ---------------------------------------------------------------- phone methods


def test_phone_methods_have_documented_ids_one_per_type(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]
) -> None:
    early = http.post(phones_url(user), json={"phoneNumber": "+33 612345678",
                                              "phoneType": "alternateMobile"})
    assert early.status_code == 400  # a mobile must exist first
    mobile = http.post(phones_url(user), json={"phoneNumber": "+33 612345678",
                                               "phoneType": "mobile"})
    assert mobile.status_code == 201
    assert mobile.json()["id"] == MOBILE_ID
    assert mobile.json()["smsSignInState"] == "ready"
    dup = http.post(phones_url(user), json={"phoneNumber": "+33 699999999",
                                            "phoneType": "mobile"})
    assert dup.status_code == 400
    alt = http.post(phones_url(user), json={"phoneNumber": "+33 611111111",
                                            "phoneType": "alternateMobile"})
    assert alt.json()["id"] == ALTERNATE_ID
    office = http.post(phones_url(user), json={"phoneNumber": "+33 491000000x12",
                                               "phoneType": "office"})
    assert office.json()["id"] == OFFICE_ID
    listed = http.get(phones_url(user)).json()["value"]
    assert sorted(m["phoneType"] for m in listed) == ["alternateMobile", "mobile", "office"]
    stored = [m for m in es.state()["authenticationMethods"] if m["userId"] == user["id"]]
    assert len(stored) == 3


@pytest.mark.parametrize(
    "number", ["0612345678", "+33612345678", "+33 06-12-34", "33 612345678", "+33 6123x", ""]
)
def test_badly_formatted_phone_is_refused(
    http: httpx.Client, user: dict[str, Any], number: str
) -> None:
    resp = http.post(phones_url(user), json={"phoneNumber": number, "phoneType": "mobile"})
    assert resp.status_code == 400
    assert error_code(resp) == "badRequest"


def test_phone_type_must_be_known(http: httpx.Client, user: dict[str, Any]) -> None:
    resp = http.post(phones_url(user), json={"phoneNumber": "+33 612345678", "phoneType": "fax"})
    assert resp.status_code == 400


def test_phone_patch_get_delete(http: httpx.Client, user: dict[str, Any]) -> None:
    http.post(phones_url(user), json={"phoneNumber": "+33 612345678", "phoneType": "mobile"})
    patch = http.patch(f"{phones_url(user)}/{MOBILE_ID}", json={"phoneNumber": "+33 700000000"})
    assert patch.status_code == 204
    got = http.get(f"{phones_url(user)}/{MOBILE_ID}").json()
    assert got["phoneNumber"] == "+33 700000000"
    bad = http.patch(f"{phones_url(user)}/{MOBILE_ID}", json={"phoneNumber": "07"})
    assert bad.status_code == 400
    assert http.delete(f"{phones_url(user)}/{MOBILE_ID}").status_code == 204
    assert http.get(f"{phones_url(user)}/{MOBILE_ID}").status_code == 404


def test_methods_lists_password_tap_and_phone(http: httpx.Client, user: dict[str, Any]) -> None:
    http.post(taps_url(user), json={})
    http.post(phones_url(user), json={"phoneNumber": "+33 612345678", "phoneType": "mobile"})
    methods = http.get(f"users/{user['id']}/authentication/methods").json()["value"]
    types = sorted(m["@odata.type"] for m in methods)
    assert types == [
        "#microsoft.graph.passwordAuthenticationMethod",
        "#microsoft.graph.phoneAuthenticationMethod",
        TAP_TYPE,
    ]


# ---------------------------------------------------------------- day-2 rules


def test_a_disabled_account_cannot_use_its_pass(http: httpx.Client, user: dict[str, Any]) -> None:
    tap = http.post(taps_url(user), json={"lifetimeInMinutes": 60}).json()
    assert tap["isUsable"] is True
    assert http.patch(f"users/{user['id']}", json={"accountEnabled": False}).status_code == 204
    disabled = http.get(f"{taps_url(user)}/{tap['id']}").json()
    assert disabled["isUsable"] is False
    assert disabled["methodUsabilityReason"] == "DisabledByPolicy"
    assert http.patch(f"users/{user['id']}", json={"accountEnabled": True}).status_code == 204
    assert http.get(f"{taps_url(user)}/{tap['id']}").json()["isUsable"] is True


def test_deleting_a_pass_leaves_none(http: httpx.Client, user: dict[str, Any]) -> None:
    first = http.post(taps_url(user), json={}).json()
    second = http.post(taps_url(user), json={}).json()
    assert [t["id"] for t in http.get(taps_url(user)).json()["value"]] == [second["id"]]
    assert http.get(f"{taps_url(user)}/{first['id']}").status_code == 404  # replaced: deleted
    assert http.delete(f"{taps_url(user)}/{second['id']}").status_code == 204
    assert http.get(taps_url(user)).json()["value"] == []


def test_phone_type_cannot_be_changed_by_patch(http: httpx.Client, user: dict[str, Any]) -> None:
    http.post(phones_url(user), json={"phoneNumber": "+33 612345678", "phoneType": "mobile"})
    moved = http.patch(f"{phones_url(user)}/{MOBILE_ID}",
                       json={"phoneNumber": "+33 612345678", "phoneType": "office"})
    assert moved.status_code == 400
    assert http.get(f"{phones_url(user)}/{MOBILE_ID}").json()["phoneType"] == "mobile"
    same = http.patch(f"{phones_url(user)}/{MOBILE_ID}",
                      json={"phoneNumber": "+33 698765432", "phoneType": "mobile"})
    assert same.status_code == 204  # the documented example sends the unchanged type
    # The documented way: add the new type, then delete the old one.
    assert http.post(phones_url(user), json={"phoneNumber": "+33 491000000",
                                             "phoneType": "office"}).status_code == 201
    assert http.delete(f"{phones_url(user)}/{MOBILE_ID}").status_code == 204
    assert [p["phoneType"] for p in http.get(phones_url(user)).json()["value"]] == ["office"]


def test_the_default_mfa_method_cannot_be_deleted(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]
) -> None:
    es.seed({"phoneMethods": [{"user": user["id"], "phoneNumber": "+33 612345678",
                               "phoneType": "mobile", "isDefault": True},
                              {"user": user["id"], "phoneNumber": "+33 491000000",
                               "phoneType": "office"}]})
    refused = http.delete(f"{phones_url(user)}/{MOBILE_ID}")
    assert refused.status_code == 400 and "default" in refused.json()["error"]["message"]
    assert http.delete(f"{phones_url(user)}/{OFFICE_ID}").status_code == 204
    assert http.get(f"{phones_url(user)}/{MOBILE_ID}").status_code == 200
