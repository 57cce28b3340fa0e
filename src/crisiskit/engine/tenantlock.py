"""TenantLock: the commune's local flock, then its lease in the tenant, for the whole run.

    async with TenantLock(home, graph, store, operator).hold(commune, "activate") as held:
        ...                        every Graph write of the block passes the lease's guard
        await held.confirm()       before anything is handed over (passes, documents)

On entry, the flock first (one run per commune from this home; freed by SIGKILL, it also proves
that a lease this home's previous run left behind belongs to a dead process), then the lease
(crisiskit.engine.lease): taken, or `LockHeld` naming its holder, or `LeaseUnavailable`; both
exit 3 before any write. While the block runs, a task renews the lease every ttl/3 in a context
of its own (its requests are not the run's: neither audited as its writes nor guarded). A
renewal that finds the lease taken over, or no successful renewal for `ttl - ttl/3`, marks the
hold lost: from then on no write leaves the Graph client (the scope's guard), `wait_lost()`
wakes the operation, and `confirm()` raises `LeaseLost` (exit 1). On exit the lease is released
(DELETE if-match); if that fails it expires by itself, and the operator is told when.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import os
import socket
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from crisiskit.clock import SYSTEM, Clock
from crisiskit.engine.lease import (
    QUICK_S,
    TTL_S,
    LeaseView,
    TenantLease,
    new_record,
    stop_before,
)
from crisiskit.engine.run import Check, FileLock, Hold
from crisiskit.errors import LeaseLost, LeaseUnavailable, LockHeld, SignInFailed
from crisiskit.graph.errors import GraphError

if TYPE_CHECKING:
    from crisiskit.graph import Graph
    from crisiskit.state.api import StateStore

T = TypeVar("T")
TRANSIENT = (GraphError, LeaseUnavailable, SignInFailed)


def home_identity(lock_file: Path) -> str:
    """Identify this home's lock file on this machine (a copy elsewhere is another home)."""
    info = os.stat(lock_file, follow_symlinks=False)
    try:
        machine = Path("/etc/machine-id").read_text(encoding="ascii").strip()
    except OSError:
        machine = ""
    raw = f"{machine}:{socket.gethostname()}:{info.st_dev}:{info.st_ino}"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


async def _alone(work: Awaitable[T]) -> T:
    """Run lease traffic outside the operation's Graph scopes (its counters, hook, guard)."""
    async def run() -> T:
        return await work

    return await asyncio.create_task(run(), context=contextvars.Context())


class LeaseHold(Hold):
    """A hold backed by a tenant lease: renewed in the background, lost when taken over."""

    def __init__(self, lease: TenantLease, clock: Clock, ttl_s: float, since: float) -> None:
        super().__init__()
        self.lease = lease
        self.clock = clock
        self.ttl_s = ttl_s
        self.last_ok = since  # when the last write that kept the lease was sent (monotonic)
        self._renewing = asyncio.Lock()

    @property
    def commune(self) -> str:
        return self.lease.record.commune

    def refusal(self) -> str | None:
        """The write guard: why no write may be sent now, or None while the lease holds."""
        if self.lost is None and self._overdue():
            self.mark_lost(self._overdue_message())
        if self.lost is None:
            return None
        return f"{self.lost}; this run sends no more writes"

    def _overdue(self) -> bool:
        return self.clock.monotonic() - self.last_ok >= self.ttl_s - stop_before(self.ttl_s)

    def _overdue_message(self) -> str:
        quiet = int(self.clock.monotonic() - self.last_ok)
        return (
            f"this run could not renew the lease of {self.commune} for {quiet} s (the tenant "
            "did not answer): another run may take it over now"
        )

    async def keep(self) -> None:
        """Renew every ttl/3 until cancelled or lost."""
        period = self.ttl_s / 3
        while self.lost is None:
            await self.clock.sleep(max(0.0, self.last_ok + period - self.clock.monotonic()))
            await self.renew()

    async def renew(self) -> None:
        """Renew now, retrying what did not get through until the holder must stop."""
        async with self._renewing:
            delay = 0.5
            while self.lost is None:
                sent = self.clock.monotonic()
                if self._overdue():
                    self.mark_lost(self._overdue_message())
                    return
                try:
                    await _alone(self.lease.renew())
                except LeaseLost as exc:
                    self.mark_lost(str(exc))
                    return
                except TRANSIENT:
                    left = self.last_ok + self.ttl_s - stop_before(self.ttl_s) - sent
                    await self.clock.sleep(max(0.0, min(delay, left)))
                    delay = min(delay * 2, self.ttl_s / 6)
                    continue
                self.last_ok = sent
                return

    async def confirm(self) -> None:
        """Raise LeaseLost unless the lease is still this run's, before anything is handed over.

        One renewal, quickly: a 412 proves it lost. If the tenant does not answer, time decides:
        while the last renewal is recent enough that no other run may have taken over (the
        service stamped it after it was sent, and the lease lasts ttl after that stamp), the
        lease is still ours; past that, it is lost.
        """
        async with self._renewing:
            if self.lost is None:
                sent = self.clock.monotonic()
                try:
                    await _alone(self.lease.renew(QUICK_S))
                except LeaseLost as exc:
                    self.mark_lost(str(exc))
                except TRANSIENT:
                    if self._overdue():
                        self.mark_lost(self._overdue_message())
                else:
                    self.last_ok = sent
        await super().confirm()


