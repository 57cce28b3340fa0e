"""Seat accounting and service plans, shared by direct and group-based licensing and cascades.

A seat is consumed when a user holds a SKU (directly, or through a licensed group: the seat is
remembered in `_groupSeats`), and released when the user loses it, is deleted, or leaves the
group. Group assignments are recorded in `licenseAssignmentStates`, errors included, as Entra
does (group-assignlicense; licenseAssignmentState). This module imports no family.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crisiskit.sim.core import Simulator


def sku_has_exchange(sku: dict[str, Any], disabled: Iterable[str]) -> bool:
    """Tell whether a SKU, with these plans disabled, brings an Exchange mailbox."""
    off = {str(d).lower() for d in disabled}
    return any(
        str(p.get("servicePlanName", "")).upper().startswith("EXCHANGE")
        and str(p.get("servicePlanId", "")).lower() not in off
        for p in sku.get("servicePlans", [])
    )


def sku_by_id(sim: Simulator, sku_id: Any) -> dict[str, Any] | None:
    """Return the tenant's subscribedSku with this skuId (case-insensitive), or None."""
    wanted = str(sku_id).lower()
    for key, sku in sim.tenant.skus.items():
        if key.lower() == wanted:
            return sku
    return None


def free_seats(sku: dict[str, Any]) -> int:
    """Return `prepaidUnits.enabled - consumedUnits` (negative when over-assigned)."""
    return int(sku.get("prepaidUnits", {}).get("enabled", 0)) - int(sku.get("consumedUnits", 0))


def release_seats(sim: Simulator, user: dict[str, Any]) -> None:
    """Give back every seat a user holds (the user is being deleted)."""
    for lic in user.get("assignedLicenses") or []:
        sku = sim.tenant.skus.get(str(lic.get("skuId")))
        if sku is not None and sku.get("consumedUnits", 0) > 0:
            sku["consumedUnits"] -= 1


def take_seats(sim: Simulator, user: dict[str, Any]) -> None:
    """Take back the seats of the licences a restored user holds."""
    for lic in user.get("assignedLicenses") or []:
        sku = sim.tenant.skus.get(str(lic.get("skuId")))
        if sku is not None:
            sku["consumedUnits"] = sku.get("consumedUnits", 0) + 1


def grant_plans(
    sim: Simulator, user: dict[str, Any], sku: dict[str, Any], disabled: list[str]
) -> None:
    """Add the SKU's enabled service plans to the user's assignedPlans."""
    off = {d.lower() for d in disabled}
    have = {p["servicePlanId"] for p in user["assignedPlans"]}
    for plan in sku.get("servicePlans", []):
        if plan["servicePlanId"].lower() in off or plan["servicePlanId"] in have:
            continue
        name = str(plan.get("servicePlanName", ""))
        service = (
            "exchange"
            if name.upper().startswith("EXCHANGE")
            else "SharePoint"
            if name.upper().startswith("SHAREPOINT")
            else "TeamspaceAPI"
            if name.upper().startswith("TEAMS")
            else name
        )
        user["assignedPlans"].append(
            {
                "assignedDateTime": sim.iso(),
                "capabilityStatus": "Enabled",
                "service": service,
                "servicePlanId": plan["servicePlanId"],
            }
        )


def apply_group_licences(sim: Simulator, group: dict[str, Any], user: dict[str, Any]) -> None:
    """Give `user` the licences its group carries, consuming seats; record failures like Graph."""
    states: list[dict[str, Any]] = user.setdefault("licenseAssignmentStates", [])
    assigned: list[dict[str, Any]] = user.setdefault("assignedLicenses", [])
    for lic in group.get("assignedLicenses", []):
        sku = sim.tenant.skus.get(lic["skuId"])
        if sku is None or any(
            s.get("assignedByGroup") == group["id"] and s["skuId"] == lic["skuId"] for s in states
        ):
            continue
        state = {
            "assignedByGroup": group["id"],
            "disabledPlans": lic["disabledPlans"],
            "error": "None",
            "skuId": lic["skuId"],
            "state": "Active",
            "lastUpdatedDateTime": sim.iso(),
        }
        seats: list[str] = user.setdefault("_groupSeats", [])
        if not any(a["skuId"] == lic["skuId"] for a in assigned):
            free = sku.get("prepaidUnits", {}).get("enabled", 0) - sku.get("consumedUnits", 0)
            if not user.get("usageLocation"):
                state.update(state="Error", error="UsageLocationNotAllowed")
            elif free <= 0:
                state.update(state="Error", error="CountViolation")
            else:
                sku["consumedUnits"] = sku.get("consumedUnits", 0) + 1
                assigned.append({"skuId": lic["skuId"], "disabledPlans": lic["disabledPlans"]})
                seats.append(lic["skuId"])
                if sku_has_exchange(sku, lic["disabledPlans"]) and not user.get("_licensedAt"):
                    user["_licensedAt"] = sim.now()
        states.append(state)


def remove_group_licences(sim: Simulator, group: dict[str, Any], user: dict[str, Any]) -> None:
    """Withdraw the licences `user` received through `group`, releasing their seats."""
    states = user.get("licenseAssignmentStates", [])
    mine = [s for s in states if s.get("assignedByGroup") == group["id"]]
    seats: list[str] = user.get("_groupSeats", [])
    for state in mine:
        states.remove(state)
        if state["skuId"] not in seats:
            continue  # the seat came from a direct assignment or never was taken
        still = any(s["skuId"] == state["skuId"] and s["state"] == "Active" for s in states)
        if still:
            continue
        seats.remove(state["skuId"])
        user["assignedLicenses"] = [
            a for a in user.get("assignedLicenses", []) if a["skuId"] != state["skuId"]
        ]
        sku = sim.tenant.skus.get(state["skuId"])
        if sku is not None:
            sku["consumedUnits"] = max(0, sku.get("consumedUnits", 0) - 1)
