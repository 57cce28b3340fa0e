"""Simulated Exchange Online: mailbox readiness, mailbox settings, messages, attachments, MIME.

A mailbox exists `profile.mailbox_delay_s` after an Exchange-bearing licence was assigned to
the user (`_licensedAt`, set by licence assignment); before that, and for a user without such a
licence, mailbox endpoints answer 404 `MailboxNotEnabledForRESTAPI` as reported for the real
service. Messages are seeded through the control API (`mailseed.py`) into folders
(`mailfolders.py`) and read back paged (10 by default, `$top` ≤ 1000, user-list-messages.md),
as JSON with `@odata.etag`, bodies in HTML unless `Prefer: outlook.body-content-type="text"`,
with their file attachments (message-list-attachments.md, attachment-get.md), or as MIME
(`/messages/{id}/$value`, attachments included, answered `text/plain` as message-get.md's
example shows).
"""

from __future__ import annotations

import base64
import hashlib
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from crisiskit.sim import blobs, odata, outlook
from crisiskit.sim.router import Router, SimError, SimRequest, SimResponse, json_response

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

MESSAGES_DEFAULT_TOP = 10
MESSAGES_MAX_TOP = 1000
TIME_ZONE = "Romance Standard Time"
MIME_TYPE = "text/plain"  # message-get.md, example 4: `Content-type: text/plain`

_LIST = ("Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite")
_READ = ("Mail.Read", "Mail.ReadWrite")
_USER = "/users/{user_id}/messages/{message_id}"
# Application permissions per added route (message-get.md, message-list-attachments.md,
# attachment-get.md: the body, the MIME and attachments need Mail.Read, not Mail.ReadBasic.All).
PERMISSIONS: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("GET", f"{_USER}/attachments"): _READ,
    ("GET", f"{_USER}/attachments/{{attachment_id}}"): _READ,
    ("GET", f"{_USER}/attachments/{{attachment_id}}/$value"): _READ,
}


def register(router: Router) -> None:
    """Register the mailbox routes on `router`."""
    router.route("GET", "/users/{user_id}/mailboxSettings")(get_mailbox_settings)
    router.route("GET", "/users/{user_id}/messages")(list_messages)
    router.route("GET", f"{_USER}/attachments/{{attachment_id}}/$value")(get_attachment_value)
    router.route("GET", f"{_USER}/attachments/{{attachment_id}}")(get_attachment)
    router.route("GET", f"{_USER}/attachments")(list_attachments)
    router.route("GET", f"{_USER}/$value")(get_message_mime)
    router.route("GET", _USER)(get_message)


def mailbox_not_enabled() -> SimError:
    return SimError(
        404,
        "MailboxNotEnabledForRESTAPI",
        "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
    )


def mailbox_ready(sim: Simulator, user: dict[str, Any]) -> bool:
    """Tell whether the user's Exchange mailbox has been provisioned by now."""
    licensed = user.get("_licensedAt")
    return licensed is not None and sim.now() >= float(licensed) + sim.profile.mailbox_delay_s


def mailbox_user(sim: Simulator, user_id: str) -> dict[str, Any]:
    """Return the user whose mailbox a request addresses; 404 until the mailbox exists."""
    user = sim.get_user(user_id)
    sim.check_replicated(user["id"])
    if not mailbox_ready(sim, user):
        raise mailbox_not_enabled()
    return user


