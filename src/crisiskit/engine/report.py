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
from crisiskit.plan.model import Plan
from crisiskit.plan.observe import Observed
from crisiskit.resources.taps import IssuedPass

if TYPE_CHECKING:
    from crisiskit.documents.kit import KitDocuments


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
        }


def _only(results: list[StepResult]) -> StepResult | None:
    return results[0] if results else None


def outcome_of(plan: Plan, kit: DesiredKit, observed: Observed, ex: Execution) -> Outcome:
    """Read an activation's outcome from its plan, what was observed, and what was executed."""
    out = Outcome(failures=list(ex.failures), warnings=list(ex.warnings))
    for s in plan.steps:
        if s.action == "present":
            out.present[s.kind] += 1
    for r in ex.results.values():
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


@dataclass
class _Phase:
    name: str
    kinds: frozenset[str]
    total: int
    summary: Callable[[], str]
    bar: PhaseProgress | None = None
    left: int = 0
    finished: bool = False


class ActivationProgress:
    """Show the activation's phases (accounts, licences, mailboxes, ...) as steps finish."""

    def __init__(self, factory: PhaseFactory, kit: DesiredKit, plan: Plan) -> None:
        self.created: Counter[str] = Counter()
        self.updated: Counter[str] = Counter()
        self.ready: set[str] = set()
        self.pending: set[str] = set()
        present = Counter(s.kind for s in plan.steps if s.action == "present")
        todo = Counter(s.kind for s in plan.steps if s.action not in ("present", "conflict"))
        c = self.created
        specs: list[tuple[str, Iterable[str], bool, Callable[[], str]]] = [
            ("accounts", ["user"], True,
             lambda: f"{c['user']} created, {present['user']} present"),
            ("licences", ["licence"], True,
             lambda: f"{c['licence']} assigned" if todo["licence"] else "nothing to assign"),
            ("mailboxes", [], True, self._mailboxes),
            ("temporary access passes", ["tap"], True,
             lambda: f"{c['tap']} issued" if todo["tap"] else "none to issue"),
            ("phone methods", ["phone_method"], kit.register_phone,
             lambda: f"{c['phone_method']} registered, {self.updated['phone_method']} updated"),
            ("group", ["group"], kit.group is not None,
             lambda: "failed" if todo["group"] and not c["group"] else "ready"),
            ("members", ["membership"], kit.group is not None,
             lambda: f"{c['membership']} added"),
            ("team", ["team", "channel"], kit.team is not None,
             lambda: f"team ready, {c['channel']} channels created"
             if c["team"] or present["team"] else "not created"),
            ("sharepoint", ["drive", "folder"], bool(kit.folders),
             lambda: f"drive ready, {c['folder']} folders created"
             if self.drive_ready or present["drive"] else "drive not ready"),
        ]
        self.drive_ready = False
        # When this run waits for every account's mailbox, the phase ends with the last one;
        # otherwise some readiness comes from observation and is only complete at the end.
        waited = sum(
            len(getattr(s.payload, "mailboxes", ()))
            for s in plan.steps if s.kind == "licence" and s.action == "create"
        )
        self.mailboxes_early = bool(kit.users) and waited == len(kit.users)
        self.phases = []
        for name, kinds, shown, summary in specs:
            if not shown:
                continue
            ks = frozenset(kinds)
            total = sum(todo[k] for k in ks) if ks else len(kit.users)
            phase = _Phase(name, ks, total, summary, factory(name, total), left=total)
            self.phases.append(phase)
            if ks and total == 0:
                self._finish(phase)

    def step(self, result: StepResult) -> None:
        kind, action = result.step.kind, result.step.action
        if action in ("present", "conflict"):
            return
        if result.status == "done" and action == "create":
            self.created[kind] += 1
        if result.status == "done" and action == "update":
            self.updated[kind] += 1
        if kind == "drive" and result.status == "ready":
            self.drive_ready = True
        for phase in self.phases:
            if kind in phase.kinds and not phase.finished:
                assert phase.bar is not None
                phase.bar.advance(1)
                phase.left -= 1
                if phase.left <= 0:
                    self._finish(phase)

    def event(self, event: Event) -> None:
        if event.kind != "mailbox":
            return
        if event.status == "ready":
            self.ready.add(event.key)
        else:
            self.pending.add(event.key)
        for phase in self.phases:
            if phase.name != "mailboxes" or phase.finished:
                continue
            assert phase.bar is not None
            if event.status == "ready":
                phase.bar.advance(1)
            if self.mailboxes_early and len(self.ready | self.pending) >= phase.total:
                self._finish(phase)

    def close(self, outcome: Outcome | None) -> None:
        """Finish the phases still open (mailboxes last: they are only known at the end)."""
        if outcome is not None:
            self.ready = set(outcome.mailboxes_ready)
            self.pending = set(outcome.mailboxes_pending)
        for phase in self.phases:
            self._finish(phase)

    def _mailboxes(self) -> str:
        pending = f", {len(self.pending)} still provisioning" if self.pending else ""
        return f"{len(self.ready)} ready{pending}"

    def _finish(self, phase: _Phase) -> None:
        if phase.finished:
            return
        phase.finished = True
        assert phase.bar is not None
        phase.bar.finish(phase.summary())
