"""What an activation did, as the CLI shows it: the outcome, the report, the progress phases.

The executor reports per-step results in general terms; this module reads them the way an
activation is told to an operator: counts by kind, the group, Team and drive, the passes
issued, mailboxes ready or still provisioning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from crisiskit.engine.session import Event, Execution, StepResult
from crisiskit.errors import OperationFailed
from crisiskit.plan.activation import ActivationPlan
from crisiskit.plan.desired import DesiredKit
from crisiskit.plan.leavers import PHASE as LEAVERS
from crisiskit.plan.model import Plan
from crisiskit.plan.observe import Observed
from crisiskit.resources.taps import IssuedPass
from crisiskit.words import count

if TYPE_CHECKING:
    from crisiskit.documents.kit import KitDocuments


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


@dataclass
class Outcome:
    """What an activation did and what is still pending."""

    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    present: Counter[str] = field(default_factory=Counter)
    group_id: str | None = None
    team_id: str | None = None
    team_url: str | None = None
    drive_id: str | None = None
    drive_url: str | None = None
    passes: list[IssuedPass] = field(default_factory=list)
    mailboxes_ready: list[str] = field(default_factory=list)
    mailboxes_pending: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Leavers (crisiskit.plan.leavers): accounts done leaving, and what was done, by action.
    left: list[str] = field(default_factory=list)
    leaving: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "created": dict(self.created),
            "updated": dict(self.updated),
            "present": dict(self.present),
            "group_id": self.group_id,
            "team_id": self.team_id,
            "team_url": self.team_url,
            "drive_id": self.drive_id,
            "drive_url": self.drive_url,
            "passes_issued": [p.upn for p in self.passes],
            "passes_reissued": {p.upn: p.reissued for p in self.passes if p.reissued},
            "mailboxes_ready": self.mailboxes_ready,
            "mailboxes_pending": self.mailboxes_pending,
            "failures": self.failures,
            "warnings": self.warnings,
            "left": self.left,
            "leaving": dict(self.leaving),
        }


def _only(results: list[StepResult]) -> StepResult | None:
    return results[0] if results else None


def outcome_of(plan: Plan, kit: DesiredKit, observed: Observed, ex: Execution) -> Outcome:
    """Read an activation's outcome from its plan, what was observed, and what was executed."""
    out = Outcome(failures=list(ex.failures), warnings=list(ex.warnings))
    for s in plan.steps:
        if s.action == "present":
            out.present[s.kind] += 1
    _leavers(plan, ex, out)
    for r in ex.results.values():
        if r.step.phase == LEAVERS:
            continue
        # "ready" (the drive, provisioned by SharePoint) was waited for, not created.
        if r.status == "done" and r.step.action == "create":
            out.created[r.step.kind] += 1
        elif r.status == "done" and r.step.action == "update":
            out.updated[r.step.kind] += 1
        if isinstance(r.values.get("pass"), IssuedPass):
            out.passes.append(r.values["pass"])
    group = _only([r for r in ex.of("group") if r.ok])
    out.group_id = group.id if group else None
    team = _only([r for r in ex.of("team") if r.ok])
    if team is not None:
        out.team_id = team.id
        out.team_url = team.values.get("webUrl") or (
            observed.team_url if team.status == "present" else None
        )
    drive = _only([r for r in ex.of("drive") if r.ok])
    if drive is not None:
        out.drive_id = drive.id
        out.drive_url = drive.values.get("webUrl") or (
            observed.drive_url if drive.status == "present" else None
        )
    waited = {e.key: e.status == "ready" for e in ex.events if e.kind == "mailbox"}
    existing = {r.step.key for r in ex.of("user") if r.ok}
    for u in kit.users:
        if u.upn not in existing:
            continue
        ready = waited.get(u.upn, observed.mailboxes.get(u.upn, False))
        (out.mailboxes_ready if ready else out.mailboxes_pending).append(u.upn)
    return out


LEAVING_WORDS = {
    ("user", "disable"): "accounts disabled",
    ("user", "revoke"): "sessions revoked",
    ("tap", "delete"): "passes removed",
    ("loan", "delete"): "devices back (to wipe)",
}


def _leavers(plan: Plan, ex: Execution, out: Outcome) -> None:
    """Count what the leavers' steps did; an account has left once its user steps are ok."""
    accounts: dict[str, bool] = {}
    for s in plan.steps:
        if s.phase != LEAVERS:
            continue
        r = ex.results.get(s.id)
        ok = r is not None and r.ok
        if s.kind == "user":
            accounts[s.key] = accounts.get(s.key, True) and ok
        if ok and s.action != "present":
            out.leaving[LEAVING_WORDS.get((s.kind, s.action), f"{s.kind} {s.action}")] += 1
    out.left = sorted(upn for upn, ok in accounts.items() if ok)


def unwaited_pending(kit: DesiredKit, observed: Observed, ex: Execution) -> list[str]:
    """Return the accounts whose mailbox is pending as observed, not waited for by this run."""
    waited = {e.key for e in ex.events if e.kind == "mailbox"}
    existing = {r.step.key for r in ex.of("user") if r.ok}
    return [
        u.upn
        for u in kit.users
        if u.upn in existing and u.upn not in waited and not observed.mailboxes.get(u.upn)
    ]


