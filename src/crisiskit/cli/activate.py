"""Commands: plan, activate, status (registered on crisiskit.cli.app.app).

Each parses, calls the core through `crisiskit.cli.wiring`, and renders with the shared pieces
of `crisiskit.cli.operation` (plan and its target, prompt, progress, outcome lines); the
renderers here are the activation's own (its plan notes, its report, a kit's status).
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import shlex
import sys
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crisiskit import console
from crisiskit.cli import operation
from crisiskit.cli.activation_report import render_report
from crisiskit.cli.app import app, handles_errors, state
from crisiskit.cli.documents import SignWithOption, signer_for
from crisiskit.errors import InputError

if TYPE_CHECKING:
    from crisiskit.cli.wiring import Target
    from crisiskit.engine.report import ActivationReport
    from crisiskit.plan.activation import ActivationPlan
    from crisiskit.plan.diff_group import TeamPath

SANDBOX_HELP = (
    "Use the embedded Graph simulator (state under $CRISISKIT_HOME/sandbox/) instead of a "
    "tenant."
)


def _setup(ctx: typer.Context, commune: str, playbook: str | None) -> Any:
    return _setups(ctx, [commune], playbook)[0]


def _setups(ctx: typer.Context, communes: list[str], playbook: str | None) -> list[Any]:
    from crisiskit.engine.context import load_setups

    s = state(ctx)
    return load_setups(s.inventory_path, s.playbooks_dir, s.home, communes, playbook)


def _target(ctx: typer.Context, setup: Any, sandbox: bool) -> Target:
    from crisiskit.cli.wiring import target

    return target(setup.inventory, state(ctx).home, sandbox)


def rerun_command() -> str:
    """Return the command line of this invocation, to repeat it (a rerun resumes)."""
    return shlex.join(["crisiskit", *sys.argv[1:]])


def leaver_notes(activation: ActivationPlan) -> list[str]:
    """Return one line per person leaving the cell: what applying the plan does to them."""
    notes = []
    for upn in activation.leavers:
        devices = activation.leaver_devices.get(upn, [])
        steps = [
            s for s in activation.plan.steps
            if s.phase == "leavers" and (s.key == upn or (s.kind == "loan" and s.key in devices))
        ]
        if all(s.action == "present" for s in steps):
            notes.append(f"  = account {upn} has left the cell (disabled, kept until teardown)")
            continue
        todo = [
            what for what, present in (
                ("disable it", any(s.action == "disable" for s in steps)),
                ("revoke its sessions", any(s.action == "revoke" for s in steps)),
                ("remove its pass", any(s.kind == "tap" for s in steps)),
                (f"take back {', '.join(devices)} (to wipe)", bool(devices)),
            ) if present
        ]
        notes.append(
            f"  < account {upn} is leaving the cell (no longer on the roster): "
            f"{', '.join(todo)}; the account and its mail are kept until teardown"
        )
    return notes


def plan_notes(activation: ActivationPlan) -> list[str]:
    """Return what the activation's plan says besides its steps, as lines."""
    notes = leaver_notes(activation)
    notes += [
        f"  ? account {upn} is tagged for {activation.commune}, "
        f"{activation.left_alone.get(upn, 'not in the roster')}: left alone"
        for upn in activation.strays
    ]
    if activation.left_out:
        notes.append(
            f"Not provisioned by playbook {activation.plan.playbook}: "
            + ", ".join(activation.left_out)
        )
    if activation.empty and not activation.refusals:
        notes.append("Nothing to do: the crisis kit is complete.")
    return notes


def render_plan(
    activation: ActivationPlan, target: Target, *, verbose: bool = False, asking: bool = False
) -> None:
    """Print the activation's plan: target, refusals first, counts, steps, notes, summary."""
    operation.show_plan(
        activation.plan, target, refusals=activation.refusals, notes=plan_notes(activation),
        verbose=verbose, asking=asking,
    )


def _plan_json(activation: ActivationPlan, target: Target) -> dict[str, Any]:
    return {**activation.to_json(), "target": target.to_json()}


