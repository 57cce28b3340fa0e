"""Licences: the tenant's subscribed SKUs, and a SKU assigned to a user or to the group.

    read:    skus (GET /subscribedSkus), sku_named, free_seats
    create:  POST /{users|groups}/{id}/assignLicense; assigning a licence already held changes
             nothing, so an ambiguous answer is re-sent. The mailboxes it brings are waited
             for by their own steps (`crisiskit.resources.mailboxes`), after it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from crisiskit.graph.types import Request
from crisiskit.plan.model import Id, Step
from crisiskit.resources.base import Resource, Session, get, ident, post

KIND = "licence"


def skus() -> Request:
    return get("/subscribedSkus")


def sku_named(items: Sequence[Mapping[str, Any]], part_number: str) -> dict[str, Any] | None:
    """Return the subscribed SKU with this part number (case-insensitive), if any."""
    for s in items:
        if str(s.get("skuPartNumber", "")).lower() == part_number.lower():
            return dict(s)
    return None


def free_seats(sku: Mapping[str, Any] | None) -> int:
    """Return prepaidUnits.enabled − consumedUnits."""
    if sku is None:
        return 0
    prepaid = sku.get("prepaidUnits") or {}
    return int(prepaid.get("enabled") or 0) - int(sku.get("consumedUnits") or 0)


@dataclass(frozen=True)
class LicenceAssign:
    """Assign `sku_id` to a user or a group."""

    target: Id
    target_kind: Literal["user", "group"]
    sku_id: str
    sku: str  # part number, for people


def assign_request(p: LicenceAssign) -> Request:
    body = {"addLicenses": [{"skuId": p.sku_id, "disabledPlans": []}], "removeLicenses": []}
    return post(f"/{p.target_kind}s/{ident(p.target)}/assignLicense", body)


async def assign(session: Session, steps: Sequence[Step]) -> None:
    """Assign the licences (re-sent when ambiguous: assigning one already held changes nothing)."""
    answers = await session.settle(
        {s.id: assign_request(s.payload) for s in steps}, retry_ambiguous=True
    )
    with session.journal():
        for s in steps:
            a = answers[s.id]
            if a.ok:
                session.done(s, request_id=a.request_id)
            else:
                session.failed(s, a)


RESOURCE = Resource(KIND, {"create": assign})
