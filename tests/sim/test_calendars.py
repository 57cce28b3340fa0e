"""Calendars, events, calendar views (users and groups) and contacts, over loopback."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from simhelp import create_group, error_code, licensed_user

from crisiskit.sim.server import EmbeddedSimulator

WINDOW = {"startDateTime": "2026-11-26T00:00:00Z", "endDateTime": "2026-11-27T00:00:00Z"}


@pytest.fixture
def user(es: EmbeddedSimulator, http: httpx.Client) -> dict[str, Any]:
    return licensed_user(es, http, "agent.cal")


def test_events_calendars_and_time_zones(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]
) -> None:
    ids = es.seed(
        {
            "events": [
                {
                    "user": user["userPrincipalName"],
                    "subject": "Cellule de crise",
                    "start": "2026-11-26T09:00:00",
                    "end": "2026-11-26T10:30:00",
                    "timeZone": "Romance Standard Time",
                    "location": "Mairie",
                    "attendees": ["Préfet <prefet@pref.gouv.fr>"],
                    "body": "Ordre du jour",
                },
                {
                    "user": user["id"],
                    "subject": "Astreinte",
                    "calendar": "Astreintes",
                    "start": "2026-11-26T20:00:00Z",
                    "end": "2026-11-27T08:00:00Z",
                },
            ]
        }
    )["events"]
    u = f"users/{user['id']}"
    calendars = http.get(f"{u}/calendars").json()["value"]
    assert [c["name"] for c in calendars] == ["Calendrier", "Astreintes"]
    assert calendars[0]["isDefaultCalendar"] is True
    assert http.get(f"{u}/calendar").json()["id"] == calendars[0]["id"]
    events = http.get(f"{u}/events").json()["value"]
    assert [e["id"] for e in events] == [ids[0]]  # the default calendar only
    event = events[0]
    assert event["start"] == {"dateTime": "2026-11-26T08:00:00.0000000", "timeZone": "UTC"}
    assert event["originalStartTimeZone"] == "Romance Standard Time"
    assert event["body"]["contentType"] == "html" and "@odata.etag" in event
    assert event["attendees"][0]["emailAddress"]["address"] == "prefet@pref.gouv.fr"
    other = http.get(f"{u}/calendars/{calendars[1]['id']}/events").json()["value"]
    assert [e["id"] for e in other] == [ids[1]]
    paris = http.get(
        f"{u}/events/{ids[0]}",
        headers={
            "Prefer": 'outlook.timezone="Romance Standard Time", outlook.body-content-type="text"'
        },
    )
    assert paris.json()["start"] == {
        "dateTime": "2026-11-26T09:00:00.0000000",
        "timeZone": "Romance Standard Time",
    }
    assert paris.json()["body"] == {"contentType": "text", "content": "Ordre du jour"}
    assert paris.headers["Preference-Applied"] == (
        'outlook.body-content-type="text", outlook.timezone="Romance Standard Time"'
    )


def test_calendar_view_needs_a_window_and_pages(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]
) -> None:
    es.seed(
        {
            "events": [
                {"user": user["id"], "subject": f"e{h}", "start": f"2026-11-26T{h:02d}:00:00Z"}
                for h in range(12)
            ]
            + [
                {
                    "user": user["id"],
                    "subject": "veille",
                    "start": "2026-11-25T22:00:00Z",
                    "end": "2026-11-26T00:30:00Z",
                },
                {"user": user["id"], "subject": "lendemain", "start": "2026-11-27T01:00:00Z"},
            ]
        }
    )
    u = f"users/{user['id']}"
    missing = http.get(f"{u}/calendarView", params={"startDateTime": WINDOW["startDateTime"]})
    assert missing.status_code == 400 and error_code(missing) == "ErrorInvalidParameter"
    first = http.get(f"{u}/calendarView", params=WINDOW).json()
    assert len(first["value"]) == 10 and "@odata.nextLink" in first
    second = http.get(first["@odata.nextLink"]).json()
    subjects = [e["subject"] for e in first["value"] + second["value"]]
    assert subjects[0] == "veille" and "lendemain" not in subjects and len(subjects) == 13
    offset = {
        "startDateTime": "2026-11-26T10:00:00+01:00",
        "endDateTime": "2026-11-26T11:00:00+01:00",
    }
    assert [e["subject"] for e in http.get(f"{u}/calendarView", params=offset).json()["value"]] == [
        "e9"
    ]


def test_group_events_and_calendar_view(es: EmbeddedSimulator, http: httpx.Client) -> None:
    owner = licensed_user(es, http, "owner.cal")
    group = create_group(http, "cellule-cal", owner["id"])
    es.seed(
        {
            "events": [
                {
                    "group": group["mailNickname"],
                    "subject": "Point quotidien",
                    "start": "2026-11-26T07:30:00Z",
                }
            ]
        }
    )
    g = f"groups/{group['id']}"
    # group-list-events, group-list-calendarview: application permissions are not supported.
    refused = http.get(f"{g}/events")
    assert refused.status_code == 403 and error_code(refused) == "ErrorAccessDenied"
    es.set_roles([], token="admin", app_only=False)
    with es.client("admin") as admin:
        events = admin.get(f"{g}/events").json()["value"]
        assert [e["subject"] for e in events] == ["Point quotidien"]
        assert admin.get(f"{g}/events/{events[0]['id']}").json()["id"] == events[0]["id"]
        assert len(admin.get(f"{g}/calendarView", params=WINDOW).json()["value"]) == 1
        assert admin.get(f"{g}/calendarView").status_code == 400


def test_contacts_paged_and_filtered_by_address(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]
) -> None:
    es.seed(
        {
            "contacts": [
                {
                    "user": user["id"],
                    "givenName": "Contact",
                    "surname": f"{i:02d}",
                    "emailAddresses": [f"c{i}@partenaire.fr"],
                    "businessPhones": ["+33 4 42 00 00 00"],
                }
                for i in range(12)
            ]
        }
    )
    u = f"users/{user['id']}"
    first = http.get(f"{u}/contacts").json()
    assert len(first["value"]) == 10 and "@odata.nextLink" in first
    everyone = first["value"] + http.get(first["@odata.nextLink"]).json()["value"]
    assert [c["displayName"] for c in everyone][:2] == ["Contact 00", "Contact 01"]
    found = http.get(
        f"{u}/contacts", params={"$filter": "emailAddresses/any(a:a/address eq 'c7@partenaire.fr')"}
    ).json()["value"]
    assert [c["displayName"] for c in found] == ["Contact 07"]
    one = http.get(f"{u}/contacts/{found[0]['id']}").json()
    assert one["emailAddresses"] == [{"name": "c7@partenaire.fr", "address": "c7@partenaire.fr"}]
    assert one["@odata.etag"] == f'W/"{one["changeKey"]}"'


def test_user_calendars_and_contacts_purge(
    es: EmbeddedSimulator, http: httpx.Client, user: dict[str, Any]
) -> None:
    other = licensed_user(es, http, "other.cal")
    es.seed(
        {
            "events": [{"user": user["id"], "subject": "x", "calendar": "Autre"}],
            "contacts": [
                {"user": user["id"], "displayName": "y"},
                {"user": other["id"], "displayName": "z"},
            ],
            "messages": [
                {
                    "user": user["id"],
                    "from": "a@b.fr",
                    "folder": "inbox/Sous",
                    "attachments": [{"name": "a", "contentBase64": "eA=="}],
                }
            ],
        }
    )
    u = f"users/{user['id']}"
    kinds = ("events", "calendars", "contacts", "mailFolders", "attachments", "messages")
    assert http.delete(u).status_code == 204  # deleted items: kept, not served
    assert http.get(f"{u}/events").status_code == 404
    assert all(es.state()[kind] for kind in kinds)
    assert http.post(f"directory/deletedItems/{user['id']}/restore").status_code == 200
    calendars = {c["name"]: c["id"] for c in http.get(f"{u}/calendars").json()["value"]}
    events = http.get(f"{u}/calendars/{calendars['Autre']}/events").json()["value"]
    assert [e["subject"] for e in events] == ["x"]
    assert [c["displayName"] for c in http.get(f"{u}/contacts").json()["value"]] == ["y"]
    assert http.delete(u).status_code == 204
    assert http.delete(f"directory/deletedItems/{user['id']}").status_code == 204  # for good
    state = es.state()
    for kind in kinds:
        assert [x for x in state[kind] if x.get("userId", x.get("ownerId")) == user["id"]] == []
    for kind in ("events", "calendars", "mailFolders", "attachments", "messages"):
        assert state[kind] == [], kind
    assert [c["displayName"] for c in state["contacts"]] == ["z"]  # another user's stays
