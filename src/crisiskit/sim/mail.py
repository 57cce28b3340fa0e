"""Simulated Exchange Online: mailbox settings, messages, attachments, MIME.

A mailbox exists `profile.mailbox_delay_s` after an Exchange-bearing licence was assigned to
the user (`_licensedAt`, set by licence assignment); before that, and for a user without such a
licence, mailbox endpoints answer 404 `MailboxNotEnabledForRESTAPI` as reported for the real
service. Messages are seeded through the control API (`mailseed.py`) into folders
(`mailfolders.py`) and read back paged (10 by default, `$top` ≤ 1000, user-list-messages.md),
as JSON with `@odata.etag`, bodies in HTML unless `Prefer: outlook.body-content-type="text"`,
with their file attachments (message-list-attachments.md, attachment-get.md), or as MIME
(`/messages/{id}/$value`, attachments included, answered `text/plain` as message-get.md's
example shows). Readiness, folders and messages are `mailbox.py`'s, shared with the other
Exchange families.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crisiskit.sim import odata, outlook
from crisiskit.sim.mailbox import (
    attachment_response,
    attachments_response,
    find_message,
    folder_id,
    mailbox_user,
    message_response,
    messages_of,
    messages_page,
    mime_response,
)
from crisiskit.sim.permissions import EXCHANGE_DENIED
from crisiskit.sim.router import Router, SimRequest, SimResponse, json_response

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

TIME_ZONE = "Romance Standard Time"

_LIST = ("Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite")
_READ = ("Mail.Read", "Mail.ReadWrite")
_USER = "/users/{user_id}/messages/{message_id}"
# Application permissions per route (user-get-mailboxsettings, user-list-messages, message-get,
# message-list-attachments, attachment-get: the body, the MIME and attachments need Mail.Read,
# not Mail.ReadBasic.All); Exchange refuses with ErrorAccessDenied.
PERMISSIONS: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("GET", "/users/{user_id}/mailboxSettings"): (
        "MailboxSettings.Read",
        "MailboxSettings.ReadWrite",
    ),
    ("GET", "/users/{user_id}/messages"): _LIST,
    ("GET", f"{_USER}/$value"): _READ,
    ("GET", _USER): _LIST,
    ("GET", f"{_USER}/attachments"): _READ,
    ("GET", f"{_USER}/attachments/{{attachment_id}}"): _READ,
    ("GET", f"{_USER}/attachments/{{attachment_id}}/$value"): _READ,
}
DENIED = EXCHANGE_DENIED


def register(router: Router) -> None:
    """Register the mailbox routes on `router`."""
    router.route("GET", "/users/{user_id}/mailboxSettings")(get_mailbox_settings)
    router.route("GET", "/users/{user_id}/messages")(list_messages)
    router.route("GET", f"{_USER}/attachments/{{attachment_id}}/$value")(get_attachment_value)
    router.route("GET", f"{_USER}/attachments/{{attachment_id}}")(get_attachment)
    router.route("GET", f"{_USER}/attachments")(list_attachments)
    router.route("GET", f"{_USER}/$value")(get_message_mime)
    router.route("GET", _USER)(get_message)


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


def list_messages(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """List a mailbox's messages, every folder at once (`GET /users/{id}/messages`)."""
    user = mailbox_user(sim, user_id)
    return messages_page(sim, req, user, messages_of(sim, user["id"]), "messages")


def get_message(sim: Simulator, req: SimRequest, user_id: str, message_id: str) -> SimResponse:
    """Read one message (`GET /users/{id}/messages/{mid}`)."""
    user = mailbox_user(sim, user_id)
    return message_response(sim, req, find_message(sim, user, message_id))


def get_message_mime(sim: Simulator, req: SimRequest, user_id: str, message_id: str) -> SimResponse:
    """Download a message as MIME (`GET /users/{id}/messages/{mid}/$value`), an .eml file."""
    user = mailbox_user(sim, user_id)
    return mime_response(sim, find_message(sim, user, message_id))


# ---------------------------------------------------------------- attachments


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
