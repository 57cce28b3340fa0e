"""Commands: credentials reissue (registered on crisiskit.cli.app.app as `credentials`)."""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Annotated

import typer

from crisiskit import console
from crisiskit.cli import operation
from crisiskit.cli.activate import SANDBOX_HELP, _login, _setup, rerun_command
from crisiskit.cli.app import group, handles_errors, state
from crisiskit.cli.documents import SignWithOption, signer_for
from crisiskit.errors import OperationFailed

if TYPE_CHECKING:
    from crisiskit.cli.wiring import Target
    from crisiskit.engine.context import Context
    from crisiskit.engine.reissue import ReissueReport
    from crisiskit.plan.reissue import ReissuePlan

credentials_app = typer.Typer(
    name="credentials",
    help="Onboarding credentials of a commune's crisis accounts."
    "\n\nExample: crisiskit credentials reissue aubagne jean.martin --sandbox",
    no_args_is_help=True,
    rich_markup_mode=None,
)
group(credentials_app, "credentials")


def render_reissue_plan(
    plan: ReissuePlan, target: Target, *, verbose: bool = False, asking: bool = False
) -> None:
    """Print the reissue's plan: target, refusals first, steps, the passes found lost."""
    notes = [
        f"  ! {upn}: the tenant's pass is in no credentials file (an interrupted run lost "
        "its secret): it is replaced"
        for upn in plan.lost
    ]
    operation.show_plan(plan.plan, target, refusals=plan.refusals, notes=notes,
                        verbose=verbose, asking=asking)


@credentials_app.command("reissue")
@handles_errors
def reissue_command(
    ctx: typer.Context,
    commune: Annotated[str, typer.Argument(help="Commune id, e.g. aubagne.")],
    accounts: Annotated[
        list[str],
        typer.Argument(help="Accounts: UPNs, or their part before the @ (jean.martin).",
                       metavar="UPN..."),
    ],
    *,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan only; change nothing.")
    ] = False,
    operator: Annotated[
        str | None,
        typer.Option(help="Who runs this, for the audit trail (default: $USER)."),
    ] = None,
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="Also print the new passes.")
    ] = False,
    sandbox: Annotated[bool, typer.Option("--sandbox", help=SANDBOX_HELP)] = False,
    sign_with: SignWithOption = None,
) -> None:
    """Issue a new Temporary Access Pass to accounts (the old pass is removed first).

    The passes go to a new credentials file (credentials-reissue-<UTC time>.csv, mode 0600;
    the activation's credentials.csv is left as it is) and a sign-in slip per account (PDF,
    mode 0600), in $CRISISKIT_HOME/outputs/<commune>/. A rerun after an interruption issues
    what is missing; a pass whose secret was lost by an interrupted run is replaced.

    Example: crisiskit credentials reissue aubagne jean.martin --sandbox --yes
    """
    from crisiskit.cli.wiring import run_operation, target
    from crisiskit.engine.reissue import reissue

    s = state(ctx)
    setup = dataclasses.replace(_setup(ctx, commune, None), signer=signer_for(sign_with))
    who = operator or os.environ.get("USER") or _login()
    operation.need_terminal(yes=yes, dry_run=dry_run, command="credentials reissue")
    where = target(setup.inventory, s.home, sandbox)

    def show(plan: ReissuePlan) -> None:
        if not s.json:
            asking = not (yes or dry_run or plan.empty or plan.refusals)
            render_reissue_plan(plan, where, verbose=s.verbose, asking=asking)

    def confirm(plan: ReissuePlan) -> bool:
        return yes or operation.ask(plan.plan, where, verb="Issue these passes")

    async def work(context: Context) -> ReissueReport:
        return await reissue(context, accounts, dry_run=dry_run, show_plan=show, confirm=confirm)

    try:
        report = run_operation(setup, work, sandbox=sandbox, operator=who)
    except KeyboardInterrupt:
        raise typer.Exit(operation.stopped(rerun=rerun_command())) from None
    if s.json:
        console.emit_json({**report.to_json(), "target": where.to_json()})
    else:
        render_reissue(report, show_secrets=show_secrets)
    if dry_run:
        operation.dry_run_done()
        return
    if not report.confirmed:
        raise operation.declined(where)
    if not report.ok:
        raise OperationFailed(
            "reissue incomplete; rerun the same command to finish:\n  "
            + "\n  ".join(report.failures)
        )


def render_reissue(report: ReissueReport, *, show_secrets: bool) -> None:
    """Print what a reissue did (the passes only with --show-secrets)."""
    if not report.executed:
        return
    for run_id in report.resumed:
        console.text(f"Resumed after interrupted run #{run_id}.")
    for warning in report.warnings:
        console.text(warning)
    console.text(f"New passes: {len(report.passes)} ({', '.join(p.upn for p in report.passes)})")
    if report.credentials_path:
        console.text(
            f"New credentials file (mode 0600, hand over in person): {report.credentials_path}"
        )
    if report.slips_path:
        console.text(
            f"Sign-in slips (mode 0600, hand over in person): {report.slips_path}"
        )
    if show_secrets and report.passes:
        console.table(
            "Temporary Access Passes issued by this run",
            ("upn", "temporary access pass", "valid until"),
            [(p.upn, p.secret.reveal(), p.valid_until.isoformat()) for p in report.passes],
        )


__all__ = ["credentials_app", "reissue_command"]
