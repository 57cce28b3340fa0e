"""The activation's progress, phase by phase, as steps finish and waits report.

    ActivationProgress(factory, kit, plan)   .step(result) / .event(event) / .close(outcome)

Phases: accounts, licences, mailboxes, temporary access passes, phone methods, group,
members, team, sharepoint, and "handover" (the credentials file, the sign-in slips and the
sheet, written as soon as the accounts, passes and loans exist). Events the verbs report
while they wait (kind `wait`: what is still provisioning, for how long, up to which bound)
become the note of their phase; the rendering is the CLI's (`console.progress`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from crisiskit.engine.session import Event, StepResult
from crisiskit.plan.desired import DesiredKit
from crisiskit.plan.model import Plan
from crisiskit.resources.waiting import WAIT

if TYPE_CHECKING:
    from crisiskit.engine.report import Outcome

HANDOVER = "handover"  # the event (and phase) of the documents written mid-run


class PhaseProgress(Protocol):
    def advance(self, n: int = 1, note: str | None = None) -> None: ...

    def finish(self, summary: str) -> None: ...


PhaseFactory = Callable[[str, int], PhaseProgress]


class _Quiet:
    def advance(self, n: int = 1, note: str | None = None) -> None:
        return None

    def finish(self, summary: str) -> None:
        return None


def quiet_phase(name: str, total: int) -> PhaseProgress:
    return _Quiet()


@dataclass
class _Phase:
    name: str
    kinds: frozenset[str]
    total: int
    summary: Callable[[], str]
    bar: PhaseProgress
    left: int = 0
    finished: bool = False


class ActivationProgress:
    """Show the activation's phases as steps finish, and what the waits are waiting for."""

    def __init__(self, factory: PhaseFactory, kit: DesiredKit, plan: Plan) -> None:
        self.created: Counter[str] = Counter()
        self.updated: Counter[str] = Counter()
        self.status: dict[str, Counter[str]] = {}
        self.handover = ""
        present = Counter(s.kind for s in plan.steps if s.action == "present")
        todo = Counter(s.kind for s in plan.steps if s.action not in ("present", "conflict"))
        c = self.created

        def count(kind: str, status: str) -> int:
            return self.status.get(kind, Counter())[status]

        specs: list[tuple[str, Iterable[str], bool, Callable[[], str]]] = [
            ("accounts", ["user"], True,
             lambda: f"{c['user']} created, {present['user']} present"),
            ("licences", ["licence"], True,
             lambda: f"{c['licence']} assigned" if todo["licence"] else "nothing to assign"),
            ("mailboxes", ["mailbox"], bool(kit.users), lambda: self._mailboxes(present)),
            ("temporary access passes", ["tap"], True,
             lambda: f"{c['tap']} issued" if todo["tap"] else "none to issue"),
            ("phone methods", ["phone_method"], kit.register_phone,
             lambda: f"{c['phone_method']} registered, {self.updated['phone_method']} updated"),
            (HANDOVER, [], True,
             lambda: self.handover or "nothing was provisioning then: written at the end"),
            ("group", ["group"], kit.group is not None,
             lambda: "failed" if todo["group"] and not (c["group"] or self.updated["group"])
             else "ready"),
            ("members", ["membership"], kit.group is not None,
             lambda: f"{c['membership']} added"),
            ("team", ["team", "channel"], kit.team is not None,
             lambda: "still being created" if count("team", "pending")
             else f"team ready, {c['channel']} channels"
             if count("team", "ready") or c["team"] or present["team"] else "not created"),
            ("sharepoint", ["drive", "folder"], bool(kit.folders),
             lambda: f"drive ready, {c['folder']} folders created"
             if count("drive", "ready") or present["drive"] else "site still provisioning"),
        ]
        self.phases: list[_Phase] = []
        for name, kinds, shown, summary in specs:
            if not shown:
                continue
            ks = frozenset(kinds)
            total = sum(todo[k] for k in ks) if ks else 1
            phase = _Phase(name, ks, total, summary, factory(name, total), left=total)
            self.phases.append(phase)
            if ks and total == 0:
                self._finish(phase)

    def step(self, result: StepResult) -> None:
        kind, action = result.step.kind, result.step.action
        if action in ("present", "conflict"):
            return
        self.status.setdefault(kind, Counter())[result.status] += 1
        if result.status == "done" and action == "create":
            self.created[kind] += 1
        if result.status == "done" and action == "update":
            self.updated[kind] += 1
        for phase in self.phases:
            if kind in phase.kinds and not phase.finished:
                phase.bar.advance(1)
                phase.left -= 1
                if phase.left <= 0:
                    self._finish(phase)

    def event(self, event: Event) -> None:
        for phase in self.phases:
            if phase.finished:
                continue
            if event.kind == WAIT and phase.name == event.phase:
                phase.bar.advance(0, note=event.status)
            elif event.kind == HANDOVER and phase.name == HANDOVER:
                self.handover = event.status
                phase.bar.advance(1)
                self._finish(phase)

    def close(self, outcome: Outcome | None) -> None:
        """Finish the phases still open."""
        for phase in self.phases:
            self._finish(phase)

    def _mailboxes(self, present: Counter[str]) -> str:
        if not self.status.get("mailbox"):
            return "none to wait for"
        ready = self.status.get("mailbox", Counter())["ready"]
        pending = self.status.get("mailbox", Counter())["pending"]
        waiting = f", {pending} still provisioning" if pending else ""
        return f"{ready} ready{waiting}"

    def _finish(self, phase: _Phase) -> None:
        if phase.finished:
            return
        phase.finished = True
        phase.bar.finish(phase.summary())


class ReadinessProgress:
    """Show the waits of `status --wait`: one phase per kind waited for, notes as they come."""

    NAMES = {"mailbox": "mailboxes", "team": "team", "drive": "sharepoint", "channel": "team"}

    def __init__(self, factory: PhaseFactory, plan: Plan) -> None:
        totals = Counter(self.NAMES.get(s.kind, s.kind) for s in plan.steps
                         if s.action not in ("present", "conflict"))
        self.bars = {name: factory(name, total) for name, total in totals.items()}
        self.left = dict(totals)
        self.status: Counter[str] = Counter()

    def step(self, result: StepResult) -> None:
        name = self.NAMES.get(result.step.kind, result.step.kind)
        if result.step.action in ("present", "conflict") or name not in self.bars:
            return
        self.status[f"{name}:{result.status}"] += 1
        self.bars[name].advance(1)
        self.left[name] -= 1
        if self.left[name] == 0:
            ready = self.status[f"{name}:ready"] + self.status[f"{name}:done"]
            pending = self.status[f"{name}:pending"]
            self.bars[name].finish(
                f"{ready} ready" + (f", {pending} still provisioning" if pending else "")
            )

    def event(self, event: Event) -> None:
        if event.kind == WAIT and event.phase in self.bars and self.left[event.phase] > 0:
            self.bars[event.phase].advance(0, note=event.status)
