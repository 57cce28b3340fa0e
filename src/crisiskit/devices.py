"""Where each device of the lending stock is: the inventory, the open loans and the holds.

A device's state is derived, never stored in one place (Snipe-IT's way: a few facts, one
derived status):

    on_loan      an open loan (state store) lends it to an account of a commune
    to_wipe      back from a commune (teardown, a leaver, an early return): re-image it first
    lost         reported lost (day-2 swap); stays out of the stock
    maintenance  broken and being repaired (day-2 swap), or so in the inventory
    retired      so in the inventory, or retired by the tool
    available    none of the above: it can be lent

An open loan wins over everything; then a hold recorded by the tool (`StateStore.
set_device_state`; "available" lifts it, e.g. `devices wiped`); then the inventory's own
`status`. Pure functions: no I/O here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from crisiskit.inventory.models import Inventory
    from crisiskit.state.api import DeviceEvent, Loan

DeviceState = Literal["available", "on_loan", "to_wipe", "maintenance", "lost", "retired"]
STATES: tuple[str, ...] = ("available", "on_loan", "to_wipe", "maintenance", "lost", "retired")


@dataclass(frozen=True)
class DeviceView:
    """One device as an operator needs to see it."""

    kind: Literal["laptop", "phone"]
    asset_tag: str
    model: str
    serial: str | None  # laptops
    imei: str | None  # phones
    number: str | None  # phones, E.164
    stock_status: str  # the inventory's own status
    state: DeviceState
    commune: str | None = None  # on_loan: the borrower; a hold: the commune it came back from
    upn: str | None = None  # on_loan: the account it is lent to
    since: str | None = None  # when the loan or the hold started (ISO 8601, UTC)
    reason: str | None = None  # a hold's reason

    def to_json(self) -> dict[str, str | None]:
        return {
            "kind": self.kind,
            "asset_tag": self.asset_tag,
            "model": self.model,
            "serial": self.serial,
            "imei": self.imei,
            "number": self.number,
            "stock_status": self.stock_status,
            "state": self.state,
            "commune": self.commune,
            "upn": self.upn,
            "since": self.since,
            "reason": self.reason,
        }


def _state(
    stock_status: str, loan: Loan | None, hold: DeviceEvent | None
) -> tuple[DeviceState, str | None, str | None, str | None, str | None]:
    """Return (state, commune, upn, since, reason) from the three facts, in precedence order."""
    if loan is not None:
        return "on_loan", loan.commune, loan.upn, loan.loaned_at, None
    if hold is not None:
        state: DeviceState = hold.state  # type: ignore[assignment]
        return state, hold.commune, None, hold.at, hold.reason
    status: DeviceState = stock_status if stock_status in STATES else "available"  # type: ignore[assignment]
    return status, None, None, None, None


def device_views(
    inventory: Inventory, open_loans: Iterable[Loan], holds: Mapping[str, DeviceEvent]
) -> list[DeviceView]:
    """Return every device of the stock with its derived state, laptops then phones."""
    loans = {lo.asset_tag: lo for lo in open_loans if lo.returned_at is None}
    views: list[DeviceView] = []
    for laptop in inventory.devices.laptops:
        tag = laptop.asset_tag
        stock = str(getattr(laptop.status, "value", laptop.status))
        state, commune, upn, since, reason = _state(stock, loans.get(tag), holds.get(tag))
        views.append(
            DeviceView("laptop", tag, laptop.model, laptop.serial, None, None, stock, state,
                       commune, upn, since, reason)
        )
    for phone in inventory.devices.phones:
        tag = phone.asset_tag
        stock = str(getattr(phone.status, "value", phone.status))
        state, commune, upn, since, reason = _state(stock, loans.get(tag), holds.get(tag))
        views.append(
            DeviceView("phone", tag, phone.model, None, phone.imei, phone.number, stock, state,
                       commune, upn, since, reason)
        )
    return views


def lendable(
    inventory: Inventory, open_loans: Iterable[Loan], holds: Mapping[str, DeviceEvent]
) -> set[str]:
    """Return the asset tags that can be lent now (state `available`)."""
    return {v.asset_tag for v in device_views(inventory, open_loans, holds)
            if v.state == "available"}


def counts(views: Iterable[DeviceView]) -> dict[str, int]:
    """Count devices by state, every state present (zeros included), in lifecycle order."""
    found: Counter[str] = Counter(v.state for v in views)
    return {state: found.get(state, 0) for state in STATES}
