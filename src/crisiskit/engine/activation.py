"""Activation of one commune's crisis kit: the operation the CLI's `plan` and `activate` call.

    lock → desired kit → observe → plan (diff) → pre-checks → (confirm) → run:
        execute the plan → outcome → documents

It builds a plan and hands it to the one executor inside the one run lifecycle; nothing here
sends a request itself. Everything runs inside one event loop (the Graph client belongs to
it), so the confirmation prompt is asked from a worker thread. Secrets never leave
`IssuedPass` / `CredentialRow` except into the credentials file (and the terminal with
--show-secrets).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

from crisiskit.engine import claims, preflight
from crisiskit.engine.context import Context, desired, journaled
from crisiskit.engine.executor import Executor
from crisiskit.engine.handover import (
    credential_states,
    credentials_sink,
    void_passes,
    write_documents,
)
from crisiskit.engine.leaving import leaver_facts
from crisiskit.engine.report import (
    ActivationProgress,
    ActivationReport,
    PhaseFactory,
    outcome_of,
    quiet_phase,
    unwaited_pending,
)
from crisiskit.engine.run import CommuneLock, Hold, NoLock, Run, recorded, refuse
from crisiskit.engine.session import RunSession, StepResult
from crisiskit.errors import LeaseLost
from crisiskit.plan.activation import ActivationPlan, preconditions
from crisiskit.plan.desired import DesiredKit
from crisiskit.plan.diff import diff
from crisiskit.plan.observe import Observed, observe
from crisiskit.resources.taps import IssuedPass

KIND = "activate"
T = TypeVar("T")


@dataclass
class Planned:
    """An activation's plan with what it was computed from."""

    kit: DesiredKit
    observed: Observed
    plan: ActivationPlan
    notices: list[str] = field(default_factory=list)  # what planning recorded (a rebuild)


async def plan_activation(
    ctx: Context, claim: str | None = None, *, rebuild: bool = False
) -> Planned:
    """Observe the tenant and compute the plan and its refusals.

    The devices and the seat check are decided in one write transaction with every other
    activation of this home (crisiskit.engine.claims); with a `claim`, what the plan takes is
    reserved there when nothing refuses it. Without one (dry run, `plan`), nothing is written.
    With `rebuild` (and a claim), what the tenant holds of the kit is first recorded in the
    journal (crisiskit.engine.preflight.adopt).
    """
    now = ctx.clock.now()
    before = claims.reservations(ctx, claim)
    provisional = desired(ctx.setup, ctx.store, now, claims.devices_of(before))
    observed = await observe(
        ctx.graph, provisional, clock=ctx.clock, rules=ctx.rules, created=journaled(ctx)
    )
    notices = []
    if rebuild and claim is not None:
        notices = preflight.adopt(ctx, provisional, observed).notices
    credentials = credential_states(ctx.setup.credentials_path)
    leavers = leaver_facts(ctx.store, ctx.setup, observed.strays)
    with ctx.store.transaction():
        others = claims.reservations(ctx, claim)
        kit = desired(ctx.setup, ctx.store, now, claims.devices_of(others))
        plan = diff(kit, observed, credentials, now, leavers)
        plan.seats_reserved, plan.reserved_by = claims.seats_elsewhere(
            before, others, kit.sku_part_number
        )
        plan.refusals = preconditions(ctx.setup.commune, kit, plan, now)
        plan.left_out = list(kit.left_out)
        if claim is not None and not plan.refusals:
            claims.record(ctx, claim, kit, plan.seats_needed)
    return Planned(kit, observed, plan, notices)


async def activate(
    ctx: Context,
    *,
    dry_run: bool = False,
    show_plan: Callable[[ActivationPlan], None] = lambda plan: None,
    confirm: Callable[[ActivationPlan], bool] | None = None,
    phase: PhaseFactory = quiet_phase,
    rebuild_state: bool = False,
) -> ActivationReport:
    """Plan, check preconditions, confirm, and execute one activation (under the lock).

    Before anything is written: the output folder is probed and the local state checked
    (crisiskit.engine.preflight); a lost or emptied state beside earlier outputs refuses,
    unless `rebuild_state` asks to rebuild it from the tenant.
    """
    lock = NoLock() if dry_run else ctx.lock
    claim = None if dry_run else claims.new_claim()
    try:
        return await _activate(ctx, lock, claim, show_plan, confirm, phase, rebuild_state)
    finally:
        claims.release(ctx, claim)


