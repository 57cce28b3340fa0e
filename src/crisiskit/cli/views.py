"""Renderers shared by several commands: the lending stock with each device's runtime state.

    local_device_views(inventory, home) -> list[DeviceView]   read-only (no state.db created)
    render_devices(views, title=...)                           table + counts by state
    devices_json(views) -> dict                                {"counts": ..., "devices": [...]}
    StatusFilter, KindFilter                                   the --status and --kind choices

`inventory devices` uses them today; the `devices` commands (teardown, day-2 swaps) show the
stock the same way by calling them.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crisiskit import console
from crisiskit.words import paris_time, phone

if TYPE_CHECKING:
    from crisiskit.devices import DeviceView
    from crisiskit.inventory.models import Inventory

class StatusFilter(StrEnum):
    """A device's runtime state (crisiskit.devices.STATES), as `--status` takes it."""

    available = "available"
    on_loan = "on_loan"
    to_wipe = "to_wipe"
    maintenance = "maintenance"
    lost = "lost"
    retired = "retired"


class KindFilter(StrEnum):
    """A kind of device, as `--kind` takes it."""

    laptop = "laptop"
    phone = "phone"


# How each state reads on a terminal (the JSON keeps the identifiers).
STATE_LABELS = {
    "available": "available",
    "on_loan": "on loan",
    "to_wipe": "to wipe",
    "maintenance": "maintenance",
    "lost": "lost",
    "retired": "retired",
}


def local_device_views(inventory: Inventory, home: Path) -> list[DeviceView]:
    """Return every device with its state from the local state (none recorded: the stock's)."""
    from crisiskit.devices import device_views
    from crisiskit.state import DB_NAME, Store

    if not (home / DB_NAME).exists():
        return device_views(inventory, [], {})
    with Store.open(home) as store:
        return device_views(inventory, store.open_loans(), store.device_holds())


def counts_line(views: Sequence[DeviceView]) -> str:
    """Return "30 available, 17 on loan, 1 to wipe, …" (every state, zeros included)."""
    from crisiskit.devices import counts

    return ", ".join(f"{n} {STATE_LABELS[state]}" for state, n in counts(views).items())


def render_devices(
    views: Sequence[DeviceView],
    *,
    title: str | None = None,
    counted: Sequence[DeviceView] = (),
    verbose: bool = False,
) -> None:
    """Print devices as a table: which device, its state, where it is and since when.

    `verbose` adds the model, serial number or IMEI and line (--output json has them all);
    the caption counts devices by state over `counted` (default: the devices shown).
    """
    columns = ["asset tag", "kind", "state", "commune", "account", "since (Paris)", "reason"]
    extra = ["model", "serial / IMEI", "number"] if verbose else []
    rows = [
        (
            v.asset_tag, v.kind, STATE_LABELS.get(v.state, v.state), v.commune or "",
            v.upn or "", paris_time(v.since, zone=False), v.reason or "",
            *((v.model, v.serial or v.imei or "", phone(v.number)) if verbose else ()),
        )
        for v in views
    ]
    console.table(
        title,
        [*columns, *extra],
        rows,
        caption=f"{len(views)} shown; stock by state: {counts_line(counted or views)}"
        + ("" if verbose else "; -v adds model, serial or IMEI and line"),
        whole=(0, 5, 8, 9),
        drop_empty=True,
    )


def devices_json(views: Sequence[DeviceView], counted: Sequence[DeviceView] = ()) -> dict[str, Any]:
    """Return devices as data: the counts by state (of `counted`) and each device."""
    from crisiskit.devices import counts

    return {"counts": counts(counted or views), "devices": [v.to_json() for v in views]}
