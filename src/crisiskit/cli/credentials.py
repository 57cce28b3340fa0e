"""Commands: credentials reissue (registered on crisiskit.cli.app.app as `credentials`)."""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Annotated

import typer

from crisiskit import console
from crisiskit.cli.activate import SANDBOX_HELP, _login, _setup
from crisiskit.cli.app import app, handles_errors, state
from crisiskit.cli.documents import SignWithOption, signer_for
from crisiskit.errors import EXIT_FAILED, InputError, OperationFailed

if TYPE_CHECKING:
    from crisiskit.engine.context import Context
    from crisiskit.engine.reissue import ReissueReport
    from crisiskit.plan.reissue import ReissuePlan

credentials_app = typer.Typer(
    help="Onboarding credentials of a commune's crisis accounts.", no_args_is_help=True
)
app.add_typer(credentials_app, name="credentials")


def render_reissue_plan(plan: ReissuePlan, *, verbose: bool = False) -> None:
    """Print the reissue's plan and why it would refuse."""
    console.render_plan(plan.plan, verbose=verbose)
    for upn in plan.lost:
        console.text(
            f"  ! {upn}: the tenant's pass is in no credentials file (an interrupted run lost "
            "its secret): it is replaced"
        )
    for reason in plan.refusals:
        console.text(f"  ! reissue would refuse: {reason}")


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
    from crisiskit.cli.wiring import run_operation
    from crisiskit.engine.reissue import reissue

    s = state(ctx)
    setup = dataclasses.replace(_setup(ctx, commune, None), signer=signer_for(sign_with))
    who = operator or os.environ.get("USER") or _login()
    if not (yes or dry_run) and not console.is_terminal():
        raise InputError(
            "credentials reissue needs confirmation: pass --yes to run without a terminal "
            "(or --dry-run)"
        )

    def show(plan: ReissuePlan) -> None:
        if not s.json:
            render_reissue_plan(plan, verbose=s.verbose)

    def confirm(plan: ReissuePlan) -> bool:
        return yes or console.confirm(f"Issue new passes for {plan.commune}?")

    async def work(context: Context) -> ReissueReport:
        return await reissue(context, accounts, dry_run=dry_run, show_plan=show, confirm=confirm)

    report = run_operation(setup, work, sandbox=sandbox, operator=who)
    if s.json:
        console.emit_json(report.to_json())
    else:
        render_reissue(report, show_secrets=show_secrets)
    if not report.confirmed:
        console.info("Aborted: nothing was changed.")
        raise typer.Exit(EXIT_FAILED)
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
