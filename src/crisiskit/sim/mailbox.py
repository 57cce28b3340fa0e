"""A mailbox's contents, shared by the Exchange families (mail, mail folders, calendars, ...).

Readiness: a user's mailbox exists `profile.mailbox_delay_s` after an Exchange-bearing licence
was assigned (`_licensedAt`), a Microsoft 365 group's `mailbox_delay_s` after its creation;
before that, mailbox endpoints answer 404 `MailboxNotEnabledForRESTAPI` (reported wording).
Folders: the well-known folders every mailbox has (ids derived from the user and the name) and
the child folders seeded into `tenant.mail_folders`. Messages: listing, lookup, JSON views,
MIME (`$value`) and their file attachments. The mail and mail folder families serve the same
messages through these functions; this module imports no family.
"""

from __future__ import annotations

import base64
import hashlib
import json
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from crisiskit.sim import blobs, odata, outlook
from crisiskit.sim.errors import mail_item_not_found, mailbox_not_enabled
from crisiskit.sim.router import SimRequest, SimResponse

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

MESSAGES_DEFAULT_TOP = 10
MESSAGES_MAX_TOP = 1000
MIME_TYPE = "text/plain"  # message-get.md, example 4: `Content-type: text/plain`
ROOT = "msgfolderroot"
# Well-known name -> display name in a fr-FR mailbox.
WELL_KNOWN = {
    "archive": "Archive",
    "conversationhistory": "Historique des conversations",
    "deleteditems": "Éléments supprimés",
    "drafts": "Brouillons",
    "inbox": "Boîte de réception",
    "junkemail": "Courrier indésirable",
    "outbox": "Boîte d'envoi",
    "sentitems": "Éléments envoyés",
}


# ---------------------------------------------------------------- readiness


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


def group_mailbox_ready(sim: Simulator, group: dict[str, Any]) -> bool:
    """Tell whether a group's mailbox exists by now (Microsoft 365 groups only)."""
    if "Unified" not in group.get("groupTypes", []):
        return False
    return sim.now() >= float(group.get("_createdAt", 0.0)) + sim.profile.mailbox_delay_s


def mailbox_group(sim: Simulator, group_id: str) -> dict[str, Any]:
    """Return the group whose mailbox a request addresses; 404 until the mailbox exists."""
    group = sim.get_group(group_id)
    sim.check_replicated(group["id"])
    if not group_mailbox_ready(sim, group):
        raise mailbox_not_enabled()
    return group


# ---------------------------------------------------------------- folders


def _default(user_id: str, name: str) -> dict[str, Any]:
    return {
        "id": folder_id(user_id, name),
        "displayName": WELL_KNOWN.get(name, "Haut de la banque d'informations"),
        "parentFolderId": folder_id(user_id, ROOT) if name != ROOT else None,
        "isHidden": False,
        "_userId": user_id,
        "_wellKnown": name,
    }


def folders_of(sim: Simulator, user_id: str) -> list[dict[str, Any]]:
    """Return every folder of a mailbox but the root: the well-known ones, then the seeded."""
    found = [_default(user_id, name) for name in WELL_KNOWN]
    found += [f for f in sim.tenant.mail_folders.values() if f.get("_userId") == user_id]
    return found


def _by_id(sim: Simulator, user_id: str, key: str) -> dict[str, Any] | None:
    lowered = key.lower()
    if lowered == ROOT or lowered in WELL_KNOWN:
        return _default(user_id, lowered)
    for name in (ROOT, *WELL_KNOWN):
        if key == folder_id(user_id, name):
            return _default(user_id, name)
    found = sim.tenant.mail_folders.get(key)
    return found if found is not None and found.get("_userId") == user_id else None


def resolve(sim: Simulator, user_id: str, path: str) -> dict[str, Any]:
    """Resolve `{id}` or `{id}/childFolders/{id}/...` (ids or well-known names) to a folder."""
    parts = [p for p in path.split("/") if p]
    folder = _by_id(sim, user_id, parts[0]) if parts else None
    rest = parts[1:]
    while folder is not None and rest:
        if len(rest) < 2 or rest[0].lower() != "childfolders":
            raise mail_item_not_found()
        child = _by_id(sim, user_id, rest[1])
        if child is None or child.get("parentFolderId") != folder["id"]:
            raise mail_item_not_found()
        folder, rest = child, rest[2:]
    if folder is None:
        raise mail_item_not_found()
    return folder


