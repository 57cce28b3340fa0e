"""Wire the core to the world: environment, endpoint, sandbox, store, lock, event loop.

The only place that reads crisiskit's environment variables (CRISISKIT_WAIT_SCALE,
CRISISKIT_LEASE_TTL, CRISISKIT_GRAPH_URL, CRISISKIT_GRAPH_TOKEN; the azure-identity ones are
handed to the Graph door as a mapping) and the only one that starts the embedded simulator for
`--sandbox`. The core receives a `Context` and never looks around.

    target(inventory, home, sandbox) -> Target   where Graph writes would go, in words
    run_loop(coroutine)                          asyncio.run, with Ctrl-C handled: the first
                                                 one cancels the operation at its next wait
                                                 (journal and run closed) and abandons a
                                                 pending prompt (INTERRUPTED is set); the
                                                 second one stops at once
"""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from crisiskit.errors import InputError, PreconditionFailed
from crisiskit.secrets import Secret

if TYPE_CHECKING:
    from crisiskit.engine.activation import Options
    from crisiskit.engine.context import Context, Setup
    from crisiskit.engine.export import ExportReport
    from crisiskit.engine.multi import CommuneResult
    from crisiskit.engine.progress import PhaseFactory
    from crisiskit.engine.status import KitStatus, WaitResult
    from crisiskit.engine.teardown import TeardownReport
    from crisiskit.graph import Graph
    from crisiskit.inventory.models import Inventory
    from crisiskit.plan.activation import ActivationPlan
    from crisiskit.state.api import StateStore

SANDBOX_TOKEN = "crisiskit-sandbox"
T = TypeVar("T")
# Set by the first Ctrl-C of an operation: a prompt waiting for an answer gives up.
INTERRUPTED = threading.Event()


@dataclass(frozen=True)
class Target:
    """Where an operation's Graph requests go, as the plan header and the prompt name it."""

    kind: Literal["sandbox", "endpoint", "tenant"]
    description: str  # "the simulated sandbox tenant (.crisiskit/sandbox/tenant.json)"
    where: str  # for the prompt: "in the simulated sandbox tenant"

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "description": self.description}


def _static_endpoint() -> tuple[str | None, str | None]:
    return os.environ.get("CRISISKIT_GRAPH_URL"), os.environ.get("CRISISKIT_GRAPH_TOKEN")


def target(inventory: Inventory, home: Path, sandbox: bool) -> Target:
    """Describe where `endpoint(inventory, home, sandbox)` sends requests (nothing started)."""
    if sandbox:
        where = home / "sandbox" / "tenant.json"
        return Target(
            "sandbox",
            f"the simulated sandbox tenant ({where}), not a real tenant",
            "in the simulated sandbox tenant",
        )
    url, _ = _static_endpoint()
    if url:
        return Target(
            "endpoint",
            f"the Graph endpoint {url} (CRISISKIT_GRAPH_URL, static token)",
            f"at the Graph endpoint {url}",
        )
    tenant = inventory.tenant
    return Target(
        "tenant",
        f"tenant {tenant.display_name} (id {tenant.tenant_id}), {tenant.graph_url}",
        f"in tenant {tenant.display_name} ({tenant.tenant_id})",
    )


