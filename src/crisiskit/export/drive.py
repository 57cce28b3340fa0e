"""Export a drive (an account's OneDrive, the group's library) with its folder tree.

    GET /users/{id}/drive | /groups/{id}/drive          404: this owner has no drive
    GET /drives/{d}/items/root/children?$top=200         then each folder's, all of a level
    GET <@microsoft.graph.downloadUrl>                   no Authorization; `Range` to resume

Files stream to a partial file beside their place and are renamed once complete and checked:
the quickXorHash SharePoint/OneDrive reports must match the bytes received, else the file is
fetched again (at most `ATTEMPTS` times). A partial file left by a killed run is resumed with
`Range: bytes=N-`. A pre-authenticated URL lives a few minutes: on 401/403/410 a fresh one is
read from the item (`GET /drives/{d}/items/{id}`, its `@microsoft.graph.downloadUrl`) —
rather than following `/content`'s 302 through the SDK, which would take the body in memory.
A file already exported and still matching its hash is kept: a rerun fetches what is
missing or corrupt only.
"""

from __future__ import annotations

import asyncio
from typing import Any

from crisiskit.export.job import ExportError, Job, first, listing, rest
from crisiskit.export.layout import placed_in, short_id

CHILDREN = "children?$top=200"
ATTEMPTS = 3
EXPIRED = frozenset({401, 403, 410})
BYTES_PER_S_FLOOR = 1 << 20  # the deadline of one download: 2 minutes + 1 s per MiB


async def export_drive(job: Job, drive_url: str, folder: str) -> None:
    """Export the drive at `drive_url` (`/users/{id}/drive`…) into `job.base`/`folder`."""

    answer = await first(job, drive_url)
    if answer.status == 404:
        job.done("none", f"no drive ({answer.code or '404'})")
        return
    drive_id = str(answer.json().get("id"))
    top = await rest(job, await first(job, f"/drives/{drive_id}/items/root/{CHILDREN}",
                                        expect=()))
    level = [(item, f"{job.base}/{folder}") for item in top]
    files: list[tuple[dict[str, Any], str]] = []
    while level:
        placed = placed_in(level)
        files.extend((i, p) for i, p in placed if "file" in i)
        parents = [(i, p) for i, p in placed if "folder" in i
                   and int((i.get("folder") or {}).get("childCount") or 0) > 0]
        kids = await asyncio.gather(*(
            listing(job, f"/drives/{drive_id}/items/{i['id']}/{CHILDREN}") for i, _ in parents
        ))
        level = [(k, p) for (_, p), found in zip(parents, kids, strict=True) for k in found]
    await asyncio.gather(*(_file(job, drive_id, item, rel) for item, rel in files))
    job.done()


def _quick_xor(item: dict[str, Any]) -> str | None:
    hashes = (item.get("file") or {}).get("hashes") or {}
    value = hashes.get("quickXorHash")
    return str(value) if value else None


async def _file(job: Job, drive_id: str, item: dict[str, Any], rel: str) -> None:
    """Download one file (resuming a partial one), check it, move it into place."""
    item_id = str(item["id"])
    size = int(item.get("size") or 0)
    qx = _quick_xor(item)
    if job.have(rel, item_id, quick_xor=qx, size=size):
        return
    url = item.get("@microsoft.graph.downloadUrl")
    deadline = 120.0 + size / BYTES_PER_S_FLOOR
    corrupt = refreshed = 0
    while True:
        part, have = job.sink.part(rel)
        start = have if 0 < have <= size else 0
        got = None
        if size == 0:
            part.write_bytes(b"")
        elif start < size:
            if not url:
                url = await _fresh_url(job, drive_id, item_id)
            async with job.reads.download_slots:
                got = await job.graph.download(str(url), part, start=start,
                                               deadline_s=deadline)
            if got.status in EXPIRED and refreshed < ATTEMPTS:
                refreshed += 1
                url = None
                continue
            if got.status == 404:
                raise ExportError(f"{rel}: the file is no longer there (404)")
            if not got.ok and got.status != 416:
                raise ExportError(f"{rel}: download refused (HTTP {got.status})")
        rec = await asyncio.to_thread(  # hashing a large file must not stall the loop
            job.sink.finish, rel, kind=job.kind, owner=job.owner, source_id=item_id,
            quick_xor=qx, size=size,
        )
        if rec is not None:
            job.count(rec, True)
            return
        corrupt += 1
        job.refetched += 1
        if corrupt >= ATTEMPTS:
            raise ExportError(
                f"{rel}: content does not match its quickXorHash after {ATTEMPTS} downloads"
            )
        url = None  # a fresh URL, from the start


async def _fresh_url(job: Job, drive_id: str, item_id: str) -> str:
    answer = await first(job, f"/drives/{drive_id}/items/{item_id}", expect=(404,))
    url = answer.json().get("@microsoft.graph.downloadUrl")
    if answer.status == 404 or not url:
        raise ExportError(f"item {short_id(item_id)} of {job.owner}: no download URL")
    return str(url)
