"""Where resource verbs report: per-step results, events, warnings, the journal and the sinks.

`RunSession` is the `crisiskit.resources.base.Session` of one execution. Every report is
journaled (a row in the run's steps and an audit entry) the moment it is made, and handed to
the listeners (the executor, to release dependent steps; the operation, to show progress).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from crisiskit.graph import consistency
from crisiskit.graph.types import GraphResponse, Request
from crisiskit.plan.model import Step

if TYPE_CHECKING:
    from crisiskit.clock import Clock
    from crisiskit.engine.context import Context
    from crisiskit.engine.journal import Journal
    from crisiskit.graph import Graph
    from crisiskit.graph.consistency import Consistency, Lookup
    from crisiskit.resources.taps import IssuedPass
    from crisiskit.state.api import StateStore

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

OK = frozenset({"done", "ready", "present"})


@dataclass
class StepResult:
    """What became of one step: done | ready | pending | failed | skipped | present | conflict.

    `pending`: a wait that ended before the service was ready (past its bound, or not waited
    for with --no-wait), or a step that needs one; neither a success nor a failure.
    """

    step: Step
    status: str
    values: dict[str, Any] = field(default_factory=dict)
    detail: str = ""
    request_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in OK

    @property
    def id(self) -> str | None:
        value = self.values.get("id")
        return str(value) if value else None


@dataclass(frozen=True)
class Event:
    """A fact established on the way that is not a step's outcome (a mailbox still provisioning).

    Status "waiting" is the start of a wait (`detail` says for what, e.g. "for SharePoint to
    provision the group's site"); the wait ends with the result of the step of the same kind
    and key, with another event of that kind and key, or with the end of the run.
    """

    kind: str
    key: str
    status: str
    phase: str
    detail: str = ""


@dataclass
class Execution:
    """Everything one execution reported, in order."""

    results: dict[str, StepResult] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def of(self, kind: str, *statuses: str) -> list[StepResult]:
        return [
            r for r in self.results.values()
            if r.step.kind == kind and (not statuses or r.status in statuses)
        ]


Listener = Callable[[StepResult], None]
EventListener = Callable[[Event], None]
PassSink = Callable[[Sequence["IssuedPass"]], None]


def _no_sink(passes: Sequence[IssuedPass]) -> None:
    if passes:
        raise RuntimeError("Temporary Access Passes issued without a credentials sink")


def graph_words(answer: GraphResponse | None) -> str:
    """Return what Graph said of a failed request: status, code, message, request-id."""
    if answer is None or not answer.status:
        return ""
    words = f"HTTP {answer.status} {answer.code}".strip()
    if answer.message:
        words += f": {answer.message}"
    if answer.request_id:
        words += f" (request-id {answer.request_id})"
    return words


class RunSession:
    """The session of one execution (see the module docstring)."""

    def __init__(
        self,
        ctx: Context,
        journal: Journal,
        *,
        save_passes: PassSink = _no_sink,
    ) -> None:
        self._ctx = ctx
        self._journal = journal
        self._save_passes = save_passes
        self.execution = Execution()
        self.listeners: list[Listener] = []
        self.event_listeners: list[EventListener] = []

    # -- what verbs read ------------------------------------------------------------------

    @property
    def graph(self) -> Graph:
        return self._ctx.graph

    @property
    def clock(self) -> Clock:
        return self._ctx.clock

    @property
    def wait_scale(self) -> float:
        return max(self._ctx.wait_scale, 0.0)

    @property
    def rules(self) -> Consistency:
        return self._ctx.rules

    @property
    def state(self) -> StateStore:
        return self._ctx.store

    @property
    def run_id(self) -> int:
        return self._journal.run_id

    @property
    def commune(self) -> str:
        return self._journal.commune

    @property
    def operator(self) -> str:
        return self._journal.operator

    async def send(self, requests: Mapping[K, Request]) -> dict[K, GraphResponse]:
        return await self.graph.send(requests)

    async def settle(
        self, requests: Mapping[K, Request], *, retry_ambiguous: bool = False
    ) -> dict[K, GraphResponse]:
        return await consistency.settle(
            self.graph, self.clock, requests, retry_ambiguous=retry_ambiguous, rules=self.rules
        )

    async def look_up(self, lookups: Mapping[K, Lookup[T]]) -> dict[K, T | None]:
        return await consistency.look_up(self.graph, self.clock, lookups, rules=self.rules)

    # -- what verbs report ----------------------------------------------------------------

    @contextmanager
    def journal(self) -> Iterator[None]:
        with self._journal.group():
            yield

    def created(self, step: Step, graph_id: str) -> None:
        self._journal.created(step.kind, step.key, graph_id)

    def done(
        self,
        step: Step,
        *,
        values: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        detail: str = "",
        status: str = "done",
    ) -> None:
        result = StepResult(step, status, dict(values or {}), detail, request_id)
        self._journal.step(
            step.phase, step.kind, step.key, step.action, status,
            graph_id=result.id, detail=detail or None, request_id=request_id,
        )
        self._record(result)

    def failed(self, step: Step, answer: GraphResponse | None = None, why: str = "") -> None:
        """Report a failed step: `why` (for people) and what Graph itself said, if it said it."""
        said = graph_words(answer)
        reason = f"{why}; {said}" if why and said else why or said or "no answer"
        rid = answer.request_id if answer is not None else None
        self._journal.step(
            step.phase, step.kind, step.key, step.action, "failed", detail=reason, request_id=rid
        )
        self.execution.failures.append(f"{step.kind} {step.key}: {reason}")
        self._record(StepResult(step, "failed", {}, reason, rid))

    def pending(self, step: Step, why: str) -> None:
        """Report a wait that ended before the service was ready, or a step that needs one."""
        self._journal.step(step.phase, step.kind, step.key, step.action, "pending", detail=why)
        self._record(StepResult(step, "pending", {}, why))

    def skipped(self, step: Step, because: str) -> None:
        """Report a step not attempted because a step it needs did not succeed."""
        detail = f"not attempted: {because} did not succeed"
        self._journal.step(step.phase, step.kind, step.key, step.action, "skipped", detail=detail)
        self._record(StepResult(step, "skipped", {}, detail))

    def unreported(self, step: Step) -> None:
        """Report a step its verb returned without a word about (a defect, never silent)."""
        self.failed(step, why="no outcome reported; rerun")

    def settled(self, step: Step) -> None:
        """Record a step that is not executed (present, conflict): its outcome is its action."""
        values = {"id": step.graph_id} if step.graph_id else {}
        self._record(StepResult(step, step.action, values))

    def event(
        self,
        kind: str,
        key: str,
        status: str,
        *,
        phase: str,
        action: str = "wait",
        journal: bool = True,
        detail: str = "",
    ) -> None:
        if journal:
            self._journal.step(phase, kind, key, action, status, detail=detail or None)
        ev = Event(kind, key, status, phase, detail)
        if status != "waiting":  # a wait is shown to the operator, it is not a fact
            self.execution.events.append(ev)
        for listener in self.event_listeners:
            listener(ev)

    def warn(self, message: str) -> None:
        self.execution.warnings.append(message)

    def save_passes(self, passes: Sequence[IssuedPass]) -> None:
        self._save_passes(passes)

    def _record(self, result: StepResult) -> None:
        if result.step.id in self.execution.results:
            raise RuntimeError(f"step {result.step.id} reported twice")
        self.execution.results[result.step.id] = result
        for listener in self.listeners:
            listener(result)
