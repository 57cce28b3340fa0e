"""Commands: plan, activate, status (registered on crisiskit.cli.app.app)."""

from __future__ import annotations

import dataclasses
import getpass
import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crisiskit import console
from crisiskit.cli.app import app, handles_errors, state
from crisiskit.cli.documents import SignWithOption, signer_for
from crisiskit.errors import EXIT_FAILED, InputError

if TYPE_CHECKING:
    from crisiskit.engine.report import ActivationReport
    from crisiskit.plan.activation import ActivationPlan

SANDBOX_HELP = (
    "Use the embedded Graph simulator (state under $CRISISKIT_HOME/sandbox/) instead of a "
    "tenant."
)


def _setup(ctx: typer.Context, commune: str, playbook: str | None) -> Any:
    from crisiskit.engine.context import load_setup

    s = state(ctx)
    return load_setup(s.inventory_path, s.playbooks_dir, s.home, commune, playbook)


def render_plan(activation: ActivationPlan, *, verbose: bool = False) -> None:
    """Print the activation's plan, then what its pre-checks found (no secret in a plan)."""
    console.render_plan(activation.plan, verbose=verbose)
    for upn in activation.strays:
        console.text(
            f"  ? user {upn} (tagged for {activation.commune}, not in the roster: left alone)"
        )
    for shortage in activation.shortages:
        console.text(f"  ! devices: {shortage}")
    if activation.empty:
        console.text("Nothing to do: the crisis kit is complete.")
    for reason in activation.refusals:
        console.text(f"  ! activate would refuse: {reason}")


@app.command("plan")
@handles_errors
def plan_command(
    ctx: typer.Context,
    commune: Annotated[str, typer.Argument(help="Commune id, e.g. aubagne.")],
    *,
    playbook: Annotated[
        str | None, typer.Option(help="Playbook name (default: the commune's).")
    ] = None,
    sandbox: Annotated[bool, typer.Option("--sandbox", help=SANDBOX_HELP)] = False,
) -> None:
    """Show what `activate` would do for a commune, without changing anything.

    Example: crisiskit plan aubagne --sandbox
    """
    from crisiskit.cli.wiring import run_plan

    plan = run_plan(_setup(ctx, commune, playbook), sandbox=sandbox)
    if state(ctx).json:
        console.emit_json(plan.to_json())
    else:
        render_plan(plan, verbose=state(ctx).verbose)


@app.command("activate")
@handles_errors
def activate_command(
    ctx: typer.Context,
    commune: Annotated[str, typer.Argument(help="Commune id, e.g. aubagne.")],
    *,
    playbook: Annotated[
        str | None, typer.Option(help="Playbook name (default: the commune's).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan only; change nothing.")
    ] = False,
    operator: Annotated[
        str | None,
        typer.Option(help="Who runs this, for the audit trail (default: $USER)."),
    ] = None,
    show_secrets: Annotated[
        bool,
        typer.Option("--show-secrets", help="Also print the Temporary Access Passes."),
    ] = False,
    sandbox: Annotated[bool, typer.Option("--sandbox", help=SANDBOX_HELP)] = False,
    sign_with: SignWithOption = None,
    rebuild_state: Annotated[
        bool,
        typer.Option(
            "--rebuild-state",
            help="The state database was lost: record what the tenant holds of the kit "
            "(objects tagged for the commune, phones by MFA number) before activating.",
        ),
    ] = False,
) -> None:
    """Provision a commune's crisis kit through Microsoft Graph (idempotent, resumable).

    Writes the handover sheet (md, html, pdf) and the first sign-in slips (PDF, mode 0600)
    beside the credentials file.

    Example: crisiskit activate aubagne --sandbox --yes
    """
    from crisiskit.cli.wiring import run_activate
    from crisiskit.engine.report import failure_message

    s = state(ctx)
    setup = _setup(ctx, commune, playbook)
    setup = dataclasses.replace(setup, signer=signer_for(sign_with))
    who = operator or os.environ.get("USER") or _login()
    interactive = console.is_terminal()
    if not (yes or dry_run) and not interactive:
        raise InputError(
            "activate needs confirmation: pass --yes to run without a terminal (or --dry-run)"
        )

    def show(plan: ActivationPlan) -> None:
        if not s.json:
            render_plan(plan, verbose=s.verbose)

    def confirm(plan: ActivationPlan) -> bool:
        if yes:
            return True
        return console.confirm(f"Apply this plan to {plan.commune}?")

    progress = _LazyProgress()
    try:
        report = run_activate(
            setup,
            sandbox=sandbox,
            operator=who,
            dry_run=dry_run,
            show_plan=show,
            confirm=confirm,
            phase=progress if not s.json else _silent_phase,
            rebuild_state=rebuild_state,
        )
    finally:
        progress.close()
    if s.json:
        console.emit_json(report.to_json())
    else:
        render_report(report, show_secrets=show_secrets)
    if not report.confirmed:
        console.info("Aborted: nothing was changed.")
        raise typer.Exit(EXIT_FAILED)
    if not report.ok:
        raise failure_message(report)


