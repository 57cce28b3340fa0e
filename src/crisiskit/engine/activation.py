"""Activation of one commune's crisis kit: the operation the CLI's `plan` and `activate` call.

    lock → desired kit → journal hints → observe → plan (diff) → pre-checks → (confirm) →
    run: execute the plan (documents handed over mid-run) → outcome → documents

It builds a plan and hands it to the one executor inside the one run lifecycle; nothing here
sends a request itself. As soon as the accounts, passes and loans exist, the credentials
file, the sign-in slips and the handover sheet are written (`HandoverPoint`), while the Team,
mailboxes and site may still be provisioning; the sheet is written again at the end. Several
communes run concurrently in one process (`crisiskit.engine.multi`), each through `run_one`
with its own lock, journal, outputs and audit. Everything runs inside one event loop (the
Graph client belongs to it), so the confirmation prompt is asked from a worker thread.
Secrets never leave `IssuedPass` / `CredentialRow` except into the credentials file (and the
terminal with --show-secrets).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from crisiskit.engine.context import Context, desired
from crisiskit.engine.executor import Executor
from crisiskit.engine.handover import (
    KitState,
    credential_states,
    credentials_digest,
    credentials_sink,
    record_edition,
    sheet_inputs,
    write_documents,
)
from crisiskit.engine.hints import journal_hints
from crisiskit.engine.leaving import leaver_facts
from crisiskit.engine.progress import HANDOVER, ActivationProgress, PhaseFactory, quiet_phase
from crisiskit.engine.report import ActivationReport, outcome_of
from crisiskit.engine.run import NoLock, recorded, refuse
from crisiskit.engine.session import RunSession, StepResult
from crisiskit.plan.activation import ActivationPlan, preconditions
from crisiskit.plan.desired import DesiredKit, OpenLoan
from crisiskit.plan.diff import diff
from crisiskit.plan.diff_group import TeamPath
from crisiskit.plan.leavers import PHASE as LEAVERS
from crisiskit.plan.observe import Observed, observe
from crisiskit.words import listing

if TYPE_CHECKING:
    from crisiskit.documents.kit import KitDocuments

KIND = "activate"
# What the crisis cell needs to start: once every step of these kinds is over, the documents
# are handed over, whatever Teams, Exchange and SharePoint are still doing.
HANDOVER_KINDS = frozenset({"user", "tap", "loan", "phone_method"})

# How the handover line names what is still provisioning.
SERVICES = {"team": "the Team", "mailboxes": "mailboxes", "sharepoint": "SharePoint"}


@dataclass
class Planned:
    """An activation's plan with what it was computed from."""

    kit: DesiredKit
    observed: Observed
    plan: ActivationPlan


@dataclass(frozen=True)
class Options:
    """How an activation runs: waits (or looks once), which Team path (benchmarks only).

    `reserved`: shared by the communes of one command, the devices they are about to lend.
    """

    wait: bool = True
    team_path: TeamPath = "scratch"
    reserved: list[OpenLoan] | None = field(default=None, compare=False)


# Asked once the plan is known: None to stop (a dry run, or declined), else go.
Gate = Callable[[ActivationPlan], Awaitable[bool]]


async def plan_activation(ctx: Context, options: Options = Options()) -> Planned:
    """Observe the tenant and compute the plan and its refusals (read-only)."""
    now = ctx.clock.now()
    kit = desired(ctx.setup, ctx.store, now, options.reserved)
    observed = await observe(ctx.graph, kit, journal_hints(ctx.store, kit))
    leavers = leaver_facts(ctx.store, ctx.setup, observed.strays)
    plan = diff(
        kit, observed, credential_states(ctx.setup.credentials_path), now, leavers,
        wait=options.wait, team_path=options.team_path,
    )
    plan.refusals = preconditions(ctx.setup.commune, kit, plan, now)
    plan.left_out = list(kit.left_out)
    return Planned(kit, observed, plan)


async def activate(
    ctx: Context,
    *,
    dry_run: bool = False,
    show_plan: Callable[[ActivationPlan], None] = lambda plan: None,
    confirm: Callable[[ActivationPlan], bool] | None = None,
    phase: PhaseFactory = quiet_phase,
    options: Options = Options(),
) -> ActivationReport:
    """Plan, check preconditions, confirm, and execute one activation (under the lock)."""

    async def gate(plan: ActivationPlan) -> bool:
        show_plan(plan)
        if dry_run:
            return False
        if confirm is not None and not plan.empty and plan.refusals == []:
            return await asyncio.to_thread(confirm, plan)
        return True

    return await run_one(ctx, gate, dry_run=dry_run, phase=phase, options=options)


