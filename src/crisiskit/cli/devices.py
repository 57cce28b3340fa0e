"""Commands: devices, devices wiped, devices return (the lending stock's runtime state).

    crisiskit devices [--status S] [--kind K]   every device: inventory + loans + holds
    crisiskit devices wiped ASSET...            re-imaged: to_wipe → available
    crisiskit devices return COMMUNE ASSET...   handed back early: loan closed, to_wipe

One module for the `devices` command group, so that day-2 commands (`devices swap`) are one
more `@devices_app.command` here. Changes are all or nothing: every asset is checked first
(unknown: exit 2; not in the right state: exit 3, nothing changed), then all are recorded in
one transaction, each with an audit entry.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crisiskit import console
from crisiskit.cli.app import app, handles_errors, state
from crisiskit.errors import InputError, PreconditionFailed

if TYPE_CHECKING:
    from crisiskit.devices import DeviceView

devices_app = typer.Typer(
    help="The lending stock and where each device is (on loan, to wipe, available...).",
    invoke_without_command=True,
)
app.add_typer(devices_app, name="devices")


class StateFilter(StrEnum):
    available = "available"
    on_loan = "on_loan"
    to_wipe = "to_wipe"
    maintenance = "maintenance"
    lost = "lost"
    retired = "retired"


class KindFilter(StrEnum):
    laptop = "laptop"
    phone = "phone"


def _operator(value: str | None) -> str:
    from crisiskit.cli.activate import _login

    return value or os.environ.get("USER") or _login()


def _views(ctx: typer.Context) -> tuple[Any, list[DeviceView]]:
    from crisiskit.devices import device_views
    from crisiskit.inventory import load_inventory
    from crisiskit.state import Store

    s = state(ctx)
    inventory = load_inventory(s.inventory_path, s.playbooks_dir)
    with Store.open(s.home) as store:
        return inventory, device_views(inventory, store.open_loans(), store.device_holds())


def render_devices(views: list[DeviceView]) -> None:
    """Print devices as a table, with the count per state."""
    from crisiskit.devices import counts

    console.table(
        None,
        ["Kind", "Asset tag", "Model", "Serial / IMEI", "State", "Commune", "Account", "Since",
         "Reason"],
        [[v.kind, v.asset_tag, v.model, v.serial or v.imei, v.state, v.commune, v.upn,
          v.since, v.reason] for v in views],
        caption=", ".join(f"{n} {name}" for name, n in counts(views).items() if n)
        or "no device",
    )


@devices_app.callback()
@handles_errors
def devices_command(
    ctx: typer.Context,
    *,
    status: Annotated[
        StateFilter | None, typer.Option("--status", help="Only devices in this state.")
    ] = None,
    kind: Annotated[
        KindFilter | None, typer.Option("--kind", help="Only laptops or only phones.")
    ] = None,
) -> None:
    """List every device with its state (inventory, open loans and holds together).

    Example: crisiskit devices --status to_wipe
    """
    if ctx.invoked_subcommand is not None:
        return
    _, views = _views(ctx)
    views = [v for v in views if (status is None or v.state == status.value)
             and (kind is None or v.kind == kind.value)]
    if state(ctx).json:
        console.emit_json([v.to_json() for v in views])
    else:
        render_devices(views)


def _known(views: list[DeviceView], assets: list[str]) -> dict[str, DeviceView]:
    by_tag = {v.asset_tag: v for v in views}
    unknown = [a for a in assets if a not in by_tag]
    if unknown:
        raise InputError(f"not in the inventory: {', '.join(unknown)}; nothing was changed")
    return {a: by_tag[a] for a in dict.fromkeys(assets)}


@devices_app.command("wiped")
@handles_errors
def wiped_command(
    ctx: typer.Context,
    assets: Annotated[list[str], typer.Argument(help="Asset tags of re-imaged devices.")],
    *,
    operator: Annotated[str | None, typer.Option(help="Who did it (default: $USER).")] = None,
) -> None:
    """Record devices as re-imaged: from to_wipe back to available.

    Example: crisiskit devices wiped AMP-PC-0001 AMP-TEL-0003
    """
    from crisiskit.state import Store

    _, views = _views(ctx)
    chosen = _known(views, assets)
    wrong = [f"{a} is {v.state}" + (f" ({v.commune})" if v.commune else "")
             for a, v in chosen.items() if v.state != "to_wipe"]
    if wrong:
        raise PreconditionFailed("only a device to wipe can be marked wiped; nothing was "
                                 "changed:\n  " + "\n  ".join(wrong))
    who = _operator(operator)
    with Store.open(state(ctx).home) as store, store.transaction():
        for asset, view in chosen.items():
            store.set_device_state(asset, "available", operator=who, reason="wiped")
            store.audit_append(who, view.commune, "device.wiped", asset, "done",
                               details={"from": "to_wipe"})
    console.text(f"Available again: {', '.join(chosen)}")


@devices_app.command("return")
@handles_errors
def return_command(
    ctx: typer.Context,
    commune: Annotated[str, typer.Argument(help="The commune handing the devices back.")],
    assets: Annotated[list[str], typer.Argument(help="Asset tags handed back.")],
    *,
    operator: Annotated[str | None, typer.Option(help="Who took them (default: $USER).")] = None,
) -> None:
    """Take devices back early: their loans are closed and they go to wipe.

    Example: crisiskit devices return aubagne AMP-TEL-0004
    """
    from crisiskit.state import Store
    from crisiskit.state.lock import commune_lock

    inventory, views = _views(ctx)
    cid = inventory.commune(commune).id
    chosen = _known(views, assets)
    wrong = [f"{a} is {v.state}" + (f" ({v.commune})" if v.commune else "")
             for a, v in chosen.items() if v.state != "on_loan" or v.commune != cid]
    if wrong:
        raise PreconditionFailed(f"only a device on loan to {cid} can be returned by it; "
                                 "nothing was changed:\n  " + "\n  ".join(wrong))
    who = _operator(operator)
    home = state(ctx).home
    with commune_lock(home, cid), Store.open(home) as store, store.transaction():
        for asset, view in chosen.items():
            loan = store.return_loan(cid, asset)
            if loan is None:
                raise PreconditionFailed(f"{asset} is no longer on loan; nothing was changed")
            store.set_device_state(asset, "to_wipe", operator=who, reason="returned early",
                                   commune=cid)
            store.audit_append(who, cid, "device.returned", asset, "done",
                               details={"upn": view.upn or "", "to": "to_wipe"})
    console.text(f"Returned by {cid}, to wipe: {', '.join(chosen)}")