def folder_id(user_id: str, name: str) -> str:
    """Return the id of a user's well-known folder (stable: derived from the user and name)."""
    raw = f"{user_id}:{name}".encode()
    return "AAMkA" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def get_mailbox_settings(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """Read mailbox settings (`GET /users/{id}/mailboxSettings`); 404 until the mailbox exists."""
    user = mailbox_user(sim, user_id)
    now = sim.iso()
    settings = {
        "archiveFolder": folder_id(user["id"], "archive"),
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


# ---------------------------------------------------------------- messages


def messages_of(sim: Simulator, user_id: str, parent: str | None = None) -> list[dict[str, Any]]:
    """Return a mailbox's messages (of one folder if `parent`), newest first."""
    found = [
        m
        for m in sim.tenant.messages.values()
        if m.get("_userId") == user_id and (parent is None or m.get("parentFolderId") == parent)
    ]
    return sorted(found, key=lambda m: str(m.get("receivedDateTime")), reverse=True)


def message_view(message: dict[str, Any], req: SimRequest) -> dict[str, Any]:
    return outlook.view(message, req)


def messages_page(
    sim: Simulator, req: SimRequest, user: dict[str, Any], items: list[dict[str, Any]], where: str
) -> SimResponse:
    """Answer a message listing: filtered, ordered, `$select`ed, paged by 10 (≤ 1000)."""
    views = [message_view(m, req) for m in items]
    return outlook.page(
        sim,
        req,
        views,
        f"users('{user['id']}')/{where}",
        default_top=MESSAGES_DEFAULT_TOP,
        max_top=MESSAGES_MAX_TOP,
    )


def list_messages(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """List a mailbox's messages, every folder at once (`GET /users/{id}/messages`)."""
    user = mailbox_user(sim, user_id)
    return messages_page(sim, req, user, messages_of(sim, user["id"]), "messages")


def find_message(
    sim: Simulator, user: dict[str, Any], message_id: str, parent: str | None = None
) -> dict[str, Any]:
    message = sim.tenant.messages.get(message_id)
    if message is None or message.get("_userId") != user["id"]:
        raise outlook.item_not_found()
    if parent is not None and message.get("parentFolderId") != parent:
        raise outlook.item_not_found()
    return message


def message_response(sim: Simulator, req: SimRequest, message: dict[str, Any]) -> SimResponse:
    obj = outlook.select(message_view(message, req), req)
    return outlook.item_response(req, f"users('{message['_userId']}')/messages/$entity", obj)


def get_message(sim: Simulator, req: SimRequest, user_id: str, message_id: str) -> SimResponse:
    """Read one message (`GET /users/{id}/messages/{mid}`)."""
    user = mailbox_user(sim, user_id)
    return message_response(sim, req, find_message(sim, user, message_id))


def _boundary(message: dict[str, Any], part: str) -> str:
    return f"_{part}_" + hashlib.sha256(message["id"].encode()).hexdigest()[:32] + "_"


def build_mime(sim: Simulator, message: dict[str, Any]) -> bytes:
    """Return a message's MIME (an .eml file): text and HTML bodies, then its attachments."""
    mime = EmailMessage(policy=policy.SMTP)

    def addresses(recipients: list[dict[str, Any]]) -> list[Address]:
        out = []
        for r in recipients:
            email = r.get("emailAddress") or {}
            out.append(
                Address(display_name=str(email.get("name") or ""), addr_spec=email["address"])
            )
        return out

    sender = (message.get("from") or {}).get("emailAddress") or {}
    mime["From"] = Address(display_name=str(sender.get("name") or ""), addr_spec=sender["address"])
    mime["To"] = addresses(message.get("toRecipients") or [])
    if message.get("ccRecipients"):
        mime["Cc"] = addresses(message["ccRecipients"])
    mime["Subject"] = str(message.get("subject") or "")
    mime["Date"] = str(message["_date"])
    mime["Message-ID"] = str(message["internetMessageId"])
    mime.set_content(str(message.get("_text", "")))
    mime.add_alternative(str(message.get("_html", "")), subtype="html")
    attachments = outlook.attachments_of(sim, message["id"])
    if attachments:
        mime.make_mixed()
        for record in attachments:
            maintype, _, subtype = str(record["contentType"]).partition("/")
            mime.add_attachment(
                blobs.read(sim, record["_blob"]),
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=str(record["name"]),
                disposition="inline" if record.get("isInline") else "attachment",
            )
        mime.set_boundary(_boundary(message, "004"))
        for part in mime.iter_parts():
            if part.get_content_type() == "multipart/alternative":
                part.set_boundary(_boundary(message, "000"))
    else:
        mime.set_boundary(_boundary(message, "000"))
    return mime.as_bytes()


def mime_response(sim: Simulator, message: dict[str, Any]) -> SimResponse:
    return SimResponse(status=200, raw=build_mime(sim, message), content_type=MIME_TYPE)


def get_message_mime(sim: Simulator, req: SimRequest, user_id: str, message_id: str) -> SimResponse:
    """Download a message as MIME (`GET /users/{id}/messages/{mid}/$value`), an .eml file."""
    user = mailbox_user(sim, user_id)
    return mime_response(sim, find_message(sim, user, message_id))


# ---------------------------------------------------------------- attachments


def attachments_response(sim: Simulator, req: SimRequest, message: dict[str, Any]) -> SimResponse:
    items = [outlook.attachment_view(sim, a) for a in outlook.attachments_of(sim, message["id"])]
    where = f"users('{message['_userId']}')/messages('{message['id']}')/attachments"
    return outlook.page(sim, req, items, where, default_top=100, max_top=1000)


def attachment_response(
    sim: Simulator, req: SimRequest, message: dict[str, Any], attachment_id: str
) -> SimResponse:
    record = outlook.find_attachment(sim, message["id"], attachment_id)
    obj = odata.apply_select(outlook.attachment_view(sim, record), req.query.get("$select"))
    where = f"users('{message['_userId']}')/messages('{message['id']}')/attachments/$entity"
    return outlook.item_response(req, where, obj)


def list_attachments(sim: Simulator, req: SimRequest, user_id: str, message_id: str) -> SimResponse:
    """List a message's attachments (`GET /users/{id}/messages/{mid}/attachments`)."""
    user = mailbox_user(sim, user_id)
    return attachments_response(sim, req, find_message(sim, user, message_id))


def get_attachment(
    sim: Simulator, req: SimRequest, user_id: str, message_id: str, attachment_id: str
) -> SimResponse:
    """Read one attachment with its `contentBytes` (`.../attachments/{aid}`)."""
    user = mailbox_user(sim, user_id)
    return attachment_response(sim, req, find_message(sim, user, message_id), attachment_id)


def get_attachment_value(
    sim: Simulator, req: SimRequest, user_id: str, message_id: str, attachment_id: str
) -> SimResponse:
    """Download an attachment's raw bytes (`.../attachments/{aid}/$value`)."""
    user = mailbox_user(sim, user_id)
    message = find_message(sim, user, message_id)
    return outlook.attachment_value(sim, outlook.find_attachment(sim, message["id"], attachment_id))
