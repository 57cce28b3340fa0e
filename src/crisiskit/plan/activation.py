"""The activation's plan and its pre-checks: what decides, before any write, that it may run.

    ActivationPlan(plan, strays, shortages, sku_id, free_seats, seats_needed, refusals)
    preconditions(commune, kit, activation_plan, today) -> reasons to refuse (empty: go)

The steps are a generic `Plan` (rendered and executed like any other); what only activation
checks (convention in force, devices and licence seats available, objects of someone else on
the kit's natural keys, tagged accounts no longer in the roster) lives here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crisiskit.plan.model import Plan, Step

if TYPE_CHECKING:
    from crisiskit.inventory.models import Commune
    from crisiskit.plan.desired import DesiredKit


@dataclass
class ActivationPlan:
    """The steps of one activation, and the facts its pre-checks read."""

    plan: Plan
    strays: list[str] = field(default_factory=list)  # tagged accounts no longer in the roster
    shortages: list[str] = field(default_factory=list)
    sku_id: str | None = None
    free_seats: int = 0
    seats_needed: int = 0
    # Seats other activations in progress still have to assign (local reservations), and who
    seats_reserved: int = 0
    reserved_by: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # why `activate` would refuse it

    @property
    def commune(self) -> str:
        return self.plan.commune

    @property
    def steps(self) -> list[Step]:
        return self.plan.steps

    @property
    def empty(self) -> bool:
        return self.plan.empty

    @property
    def conflicts(self) -> list[Step]:
        return self.plan.conflicts

    def to_json(self) -> dict[str, Any]:
        return {
            **self.plan.to_json(),
            "strays": list(self.strays),
            "shortages": list(self.shortages),
            "refusals": list(self.refusals),
            "licences": {
                "sku_id": self.sku_id,
                "free_seats": self.free_seats,
                "needed": self.seats_needed,
                "reserved_elsewhere": self.seats_reserved,
            },
        }


def preconditions(
    commune: Commune, kit: DesiredKit, activation: ActivationPlan, today: datetime
) -> list[str]:
    """Return the reasons activation must be refused before any write (empty: go)."""
    from crisiskit.conventions import status_at

    reasons: list[str] = []
    state = status_at(commune.convention, today.date())
    if not state.in_force:
        reasons.append(
            f"the convention of {commune.id} is {state.status.value} on "
            f"{today.date().isoformat()}: activation needs an active convention"
        )
    reasons.extend(f"not enough devices: {s}" for s in activation.shortages)
    if activation.sku_id is None:
        reasons.append(f"the tenant has no subscription for SKU {kit.sku_part_number}")
    elif activation.seats_needed > activation.free_seats - activation.seats_reserved:
        held = (
            f", of which {activation.seats_reserved} are reserved by activations in progress "
            f"({', '.join(activation.reserved_by)}); run again once they have finished"
            if activation.seats_reserved else ""
        )
        reasons.append(
            f"not enough {kit.sku_part_number} licences: {activation.seats_needed} needed, "
            f"{activation.free_seats} free{held}"
        )
    for s in activation.conflicts:
        reasons.append(f"conflict: {s.kind} {s.key}: {s.detail} (crisiskit will not touch it)")
    return reasons