def ensure_path(sim: Simulator, user_id: str, path: str) -> dict[str, Any]:
    """Return the folder at `path` (`inbox`, `inbox/Projets/2026`), creating child folders.

    The first segment is a well-known name or a top-level display name; the next ones are
    display names of child folders (case-insensitive).
    """
    parts = [p.strip() for p in path.replace("\\", "/").split("/") if p.strip()]
    if not parts:
        parts = ["inbox"]
    first = parts[0]
    root_id = folder_id(user_id, ROOT)
    folder = _by_id(sim, user_id, first) if first.lower() in WELL_KNOWN else None
    if folder is None:
        folder = _child_named(sim, user_id, root_id, first) or create_folder(
            sim, user_id, root_id, first
        )
    for name in parts[1:]:
        folder = _child_named(sim, user_id, folder["id"], name) or create_folder(
            sim, user_id, folder["id"], name
        )
    return folder


def _child_named(sim: Simulator, user_id: str, parent_id: str, name: str) -> dict[str, Any] | None:
    lowered = name.casefold()
    return next(
        (
            f
            for f in folders_of(sim, user_id)
            if f.get("parentFolderId") == parent_id
            and str(f.get("displayName", "")).casefold() == lowered
        ),
        None,
    )


def create_folder(
    sim: Simulator, user_id: str, parent_id: str, name: str, hidden: bool = False
) -> dict[str, Any]:
    """Store a child folder (for seeding); return the record."""
    folder: dict[str, Any] = {
        "id": outlook.outlook_id(sim, "AAMkA", 33),
        "displayName": name,
        "parentFolderId": parent_id,
        "isHidden": hidden,
        "_userId": user_id,
    }
    sim.tenant.mail_folders[folder["id"]] = folder
    return folder


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


def find_message(
    sim: Simulator, user: dict[str, Any], message_id: str, parent: str | None = None
) -> dict[str, Any]:
    message = sim.tenant.messages.get(message_id)
    if message is None or message.get("_userId") != user["id"]:
        raise mail_item_not_found()
    if parent is not None and message.get("parentFolderId") != parent:
        raise mail_item_not_found()
    return message


def message_response(sim: Simulator, req: SimRequest, message: dict[str, Any]) -> SimResponse:
    obj = outlook.select(message_view(message, req), req)
    return outlook.item_response(req, f"users('{message['_userId']}')/messages/$entity", obj)


def _boundary(message: dict[str, Any], part: str) -> str:
    return f"_{part}_" + hashlib.sha256(message["id"].encode()).hexdigest()[:32] + "_"


MIME_CACHE_BYTES = 256 << 20  # the rendered MIME kept, at most (then the cache starts over)


def build_mime(sim: Simulator, message: dict[str, Any]) -> bytes:
    """Return a message's MIME (an .eml file): text and HTML bodies, then its attachments.

    Rendering with `email` costs the simulator milliseconds of CPU per message (its header
    folding), on the machine whose client it is meant to measure; Exchange renders on its own
    servers. So the rendering is kept, keyed by everything it is made of (the message and its
    attachments' records: any change renders again), and `seed_message` renders at seeding.
    """
    attachments = outlook.attachments_of(sim, message["id"])
    key = hashlib.sha256(
        json.dumps([message, attachments], sort_keys=True, default=str).encode()
    ).hexdigest()
    found = sim.mime_cache.get(key)
    if found is None:
        found = _render_mime(sim, message, attachments)
        if sim.mime_cache_bytes + len(found) > MIME_CACHE_BYTES:
            sim.mime_cache.clear()
            sim.mime_cache_bytes = 0
        sim.mime_cache[key] = found
        sim.mime_cache_bytes += len(found)
    return found


def _render_mime(
    sim: Simulator, message: dict[str, Any], attachments: list[dict[str, Any]]
) -> bytes:
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
