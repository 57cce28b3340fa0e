"""Request dispatch for the Graph simulator, shared by HTTP requests and `$batch` sub-requests.

A handler is a plain function `handler(sim, req, **path_params) -> SimResponse`. It raises
`crisiskit.sim.errors.SimError` for a Graph-shaped error; the dispatcher turns it into the
standard error body. The server builds one `Router` from the endpoint families it is given
(`Router(families)`): each family module offers `register(router)` and `PERMISSIONS`, the
application permissions of each of its routes, which the router attaches to them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from crisiskit.sim.errors import method_not_allowed
from crisiskit.sim.permissions import Principal, Rule

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
    principal: Principal | None = None  # who calls; None for the simulator's own calls


@dataclass
class SimResponse:
    """One Graph response: JSON body (dict/list), raw bytes, or nothing."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str | None = None
    write: bool = False  # set by the dispatcher: a write that succeeded (faults apply after it)


Handler = Callable[..., SimResponse]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    write: bool
    template: str
    family: str = ""
    # Application permissions that grant the call (any one), or None when the reference says
    # application permissions are not supported; `declared` is False when the family gave none.
    rule: Rule | None = None


class Router:
    """Match (method, path) to a handler; the first registered route that matches wins."""

    def __init__(self, families: tuple[ModuleType, ...] = ()) -> None:
        self.routes: list[Route] = []
        for family in families:
            self.add_family(family)

    def add_family(self, family: ModuleType) -> None:
        """Register a family's routes and attach its `PERMISSIONS` (and `DENIED` code) to them."""
        first = len(self.routes)
        family.register(self)
        declared: dict[tuple[str, str], tuple[str, ...] | None] = getattr(family, "PERMISSIONS", {})
        denied: tuple[str, str] | None = getattr(family, "DENIED", None)
        name = family.__name__.rsplit(".", 1)[-1]
        for route in self.routes[first:]:
            route.family = name
            key = (route.method, route.template)
            if key in declared:
                route.rule = Rule(declared[key], denied)

    def grants(self) -> set[str]:
        """Return every application permission some route accepts (an all-consented app)."""
        return {g for r in self.routes if r.rule and r.rule.grants for g in r.rule.grants}

    def undeclared(self) -> list[tuple[str, str, str]]:
        """Return (family, method, template) of every route without a permission entry."""
        return [(r.family, r.method, r.template) for r in self.routes if r.rule is None]

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
            raise method_not_allowed(method)
        return None


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> SimResponse:
    return SimResponse(status=status, body=body, headers=dict(headers or {}))


def no_content(status: int = 204) -> SimResponse:
    return SimResponse(status=status)


def strip_internal(obj: dict[str, Any]) -> dict[str, Any]:
    """Return the Graph JSON form of a stored object: internal keys start with `_`."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}