CommuneArgument = Annotated[str, typer.Argument(help="Commune id, e.g. aubagne (any case).")]
PlaybookOption = Annotated[
    str | None, typer.Option(help="Playbook name (default: the commune's).")
]


@app.command("plan")
@handles_errors
def plan_command(
    ctx: typer.Context,
    commune: CommuneArgument,
    *,
    playbook: PlaybookOption = None,
    sandbox: Annotated[bool, typer.Option("--sandbox", help=SANDBOX_HELP)] = False,
) -> None:
    """Show what `activate` would do for a commune, without changing anything.

    Example: crisiskit plan aubagne --sandbox
    """
    from crisiskit.cli.wiring import run_plan

    setup = _setup(ctx, commune, playbook)
    target = _target(ctx, setup, sandbox)
    plan = run_plan(setup, sandbox=sandbox)
    if state(ctx).json:
        console.emit_json(_plan_json(plan, target))
    else:
        render_plan(plan, target, verbose=state(ctx).verbose)


CommunesArgument = Annotated[
    list[str],
    typer.Argument(help="Commune id(s), e.g. aubagne (any case; several run concurrently)."),
]


@app.command("activate")
@handles_errors
def activate_command(
    ctx: typer.Context,
    communes: CommunesArgument,
    *,
    playbook: PlaybookOption = None,
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
    rebuild_state: Annotated[
        bool,
        typer.Option(
            "--rebuild-state",
            help="The state database was lost: record what the tenant holds of the kit "
            "(objects tagged for the commune, phones by MFA number) before activating.",
        ),
    ] = False,
    team_path: Annotated[
        str, typer.Option("--team-path", hidden=True, help="scratch (default) or group.")
    ] = "scratch",
) -> None:
    """Provision communes' crisis kits through Microsoft Graph (idempotent, resumable).

    Shows the plan and the tenant it writes to, asks before any write (unless --yes), then
    hands over the credentials file (mode 0600), the first sign-in slips (PDF, mode 0600) and
    the handover sheet (md, html, pdf) as soon as the accounts and passes exist, and waits for
    the Team, mailboxes and SharePoint site (or not, with --no-wait). Several communes run
    concurrently; the exit code is the worst of theirs. Exit 0 done, 1 incomplete (rerun to
    resume), 2 bad input, 3 refused before any write, 4 declined at the prompt, 130
    interrupted (Ctrl-C).

    Example: crisiskit activate aubagne --sandbox --yes
    """
    from crisiskit.cli import wiring
    from crisiskit.cli.outcomes import finish_several
    from crisiskit.cli.wiring import run_activate
    from crisiskit.engine.activation import Options

    s = state(ctx)
    if len({c.lower() for c in communes}) != len(communes):
        raise InputError("a commune is named twice: " + " ".join(communes))
    if team_path not in ("scratch", "group"):
        raise InputError("--team-path must be scratch or group")
    path: TeamPath = "group" if team_path == "group" else "scratch"
    signer = signer_for(sign_with)
    setups = [dataclasses.replace(s, signer=signer) for s in _setups(ctx, communes, playbook)]
    who = operator or os.environ.get("USER") or _login()
    operation.need_terminal(yes=yes, dry_run=dry_run, command="activate")
    target = _target(ctx, setups[0], sandbox)
    several = len(setups) > 1

    def show(plans: list[ActivationPlan]) -> None:
        if s.json:
            return
        for plan in plans:
            if several:
                console.text(f"== {plan.commune} ==", style="bold")
            asking = not (yes or dry_run or plan.empty or plan.refusals)
            render_plan(plan, target, verbose=s.verbose, asking=asking and not several)

    started = [time.monotonic()]

    def confirm(plans: list[ActivationPlan]) -> bool:
        if yes:
            go = True
        elif len(plans) == 1:
            go = operation.ask(plans[0].plan, target)
        else:
            go = console.confirm(
                f"Apply these {len(plans)} plans to {', '.join(p.commune for p in plans)} "
                f"{target.where}?", cancel=wiring.INTERRUPTED,
            )
        started[0] = time.monotonic()
        return go

    progress = operation.RunProgress(json=s.json)

    def phase_for(commune: str) -> Any:
        if not several:
            return progress
        return lambda name, total: progress(f"{commune}: {name}", total)

    try:
        with progress:
            results = run_activate(
                setups, sandbox=sandbox, operator=who, dry_run=dry_run, show_plans=show,
                confirm=confirm, phase_for=phase_for,
                options=Options(wait=not no_wait, team_path=path), rebuild_state=rebuild_state,
            )
    except KeyboardInterrupt:
        raise typer.Exit(operation.interrupted(progress, rerun=rerun_command())) from None
    seconds = time.monotonic() - started[0]
    if several:
        finish_several(results, target, json=s.json, dry_run=dry_run,
                       show_secrets=show_secrets, verbose=s.verbose, seconds=seconds)
        return
    result = results[0]
    if result.error is not None:
        raise result.error
    assert result.report is not None
    finish_activation(result.report, target, json=s.json, dry_run=dry_run,
                      show_secrets=show_secrets, verbose=s.verbose, seconds=seconds)


