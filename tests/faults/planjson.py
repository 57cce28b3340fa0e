"""Read crisiskit's JSON outputs (plans, audit exports) without depending on their exact nesting."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

CHANGE_ACTIONS = {"create", "update", "reissue", "conflict"}


def parse_json_stdout(stdout: str) -> Any:
    """Parse stdout, which must be exactly one JSON document under `--output json`."""
    try:
        return json.loads(stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"stdout is not one JSON document ({exc}):\n{stdout[:2000]}") from exc


def iter_steps(doc: Any) -> Iterator[dict[str, Any]]:
    """Yield every step-like mapping (one with `kind` and `action`) found in a JSON document."""
    if isinstance(doc, dict):
        if "kind" in doc and "action" in doc:
            yield doc
            return
        for v in doc.values():
            yield from iter_steps(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from iter_steps(v)


def changes(plan: Any) -> list[dict[str, Any]]:
    """Return the steps of a plan that would change the tenant or the local state."""
    return [s for s in iter_steps(plan) if str(s.get("action")).lower() in CHANGE_ACTIONS]


def jsonlines(text: str) -> list[dict[str, Any]]:
    """Parse JSON lines (an audit export), failing on any line that is not a JSON object."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"audit export line {n} is not JSON: {line[:200]!r}") from exc
        assert isinstance(obj, dict), f"audit export line {n} is not an object"
        out.append(obj)
    return out
