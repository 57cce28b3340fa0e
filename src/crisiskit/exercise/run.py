"""Run a scenario: injects applied at their time, every event recorded, communes timed.

    result = await run_exercise(scenario, services)

The CLI (`cli/wiring.run_exercise`) starts a fresh simulated tenant (the embedded simulator,
seeded, its documented delays compressed by the speed factor), opens a state store in a
temporary home and ONE Graph client, and passes them in as `Services`. Every commune's
`Context` shares that client, hence one throttling budget, as `activate A B C` does.

Time: the exercise clock is the wall clock (the one the simulator runs on) times the speed
factor: at speed 60 a minute of the scenario is a second of the machine. Each inject starts
at its offset on that clock; the simulator's delays are scaled by 60/speed (its realistic
profile is "the service's minutes as seconds") and the tool's documented waits by 1/speed
(`Context.wait_scale`), so both are compressed alike. Injects on one commune run one after
the other, in scenario order (a day-2 operation waits for the activation before it, as the
commune's lock would make it); communes run concurrently.

Determinism: the injects, their order and the communes are a pure function of the scenario;
the simulator is seeded. Events are recorded in scenario order, whatever order they finish
in; executed times vary with the machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crisiskit.clock import SYSTEM, Clock, MeteredClock
from crisiskit.errors import CrisisKitError
from crisiskit.exercise import injects as op
from crisiskit.exercise.scenario import (
    AgentLeaves,
    AgentsJoin,
    CommuneHit,
    DeviceLost,
    EndOfForensics,
    Inject,
    PassReissue,
    Scenario,
    ThrottlingStorm,
)
from crisiskit.graph.consistency import RULES, Consistency

if TYPE_CHECKING:
    from crisiskit.engine.context import Context
    from crisiskit.graph import Graph
    from crisiskit.state.api import StateStore

# Readiness checks (a status read of the kit): 30 s of exercise after the activation, then
# twice as long each time, up to 4 min, so that measuring does not eat the throttling budget
# the activations of other communes need (the time to operational is known to that step).
POLL_S = 30.0
POLL_MAX_S = 240.0
POLL_MIN_WALL_S = 0.2
OPERATIONAL_DEADLINE_S = 4 * 3600.0  # exercise seconds after the activation ends
STATS = ("http_requests", "batches", "sub_requests", "retries", "throttled", "ambiguous",
         "writes")
MILESTONES = ("connexion", "messagerie", "equipe")


def exercise_rules(speed: float) -> Consistency:
    """Return the consistency rules of an exercise at `speed`.

    The spacing of consistency reads is compressed like the simulator's replication lag
    (60/speed, never slower than production), so that the tool waits as long relative to the
    simulated service as it would against the real one; attempts, counts of agreeing reads
    and deadlines stay as they are.
    """
    import dataclasses

    f = min(1.0, 60.0 / speed)
    return dataclasses.replace(
        RULES, first_delay_s=RULES.first_delay_s * f, max_delay_s=RULES.max_delay_s * f,
        absent_spacing_s=RULES.absent_spacing_s * f, agree_spacing_s=RULES.agree_spacing_s * f)


class ExerciseClock:
    """Scenario time: seconds since the start, the wall clock's times the speed factor."""

    def __init__(self, speed: float, base: Clock = SYSTEM) -> None:
        self.speed = speed
        self.base = base
        self.started_at = base.now()
        self._origin = base.monotonic()

    def now(self) -> float:
        return (self.base.monotonic() - self._origin) * self.speed

    async def until(self, moment: float) -> None:
        """Wait until scenario time `moment` (returns at once if it is past)."""
        delay = (moment - self.now()) / self.speed
        if delay > 0:
            await self.base.sleep(delay)


@dataclass
class Services:
    """What an exercise runs on (built by the CLI: simulator, store, Graph client)."""

    graph: Graph
    store: StateStore
    home: Path
    tenant: op.Tenant
    operator: str = "exercice"
    clock: Clock = SYSTEM
    engine_clock: MeteredClock = field(default_factory=MeteredClock)  # the service's waits
    graph_clock: MeteredClock | None = None  # the Graph door's clock: 429 and retry waits
    on_event: Callable[[Event], None] | None = None


