"""Run hand-written plans through the real engine: executor, run lifecycle, SQLite, Graph door.

The simulator answers over loopback; only the clock of the engine's waits may be a
`ManualClock`, so that consistency spacing and documented waits play out instantly.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine_helpers import REPO, SAMPLE

from crisiskit.clock import Clock, ManualClock
from crisiskit.engine.context import Context, load_setup
from crisiskit.engine.executor import Executor
from crisiskit.engine.run import FileLock, recorded
from crisiskit.engine.session import Execution, RunSession
from crisiskit.graph import open_graph
from crisiskit.graph.consistency import Consistency
from crisiskit.inventory import load_inventory
from crisiskit.plan.desired import tag_property
from crisiskit.plan.model import Plan, Step
from crisiskit.resources.users import UserCreate
from crisiskit.sim.server import EmbeddedSimulator
from crisiskit.state import Store

TAG = tag_property(load_inventory(SAMPLE).tenant.client_id)
DOMAIN = "crise.ampmetropole.fr"
ROOT = "https://graph.microsoft.com/v1.0"


@dataclass
class Ran:
    execution: Execution
    passes: list[Any] = field(default_factory=list)
    clock: Clock | None = None
    stats: Any = None
    waits: list[Any] = field(default_factory=list)  # the "waiting" events (not kept by runs)


def user(upn_local: str, commune: str = "aubagne") -> UserCreate:
    upn = f"{upn_local}@{DOMAIN}"
    return UserCreate(upn, upn_local.replace(".", ""), upn_local.title(), "Given", "Surname",
                      "FR", TAG, commune)


def execute(
    sim: EmbeddedSimulator,
    home: Path,
    steps: list[Step],
    *,
    clock: Clock | None = None,
    wait_scale: float = 1.0,
    rules: Consistency | None = None,
    commune: str = "aubagne",
) -> Ran:
    """Execute `steps` as one recorded run of kind "test" on `commune`; return what happened."""
    clock = clock or ManualClock()
    passes: list[Any] = []
    waits: list[Any] = []
    setup = load_setup(SAMPLE, REPO / "playbooks", home, commune, None)

    async def main() -> Ran:
        graph = open_graph(None, base_url=sim.base_url, token="planrun")
        try:
            with Store.open(home) as store:
                ctx = Context(
                    setup, store, graph, FileLock(home), operator="tester", clock=clock,
                    wait_scale=wait_scale, rules=rules or Consistency(),
                )
                async with recorded(ctx, "test") as run:
                    session = RunSession(ctx, run.journal, save_passes=passes.extend)
                    session.event_listeners.append(
                        lambda e: waits.append(e) if e.status == "waiting" else None
                    )
                    ex = await Executor(session).run(Plan("test", commune, steps))
                    run.finish(ex.ok, {"failures": len(ex.failures)})
                return Ran(ex, passes, clock, run.scope.stats, waits)
        finally:
            await graph.aclose()

    return asyncio.run(main())


def sub_requests(sim: EmbeddedSimulator, since: int = 0) -> list[dict[str, Any]]:
    return [r for r in sim.requests()[since:] if r.get("via") == "$batch"]
