"""Activation of one commune's crisis kit: the operation the CLI's `plan` and `activate` call.

    pre-write checks → lock (tenant lease) → desired kit → journal hints → observe → plan
    (diff, devices and seats claimed in one transaction) → pre-checks → (confirm) →
    run: execute the plan (documents handed over mid-run) → outcome → documents

It builds a plan and hands it to the one executor inside the one run lifecycle; nothing here
sends a request itself. As soon as the accounts, passes and loans exist, the credentials
file, the sign-in slips and the handover sheet are written (`HandoverPoint`), once the lease
is confirmed still ours, while the Team, mailboxes and site may still be provisioning; the
sheet is written again at the end (only then, if the run ends within seconds of the
slips). A run that loses its lease stops, voids the passes it issued and withdraws what it
handed over (exit 1). Several communes run concurrently in one
process (`crisiskit.engine.multi`), each through `run_one` with its own lock, claim, journal,
outputs and audit. Everything runs inside one event loop (the Graph client belongs to it), so
the confirmation prompt is asked from a worker thread. Secrets never leave `IssuedPass` /
`CredentialRow` except into the credentials file (and the terminal with --show-secrets).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from crisiskit.engine import claims, preflight
from crisiskit.engine.context import Context, desired
from crisiskit.engine.executor import Executor
from crisiskit.engine.handover import (
    KitState,
    credential_states,
    credentials_digest,
    credentials_sink,
    record_edition,
    sheet_inputs,
    void_edition,
    void_passes,
    write_documents,
    write_slips,
)
from crisiskit.engine.hints import journal_hints
from crisiskit.engine.leaving import leaver_facts
from crisiskit.engine.progress import HANDOVER, ActivationProgress, PhaseFactory, quiet_phase
from crisiskit.engine.report import ActivationReport, outcome_of
from crisiskit.engine.run import CommuneLock, Hold, NoLock, Run, recorded, refuse
from crisiskit.engine.session import Event, RunSession, StepResult
from crisiskit.errors import LeaseLost
from crisiskit.plan.activation import ActivationPlan, preconditions
from crisiskit.plan.desired import DesiredKit
from crisiskit.plan.diff import diff
from crisiskit.plan.diff_group import TeamPath
from crisiskit.plan.leavers import PHASE as LEAVERS
from crisiskit.plan.observe import Observed, observe
from crisiskit.resources.taps import IssuedPass
from crisiskit.words import listing

if TYPE_CHECKING:
    from crisiskit.documents.kit import KitDocuments

KIND = "activate"
# What the crisis cell needs to start: once every step of these kinds is over, the documents
# are handed over, whatever Teams, Exchange and SharePoint are still doing.
HANDOVER_KINDS = frozenset({"user", "tap", "loan", "phone_method"})
T = TypeVar("T")

# How long the provisional sheet waits for the run's end (seconds, scaled like every wait):
# a sheet that the complete one would replace within seconds is not printed twice.
SHEET_GRACE_S = 3.0
# How the handover line names what is still provisioning.
SERVICES = {"team": "the Team", "mailboxes": "mailboxes", "sharepoint": "SharePoint"}


@dataclass
class Planned:
    """An activation's plan with what it was computed from."""

    kit: DesiredKit
    observed: Observed
    plan: ActivationPlan
    notices: list[str] = field(default_factory=list)  # what planning recorded (a rebuild)


@dataclass(frozen=True)
class Options:
    """How an activation runs: waits (or looks once), which Team path (benchmarks only).

    The devices of the communes of one command (`activate A B C`) are kept apart by the
    claims every run records in the state store (crisiskit.engine.claims), as for runs of
    several processes.
    """

    wait: bool = True
    team_path: TeamPath = "scratch"


# Asked once the plan is known: None to stop (a dry run, or declined), else go.
Gate = Callable[[ActivationPlan], Awaitable[bool]]


async def plan_activation(
    ctx: Context, options: Options = Options(), claim: str | None = None, *,
    rebuild: bool = False,
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
        ctx.graph, provisional, journal_hints(ctx.store, provisional),
        clock=ctx.clock, rules=ctx.rules,
    )
    notices = []
    if rebuild and claim is not None:
        notices = preflight.adopt(ctx, provisional, observed).notices
    credentials = credential_states(ctx.setup.credentials_path)
    leavers = leaver_facts(ctx.store, ctx.setup, observed.strays)
    with ctx.store.transaction():
        others = claims.reservations(ctx, claim)
        kit = desired(ctx.setup, ctx.store, now, claims.devices_of(others))
        plan = diff(
            kit, observed, credentials, now, leavers,
            wait=options.wait, team_path=options.team_path,
        )
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
    options: Options = Options(),
    rebuild_state: bool = False,
) -> ActivationReport:
    """Plan, check preconditions, confirm, and execute one activation (under the lock)."""

    async def gate(plan: ActivationPlan) -> bool:
        show_plan(plan)
        if dry_run:
            return False
        if confirm is not None and not plan.empty and plan.refusals == []:
            return await asyncio.to_thread(confirm, plan)
        return True

    return await run_one(
        ctx, gate, dry_run=dry_run, phase=phase, options=options, rebuild_state=rebuild_state
    )


