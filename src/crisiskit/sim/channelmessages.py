"""Simulated Teams channel messages and their replies (chatMessage).

Reads follow channel-list-messages.md, chatmessage-get.md and chatmessage-list-replies.md:
messages without their replies, newest first, 20 per page and `$top` ≤ 50 (the reference's
default and maximum; replies use the same default, which their page does not state), `$expand=
replies` to include a message's replies (up to 1000). Ids are the creation time in epoch
milliseconds, as Teams' are. Channel messages are a protected Teams API: application access must
be requested from Microsoft (teams-protected-apis); the simulator grants it to
ChannelMessage.Read.All (or the resource-specific ChannelMessage.Read.Group).
Seeded via `POST /_sim/seed` (`channelMessages`, see `seed_channel_message`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from crisiskit.sim import odata, outlook
from crisiskit.sim.errors import SimError, teams_not_found
from crisiskit.sim.permissions import TEAMS_DENIED
from crisiskit.sim.router import (
    Router,
    SimRequest,
    SimResponse,
    json_response,
    strip_internal,
)
from crisiskit.sim.teamcreate import channel_of

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

PAGE_DEFAULT = 20
PAGE_MAX = 50
EXPAND_MAX = 1000
_C = "/teams/{team_id}/channels/{channel_id}/messages"
_READ = ("ChannelMessage.Read.Group", "ChannelMessage.Read.All")
PERMISSIONS: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("GET", _C): _READ,
    ("GET", _C + "/{message_id}"): _READ,
    ("GET", _C + "/{message_id}/replies"): _READ,
    ("GET", _C + "/{message_id}/replies/{reply_id}"): _READ,
}
DENIED = TEAMS_DENIED


def register(router: Router) -> None:
    """Register the channel message routes on `router`."""
    router.route("GET", _C)(list_messages)
    router.route("GET", _C + "/{message_id}/replies/{reply_id}")(get_reply)
    router.route("GET", _C + "/{message_id}/replies")(list_replies)
    router.route("GET", _C + "/{message_id}")(get_message)


def _of(sim: Simulator, channel_id: str, reply_to: str | None) -> list[dict[str, Any]]:
    found = [
        m
        for m in sim.tenant.chat_messages.values()
        if m.get("_channelId") == channel_id and m.get("_replyToId") == reply_to
    ]
    return sorted(found, key=lambda m: int(m["id"]), reverse=True)


def _view(sim: Simulator, req: SimRequest, message: dict[str, Any], expand: bool) -> dict[str, Any]:
    view = strip_internal(message)
    if expand:
        replies = _of(sim, message["_channelId"], message["id"])[:EXPAND_MAX]
        view["replies@odata.context"] = (
            f"{req.base_url}/$metadata#teams('{message['_teamId']}')/channels("
            f"'{quote(message['_channelId'], safe='')}')/messages('{message['id']}')/replies"
        )
        view["replies"] = [strip_internal(r) for r in replies]
    return view


def _expand(req: SimRequest) -> bool:
    wanted = [e.strip().lower() for e in req.query.get("$expand", "").split(",") if e.strip()]
    if any(e != "replies" for e in wanted):
        raise SimError(400, "BadRequest", "Only 'replies' can be expanded on a channel message.")
    return bool(wanted)


def _where(team_id: str, channel_id: str, rest: str) -> str:
    return f"teams('{team_id}')/channels('{quote(channel_id, safe='')}')/{rest}"


def _find(
    sim: Simulator, channel: dict[str, Any], message_id: str, reply_to: str | None
) -> dict[str, Any]:
    message = sim.tenant.chat_messages.get(f"{channel['id']}/{message_id}")
    if message is None or message.get("_replyToId") != reply_to:
        raise teams_not_found(f"Message {message_id} was not found in this channel.")
    return message


def list_messages(sim: Simulator, req: SimRequest, team_id: str, channel_id: str) -> SimResponse:
    """List a channel's messages without replies (`GET /teams/{id}/channels/{cid}/messages`)."""
    channel = channel_of(sim, team_id, channel_id)
    expand = _expand(req)
    items = [_view(sim, req, m, expand) for m in _of(sim, channel["id"], None)]
    where = _where(channel["_teamId"], channel["id"], "messages")
    return odata.page(sim, req, items, PAGE_DEFAULT, PAGE_MAX, entity_set=where)


def get_message(
    sim: Simulator, req: SimRequest, team_id: str, channel_id: str, message_id: str
) -> SimResponse:
    """Read one channel message (`GET .../messages/{mid}`, `$expand=replies`)."""
    channel = channel_of(sim, team_id, channel_id)
    message = _find(sim, channel, message_id, None)
    ctx = (
        f"{req.base_url}/$metadata#{_where(channel['_teamId'], channel['id'], 'messages/$entity')}"
    )
    return json_response(200, {"@odata.context": ctx, **_view(sim, req, message, _expand(req))})


