"""MFA phone methods: one per phone type (natural key the UPN; crisiskit registers `mobile`).

    read:    of_user, parse → {phoneType: (id, number)}
    create:  POST .../phoneMethods; found again by listing the user's methods for that type
    update:  PATCH .../phoneMethods/{id} with the new number (the type cannot change)
    delete:  DELETE .../phoneMethods/{id}, confirmed by consecutive 404s
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crisiskit.graph.types import GraphResponse, Request
from crisiskit.plan.model import Id
from crisiskit.resources.base import (
    Confirm,
    Create,
    Found,
    Resource,
    Write,
    delete,
    get,
    gone,
    ident,
    patch,
    post,
)

KIND = "phone_method"


@dataclass(frozen=True)
class PhoneCreate:
    user: Id
    number: str  # "+33 612345678" (GRAPH.md)
    phone_type: str = "mobile"


@dataclass(frozen=True)
class PhoneUpdate:
    user: Id
    method: str
    number: str
    phone_type: str = "mobile"


@dataclass(frozen=True)
class PhoneTarget:
    user: Id
    method: str


def of_user(user_id: str) -> Request:
    return get(f"/users/{user_id}/authentication/phoneMethods")


def parse(items: Sequence[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """Return {phoneType: (id, phoneNumber)} of a user's phone methods."""
    return {str(p.get("phoneType")): (str(p.get("id")), str(p.get("phoneNumber"))) for p in items}


def same_number(a: str, b: str) -> bool:
    return a.replace(" ", "") == b.replace(" ", "")


def _url(user: Id, method: str = "") -> str:
    base = f"/users/{ident(user)}/authentication/phoneMethods"
    return f"{base}/{method}" if method else base


def _found(answer: GraphResponse, p: PhoneCreate) -> Found | None:
    for m in answer.values():
        if m.get("phoneType") == p.phone_type:
            return Found(str(m.get("id")))
    return None


RESOURCE = Resource(
    KIND,
    {
        "create": Create(
            request=lambda p: post(
                _url(p.user), {"phoneNumber": p.number, "phoneType": p.phone_type}
            ),
            lookup=lambda p: of_user(ident(p.user)),
            found=_found,
            duplicate=lambda a: a.status in (400, 409) and "exist" in a.message.lower(),
        ),
        "update": Write(
            lambda p: patch(
                _url(p.user, p.method), {"phoneNumber": p.number, "phoneType": p.phone_type}
            )
        ),
        "delete": Write(
            lambda p: delete(_url(p.user, p.method)),
            gone_is_done=True,
            confirm=Confirm(
                lambda p: get(_url(p.user, p.method)), gone, "deleted, but still readable; rerun"
            ),
        ),
    },
)
