"""Licences: the tenant's subscribed SKUs, and a SKU assigned to a user or to the group.

    read:    skus (GET /subscribedSkus), sku_named, free_seats
    create:  POST /{users|groups}/{id}/assignLicense; assigning a licence already held changes
             nothing, so an ambiguous answer is re-sent. Confirmed by mailbox readiness
             (`crisiskit.resources.mailboxes`): the step is done once assigned, the wait for
             mailboxes follows under the playbook's deadline and never fails the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from crisiskit.graph.types import Request
from crisiskit.plan.model import Id, Step
from crisiskit.resources.base import Resource, Session, get, ident, post
from crisiskit.resources.mailboxes import Mailbox, wait_ready

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
    """Assign `sku_id` to a user or a group, then wait for these mailboxes to be ready."""

    target: Id
    target_kind: Literal["user", "group"]
    sku_id: str
    sku: str  # part number, for people
    mailboxes: tuple[Mailbox, ...] = ()
    mailbox_deadline_s: float = 0.0  # documented wait (scaled by the run's wait scale)


def assign_request(p: LicenceAssign) -> Request:
    body = {"addLicenses": [{"skuId": p.sku_id, "disabledPlans": []}], "removeLicenses": []}
    return post(f"/{p.target_kind}s/{ident(p.target)}/assignLicense", body)


async def assign(session: Session, steps: Sequence[Step]) -> None:
    """Assign the licences (re-sent when ambiguous), then wait for the mailboxes they bring."""
    answers = await session.settle(
        {s.id: assign_request(s.payload) for s in steps}, retry_ambiguous=True
    )
    assigned: list[Step] = []
    with session.journal():
        for s in steps:
            a = answers[s.id]
            if a.ok:
                session.done(s, request_id=a.request_id)
                assigned.append(s)
            else:
                session.failed(s, a)
    mailboxes = [m for s in assigned for m in s.payload.mailboxes]
    if not mailboxes:
        return
    budget = max(s.payload.mailbox_deadline_s for s in assigned) * session.wait_scale
    await wait_ready(session, mailboxes, budget)


RESOURCE = Resource(KIND, {"create": assign})