def run_loop(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` in a new event loop; Ctrl-C cancels it cleanly (see the module docstring).

    Raises KeyboardInterrupt when the operation was interrupted.
    """
    INTERRUPTED.clear()
    loop = asyncio.new_event_loop()
    task = loop.create_task(work)

    def on_sigint(signum: int, frame: Any) -> None:
        if INTERRUPTED.is_set():
            raise KeyboardInterrupt
        INTERRUPTED.set()
        loop.call_soon_threadsafe(task.cancel)

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        try:
            return loop.run_until_complete(task)
        except asyncio.CancelledError:
            if INTERRUPTED.is_set():
                raise KeyboardInterrupt from None
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
    finally:
        try:
            _cancel_all(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


@dataclass(frozen=True)
class Endpoint:
    """Where Graph requests go: a static-token endpoint, or (None, None) for the tenant."""

    base_url: str | None = None
    token: Secret | None = None


def lease_ttl() -> float:
    """Return the tenant lease's lifetime in seconds (CRISISKIT_LEASE_TTL, default 180)."""
    from crisiskit.engine.lease import TTL_S

    raw = os.environ.get("CRISISKIT_LEASE_TTL")
    if raw is None:
        return TTL_S
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"CRISISKIT_LEASE_TTL must be a number of seconds, not {raw!r}") from None
    if not 3 <= value <= 3600:
        raise InputError("CRISISKIT_LEASE_TTL must be between 3 and 3600 seconds")
    return value


def wait_scale() -> float:
    """Return the factor applied to documented waits (CRISISKIT_WAIT_SCALE, default 1)."""
    raw = os.environ.get("CRISISKIT_WAIT_SCALE", "1")
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"CRISISKIT_WAIT_SCALE must be a number, not {raw!r}") from None
    if value < 0:
        raise InputError("CRISISKIT_WAIT_SCALE must not be negative")
    return value


@contextmanager
def endpoint(inventory: Inventory, home: Path, sandbox: bool) -> Iterator[Endpoint]:
    """Yield the endpoint: the embedded simulator, CRISISKIT_GRAPH_URL/TOKEN, or the tenant."""
    if sandbox:
        from crisiskit.sim.server import EmbeddedSimulator
        from crisiskit.state.files import private_dir

        # The simulated tenant's file holds the kit's names (and pass hashes): owner-only.
        state_dir = private_dir(home, "sandbox")
        with EmbeddedSimulator(
            inventory=inventory, state_file=state_dir / "tenant.json", profile="instant"
        ) as sim:
            yield Endpoint(sim.base_url, Secret(SANDBOX_TOKEN))
        return
    url, token = _static_endpoint()
    if url or token:
        if not (url and token):
            raise InputError("CRISISKIT_GRAPH_URL and CRISISKIT_GRAPH_TOKEN must be set together")
        yield Endpoint(url, Secret(token))
        return
    yield Endpoint()


def _open_graph(inventory: Inventory, where: Endpoint) -> Graph:
    from crisiskit.graph import open_graph

    try:
        return open_graph(
            inventory.tenant, base_url=where.base_url, token=where.token, env=os.environ
        )
    except PreconditionFailed as exc:
        if where.base_url is not None:
            raise
        tenant = inventory.tenant
        raise PreconditionFailed(
            f"cannot sign in to tenant {tenant.display_name} ({tenant.tenant_id}): {exc}. "
            "Nothing was sent. To rehearse on the simulator instead, add --sandbox."
        ) from None


@functools.cache
def _freeze_start_up() -> None:
    """Move what the start-up loaded (modules, inventory, the Graph SDK) out of the
    collector's reach: it lives as long as the process, and a full collection walking it
    took 50-70 ms of a run's critical path (e.g. while its final documents were written).
    Once per process (in-process tests run many commands in one)."""
    gc.freeze()


def _serve(
    setups: list[Setup],
    store: StateStore,
    where: Endpoint,
    operator: str,
    work: Callable[[list[Context]], Awaitable[T]],
    *,
    scale: float = 1.0,
) -> T:
    """Run `work` in one event loop, with one Graph client shared by every commune's context.

    Each context's lock is a `TenantLock`: the home's flock and the commune's lease in the
    tenant, taken by the operations that write (read-only ones never take it).
    """
    from crisiskit.engine.context import Context
    from crisiskit.engine.tenantlock import TenantLock

    ttl = lease_ttl()

    async def main() -> T:
        graph = _open_graph(setups[0].inventory, where)
        _freeze_start_up()
        try:
            contexts = [
                Context(
                    s, store, graph, TenantLock(s.home, graph, store, operator, ttl_s=ttl),
                    operator=operator, wait_scale=scale,
                )
                for s in setups
            ]
            return await work(contexts)
        finally:
            await graph.aclose()

    return run_loop(main())


def run_activate(
    setups: list[Setup],
    *,
    sandbox: bool,
    operator: str,
    dry_run: bool = False,
    show_plans: Callable[[list[ActivationPlan]], None] = lambda plans: None,
    confirm: Callable[[list[ActivationPlan]], bool] | None = None,
    phase_for: Callable[[str], PhaseFactory] | None = None,
    options: Options | None = None,
    rebuild_state: bool = False,
) -> list[CommuneResult]:
    """Run the activation of one or several communes (concurrently) from synchronous code."""
    from crisiskit.engine.activation import Options
    from crisiskit.engine.multi import activate_many
    from crisiskit.engine.progress import quiet_phase
    from crisiskit.state import Store

    scale = wait_scale()  # bad input is refused before anything starts
    first = setups[0]
    with Store.open(first.home) as store, endpoint(first.inventory, first.home, sandbox) as where:

        async def work(contexts: list[Context]) -> list[CommuneResult]:
            return await activate_many(
                contexts, show_plans=show_plans, confirm=confirm, dry_run=dry_run,
                phase_for=phase_for or (lambda commune: quiet_phase),
                options=options or Options(), rebuild_state=rebuild_state,
            )

        return _serve(setups, store, where, operator, work, scale=scale)


def run_operation(
    setup: Setup,
    work: Callable[[Context], Awaitable[T]],
    *,
    sandbox: bool,
    operator: str,
) -> T:
    """Run one operation on one commune (a day-2 operation) from synchronous code."""
    from crisiskit.state import Store

    scale = wait_scale()  # bad input is refused before anything starts
    with Store.open(setup.home) as store, endpoint(setup.inventory, setup.home, sandbox) as where:

        async def one(contexts: list[Context]) -> T:
            return await work(contexts[0])

        return _serve([setup], store, where, operator, one, scale=scale)


def run_plan(setup: Setup, *, sandbox: bool) -> ActivationPlan:
    """Compute the activation plan from synchronous code (read-only: no lock, no journal)."""
    from crisiskit.engine.activation import plan_only
    from crisiskit.state import Store

    with Store.open(setup.home) as store, endpoint(setup.inventory, setup.home, sandbox) as where:

        async def work(contexts: list[Context]) -> ActivationPlan:
            return await plan_only(contexts[0])

        return _serve([setup], store, where, "plan", work)


def run_status(
    inventory_path: Path,
    playbooks_dir: Path,
    home: Path,
    commune: str | None,
    *,
    sandbox: bool,
    wait: bool = False,
    phase_for: Callable[[str], PhaseFactory] | None = None,
) -> list[KitStatus] | list[WaitResult]:
    """Return the status of one commune, or of every commune that has anything recorded.

    With `wait`, first wait (read-only, concurrently for every commune) for what is still
    provisioning, under the documented bounds.
    """
    from crisiskit.engine.context import load_setups
    from crisiskit.engine.progress import quiet_phase
    from crisiskit.engine.status import communes_with_a_kit, kit_status, wait_for_kit
    from crisiskit.inventory import load_inventory
    from crisiskit.state import Store

    scale = wait_scale()
    inventory = load_inventory(inventory_path)
    with Store.open(home) as store:
        if commune is not None:
            ids = [inventory.commune(commune).id]
        else:
            ids = communes_with_a_kit(store, home, [c.id for c in inventory.communes])
        if not ids:
            return []
        setups = load_setups(inventory_path, playbooks_dir, home, ids, None, inventory=inventory)
        with endpoint(inventory, home, sandbox) as where:
            if not wait:

                async def look(contexts: list[Context]) -> list[KitStatus]:
                    return [await kit_status(ctx) for ctx in contexts]

                return _serve(setups, store, where, "status", look)
            phases = phase_for or (lambda commune: quiet_phase)

            async def wait_all(contexts: list[Context]) -> list[WaitResult]:
                return list(await asyncio.gather(
                    *(wait_for_kit(ctx, phase=phases(ctx.commune)) for ctx in contexts)
                ))

            return _serve(setups, store, where, "status --wait", wait_all, scale=scale)


def run_export(
    setup: Setup,
    *,
    sandbox: bool,
    operator: str,
    root: Path | None = None,
    phase: PhaseFactory | None = None,
) -> ExportReport:
    """Run one export from synchronous code."""
    from crisiskit.engine.export import export
    from crisiskit.engine.progress import quiet_phase
    from crisiskit.state import Store

    with Store.open(setup.home) as store, endpoint(setup.inventory, setup.home, sandbox) as where:

        async def work(contexts: list[Context]) -> ExportReport:
            return await export(contexts[0], root=root, phase=phase or quiet_phase)

        return _serve([setup], store, where, operator, work)


def run_teardown(setup: Setup, *, sandbox: bool, operator: str, **options: Any) -> TeardownReport:
    """Run one teardown from synchronous code (options: those of `engine.teardown.teardown`)."""
    from crisiskit.engine.teardown import teardown
    from crisiskit.state import Store

    scale = wait_scale()
    with Store.open(setup.home) as store, endpoint(setup.inventory, setup.home, sandbox) as where:

        async def work(contexts: list[Context]) -> TeardownReport:
            return await teardown(contexts[0], **options)

        return _serve([setup], store, where, operator, work, scale=scale)


class SimTenant:
    """The embedded simulator's control API, as an exercise drives it (injects.Tenant)."""

    def __init__(self, sim: Any) -> None:
        self.sim = sim

    def set_knobs(self, knobs: Any) -> None:
        self.sim.set_profile(**dict(knobs))

    def knobs(self) -> dict[str, float]:
        view = self.sim.simulator.profile.to_json()
        return {k: float(v) for k, v in view.items() if isinstance(v, int | float)}

    def sign_in(self, upn: str, secret: Secret | None) -> tuple[bool, str]:
        options = {} if secret is None else {"temporaryAccessPass": secret.reveal()}
        answer = self.sim.sign_in(upn, **options)
        return bool(answer.get("allowed")), str(answer.get("reason", ""))


def run_exercise(
    scenario: Any,
    *,
    operator: str,
    on_event: Callable[[Any], None] | None = None,
) -> Any:
    """Run an exercise on a fresh simulated tenant, in this process; return its result.

    The embedded simulator is seeded with the scenario's seed and its delays scaled by
    60/speed (its realistic profile is the service's minutes as seconds); its state and the
    exercise's local state live in a temporary home removed afterwards. One Graph client
    (one throttling budget) serves every commune.
    """
    import tempfile

    from crisiskit.clock import MeteredClock
    from crisiskit.exercise.run import Services
    from crisiskit.exercise.run import run_exercise as run
    from crisiskit.graph import open_graph
    from crisiskit.sim.server import EmbeddedSimulator
    from crisiskit.state import Store

    with tempfile.TemporaryDirectory(prefix="crisiskit-exercise-") as tmp:
        home = Path(tmp)
        sim = EmbeddedSimulator(
            inventory=scenario.inventory, profile=scenario.tenant.profile,
            scale=60.0 / scenario.speed, seed=scenario.seed,
        )
        with sim, Store.open(home) as store:

            async def main() -> Any:
                graph_clock = MeteredClock()
                graph = open_graph(scenario.inventory.tenant, base_url=sim.base_url,
                                   token=Secret(SANDBOX_TOKEN), clock=graph_clock)
                try:
                    services = Services(
                        graph, store, home, SimTenant(sim), operator=operator,
                        graph_clock=graph_clock, on_event=on_event,
                    )
                    return await run(scenario, services)
                finally:
                    await graph.aclose()

            return run_loop(main())
