"""Teardown of one commune's crisis kit: the operation the CLI's `teardown` calls.

    lock → scope (journal ∩ tag) → export folder → plan → (confirm: the commune id typed;
    --purge: a second confirmation; --from-tenant: the commune id again) → recorded run:
        adopt what --from-tenant found; audit --no-export; execute the plan
        (freeze → export + manifest → delete → purge → loans) → attestation

It builds a plan and hands it to the one executor inside the one run lifecycle. The gate
between the export and the deletions is a step of the plan: a manifest that is not written
or does not verify fails, and every deletion after it is skipped (`export_blocked`, exit 3).
A rerun resumes: the plan of a half-done teardown holds only what is left, the export
resumes in the same folder (found in the journal), and a teardown already complete has
nothing to do (zero writes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crisiskit.engine.context import Context
from crisiskit.engine.export import (
    new_export_root,
    prepare_root,
    run_steps,
    scope_of,
    stats_of,
)
from crisiskit.engine.progress import PhaseFactory, quiet_phase
from crisiskit.engine.run import NoLock, recorded
from crisiskit.engine.session import Execution, RunSession
from crisiskit.errors import PreconditionFailed
from crisiskit.plan.export import manifest_id
from crisiskit.plan.scope import History, history
from crisiskit.plan.teardown import OpenLoan, TeardownOptions, TeardownPlan, teardown_plan

KIND = "teardown"
# Kinds that go with the accounts and the group: forgotten once the teardown is complete.
DEPENDENT_KINDS = ("tap", "phone_method", "membership", "licence", "team", "channel", "drive",
                   "folder", "mailbox")

Confirm = Callable[[TeardownPlan], bool]


@dataclass
class TeardownReport:
    """What a teardown did (or would do), for the CLI to render."""

    plan: TeardownPlan | None = None
    nothing: bool = False
    confirmed: bool = True
    executed: bool = False
    resumed: list[int] = field(default_factory=list)
    execution: Execution | None = None
    export_root: str | None = None
    export_blocked: str | None = None
    complete: bool = False
    attestation: dict[str, Path] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        if self.nothing or not self.executed:
            return True
        return self.execution is not None and self.execution.ok

    def to_json(self) -> dict[str, Any]:
        ex = self.execution
        return {
            "nothing": self.nothing,
            "confirmed": self.confirmed,
            "executed": self.executed,
            "ok": self.ok,
            "complete": self.complete,
            "resumed": self.resumed,
            "export_dir": self.export_root,
            "export_blocked": self.export_blocked,
            "plan": self.plan.to_json() if self.plan else None,
            "results": {k: {"status": r.status, "detail": r.detail}
                        for k, r in (ex.results.items() if ex else [])},
            "failures": list(ex.failures) if ex else [],
            "attestation": {k: str(v) for k, v in self.attestation.items()},
            "stats": self.stats,
        }


def _export_root(
    ctx: Context, past: History, explicit: Path | None, no_export: bool, live: bool
) -> tuple[str | None, int | None]:
    """Return (folder, run that exported and verified it) for this teardown (module doc)."""
    from crisiskit.export.manifest import verify

    if no_export:
        return None, None
    last = next((s for s in past.steps if s.kind == "manifest"), None)
    root = str(explicit) if explicit is not None else (last.key if last else None)
    verified_by = None
    if last is not None and root == last.key:
        done = past.last("manifest", "export", last.key)
        verified_by = done.run_id if done is not None else None
    if root is None:
        return str(new_export_root(ctx)), None
    if verified_by is not None:
        checked = verify(Path(root))
        if not checked.ok:
            if live:
                return root, None  # export again into it: what is wrong is fetched again
            raise PreconditionFailed(
                f"the export of run #{verified_by} in {root} no longer verifies "
                f"({checked.summary()}) and the accounts are already deleted: deletion "
                "stays blocked. Restore the folder, or rerun with --no-export"
            )
    return root, verified_by


async def teardown(
    ctx: Context,
    *,
    export_dir: Path | None = None,
    no_export: bool = False,
    purge: bool = False,
    dry_run: bool = False,
    from_tenant: bool = False,
    show_plan: Callable[[TeardownPlan], None] = lambda plan: None,
    confirm: Confirm | None = None,
    confirm_purge: Confirm | None = None,
    confirm_scope: Confirm | None = None,
    phase: PhaseFactory = quiet_phase,
) -> TeardownReport:
    """Plan, confirm and execute one teardown (see the module docstring)."""
    report = TeardownReport()
    lock = NoLock() if dry_run else ctx.lock
    with ctx.graph.scope() as traffic:
        async with lock.hold(ctx.commune, KIND):
            scope = await scope_of(ctx, from_tenant=from_tenant)
            past = history(ctx.store, ctx.commune)
            loans = tuple(OpenLoan(lo.asset_tag, lo.device_kind, lo.upn)
                          for lo in ctx.store.open_loans(ctx.commune))
            if scope.nothing and not loans:
                report.nothing = True
                return report
            live = bool(scope.live_users) or bool(scope.group and scope.group.state == "live")
            root, verified_by = _export_root(ctx, past, export_dir, no_export, live)
            options = TeardownOptions(
                commune_name=ctx.setup.commune.name, operator=ctx.operator,
                mail_domain=ctx.setup.inventory.tenant.upn_domain, export_root=root,
                purge=purge, export_verified_by=verified_by, loans=loans,
            )
            tplan = teardown_plan(scope, past, options)
            report.plan, report.export_root = tplan, root
            show_plan(tplan)
            if dry_run or tplan.empty:
                return report
            for ask in (confirm_scope if from_tenant else None, confirm,
                        confirm_purge if purge else None):
                if ask is not None and not await asyncio.to_thread(ask, tplan):
                    report.confirmed = False
                    return report
            await _execute(ctx, tplan, report, phase)
        report.stats = stats_of(traffic)
    return report


async def _execute(
    ctx: Context, tplan: TeardownPlan, report: TeardownReport, phase: PhaseFactory
) -> None:
    scope, store = tplan.scope, ctx.store
    async with recorded(ctx, KIND) as run:
        report.resumed = run.resumed
        with store.transaction():
            if scope.from_tenant:
                for o in [*scope.users, *([scope.group] if scope.group else [])]:
                    store.record_object(run.id, ctx.commune, o.kind, o.key, o.id)
                store.audit_append(ctx.operator, ctx.commune, "teardown.from_tenant",
                                   ctx.commune, "confirmed",
                                   details={"run": str(run.id), "found": str(len(scope.users))})
            if tplan.options.export_root is None:
                store.audit_append(ctx.operator, ctx.commune, "teardown.no_export",
                                   ctx.commune, "requested",
                                   details={"run": str(run.id)})
            for o in [*scope.users, *([scope.group] if scope.group else [])]:
                if o.state == "gone":
                    store.forget_object(ctx.commune, o.kind, o.key)
        session = RunSession(ctx, run.journal)
        roots = [tplan.options.export_root] if tplan.options.export_root else []
        for root_ in roots:
            prepare_root(ctx, Path(root_))
            if tplan.options.export_verified_by is None:
                # Journaled first, so that a rerun after a kill resumes in this folder.
                run.journal.step("export", "manifest", root_, "export", "planned",
                                 detail="export folder of this teardown")
        execution = await run_steps(ctx, tplan.plan, roots, phase, session)
        report.execution, report.executed = execution, True
        root = tplan.options.export_root
        gate = execution.results.get(manifest_id(root)) if root else None
        if gate is not None and not gate.ok:
            why = [f for f in execution.failures if not f.startswith("manifest ")]
            report.export_blocked = (gate.detail if gate.status == "failed" else
                                     "; ".join(why[:3]) or gate.detail or "incomplete")
        deletes = [r for r in execution.results.values()
                   if r.step.phase == "delete"]
        report.complete = execution.ok and all(r.ok for r in deletes)
        if report.complete:
            for kind in DEPENDENT_KINDS:
                for rec in store.objects(ctx.commune, kind):
                    store.forget_object(ctx.commune, kind, rec.natural_key)
        run.finish(execution.ok, {
            "complete": report.complete, "failures": len(execution.failures),
            "export_dir": root, "export_blocked": report.export_blocked,
        })
    if report.complete:
        from crisiskit.engine.attest import write_attestation_files

        report.attestation = write_attestation_files(ctx, tplan)
