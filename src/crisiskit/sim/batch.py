"""JSON batching rules (concepts/json-batching.md): what a `$batch` body may hold, and how a
sub-response is written back. `app.py` runs the sub-requests; this module imports no family.

- at most 20 requests, each with a string `id`, `method` and `url`; a `body` needs a
  Content-Type header; `headers` is an object of strings;
- ids are compared case-insensitively ("Not case-sensitive"), and so are `dependsOn`
  references; the answers keep the ids as sent;
- `dependsOn` follows the known issues' three shapes: a request depends on a single other one,
  and the batch is parallel, serial (each on the previous) or all on the same request.
"""

from __future__ import annotations

import base64
from typing import Any

from crisiskit.sim.errors import SimError
from crisiskit.sim.router import SimResponse

MAX_BATCH = 20


def validate(body: Any) -> dict[str, dict[str, Any]]:
    """Validate a `$batch` body; any problem refuses the whole batch with 400.

    Returned by lower-cased id: ids are compared case-insensitively (json-batching: "Not
    case-sensitive"), and so are `dependsOn` references.
    """
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        raise SimError(400, "BadRequest", "Invalid batch payload format.")
    items = body["requests"]
    if not items:
        raise SimError(400, "BadRequest", "Invalid batch payload format: no requests.")
    if len(items) > MAX_BATCH:
        raise SimError(
            400,
            "BadRequest",
            f"Batch request cannot contain more than {MAX_BATCH} requests; it has {len(items)}.",
        )
    subs: dict[str, dict[str, Any]] = {}
    for item in items:
        if not isinstance(item, dict):
            raise SimError(400, "BadRequest", "Invalid batch payload format.")
        for key in ("id", "method", "url"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise SimError(
                    400, "BadRequest", f"Batch request is missing the required property '{key}'."
                )
        if item["id"].lower() in subs:
            raise SimError(400, "BadRequest", f"Request Id '{item['id']}' is duplicated.")
        headers = item.get("headers")
        if headers is not None and (
            not isinstance(headers, dict)
            or not all(isinstance(v, str | int | float) and not isinstance(v, bool)
                       for v in headers.values())
        ):
            raise SimError(
                400,
                "BadRequest",
                f"Invalid headers for request '{item['id']}': an object of string values.",
            )
        if item.get("body") is not None and not any(
            str(k).lower() == "content-type" for k in headers or {}
        ):
            raise SimError(
                400,
                "BadRequest",
                f"Content-Type header is required for request '{item['id']}' with a body.",
            )
        subs[item["id"].lower()] = item
    _check_dependencies(items, subs)
    return subs


def _check_dependencies(items: list[dict[str, Any]], subs: dict[str, dict[str, Any]]) -> None:
    """Accept only the documented shapes: parallel, serial, or all on the same request.

    JSON batching's known issues: a request can depend on a single other request, and the
    batch must be parallel (no dependsOn), serial (each request on the previous one) or
    "same" (every request that states a dependency states the same one).
    """
    deps: list[str | None] = []
    for item in items:
        raw = item.get("dependsOn")
        if raw is None or raw == []:
            deps.append(None)
            continue
        if not isinstance(raw, list) or not all(isinstance(d, str) for d in raw):
            raise SimError(
                400, "BadRequest", f"Invalid dependsOn for request '{item['id']}': a list of ids."
            )
        if len(raw) > 1:
            raise SimError(
                400,
                "BadRequest",
                f"Request '{item['id']}' depends on {len(raw)} requests; a request can depend "
                "on a single other request.",
            )
        target = raw[0].lower()
        if target not in subs:
            raise SimError(
                400, "BadRequest", f"Request '{item['id']}' depends on an unknown request id."
            )
        if target == item["id"].lower():
            raise SimError(400, "BadRequest", f"Request '{item['id']}' depends on itself.")
        deps.append(target)
    stated = [d for d in deps if d is not None]
    if not stated:
        return
    serial = deps[0] is None and all(
        deps[i] == items[i - 1]["id"].lower() for i in range(1, len(items))
    )
    same = len(set(stated)) == 1 and deps[[i["id"].lower() for i in items].index(stated[0])] is None
    if not (serial or same):
        raise SimError(
            400,
            "BadRequest",
            "Invalid dependsOn: a batch must be parallel, serial (each request on the previous "
            "one) or have every dependent request depend on the same request.",
        )


def sub_response(sid: str, resp: SimResponse) -> dict[str, Any]:
    headers = {
        k: v
        for k, v in resp.headers.items()
        if k.lower() not in ("request-id", "client-request-id")
    }
    out: dict[str, Any] = {"id": sid, "status": resp.status, "headers": headers}
    if resp.raw is not None:
        headers.setdefault("Content-Type", resp.content_type or "application/octet-stream")
        out["body"] = base64.b64encode(resp.raw).decode()
    elif resp.body is not None:
        headers.setdefault("Content-Type", "application/json")
        out["body"] = resp.body
    return out
