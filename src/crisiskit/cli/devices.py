"""Commands: devices swap (registered on crisiskit.cli.app.app as `devices`)."""

from __future__ import annotations

import os
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from crisiskit import console
from crisiskit.cli import operation
from crisiskit.cli.activate import SANDBOX_HELP, _login, _setup, rerun_command
from crisiskit.cli.app import group, handles_errors, state
from crisiskit.cli.documents import SignWithOption, signer_for
from crisiskit.errors import OperationFailed
from crisiskit.words import phone

if TYPE_CHECKING:
    from crisiskit.cli.wiring import Target
    from crisiskit.engine.context import Context
    from crisiskit.engine.swap import SwapReport
    from crisiskit.plan.swap import SwapPlan

devices_app = typer.Typer(
    name="devices",
    help="The lending stock during a crisis: devices lent, replaced, back."
    "\n\nExample: crisiskit devices swap aubagne AMP-TEL-0003 --reason lost --sandbox",
    no_args_is_help=True,
    rich_markup_mode=None,
)
group(devices_app, "devices")


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


__all__ = ["devices_app", "swap_command"]