@dataclass
class ActivationReport:
    """What `activate` did (or would do), for the CLI to render."""

    plan: ActivationPlan
    outcome: Outcome | None = None
    executed: bool = False
    confirmed: bool = True
    credentials_path: Path | None = None
    documents: KitDocuments | None = None  # handover sheet (md, html, pdf), sign-in slips
    loans: list[dict[str, str]] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    resumed: list[int] = field(default_factory=list)  # interrupted runs this one completes
    notices: list[str] = field(default_factory=list)  # facts for the operator (a lease taken over)

    @property
    def ok(self) -> bool:
        return self.outcome is None or self.outcome.ok

    def to_json(self) -> dict[str, Any]:
        return {
            "commune": self.plan.commune,
            "executed": self.executed,
            "ok": self.ok,
            "plan": self.plan.to_json(),
            "result": self.outcome.to_json() if self.outcome else None,
            "credentials_file": str(self.credentials_path) if self.credentials_path else None,
            "documents": self.documents.to_json() if self.documents else None,
            "loans": self.loans,
            "graph": self.stats,
            "resumed_runs": self.resumed,
            "notices": self.notices,
        }


def failure_message(report: ActivationReport) -> OperationFailed:
    outcome = report.outcome
    lines = outcome.failures if outcome else ["the run stopped"]
    return OperationFailed(
        "activation incomplete; rerun the same command to resume:\n  " + "\n  ".join(lines)
    )


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


LEAVING = "Leaving the cell"


class ActivationProgress:
    """Show the activation's phases (accounts, licences, mailboxes, ...) as steps finish.

    Each phase is one row of the CLI's display; a "waiting" event (a verb about to wait on
    the service) is shown on the row of its kind until the step of that kind and key reports
    its result, or the phase ends.
    """

    def __init__(self, factory: PhaseFactory, kit: DesiredKit, plan: Plan) -> None:
        self.created: Counter[str] = Counter()
        self.updated: Counter[str] = Counter()
        self.ready: set[str] = set()
        self.pending: set[str] = set()
        self.drive_ready = False
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
                return "created" if c["group"] else "not created"
            return "present" if present["group"] else "not needed"

        def team() -> str:
            if not (c["team"] or present["team"]):
                return "not ready"
            channels = (f", {count(c['channel'], 'channel')} created" if todo["channel"]
                        else "")
            return ("created" if c["team"] else "present") + channels

        def sharepoint() -> str:
            if not (self.drive_ready or present["drive"]):
                return "not ready"
            folders = f", {count(c['folder'], 'folder')} created" if todo["folder"] else ""
            return "drive ready" + folders

        specs: list[tuple[str, Iterable[str], bool, Callable[[], str]]] = [
            ("Accounts", ["user"], True, made("user", "created", "nothing to create")),
            ("Licences", ["licence"], True, made("licence", "assigned", "nothing to assign")),
            ("Mailboxes", ["mailbox"], True, self._mailboxes),
            ("Temporary Access Passes", ["tap"], True,
             made("tap", "issued", "none to issue")),
            ("Phone methods", ["phone_method"], kit.register_phone, phones),
            ("Group", ["group"], kit.group is not None, group),
            ("Members", ["membership"], kit.group is not None,
             made("membership", "added", "nothing to add")),
            ("Team", ["team", "channel"], kit.team is not None, team),
            ("SharePoint", ["drive", "folder"], bool(kit.folders), sharepoint),
            (LEAVING, [], bool(leaving), lambda: f"{self.left_steps} of {leaving} steps done"),
        ]
        # When this run waits for every account's mailbox, the phase ends with the last one;
        # otherwise some readiness comes from observation and is only complete at the end.
        waited = sum(
            len(getattr(s.payload, "mailboxes", ()))
            for s in plan.steps if s.kind == "licence" and s.action == "create"
        )
        self.mailboxes_early = bool(kit.users) and waited == len(kit.users)
        self.phases: list[_Phase] = []
        for name, kinds, shown, summary in specs:
            if not shown:
                continue
            ks = frozenset(kinds)
            total = len(kit.users) if ks == {"mailbox"} else sum(todo[k] for k in ks)
            if name == LEAVING:
                total = leaving
            phase = _Phase(name, ks, total, summary, factory(name, total), left=total)
            self.phases.append(phase)
            if ks != {"mailbox"} and total == 0:
                self._finish(phase)

    def step(self, result: StepResult) -> None:
        kind, action = result.step.kind, result.step.action
        if action in ("present", "conflict"):
            return
        if result.step.phase == LEAVERS:
            self._leaver(result)
            return
        if result.status == "done" and action == "create":
            self.created[kind] += 1
        if result.status == "done" and action == "update":
            self.updated[kind] += 1
        if kind == "drive" and result.status == "ready":
            self.drive_ready = True
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
        if event.kind != "mailbox":
            return
        if event.status == "ready":
            self.ready.add(event.key)
        else:
            self.pending.add(event.key)
        for phase in self.phases:
            if "mailbox" not in phase.kinds or phase.finished:
                continue
            if event.status == "ready":
                phase.bar.advance(1)
            if self.mailboxes_early and len(self.ready | self.pending) >= phase.total:
                self._finish(phase)

    def close(self, outcome: Outcome | None) -> None:
        """Finish the phases still open (mailboxes last: they are only known at the end).

        Without an outcome (the run was interrupted or stopped by an error), an open phase
        says where it stopped, nothing more.
        """
        if outcome is not None:
            self.ready = set(outcome.mailboxes_ready)
            self.pending = set(outcome.mailboxes_pending)
        for phase in self.phases:
            if outcome is None and not phase.finished:
                done = len(self.ready) if phase.kinds == {"mailbox"} else phase.total - phase.left
                phase.summary = _stopped(done, phase.total)
            self._finish(phase)

    def _mailboxes(self) -> str:
        if not self.ready and not self.pending:
            return "none to wait for"
        pending = (f", {len(self.pending)} still provisioning (crisiskit status re-checks)"
                   if self.pending else "")
        return f"{len(self.ready)} ready{pending}"

    def _finish(self, phase: _Phase) -> None:
        if phase.finished:
            return
        phase.finished = True
        phase.bar.finish(phase.summary())
