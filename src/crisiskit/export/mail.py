"""Export one account's mail: every folder, recursively, one `.eml` per message (its MIME).

    GET /users/{id}/mailFolders?includeHiddenFolders=true&$top=100          the root's folders
    GET .../mailFolders/{fid}/childFolders?includeHiddenFolders=true&$top=100  (recursively)
    GET .../mailFolders/{fid}/messages?$top=1000&$select=id,subject,...     each folder's messages
    GET /users/{id}/messages/{mid}/attachments?$select=id,size              what a message carries
    GET /users/{id}/messages/{mid}/$value                                   the MIME (.eml)

Every `@odata.nextLink` is followed as an opaque URL. Folders are keyed by id (display names
are localised: "Boîte de réception"). Each folder is worked on as soon as its parent's
listing names it: its child folders are listed (only where `childFolderCount` says there are
some) while its messages are (only where `totalItemCount` does), and each message's MIME is
asked for as soon as its folder's listing names it, so no mailbox waits for its deepest
folder before its first download.

The MIME comes through `$batch` (the body of a non-JSON sub-response is base64, which is
decoded) wherever its size is bounded: a message without attachments, or one whose
attachments weigh `BATCHED_ATTACHMENTS` at most (their sizes are listed first, `$select`ed so
that no content comes with them). Those reads join the others of the same moment, from every
mailbox (`Reads`): listings 20 per call, MIME packed 20 per call and about `BATCH_BYTES`
(job.py), so that one answer stays small in memory.
A message with heavier attachments, or whose sizes could not be read, is streamed to disk on
its own (never whole in memory), and so is any message a `$batch` did not answer with its
MIME. The MIME's content type is not relied on. A 404 `MailboxNotEnabledForRESTAPI` means the
account has no mailbox: reported, not a failure.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any

from crisiskit.export.job import ExportError, Job, first, listing, mailbox_first, rest
from crisiskit.export.layout import placed_in, safe_name, short_id, stamp

KIND = "mail"
FOLDER_QUERY = "includeHiddenFolders=true&$top=100"
MESSAGE_QUERY = "$top=1000&$select=id,subject,receivedDateTime,internetMessageId,hasAttachments"
ATTACHMENT_QUERY = "$select=id,size"  # sizes only: a listing's contentBytes would be the data
BATCHED_ATTACHMENTS = 512 * 1024  # a message whose attachments weigh more is streamed
BODY_ALLOWANCE = 16 * 1024  # a message's MIME beyond its attachments (headers, body), estimated


def _name(message: dict[str, Any]) -> str:
    subject = safe_name(str(message.get("subject") or ""), fallback="sans-objet", limit=60)
    mid = str(message["id"])
    return f"{stamp(message.get('receivedDateTime'))}-{subject}-{short_id(mid)}.eml"


async def export_mail(job: Job) -> None:
    """Export the mailbox of `job.owner_id` into `job.base`/mail (see the module docstring)."""
    uid = job.owner_id
    answer = await mailbox_first(job, f"/users/{uid}/mailFolders?{FOLDER_QUERY}", "mailbox")
    if answer is None:
        return
    await _folders(job, await rest(job, answer), f"{job.base}/mail")
    job.done()


async def _folders(job: Job, found: list[dict[str, Any]], parent: str) -> None:
    """Export sibling folders, each as soon as it is known (its messages, its children)."""
    await asyncio.gather(*(_folder(job, f, path)
                           for f, path in placed_in([(f, parent) for f in found])))


async def _folder(job: Job, folder: dict[str, Any], path: str) -> None:
    fid = folder["id"]
    work = []
    if int(folder.get("childFolderCount") or 0) > 0:
        work.append(_children(job, fid, path))
    if folder.get("totalItemCount", 1) != 0:
        work.append(_messages(job, fid, path))
    await asyncio.gather(*work)


async def _children(job: Job, fid: str, path: str) -> None:
    url = f"/users/{job.owner_id}/mailFolders/{fid}/childFolders?{FOLDER_QUERY}"
    await _folders(job, await listing(job, url), path)


async def _messages(job: Job, fid: str, path: str) -> None:
    """Export one folder's messages, each MIME batched where its size allows it."""
    url = f"/users/{job.owner_id}/mailFolders/{fid}/messages?{MESSAGE_QUERY}"
    todo = [(str(m["id"]), f"{path}/{_name(m)}", bool(m.get("hasAttachments")))
            for m in await listing(job, url)]
    await asyncio.gather(*(_message(job, mid, rel, has) for mid, rel, has in todo
                           if not job.have(rel, mid)))


async def _message(job: Job, mid: str, rel: str, has_attachments: bool) -> None:
    weight = await _weight(job, mid, has_attachments)
    if weight is not None:
        answer = await job.reads.body(_value(job.owner_id, mid), weight)
        data = _decoded(answer.body) if answer.status == 200 else None
        if data is not None:
            job.put(rel, data, mid)
            return
    await _streamed(job, mid, rel)  # too heavy, or the $batch did not bring it


def _value(uid: str, mid: str) -> str:
    return f"/users/{uid}/messages/{mid}/$value"


async def _weight(job: Job, mid: str, has_attachments: bool) -> int | None:
    """Return the estimated size of a message's MIME, or None if it must be streamed."""
    if not has_attachments:
        return BODY_ALLOWANCE
    url = f"/users/{job.owner_id}/messages/{mid}/attachments?{ATTACHMENT_QUERY}"
    answer = await first(job, url, expect=(403, 404))
    if not answer.ok:
        return None  # streamed: the stream says what became of the message
    total = sum(int(a.get("size") or 0) for a in await rest(job, answer))
    if total > BATCHED_ATTACHMENTS:
        return None
    # Attachments travel base64 in the MIME (4/3 of their size).
    return BODY_ALLOWANCE + total * 4 // 3


def _decoded(body: Any) -> bytes | None:
    """Return a `$batch` sub-response's non-JSON body (base64), or None if it is not one."""
    if isinstance(body, bytes):
        return body
    if not isinstance(body, str):
        return None
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None


async def _streamed(job: Job, mid: str, rel: str) -> None:
    """Stream one message's MIME to disk, then move it into place."""
    part, _ = job.sink.part(rel)
    async with job.reads.slots:
        got = await job.graph.stream(_value(job.owner_id, mid), part, deadline_s=600.0)
    if not got.ok:
        raise ExportError(f"message {short_id(mid)} of {job.owner}: HTTP {got.status}")
    rec = await asyncio.to_thread(
        job.sink.finish, rel, kind=job.kind, owner=job.owner, source_id=mid
    )
    assert rec is not None  # no hash to check: a complete body is the message
    job.count(rec, True)