class _LazyProgress:
    """Start the progress display with the first phase, after the plan and the prompt."""

    def __init__(self) -> None:
        self._context: Any = None
        self._factory: Any = None

    def __call__(self, name: str, total: int) -> Any:
        if self._factory is None:
            self._context = console.progress()
            self._factory = self._context.__enter__()
        return self._factory(name, total)

    def close(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None


def _silent_phase(name: str, total: int) -> Any:
    from crisiskit.engine.report import quiet_phase

    return quiet_phase(name, total)


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in a minimal container is not fatal
        return "unknown"


def render_report(report: ActivationReport, *, show_secrets: bool) -> None:
    """Print the summary of an activation (secrets only with --show-secrets)."""
    for notice in report.notices:
        console.text(notice)
    outcome = report.outcome
    if not report.executed or outcome is None:
        return
    for run_id in report.resumed:
        console.text(f"Resumed after interrupted run #{run_id}.")
    created = sum(outcome.created.values())
    present = sum(outcome.present.values())
    if created == 0 and not outcome.updated and outcome.ok:
        console.text(f"Everything present ({present} objects): nothing was changed in the tenant.")
    else:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(outcome.created.items()) if v)
        console.text(f"Created: {parts or 'nothing'}; {present} already present.")
    for warning in outcome.warnings:
        console.text(warning)
    ready = len(outcome.mailboxes_ready)
    pending = outcome.mailboxes_pending
    console.text(
        f"Mailboxes: {ready} ready"
        + (f", {len(pending)} still provisioning (crisiskit status re-checks)" if pending else "")
    )
    console.text(f"Team: {'ready' if outcome.team_id else 'not ready'}"
                 + (f" {outcome.team_url}" if outcome.team_url else ""))
    console.text(f"SharePoint: {'ready' if outcome.drive_id else 'not ready'}"
                 + (f" {outcome.drive_url}" if outcome.drive_url else ""))
    if report.loans:
        console.text(f"Devices lent: {len(report.loans)}")
        for loan in report.loans:
            console.text(f"  {loan['kind']} {loan['asset_tag']} → {loan['upn']}")
    if report.documents:
        paths = report.documents.handover.values()
        console.text("Handover sheet: " + ", ".join(str(p) for p in paths))
        if report.documents.slips:
            console.text(
                f"First sign-in slips (mode 0600, hand over in person): {report.documents.slips}"
            )
    if report.credentials_path:
        console.text(
            f"Credentials file (mode 0600, hand over in person): {report.credentials_path}"
        )
    if show_secrets and outcome.passes:
        console.table(
            "Temporary Access Passes issued by this run",
            ("upn", "temporary access pass", "valid until"),
            [(p.upn, p.secret.reveal(), p.valid_until.isoformat()) for p in outcome.passes],
        )


@app.command("status")
@handles_errors
def status_command(
    ctx: typer.Context,
    commune: Annotated[
        str | None, typer.Argument(help="Commune id (default: every commune with a kit).")
    ] = None,
    *,
    sandbox: Annotated[bool, typer.Option("--sandbox", help=SANDBOX_HELP)] = False,
) -> None:
    """Show a commune's crisis kit: accounts, licences, readiness, credentials, devices lent.

    Example: crisiskit status aubagne --sandbox
    """
    from crisiskit.cli.wiring import run_status

    s = state(ctx)
    statuses = run_status(
        s.inventory_path, s.playbooks_dir, s.home, commune, sandbox=sandbox
    )
    if s.json:
        console.emit_json([st.to_json() for st in statuses])
        return
    if not statuses:
        console.text("No commune has a crisis kit (no run, loan or credentials recorded).")
        return
    for st in statuses:
        render_status(st)


def render_status(st: Any) -> None:
    console.table(
        f"{st.commune} — accounts",
        ("upn", "account", "licence", "mailbox", "TAP in tenant", "TAP in file", "phone"),
        [
            (
                a.upn,
                a.account,
                "yes" if a.licensed else "no",
                a.mailbox,
                "yes" if a.tap_in_tenant else "no",
                "yes" if a.tap_in_file else "no",
                a.phone or "",
            )
            for a in st.accounts
        ],
    )
    console.text(f"Group: {st.group}; Team: {st.team}; SharePoint: {st.drive}")
    for upn in st.strays:
        console.text(f"Tagged account not in the roster: {upn}")
    if st.loans:
        console.table(
            f"{st.commune} — devices on loan",
            ("kind", "asset tag", "account", "since"),
            [(lo["kind"], lo["asset_tag"], lo["upn"], lo["since"]) for lo in st.loans],
        )
    else:
        console.text("No device on loan.")


__all__ = ["activate_command", "plan_command", "status_command"]
