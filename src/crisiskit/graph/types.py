"""Plain data exchanged with the Graph door: responses, batch items, counters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class GraphResponse:
    """One Graph answer: status, lower-case headers, parsed body, and the Graph request-id.

    `body` is the parsed JSON (dict or list), raw bytes for other content types, or None when
    empty. Secret-bearing fields (`temporaryAccessPass`, `password`) arrive as
    `crisiskit.secrets.Secret`. `ambiguous` marks a write whose outcome is unknown (a 5xx, a
    timeout or no answer): look the object up before retrying it.
    """

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    request_id: str | None = None
    ambiguous: bool = False

    @property
    def ok(self) -> bool:
        """Tell whether the status is 2xx and the outcome is known."""
        return 200 <= self.status < 300 and not self.ambiguous

    @property
    def code(self) -> str:
        """Return the Graph error code of an error body, or an empty string."""
        error = self._error()
        return str(error.get("code") or "") if error else ""

    @property
    def message(self) -> str:
        """Return the Graph error message of an error body, or an empty string."""
        error = self._error()
        return str(error.get("message") or "") if error else ""

    def json(self) -> dict[str, Any]:
        """Return the body if it is a JSON object, else an empty dict."""
        return self.body if isinstance(self.body, dict) else {}

    def values(self) -> list[dict[str, Any]]:
        """Return the objects of a collection answer (`value`), or an empty list."""
        value = self.json().get("value")
        return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []

    def _error(self) -> dict[str, Any] | None:
        error = self.json().get("error")
        return error if isinstance(error, dict) else None


@dataclass(frozen=True)
class Request:
    """One Graph request as data, relative to the version root (`/users`), without an id.

    Resource modules build these; `Graph.send` gives them `$batch` ids, sends them and returns
    the answers under the caller's keys. `idempotent=None` derives it from the method (see
    `BatchItem`).
    """

    method: str
    url: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    idempotent: bool | None = None


@dataclass(frozen=True)
class BatchItem:
    """One `$batch` sub-request; `url` is relative to the Graph version root (`/users`).

    `idempotent=None` derives it from the method: GET, PUT, DELETE and PATCH without
    `@odata.bind` are idempotent; POST is not.
    """

    id: str
    method: str
    url: str
    body: Any = None
    headers: Mapping[str, str] | None = None
    depends_on: tuple[str, ...] = ()
    idempotent: bool | None = None


@dataclass
class GraphStats:
    """Counters of one Graph client, as seen on the wire.

    `http_requests`: HTTP exchanges (retries and `$batch` calls included); `batches`: `$batch`
    calls; `sub_requests`: sub-requests sent inside them (re-sends included); `writes`: write
    requests and write sub-requests sent (re-sends included); `retries`: re-sends;
    `throttled`: 429 answers, top-level or per sub-request; `ambiguous`: writes whose outcome
    is unknown; `peak_in_flight`: most HTTP exchanges in flight at once; `downloads` and
    `bytes_downloaded`: streamed bodies (`Graph.download`, `Graph.stream`), also counted in
    `http_requests`.
    """

    http_requests: int = 0
    batches: int = 0
    sub_requests: int = 0
    writes: int = 0
    retries: int = 0
    throttled: int = 0
    ambiguous: int = 0
    peak_in_flight: int = 0
    downloads: int = 0  # streamed GETs (file contents, MIME), each attempt counted
    bytes_downloaded: int = 0

    @property
    def requests(self) -> int:
        """Return `http_requests` (the name used in docs/ARCHITECTURE.md)."""
        return self.http_requests
