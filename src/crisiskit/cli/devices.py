"""Commands: the `devices` group (the lending stock's runtime state), registered on the app.

    crisiskit devices [--status S] [--kind K]   every device: inventory + loans + holds
    crisiskit devices wiped ASSET...            re-imaged: to_wipe → available
    crisiskit devices return COMMUNE ASSET...   handed back early: loan closed, to_wipe
    crisiskit devices swap COMMUNE ASSET        lost or broken: replaced for the same account

`wiped` and `return` are all or nothing: every asset is checked first (unknown: exit 2; not in
the right state: exit 3, nothing changed), then all are recorded in one transaction, each with
an audit entry. `swap` is a plan over the engine (crisiskit.engine.swap).
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crisiskit import console
from crisiskit.cli import operation
from crisiskit.cli.activate import SANDBOX_HELP, _login, _setup, rerun_command
from crisiskit.cli.app import app, handles_errors, state
from crisiskit.cli.documents import SignWithOption, signer_for
from crisiskit.cli.views import KindFilter, StatusFilter
from crisiskit.errors import InputError, OperationFailed, PreconditionFailed
from crisiskit.words import phone

if TYPE_CHECKING:
    from crisiskit.cli.wiring import Target
    from crisiskit.devices import DeviceView
    from crisiskit.engine.context import Context
    from crisiskit.engine.swap import SwapReport
    from crisiskit.plan.swap import SwapPlan

devices_app = typer.Typer(
    name="devices",
    help="The lending stock and where each device is (on loan, to wipe, available...): "
    "list it, record devices wiped or returned early, replace a lost or broken one."
    "\n\nExample: crisiskit devices --status to_wipe",
    invoke_without_command=True,
    rich_markup_mode=None,
)
app.add_typer(devices_app, name="devices")


def _operator(value: str | None) -> str:
    return value or os.environ.get("USER") or _login()


def _views(ctx: typer.Context) -> tuple[Any, list[DeviceView]]:
    """Return the inventory and every device's state now (read-only: no state.db created)."""
    from crisiskit.cli.views import local_device_views
    from crisiskit.inventory import load_inventory

    s = state(ctx)
    inventory = load_inventory(s.inventory_path, s.playbooks_dir)
    return inventory, local_device_views(inventory, s.home)


@devices_app.callback()
@handles_errors
def devices_command(
    ctx: typer.Context,
    *,
    status: Annotated[
        StatusFilter | None, typer.Option("--status", help="Only devices in this state.")
    ] = None,
    kind: Annotated[
        KindFilter | None, typer.Option("--kind", help="Only laptops or only phones.")
    ] = None,
) -> None:
    """List every device with its state (inventory, open loans and holds together).

    The same view as `inventory devices`; `wiped`, `return` and `swap` change the states.

    Example: crisiskit devices --status to_wipe
    """
    if ctx.invoked_subcommand is not None:
        return
    from crisiskit.cli.views import devices_json, render_devices

    s = state(ctx)
    _, stock = _views(ctx)
    if kind is not None:
        stock = [v for v in stock if v.kind == kind.value]
    shown = [v for v in stock if status is None or v.state == status.value]
    if s.json:
        console.emit_json(devices_json(shown, stock))
        return
    what = f"{kind.value}s" if kind is not None else "devices"
    title = f"Lending stock: {what}" + (f" {status.value.replace('_', ' ')}" if status else "")
    render_devices(shown, title=title, counted=stock, verbose=s.verbose)


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


class SwapReason(StrEnum):
    lost = "lost"
    broken = "broken"


def render_swap_plan(
    plan: SwapPlan, target: Target, *, verbose: bool = False, asking: bool = False
) -> None:
    """Print the swap's plan: target, refusals first, what is replaced by what, for whom."""
    s = plan.swap
    notes = []
    if s.new is not None and s.upn is not None:
        notes.append(
            f"Replace {s.old.kind} {s.old.asset_tag} of {s.upn} ({plan.reason}) "
            f"with {s.new.asset_tag}" + (f" ({phone(s.new.number)})" if s.new.number else "")
        )
    notes += [f"  ? {note}" for note in plan.notes]
    if plan.empty and not plan.refusals:
        notes.append("Nothing to do: the swap is complete.")
    operation.show_plan(plan.plan, target, refusals=plan.refusals, notes=notes,
                        verbose=verbose, asking=asking)


