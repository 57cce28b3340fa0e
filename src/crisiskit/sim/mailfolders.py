"""Simulated Exchange mail folders: the well-known folders, child folders, messages per folder.

Every mailbox has the folders Outlook creates (mailfolder.md, "Well-known folder names"), usable
by their well-known name in place of an id: `msgfolderroot` (the root, "Top of Information
Store", not listed), and under it `archive`, `conversationhistory`, `deleteditems`, `drafts`,
`inbox`, `junkemail`, `outbox`, `sentitems`. The other well-known names of the reference
(clutter, conflicts, syncissues, ...) are not simulated: they answer 404 `ErrorItemNotFound`.
Display names are those of a French mailbox (mailboxSettings answers `fr-FR`), as Exchange
localises them. Child folders are seeded (`mailseed.py`) and stored in `tenant.mail_folders`;
folders are resolved by `mailbox.py`.

`GET /users/{id}/mailFolders` lists the root's children, `.../childFolders` a folder's, both
paged by 10 (user-list-mailfolders.md) and without hidden folders unless
`includeHiddenFolders=true`; a nested folder is addressed `mailFolders/{id}/childFolders/{id}`.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any

from crisiskit.sim import mailbox, outlook
from crisiskit.sim.mailbox import ROOT, folders_of, resolve
from crisiskit.sim.permissions import EXCHANGE_DENIED
from crisiskit.sim.router import Router, SimRequest, SimResponse, strip_internal

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

FOLDERS_DEFAULT_TOP = 10
FOLDERS_MAX_TOP = 1000

_B = "/users/{user_id}/mailFolders"
_F = _B + "/{folder_path:path}"
_M = _F + "/messages/{message_id}"
_LIST = ("Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite")
_READ = ("Mail.Read", "Mail.ReadWrite")
# Application permissions (user-list-mailfolders.md, mailfolder-get.md,
# mailfolder-list-childfolders.md, mailfolder-list-messages.md, message-get.md,
# message-list-attachments.md, attachment-get.md).
PERMISSIONS: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("GET", _B): _LIST,
    ("GET", _F): _LIST,
    ("GET", _F + "/childFolders"): _LIST,
    ("GET", _F + "/messages"): _LIST,
    ("GET", _M): ("Mail.ReadBasic.All", "Mail.Read"),
    ("GET", _M + "/$value"): _READ,
    ("GET", _M + "/attachments"): _READ,
    ("GET", _M + "/attachments/{attachment_id}"): _READ,
    ("GET", _M + "/attachments/{attachment_id}/$value"): _READ,
}
DENIED = EXCHANGE_DENIED


def register(router: Router) -> None:
    """Register the mail folder routes on `router` (most specific first)."""
    router.route("GET", _M + "/attachments/{attachment_id}/$value")(folder_attachment_value)
    router.route("GET", _M + "/attachments/{attachment_id}")(folder_attachment)
    router.route("GET", _M + "/attachments")(folder_attachments)
    router.route("GET", _M + "/$value")(folder_message_mime)
    router.route("GET", _M)(folder_message)
    router.route("GET", _F + "/messages")(folder_messages)
    router.route("GET", _F + "/childFolders")(child_folders)
    router.route("GET", _F)(get_folder)
    router.route("GET", _B)(list_folders)


# ---------------------------------------------------------------- folders


def folder_view(sim: Simulator, folder: dict[str, Any]) -> dict[str, Any]:
    user_id = folder["_userId"]
    kids = [f for f in folders_of(sim, user_id) if f.get("parentFolderId") == folder["id"]]
    messages = mailbox.messages_of(sim, user_id, folder["id"])
    view = strip_internal(folder)
    view.update(
        childFolderCount=len(kids),
        unreadItemCount=sum(1 for m in messages if not m.get("isRead")),
        totalItemCount=len(messages),
    )
    ordered = ("id", "displayName", "parentFolderId", "childFolderCount", "unreadItemCount")
    return {
        **{k: view[k] for k in ordered},
        "totalItemCount": view["totalItemCount"],
        "isHidden": bool(view.get("isHidden")),
    }


def _sort_key(folder: dict[str, Any]) -> str:
    name = unicodedata.normalize("NFKD", str(folder.get("displayName", "")))
    return "".join(c for c in name if not unicodedata.combining(c)).casefold()


def _children_page(
    sim: Simulator, req: SimRequest, user: dict[str, Any], parent_id: str, where: str
) -> SimResponse:
    hidden = req.query.get("includeHiddenFolders", "").lower() == "true"
    kids = [
        f
        for f in folders_of(sim, user["id"])
        if f.get("parentFolderId") == parent_id and (hidden or not f.get("isHidden"))
    ]
    kids.sort(key=_sort_key)
    items = [folder_view(sim, f) for f in kids]
    return outlook.page(
        sim, req, items, where, default_top=FOLDERS_DEFAULT_TOP, max_top=FOLDERS_MAX_TOP
    )


def list_folders(sim: Simulator, req: SimRequest, user_id: str) -> SimResponse:
    """List the root's folders (`GET /users/{id}/mailFolders`), 10 per page."""
    user = mailbox.mailbox_user(sim, user_id)
    where = f"users('{user['id']}')/mailFolders"
    return _children_page(sim, req, user, mailbox.folder_id(user["id"], ROOT), where)


