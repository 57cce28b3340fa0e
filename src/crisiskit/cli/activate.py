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
    from crisiskit.engine.multi import CommuneResult
    from crisiskit.engine.report import ActivationReport
    from crisiskit.plan.activation import ActivationPlan
    from crisiskit.plan.diff_group import TeamPath

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
    communes: Annotated[
        list[str], typer.Argument(help="Commune id(s), e.g. aubagne (several run concurrently).")
    ],
    *,
    playbook: Annotated[
        str | None, typer.Option(help="Playbook name (default: the commune's).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan only; change nothing.")
    ] = False,
    no_wait: Annotated[
        bool,
        typer.Option(
            "--no-wait",
            help="Return as soon as the credentials, slips and sheet are written; the Team, "
            "mailboxes and site finish provisioning on their own (`status --wait`).",
        ),
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
    team_path: Annotated[
        str, typer.Option("--team-path", hidden=True, help="scratch (default) or group.")
    ] = "scratch",
) -> None:
    """Provision communes' crisis kits through Microsoft Graph (idempotent, resumable).

    Hands over the credentials file, the first sign-in slips (PDF, mode 0600) and the
    handover sheet (md, html, pdf) as soon as the accounts and passes exist, then waits for
    the Team, mailboxes and SharePoint site (or not, with --no-wait). Several communes run
    concurrently; the exit code is the worst of theirs.

    Example: crisiskit activate aubagne --sandbox --yes
    """
    from crisiskit.cli.wiring import run_activate
    from crisiskit.engine.activation import Options

    s = state(ctx)
    if len(set(communes)) != len(communes):
        raise InputError("a commune is named twice: " + " ".join(communes))
    if team_path not in ("scratch", "group"):
        raise InputError("--team-path must be scratch or group")
    path: TeamPath = "group" if team_path == "group" else "scratch"
    signer = signer_for(sign_with)
    setups = [
        dataclasses.replace(_setup(ctx, c, playbook), signer=signer) for c in communes
    ]
    who = operator or os.environ.get("USER") or _login()
    interactive = console.is_terminal()
    if not (yes or dry_run) and not interactive:
        raise InputError(
            "activate needs confirmation: pass --yes to run without a terminal (or --dry-run)"
        )
    several = len(setups) > 1

    def show(plans: list[ActivationPlan]) -> None:
        if s.json:
            return
        for plan in plans:
            if several:
                console.text(f"== {plan.commune} ==")
            render_plan(plan, verbose=s.verbose)

    def confirm(plans: list[ActivationPlan]) -> bool:
        if yes:
            return True
        if len(plans) == 1:
            return console.confirm(f"Apply this plan to {plans[0].commune}?")
        return console.confirm(
            f"Apply these {len(plans)} plans to {', '.join(p.commune for p in plans)}?"
        )

    progress = _LazyProgress()
    try:
        results = run_activate(
            setups,
            sandbox=sandbox,
            operator=who,
            dry_run=dry_run,
            show_plans=show,
            confirm=confirm,
            phase_for=(lambda c: _silent_phase) if s.json else progress.for_commune(several),
            options=Options(wait=not no_wait, team_path=path),
        )
    finally:
        progress.close()
    if several:
        _finish_several(results, json=s.json, show_secrets=show_secrets)
    else:
        _finish_one(results[0], json=s.json, show_secrets=show_secrets)


def _finish_one(result: CommuneResult, *, json: bool, show_secrets: bool) -> None:
    """Print one commune's activation and exit with its code (errors as before)."""
    from crisiskit.engine.report import failure_message, pending_message

    if result.error is not None:
        raise result.error
    report = result.report
    assert report is not None
    if json:
        console.emit_json(report.to_json())
    else:
        render_report(report, show_secrets=show_secrets)
    if not report.confirmed:
        console.info("Aborted: nothing was changed.")
        raise typer.Exit(EXIT_FAILED)
    if not report.ok:
        raise failure_message(report)
    if report.exit_code:
        raise pending_message(report)


def _finish_several(results: list[CommuneResult], *, json: bool, show_secrets: bool) -> None:
    """Print every commune's activation, one summary table, and exit with the worst code."""
    from crisiskit.engine.multi import worst

    code = worst(results)
    if json:
        console.emit_json({
            "communes": [_result_json(r) for r in results],
            "exit_code": code,
        })
    else:
        for r in results:
            if r.report is not None and r.report.executed:
                console.text(f"== {r.commune} ==")
                render_report(r.report, show_secrets=show_secrets)
        render_summary(results)
        for r in results:
            if r.error is not None:
                console.error(f"{r.commune}: {r.error}")
        if any(r.report is not None and not r.report.confirmed for r in results):
            console.info("Aborted: nothing was changed.")
    if code:
        raise typer.Exit(code)


