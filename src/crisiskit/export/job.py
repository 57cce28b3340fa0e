"""What every workload exporter shares: the job it runs, paging, and how it fails.

A `Job` is one source of one owner (an account's mailbox, the group's library…): the Graph
client, the export folder, where its files go, and the counters that end up in the
manifest's `sources`. Exporters raise `ExportError` with a reason a rerun can act on; a 404
that means "this owner has none" (no mailbox, no OneDrive) and a 403 on a protected API are
facts reported in the source's status, not failures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crisiskit.errors import OperationFailed
from crisiskit.export.sink import ExportDir, FileRecord, SourceRecord

if TYPE_CHECKING:
    from crisiskit.graph import Graph, GraphResponse


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
        return record


async def first(
    graph: Graph, url: str, *, expect: Sequence[int] = (404,),
    headers: Mapping[str, str] | None = None,
) -> GraphResponse:
    """Send the first GET of a listing; statuses in `expect` are returned, not raised."""
    return await graph.request("GET", url, headers=headers, expect=tuple(expect))


async def rest(
    graph: Graph, answer: GraphResponse, headers: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Return the items of a listing's first answer and of every page after it."""
    items = answer.values()
    link = answer.json().get("@odata.nextLink")
    if isinstance(link, str) and link:
        more = await graph.get_all(link, headers=headers)
        items.extend(x for x in more if isinstance(x, dict))
    return items


async def listing(
    graph: Graph, url: str, headers: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Return every item of a listing (every `@odata.nextLink` followed as an opaque URL)."""
    return [x for x in await graph.get_all(url, headers=headers) if isinstance(x, dict)]


def unsupported(answer: GraphResponse) -> bool:
    """Tell whether a 403 says the token may not use this API (a protected or missing role)."""
    return answer.status == 403