@dataclass
class Event:
    """One inject as planned and as executed."""

    index: int
    kind: str
    commune: str | None
    title: str
    planned: float  # scenario seconds
    started: float | None = None
    finished: float | None = None
    outcome: str = "pending"
    detail: str = ""
    attempts: int = 1
    notes: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    until: float | None = None  # a storm's planned end

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (
            "index", "kind", "commune", "title", "planned", "started", "finished", "outcome",
            "detail", "attempts", "notes", "stats", "until")}


@dataclass
class CommuneResult:
    """One commune's time to operational, against the service's own delays."""

    id: str
    name: str
    hit_at: float | None
    operational_at: float | None
    milestones: dict[str, float]
    service_delay: float  # exercise seconds the service itself needs (Team, mailboxes)
    problem: str = ""

    @property
    def time_to_operational(self) -> float | None:
        if self.hit_at is None or self.operational_at is None:
            return None
        return self.operational_at - self.hit_at

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "hit_at": self.hit_at,
                "operational_at": self.operational_at, "milestones": self.milestones,
                "time_to_operational": self.time_to_operational,
                "service_delay": self.service_delay, "problem": self.problem}


@dataclass
class ExerciseResult:
    """Everything the report says."""

    scenario: Scenario
    started_at: datetime
    events: list[Event]
    communes: list[CommuneResult]
    elapsed: float  # scenario seconds
    wall_s: float
    totals: dict[str, int]
    waits: dict[str, float]  # task-seconds of the machine: throttling, queue, service
    knobs: dict[str, float]

    @property
    def ok(self) -> bool:
        return all(e.outcome == "ok" for e in self.events) and all(
            not c.problem for c in self.communes)

    def to_json(self) -> dict[str, Any]:
        s = self.scenario
        return {
            "scenario": s.name, "title": s.title, "speed": s.speed, "seed": s.seed,
            "profile": s.tenant.profile, "started_at": self.started_at.isoformat(),
            "elapsed": self.elapsed, "wall_s": self.wall_s, "ok": self.ok,
            "events": [e.to_json() for e in self.events],
            "communes": [c.to_json() for c in self.communes],
            "totals": self.totals, "waits": self.waits,
        }


def planned_events(scenario: Scenario) -> list[tuple[Inject, str | None]]:
    """Return the injects as run: `commune: all` becomes one per commune, in scenario order."""
    out: list[tuple[Inject, str | None]] = []
    for inject in scenario.injects:
        target = getattr(inject, "commune", None)
        if target == "all":
            out.extend((inject, cid) for cid in scenario.communes)
        else:
            out.append((inject, target))
    return out


TITLES = {
    "commune_hit": "{commune} touchée : activation du kit de crise",
    "throttling_storm": "Tempête de limitation Graph ({rate:g} requêtes/s)",
    "device_lost": "{commune} : appareil perdu ou en panne, remplacement",
    "agents_join": "{commune} : arrivée d'agents dans la cellule",
    "agent_leaves": "{commune} : départ d'un agent de la cellule",
    "pass_reissue": "{commune} : nouveau passe d'accès temporaire",
    "end_of_forensics": "{commune} : fin des investigations, démontage avec export",
    "end_of_exercise": "Fin de l'exercice",
}


def title_of(inject: Inject, commune: str | None, names: Mapping[str, str]) -> str:
    if inject.title:
        return inject.title
    return TITLES[inject.kind].format(commune=names.get(commune or "", commune or ""),
                                      rate=getattr(inject, "rate", 0.0))