def _result_json(result: CommuneResult) -> dict[str, Any]:
    body = result.report.to_json() if result.report is not None else {"commune": result.commune}
    return {**body, "exit_code": result.exit_code,
            "error": str(result.error) if result.error is not None else None}


def _mailbox_count(outcome: Any) -> str:
    ready = len(outcome.mailboxes_ready)
    return f"{ready}/{ready + len(outcome.mailboxes_pending)} ready"


def render_summary(results: list[CommuneResult]) -> None:
    """One line per commune: what its activation did, what is still provisioning, its code."""
    rows = []
    for r in results:
        outcome = r.report.outcome if r.report is not None else None
        if r.error is not None:
            what = type(r.error).__name__
        elif outcome is None:
            what = "not run"
        elif outcome.failures:
            what = f"{len(outcome.failures)} failed"
        elif outcome.pending or outcome.writes_pending:
            what = "provisioning"
        else:
            what = "complete"
        rows.append((
            r.commune,
            what,
            str(sum(outcome.created.values())) if outcome else "-",
            _mailbox_count(outcome) if outcome else "-",
            ("ready" if outcome.team_id else "pending") if outcome else "-",
            ("ready" if outcome.drive_id else "pending") if outcome else "-",
            str(r.exit_code),
        ))
    console.table(
        "Activations",
        ("commune", "result", "created", "mailboxes", "Team", "SharePoint", "exit"),
        rows,
    )


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

    def for_commune(self, several: bool) -> Any:
        """Return the phase factory of each commune (names prefixed when there are several)."""
        def factory(commune: str) -> Any:
            if not several:
                return self
            return lambda name, total: self(f"{commune}: {name}", total)

        return factory

    def close(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None


def _silent_phase(name: str, total: int) -> Any:
    from crisiskit.engine.progress import quiet_phase

    return quiet_phase(name, total)


def _readiness(ready_id: str | None, preparing: bool) -> str:
    return "ready" if ready_id else "still provisioning" if preparing else "not ready"


def render_pending(report: ActivationReport) -> None:
    """Say what is still provisioning after `activate --no-wait`, and what finishes it."""
    from crisiskit.engine.report import pending_lines

    lines = pending_lines(report)
    if lines:
        console.text("Still provisioning (the crisis cell can start meanwhile):")
        for line in lines:
            console.text(f"  {line}")


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in a minimal container is not fatal
        return "unknown"


def render_report(report: ActivationReport, *, show_secrets: bool) -> None:
    """Print the summary of an activation (secrets only with --show-secrets)."""
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
    console.text(f"Team: {_readiness(outcome.team_id, 'team' in outcome.preparing)}"
                 + (f" {outcome.team_url}" if outcome.team_url else ""))
    console.text(f"SharePoint: {_readiness(outcome.drive_id, 'sharepoint' in outcome.preparing)}"
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
    if report.no_wait:
        render_pending(report)
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
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="First wait (read-only) for what is still provisioning, under the same "
            "bounds as activate; write the sheet's complete edition when it is.",
        ),
    ] = False,
    sandbox: Annotated[bool, typer.Option("--sandbox", help=SANDBOX_HELP)] = False,
) -> None:
    """Show a commune's crisis kit: accounts, licences, readiness, credentials, devices lent.

    Example: crisiskit status aubagne --sandbox
    """
    from crisiskit.cli.wiring import run_status

    s = state(ctx)
    progress = _LazyProgress()
    try:
        statuses = run_status(
            s.inventory_path, s.playbooks_dir, s.home, commune, sandbox=sandbox, wait=wait,
            phase_for=(lambda c: _silent_phase) if s.json else progress.for_commune(True),
        )
    finally:
        progress.close()
    if s.json:
        console.emit_json([st.to_json() for st in statuses])
    elif not statuses:
        console.text("No commune has a crisis kit (no run, loan or credentials recorded).")
    for st in statuses:
        if not s.json:
            render_status(getattr(st, "status", st))
            if wait:
                render_waited(st)
    code = max((getattr(st, "exit_code", 0) for st in statuses), default=0)
    if code:
        raise typer.Exit(code)


def render_waited(result: Any) -> None:
    """Say what `status --wait` waited for, what is still pending, and what finishes it."""
    for line in result.ready:
        console.text(f"  {line}")
    for line in result.pending:
        console.text(f"  ! {line}")
    commune = result.status.commune
    if result.pending:
        console.text(f"Still provisioning after the documented wait; rerun `crisiskit status "
                     f"{commune} --wait` later, or see the Microsoft 365 service health.")
    if result.remaining:
        console.text(f"Ready to finish: `crisiskit activate {commune}` does what remains: "
                     + "; ".join(result.remaining))
    if result.complete:
        console.text(f"{commune}: the crisis kit is complete.")
    if result.sheet is not None:
        console.text("Handover sheet, complete edition: "
                     + ", ".join(str(p) for p in result.sheet.handover.values()))


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
