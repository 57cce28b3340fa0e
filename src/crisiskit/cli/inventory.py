"""Commands: inventory communes, inventory devices (registered on crisiskit.cli.app.app)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

import typer

from crisiskit import console
from crisiskit.cli.app import app, handles_errors, state

inventory_app = typer.Typer(
    help="Look at what the inventory holds: communes, devices.", no_args_is_help=True
)
app.add_typer(inventory_app, name="inventory")


class StatusFilter(StrEnum):
    available = "available"
    maintenance = "maintenance"
    retired = "retired"


class KindFilter(StrEnum):
    laptop = "laptop"
    phone = "phone"


@inventory_app.command("communes")
@handles_errors
def communes(ctx: typer.Context) -> None:
    """List the communes: INSEE code, playbook, roster size, convention status today.

    Example: crisiskit inventory communes
    """
    from crisiskit.conventions import status_at
    from crisiskit.inventory import load_inventory

    st = state(ctx)
    inv = load_inventory(st.inventory_path, st.playbooks_dir)
    today = date.today()
    rows = [
        {
            "id": c.id,
            "name": c.name,
            "insee": c.insee,
            "playbook": c.playbook,
            "roster": len(c.roster),
            "convention": status_at(c.convention, today).status.value,
        }
        for c in inv.communes
    ]
    if st.json:
        console.emit_json(rows)
        return
    console.table(
        None,
        ["Id", "Name", "INSEE", "Playbook", "Roster", "Convention"],
        [list(r.values()) for r in rows],
        caption=f"{len(rows)} communes; convention status on {today.isoformat()}",
    )


@inventory_app.command("devices")
@handles_errors
def devices(
    ctx: typer.Context,
    *,
    status: Annotated[
        StatusFilter | None, typer.Option("--status", help="Only devices with this status.")
    ] = None,
    kind: Annotated[
        KindFilter | None, typer.Option("--kind", help="Only laptops or only phones.")
    ] = None,
) -> None:
    """List the lending stock (laptops and phones), optionally filtered.

    Example: crisiskit inventory devices --status available --kind phone
    """
    from crisiskit.inventory import load_inventory

    st = state(ctx)
    inv = load_inventory(st.inventory_path, st.playbooks_dir)
    rows: list[dict[str, str | None]] = []
    if kind in (None, KindFilter.laptop):
        rows += [
            {"kind": "laptop", "asset_tag": d.asset_tag, "model": d.model, "serial": d.serial,
             "imei": None, "number": None, "status": d.status.value}
            for d in inv.devices.laptops
        ]
    if kind in (None, KindFilter.phone):
        rows += [
            {"kind": "phone", "asset_tag": d.asset_tag, "model": d.model, "serial": None,
             "imei": d.imei, "number": d.number, "status": d.status.value}
            for d in inv.devices.phones
        ]
    if status is not None:
        rows = [r for r in rows if r["status"] == status.value]
    if st.json:
        console.emit_json(rows)
        return
    console.table(
        None,
        ["Kind", "Asset tag", "Model", "Serial", "IMEI", "Number", "Status"],
        [list(r.values()) for r in rows],
        caption=f"{len(rows)} devices",
    )
