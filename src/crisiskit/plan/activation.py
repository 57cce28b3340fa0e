"""The activation's plan and its pre-checks: what decides, before any write, that it may run.

    ActivationPlan(plan, strays, leavers, leaver_devices, left_alone, shortages, sku_id,
                   free_seats, seats_needed, refusals)
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
    strays: list[str] = field(default_factory=list)  # tagged, not desired, left alone
    leavers: list[str] = field(default_factory=list)  # leaving the cell (or left): plan.leavers
    leaver_devices: dict[str, list[str]] = field(default_factory=dict)  # leaver -> assets back
    left_alone: dict[str, str] = field(default_factory=dict)  # stray -> why it is not touched
    shortages: list[str] = field(default_factory=list)
    sku_id: str | None = None
    free_seats: int = 0
    seats_needed: int = 0
    # Seats other activations in progress still have to assign (local reservations), and who
    seats_reserved: int = 0
    reserved_by: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # why `activate` would refuse it
    left_out: list[str] = field(default_factory=list)  # roster people the playbook leaves out

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
            "leavers": list(self.leavers),
            "leaver_devices": dict(self.leaver_devices),
            "left_alone": dict(self.left_alone),
            "shortages": list(self.shortages),
            "refusals": list(self.refusals),
            "not_provisioned": list(self.left_out),
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
    """Return the reasons activation must be refused before any write (empty: go).

    Each reason is a sentence that ends with how to fix it (which date, which command).
    """
    from crisiskit.conventions import status_at

    reasons: list[str] = []
    day = today.date()
    state = status_at(commune.convention, day)
    if not state.in_force:
        reasons.append(_convention_reason(commune, state, day))
    devices_fix = (
        "Fix: `crisiskit inventory devices --status available` lists what can be lent; "
        "bring devices back to the stock, or activate a playbook without devices "
        "(--playbook minimal)."
    )
    reasons.extend(f"not enough devices: {s}. {devices_fix}" for s in activation.shortages)
    if activation.sku_id is None:
        reasons.append(
            f"the tenant has no subscription for SKU {kit.sku_part_number}. Fix: set "
            "tenant.sku_part_number in the inventory to a SKU the tenant has."
        )
    elif activation.seats_needed > activation.free_seats - activation.seats_reserved:
        missing = activation.seats_needed - (activation.free_seats - activation.seats_reserved)
        held = (
            f", of which {activation.seats_reserved} are reserved by activations in progress "
            f"({', '.join(activation.reserved_by)}); run again once they have finished, or"
            if activation.seats_reserved else ". Fix:"
        )
        reasons.append(
            f"not enough {kit.sku_part_number} licences: {activation.seats_needed} needed, "
            f"{activation.free_seats} free{held} free or add {missing} seat"
            f"{'s' if missing != 1 else ''} in the tenant, or activate a smaller playbook "
            "(--playbook minimal)."
        )
    for s in activation.conflicts:
        reasons.append(
            f"conflict: {s.kind} {s.key}: {s.detail} (crisiskit will not touch it). Fix: "
            "rename or remove that object in the tenant, or give the person an explicit "
            "`account:` in the inventory."
        )
    return reasons


def _convention_reason(commune: Commune, state: Any, day: Any) -> str:
    """Say why the convention is not in force on `day`, and what makes it so."""
    c = commune.convention
    head = f"the convention of {commune.name} ({commune.id}) is not in force on {day}"
    see = "`crisiskit conventions` shows every commune's status."
    status = state.status.value
    if status == "pending" and c.notification_date is None:
        return (f"{head}: it is pending, not notified yet. Fix: once it is, set "
                f"convention.notification_date of {commune.id} in the inventory; {see}")
    if status == "pending":
        return (f"{head}: it is pending until its notification on {c.notification_date}. Fix: "
                f"activate from that day, or correct convention.notification_date of "
                f"{commune.id} in the inventory; {see}")
    if status == "terminated":
        return (f"{head}: it was terminated on {state.termination_effective} (Article 9). "
                f"Fix: a new convention must be signed and its dates recorded; {see}")
    return (f"{head}: it expired on {state.max_end}, at the end of its 8-year term (Article 7)."
            " Fix: a new "
            f"convention must be signed and its dates recorded; {see}")