class TenantLock:
    """The CommuneLock of runs that write: this home's flock and the commune's tenant lease."""

    def __init__(
        self,
        home: Path,
        graph: Graph,
        store: StateStore,
        operator: str,
        *,
        clock: Clock = SYSTEM,
        ttl_s: float = TTL_S,
        host: str | None = None,
    ) -> None:
        self.home = Path(home)
        self.graph = graph
        self.store = store
        self.operator = operator
        self.clock = clock
        self.ttl_s = ttl_s
        self.host = host or socket.gethostname()

    @asynccontextmanager
    async def hold(
        self, commune: str, operation: str = "run", *, before: Check | None = None
    ) -> AsyncIterator[Hold]:
        from crisiskit.state.lock import lock_path

        async with FileLock(self.home).hold(commune, operation, before=before):
            record = new_record(
                commune, operation, self.operator, self.host, os.getpid(),
                home_identity(lock_path(self.home, commune)), self.ttl_s,
            )
            lease = TenantLease(self.graph, record)
            since = self.clock.monotonic()
            try:
                await _alone(lease.acquire(home_dead=True))
            except (LockHeld, LeaseUnavailable) as exc:
                self._audit(commune, lease, "lease.refused", "refused", {"reason": str(exc)})
                raise
            held = LeaseHold(lease, self.clock, self.ttl_s, since)
            self._audit(commune, lease, "lease.acquired", "held", _replaced(lease.replaced))
            if lease.replaced is not None:
                held.notices.append(
                    f"Took over the lease of {commune} left by {lease.replaced.holder()}: "
                    + ("that run is no longer running on this machine."
                       if not lease.replaced.expired else "it had expired.")
                )
            keeper = asyncio.create_task(held.keep(), context=contextvars.Context())
            try:
                with self.graph.scope(guard=held.refusal):
                    yield held
            finally:
                keeper.cancel()
                with suppress(asyncio.CancelledError):
                    await keeper
                await self._release(held)

    async def _release(self, held: LeaseHold) -> None:
        commune = held.commune
        if held.lost is not None:
            self._audit(commune, held.lease, "lease.lost", "lost", {"reason": held.lost})
            return
        try:
            released = await _alone(held.lease.release())
        except TRANSIENT:
            released = False
        # A release is not audited: it comes after the handover sheet printed the chain's
        # head; the next holder's `lease.acquired` (or `lease.refused`) records what followed.
        if released:
            return
        held.notices.append(
            f"The lease of {commune} could not be released in the tenant: it expires by itself "
            f"{int(self.ttl_s)} s after its last renewal."
        )

    def _audit(
        self, commune: str, lease: TenantLease, action: str, outcome: str, details: dict[str, str]
    ) -> None:
        self.store.audit_append(
            self.operator, commune, action, lease.path, outcome,
            details={"lease": lease.record.lease_id[:8], "host": self.host, **details},
        )


def _replaced(view: LeaseView | None) -> dict[str, str]:
    return {"replaced": view.holder()} if view is not None else {}