def list_replies(
    sim: Simulator, req: SimRequest, team_id: str, channel_id: str, message_id: str
) -> SimResponse:
    """List a message's replies, newest first (`GET .../messages/{mid}/replies`)."""
    channel = channel_of(sim, team_id, channel_id)
    parent = _find(sim, channel, message_id, None)
    items = [strip_internal(r) for r in _of(sim, channel["id"], parent["id"])]
    where = _where(channel["_teamId"], channel["id"], f"messages('{parent['id']}')/replies")
    return odata.page(sim, req, items, PAGE_DEFAULT, PAGE_MAX, entity_set=where)


def get_reply(
    sim: Simulator, req: SimRequest, team_id: str, channel_id: str, message_id: str, reply_id: str
) -> SimResponse:
    """Read one reply (`GET .../messages/{mid}/replies/{rid}`)."""
    channel = channel_of(sim, team_id, channel_id)
    parent = _find(sim, channel, message_id, None)
    reply = _find(sim, channel, reply_id, parent["id"])
    where = _where(channel["_teamId"], channel["id"], f"messages('{parent['id']}')/replies/$entity")
    return json_response(
        200, {"@odata.context": f"{req.base_url}/$metadata#{where}", **strip_internal(reply)}
    )


# ---------------------------------------------------------------- seeding


def _store(
    sim: Simulator,
    channel: dict[str, Any],
    spec: dict[str, Any],
    reply_to: str | None,
) -> dict[str, Any]:
    author = sim.get_user(str(spec.get("from") or ""))
    when = outlook.parse_time(sim, spec.get("createdDateTime"), "createdDateTime")
    millis = int(when.timestamp() * 1000)
    while f"{channel['id']}/{millis}" in sim.tenant.chat_messages:
        millis += 1
    stamp = datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    content_type = str(spec.get("bodyType", "html")).lower()
    if content_type not in ("html", "text"):
        raise ValueError(f"invalid bodyType {content_type!r}: html or text")
    team_id = channel["_teamId"]
    parent = reply_to or str(millis)
    message = {
        "id": str(millis),
        "replyToId": reply_to,
        "etag": str(millis),
        "messageType": "message",
        "createdDateTime": stamp,
        "lastModifiedDateTime": stamp,
        "lastEditedDateTime": None,
        "deletedDateTime": None,
        "subject": spec.get("subject") if reply_to is None else None,
        "summary": None,
        "chatId": None,
        "importance": "normal",
        "locale": "en-us",
        "webUrl": (
            f"https://teams.microsoft.com/l/message/{quote(channel['id'], safe='')}/{millis}"
            f"?groupId={team_id}&tenantId={sim.tenant.tenant_id}&createdTime={millis}"
            f"&parentMessageId={parent}"
        ),
        "policyViolation": None,
        "eventDetail": None,
        "from": {
            "application": None,
            "device": None,
            "conversation": None,
            "user": {
                "@odata.type": "#microsoft.graph.teamworkUserIdentity",
                "id": author["id"],
                "displayName": author.get("displayName"),
                "userIdentityType": "aadUser",
                "tenantId": sim.tenant.tenant_id,
            },
        },
        "body": {"contentType": content_type, "content": str(spec.get("body", ""))},
        "channelIdentity": {"teamId": team_id, "channelId": channel["id"]},
        "attachments": [],
        "mentions": [],
        "reactions": [],
        "messageHistory": [],
        "_teamId": team_id,
        "_channelId": channel["id"],
        "_replyToId": reply_to,
    }
    sim.tenant.chat_messages[f"{channel['id']}/{millis}"] = message
    return message


def seed_channel_message(
    sim: Simulator, channel: dict[str, Any], spec: dict[str, Any]
) -> dict[str, Any]:
    """Store one channel message and its replies; return the message's Graph JSON.

    `spec`: `{"team", "channel": display name or id, "from": UPN or id of the author, "body",
    "bodyType"?: "html" (default) | "text", "subject"?, "createdDateTime"?, "replies"?:
    [{"from", "body", "bodyType"?, "createdDateTime"?}]}`.
    """
    message = _store(sim, channel, spec, None)
    for i, reply in enumerate(spec.get("replies") or []):
        if not isinstance(reply, dict):
            raise ValueError(f"replies[{i}]: expected an object")
        _store(sim, channel, reply, message["id"])
    return strip_internal(message)
