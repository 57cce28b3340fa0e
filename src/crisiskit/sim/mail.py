"""Simulated Exchange Online: mailbox readiness, mailbox settings, messages and their MIME.

A mailbox exists `profile.mailbox_delay_s` after an Exchange-bearing licence was assigned to
the user (`_licensedAt`, set by licence assignment); before that, and for a user without such a
licence, mailbox endpoints answer 404 `MailboxNotEnabledForRESTAPI` as reported for the real
service. Messages are seeded through the control API (`seed_message`) and read back paged, as
JSON, or as raw MIME (`/messages/{id}/$value`).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import TYPE_CHECKING, Any

from crisiskit.sim import odata
from crisiskit.sim.errors import SimError, mail_item_not_found, mailbox_not_enabled
from crisiskit.sim.router import (
    Router,
    SimRequest,
    SimResponse,
    json_response,
    strip_internal,
)

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

MESSAGES_DEFAULT_TOP = 10
MESSAGES_MAX_TOP = 1000
TIME_ZONE = "Romance Standard Time"

# Application permissions per route (user-get-mailboxsettings, user-list-messages,
# message-get); Exchange refuses with ErrorAccessDenied.
PERMISSIONS: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("GET", "/users/{user_id}/mailboxSettings"): (
        "MailboxSettings.Read",
        "MailboxSettings.ReadWrite",
    ),
    ("GET", "/users/{user_id}/messages"): ("Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite"),
    ("GET", "/users/{user_id}/messages/{message_id}/$value"): ("Mail.Read", "Mail.ReadWrite"),
    ("GET", "/users/{user_id}/messages/{message_id}"): (
        "Mail.ReadBasic.All",
        "Mail.Read",
        "Mail.ReadWrite",
    ),
}
DENIED = ("ErrorAccessDenied", "Access is denied. Check credentials and try again.")


def register(router: Router) -> None:
    """Register the mailbox routes on `router`."""
    router.route("GET", "/users/{user_id}/mailboxSettings")(get_mailbox_settings)
    router.route("GET", "/users/{user_id}/messages")(list_messages)
    router.route("GET", "/users/{user_id}/messages/{message_id}/$value")(get_message_mime)
    router.route("GET", "/users/{user_id}/messages/{message_id}")(get_message)


def mailbox_ready(sim: Simulator, user: dict[str, Any]) -> bool:
    """Tell whether the user's Exchange mailbox has been provisioned by now."""
    licensed = user.get("_licensedAt")
    return licensed is not None and sim.now() >= float(licensed) + sim.profile.mailbox_delay_s


def _mailbox_user(sim: Simulator, user_id: str) -> dict[str, Any]:
    user = sim.get_user(user_id)
    sim.check_replicated(user["id"])
    if not mailbox_ready(sim, user):
        raise mailbox_not_enabled()
    return user


