"""Simulated group conversations: the mailbox of a Microsoft 365 group, its threads and posts.

Mail sent to a group's address lands in its conversations, not in any member's mailbox. A
conversation holds threads (conversationThread), a thread holds posts (post), a post may carry
file attachments. Reads follow group-list-threads.md, conversationthread-get.md,
conversationthread-list-posts.md, post-get.md, post-list-attachments.md,
group-list-conversations.md and conversation-list-threads.md; bodies and `Prefer` as for mail.

The group's mailbox exists `profile.mailbox_delay_s` after the group's creation (Microsoft 365
groups only); before that, and for a security group, reads answer 404
`MailboxNotEnabledForRESTAPI`. Threads come newest first, a thread's posts oldest first; pages
of 10. Post attachments are documented as not supported with application permissions
(post-list-attachments.md, attachment-get.md): `$expand=attachments` on a post is the way in.
Seeded through `POST /_sim/seed` (`conversations`, see `seed_conversation`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crisiskit.sim import odata, outlook
from crisiskit.sim.errors import SimError, mail_item_not_found
from crisiskit.sim.mailbox import mailbox_group
from crisiskit.sim.mailseed import email_address
from crisiskit.sim.permissions import EXCHANGE_DENIED
from crisiskit.sim.router import Router, SimRequest, SimResponse, strip_internal

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator

_G = "/groups/{group_id}"
_T = "/threads/{thread_id}"
_P = "/posts/{post_id}"
_C = "/conversations/{conversation_id}"
_GROUP = ("Group.Read.All", "Group.ReadWrite.All")
ROUTES: list[tuple[str, str]] = [
    (_G + "/threads", "list_threads"),
    (_G + _T, "get_thread"),
    (_G + _T + "/posts", "list_posts"),
    (_G + _T + _P, "get_post"),
    (_G + _T + _P + "/attachments", "list_attachments"),
    (_G + _T + _P + "/attachments/{attachment_id}", "get_attachment"),
    (_G + "/conversations", "list_conversations"),
    (_G + _C, "get_conversation"),
    (_G + _C + "/threads", "list_threads"),
    (_G + _C + _T, "get_thread"),
    (_G + _C + _T + "/posts", "list_posts"),
    (_G + _C + _T + _P, "get_post"),
    (_G + _C + _T + _P + "/attachments", "list_attachments"),
    (_G + _C + _T + _P + "/attachments/{attachment_id}", "get_attachment"),
]
# Application permissions per route; post attachments: "Application: Not supported".
PERMISSIONS: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("GET", template): None if "attachments" in template else _GROUP for template, _ in ROUTES
}
DENIED = EXCHANGE_DENIED


def register(router: Router) -> None:
    """Register the group conversation routes on `router`."""
    for template, name in ROUTES:
        router.route("GET", template)(globals()[name])


# ---------------------------------------------------------------- lookups


def _threads(sim: Simulator, group_id: str, conversation: str | None) -> list[dict[str, Any]]:
    found = [
        t
        for t in sim.tenant.threads.values()
        if t.get("_groupId") == group_id
        and (conversation is None or t.get("_conversationId") == conversation)
    ]
    return sorted(found, key=lambda t: str(t.get("lastDeliveredDateTime")), reverse=True)


def _thread(
    sim: Simulator, group: dict[str, Any], thread_id: str, conversation: str | None
) -> dict[str, Any]:
    thread = sim.tenant.threads.get(thread_id)
    if thread is None or thread.get("_groupId") != group["id"]:
        raise mail_item_not_found()
    if conversation is not None and thread.get("_conversationId") != conversation:
        raise mail_item_not_found()
    return thread


def _posts(sim: Simulator, thread_id: str) -> list[dict[str, Any]]:
    found = [p for p in sim.tenant.posts.values() if p.get("_threadId") == thread_id]
    return sorted(found, key=lambda p: str(p.get("receivedDateTime")))


def _post(sim: Simulator, thread: dict[str, Any], post_id: str) -> dict[str, Any]:
    post = sim.tenant.posts.get(post_id)
    if post is None or post.get("_threadId") != thread["id"]:
        raise mail_item_not_found()
    return post


def _post_view(sim: Simulator, req: SimRequest, post: dict[str, Any]) -> dict[str, Any]:
    view = outlook.view(post, req)
    expand = [e.strip().lower() for e in req.query.get("$expand", "").split(",") if e.strip()]
    if "attachments" in expand:
        view["attachments"] = [
            outlook.attachment_view(sim, a) for a in outlook.attachments_of(sim, post["id"])
        ]
    elif expand:
        raise SimError(400, "BadRequest", "Only 'attachments' can be expanded on a post.")
    return view


def _conversation_view(sim: Simulator, group_id: str, conversation: str) -> dict[str, Any]:
    threads = _threads(sim, group_id, conversation)
    if not threads:
        raise mail_item_not_found()
    senders: list[str] = []
    for t in threads:
        senders += [s for s in t["uniqueSenders"] if s not in senders]
    return {
        "id": conversation,
        "topic": threads[-1]["topic"],
        "hasAttachments": any(t["hasAttachments"] for t in threads),
        "lastDeliveredDateTime": threads[0]["lastDeliveredDateTime"],
        "uniqueSenders": senders,
        "preview": threads[0]["preview"],
    }


def _where(group: dict[str, Any], rest: str) -> str:
    return f"groups('{group['id']}')/{rest}"


# ---------------------------------------------------------------- handlers


def list_threads(
    sim: Simulator, req: SimRequest, group_id: str, conversation_id: str | None = None
) -> SimResponse:
    """List a group's threads (`GET /groups/{id}/threads`), or one conversation's."""
    group = mailbox_group(sim, group_id)
    if conversation_id is not None:
        _conversation_view(sim, group["id"], conversation_id)
    items = [strip_internal(t) for t in _threads(sim, group["id"], conversation_id)]
    return outlook.page(sim, req, items, _where(group, "threads"))


def get_thread(
    sim: Simulator,
    req: SimRequest,
    group_id: str,
    thread_id: str,
    conversation_id: str | None = None,
) -> SimResponse:
    """Read a thread (`GET /groups/{id}/threads/{tid}`)."""
    group = mailbox_group(sim, group_id)
    thread = _thread(sim, group, thread_id, conversation_id)
    obj = outlook.select(strip_internal(thread), req)
    return outlook.item_response(req, _where(group, "threads/$entity"), obj)


def list_posts(
    sim: Simulator,
    req: SimRequest,
    group_id: str,
    thread_id: str,
    conversation_id: str | None = None,
) -> SimResponse:
    """List a thread's posts, oldest first (`GET /groups/{id}/threads/{tid}/posts`)."""
    group = mailbox_group(sim, group_id)
    thread = _thread(sim, group, thread_id, conversation_id)
    items = [_post_view(sim, req, p) for p in _posts(sim, thread["id"])]
    return outlook.page(sim, req, items, _where(group, f"threads('{thread['id']}')/posts"))


