"""OData query helpers for the simulator: `$filter` parsing, `$select`, paging, advanced queries.

Graph splits queries in two: "basic" ones answered by the directory itself (eq/startsWith on a
few properties) and "advanced" ones answered by a lagging index, which Graph only serves when the
caller sends `ConsistencyLevel: eventual` and `$count=true` (else 400 `Request_UnsupportedQuery`).
`Filter.operators` and `Filter.properties` let each family decide which case a query is.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from typing import Any

from crisiskit.sim.errors import SimError, bad_request, unsupported_query
from crisiskit.sim.filters import Filter as Filter
from crisiskit.sim.filters import lookup
from crisiskit.sim.filters import parse_filter as parse_filter
from crisiskit.sim.router import SimRequest, SimResponse


def selected(req: SimRequest) -> list[str] | None:
    """Return the `$select` property names of a request, or None when there is no `$select`."""
    return selected_from(req.query.get("$select"))


def selected_from(raw: str | None) -> list[str] | None:
    """Return the property names of a `$select` value, or None."""
    if raw is None:
        return None
    return [p.strip() for p in raw.split(",") if p.strip()]


def apply_select(
    obj: dict[str, Any], select: list[str] | str | None, default: Iterable[str] | None = None
) -> dict[str, Any]:
    """Project a Graph JSON object on `$select` (or the default property set, or everything).

    Selected properties the object lacks come back as null, as Graph does; `@odata.*`
    annotations are kept.
    """
    if isinstance(select, str):
        select = [p.strip() for p in select.split(",") if p.strip()]
    names = select if select else (list(default) if default is not None else None)
    if names is None:
        return {k: v for k, v in obj.items() if not k.startswith("_")}
    lowered = {k.lower(): k for k in obj}
    out: dict[str, Any] = {k: v for k, v in obj.items() if k.startswith("@odata.")}
    for name in names:
        key = lowered.get(name.lower())
        out[key or name] = obj.get(key) if key else None
    return out


def is_eventual(req: SimRequest) -> bool:
    """Tell whether the request asks for an advanced query (ConsistencyLevel: eventual)."""
    return req.headers.get("consistencylevel", "").lower() == "eventual"


def wants_count(req: SimRequest) -> bool:
    return req.query.get("$count", "").lower() == "true"


def require_advanced(req: SimRequest, what: str) -> None:
    """Refuse an advanced query made without `ConsistencyLevel: eventual` and `$count=true`."""
    if not (is_eventual(req) and wants_count(req)):
        raise unsupported_query(
            f"Unsupported Query. {what} requires the ConsistencyLevel header set to 'eventual' "
            "and $count=true."
        )


def context_url(req: SimRequest, entity_set: str, select: list[str] | None = None) -> str:
    suffix = f"({','.join(select)})" if select else ""
    return f"{req.base_url}/$metadata#{entity_set}{suffix}"


def _encode_skiptoken(offset: int) -> str:
    raw = json.dumps({"o": offset}).encode()
    return "RFNwdAIAAQAAA" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_skiptoken(token: str) -> int:
    try:
        raw = token.removeprefix("RFNwdAIAAQAAA")
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        offset = int(data["o"])
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError):
        raise SimError(400, "Request_BadRequest", "Invalid $skiptoken value.") from None
    if offset < 0:
        raise SimError(400, "Request_BadRequest", "Invalid $skiptoken value.")
    return offset


def top_of(req: SimRequest, default_top: int = 100, max_top: int = 999) -> int:
    raw = req.query.get("$top")
    if raw is None:
        return default_top
    try:
        top = int(raw)
    except ValueError:
        raise SimError(400, "Request_BadRequest", f"Invalid $top value '{raw}'.") from None
    if top < 1 or top > max_top:
        raise SimError(
            400,
            "Request_BadRequest",
            f"Invalid page size specified: '{top}'. Must be between 1 and {max_top} inclusive.",
        )
    return top


def page(
    sim: Any,
    req: SimRequest,
    items: list[dict[str, Any]],
    default_top: int = 100,
    max_top: int = 999,
    *,
    entity_set: str | None = None,
    count: bool | None = None,
) -> SimResponse:
    """Return one page of `items` with `@odata.context`, `@odata.count` and `@odata.nextLink`.

    The next link is absolute, on `req.base_url`, carries the original query and an opaque
    `$skiptoken`; `items` must be in a stable order (the caller filters, sorts and projects).
    """
    top = top_of(req, default_top, max_top)
    token = req.query.get("$skiptoken")
    offset = _decode_skiptoken(token) if token else 0
    chunk = items[offset : offset + top]
    if entity_set is None:
        entity_set = req.path.strip("/").split("/", 1)[0] or "value"
    body: dict[str, Any] = {"@odata.context": context_url(req, entity_set, selected(req))}
    if wants_count(req) if count is None else count:
        body["@odata.count"] = len(items)
    if offset + top < len(items):
        from urllib.parse import urlencode

        query = {k: v for k, v in req.query.items() if k != "$skiptoken"}
        query["$skiptoken"] = _encode_skiptoken(offset + top)
        body["@odata.nextLink"] = f"{req.base_url}{req.path}?{urlencode(query, safe='$,/()')}"
    body["value"] = chunk
    return SimResponse(status=200, body=body)


def order_by(req: SimRequest, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sort by `$orderby` ("prop [asc|desc]", one property); nulls last."""
    raw = req.query.get("$orderby")
    if not raw:
        return items
    prop, _, direction = raw.strip().partition(" ")
    reverse = direction.strip().lower() == "desc"
    present = [i for i in items if lookup(i, prop) is not None]
    missing = [i for i in items if lookup(i, prop) is None]
    present.sort(key=lambda i: _sort_key(lookup(i, prop)), reverse=reverse)
    return present + missing


def _sort_key(value: Any) -> tuple[int, float, str]:
    """Order numbers, then strings (case-insensitive), then anything else, never failing."""
    if isinstance(value, bool | int | float):
        return (0, float(value), "")
    if isinstance(value, str):
        return (1, 0.0, value.lower())
    return (2, 0.0, json.dumps(value, sort_keys=True, default=str))


def search_matches(obj: dict[str, Any], expr: str) -> bool:
    """Evaluate `$search="prop:word" OR "prop:word"`: case-insensitive word-prefix match."""
    clauses = re.findall(r'"([^"]*)"', expr)
    if not clauses or any(":" not in c for c in clauses):
        raise SimError(
            400, "Request_BadRequest", 'Invalid $search query: expected "property:value" clauses.'
        )
    combine = all if re.search(r'"\s+AND\s+"', expr) else any
    return combine(
        any(
            word.startswith(term.lower())
            for word in re.split(r"[\s._@-]+", str(obj.get(prop) or "").lower())
        )
        for prop, _, term in (c.partition(":") for c in clauses)
    )


def require_eventual_count(req: SimRequest) -> None:
    """Refuse a `$count` segment without `ConsistencyLevel: eventual` (aad-advanced-queries)."""
    if not is_eventual(req):
        raise bad_request("$count is not currently supported.")


def text(value: str) -> SimResponse:
    """Return a `text/plain` answer, as `$count` segments give."""
    return SimResponse(status=200, raw=value.encode(), content_type="text/plain")
