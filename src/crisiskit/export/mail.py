"""Export one account's mail: every folder, recursively, one `.eml` per message (its MIME).

    GET /users/{id}/mailFolders?includeHiddenFolders=true&$top=100          the root's folders
    GET .../mailFolders/{fid}/childFolders?includeHiddenFolders=true&$top=100  (recursively)
    GET .../mailFolders/{fid}/messages?$top=1000&$select=id,subject,...     each folder's messages
    GET /users/{id}/messages/{mid}/attachments?$select=id,size              what a message carries
    GET /users/{id}/messages/{mid}/$value                                   the MIME (.eml)

Every `@odata.nextLink` is followed as an opaque URL. Folders are keyed by id (display names
are localised: "Boîte de réception"), listed level by level, all folders of a level at once;
child folders are read only where `childFolderCount` says there are some, messages only where
`totalItemCount` does.

The MIME comes through `$batch` (the body of a non-JSON sub-response is base64, which is
decoded) wherever its size is bounded: a message without attachments, or one whose
attachments weigh `BATCHED_ATTACHMENTS` at most (their sizes are listed first, `$select`ed so
that no content comes with them, those listings of every mailbox sharing `$batch` calls).
A call carries at most 20 messages and about `BATCH_BYTES` of MIME, so memory stays bounded.
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

from crisiskit.export.job import ExportError, Job, first, listing, rest
from crisiskit.export.layout import placed_in, safe_name, short_id, stamp
from crisiskit.graph.types import Request

KIND = "mail"
FOLDER_QUERY = "includeHiddenFolders=true&$top=100"
MESSAGE_QUERY = "$top=1000&$select=id,subject,receivedDateTime,internetMessageId,hasAttachments"
ATTACHMENT_QUERY = "$select=id,size"  # sizes only: a listing's contentBytes would be the data
BATCH = 20
BATCHED_ATTACHMENTS = 512 * 1024  # a message whose attachments weigh more is streamed
BATCH_BYTES = 2 * 1024 * 1024  # the MIME one `$batch` call may bring back, estimated
BODY_ALLOWANCE = 16 * 1024  # a message's MIME beyond its attachments (headers, body), estimated
NO_MAILBOX = "MailboxNotEnabledForRESTAPI"


def _name(message: dict[str, Any]) -> str:
    subject = safe_name(str(message.get("subject") or ""), fallback="sans-objet", limit=60)
    mid = str(message["id"])
    return f"{stamp(message.get('receivedDateTime'))}-{subject}-{short_id(mid)}.eml"


async def export_mail(job: Job) -> None:
    """Export the mailbox of `job.owner_id` into `job.base`/mail (see the module docstring)."""
    uid = job.owner_id
    answer = await first(job, f"/users/{uid}/mailFolders?{FOLDER_QUERY}")
    if answer.status == 404:
        if answer.code == NO_MAILBOX:
            job.done("none", "no mailbox (MailboxNotEnabledForRESTAPI)")
            return
        raise ExportError(f"mailbox of {job.owner}: 404 {answer.code}")
    level = [(f, f"{job.base}/mail") for f in await rest(job, answer)]
    folders: list[tuple[dict[str, Any], str]] = []
    while level:
        placed = placed_in(level)
        folders.extend(placed)
        parents = [(f, path) for f, path in placed if int(f.get("childFolderCount") or 0) > 0]
        children = await asyncio.gather(*(
            listing(job, f"/users/{uid}/mailFolders/{f['id']}/childFolders?{FOLDER_QUERY}")
            for f, _ in parents
        ))
        level = [(kid, path) for (_, path), kids in zip(parents, children, strict=True)
                 for kid in kids]
    with_items = [(f, p) for f, p in folders if f.get("totalItemCount", 1) != 0]
    lists = await asyncio.gather(*(
        listing(job, f"/users/{uid}/mailFolders/{f['id']}/messages?{MESSAGE_QUERY}")
        for f, _ in with_items
    ))
    todo: list[tuple[str, str, bool]] = []  # (message id, path, has attachments)
    for (_, path), messages in zip(with_items, lists, strict=True):
        for m in messages:
            rel = f"{path}/{_name(m)}"
            if not job.have(rel, str(m["id"])):
                todo.append((str(m["id"]), rel, bool(m.get("hasAttachments"))))
    weights = await asyncio.gather(*(_weight(job, mid, has) for mid, _, has in todo))
    batched = [(mid, rel, w) for (mid, rel, _), w in zip(todo, weights, strict=True)
               if w is not None]
    large = [(mid, rel) for (mid, rel, _), w in zip(todo, weights, strict=True) if w is None]
    await asyncio.gather(
        *(_batch(job, chunk) for chunk in packed(batched)),
        *(_streamed(job, mid, rel) for mid, rel in large),
    )
    job.done()


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


def packed(messages: list[tuple[str, str, int]]) -> list[list[tuple[str, str, int]]]:
    """Group (id, path, estimated size) into calls of ≤ 20 and about ≤ `BATCH_BYTES`."""
    calls: list[list[tuple[str, str, int]]] = []
    current: list[tuple[str, str, int]] = []
    weight = 0
    for m in messages:
        if current and (len(current) == BATCH or weight + m[2] > BATCH_BYTES):
            calls.append(current)
            current, weight = [], 0
        current.append(m)
        weight += m[2]
    if current:
        calls.append(current)
    return calls


async def _batch(job: Job, chunk: list[tuple[str, str, int]]) -> None:
    """Fetch up to 20 messages' MIME in one `$batch`; stream any that does not come."""
    answers = await job.graph.send({mid: Request("GET", _value(job.owner_id, mid))
                                    for mid, _, _ in chunk})
    for mid, rel, _ in chunk:
        answer = answers[mid]
        data = _decoded(answer.body) if answer.status == 200 else None
        if data is None:
            await _streamed(job, mid, rel)
        else:
            job.put(rel, data, mid)


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