@devices_app.command("swap")
@handles_errors
def swap_command(
    ctx: typer.Context,
    commune: Annotated[str, typer.Argument(help="Commune id, e.g. aubagne.")],
    asset: Annotated[str, typer.Argument(help="Asset tag of the lent device, e.g. AMP-TEL-0003.")],
    *,
    reason: Annotated[
        SwapReason, typer.Option("--reason", help="lost (held lost) or broken (maintenance).")
    ] = SwapReason.lost,
    to: Annotated[
        str | None,
        typer.Option("--to", metavar="NEW_ASSET",
                     help="The replacement (default: the lowest free asset tag of the kind)."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan only; change nothing.")
    ] = False,
    operator: Annotated[
        str | None,
        typer.Option(help="Who runs this, for the audit trail (default: $USER)."),
    ] = None,
    sandbox: Annotated[bool, typer.Option("--sandbox", help=SANDBOX_HELP)] = False,
    sign_with: SignWithOption = None,
) -> None:
    """Replace a lent device that is lost or broken, for the same account.

    The old device's loan is closed and it is held lost (--reason lost) or in maintenance
    (--reason broken); the replacement is lent to the same account; for a phone, the
    account's mobile phone method gets the new number. An addendum to the handover sheet is
    written beside it (avenant-remplacement-<ASSET>-<UTC time>.md, .html, .pdf). Refused
    (exit 3) when no replacement is free or --to is not lendable. A rerun finishes an
    interrupted swap; after success it changes nothing.

    Example: crisiskit devices swap aubagne AMP-TEL-0003 --reason lost --sandbox --yes
    """
    import dataclasses

    from crisiskit.cli.wiring import run_operation, target
    from crisiskit.engine.swap import swap

    s = state(ctx)
    setup = dataclasses.replace(_setup(ctx, commune, None), signer=signer_for(sign_with))
    who = operator or os.environ.get("USER") or _login()
    operation.need_terminal(yes=yes, dry_run=dry_run, command="devices swap")
    where = target(setup.inventory, s.home, sandbox)

    def show(plan: SwapPlan) -> None:
        if not s.json:
            asking = not (yes or dry_run or plan.empty or plan.refusals)
            render_swap_plan(plan, where, verbose=s.verbose, asking=asking)

    def confirm(plan: SwapPlan) -> bool:
        return yes or operation.ask(plan.plan, where, verb="Apply this swap")

    async def work(context: Context) -> SwapReport:
        return await swap(context, asset, reason=reason.value, to=to, dry_run=dry_run,
                          show_plan=show, confirm=confirm)

    try:
        report = run_operation(setup, work, sandbox=sandbox, operator=who)
    except KeyboardInterrupt:
        raise typer.Exit(operation.stopped(rerun=rerun_command())) from None
    if s.json:
        console.emit_json({**report.to_json(), "target": where.to_json()})
    else:
        render_swap(report)
    if dry_run:
        operation.dry_run_done()
        return
    if not report.confirmed:
        raise operation.declined(where)
    if not report.ok:
        raise OperationFailed(
            "swap incomplete; rerun the same command to finish:\n  "
            + "\n  ".join(report.failures)
        )


def render_swap(report: SwapReport) -> None:
    """Print what a swap did."""
    if not report.executed:
        return
    for run_id in report.resumed:
        console.text(f"Resumed after interrupted run #{run_id}.")
    s = report.plan.swap
    if report.ok and s.new is not None:
        console.text(f"{s.old.asset_tag} replaced by {s.new.asset_tag} for {s.upn}.")
    if report.addendum:
        console.text(
            "Addendum to the handover sheet: " + ", ".join(str(p) for p in report.addendum.values())
        )


__all__ = ["devices_app", "return_command", "swap_command", "wiped_command"]
