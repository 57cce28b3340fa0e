"""Commands: devices swap (registered on crisiskit.cli.app.app as `devices`)."""

from __future__ import annotations

import os
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from crisiskit import console
from crisiskit.cli.activate import SANDBOX_HELP, _login, _setup
from crisiskit.cli.app import app, handles_errors, state
from crisiskit.cli.documents import SignWithOption, signer_for
from crisiskit.errors import EXIT_FAILED, InputError, OperationFailed

if TYPE_CHECKING:
    from crisiskit.engine.context import Context
    from crisiskit.engine.swap import SwapReport
    from crisiskit.plan.swap import SwapPlan

devices_app = typer.Typer(
    help="The lending stock during a crisis: devices lent, replaced, back.", no_args_is_help=True
)
app.add_typer(devices_app, name="devices")


class SwapReason(StrEnum):
    lost = "lost"
    broken = "broken"


def render_swap_plan(plan: SwapPlan, *, verbose: bool = False) -> None:
    """Print the swap's plan: what is replaced by what, for whom, and why it would refuse."""
    s = plan.swap
    if s.new is not None and s.upn is not None:
        console.text(
            f"Replace {s.old.kind} {s.old.asset_tag} of {s.upn} ({plan.reason}) "
            f"with {s.new.asset_tag}" + (f" ({s.new.number})" if s.new.number else "")
        )
    console.render_plan(plan.plan, verbose=verbose)
    for note in plan.notes:
        console.text(f"  ? {note}")
    if plan.empty and not plan.refusals:
        console.text("Nothing to do: the swap is complete.")
    for reason in plan.refusals:
        console.text(f"  ! swap would refuse: {reason}")


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

    from crisiskit.cli.wiring import run_operation
    from crisiskit.engine.swap import swap

    s = state(ctx)
    setup = dataclasses.replace(_setup(ctx, commune, None), signer=signer_for(sign_with))
    who = operator or os.environ.get("USER") or _login()
    if not (yes or dry_run) and not console.is_terminal():
        raise InputError(
            "devices swap needs confirmation: pass --yes to run without a terminal (or --dry-run)"
        )

    def show(plan: SwapPlan) -> None:
        if not s.json:
            render_swap_plan(plan, verbose=s.verbose)

    def confirm(plan: SwapPlan) -> bool:
        return yes or console.confirm(f"Apply this swap to {plan.commune}?")

    async def work(context: Context) -> SwapReport:
        return await swap(context, asset, reason=reason.value, to=to, dry_run=dry_run,
                          show_plan=show, confirm=confirm)

    report = run_operation(setup, work, sandbox=sandbox, operator=who)
    if s.json:
        console.emit_json(report.to_json())
    else:
        render_swap(report)
    if not report.confirmed:
        console.info("Aborted: nothing was changed.")
        raise typer.Exit(EXIT_FAILED)
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