def get_folder(sim: Simulator, req: SimRequest, user_id: str, folder_path: str) -> SimResponse:
    """Read a folder by id or well-known name (`GET /users/{id}/mailFolders/{fid}`)."""
    user = mailbox.mailbox_user(sim, user_id)
    folder = resolve(sim, user["id"], folder_path)
    obj = outlook.select(folder_view(sim, folder), req)
    return outlook.item_response(req, f"users('{user['id']}')/mailFolders/$entity", obj)


def child_folders(sim: Simulator, req: SimRequest, user_id: str, folder_path: str) -> SimResponse:
    """List a folder's child folders (`GET .../mailFolders/{fid}/childFolders`), 10 per page."""
    user = mailbox.mailbox_user(sim, user_id)
    folder = resolve(sim, user["id"], folder_path)
    where = f"users('{user['id']}')/mailFolders('{folder['id']}')/childFolders"
    return _children_page(sim, req, user, folder["id"], where)


# ---------------------------------------------------------------- messages of a folder


def _message(sim: Simulator, user_id: str, folder_path: str, message_id: str) -> dict[str, Any]:
    user = mailbox.mailbox_user(sim, user_id)
    folder = resolve(sim, user["id"], folder_path)
    return mailbox.find_message(sim, user, message_id, folder["id"])


def folder_messages(sim: Simulator, req: SimRequest, user_id: str, folder_path: str) -> SimResponse:
    """List a folder's messages (`GET .../mailFolders/{fid}/messages`), 10 per page (≤ 1000)."""
    user = mailbox.mailbox_user(sim, user_id)
    folder = resolve(sim, user["id"], folder_path)
    items = mailbox.messages_of(sim, user["id"], folder["id"])
    where = f"mailFolders('{folder['id']}')/messages"
    return mailbox.messages_page(sim, req, user, items, where)


def folder_message(
    sim: Simulator, req: SimRequest, user_id: str, folder_path: str, message_id: str
) -> SimResponse:
    """Read one message of a folder."""
    return mailbox.message_response(sim, req, _message(sim, user_id, folder_path, message_id))


def folder_message_mime(
    sim: Simulator, req: SimRequest, user_id: str, folder_path: str, message_id: str
) -> SimResponse:
    """Download one message of a folder as MIME."""
    return mailbox.mime_response(sim, _message(sim, user_id, folder_path, message_id))


def folder_attachments(
    sim: Simulator, req: SimRequest, user_id: str, folder_path: str, message_id: str
) -> SimResponse:
    """List the attachments of a message of a folder."""
    return mailbox.attachments_response(sim, req, _message(sim, user_id, folder_path, message_id))


def folder_attachment(
    sim: Simulator,
    req: SimRequest,
    user_id: str,
    folder_path: str,
    message_id: str,
    attachment_id: str,
) -> SimResponse:
    """Read one attachment of a message of a folder."""
    message = _message(sim, user_id, folder_path, message_id)
    return mailbox.attachment_response(sim, req, message, attachment_id)


def folder_attachment_value(
    sim: Simulator,
    req: SimRequest,
    user_id: str,
    folder_path: str,
    message_id: str,
    attachment_id: str,
) -> SimResponse:
    """Download one attachment of a message of a folder."""
    message = _message(sim, user_id, folder_path, message_id)
    return outlook.attachment_value(sim, outlook.find_attachment(sim, message["id"], attachment_id))