async def run_one(
    ctx: Context,
    gate: Gate,
    *,
    dry_run: bool = False,
    phase: PhaseFactory = quiet_phase,
    options: Options = Options(),
) -> ActivationReport:
    """Activate one commune: plan under its lock, pass the gate, execute, write documents."""
    moment = ctx.clock.now()
    lock = NoLock() if dry_run else ctx.lock
    with ctx.graph.scope() as traffic:
        async with lock.hold(ctx.commune):
            planned = await plan_activation(ctx, options)
            report = ActivationReport(plan=planned.plan, no_wait=not options.wait)
            go = await gate(planned.plan)
            if dry_run:
                return report
            if planned.plan.refusals:
                refuse(ctx, KIND, planned.plan.refusals,
                       "activation refused, nothing was changed")
            if not go:
                report.confirmed = False
                return report
            # Compile the document templates while the run waits on Graph, not after it.
            from crisiskit.documents.kit import prepare

            threading.Thread(target=prepare, name="templates", daemon=True).start()
            handover = await _execute(ctx, planned, report, phase)
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
            state = outcome.state() if outcome else KitState(failed=True)
            if handover.written is not None and handover.state == state:
                report.documents = handover.written  # nothing changed since the handover
            else:
                inputs = sheet_inputs(ctx.store, ctx.commune, ctx.clock.now(), state)
                keep = handover.slips_if_unchanged()
                report.documents = write_documents(setup, kit, moment, inputs, state, keep)
                record_edition(ctx.store, ctx.operator, ctx.commune, state, report.documents,
                               inputs)
            return report


class HandoverPoint:
    """Write the documents the moment the accounts, passes and loans exist (a listener).

    Only when something is still provisioning then: otherwise the end of the run writes them
    at once. The writing runs in a worker thread, the store is read in the loop's.
    """

    def __init__(self, ctx: Context, planned: Planned, session: RunSession) -> None:
        self.ctx = ctx
        self.planned = planned
        self.session = session
        # The leavers' steps (users disabled, passes removed, loans closed) are not awaited.
        self.left = {s.id for s in planned.plan.plan.steps
                     if s.kind in HANDOVER_KINDS and s.phase != LEAVERS}
        self.task: asyncio.Task[None] | None = None
        self.written: KitDocuments | None = None
        self.state: KitState | None = None
        self.digest: str | None = None

    def step(self, result: StepResult) -> None:
        self.left.discard(result.step.id)
        if self.left or self.task is not None:
            return
        p = self.planned
        state = outcome_of(p.plan.plan, p.kit, p.observed, self.session.execution).state()
        if state.preparing and not state.failed:
            self.task = asyncio.get_running_loop().create_task(self._write(state))

    async def _write(self, state: KitState) -> None:
        ctx = self.ctx
        now = ctx.clock.now()
        inputs = sheet_inputs(ctx.store, ctx.commune, now, state)
        written = await asyncio.to_thread(
            write_documents, ctx.setup, self.planned.kit, now, inputs, state
        )
        record_edition(ctx.store, ctx.operator, ctx.commune, state, written, inputs)
        self.written, self.state = written, state
        self.digest = credentials_digest(ctx.setup.credentials_path)
        self.session.event(
            HANDOVER, "fiche-de-remise",
            f"credentials, sign-in slips and sheet written in {ctx.setup.outputs}: hand them "
            f"over now ({listing([SERVICES[p] for p in state.preparing])} still provisioning)",
            phase=HANDOVER, journal=False,
        )

    def slips_if_unchanged(self) -> Path | None:
        """Return the slips written at the handover if the credentials have not changed."""
        if self.written is None or self.written.slips is None:
            return None
        same = self.digest == credentials_digest(self.ctx.setup.credentials_path)
        return self.written.slips if same else None

    async def finished(self) -> None:
        """Wait for the documents being written (re-raising what stopped them)."""
        if self.task is not None:
            await self.task


async def _execute(
    ctx: Context, planned: Planned, report: ActivationReport, phase: PhaseFactory
) -> HandoverPoint:
    """Run the plan inside a recorded run; fill the report's outcome."""
    async with recorded(ctx, KIND, playbook=ctx.setup.playbook.name) as run:
        report.resumed = run.resumed
        session = RunSession(ctx, run.journal, save_passes=credentials_sink(
            ctx.setup.credentials_path, ctx.setup.home
        ))
        progress = ActivationProgress(phase, planned.kit, planned.plan.plan)
        session.listeners.append(progress.step)
        session.event_listeners.append(progress.event)
        handover = HandoverPoint(ctx, planned, session)
        session.listeners.append(handover.step)
        outcome = None
        try:
            execution = await Executor(session).run(planned.plan.plan)
            await handover.finished()
            outcome = outcome_of(planned.plan.plan, planned.kit, planned.observed, execution)
            run.finish(outcome.ok, outcome.to_json())
        finally:
            if handover.task is not None and not handover.task.done():
                handover.task.cancel()
            progress.close(outcome)
        report.outcome = outcome
        report.executed = True
        return handover


async def plan_only(ctx: Context) -> ActivationPlan:
    """Observe and diff without writing anything (the `plan` command)."""
    return (await plan_activation(ctx)).plan
