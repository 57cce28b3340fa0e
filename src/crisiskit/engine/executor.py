"""Execute any Plan: dependency order, coalesced batches, concurrency within the limiter.

One executor for every operation. It knows no operation and no resource kind:

- a step starts as soon as every step it depends on has finished; steps of the same kind and
  action that become ready together go to their verb in one call, which sends them in `$batch`
  calls of ≤ 20 (so 50 accounts are 3 calls, not 50);
- ready groups start longest-chain first (a wait counting for its bound), so the critical
  path (licences, before the mailboxes' long wait) gets the first slots of the Graph client's
  bounded concurrency; everything else runs concurrently within it;
- local steps (loans) run inline, in plan order, before the remote steps ready with them;
- each step goes to the verb its resource module declares for its action (`REGISTRY`):
  declared creates and writes through `crisiskit.engine.writes` (ids journaled before any
  wait, uncertain creates settled by lookup, never re-sent blind), the other verbs as they
  are;
- a step whose needed dependency did not succeed is skipped (and journaled as such), or
  `pending` when that dependency is a wait still unfinished (folders of a site still
  provisioning); refs to the ids other steps produced are resolved from their results.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping
from functools import cache
from typing import Any

from crisiskit.engine.session import Execution, RunSession, StepResult
from crisiskit.engine.writes import create_all, write_all
from crisiskit.plan.model import NOT_RUN, Plan, PlanError, Step, Unresolved, resolve
from crisiskit.plan.model import soft_dependencies as soft
from crisiskit.resources import REGISTRY
from crisiskit.resources.base import ByPayload, Create, Resource, Spec, Write


class Executor:
    """Carry out one plan through one session (see the module docstring)."""

    def __init__(self, session: RunSession, registry: Mapping[str, Resource] = REGISTRY) -> None:
        self.session = session
        self.registry = registry

    async def run(self, plan: Plan) -> Execution:
        """Execute the plan; return every step's outcome (failures included, never raised)."""
        plan.validate()
        for s in plan.steps:
            if s.action not in NOT_RUN:
                self._spec(s)  # an unknown kind or verb is refused before anything runs
        depth = _depths(plan)
        order = {s.id: n for n, s in enumerate(plan.steps)}
        results = self.session.execution.results
        wake = asyncio.Event()
        self.session.listeners.append(lambda _result: wake.set())
        for s in plan.steps:
            if s.action in NOT_RUN:
                self.session.settled(s)
        waiting = [s for s in plan.steps if s.action not in NOT_RUN]
        tasks: set[asyncio.Task[None]] = set()
        try:
            while waiting or tasks:
                ready = [s for s in waiting if all(d in results for d in s.depends_on)]
                local = [s for s in ready if self.registry[s.kind].local]
                if local:
                    # Local steps finish at once: run them, then look again at what is ready.
                    taken = {s.id for s in local}
                    waiting = [s for s in waiting if s.id not in taken]
                    for group in _groups(local, order):
                        await self._dispatch(group)
                    continue
                if ready:
                    taken = {s.id for s in ready}
                    waiting = [s for s in waiting if s.id not in taken]
                    groups = _groups(ready, order)
                    groups.sort(key=lambda g: -max(depth[s.id] for s in g))
                    for group in groups:
                        tasks.add(asyncio.create_task(self._dispatch(group)))
                    continue
                if not tasks:
                    raise PlanError("steps wait for steps that never finish")
                wake.clear()
                waiter = asyncio.create_task(wake.wait())
                done, _ = await asyncio.wait(
                    {*tasks, waiter}, return_when=asyncio.FIRST_COMPLETED
                )
                waiter.cancel()
                for task in done & tasks:
                    tasks.discard(task)
                    task.result()  # a verb that raised stops the run (e.g. LoanConflict)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return self.session.execution

    def _spec(self, s: Step) -> Spec:
        resource = self.registry.get(s.kind)
        if resource is None:
            raise PlanError(f"step {s.id}: no resource module for kind {s.kind!r}")
        spec = resource.verbs.get(s.action)
        if spec is None:
            raise PlanError(f"step {s.id}: {s.kind} has no {s.action!r} verb")
        return spec

    async def _dispatch(self, group: list[Step]) -> None:
        """Resolve the group's payloads, skip what cannot run, send the rest to its verb."""
        results = self.session.execution.results
        values = {k: r.values for k, r in results.items() if r.ok}
        runnable: list[Step] = []
        for s in group:
            blocker = _blocker(s, results)
            if blocker is not None:
                if results[blocker].status == "pending":
                    # It needs something still provisioning: a later run does it.
                    self.session.pending(s, f"waits for {blocker} (still provisioning)")
                else:
                    self.session.skipped(s, blocker)
                continue
            try:
                payload = resolve(s.payload, values)
            except Unresolved as exc:
                self.session.skipped(s, exc.ref.step)
                continue
            runnable.append(s if payload is s.payload else _with(s, payload))
        if not runnable:
            return
        spec = self._spec(runnable[0])
        if isinstance(spec, ByPayload):
            spec = spec.of(runnable[0].payload)
        if isinstance(spec, Create):
            await create_all(self.session, runnable, spec)
        elif isinstance(spec, Write):
            await write_all(self.session, runnable, spec)
        else:
            await spec(self.session, runnable)
        for s in runnable:
            if s.id not in results:
                self.session.unreported(s)


def _with(s: Step, payload: Any) -> Step:
    return Step(s.kind, s.action, s.key, payload, s.depends_on, s.detail, s.graph_id, s.phase, s.id)


def _blocker(s: Step, results: Mapping[str, StepResult]) -> str | None:
    """Return a needed dependency that did not succeed, or None."""
    optional = soft(s)
    for d in s.depends_on:
        if not results[d].ok and d not in optional:
            return d
    return None


def _groups(steps: list[Step], order: Mapping[str, int]) -> list[list[Step]]:
    """Group steps by kind, action and payload type (one verb call each), in plan order."""
    by: dict[tuple[str, str, type], list[Step]] = defaultdict(list)
    for s in sorted(steps, key=lambda s: order[s.id]):
        by[(s.kind, s.action, type(s.payload))].append(s)
    return list(by.values())


def _depths(plan: Plan) -> dict[str, float]:
    """Return, for each step, the length of the longest chain of steps that wait for it.

    A wait counts for its bound (seconds): what leads to the longest service delay (a licence,
    before the 24 h a mailbox may take) gets the first slots.
    """
    dependents: dict[str, list[str]] = defaultdict(list)
    for s in plan.steps:
        for d in s.depends_on:
            dependents[d].append(s.id)
    steps = {s.id: s for s in plan.steps}

    @cache
    def depth(step_id: str) -> float:
        s = steps[step_id]
        cost = 1.0 + (float(getattr(s.payload, "bound_s", 0.0)) if s.action == "wait" else 0.0)
        return cost + max((depth(d) for d in dependents[step_id]), default=0.0)

    return {s.id: depth(s.id) for s in plan.steps}
