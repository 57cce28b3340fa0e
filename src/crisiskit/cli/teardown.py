"""Commands: export, export verify, teardown (registered on crisiskit.cli.app.app)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from crisiskit import console
from crisiskit.cli import operation
from crisiskit.cli.activate import SANDBOX_HELP, _login, _setup, _target, rerun_command
from crisiskit.cli.app import app, group, handles_errors, state
from crisiskit.cli.documents import SignWithOption, signer_for
from crisiskit.errors import EXIT_FAILED, InputError, OperationFailed, PreconditionFailed

if TYPE_CHECKING:
    from crisiskit.cli.wiring import Target
    from crisiskit.engine.teardown import TeardownReport
    from crisiskit.plan.teardown import TeardownPlan


class _ExportGroup(TyperGroup):
    """`export COMMUNE` runs an export; `export verify DIR` checks one (one name, two forms)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


export_app = typer.Typer(
    cls=_ExportGroup,
    no_args_is_help=True,
    help="Export a commune's data (crisiskit export COMMUNE [--to DIR]), or check an export "
    "(crisiskit export verify DIR)."
    "\n\nExample: crisiskit export aubagne --to /mnt/restitution/aubagne",
    rich_markup_mode=None,
)
group(export_app, "export")

OperatorOption = Annotated[
    str | None, typer.Option(help="Who runs this, for the audit trail (default: $USER).")
]


def _operator(value: str | None) -> str:
    return value or os.environ.get("USER") or _login()


@export_app.command("run", hidden=True)
@handles_errors
def export_command(
    ctx: typer.Context,
    commune: Annotated[str, typer.Argument(help="Commune id, e.g. aubagne.")],
    *,
    to: Annotated[
        Path | None,
        typer.Option("--to", help="Export folder (default: $CRISISKIT_HOME/exports/"
                     "<commune>-<UTC time>/, or the commune's unfinished one)."),
    ] = None,
    operator: OperatorOption = None,
    sandbox: Annotated[bool, typer.Option("--sandbox", help=SANDBOX_HELP)] = False,
) -> None:
    """Export everything the crisis cell produced, with manifest.json and SHA256SUMS.

    Example: crisiskit export aubagne --to /mnt/restitution/aubagne
    """
    from crisiskit.cli.wiring import run_export

    s = state(ctx)
    progress = operation.RunProgress(json=s.json)
    try:
        with progress:
            report = run_export(_setup(ctx, commune, None), sandbox=sandbox,
                                operator=_operator(operator), root=to, phase=progress)
    except KeyboardInterrupt:
        raise typer.Exit(operation.interrupted(progress, rerun=rerun_command())) from None
    if s.json:
        console.emit_json(report.to_json())
    elif report.nothing:
        console.text(f"Nothing to export: {commune} has no crisis account or group in the "
                     "tenant.")
    else:
        for run_id in report.resumed:
            console.text(f"Resumed after interrupted run #{run_id}.")
        console.text(f"Export folder: {report.root}")
        if report.manifest:
            totals = report.manifest["totals"]
            console.text(f"Exported and verified: {totals['files']} files, "
                         f"{totals['bytes']:,} bytes; digest {report.manifest['digest']}")
            _sources(report.manifest.get("sources") or [])
    if not report.ok:
        raise OperationFailed("the export is incomplete (a rerun resumes it):\n  "
                              + "\n  ".join(report.failures()))


def _sources(sources: list[dict[str, Any]]) -> None:
    for src in sources:
        if src.get("status") != "exported":
            console.text(f"  {src['kind']} of {src['owner']}: {src['status']} "
                         f"({src.get('detail', '')})")


@export_app.command("verify")
@handles_errors
def verify_command(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="An export folder (holding manifest.json).")],
) -> None:
    """Re-hash an export: exit 0 only if every file matches, none is missing, none is extra.

    Example: crisiskit export verify .crisiskit/exports/aubagne-20261201T101500Z
    """
    from crisiskit.export.manifest import verify

    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    result = verify(folder)
    if state(ctx).json:
        console.emit_json(result.to_json())
    else:
        console.text(result.summary())
        for label, items in (("missing", result.missing), ("changed", result.mismatched),
                             ("extra", result.extra), ("problem", result.problems)):
            for item in items:
                console.text(f"  {label}: {item}")
    if not result.ok:
        raise typer.Exit(EXIT_FAILED)


def teardown_notes(tplan: TeardownPlan) -> list[str]:
    """Return what the teardown's plan says besides its steps: export folder, left alone."""
    root = tplan.options.export_root
    notes = [f"Export folder: {root}" if root else
             "No export (--no-export): the data will NOT be returned to the commune."]
    notes += [f"  ? {name}: tagged for {tplan.scope.commune} but not in the journal "
              "(left alone)" for name in tplan.scope.strays]
    notes += [f"  ? {name}: in the journal but no longer tagged for {tplan.scope.commune} "
              "(left alone)" for name in tplan.scope.untagged]
    if tplan.empty:
        notes.append("Nothing to do: the kit is already torn down.")
    return notes


def render_teardown_plan(
    tplan: TeardownPlan, target: Target, *, verbose: bool = False, asking: bool = False
) -> None:
    """Print the teardown's plan with the activation's plan view (target, steps, notes)."""
    operation.show_plan(tplan.plan, target, notes=teardown_notes(tplan), verbose=verbose,
                        asking=asking)