async def run_one(
    ctx: Context,
    gate: Gate,
    *,
    dry_run: bool = False,
    phase: PhaseFactory = quiet_phase,
    options: Options = Options(),
    rebuild_state: bool = False,
) -> ActivationReport:
    """Activate one commune: plan under its lock, pass the gate, execute, write documents.

    Before anything is written: the output folder is probed and the local state checked
    (crisiskit.engine.preflight); a lost or emptied state beside earlier outputs refuses,
    unless `rebuild_state` asks to rebuild it from the tenant. The run's claim on devices and
    seats is released at the end, whatever happens.
    """
    lock = NoLock() if dry_run else ctx.lock
    claim = None if dry_run else claims.new_claim()
    try:
        return await _run(ctx, lock, claim, gate, phase, options, rebuild_state)
    finally:
        claims.release(ctx, claim)


async def _run(
    ctx: Context,
    lock: CommuneLock,
    claim: str | None,
    gate: Gate,
    phase: PhaseFactory,
    options: Options,
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
            planned = await plan_activation(ctx, options, claim, rebuild=rebuild)
            report = ActivationReport(
                plan=planned.plan, no_wait=not options.wait, notices=held.notices
            )
            report.notices.extend(planned.notices)
            go = await gate(planned.plan)
            if dry_run:
                return report
            if planned.plan.refusals:
                refuse(ctx, KIND, planned.plan.refusals,
                       "activation refused, nothing was changed")
            if not go:
                report.confirmed = False
                return report
            handover = await _execute(ctx, planned, report, phase, held, claim)
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
                # In a worker thread, as at the handover: the other communes of the command
                # keep polling meanwhile (the store is read and written in the loop's).
                report.documents = await asyncio.to_thread(
                    write_documents, setup, kit, moment, inputs, state, keep
                )
                record_edition(ctx.store, ctx.operator, ctx.commune, state, report.documents,
                               inputs)
            return report


class HandoverPoint:
    """Hand the documents over the moment the accounts, passes and loans exist (a listener).

    Only when something is still provisioning then: otherwise the end of the run writes them
    at once. The lease is confirmed still ours first (nothing is handed over by a run that
    lost the commune). The sign-in slips are written first: they depend only on the passes.
    The provisional sheet follows, unless the run ends within `SHEET_GRACE_S` (scaled like
    every wait): then the end's complete sheet is the only edition, and keeps these slips.
    The writing runs in worker threads, the store is read in the loop's.
    """

    def __init__(self, ctx: Context, planned: Planned, session: RunSession, held: Hold) -> None:
        self.ctx = ctx
        self.planned = planned
        self.session = session
        self.held = held
        # The leavers' steps (users disabled, passes removed, loans closed) are not awaited.
        self.left = {s.id for s in planned.plan.plan.steps
                     if s.kind in HANDOVER_KINDS and s.phase != LEAVERS}
        self.task: asyncio.Task[None] | None = None
        self.ended = asyncio.Event()  # the plan's execution is over, one way or another
        self.completed = False  # ... and returned: the end of the run writes the sheet
        self.slips: Path | None = None  # written at this point, from `digest`'s credentials
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
        await self.held.confirm()  # LeaseLost: the run stops, nothing is handed over
        self.digest = credentials_digest(ctx.setup.credentials_path)
        self.slips = await asyncio.to_thread(
            write_slips, ctx.setup, self.planned.kit, ctx.clock.now()
        )
        with suppress(TimeoutError):
            await asyncio.wait_for(self.ended.wait(), SHEET_GRACE_S * ctx.wait_scale)
        if self.completed:
            self.session.event(
                HANDOVER, "fiche-de-remise",
                f"sign-in slips written in {ctx.setup.outputs} mid-run; the run ended "
                "within seconds, so the sheet is written once, at its end",
                phase=HANDOVER, journal=False,
            )
            return
        await self.held.confirm()
        now = ctx.clock.now()
        inputs = sheet_inputs(ctx.store, ctx.commune, now, state)
        written = await asyncio.to_thread(
            write_documents, ctx.setup, self.planned.kit, now, inputs, state, self.slips
        )
        record_edition(ctx.store, ctx.operator, ctx.commune, state, written, inputs)
        self.written, self.state = written, state
        self.session.event(
            HANDOVER, "fiche-de-remise",
            f"credentials, sign-in slips and sheet written in {ctx.setup.outputs}: hand them "
            f"over now ({listing([SERVICES[p] for p in state.preparing])} still provisioning)",
            phase=HANDOVER, journal=False,
        )

    def slips_if_unchanged(self) -> Path | None:
        """Return the slips written at the handover if the credentials have not changed."""
        if self.slips is None:
            return None
        same = self.digest == credentials_digest(self.ctx.setup.credentials_path)
        return self.slips if same else None

    def handed_over(self) -> KitDocuments | None:
        """What this point wrote: the edition, or the slips alone (to withdraw on LeaseLost)."""
        if self.written is not None:
            return self.written
        if self.slips is not None:
            from crisiskit.documents.kit import KitDocuments

            return KitDocuments(slips=self.slips)
        return None

    async def finished(self) -> None:
        """Wait for the documents being written (re-raising what stopped them).

        Shielded: a run that stops while they are written never cuts the writing half-way
        (a worker thread would go on writing files nobody knows of): `settle` waits for it.
        """
        if self.task is not None:
            await asyncio.shield(self.task)

    async def settle(self) -> None:
        """Wait until a writing under way has ended, so that what it wrote is known (and
        withdrawn if the lease is lost); what stopped it is reported by `finished`."""
        if self.task is not None:
            with suppress(Exception):
                await asyncio.shield(self.task)


async def _execute(
    ctx: Context,
    planned: Planned,
    report: ActivationReport,
    phase: PhaseFactory,
    held: Hold,
    claim: str | None,
) -> HandoverPoint:
    """Run the plan inside a recorded run; fill the report's outcome.

    The run stops as soon as its hold on the commune is lost (a tenant lease taken over while
    this machine was cut off), and, lost then or found lost by the handover point or by the
    final `confirm()`, it ends failed with `LeaseLost`: the passes it issued are voided in the
    credentials file, the slips and sheet it handed over are withdrawn.
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
        handover = HandoverPoint(ctx, planned, session, held)
        session.listeners.append(handover.step)
        session.listeners.append(_warm_on_wait)
        session.event_listeners.append(_warm_on_waiting)
        outcome = None
        try:
            try:
                try:
                    execution = await _until_lost(
                        Executor(session).run(planned.plan.plan), held
                    )
                    handover.completed = True
                finally:
                    handover.ended.set()  # interrupted or failed: the provisional sheet now
                # The lease is confirmed while the handover's documents are still written.
                await asyncio.gather(_until_lost(handover.finished(), held), held.confirm())
            except LeaseLost as exc:
                await handover.settle()
                raise _voided(ctx, run, exc, issued, handover) from None
            outcome = outcome_of(planned.plan.plan, planned.kit, planned.observed, execution)
            run.finish(outcome.ok, outcome.to_json())
        finally:
            await handover.settle()
            progress.close(outcome)
        report.outcome = outcome
        report.executed = True
        return handover


@functools.cache
def _warm_documents() -> None:
    """Compile the document templates in a thread, once per process (several communes in one
    command share them), so that writing the documents costs only their rendering.

    Started when the run first waits on the service (a "waiting" event, or a wait step's
    result), not before: the thread holds the interpreter while it compiles, and until then
    the loop is busy with what starts the service's longest delays (the accounts, their
    licences: started with the first write, it held the licences back 80-100 ms in a
    5-commune run).
    """
    from crisiskit.documents.kit import prepare

    threading.Thread(target=prepare, name="templates", daemon=True).start()


def _warm_on_wait(result: StepResult) -> None:
    if result.step.action == "wait":
        _warm_documents()


def _warm_on_waiting(event: Event) -> None:
    if event.status == "waiting":
        _warm_documents()


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


def _voided(
    ctx: Context, run: Run, exc: LeaseLost, issued: list[IssuedPass], handover: HandoverPoint
) -> LeaseLost:
    """Void the passes this run issued and what it handed over; record why it failed (exit 1)."""
    voided = void_passes(ctx.setup.credentials_path, ctx.setup.home, issued)
    handed = handover.handed_over()
    withdrawn = (
        void_edition(ctx.store, ctx.operator, ctx.setup, handed, str(exc))
        if handed is not None else []
    )
    run.finish(False, {"error": "lease lost", "reason": str(exc), "voided_passes": voided,
                       "withdrawn_documents": withdrawn})
    ctx.store.audit_append(
        ctx.operator, ctx.commune, "credentials.voided", str(ctx.setup.credentials_path),
        "voided", details={"accounts": ", ".join(voided), "reason": str(exc)},
    )
    passes = (
        f"the {len(voided)} Temporary Access Passes it issued are not valid: they were "
        f"removed from {ctx.setup.credentials_path} ({', '.join(voided)})"
        if voided else "it issued no Temporary Access Pass"
    )
    documents = (
        f"; the documents it had handed over are withdrawn ({', '.join(withdrawn)}): do not "
        "use printed copies"
        if withdrawn else ""
    )
    return LeaseLost(
        f"{exc}. This run stopped writing and hands nothing over: {passes}{documents}. The "
        f"run holding the commune now issues its own; once it has finished, `crisiskit "
        f"status {ctx.commune}` shows the kit"
    )


async def plan_only(ctx: Context) -> ActivationPlan:
    """Observe and diff without writing anything (the `plan` command)."""
    return (await plan_activation(ctx)).plan
