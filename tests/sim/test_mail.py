"""Mailbox readiness, mailbox settings, messages and MIME in the simulator, over loopback."""

from __future__ import annotations

import email
import time
from email import policy
from typing import Any

import httpx
import pytest

from crisiskit.sim.server import EmbeddedSimulator

DOMAIN = "crise.example.fr"


@pytest.fixture
def user(http: httpx.Client) -> dict[str, Any]:
    resp = http.post(
        "users",
        json={
            "accountEnabled": True,
            "displayName": "Marie Dupont",
            "mailNickname": "marie.dupont",
            "userPrincipalName": f"marie.dupont@{DOMAIN}",
            "passwordProfile": {"password": "S3cret-pass-1234"},
            "usageLocation": "FR",
        },
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def license_user(es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]) -> None:
    sku = es.state()["subscribedSkus"][0]["skuId"]
    resp = http.post(
        f"users/{user['id']}/assignLicense",
        json={"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []},
    )
    assert resp.status_code == 200, resp.text


def assert_no_mailbox(resp: httpx.Response) -> None:
    assert resp.status_code == 404
    error = resp.json()["error"]
    assert error["code"] == "MailboxNotEnabledForRESTAPI"
    assert "inactive, soft-deleted, or is hosted on-premise" in error["message"]


def test_unlicensed_user_has_no_mailbox(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]
) -> None:
    es.advance(3600)
    assert_no_mailbox(http.get(f"users/{user['id']}/mailboxSettings"))
    assert_no_mailbox(http.get(f"users/{user['id']}/messages"))


def test_mailbox_appears_mailbox_delay_s_after_the_licence(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]
) -> None:
    es.set_profile(mailbox_delay_s=0.3)
    license_user(es, http, user)
    assert_no_mailbox(http.get(f"users/{user['id']}/mailboxSettings"))
    time.sleep(0.35)
    resp = http.get(f"users/{user['id']}/mailboxSettings")
    assert resp.status_code == 200
    settings = resp.json()
    for prop in ("archiveFolder", "timeZone", "automaticRepliesSetting", "language",
                 "workingHours", "dateFormat", "timeFormat", "userPurpose"):
        assert prop in settings
    assert settings["@odata.context"].endswith(f"users('{user['id']}')/mailboxSettings")
    selected = http.get(f"users/{user['id']}/mailboxSettings", params={"$select": "timeZone"})
    assert {k for k in selected.json() if not k.startswith("@")} == {"timeZone"}


def test_messages_are_paged_and_exported_as_mime(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]
) -> None:
    license_user(es, http, user)
    es.seed(
        {
            "messages": [
                {
                    "user": user["userPrincipalName"],
                    "subject": f"Point de situation {i}",
                    "from": "Préfecture <cod@bouches-du-rhone.gouv.fr>",
                    "body": f"Réunion à {20 + i}h.",
                    "receivedDateTime": f"2026-11-26T{10 + i:02d}:00:00Z",
                }
                for i in range(5)
            ]
        }
    )
    first = http.get(f"users/{user['id']}/messages", params={"$top": "2"}).json()
    subjects = [m["subject"] for m in first["value"]]
    assert subjects == ["Point de situation 4", "Point de situation 3"]  # newest first
    seen = list(first["value"])
    url = first.get("@odata.nextLink")
    while url:
        page = http.get(url).json()
        seen += page["value"]
        url = page.get("@odata.nextLink")
    assert len(seen) == 5
    message = seen[0]
    assert message["from"]["emailAddress"]["address"] == "cod@bouches-du-rhone.gouv.fr"
    assert message["toRecipients"][0]["emailAddress"]["address"] == user["userPrincipalName"]
    selected = http.get(f"users/{user['id']}/messages", params={"$select": "subject"}).json()
    # Outlook returns the id (and @odata.etag) with any $select (user-list-messages.md).
    assert {k for k in selected["value"][0] if not k.startswith("@")} == {"id", "subject"}
    assert selected["value"][0]["@odata.etag"].startswith('W/"')
    raw = http.get(f"users/{user['id']}/messages/{message['id']}/$value")
    assert raw.status_code == 200
    parsed = email.message_from_bytes(raw.content, policy=policy.default)
    assert parsed["Subject"] == "Point de situation 4"
    assert parsed["From"].addresses[0].addr_spec == "cod@bouches-du-rhone.gouv.fr"
    assert parsed["Message-ID"] == message["internetMessageId"]
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content().strip() == "Réunion à 24h."
    one = http.get(f"users/{user['id']}/messages/{message['id']}")
    assert one.json()["id"] == message["id"]
    stored = [m for m in es.state()["messages"] if m["id"] == message["id"]]
    assert stored[0]["userId"] == user["id"]


def test_message_top_bounds_and_unknown_message(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]
) -> None:
    license_user(es, http, user)
    assert http.get(f"users/{user['id']}/messages", params={"$top": "1000"}).status_code == 200
    assert http.get(f"users/{user['id']}/messages", params={"$top": "1001"}).status_code == 400
    missing = http.get(f"users/{user['id']}/messages/AAMkAnope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ErrorItemNotFound"


def test_seeding_a_message_for_an_unknown_user_is_refused(es: EmbeddedSimulator) -> None:
    with pytest.raises(RuntimeError, match="400"):
        es.seed({"messages": [{"user": f"nobody@{DOMAIN}", "subject": "x", "from": "a@b.fr",
                               "body": "x"}]})