def finish_activation(
    report: ActivationReport,
    target: Target,
    *,
    json: bool,
    dry_run: bool,
    show_secrets: bool,
    verbose: bool,
    seconds: float = 0.0,
) -> None:
    """Render the outcome of `activate` and raise its exit code (0 is a plain return)."""
    from crisiskit.engine.report import failure_message, pending_message

    if json:
        console.emit_json({**report.to_json(), "target": target.to_json()})
    else:
        for notice in report.notices:  # a lease taken over, a rebuilt state: even if declined
            console.text(notice, wrap=True)
        if report.executed:
            render_report(report, target, show_secrets=show_secrets, verbose=verbose,
                          seconds=seconds)
    if dry_run:
        operation.dry_run_done()
        return
    if not report.confirmed:
        raise operation.declined(target)
    if not report.ok:
        raise failure_message(report)
    if report.exit_code:
        raise pending_message(report)


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in a minimal container is not fatal
        return "unknown"


@app.command("status")
@handles_errors
def status_command(
    ctx: typer.Context,
    commune: Annotated[
        str | None,
        typer.Argument(help="Commune id (any case; default: every commune with a kit)."),
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
    """Show a commune's crisis kit: accounts, licences, readiness, passes, links, devices lent.

    Readiness is re-checked in the tenant now; the passes' validity is read from the
    credentials file (never the passes themselves). With --wait, first waits for the Team,
    mailboxes and site still provisioning (exit 1 if one still is past the documented bound).

    Example: crisiskit status aubagne --sandbox --wait
    """
    from crisiskit.cli.outcomes import render_status, render_waited
    from crisiskit.cli.wiring import run_status, target
    from crisiskit.engine.status import WaitResult
    from crisiskit.inventory import load_inventory

    s = state(ctx)
    progress = operation.RunProgress(json=s.json or not wait)
    with progress:
        statuses = run_status(
            s.inventory_path, s.playbooks_dir, s.home, commune, sandbox=sandbox, wait=wait,
            phase_for=lambda c: (lambda name, total: progress(f"{c}: {name}", total)),
        )
    where = target(load_inventory(s.inventory_path), s.home, sandbox)
    if s.json:
        console.emit_json([{**st.to_json(), "target": where.to_json()} for st in statuses])
    elif not statuses:
        console.text("No commune has a crisis kit (no run, loan or credentials recorded).")
    else:
        for st in statuses:
            if isinstance(st, WaitResult):
                render_status(st.status, where)
                render_waited(st)
            else:
                render_status(st, where)
    code = max((getattr(st, "exit_code", 0) for st in statuses), default=0)
    if code:
        raise typer.Exit(code)


__all__ = [
    "activate_command",
    "finish_activation",
    "plan_command",
    "render_plan",
    "render_report",
    "status_command",
]