def get_post(
    sim: Simulator,
    req: SimRequest,
    group_id: str,
    thread_id: str,
    post_id: str,
    conversation_id: str | None = None,
) -> SimResponse:
    """Read a post (`GET /groups/{id}/threads/{tid}/posts/{pid}`, `$expand=attachments`)."""
    group = mailbox_group(sim, group_id)
    post = _post(sim, _thread(sim, group, thread_id, conversation_id), post_id)
    obj = outlook.select(_post_view(sim, req, post), req)
    where = _where(group, f"threads('{thread_id}')/posts/$entity")
    return outlook.item_response(req, where, obj)


def list_attachments(
    sim: Simulator,
    req: SimRequest,
    group_id: str,
    thread_id: str,
    post_id: str,
    conversation_id: str | None = None,
) -> SimResponse:
    """List a post's file attachments (`.../posts/{pid}/attachments`)."""
    group = mailbox_group(sim, group_id)
    post = _post(sim, _thread(sim, group, thread_id, conversation_id), post_id)
    items = [outlook.attachment_view(sim, a) for a in outlook.attachments_of(sim, post["id"])]
    where = _where(group, f"threads('{thread_id}')/posts('{post_id}')/attachments")
    return outlook.page(sim, req, items, where, default_top=100)


def get_attachment(
    sim: Simulator,
    req: SimRequest,
    group_id: str,
    thread_id: str,
    post_id: str,
    attachment_id: str,
    conversation_id: str | None = None,
) -> SimResponse:
    """Read one attachment of a post."""
    group = mailbox_group(sim, group_id)
    post = _post(sim, _thread(sim, group, thread_id, conversation_id), post_id)
    record = outlook.find_attachment(sim, post["id"], attachment_id)
    obj = odata.apply_select(outlook.attachment_view(sim, record), req.query.get("$select"))
    where = _where(group, f"threads('{thread_id}')/posts('{post_id}')/attachments/$entity")
    return outlook.item_response(req, where, obj)