class Runner:
    """One run of a scenario (see the module docstring)."""

    def __init__(self, scenario: Scenario, services: Services) -> None:
        from crisiskit.engine.context import Setup
        from crisiskit.playbooks import load_playbook

        self.scenario = scenario
        self.services = services
        self.clock = ExerciseClock(scenario.speed, services.clock)
        books_dir = self._books_dir = scenario.playbooks_dir
        self._storms: list[asyncio.Task[None]] = []
        inv = scenario.inventory
        self.communes: dict[str, op.Commune] = {}
        for cid in scenario.communes:
            commune = inv.commune(cid)
            book = load_playbook(commune.playbook, books_dir)
            self.communes[cid] = op.Commune(Setup(inv, commune, book, services.home))
        self.events: list[Event] = []
        self.knobs: dict[str, float] = {}
        self.rules = exercise_rules(scenario.speed)

    def context(self, commune: op.Commune) -> Context:
        from crisiskit.engine.context import Context
        from crisiskit.engine.run import FileLock

        s = self.services
        return Context(commune.setup, s.store, s.graph, FileLock(s.home), operator=s.operator,
                       clock=s.engine_clock, wait_scale=1.0 / self.scenario.speed,
                       rules=self.rules)

    async def run(self) -> ExerciseResult:
        s, scenario = self.services, self.scenario
        wall0 = s.clock.monotonic()
        faults = scenario.tenant.faults.knobs()
        if faults:
            s.tenant.set_knobs(faults)
        self.knobs = s.tenant.knobs()
        names = {cid: c.setup.commune.name for cid, c in self.communes.items()}
        tails: dict[str, asyncio.Task[None]] = {}
        async with asyncio.TaskGroup() as group:
            for i, (inject, cid) in enumerate(planned_events(scenario)):
                event = Event(i, inject.kind, cid, title_of(inject, cid, names), inject.at)
                self.events.append(event)
                await self.clock.until(inject.at)
                if inject.kind == "end_of_exercise":
                    await asyncio.gather(*tails.values(), *self._storms)
                    event.started = event.finished = self.clock.now()
                    event.outcome, event.detail = "ok", "fin de l'exercice"
                    self._emit(event)
                    break
                previous = tails.get(cid) if cid else None
                task = group.create_task(self._apply(event, inject, previous))
                if cid:
                    tails[cid] = task
                else:
                    self._storms.append(task)
        return self._result(wall0)

    async def _apply(self, event: Event, inject: Inject, previous: asyncio.Task[None] | None
                     ) -> None:
        if previous is not None:
            await asyncio.wait({previous})
        event.started = self.clock.now()
        with self.services.graph.scope() as traffic:
            try:
                applied = await self._dispatch(event, inject)
            except CrisisKitError as exc:
                applied = op.Applied("failed", op.one_line(exc))
        event.finished = self.clock.now()
        event.outcome, event.detail = applied.outcome, applied.detail
        event.attempts, event.notes = applied.attempts, applied.notes
        event.stats = {k: getattr(traffic.stats, k) for k in STATS}
        self._emit(event)

    def _emit(self, event: Event) -> None:
        if self.services.on_event is not None:
            self.services.on_event(event)

    async def _dispatch(self, event: Event, inject: Inject) -> op.Applied:
        tenant = self.services.tenant
        if isinstance(inject, ThrottlingStorm):
            return await self._storm(event, inject)
        commune = self.communes[event.commune or ""]
        if isinstance(inject, CommuneHit):
            return await self._hit(commune, inject)
        if isinstance(inject, AgentsJoin):
            return await op.agents_join(inject, commune, self.context, tenant)
        if isinstance(inject, AgentLeaves):
            return await op.agent_leaves(inject, commune, self.context, tenant)
        if isinstance(inject, DeviceLost):
            return await op.device_lost(inject, commune, self.context, tenant)
        if isinstance(inject, PassReissue):
            return await op.pass_reissue(inject, commune, self.context, tenant)
        if isinstance(inject, EndOfForensics):
            return await op.end_of_forensics(inject, commune, self.context, tenant)
        raise ValueError(f"inject kind {inject.kind!r} has no operation")  # a defect

    async def _storm(self, event: Event, storm: ThrottlingStorm) -> op.Applied:
        tenant, graph = self.services.tenant, self.services.graph
        before = {k: self.knobs.get(k, 0.0) for k in ("throttle_rate", "throttle_burst")}
        throttled = graph.stats.throttled
        tenant.set_knobs({"throttle_rate": storm.rate, "throttle_burst": storm.burst})
        event.until = storm.at + storm.duration
        try:
            await self.clock.until(event.until)
        finally:
            tenant.set_knobs(before)
        met = graph.stats.throttled - throttled
        return op.Applied("ok", f"{met} réponse(s) 429 reçue(s) pendant la tempête, "
                          "toutes attendues (Retry-After) puis rejouées")

    async def _hit(self, commune: op.Commune, hit: CommuneHit) -> op.Applied:
        if hit.playbook is not None:
            import dataclasses

            from crisiskit.playbooks import load_playbook

            book = load_playbook(hit.playbook, self._books_dir)
            commune.setup = dataclasses.replace(commune.setup, playbook=book)
        commune.hit_at = self.clock.now()
        applied, _ = await op.activate_until_done(self.context(commune), commune)
        commune.activated_at = self.clock.now()
        if applied.outcome != "ok":
            commune.operational_failed = applied.detail
            return applied
        await self._operational(commune)
        for error in commune.check_errors:
            applied.notes.append(f"vérification de la mise en service : {error} ; vérifiée "
                                 "de nouveau")
        commune.check_errors.clear()
        if commune.operational_at is not None:
            from crisiskit.exercise.report import duration_fr

            took = commune.operational_at - (commune.hit_at or 0.0)
            applied.detail += f" ; opérationnelle en {duration_fr(took)}"
        else:
            applied.outcome = "failed"
            applied.detail += f" ; pas opérationnelle : {commune.operational_failed}"
        return applied

    async def _operational(self, commune: op.Commune) -> None:
        """Check, until all hold: every account signs in, mailboxes ready, Team ready."""
        from crisiskit.engine.status import kit_status

        tenant = self.services.tenant
        deadline = self.clock.now() + OPERATIONAL_DEADLINE_S
        wants_team = commune.setup.playbook.team is not None
        poll = POLL_S
        usable_once = commune.setup.playbook.tap.usable_once
        while True:
            try:
                status = await kit_status(self.context(commune))
            except CrisisKitError as exc:  # a read the service answered badly: look again
                if self.clock.now() > deadline:
                    commune.operational_failed = op.one_line(exc)
                    return
                commune.check_errors.append(op.one_line(exc))
                await self.clock.until(self.clock.now() + self._poll(poll))
                poll = min(poll * 2, POLL_MAX_S)
                continue
            now = self.clock.now()
            ms = commune.milestones
            waiting = []
            signed = [a.account == "present" and tenant.sign_in(
                a.upn, None if usable_once else commune.passes.get(a.upn))[0]
                for a in status.accounts]
            if all(signed):
                ms.setdefault("connexion", now)
            else:
                waiting.append(f"{signed.count(False)} compte(s) sans connexion possible")
            if all(a.mailbox == "ready" for a in status.accounts):
                ms.setdefault("messagerie", now)
            else:
                waiting.append("boîtes aux lettres en préparation")
            if not wants_team or status.team == "ready":
                ms.setdefault("equipe", now)
            else:
                waiting.append("équipe Teams absente")
            if not waiting:
                commune.operational_at = max(ms.values())
                return
            if now > deadline:
                commune.operational_failed = ", ".join(waiting)
                return
            await self.clock.until(now + self._poll(poll))
            poll = min(poll * 2, POLL_MAX_S)

    def _poll(self, seconds: float) -> float:
        return max(seconds, POLL_MIN_WALL_S * self.scenario.speed)

    def _result(self, wall0: float) -> ExerciseResult:
        s = self.services
        speed = self.scenario.speed
        k = self.knobs
        # The Team is created with its group (POST /teams from scratch): the service needs
        # its operation's time, not a young group's replication.
        team = k.get("team_op_s", 0.0) * speed
        mailbox = k.get("mailbox_delay_s", 0.0) * speed
        communes = []
        for cid, c in self.communes.items():
            floor = max(mailbox, team if c.setup.playbook.team is not None else 0.0)
            communes.append(CommuneResult(
                cid, c.setup.commune.name, c.hit_at, c.operational_at, dict(c.milestones),
                floor, c.operational_failed if c.hit_at is not None else ""))
        stats = s.graph.stats
        g = s.graph_clock
        return ExerciseResult(
            scenario=self.scenario,
            started_at=self.clock.started_at,
            events=self.events,
            communes=communes,
            elapsed=self.clock.now(),
            wall_s=s.clock.monotonic() - wall0,
            totals={k: getattr(stats, k) for k in (*STATS, "peak_in_flight")},
            waits={
                "graph_retry_after_s": g.slept if g else 0.0,
                "graph_queue_s": g.cut if g else 0.0,
                "service_s": s.engine_clock.slept,
            },
            knobs=dict(self.knobs),
        )


async def run_exercise(scenario: Scenario, services: Services) -> ExerciseResult:
    """Run `scenario` on `services` (see the module docstring)."""
    return await Runner(scenario, services).run()