async def _activate(
    ctx: Context,
    lock: CommuneLock,
    claim: str | None,
    show_plan: Callable[[ActivationPlan], None],
    confirm: Callable[[ActivationPlan], bool] | None,
    phase: PhaseFactory,
    rebuild: bool,
) -> ActivationReport:
    dry_run = claim is None

    def checks() -> None:
        if rebuild:
            preflight.check_rebuild(ctx)
        else:
            preflight.check_state(ctx)
        if not dry_run:
            preflight.check_outputs(ctx.setup)

    moment = ctx.clock.now()
    with ctx.graph.scope() as traffic:
        async with lock.hold(ctx.commune, KIND, before=checks) as held:
            planned = await plan_activation(ctx, claim, rebuild=rebuild)
            report = ActivationReport(plan=planned.plan, notices=held.notices)
            report.notices.extend(planned.notices)
            show_plan(planned.plan)
            if dry_run:
                return report
            if planned.plan.refusals:
                refuse(ctx, KIND, planned.plan.refusals,
                       "activation refused, nothing was changed")
            if confirm is not None and not planned.plan.empty:
                if not await asyncio.to_thread(confirm, planned.plan):
                    report.confirmed = False
                    return report
            # Compile the document templates while the run waits on Graph, not after it.
            from crisiskit.documents.kit import prepare

            threading.Thread(target=prepare, name="templates", daemon=True).start()
            await _execute(ctx, planned, report, phase, held, claim)
            report.stats = {
                "http_requests": traffic.stats.http_requests,
                "batches": traffic.stats.batches,
                "sub_requests": traffic.stats.sub_requests,
                "writes": traffic.stats.writes,
                "retries": traffic.stats.retries,
                "throttled": traffic.stats.throttled,
                "ambiguous": traffic.stats.ambiguous,
            }
            kit = planned.kit
            report.loans = [
                {"kind": a.kind, "asset_tag": a.asset_tag, "upn": a.upn} for a in kit.allocations
            ]
            setup = ctx.setup
            setup.outputs.mkdir(parents=True, exist_ok=True)
            if setup.credentials_path.exists():
                report.credentials_path = setup.credentials_path
            outcome = report.outcome
            report.documents = write_documents(
                setup,
                kit,
                moment,
                ctx.store,
                team_url=outcome.team_url if outcome else None,
                sharepoint_url=outcome.drive_url if outcome else None,
                still_provisioning=list(outcome.mailboxes_pending) if outcome else [],
                operator=ctx.operator,
            )
            return report


async def _execute(
    ctx: Context,
    planned: Planned,
    report: ActivationReport,
    phase: PhaseFactory,
    held: Hold,
    claim: str | None,
) -> None:
    """Run the plan inside a recorded run; fill the report's outcome.

    The run stops as soon as its hold on the commune is lost (a tenant lease taken over while
    this machine was cut off), and, lost then or found lost by the final `confirm()`, it ends
    failed with `LeaseLost`: the passes it issued are voided in the credentials file, and
    nothing is handed over.
    """
    async with recorded(ctx, KIND, playbook=ctx.setup.playbook.name) as run:
        report.resumed = run.resumed
        issued: list[IssuedPass] = []
        sink = credentials_sink(ctx.setup.credentials_path, ctx.setup.home)

        def save(passes: Sequence[IssuedPass]) -> None:
            sink(passes)
            issued.extend(passes)

        session = RunSession(ctx, run.journal, save_passes=save)
        progress = ActivationProgress(phase, planned.kit, planned.plan.plan)
        session.listeners.append(progress.step)
        if claim is not None:
            session.listeners.append(lambda result: _count_seat(ctx, claim, result))
        session.event_listeners.append(progress.event)
        outcome = None
        try:
            try:
                execution = await _until_lost(Executor(session).run(planned.plan.plan), held)
                await held.confirm()
            except LeaseLost as exc:
                raise _voided(ctx, run, exc, issued) from None
            # A rerun does not wait again for mailboxes licensed earlier: it looked once.
            for upn in unwaited_pending(planned.kit, planned.observed, execution):
                session.event("mailbox", upn, "still provisioning", phase="mailboxes")
            outcome = outcome_of(planned.plan.plan, planned.kit, planned.observed, execution)
            run.finish(outcome.ok, outcome.to_json())
        finally:
            progress.close(outcome)
        report.outcome = outcome
        report.executed = True


def _count_seat(ctx: Context, claim: str, result: StepResult) -> None:
    """Count the claim's seats down as each account's licence is assigned."""
    step = result.step
    if step.kind == "licence" and step.action == "create" and result.status == "done":
        if getattr(step.payload, "target_kind", "") == "user":
            ctx.store.seats_assigned(claim)


async def _until_lost(work: Coroutine[Any, Any, T], held: Hold) -> T:
    """Run `work` to its end, or cancel it the moment `held` is lost (LeaseLost)."""
    task = asyncio.ensure_future(work)
    lost = asyncio.ensure_future(held.wait_lost())
    try:
        await asyncio.wait({task, lost}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        lost.cancel()
        if not task.done():
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
    if held.lost is not None:
        raise LeaseLost(held.lost)
    return task.result()


def _voided(ctx: Context, run: Run, exc: LeaseLost, issued: list[IssuedPass]) -> LeaseLost:
    """Void the passes this run issued, record why the run failed, and say it (exit 1)."""
    voided = void_passes(ctx.setup.credentials_path, ctx.setup.home, issued)
    run.finish(False, {"error": "lease lost", "reason": str(exc), "voided_passes": voided})
    ctx.store.audit_append(
        ctx.operator, ctx.commune, "credentials.voided", str(ctx.setup.credentials_path),
        "voided", details={"accounts": ", ".join(voided), "reason": str(exc)},
    )
    passes = (
        f"the {len(voided)} Temporary Access Passes it issued are not valid: they were "
        f"removed from {ctx.setup.credentials_path} ({', '.join(voided)})"
        if voided else "it issued no Temporary Access Pass"
    )
    return LeaseLost(
        f"{exc}. This run stopped writing and hands nothing over: {passes}. The run holding "
        f"the commune now issues its own; once it has finished, `crisiskit status "
        f"{ctx.commune}` shows the kit"
    )


async def plan_only(ctx: Context) -> ActivationPlan:
    """Observe and diff without writing anything (the `plan` command)."""
    return (await plan_activation(ctx)).plan
