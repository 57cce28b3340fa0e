"""Export the group's own mailbox: its conversations, each post rebuilt as an `.eml`.

    GET /groups/{id}/threads                              every thread (paged)
    GET /groups/{id}/threads/{tid}/posts?$expand=attachments   its posts, attachments inline

Mail sent to the cell's group address lands here, not in any member's mailbox. Graph gives
no MIME for a post, so each is rebuilt with the standard library's `email` package: From
(the sender), To (the thread's recipients), Subject (the topic), Date, a Message-ID derived
from the post's id, the body (HTML or text) and its file attachments. Boundaries are derived
from the post's id, so the same post always gives the same bytes (a rerun's files verify).
Post attachments are read through `$expand=attachments`: listing them on their own is not
supported with application permissions (post-list-attachments.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from crisiskit.export.job import ExportError, Job, listing, mailbox_first, rest
from crisiskit.export.layout import safe_name, short_id, stamp

KIND = "conversations"


def _address(value: Any) -> Address | None:
    email = (value or {}).get("emailAddress") or {}
    addr = str(email.get("address") or "")
    if "@" not in addr:
        return None
    return Address(display_name=str(email.get("name") or ""), addr_spec=addr)


def _date(iso: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return datetime(1970, 1, 1, tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def post_to_eml(post: dict[str, Any], thread: dict[str, Any], domain: str) -> bytes:
    """Rebuild one post as a MIME message (see the module docstring)."""
    pid = str(post["id"])
    digest = hashlib.sha256(pid.encode()).hexdigest()
    mime = EmailMessage(policy=policy.SMTP)
    sender = _address(post.get("sender")) or _address(post.get("from"))
    if sender is not None:
        mime["From"] = sender
    recipients = [a for a in (_address(r) for r in thread.get("toRecipients") or []) if a]
    if recipients:
        mime["To"] = recipients
    mime["Subject"] = str(thread.get("topic") or "")
    mime["Date"] = format_datetime(_date(post.get("receivedDateTime")))
    mime["Message-ID"] = f"<{digest[:32]}@{domain}>"
    body = post.get("body") or {}
    content = str(body.get("content") or "")
    if str(body.get("contentType", "")).lower() == "html":
        mime.set_content(content, subtype="html")
    else:
        mime.set_content(content)
    files = [a for a in post.get("attachments") or []
             if "fileAttachment" in str(a.get("@odata.type", "fileAttachment"))]
    for a in sorted(files, key=lambda a: str(a.get("id"))):
        try:
            data = base64.b64decode(str(a.get("contentBytes") or ""), validate=True)
        except (binascii.Error, ValueError):
            raise ExportError(f"post {short_id(pid)}: attachment is not base64") from None
        maintype, _, subtype = str(a.get("contentType") or "").partition("/")
        mime.add_attachment(
            data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=str(a.get("name") or "piece-jointe"),
            disposition="inline" if a.get("isInline") else "attachment",
        )
    mime.set_boundary(f"_crisiskit_{digest[:40]}_")
    return mime.as_bytes()


async def export_conversations(job: Job, domain: str) -> None:
    """Export the group's threads into `job.base`/conversations."""
    gid = job.owner_id
    answer = await mailbox_first(job, f"/groups/{gid}/threads", "threads",
                                 "the group has no mailbox yet")
    if answer is None:
        return
    for thread in await rest(job, answer):
        tid = str(thread["id"])
        topic = safe_name(str(thread.get("topic") or ""), fallback="sans-sujet", limit=60)
        folder = f"{job.base}/conversations/{topic}-{short_id(tid)}"
        posts = await listing(job, f"/groups/{gid}/threads/{tid}/posts?$expand=attachments")
        for post in posts:
            pid = str(post["id"])
            rel = f"{folder}/{stamp(post.get('receivedDateTime'))}-{short_id(pid)}.eml"
            if not job.have(rel, pid):
                job.put(rel, post_to_eml(post, thread, domain), pid)
    job.done()
