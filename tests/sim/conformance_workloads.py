"""How `test_conformance.py` replays `data/graph-examples-workloads.json` (transcribed from the
Graph reference pages named in each example's `source`; its examples have no name, so they are
keyed by position): the request each example becomes once its placeholders are real objects,
the examples not replayed (with the reason), those replayed with a delegated token, and
documented keys that the replayed objects legitimately lack."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from simhelp import create_group

GRAPH = "https://graph.microsoft.com/v1.0"
TEXT = {"Prefer": 'outlook.body-content-type="text"'}
PACIFIC = {"Prefer": 'outlook.timezone="Pacific Standard Time"'}
NOBODY = "18a80140-b0fb-4489-b360-2f6efaf225a0"  # a user id no tenant object has

Request = tuple[str, str, Any, dict[str, str]]


def _seed(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = ctx.sim.seed(payload)
    return result


def _message(ctx: Any) -> str:
    if "message" not in ctx.extra:
        created = _seed(
            ctx,
            {
                "messages": [
                    {
                        "user": ctx.owner["id"],
                        "folder": "inbox",
                        "subject": "Compte rendu",
                        "from": "Préfecture <cod@pref.gouv.fr>",
                        "body": "<p>Voir PJ</p>",
                        "bodyType": "html",
                        "attachments": [
                            {"name": "cr.docx", "contentBase64": base64.b64encode(b"PK").decode()}
                        ],
                    }
                ]
            },
        )
        ctx.extra["message"] = created["messages"][0]
    return str(ctx.extra["message"])


def _attachment(ctx: Any) -> str:
    listed = ctx.c.get(f"users/{ctx.owner['id']}/messages/{_message(ctx)}/attachments").json()
    return str(listed["value"][0]["id"])


def _child_folder(ctx: Any) -> str:
    _seed(
        ctx,
        {
            "messages": [
                {
                    "user": ctx.owner["id"],
                    "folder": "inbox/Sinistre",
                    "from": "a@b.fr",
                    "subject": "x",
                }
            ]
        },
    )
    kids = ctx.c.get(f"users/{ctx.owner['id']}/mailFolders/inbox/childFolders").json()
    return str(kids["value"][0]["id"])


def _file(ctx: Any) -> dict[str, Any]:
    if "file" not in ctx.extra:
        _seed(
            ctx,
            {
                "files": [
                    {"user": ctx.owner["id"], "path": "a.bin", "size": 2048, "seed": 1},
                    {"user": ctx.owner["id"], "path": "Documents/"},
                ]
            },
        )
        ctx.extra["file"] = ctx.c.get(f"users/{ctx.owner['id']}/drive/root:/a.bin").json()
    result: dict[str, Any] = ctx.extra["file"]
    return result


def _thread(ctx: Any) -> tuple[str, str]:
    if "thread" not in ctx.extra:
        created = _seed(
            ctx,
            {
                "conversations": [
                    {
                        "group": ctx.group["id"],
                        "topic": "Point",
                        "posts": [
                            {"from": "Préfet <prefet@pref.gouv.fr>", "body": "Consignes"},
                            {
                                "from": "Maire <maire@aubagne.fr>",
                                "body": "Reçu",
                                "attachments": [{"name": "note.txt", "contentBase64": "eA=="}],
                            },
                        ],
                    }
                ]
            },
        )
        thread = created["conversations"][0]
        posts = ctx.c.get(f"groups/{ctx.group['id']}/threads/{thread}/posts").json()["value"]
        ctx.extra["thread"] = (thread, posts[-1]["id"])
    result: tuple[str, str] = ctx.extra["thread"]
    return result


def _conversation(ctx: Any) -> str:
    _thread(ctx)
    return str(ctx.c.get(f"groups/{ctx.group['id']}/conversations").json()["value"][0]["id"])


def _event(ctx: Any, owner: str = "user", start: str = "2014-11-03T17:00:00Z") -> str:
    key = {"user": ctx.owner["id"]} if owner == "user" else {"group": ctx.group["id"]}
    created = _seed(
        ctx,
        {
            "events": [
                {
                    **key,
                    "subject": "Point de situation",
                    "start": start,
                    "location": "Salle de crise",
                    "body": "Ordre du jour",
                    "attendees": ["Préfet <prefet@pref.gouv.fr>"],
                }
            ]
        },
    )
    return str(created["events"][0])


def _channel(ctx: Any) -> tuple[str, str, str]:
    team = ctx.team()
    if "posted" not in ctx.extra:
        created = _seed(
            ctx,
            {
                "channelMessages": [
                    {
                        "team": team,
                        "from": ctx.owner["id"],
                        "body": "<p>Début</p>",
                        "replies": [{"from": ctx.member["id"], "body": "Reçu", "bodyType": "text"}],
                    }
                ]
            },
        )
        ctx.extra["posted"] = created["channelMessages"][0]
    channel = ctx.c.get(f"teams/{team}/channels").json()["value"][0]["id"]
    return team, channel, str(ctx.extra["posted"])


def _reply(ctx: Any) -> str:
    team, channel, message = _channel(ctx)
    replies = ctx.c.get(f"teams/{team}/channels/{channel}/messages/{message}/replies").json()
    return str(replies["value"][0]["id"])


def _fresh_group(ctx: Any) -> str:
    return str(create_group(ctx.c, "conf-team-five", ctx.owner["id"])["id"])


def _member(user: str, owner: bool = False) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.aadUserConversationMember",
        "roles": ["owner"] if owner else [],
        "user@odata.bind": f"{GRAPH}/users('{user}')",
    }


def _template(**body: Any) -> dict[str, Any]:
    return {"template@odata.bind": f"{GRAPH}/teamsTemplates('standard')", **body}


def _range(ctx: Any) -> Request:
    url = _file(ctx)["@microsoft.graph.downloadUrl"]
    return ("GET", url, None, {"Range": "bytes=0-1023"})


def _get(
    url: Callable[[Any], str], headers: dict[str, str] | None = None
) -> Callable[[Any], Request]:
    return lambda ctx: ("GET", url(ctx), None, headers or {})


def _user(ctx: Any) -> str:
    return f"users/{ctx.owner['id']}"


def _group(ctx: Any) -> str:
    return f"groups/{ctx.group['id']}"


SUPPORTED: dict[int, Callable[[Any], Request]] = {
    0: _get(lambda c: f"{_user(c)}/mailFolders?$top=20"),
    1: _get(lambda c: f"{_user(c)}/mailFolders?includeHiddenFolders=true"),
    2: _get(lambda c: f"{_user(c)}/mailFolders/inbox"),
    3: _get(lambda c: _child_folder(c) and f"{_user(c)}/mailFolders/inbox/childFolders"),
    4: _get(
        lambda c: (
            _child_folder(c)
            and f"{_user(c)}/mailFolders/inbox/childFolders?includeHiddenFolders=true"
        )
    ),
    5: _get(lambda c: _message(c) and f"{_user(c)}/mailFolders/inbox/messages"),
    6: _get(lambda c: _message(c) and f"{_user(c)}/messages?$select=sender,subject"),
    7: _get(lambda c: f"{_user(c)}/messages/{_message(c)}"),
    8: _get(
        lambda c: f"{_user(c)}/messages/{_message(c)}/?$select=subject,body,bodyPreview,uniqueBody",
        TEXT,
    ),
    9: _get(lambda c: f"{_user(c)}/messages/{_message(c)}/$value"),
    10: _get(lambda c: f"{_user(c)}/messages/{_message(c)}/attachments"),
    11: _get(lambda c: f"{_user(c)}/messages/{_message(c)}/attachments/{_attachment(c)}"),
    12: _get(lambda c: f"{_user(c)}/drive"),
    13: _get(lambda c: _file(c) and f"{_user(c)}/drive/root/children"),
    14: _get(lambda c: f"{_user(c)}/drive/items/{_file(c)['id']}/content"),
    15: _range,
    16: _get(lambda c: _thread(c) and f"{_group(c)}/threads"),
    17: _get(lambda c: f"{_group(c)}/threads/{_thread(c)[0]}"),
    18: _get(lambda c: f"{_group(c)}/threads/{_thread(c)[0]}/posts"),
    19: _get(lambda c: f"{_group(c)}/threads/{_thread(c)[0]}/posts/{_thread(c)[1]}"),
    20: _get(lambda c: f"{_group(c)}/threads/{_thread(c)[0]}/posts/{_thread(c)[1]}/attachments"),
    21: _get(lambda c: _thread(c) and f"{_group(c)}/conversations"),
    22: _get(lambda c: f"{_group(c)}/conversations/{_conversation(c)}"),
    23: _get(lambda c: f"{_group(c)}/conversations/{_conversation(c)}/threads"),
    24: _get(lambda c: f"{_user(c)}/calendars"),
    25: _get(lambda c: f"{_user(c)}/calendar"),
    26: _get(
        lambda c: (
            _event(c)
            and f"{_user(c)}/events?$select=subject,body,bodyPreview,"
            "organizer,attendees,start,end,location"
        ),
        PACIFIC,
    ),
    27: _get(
        lambda c: (
            f"{_user(c)}/events/{_event(c)}?$select=subject,body,bodyPreview,"
            "organizer,attendees,start,end,location,hideAttendees"
        ),
        PACIFIC,
    ),
    28: _get(
        lambda c: (
            _event(c, start="2020-01-02T05:00:00Z")
            and f"{_user(c)}/calendarView?"
            "startDateTime=2020-01-01T19:00:00-08:00&endDateTime=2020-01-02T19:00:00-08:00"
        )
    ),
    29: _get(lambda c: _event(c, "group") and f"{_group(c)}/events"),
    30: _get(
        lambda c: (
            _event(c, "group", "2017-08-14T21:00:00Z")
            and f"{_group(c)}/calendarView?"
            "startDateTime=2017-01-01T19:00:00-08:00&endDateTime=2017-10-01T19:00:00.00-08:00"
        ),
        TEXT,
    ),
    31: _get(
        lambda c: (
            _seed(
                c,
                {
                    "contacts": [
                        {
                            "user": c.owner["id"],
                            "displayName": "Alex",
                            "birthday": "1980-01-01T00:00:00Z",
                        }
                    ]
                },
            )
            and f"{_user(c)}/contacts"
        )
    ),
    32: _get(
        lambda c: (
            f"{_user(c)}/contacts/"
            + str(
                _seed(
                    c,
                    {
                        "contacts": [
                            {
                                "user": c.owner["id"],
                                "givenName": "Alex",
                                "surname": "Wilber",
                                "emailAddresses": ["Alex@FineArtSchool.net"],
                            }
                        ]
                    },
                )["contacts"][0]
            )
        )
    ),
    33: _get(lambda c: "teams/{}/channels/{}/messages?top=3".format(*_channel(c))),
    34: _get(lambda c: "teams/{}/channels/{}/messages/{}".format(*_channel(c))),
    35: _get(
        lambda c: "teams/{}/channels/{}/messages/{}/replies/".format(*_channel(c)) + _reply(c)
    ),
    36: _get(lambda c: "teams/{}/channels/{}/messages/{}/replies".format(*_channel(c))),
    37: lambda c: (
        "POST",
        f"teams/{c.team()}/members/add",
        {"values": [_member(c.member["id"]), _member(c.third["id"], True)]},
        {},
    ),
    38: lambda c: (
        "POST",
        f"teams/{c.team()}/members/add",
        {"values": [_member(NOBODY), _member(c.third["id"], True)]},
        {},
    ),
    39: lambda c: (
        "POST",
        f"teams/{c.team()}/members/add",
        {"values": [_member(c.member["upn"]), _member(c.third["upn"], True)]},
        {},
    ),
    40: _get(lambda c: f"teams/{c.team()}/members"),
    41: _get(
        lambda c: (
            f"teams/{c.team()}/members?$filter=(microsoft.graph.aadUserConversation"
            f"Member/userId eq '{c.member['id']}')"
        )
    ),
    42: _get(
        lambda c: (
            f"teams/{c.team()}/members?$filter=(microsoft.graph.aadUserConversation"
            f"Member/displayName eq 'Member Conf' or microsoft.graph.aadUserConversationMember"
            f"/email eq '{c.owner['upn']}')"
        )
    ),
    44: lambda c: (
        "POST",
        "teams",
        _template(
            displayName="My Sample Team", description="Desc", members=[_member(c.owner["id"], True)]
        ),
        {},
    ),
    46: lambda c: (
        "POST",
        "teams",
        _template(
            **{
                "group@odata.bind": f"{GRAPH}/groups('{_fresh_group(c)}')",
                "channels": [
                    {"displayName": "Class Announcements 📢", "isFavoriteByDefault": True}
                ],
                "memberSettings": {"allowCreateUpdateChannels": False},
                "installedApps": [{"teamsApp@odata.bind": f"{GRAPH}/appCatalogs/teamsApps('x')"}],
            }
        ),
        {},
    ),
    49: lambda c: (
        "POST",
        "teams",
        _template(
            displayName="My Sample Team",
            description="Desc",
            members=[_member(c.owner["upn"], True)],
        ),
        {},
    ),
    50: lambda c: (
        "PATCH",
        f"users/{c.member['upn']}/authentication/phoneMethods/{c.phone()}",
        {"phoneNumber": "+1 2065555554", "phoneType": "mobile"},
        {},
    ),
    51: lambda c: (
        "DELETE",
        f"users/{c.member['id']}/authentication/phoneMethods/{c.phone()}",
        None,
        {},
    ),
}
# Documented with delegated permissions only (their pages' application column says "Not
# supported": post-list-attachments, group-list-events, group-list-calendarview): replayed with
# a delegated token.
DELEGATED = {20, 29, 30}
SKIPPED: dict[int, str] = {
    43: "delegated example without members: the signed-in caller becomes the owner, and the "
    "simulator's delegated administrator is no user; with application permissions the "
    "reference requires an owner in members: replayed as example 44",
    45: "delegated example without members (see 43); channels and settings are covered by 44 "
    "and 46",
    47: "delegated example without members (see 43), and the educationClass template's "
    "specifics are not simulated",
    48: "migration mode (@microsoft.graph.teamCreationMode) is not simulated",
}
# Documented keys the replayed objects lack for a reason given in the example's "note".
IGNORED_KEYS: dict[int, set[str]] = {
    13: {"@odata.nextLink"},
    26: {"locations"},  # in the documented response though not in its $select
    27: {"calendar@odata.associationLink", "calendar@odata.navigationLink"},
    30: {"@odata.nextLink"},
    33: {"@odata.count", "@odata.nextLink", "mentions"},
    36: {"@odata.count"},
    40: {"@odata.count"},
    41: {"@odata.count"},
    42: {"@odata.count"},
}
