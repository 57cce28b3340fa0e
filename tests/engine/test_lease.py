"""The commune lease in the tenant, against the simulator over loopback (crisiskit.engine.lease).

Each test plays what two operators on two machines would do: two `TenantLease`s (or
`TenantLock`s on two homes) for the same commune, one Graph client each, the simulator's
clock advanced to age a lease (the lease judges time on the service's clock only).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from engine_helpers import is_lease

from crisiskit.engine.lease import SKEW_MARGIN_S, TenantLease, new_record, stop_before
from crisiskit.engine.tenantlock import TenantLock
from crisiskit.errors import (
    EXIT_FAILED,
    EXIT_PRECONDITION,
    LeaseLost,
    LeaseUnavailable,
    LockHeld,
)
from crisiskit.graph import Graph, GraphError, RetryPolicy, open_graph
from crisiskit.graph.types import Request
from crisiskit.sim.server import EmbeddedSimulator
from crisiskit.state import Store

T = TypeVar("T")
TTL = 60.0


class Skewed:
    """A machine whose wall clock is off by `offset` (durations and sleeps are real)."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class Stopped(Skewed):
    """Monotonic time that moves only when told (sleeps are real, so the keeper stays put)."""

    def __init__(self) -> None:
        super().__init__(timedelta(0))
        self.at = 1000.0

    def monotonic(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds


def record(operator: str, *, home: str = "home-a", host: str = "host-a", pid: int = 101) -> Any:
    return new_record("aubagne", "activate", operator, host, pid, home, TTL)


def run(sim: EmbeddedSimulator, work: Callable[[Callable[[], Graph]], Awaitable[T]]) -> T:
    """Run `work` in one event loop; it may open as many Graph clients as machines it plays."""

    async def main() -> T:
        opened: list[Graph] = []

        def client() -> Graph:
            graph = open_graph(None, base_url=sim.base_url, token="lease-tests")
            opened.append(graph)
            return graph

        try:
            return await work(client)
        finally:
            for graph in opened:
                await graph.aclose()

    return asyncio.run(main())


def lease_file(sim: EmbeddedSimulator) -> list[dict[str, Any]]:
    return [
        i for i in sim.state().get("driveItems", [])
        if str(i.get("path", "")).startswith("crisiskit-leases/") and "file" in i
    ]


def test_second_run_is_refused_naming_the_holder_then_takes_over_once_released(
    sim: EmbeddedSimulator,
) -> None:
    async def work(client: Callable[[], Graph]) -> None:
        alice = TenantLease(client(), record("alice"))
        await alice.acquire()
        bob = TenantLease(client(), record("bob", home="home-b", host="host-b", pid=202))
        with pytest.raises(LockHeld) as refused:
            await bob.acquire()
        message = str(refused.value)
        assert refused.value.exit_code == EXIT_PRECONDITION
        assert "alice on host-a (pid 101, activate) since" in message
        assert "expires at" in message
        assert await alice.release()
        await bob.acquire()
        assert bob.replaced is None  # released, not taken over
        view = await bob.read()
        assert view is not None and view.record is not None
        assert view.record.operator == "bob" and bob.ours(view)

    run(sim, work)
    assert len(lease_file(sim)) == 1


def test_an_expired_lease_is_taken_over_and_its_holder_learns_it_lost(
    sim: EmbeddedSimulator,
) -> None:
    async def work(client: Callable[[], Graph]) -> None:
        alice = TenantLease(client(), record("alice"))
        await alice.acquire()
        await alice.renew()  # the first renewal writes the service's time of acquisition
        sim.advance(TTL + SKEW_MARGIN_S + 1)
        bob = TenantLease(client(), record("bob", home="home-b", host="host-b", pid=202))
        await bob.acquire()
        assert bob.replaced is not None
        assert bob.replaced.holder().startswith("alice on host-a (pid 101, activate) since ")
        view = await bob.read()
        assert view is not None and view.record is not None
        assert view.record.replaced == bob.replaced.holder()
        with pytest.raises(LeaseLost) as lost:
            await alice.renew()
        assert "taken over by bob on host-b (pid 202, activate)" in str(lost.value)
        assert lost.value.exit_code == EXIT_FAILED
        assert not await alice.release()  # not ours any more: left alone
        assert bob.ours(await bob.read())

    run(sim, work)


def test_a_lease_just_short_of_expiry_is_not_taken(sim: EmbeddedSimulator) -> None:
    async def work(client: Callable[[], Graph]) -> None:
        alice = TenantLease(client(), record("alice"))
        await alice.acquire()
        sim.advance(TTL + SKEW_MARGIN_S - 5)
        with pytest.raises(LockHeld):
            await TenantLease(client(), record("bob", home="home-b")).acquire()

    run(sim, work)


def test_expiry_is_judged_on_the_service_clock_whatever_the_machines_clocks(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    """Bob's machine is a day ahead: the lease is still alice's. A day behind, once the
    service's clock has passed the lease's end, bob takes it over all the same."""
    ahead = Skewed(timedelta(days=1))
    behind = Skewed(-timedelta(days=1))

    async def work(client: Callable[[], Graph]) -> None:
        alice = TenantLease(client(), record("alice"))
        await alice.acquire()
        with Store.open(tmp_path / "b") as store:
            skewed = TenantLock(tmp_path / "b", client(), store, "bob", clock=ahead, ttl_s=TTL)
            with pytest.raises(LockHeld):
                async with skewed.hold("aubagne", "activate"):
                    pass
            sim.advance(TTL + SKEW_MARGIN_S + 1)
            late = TenantLock(tmp_path / "b", client(), store, "bob", clock=behind, ttl_s=TTL)
            async with late.hold("aubagne", "activate") as held:
                assert any("alice on host-a" in n and "it had expired" in n for n in held.notices)
                await held.confirm()

    run(sim, work)


def test_two_machines_racing_for_the_lease_exactly_one_wins(sim: EmbeddedSimulator) -> None:
    async def work(client: Callable[[], Graph]) -> list[str]:
        leases = [
            TenantLease(client(), record(f"op{n}", home=f"home-{n}", host=f"host-{n}", pid=n))
            for n in range(6)
        ]
        outcomes = await asyncio.gather(*(lease.acquire() for lease in leases),
                                        return_exceptions=True)
        return [type(o).__name__ if isinstance(o, BaseException) else "won" for o in outcomes]

    outcomes = run(sim, work)
    assert outcomes.count("won") == 1, outcomes
    assert sorted(set(outcomes)) == ["LockHeld", "won"], outcomes


def test_an_acquire_whose_answer_is_lost_is_settled_by_the_lease_id(
    sim: EmbeddedSimulator,
) -> None:
    """The create lands, then the service answers 503: reading the lease finds our id."""
    sim.set_profile(commit_then_5xx_rate=1.0)

    async def work(client: Callable[[], Graph]) -> None:
        alice = TenantLease(client(), record("alice"))
        await alice.acquire()
        assert alice.ours(await alice.read())
        await alice.renew()  # answered 503 too, settled the same way
        assert alice.ours(await alice.read())

    run(sim, work)
    puts = [r for r in sim.requests() if is_lease(r) and r["method"] == "PUT"]
    assert [r["status"] for r in puts] == [503, 503], puts  # sent once each, never re-sent


def test_a_dead_holder_of_the_same_home_is_replaced_at_once(sim: EmbeddedSimulator) -> None:
    async def work(client: Callable[[], Graph]) -> None:
        killed = TenantLease(client(), record("alice", home="home-a", pid=101))
        await killed.acquire()
        rerun = TenantLease(client(), record("alice", home="home-a", pid=102))
        await rerun.acquire(home_dead=True)
        assert rerun.replaced is not None and "pid 101" in rerun.replaced.holder()
        # From another home, the same lease is still held (nothing proves its holder dead).
        other = TenantLease(client(), record("bob", home="home-b", pid=103))
        with pytest.raises(LockHeld):
            await other.acquire(home_dead=True)

    run(sim, work)


def test_an_unreachable_tenant_refuses_before_any_write(tmp_path: Path) -> None:
    async def main() -> None:
        # Two quick attempts: the retries' length is the Graph door's, not the lease's.
        quick = RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.01)
        graph = open_graph(None, base_url="http://127.0.0.1:9/v1.0", token="t", policy=quick)
        try:
            with pytest.raises(LeaseUnavailable) as refused:
                await TenantLease(graph, record("alice")).acquire()
        finally:
            await graph.aclose()
        assert refused.value.exit_code == EXIT_PRECONDITION
        assert "cannot reach the tenant to take the lease of aubagne" in str(refused.value)
        assert "nothing was changed" in str(refused.value)

    asyncio.run(main())


def test_a_root_site_the_application_may_not_use_is_refused_clearly(
    sim: EmbeddedSimulator,
) -> None:
    """A tenant where the library answers 404 (no SharePoint): exit 3, the answer's words."""
    from crisiskit.sim.errors import SimError

    def missing(s: Any, req: Any) -> Any:
        raise SimError(404, "itemNotFound", "The site could not be found.")

    route = next(r for r in sim.simulator.router.routes if r.template == "/sites/root/drive")
    original = route.handler
    route.handler = missing
    try:
        async def work(client: Callable[[], Graph]) -> None:
            with pytest.raises(LeaseUnavailable) as refused:
                await TenantLease(client(), record("alice")).acquire()
            text = str(refused.value)
            assert "404 itemNotFound: The site could not be found." in text
            assert "Files.ReadWrite.All" in text

        run(sim, work)
    finally:
        route.handler = original
    assert not [r for r in sim.requests() if r["method"] != "GET"]


def test_a_lost_lease_stops_every_write_but_not_reads(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    async def work(client: Callable[[], Graph]) -> None:
        graph = client()
        with Store.open(tmp_path / "a") as store:
            lock = TenantLock(tmp_path / "a", graph, store, "alice", ttl_s=TTL, host="host-a")
            async with lock.hold("aubagne", "activate") as held:
                assert await graph.request("GET", "/subscribedSkus")  # reads and writes go
                sim.advance(TTL + SKEW_MARGIN_S + 1)
                await TenantLease(client(), record("bob", home="home-b")).acquire()
                with pytest.raises(LeaseLost):
                    await held.confirm()  # its renewal finds bob's lease
                assert held.lost is not None and "taken over by bob" in held.lost
                with pytest.raises(GraphError) as stopped:
                    await graph.request("POST", "/users", body={"displayName": "x"})
                assert (stopped.value.status, stopped.value.code) == (412, "leaseLost")
                answers = await graph.send({
                    "read": Request("GET", "/subscribedSkus"),
                    "write": Request("POST", "/users", {"displayName": "x"}),
                })
                assert answers["read"].status == 200
                assert (answers["write"].status, answers["write"].code) == (412, "leaseLost")
            audit = [e.action for e in store.audit_entries("aubagne")]
            assert audit == ["lease.acquired", "lease.lost"]

    mark = len(sim.requests())
    run(sim, work)
    users = [r for r in sim.requests()[mark:] if r["path"] == "/users" and r["method"] == "POST"]
    assert users == [], "a write left the client after the lease was lost"


def test_the_keeper_renews_in_the_background_and_the_lease_is_released(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    ttl = 3.0  # real seconds: renewed every second

    async def work(client: Callable[[], Graph]) -> None:
        with Store.open(tmp_path / "a") as store:
            lock = TenantLock(tmp_path / "a", client(), store, "alice", ttl_s=ttl)
            async with lock.hold("aubagne", "activate") as held:
                await asyncio.sleep(2.5)
                assert held.lost is None
                await held.confirm()

    mark = len(sim.requests())
    run(sim, work)
    writes = [r for r in sim.requests()[mark:] if r["method"] != "GET" and is_lease(r)]
    methods = [r["method"] for r in writes]
    assert methods[0] == "PUT" and methods[-1] == "DELETE", methods
    assert methods.count("PUT") >= 3, methods  # acquire, >= 1 background renewal, confirm
    assert all(r["status"] < 300 for r in writes), writes
    assert lease_file(sim) == []


def test_a_holder_cut_off_from_the_tenant_stops_writing_before_the_lease_can_expire(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    """Every renewal fails (the service answers 503): once `ttl - ttl/3` passed since the
    last renewal, the hold is lost and no write leaves; others may take over only later."""
    clock = Stopped()

    async def work(client: Callable[[], Graph]) -> None:
        graph = client()
        with Store.open(tmp_path / "a") as store:
            lock = TenantLock(tmp_path / "a", graph, store, "alice", clock=clock, ttl_s=TTL)
            async with lock.hold("aubagne", "activate") as held:
                sim.set_profile(transient_5xx_rate=1.0)
                clock.advance(TTL - stop_before(TTL) - 1)
                assert held.refusal() is None  # still in time
                clock.advance(1)
                assert held.refusal() is not None
                assert held.lost is not None and "could not renew the lease" in held.lost
                with pytest.raises(LeaseLost):
                    await held.confirm()
                sim.set_profile(transient_5xx_rate=0.0)

    run(sim, work)
