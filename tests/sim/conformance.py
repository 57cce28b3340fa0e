"""Shared pieces of the conformance replays: the objects examples refer to, JSON type checks.

Each `tests/sim/data/graph-examples*.json` file is replayed by test_conformance.py; the
base file's builders live there, every other file's in `conformance_<suffix>.py` (SUPPORTED,
SKIPPED, IGNORED_KEYS keyed by example name).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simhelp import create_group, create_user

JSON = {"Content-Type": "application/json"}
EVENTUAL = {"ConsistencyLevel": "eventual"}


@dataclass
class Ctx:
    """Objects the examples refer to, created fresh for each example."""

    sim: Any
    c: Any
    owner: dict[str, Any]
    member: dict[str, Any]
    third: dict[str, Any]
    group: dict[str, Any]
    sku: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    def team(self) -> str:
        if "team" not in self.extra:
            resp = self.c.put(f"groups/{self.group['id']}/team", json={}, headers=JSON)
            assert resp.status_code == 201, resp.text
            self.extra["team"] = resp.json()["id"]
        return str(self.extra["team"])

    def tap(self) -> str:
        resp = self.c.post(
            f"users/{self.member['id']}/authentication/temporaryAccessPassMethods",
            json={"lifetimeInMinutes": 60, "isUsableOnce": True},
        )
        assert resp.status_code == 201, resp.text
        return str(resp.json()["id"])

    def phone(self) -> str:
        resp = self.c.post(
            f"users/{self.member['id']}/authentication/phoneMethods",
            json={"phoneNumber": "+33 612345678", "phoneType": "mobile"},
        )
        assert resp.status_code == 201, resp.text
        return str(resp.json()["id"])

    def deleted_group(self) -> str:
        doomed = create_group(self.c, "doomed-group", self.owner["id"])
        assert self.c.delete(f"groups/{doomed['id']}").status_code == 204
        return str(doomed["id"])

    def deleted_user(self) -> str:
        doomed = create_user(self.c, "doomed.user")
        assert self.c.delete(f"users/{doomed['id']}").status_code == 204
        return str(doomed["id"])


Request = tuple[str, str, Any, dict[str, str]]  # method, url (relative to /v1.0), body, headers
Build = Callable[[Ctx], Request]


def get(url: str, headers: dict[str, str] | None = None) -> Build:
    return lambda ctx: ("GET", url.format(ctx=ctx), None, headers or {})


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def mismatches(expected: Any, actual: Any, where: str, ignored: set[str]) -> list[str]:
    """Return the documented property names or JSON types our response does not match."""
    if expected is None or actual is None:
        return []
    if json_type(expected) != json_type(actual):
        return [f"{where}: documented {json_type(expected)}, got {json_type(actual)}"]
    problems: list[str] = []
    if isinstance(expected, dict):
        for key, value in expected.items():
            if key in ignored:
                continue
            if key not in actual:
                problems.append(f"{where}.{key}: missing")
                continue
            problems += mismatches(value, actual[key], f"{where}.{key}", ignored)
    elif isinstance(expected, list) and expected:
        if not actual:
            return [f"{where}: documented a non-empty array, got []"]
        problems += mismatches(expected[0], actual[0], f"{where}[0]", ignored)
    return problems
