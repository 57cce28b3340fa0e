"""Requests as data, and the one place that sends them through the Graph door in batches.

Every resource module builds `Req` values (method, relative URL, body); `send` groups them into
`$batch` calls (≤ 20 each, sent concurrently by the Graph door) and returns the answers by id.
Keeping requests as data is what lets the engine batch them, count them and look objects up
again after an ambiguous write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from crisiskit.graph import Graph


@dataclass(frozen=True)
class Req:
    """One Graph request, relative to the Graph root (e.g. `/users`)."""

    id: str
    method: str
    url: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """One Graph answer, reduced to what the engine branches on."""

    status: int
    body: Any
    request_id: str | None
    headers: dict[str, str]
    ambiguous: bool = False  # a write whose outcome is unknown (5xx, timeout, dropped)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300 and not self.ambiguous

    @property
    def code(self) -> str:
        """Return the Graph error code of an error answer, or an empty string."""
        if isinstance(self.body, dict):
            err = self.body.get("error")
            if isinstance(err, dict):
                return str(err.get("code") or "")
        return ""

    @property
    def message(self) -> str:
        if isinstance(self.body, dict):
            err = self.body.get("error")
            if isinstance(err, dict):
                return str(err.get("message") or "")
        return ""

    def json(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}

    def values(self) -> list[dict[str, Any]]:
        value = self.json().get("value")
        return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def q(value: str) -> str:
    """Quote a value for an OData string literal inside a URL."""
    return quote(value.replace("'", "''"), safe="@.-_~")


def seg(value: str) -> str:
    """Quote one URL path segment (a UPN, a folder name)."""
    return quote(value, safe="@.-_~")


def _answer(resp: Any, method: str) -> Answer:
    status = int(getattr(resp, "status", 0) or 0)
    ambiguous = bool(getattr(resp, "ambiguous", False))
    if method != "GET" and (status in (0, 500, 502, 503, 504)):
        ambiguous = True
    headers = getattr(resp, "headers", None) or {}
    return Answer(
        status=status,
        body=getattr(resp, "body", None),
        request_id=getattr(resp, "request_id", None),
        headers={str(k).lower(): str(v) for k, v in dict(headers).items()},
        ambiguous=ambiguous,
    )


async def send(graph: Graph, reqs: Sequence[Req]) -> dict[str, Answer]:
    """Send requests through `$batch` (chunked and concurrent in the Graph door)."""
    if not reqs:
        return {}
    from crisiskit.graph.types import BatchItem

    methods = {r.id: r.method for r in reqs}
    items = [
        BatchItem(id=r.id, method=r.method, url=r.url, body=r.body, headers=dict(r.headers))
        for r in reqs
    ]
    answers = await graph.batch(items)
    return {rid: _answer(resp, methods.get(rid, "GET")) for rid, resp in answers.items()}
