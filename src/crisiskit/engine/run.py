"""The one run lifecycle of every operation that changes a commune's kit.

    async with ctx.lock.hold(commune):              one run per commune at a time
        ... observe, plan, check, confirm ...
        refuse(ctx, kind, reasons, message)         audit `<kind>.refused`, raise (exit 3)
        async with recorded(ctx, kind) as run:      runs left unfinished are marked
            ... execute with run.journal ...        interrupted (run.resumed), the run is
            run.finish(ok, summary)                 started, every step and Graph write is
                                                    audited, the journal flushed, the run
                                                    finished (failed if an error escaped)

Activation uses it; teardown and day-2 operations will, with another `kind`. Read-only
operations (plan, status) take neither the lock nor a run: they only observe.

The lock is pluggable (`CommuneLock`): `FileLock`, the local flock under
`$CRISISKIT_HOME/locks/`; `TenantLock` (crisiskit.engine.tenantlock), that flock plus the
commune's lease in the tenant, which two operators on two machines both see (the CLI's
default); `NoLock` for dry runs. `hold()` yields a `Hold`: while it lasts, a lease that is lost
(taken over while this machine was cut off) stops every Graph write of the block, and
`Hold.confirm()` says, before anything is handed over, whether the run still holds it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from crisiskit.engine.journal import Journal
from crisiskit.errors import LeaseLost, PreconditionFailed

if TYPE_CHECKING:
    from crisiskit.engine.context import Context
    from crisiskit.graph import Scope


class Hold:
    """What a run holds on its commune while `CommuneLock.hold` lasts.

    A local lock cannot be lost: `lost` stays None and `confirm` passes. A tenant lease can
    (crisiskit.engine.tenantlock): `lost` then says why, `wait_lost()` returns, and `confirm()`
    raises `LeaseLost`. `notices` are facts to tell the operator (a lease taken over).
    """

    def __init__(self) -> None:
        self.notices: list[str] = []
        self.lost: str | None = None
        self._event: asyncio.Event | None = None

    def mark_lost(self, reason: str) -> None:
        if self.lost is None:
            self.lost = reason
        self._signal().set()

    async def wait_lost(self) -> str:
        """Return (the reason) once the hold is lost; never returns for a local lock."""
        await self._signal().wait()
        return self.lost or "lost"

    async def confirm(self) -> None:
        """Raise `LeaseLost` unless the commune is still held by this run."""
        if self.lost is not None:
            raise LeaseLost(self.lost)

    def _signal(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event


Check = Callable[[], None]  # a pre-write check, called once the commune is held locally


class CommuneLock(Protocol):
    """Exclusive hold on one commune for the length of a run (LockHeld if someone has it).

    `operation` names the run for whoever finds the commune held (activate, teardown, …).
    `before` runs once this home holds the commune (its folders checked), before anything is
    asked of the tenant: the operation's own checks (crisiskit.engine.preflight).
    """

    def hold(
        self, commune: str, operation: str = "run", *, before: Check | None = None
    ) -> AbstractAsyncContextManager[Hold]: ...


class FileLock:
    """The local lock: an flock per commune under `home/locks/`, freed even by SIGKILL."""

    def __init__(self, home: Path) -> None:
        self.home = home

    @asynccontextmanager
    async def hold(
        self, commune: str, operation: str = "run", *, before: Check | None = None
    ) -> AsyncIterator[Hold]:
        from crisiskit.state.lock import commune_lock

        with commune_lock(self.home, commune):
            if before is not None:
                before()
            yield Hold()


class NoLock:
    """For read-only operations and dry runs: nothing is held."""

    @asynccontextmanager
    async def hold(
        self, commune: str, operation: str = "run", *, before: Check | None = None
    ) -> AsyncIterator[Hold]:
        if before is not None:
            before()
        yield Hold()


def refuse(ctx: Context, kind: str, reasons: list[str], message: str) -> NoReturn:
    """Audit a refusal made before any write, and raise it (exit 3)."""
    ctx.store.audit_append(
        ctx.operator, ctx.commune, f"{kind}.refused", ctx.commune, "refused",
        details={"reasons": "; ".join(reasons)},
    )
    raise PreconditionFailed(f"{message}:\n  " + "\n  ".join(reasons))


@dataclass
class Run:
    """One recorded run: its id, its journal, the interrupted runs it resumes."""

    id: int
    journal: Journal
    scope: Scope
    resumed: list[int] = field(default_factory=list)
    outcome: str | None = None
    summary: Mapping[str, Any] | None = None

    def finish(self, ok: bool, summary: Mapping[str, Any]) -> None:
        """Say how the run ended; recorded when the `recorded` block exits."""
        self.outcome = "ok" if ok else "failed"
        self.summary = summary


def mark_interrupted(ctx: Context) -> list[int]:
    """Close the commune's runs that never finished (killed mid-way); return their ids.

    Call it holding the commune's lock: a run still marked unfinished is then surely dead.
    """
    resumed = []
    for stale in ctx.store.unfinished_runs(ctx.commune):
        ctx.store.finish_run(stale.id, "interrupted", {"resumed_by": ctx.operator})
        resumed.append(stale.id)
    return resumed


@asynccontextmanager
async def recorded(
    ctx: Context, kind: str, *, playbook: str | None = None
) -> AsyncIterator[Run]:
    """Start a run of `kind`, audit everything it writes, and finish it whatever happens."""
    resumed = mark_interrupted(ctx)
    store, operator, commune = ctx.store, ctx.operator, ctx.commune
    run_id = store.start_run(commune, kind, operator, playbook)
    journal = Journal(store, run_id, commune, operator)
    details = {"run": str(run_id)}
    store.audit_append(
        operator, commune, f"{kind}.start", commune, "started",
        details={**details, "playbook": playbook} if playbook else details,
    )
    with _scoped(ctx, journal) as scope:
        run = Run(run_id, journal, scope, resumed)
        try:
            yield run
        finally:
            journal.flush()
            outcome = run.outcome or "failed"
            store.finish_run(run_id, outcome, run.summary or {"error": "aborted"})
            store.audit_append(operator, commune, f"{kind}.finish", commune, outcome,
                               details=details)


@contextmanager
def _scoped(ctx: Context, journal: Journal) -> Iterator[Scope]:
    """Audit every Graph write made inside the block (and only those: the client is shared)."""
    with ctx.graph.scope(on_write=journal.graph_write) as scope:
        yield scope