def list_conversations(sim: Simulator, req: SimRequest, group_id: str) -> SimResponse:
    """List a group's conversations (`GET /groups/{id}/conversations`)."""
    group = mailbox_group(sim, group_id)
    ids = list(dict.fromkeys(t["_conversationId"] for t in _threads(sim, group["id"], None)))
    items = [_conversation_view(sim, group["id"], c) for c in ids]
    return outlook.page(sim, req, items, _where(group, "conversations"))


def get_conversation(
    sim: Simulator, req: SimRequest, group_id: str, conversation_id: str
) -> SimResponse:
    """Read a conversation (`GET /groups/{id}/conversations/{cid}`)."""
    group = mailbox_group(sim, group_id)
    obj = outlook.select(_conversation_view(sim, group["id"], conversation_id), req)
    return outlook.item_response(req, _where(group, "conversations/$entity"), obj)


# ---------------------------------------------------------------- seeding


def seed_conversation(
    sim: Simulator, group: dict[str, Any], spec: dict[str, Any]
) -> dict[str, Any]:
    """Store one conversation with one thread and its posts; return the thread's Graph JSON.

    `spec`: `{"group", "topic", "posts": [{"from": "Name <addr>", "body", "bodyType"?,
    "receivedDateTime"?, "attachments"?: [...as for messages]}]}` (at least one post).
    """
    posts = spec.get("posts")
    if not isinstance(posts, list) or not posts:
        raise ValueError("a conversation needs at least one post")
    conversation = outlook.outlook_id(sim, "AAQkA", 24)
    thread_id = outlook.outlook_id(sim, "AAQkA", 40)
    address = str(group.get("mail") or "")
    group_as = {"emailAddress": {"name": str(group.get("displayName")), "address": address}}
    thread: dict[str, Any] = {
        "id": thread_id,
        "topic": str(spec.get("topic", "")),
        "hasAttachments": False,
        "lastDeliveredDateTime": "",
        "uniqueSenders": [],
        "preview": "",
        "isLocked": False,
        "toRecipients": [group_as],
        "ccRecipients": [],
        "_groupId": group["id"],
        "_conversationId": conversation,
    }
    for i, post_spec in enumerate(posts):
        if not isinstance(post_spec, dict) or not post_spec.get("from"):
            raise ValueError(f"posts[{i}]: a post needs a sender ('from')")
        sender = email_address(post_spec["from"])
        when = outlook.stamp(
            outlook.parse_time(sim, post_spec.get("receivedDateTime"), "receivedDateTime")
        )
        body = outlook.bodies(
            str(post_spec.get("body", "")), str(post_spec.get("bodyType", "text"))
        )
        post_id = outlook.outlook_id(sim, "AAMkA", 48)
        post = {
            "id": post_id,
            "createdDateTime": when,
            "lastModifiedDateTime": when,
            "changeKey": outlook.change_key(sim),
            "categories": [],
            "receivedDateTime": when,
            "hasAttachments": False,
            "body": None,
            "from": group_as,
            "sender": sender,
            "conversationThreadId": thread_id,
            "conversationId": conversation,
            "newParticipants": [],
            "_groupId": group["id"],
            "_threadId": thread_id,
            **body,
        }
        for j, att in enumerate(post_spec.get("attachments") or []):
            try:
                outlook.add_attachment(sim, group["id"], post_id, att, when)
            except ValueError as exc:
                raise ValueError(f"posts[{i}].attachments[{j}]: {exc}") from None
            post["hasAttachments"] = thread["hasAttachments"] = True
        sim.tenant.posts[post_id] = post
        name = sender["emailAddress"]["name"]
        if name not in thread["uniqueSenders"]:
            thread["uniqueSenders"].append(name)
        if when >= thread["lastDeliveredDateTime"]:
            thread["lastDeliveredDateTime"] = when
            thread["preview"] = outlook.preview(body["_text"])
    sim.tenant.threads[thread_id] = thread
    return strip_internal(thread)