def _folder_id(user_id: str, name: str) -> str:
    raw = f"{user_id}:{name}".encode()
    return "AAMkA" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def get_mailbox_settings(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """Read mailbox settings (`GET /users/{id}/mailboxSettings`); 404 until the mailbox exists."""
    user = _mailbox_user(sim, user_id)
    now = sim.iso()
    settings = {
        "archiveFolder": _folder_id(user["id"], "archive"),
        "timeZone": TIME_ZONE,
        "automaticRepliesSetting": {
            "status": "disabled",
            "externalAudience": "all",
            "internalReplyMessage": "",
            "externalReplyMessage": "",
            "scheduledStartDateTime": {"dateTime": now[:-1] + ".0000000", "timeZone": "UTC"},
            "scheduledEndDateTime": {"dateTime": now[:-1] + ".0000000", "timeZone": "UTC"},
        },
        "language": {"locale": "fr-FR", "displayName": "French (France)"},
        "workingHours": {
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "startTime": "08:00:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": {"name": TIME_ZONE},
        },
        "dateFormat": "dd/MM/yyyy",
        "timeFormat": "HH:mm",
        "delegateMeetingMessageDeliveryOptions": "sendToDelegateAndInformationToPrincipal",
        "userPurpose": "user",
    }
    select = req.query.get("$select")
    if select:
        settings = odata.apply_select(settings, select)
    ctx = f"{req.base_url}/$metadata#users('{user['id']}')/mailboxSettings"
    return json_response(200, {"@odata.context": ctx, **settings})


def _messages(sim: Simulator, user_id: str) -> list[dict[str, Any]]:
    found = [m for m in sim.tenant.messages.values() if m.get("_userId") == user_id]
    # Graph lists a mailbox newest first unless $orderby says otherwise.
    return sorted(found, key=lambda m: str(m.get("receivedDateTime")), reverse=True)


def message_view(message: dict[str, Any]) -> dict[str, Any]:
    return strip_internal(message)


def list_messages(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """List a mailbox's messages (`GET /users/{id}/messages`): paged, `$top` ≤ 1000."""
    user = _mailbox_user(sim, user_id)
    items = [message_view(m) for m in _messages(sim, user["id"])]
    expr = req.query.get("$filter")
    if expr:
        predicate = odata.parse_filter(expr)
        items = [i for i in items if predicate(i)]
    items = odata.order_by(req, items)
    select = req.query.get("$select")
    if select:
        items = [odata.apply_select(i, select) for i in items]
    return odata.page(
        sim,
        req,
        items,
        default_top=MESSAGES_DEFAULT_TOP,
        max_top=MESSAGES_MAX_TOP,
        entity_set=f"users('{user['id']}')/messages",
    )


def _message(sim: Simulator, user_id: str, message_id: str) -> dict[str, Any]:
    user = _mailbox_user(sim, user_id)
    message = sim.tenant.messages.get(message_id)
    if message is None or message.get("_userId") != user["id"]:
        raise mail_item_not_found()
    return message


def get_message(sim: Simulator, req: SimRequest, user_id: str, message_id: str) -> SimResponse:
    """Read one message (`GET /users/{id}/messages/{mid}`)."""
    message = _message(sim, user_id, message_id)
    view = message_view(message)
    select = req.query.get("$select")
    if select:
        view = odata.apply_select(view, select)
    ctx = f"{req.base_url}/$metadata#users('{message['_userId']}')/messages/$entity"
    return json_response(200, {"@odata.context": ctx, **view})


def get_message_mime(
    sim: Simulator, req: SimRequest, user_id: str, message_id: str
) -> SimResponse:
    """Download a message as MIME (`GET /users/{id}/messages/{mid}/$value`), an .eml file."""
    message = _message(sim, user_id, message_id)
    return SimResponse(status=200, raw=message["_mime"].encode(), content_type="message/rfc822")


# ---------------------------------------------------------------- seeding (control API)


def _address(text: str) -> tuple[str, str]:
    name, address = parseaddr(text)
    if not address or "@" not in address:
        raise SimError(400, "Request_BadRequest", f"Invalid sender address '{text}'.")
    return name or address, address


def _parse_received(sim: Simulator, received: str | float | None) -> datetime:
    if received is None:
        return datetime.fromtimestamp(int(sim.now()), UTC)
    if isinstance(received, int | float):
        return datetime.fromtimestamp(float(received), UTC)
    try:
        parsed = datetime.fromisoformat(received.replace("Z", "+00:00"))
    except ValueError:
        raise SimError(
            400, "Request_BadRequest", f"Invalid receivedDateTime '{received}'."
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def seed_message(
    sim: Simulator,
    user_id: str | dict[str, Any],
    subject: str,
    sender: str,
    body: str,
    received: str | float | None = None,
) -> dict[str, Any]:
    """Deliver a message to a user's mailbox (for `POST /_sim/seed`); return its Graph JSON.

    `user_id` is an id, a userPrincipalName or the stored user; `sender` is `addr` or
    `Name <addr>`; `received` is ISO 8601 (default: now). The mailbox need not be provisioned
    yet: mail waits for it.
    """
    user = sim.get_user(user_id["id"] if isinstance(user_id, dict) else user_id)
    name, address = _address(sender)
    when = _parse_received(sim, received)
    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    upn = str(user.get("mail") or user.get("userPrincipalName"))
    domain = address.rsplit("@", 1)[1]
    internet_id = make_msgid(domain=domain)
    mime = EmailMessage()
    mime["From"] = Address(display_name=name, addr_spec=address) if name != address else address
    mime["To"] = Address(display_name=str(user.get("displayName") or upn), addr_spec=upn)
    mime["Subject"] = subject
    mime["Date"] = format_datetime(when)
    mime["Message-ID"] = internet_id
    mime.set_content(body)
    message_id = "AAMkA" + base64.urlsafe_b64encode(sim.rng.randbytes(48)).decode().rstrip("=")
    conversation = "AAQkA" + base64.urlsafe_b64encode(sim.rng.randbytes(16)).decode().rstrip("=")
    sender_json = {"emailAddress": {"name": name, "address": address}}
    message: dict[str, Any] = {
        "id": message_id,
        "createdDateTime": stamp,
        "lastModifiedDateTime": stamp,
        "changeKey": base64.b64encode(sim.rng.randbytes(12)).decode(),
        "categories": [],
        "receivedDateTime": stamp,
        "sentDateTime": stamp,
        "hasAttachments": False,
        "internetMessageId": internet_id,
        "subject": subject,
        "bodyPreview": " ".join(body.split())[:255],
        "importance": "normal",
        "parentFolderId": _folder_id(user["id"], "inbox"),
        "conversationId": conversation,
        "isDeliveryReceiptRequested": False,
        "isReadReceiptRequested": False,
        "isRead": False,
        "isDraft": False,
        "webLink": f"https://outlook.office365.com/owa/?ItemID={message_id}&exvsurl=1",
        "inferenceClassification": "focused",
        "body": {"contentType": "text", "content": body},
        "sender": sender_json,
        "from": sender_json,
        "toRecipients": [
            {"emailAddress": {"name": user.get("displayName") or upn, "address": upn}}
        ],
        "ccRecipients": [],
        "bccRecipients": [],
        "replyTo": [],
        "flag": {"flagStatus": "notFlagged"},
        "_userId": user["id"],
        "_mime": mime.as_string(),
    }
    sim.tenant.messages[message_id] = message
    return message_view(message)
