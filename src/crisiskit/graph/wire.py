"""What the Graph client and its `$batch` machinery share: wire-level facts and conversions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from crisiskit.graph.body import decode_json
from crisiskit.graph.errors import GraphError
from crisiskit.graph.types import GraphResponse

MAX_BATCH = 20
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Characters left as they are in request paths; anything else (space, '#', non-ASCII) is
# percent-encoded, and existing %XX escapes are kept.
PATH_SAFE = "/?&=$',()*:@!~+-._%;"


class NoAnswer(Exception):
    """The exchange ended without an HTTP response."""

    def __init__(self, reason: str, *, sent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sent = sent  # False when the request surely never reached the server


def is_idempotent(method: str, body: Any, override: bool | None) -> bool:
    """Tell whether sending this request twice has the effect of sending it once."""
    if override is not None:
        return override
    if method in READ_METHODS or method in ("PUT", "DELETE"):
        return True
    if method == "PATCH":
        # Adding members twice fails ("already exist"): such a PATCH is not idempotent.
        return not (isinstance(body, dict) and any(k.endswith("@odata.bind") for k in body))
    return False


def request_id_of(headers: Mapping[str, str], body: Any) -> str | None:
    """Return the Graph request-id of an answer, from its headers or its error body."""
    rid = headers.get("request-id") or headers.get("client-request-id")
    if rid:
        return rid
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        inner = body["error"].get("innerError") or body["error"].get("innererror") or {}
        if isinstance(inner, dict) and isinstance(inner.get("request-id"), str):
            return str(inner["request-id"])
    return None


def error_from(method: str, path: str, resp: GraphResponse, note: str = "") -> GraphError:
    """Return the GraphError an error answer stands for."""
    code = resp.code or f"http{resp.status}"
    message = resp.message or "no error message"
    if note:
        message = f"{message} ({note})"
    return GraphError(method, path, resp.status, code, message, resp.request_id)


def display_path(path: str) -> str:
    """Return the path as shown in errors: no scheme/host, query kept (it holds no secrets)."""
    parts = urlsplit(path)
    if parts.scheme:
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return path


def local_error(code: str, message: str, status: int = 0) -> GraphResponse:
    """Return an answer made here, not by Graph, in Graph's error shape."""
    return GraphResponse(status, {}, {"error": {"code": code, "message": message}}, None)


def to_response(native: Any) -> GraphResponse:
    """Convert an httpx response into a GraphResponse (JSON parsed, secrets wrapped)."""
    headers = {k.lower(): v for k, v in native.headers.items()}
    raw: bytes = native.content
    body: Any = None
    if raw:
        ctype = headers.get("content-type", "")
        if "json" in ctype:
            try:
                body = decode_json(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                body = raw
        else:
            body = raw
    return GraphResponse(native.status_code, headers, body, request_id_of(headers, body))
