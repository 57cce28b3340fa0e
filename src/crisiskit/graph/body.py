"""JSON encoding and decoding of Graph bodies, with secrets kept as `Secret` until the wire."""

from __future__ import annotations

import json
from typing import Any

from crisiskit.secrets import Secret

# Response fields that carry a credential: wrapped in Secret as soon as they are parsed.
SECRET_FIELDS = ("temporaryAccessPass", "password")
_SECRET_MARKERS = tuple(f'"{name}"'.encode() for name in SECRET_FIELDS)


def _reveal(value: Any) -> Any:
    if isinstance(value, Secret):
        return value.reveal()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_body(body: Any) -> bytes:
    """Serialise a request body to JSON bytes, revealing `Secret` values only here."""
    return json.dumps(body, default=_reveal, ensure_ascii=False, separators=(",", ":")).encode()


def _wrap_secrets(obj: dict[str, Any]) -> dict[str, Any]:
    for name in SECRET_FIELDS:
        value = obj.get(name)
        if isinstance(value, str):
            obj[name] = Secret(value)
    return obj


def decode_json(raw: bytes) -> Any:
    """Parse JSON bytes; credential fields come back as `Secret`."""
    if any(marker in raw for marker in _SECRET_MARKERS):
        return json.loads(raw, object_hook=_wrap_secrets)
    return json.loads(raw)
