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
    `crisiskit.secrets.Secret`. `ambiguous` marks a `$batch` write whose outcome is unknown
    (5xx or no answer): look the object up before retrying it.
    """

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    request_id: str | None = None
    ambiguous: bool = False

    @property
    def ok(self) -> bool:
        """Tell whether the status is 2xx."""
        return 200 <= self.status < 300

    @property
    def error_code(self) -> str | None:
        """Return the Graph error code of an error body, if any."""
        if isinstance(self.body, dict):
            error = self.body.get("error")
            if isinstance(error, dict) and isinstance(error.get("code"), str):
                return str(error["code"])
        return None

    @property
    def error_message(self) -> str:
        """Return the Graph error message of an error body, or an empty string."""
        if isinstance(self.body, dict):
            error = self.body.get("error")
            if isinstance(error, dict) and isinstance(error.get("message"), str):
                return str(error["message"])
        return ""


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
    is unknown; `peak_in_flight`: most HTTP exchanges in flight at once.
    """

    http_requests: int = 0
    batches: int = 0
    sub_requests: int = 0
    writes: int = 0
    retries: int = 0
    throttled: int = 0
    ambiguous: int = 0
    peak_in_flight: int = 0

    @property
    def requests(self) -> int:
        """Return `http_requests` (the name used in docs/ARCHITECTURE.md)."""
        return self.http_requests
