"""What every workload exporter shares: the job it runs, paging, and how it fails.

A `Job` is one source of one owner (an account's mailbox, the group's library…): the Graph
client, the export folder, where its files go, and the counters that end up in the
manifest's `sources`. Exporters raise `ExportError` with a reason a rerun can act on; a 404
that means "this owner has none" (no mailbox, no OneDrive) and a 403 on a protected API are
facts reported in the source's status, not failures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from crisiskit.errors import OperationFailed
from crisiskit.export.sink import ExportDir, FileRecord, SourceRecord
from crisiskit.graph.consistency import RULES
from crisiskit.graph.types import GraphResponse, Request

if TYPE_CHECKING:
    from crisiskit.graph import Graph


NO_MAILBOX = "MailboxNotEnabledForRESTAPI"  # the 404 code of an owner without a mailbox


class ExportError(OperationFailed):
    """A source could not be exported completely (the reason says what to do)."""


@dataclass
class Job:
    """One source to export (see the module docstring)."""

    graph: Graph
    sink: ExportDir
    kind: str
    owner: str  # UPN or the group's mailNickname
    owner_id: str  # its Graph id
    base: str  # where its files go, relative to the export folder
    files: int = 0
    nbytes: int = 0
    fetched: int = 0  # files fetched by this run (the others were verified in place)
    refetched: int = 0  # downloads that failed their hash check and were fetched again
    status: str = ""  # what `done` said: exported | none | refused | not_supported
    reads: Reads = field(default=None)  # type: ignore[assignment]  # set in __post_init__

    def __post_init__(self) -> None:
        if self.reads is None:
            self.reads = Reads(self.graph)

    def count(self, rec: FileRecord, fetched: bool) -> FileRecord:
        self.files += 1
        self.nbytes += rec.size
        self.fetched += int(fetched)
        return rec

    def have(self, path: str, source_id: str, **facts: Any) -> bool:
        rec = self.sink.have(path, source_id=source_id, **facts)
        if rec is None:
            return False
        self.count(rec, False)
        return True

    def put(self, path: str, data: bytes, source_id: str) -> FileRecord:
        rec = self.sink.put(path, data, kind=self.kind, owner=self.owner, source_id=source_id)
        return self.count(rec, True)

    def done(self, status: str = "exported", detail: str = "") -> SourceRecord:
        record = SourceRecord(self.kind, self.owner, status, detail, self.files, self.nbytes)
        self.sink.source(record)
        self.status = status
        return record


class Reads:
    """Coalesce the GETs that exporters issue at the same moment into `$batch` calls.

    Every source of an export runs concurrently, each a chain of listings; their requests of
    one moment (the first listing of 50 mailboxes, the next page of each) go out together,
    20 per `$batch`, instead of one HTTP exchange each. `body` does the same for small
    non-JSON bodies (a message's MIME) whose size is estimated: they are packed into calls of
    20 and about `BATCH_BYTES`, so that one answer stays small in memory. Throttling, retries
    and deadlines are the Graph door's (`Graph.send`).
    """

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        # Downloads wait here, in FIFO order, before the client's limiter: hundreds of them
        # queued on the limiter itself would all be woken at every release.
        self.slots = asyncio.Semaphore(graph.limiter.max_concurrency)
        self.download_slots = asyncio.Semaphore(graph.downloads.max_concurrency)
        self._pending: list[tuple[Request, asyncio.Future[GraphResponse]]] = []
        self._flushing = False
        self._bodies: list[tuple[Request, int, asyncio.Future[GraphResponse]]] = []
        self._packing = False

    async def get(self, url: str, headers: Mapping[str, str] | None = None) -> GraphResponse:
        future: asyncio.Future[GraphResponse] = asyncio.get_running_loop().create_future()
        self._pending.append((Request("GET", url, headers=dict(headers or {})), future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let every source ready at this moment add its request
        batch, self._pending = self._pending, []
        self._flushing = False
        try:
            answers = await self.graph.send({n: r for n, (r, _) in enumerate(batch)})
        except BaseException as exc:  # noqa: BLE001 - handed to every waiter
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for n, (_, future) in enumerate(batch):
            if not future.done():
                future.set_result(answers[n])


    async def body(self, url: str, weight: int) -> GraphResponse:
        """GET a small non-JSON body (about `weight` bytes) through a packed `$batch`."""
        future: asyncio.Future[GraphResponse] = asyncio.get_running_loop().create_future()
        self._bodies.append((Request("GET", url), weight, future))
        if not self._packing:
            self._packing = True
            asyncio.get_running_loop().create_task(self._flush_bodies())
        return await future

    async def _flush_bodies(self) -> None:
        await asyncio.sleep(0)  # every body asked for at this moment joins
        bodies, self._bodies = self._bodies, []
        self._packing = False
        await asyncio.gather(*(self._send_pack(pack) for pack in packed(bodies)))

    async def _send_pack(
        self, pack: list[tuple[Request, int, asyncio.Future[GraphResponse]]]
    ) -> None:
        try:
            answers = await self.graph.send({n: r for n, (r, _, _) in enumerate(pack)})
        except BaseException as exc:  # noqa: BLE001 - handed to every waiter
            for _, _, future in pack:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for n, (_, _, future) in enumerate(pack):
            if not future.done():
                future.set_result(answers[n])


BATCH = 20  # sub-requests per `$batch` (json-batching)
BATCH_BYTES = 2 * 1024 * 1024  # the bodies one packed `$batch` may bring back, estimated

T = TypeVar("T")


def packed(items: Sequence[tuple[Any, int, T]]) -> list[list[tuple[Any, int, T]]]:
    """Group (request, estimated size, …) into calls of ≤ 20 and about ≤ `BATCH_BYTES`.

    An item heavier than the budget travels alone.
    """
    calls: list[list[tuple[Any, int, T]]] = []
    current: list[tuple[Any, int, T]] = []
    weight = 0
    for item in items:
        if current and (len(current) == BATCH or weight + item[1] > BATCH_BYTES):
            calls.append(current)
            current, weight = [], 0
        current.append(item)
        weight += item[1]
    if current:
        calls.append(current)
    return calls


def _checked(answer: GraphResponse, url: str, expect: Sequence[int]) -> GraphResponse:
    if answer.ok or answer.status in expect:
        return answer
    from crisiskit.graph.wire import display_path, error_from

    raise error_from("GET", display_path(url).split("?", 1)[0], answer)


# The directory's 404 for an object it does not know. Every owner exported is in the scope
# (journaled AND tagged, read moments ago), so this 404 is a replica behind a recent write
# (teardown's freeze, a swap's PATCH): read again, never reported as "this owner has none".
LAGGING = "Request_ResourceNotFound"


async def first(
    job: Job, url: str, *, expect: Sequence[int] = (404,),
    headers: Mapping[str, str] | None = None,
) -> GraphResponse:
    """Send the first GET of a listing; statuses in `expect` are returned, not raised.

    A lagging replica's 404 is read again with the consistency rules' backoff, under their
    deadline (graph/consistency.py), before it is returned or raised.
    """
    answer = await job.reads.get(url, headers)
    clock, rules = job.graph.clock, RULES
    deadline = clock.monotonic() + rules.deadline_s
    delay = rules.first_delay_s
    for _ in range(rules.attempts - 1):
        if not (answer.status == 404 and answer.code == LAGGING):
            break
        if clock.monotonic() + delay > deadline:
            break
        await clock.sleep(delay)
        delay = min(delay * rules.factor, rules.max_delay_s)
        answer = await job.reads.get(url, headers)
    return _checked(answer, url, expect)


async def mailbox_first(
    job: Job, url: str, what: str, no_mailbox: str = "no mailbox"
) -> GraphResponse | None:
    """Send the first GET of a listing of the owner's mailbox (mail, calendars, contacts,
    threads); None, the job done as "none", when the owner has no mailbox (yet).

    Any other 404 is an ExportError naming `what`.
    """
    answer = await first(job, url)
    if answer.status == 404:
        if answer.code == NO_MAILBOX:
            job.done("none", f"{no_mailbox} ({NO_MAILBOX})")
            return None
        raise ExportError(f"{what} of {job.owner}: 404 {answer.code}")
    return answer


async def rest(
    job: Job, answer: GraphResponse, headers: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Return the items of a listing's first answer and of every page after it.

    Every `@odata.nextLink` is followed as an opaque URL (with the same headers).
    """
    items = answer.values()
    seen: set[str] = set()
    link = answer.json().get("@odata.nextLink")
    while isinstance(link, str) and link:
        if link in seen:
            raise ExportError("a listing's paging never ends (the same nextLink twice)")
        seen.add(link)
        page = _checked(await job.reads.get(link, headers), link, ())
        items.extend(page.values())
        link = page.json().get("@odata.nextLink")
    return items


async def listing(
    job: Job, url: str, headers: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Return every item of a listing (every `@odata.nextLink` followed as an opaque URL)."""
    return await rest(job, await first(job, url, expect=(), headers=headers), headers)


def unsupported(answer: GraphResponse) -> bool:
    """Tell whether a 403 says the token may not use this API (a protected or missing role)."""
    return answer.status == 403
