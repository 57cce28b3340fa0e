"""Several communes in one command: `crisiskit activate A B C`, concurrently, in one process.

    activate_many(contexts, show_plans=..., confirm=..., ...) -> list[CommuneResult]

Every commune runs the one activation (`crisiskit.engine.activation.run_one`) with its own
lock, journal, outputs and audit entries; the contexts share one Graph client, hence one
throttling limiter. Each commune plans under its lock; once every commune has planned (or
failed to), the plans are shown together and one confirmation names every commune that has
something to do (`Confirmation`); then all run concurrently. Each commune claims its devices
and seats in one write transaction of the state store (crisiskit.engine.claims), as runs of
several processes do, so two communes never plan to lend the same device nor count the same
seats; each holds its own lease (its context's lock). A failure in one (refused, lock held,
Graph gone) does not stop the others: its error is its result. The worst exit code is the command's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from crisiskit.engine.activation import Options, run_one
from crisiskit.engine.context import Context
from crisiskit.engine.progress import PhaseFactory, quiet_phase
from crisiskit.engine.report import ActivationReport
from crisiskit.errors import EXIT_FAILED, CrisisKitError
from crisiskit.plan.activation import ActivationPlan


@dataclass
class CommuneResult:
    """What became of one commune of the command: its report, or the error that stopped it."""

    commune: str
    report: ActivationReport | None = None
    error: CrisisKitError | None = None

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return self.error.exit_code
        return self.report.exit_code if self.report is not None else EXIT_FAILED


def worst(results: Sequence[CommuneResult]) -> int:
    """Return the command's exit code: the highest of its communes' (0 when all succeeded)."""
    return max((r.exit_code for r in results), default=0)


class Confirmation:
    """Wait until every commune has planned, show the plans, ask once for all of them."""

    def __init__(
        self,
        communes: Sequence[str],
        show_plans: Callable[[list[ActivationPlan]], None],
        confirm: Callable[[list[ActivationPlan]], bool] | None,
        dry_run: bool,
    ) -> None:
        self.order = list(communes)
        self.expected = set(communes)
        self.plans: dict[str, ActivationPlan] = {}
        self.show_plans = show_plans
        self.confirm = confirm
        self.dry_run = dry_run
        self.arrived: set[str] = set()
        self.ready = asyncio.Event()
        self.answer = False

    async def ask(self, plan: ActivationPlan) -> bool:
        """Called by a commune with its plan: the operator's answer, for every commune."""
        self.plans[plan.commune] = plan
        await self._arrive(plan.commune)
        await self.ready.wait()
        return self.answer

    async def leave(self, commune: str) -> None:
        """Called by a commune that stopped before its plan (so that nobody waits for it)."""
        await self._arrive(commune)

    async def _arrive(self, commune: str) -> None:
        self.arrived.add(commune)
        if self.arrived < self.expected:
            return
        plans = [self.plans[c] for c in self.order if c in self.plans]
        self.show_plans(plans)
        go = [p for p in plans if not p.refusals]
        if self.dry_run:
            self.answer = False
        elif self.confirm is not None and any(not p.empty for p in go):
            self.answer = await asyncio.to_thread(self.confirm, go)
        else:
            self.answer = True
        self.ready.set()


async def activate_many(
    contexts: Sequence[Context],
    *,
    show_plans: Callable[[list[ActivationPlan]], None] = lambda plans: None,
    confirm: Callable[[list[ActivationPlan]], bool] | None = None,
    dry_run: bool = False,
    phase_for: Callable[[str], PhaseFactory] = lambda commune: quiet_phase,
    options: Options = Options(),
    rebuild_state: bool = False,
) -> list[CommuneResult]:
    """Activate every commune of `contexts` concurrently; one result each, in their order."""
    gate = Confirmation([c.commune for c in contexts], show_plans, confirm, dry_run)

    async def one(ctx: Context) -> CommuneResult:
        asked = False

        async def ask(plan: ActivationPlan) -> bool:
            nonlocal asked
            asked = True
            return await gate.ask(plan)

        try:
            report = await run_one(
                ctx, ask, dry_run=dry_run, phase=phase_for(ctx.commune), options=options,
                rebuild_state=rebuild_state,
            )
            return CommuneResult(ctx.commune, report=report)
        except CrisisKitError as exc:
            return CommuneResult(ctx.commune, error=exc)
        finally:
            if not asked:
                await gate.leave(ctx.commune)

    return list(await asyncio.gather(*(one(c) for c in contexts)))