def _typed(expected: str, prompt: str) -> bool:
    answer = console.ask(prompt)
    if answer != expected:
        console.info(f"You typed {answer!r}, not {expected!r}.")
        return False
    return True


@app.command("teardown")
@handles_errors
def teardown_command(
    ctx: typer.Context,
    commune: Annotated[str, typer.Argument(help="Commune id, e.g. aubagne.")],
    *,
    export_dir: Annotated[
        Path | None, typer.Option("--export-dir", help="Where the export goes (default: "
                                  "$CRISISKIT_HOME/exports/<commune>-<UTC time>/).")
    ] = None,
    no_export: Annotated[
        bool, typer.Option("--no-export", help="Delete WITHOUT exporting the data first "
                           "(recorded in the audit log and on the attestation).")
    ] = False,
    purge: Annotated[
        bool, typer.Option("--purge", help="Then delete the accounts permanently from "
                           "deletedItems (irreversible; asks a second confirmation).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan only; change nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    from_tenant: Annotated[
        bool, typer.Option("--from-tenant", help="The local state is lost: find the kit by "
                           "its tag alone (asks for the commune id again).")
    ] = False,
    operator: OperatorOption = None,
    sandbox: Annotated[bool, typer.Option("--sandbox", help=SANDBOX_HELP)] = False,
    sign_with: SignWithOption = None,
) -> None:
    """Freeze, export, delete exactly the commune's crisis kit, take its devices back, attest it.

    Example: crisiskit teardown aubagne --export-dir /mnt/restitution/aubagne
    """
    from crisiskit.cli.wiring import run_teardown

    s = state(ctx)
    if export_dir is not None and no_export:
        raise InputError("--export-dir and --no-export exclude each other")
    operation.need_terminal(yes=yes, dry_run=dry_run, command="teardown")
    setup = dataclasses.replace(_setup(ctx, commune, None), signer=signer_for(sign_with))
    cid = setup.commune.id
    target = _target(ctx, setup, sandbox)

    def show(tplan: TeardownPlan) -> None:
        if not s.json:
            asking = not (yes or dry_run or tplan.empty)
            render_teardown_plan(tplan, target, verbose=s.verbose, asking=asking)

    def confirm(tplan: TeardownPlan) -> bool:
        if yes:
            return True
        from crisiskit.console.plan import plan_summary

        console.info(f"Summary: {plan_summary(tplan.plan)}.", wrap=True)
        return _typed(cid, f"This deletes {cid}'s crisis kit {target.where}. Type the commune "
                           f"id ({cid}) to go on")

    def confirm_purge(tplan: TeardownPlan) -> bool:
        return yes or _typed("purge", "--purge deletes the accounts PERMANENTLY: they cannot "
                                      "be restored. Type purge to confirm")

    def confirm_scope(tplan: TeardownPlan) -> bool:
        n = len(tplan.scope.users) + (1 if tplan.scope.group else 0)
        return yes or _typed(cid, f"The local state is lost: these {n} objects were found by "
                                  f"their tag alone. Type the commune id ({cid}) again")

    progress = operation.RunProgress(json=s.json)
    try:
        with progress:
            report = run_teardown(
                setup, sandbox=sandbox, operator=_operator(operator), export_dir=export_dir,
                no_export=no_export, purge=purge, dry_run=dry_run, from_tenant=from_tenant,
                show_plan=show, confirm=confirm, confirm_purge=confirm_purge,
                confirm_scope=confirm_scope, phase=progress,
            )
    except KeyboardInterrupt:
        raise typer.Exit(operation.interrupted(progress, rerun=rerun_command())) from None
    if s.json:
        console.emit_json({**report.to_json(), "target": target.to_json()})
    else:
        render_teardown_report(report, cid)
        if dry_run and not report.nothing:
            operation.dry_run_done()
    _exit(report, target)


def _exit(report: TeardownReport, target: Target) -> None:
    if not report.confirmed:
        raise operation.declined(target)
    if report.export_blocked:
        raise PreconditionFailed(
            f"the export failed or did not verify: nothing was deleted "
            f"({report.export_blocked}). A rerun resumes the export"
        )
    if not report.ok and report.execution is not None:
        raise OperationFailed("teardown incomplete (a rerun resumes it):\n  "
                              + "\n  ".join(report.execution.failures))


def render_teardown_report(report: TeardownReport, commune: str) -> None:
    """Print what a teardown did."""
    if report.nothing:
        console.text(f"Nothing provisioned for {commune}: no crisis account, group or loan "
                     "is recorded or tagged for it. Nothing was done.")
        return
    if not report.executed:
        return
    for run_id in report.resumed:
        console.text(f"Resumed after interrupted run #{run_id}.")
    ex = report.execution
    assert ex is not None
    for r in ex.results.values():
        if r.step.kind in ("group", "user") and r.step.action == "purge" and r.status == "done":
            console.text(f"  {r.step.kind} {r.step.key}: {r.detail}")
    if report.complete:
        console.text(f"Teardown of {commune} complete.")
        for path in report.attestation.values():
            console.text(f"Attestation: {path}")
