"""Seeding mailboxes (`POST /_sim/seed`, key `messages`): messages into folders, with attachments.

A message spec (every key but `user` optional):

    {"user": "upn or id", "folder": "inbox" | "sentitems" | "inbox/Sinistre/Assurances",
     "subject": "...", "from": "Name <addr>", "to": ["addr", ...], "cc": [...],
     "body": "...", "bodyType": "text" | "html", "receivedDateTime": "2026-11-26T10:00:00Z",
     "isRead": false, "attachments": [{"name", "contentType"?, "contentBase64"} |
                                      {"name", "contentType"?, "size": n, "seed": k}]}

`folder` is a well-known name or a display-name path (child folders are created); `from`
defaults to the mailbox owner in `sentitems`, `drafts` and `outbox`, else is required; `to`
defaults to the mailbox owner. The mailbox need not be provisioned yet: mail waits for it.
"""

from __future__ import annotations

from email.utils import format_datetime, make_msgid, parseaddr
from typing import TYPE_CHECKING, Any

from crisiskit.sim import mailbox, outlook
from crisiskit.sim.router import strip_internal

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

OWN_FOLDERS = ("sentitems", "drafts", "outbox")


def email_address(text: Any) -> dict[str, Any]:
    name, address = parseaddr(str(text))
    if not address or "@" not in address:
        raise ValueError(f"invalid email address {text!r}")
    return {"emailAddress": {"name": name or address, "address": address}}


def _recipients(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ValueError("recipients must be an address or a list of addresses")
    return [email_address(v) for v in value]


def seed_message(sim: Simulator, spec: dict[str, Any]) -> dict[str, Any]:
    """Deliver one message to a mailbox folder; return its Graph JSON."""
    user = sim.get_user(str(spec["user"]))
    folder_path = str(spec.get("folder") or "inbox")
    folder = mailbox.ensure_path(sim, user["id"], folder_path)
    upn = str(user.get("mail") or user.get("userPrincipalName"))
    owner = {"emailAddress": {"name": str(user.get("displayName") or upn), "address": upn}}
    if spec.get("from"):
        sender = email_address(spec["from"])
    elif folder.get("_wellKnown") in OWN_FOLDERS:
        sender = owner
    else:
        raise ValueError("a received message needs a sender ('from')")
    to = _recipients(spec.get("to")) or [owner]
    when = outlook.parse_time(sim, spec.get("receivedDateTime"), "receivedDateTime")
    stamp = outlook.stamp(when)
    body = outlook.bodies(str(spec.get("body", "")), str(spec.get("bodyType", "text")))
    domain = sender["emailAddress"]["address"].rsplit("@", 1)[1]
    message_id = outlook.outlook_id(sim)
    message: dict[str, Any] = {
        "id": message_id,
        "createdDateTime": stamp,
        "lastModifiedDateTime": stamp,
        "changeKey": outlook.change_key(sim),
        "categories": [],
        "receivedDateTime": stamp,
        "sentDateTime": stamp,
        "hasAttachments": False,
        "internetMessageId": make_msgid(domain=domain),
        "subject": str(spec.get("subject", "")),
        "bodyPreview": outlook.preview(body["_text"]),
        "importance": "normal",
        "parentFolderId": folder["id"],
        "conversationId": outlook.outlook_id(sim, "AAQkA", 16),
        "isDeliveryReceiptRequested": False,
        "isReadReceiptRequested": False,
        "isRead": bool(spec.get("isRead", folder.get("_wellKnown") in OWN_FOLDERS)),
        "isDraft": folder.get("_wellKnown") == "drafts",
        "webLink": f"https://outlook.office365.com/owa/?ItemID={message_id}&exvsurl=1",
        "inferenceClassification": "focused",
        "body": None,
        "sender": sender,
        "from": sender,
        "toRecipients": to,
        "ccRecipients": _recipients(spec.get("cc")),
        "bccRecipients": [],
        "replyTo": [],
        "flag": {"flagStatus": "notFlagged"},
        "_userId": user["id"],
        "_date": format_datetime(when),
        **body,
    }
    attachments = spec.get("attachments") or []
    if not isinstance(attachments, list):
        raise ValueError("attachments must be a list")
    for i, att in enumerate(attachments):
        try:
            record = outlook.add_attachment(sim, user["id"], message_id, att, stamp)
        except ValueError as exc:
            raise ValueError(f"attachments[{i}]: {exc}") from None
        if not record["isInline"]:
            message["hasAttachments"] = True
    sim.tenant.messages[message_id] = message
    mailbox.build_mime(sim, message)  # rendered now, as Exchange has it ready (see build_mime)
    out = strip_internal(message)
    out["body"] = outlook.body_of(message, text=False)
    return out
