"""The activation's progress, phase by phase, as steps finish and waits report.

    ActivationProgress(factory, kit, plan)   .step(result) / .event(event) / .close(outcome)

Phases: accounts, licences, mailboxes, temporary access passes, phone methods, group,
members, team, sharepoint, and "handover" (the credentials file, the sign-in slips and the
sheet, written as soon as the accounts, passes and loans exist). A "waiting" event of a verb
(what it waits for, up to which bound) is shown on its phase's row until the step reports;
the rendering is the CLI's (`console.RunDisplay`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from crisiskit.engine.session import Event, StepResult
from crisiskit.plan.desired import DesiredKit
from crisiskit.plan.leavers import PHASE as LEAVERS
from crisiskit.plan.model import Plan
from crisiskit.words import count

if TYPE_CHECKING:
    from crisiskit.engine.report import Outcome

HANDOVER = "handover"  # the event (and phase) of the documents written mid-run
LEAVING = "Leaving the cell"


class PhaseProgress(Protocol):
    """One phase of a run as the operator sees it (the CLI's `console.RunDisplay` rows)."""

    def advance(self, n: int = 1, note: str | None = None) -> None: ...

    def waiting(self, what: str | None) -> None:
        """Say what the phase waits for ("for SharePoint to ..."); None: it stopped waiting."""
        ...

    def finish(self, summary: str) -> None: ...


PhaseFactory = Callable[[str, int], PhaseProgress]


class _Quiet:
    def advance(self, n: int = 1, note: str | None = None) -> None:
        return None

    def waiting(self, what: str | None) -> None:
        return None

    def finish(self, summary: str) -> None:
        return None


def quiet_phase(name: str, total: int) -> PhaseProgress:
    return _Quiet()


def _stopped(done: int, total: int) -> Callable[[], str]:
    return lambda: f"stopped, {done} of {total} done"


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
    """Show the activation's phases (accounts, licences, mailboxes, ...) as steps finish.

    Each phase is one row of the CLI's display; a "waiting" event (a verb about to wait on
    the service) is shown on the row of its kind until the step of that kind and key reports
    its result, or the phase ends. The "Handover" row ends when the documents are written
    mid-run (the `HANDOVER` event).
    """

    def __init__(self, factory: PhaseFactory, kit: DesiredKit, plan: Plan) -> None:
        self.created: Counter[str] = Counter()
        self.updated: Counter[str] = Counter()
        self.status: dict[str, Counter[str]] = {}
        self.handover = ""
        self.waits: dict[tuple[str, str], _Phase] = {}
        present = Counter(
            s.kind for s in plan.steps if s.action == "present" and s.phase != LEAVERS
        )
        todo = Counter(
            s.kind for s in plan.steps
            if s.action not in ("present", "conflict") and s.phase != LEAVERS
        )
        leaving = sum(1 for s in plan.steps if s.phase == LEAVERS and s.action != "present")
        self.left_steps = 0
        c = self.created

        def made(kind: str, verb: str, nothing: str) -> Callable[[], str]:
            def say() -> str:
                if not todo[kind]:
                    return f"{nothing}; {present[kind]} present" if present[kind] else nothing
                done = f"{c[kind]} of {todo[kind]} {verb}" if c[kind] < todo[kind] \
                    else f"{c[kind]} {verb}"
                return done + (f", {present[kind]} present" if present[kind] else "")
            return say

        def phones() -> str:
            text = made("phone_method", "registered", "nothing to register")()
            return text + (f", {self.updated['phone_method']} updated"
                           if self.updated["phone_method"] else "")

        def group() -> str:
            if todo["group"]:
                return "created" if c["group"] or self.updated["group"] else "not created"
            return "present" if present["group"] else "not needed"

        def team() -> str:
            if self._count("team", "pending"):
                return "still being created (crisiskit status --wait finishes it)"
            ready = self._count("team", "ready")
            if not (c["team"] or present["team"] or ready):
                return "not ready"
            channels = (f", {count(c['channel'], 'channel')} created" if todo["channel"]
                        else "")
            # From scratch, the Team is made with its group (a "group" step) and waited for.
            made = c["team"] or (ready and todo["group"] and c["group"])
            return ("created" if made else "ready" if ready else "present") + channels

        def sharepoint() -> str:
            if self._count("drive", "pending"):
                return "site still provisioning (crisiskit status --wait finishes it)"
            if not (self._count("drive", "ready") or present["drive"]):
                return "not ready"
            folders = f", {count(c['folder'], 'folder')} created" if todo["folder"] else ""
            return "drive ready" + folders

        def mailboxes() -> str:
            ready, pending = self._count("mailbox", "ready"), self._count("mailbox", "pending")
            if not todo["mailbox"]:
                return f"{present['mailbox']} ready" if present["mailbox"] else "none to wait for"
            more = f", {pending} still provisioning (crisiskit status re-checks)" if pending else ""
            return f"{ready + present['mailbox']} ready{more}"

        specs: list[tuple[str, Iterable[str], bool, Callable[[], str]]] = [
            ("Accounts", ["user"], True, made("user", "created", "nothing to create")),
            ("Licences", ["licence"], True, made("licence", "assigned", "nothing to assign")),
            ("Mailboxes", ["mailbox"], bool(kit.users), mailboxes),
            ("Temporary Access Passes", ["tap"], True,
             made("tap", "issued", "none to issue")),
            ("Phone methods", ["phone_method"], kit.register_phone, phones),
            ("Handover", [], True,
             lambda: self.handover or "nothing was provisioning then: written at the end"),
            ("Group", ["group"], kit.group is not None, group),
            ("Members", ["membership"], kit.group is not None,
             made("membership", "added", "nothing to add")),
            ("Team", ["team", "channel"], kit.team is not None, team),
            ("SharePoint", ["drive", "folder"], bool(kit.folders), sharepoint),
            (LEAVING, [], bool(leaving), lambda: f"{self.left_steps} of {leaving} steps done"),
        ]
        self.phases: list[_Phase] = []
        for name, kinds, shown, summary in specs:
            if not shown:
                continue
            ks = frozenset(kinds)
            total = sum(todo[k] for k in ks) if ks else 1
            if name == LEAVING:
                total = leaving
            phase = _Phase(name, ks, total, summary, factory(name, total), left=total)
            self.phases.append(phase)
            if ks and total == 0:
                self._finish(phase)

    def _count(self, kind: str, status: str) -> int:
        return self.status.get(kind, Counter())[status]

    def step(self, result: StepResult) -> None:
        kind, action = result.step.kind, result.step.action
        if action in ("present", "conflict"):
            return
        if result.step.phase == LEAVERS:
            self._leaver(result)
            return
        self.status.setdefault(kind, Counter())[result.status] += 1
        if result.status == "done" and action == "create":
            self.created[kind] += 1
        if result.status == "done" and action == "update":
            self.updated[kind] += 1
        waiting = self.waits.pop((kind, result.step.key), None)
        if waiting is not None:
            waiting.bar.waiting(None)
        for phase in self.phases:
            if kind in phase.kinds and not phase.finished:
                phase.bar.advance(1)
                phase.left -= 1
                if phase.left <= 0:
                    self._finish(phase)

    def _leaver(self, result: StepResult) -> None:
        if result.ok:
            self.left_steps += 1
        for phase in self.phases:
            if phase.name == LEAVING and not phase.finished:
                phase.bar.advance(1)
                phase.left -= 1
                if phase.left <= 0:
                    self._finish(phase)

    def event(self, event: Event) -> None:
        if event.status == "waiting":
            for phase in self.phases:
                if event.kind in phase.kinds and not phase.finished:
                    self.waits[(event.kind, event.key)] = phase
                    phase.bar.waiting(event.detail or "for the service")
            return
        if event.kind == HANDOVER:
            for phase in self.phases:
                if phase.name == "Handover" and not phase.finished:
                    self.handover = event.status
                    phase.bar.advance(1)
                    self._finish(phase)

    def close(self, outcome: Outcome | None) -> None:
        """Finish the phases still open.

        Without an outcome (the run was interrupted or stopped by an error), an open phase
        says where it stopped, nothing more.
        """
        for phase in self.phases:
            if outcome is None and not phase.finished and phase.kinds:
                phase.summary = _stopped(phase.total - phase.left, phase.total)
            self._finish(phase)

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
        name = self.NAMES.get(event.kind, event.kind)
        if event.status == "waiting" and name in self.bars and self.left[name] > 0:
            self.bars[name].waiting(event.detail or "for the service")
