"""Request dispatch for the Graph simulator, shared by HTTP requests and `$batch` sub-requests.

A handler is a plain function `handler(sim, req, **path_params) -> SimResponse`. It raises
`SimError` for a Graph-shaped error; the dispatcher turns it into the standard error body.
Routes are registered per endpoint family (`directory.py`, `groups.py`, ...) on one `Router`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PARAM = re.compile(r"\{(\w+)(?::path)?\}")


@dataclass
class SimRequest:
    """One Graph request, after the `/v1.0` prefix is removed and `//` collapsed."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: Any = None  # parsed JSON, or bytes for uploads, or None
    client: str = "anonymous"  # throttling key (the bearer token, else the peer address)
    base_url: str = "http://127.0.0.1/v1.0"  # for @odata.nextLink, Location, download URLs
    via_batch: bool = False


@dataclass
class SimResponse:
    """One Graph response: JSON body (dict/list), raw bytes, or nothing."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str | None = None
    write: bool = False  # set by the dispatcher: a write that succeeded (faults apply after it)


class SimError(Exception):
    """A Graph error: `{"error": {"code", "message", "innerError": {...}}}` with this status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


Handler = Callable[..., SimResponse]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    write: bool
    template: str


class Router:
    """Match (method, path) to a handler; the first registered route that matches wins."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def route(
        self, method: str, template: str, *, write: bool | None = None
    ) -> Callable[[Handler], Handler]:
        """Register a handler for `template`, e.g. `/users/{user_id}/assignLicense`.

        `{name}` matches one path segment; `{name:path}` matches across `/`.
        `write` defaults to True for every method but GET.
        """

        def register(fn: Handler) -> Handler:
            regex = ""
            pos = 0
            for m in PARAM.finditer(template):
                regex += re.escape(template[pos : m.start()])
                greedy = m.group(0).endswith(":path}")
                regex += f"(?P<{m.group(1)}>.+?)" if greedy else f"(?P<{m.group(1)}>[^/]+?)"
                pos = m.end()
            regex += re.escape(template[pos:])
            self.routes.append(
                Route(
                    method=method.upper(),
                    pattern=re.compile(f"^{regex}/?$", re.IGNORECASE),
                    handler=fn,
                    write=(method.upper() != "GET") if write is None else write,
                    template=template,
                )
            )
            return fn

        return register

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """Return the route and path parameters for a request, or None."""
        allowed = False
        for r in self.routes:
            m = r.pattern.match(path)
            if m is None:
                continue
            allowed = True
            if r.method == method.upper():
                return r, m.groupdict()
        if allowed:
            raise SimError(405, "Request_BadRequest", f"The HTTP method '{method}' is not allowed.")
        return None


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> SimResponse:
    return SimResponse(status=status, body=body, headers=dict(headers or {}))


def no_content(status: int = 204) -> SimResponse:
    return SimResponse(status=status)


def strip_internal(obj: dict[str, Any]) -> dict[str, Any]:
    """Return the Graph JSON form of a stored object: internal keys start with `_`."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}
