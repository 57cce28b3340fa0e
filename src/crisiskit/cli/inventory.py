"""Commands: inventory communes, inventory devices (registered on crisiskit.cli.app.app)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from crisiskit import console
from crisiskit.cli.app import group, handles_errors, state
from crisiskit.cli.views import KindFilter, StatusFilter
from crisiskit.words import count

inventory_app = typer.Typer(
    help="Look at what the inventory holds: communes, and devices with their state now."
    "\n\nExample: crisiskit inventory devices --status on_loan",
    no_args_is_help=True,
    rich_markup_mode=None,
)
group(inventory_app, "inventory")


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
        caption=f"{count(len(rows), 'commune')}; convention status on {today.isoformat()}",
    )


@inventory_app.command("devices")
@handles_errors
def devices(
    ctx: typer.Context,
    *,
    status: Annotated[
        StatusFilter | None,
        typer.Option("--status", help="Only devices in this state now (from the local state)."),
    ] = None,
    kind: Annotated[
        KindFilter | None, typer.Option("--kind", help="Only laptops or only phones.")
    ] = None,
) -> None:
    """List the lending stock with each device's state now, counted by state.

    A device is on loan (to which commune and account, since when), to wipe (back from a
    commune), lost, in maintenance, retired, or available; loans and holds are read from the
    local state, never from the inventory file. Read-only.

    Example: crisiskit inventory devices --status available --kind phone
    """
    from crisiskit.cli.views import devices_json, local_device_views, render_devices
    from crisiskit.inventory import load_inventory

    st = state(ctx)
    inv = load_inventory(st.inventory_path, st.playbooks_dir)
    stock = local_device_views(inv, st.home)
    if kind is not None:
        stock = [v for v in stock if v.kind == kind.value]
    shown = [v for v in stock if status is None or v.state == status.value]
    if st.json:
        console.emit_json(devices_json(shown, stock))
        return
    what = f"{kind.value}s" if kind is not None else "devices"
    title = f"Lending stock: {what}" + (f" {status.value.replace('_', ' ')}" if status else "")
    render_devices(shown, title=title, counted=stock, verbose=st.verbose)
