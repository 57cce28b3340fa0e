"""What an activation did, as the CLI shows it: the outcome, the report, the progress phases.

The executor reports per-step results in general terms; this module reads them the way an
activation is told to an operator: counts by kind, the group, Team and drive, the passes
issued, mailboxes ready or still provisioning, what is still `pending` and the command that
finishes it. Progress phases are `crisiskit.engine.progress`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crisiskit.engine.handover import KitState
from crisiskit.engine.session import Execution, StepResult
from crisiskit.errors import OperationFailed
from crisiskit.plan.activation import ActivationPlan
from crisiskit.plan.desired import DesiredKit
from crisiskit.plan.leavers import PHASE as LEAVERS
from crisiskit.plan.model import Plan
from crisiskit.plan.observe import Observed
from crisiskit.resources.channels import ChannelInCreate
from crisiskit.resources.taps import IssuedPass

if TYPE_CHECKING:
    from crisiskit.documents.handover import Preparing
    from crisiskit.documents.kit import KitDocuments

READY = frozenset({"done", "ready", "present"})


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
    # Still provisioning when the run ended ("team X: ..."), and what waits for them.
    pending: list[str] = field(default_factory=list)
    writes_pending: list[str] = field(default_factory=list)  # steps that need a wait done
    preparing: list[Preparing] = field(default_factory=list)
    # Leavers (crisiskit.plan.leavers): accounts done leaving, and what was done, by action.
    left: list[str] = field(default_factory=list)
    leaving: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def complete(self) -> bool:
        return self.ok and not self.pending and not self.preparing

    def state(self) -> KitState:
        """Return what the handover sheet says of this outcome."""
        return KitState(
            team_url=self.team_url,
            sharepoint_url=self.drive_url,
            mailboxes_pending=tuple(self.mailboxes_pending),
            preparing=tuple(self.preparing),
            failed=bool(self.failures),
        )

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
            "pending": self.pending,
            "preparing": self.preparing,
            "complete": self.complete,
            "left": self.left,
            "leaving": dict(self.leaving),
        }


def _only(results: list[StepResult]) -> StepResult | None:
    return results[0] if results else None


def outcome_of(plan: Plan, kit: DesiredKit, observed: Observed, ex: Execution) -> Outcome:
    """Read an activation's outcome from its plan, what was observed and what was executed.

    The execution may be unfinished (the documents written at the handover point): a step
    without a result yet counts as still provisioning.
    """
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
        if r.status == "pending":
            line = f"{r.step.kind} {r.step.key}: {r.detail}"
            # A wait, or a channel the Team's create made: `status --wait` finishes it;
            # anything else needs a write once the wait is over (folders): `activate` does.
            if r.step.action == "wait" or isinstance(r.step.payload, ChannelInCreate):
                out.pending.append(line)
            else:
                out.writes_pending.append(line)
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
    waited = {s.key for s in plan.steps if s.kind == "mailbox"}
    ready = {r.step.key for r in ex.of("mailbox", "ready")}
    existing = {r.step.key for r in ex.of("user") if r.ok}
    for u in kit.users:
        if u.upn not in existing:
            continue
        is_ready = u.upn in ready if u.upn in waited else observed.mailboxes.get(u.upn, False)
        (out.mailboxes_ready if is_ready else out.mailboxes_pending).append(u.upn)
    out.preparing = _preparing(plan, kit, ex, out)
    return out


def _preparing(plan: Plan, kit: DesiredKit, ex: Execution, out: Outcome) -> list[Preparing]:
    """Say what the sheet shows "en cours de préparation" (what is not ready, not failed)."""
    def waiting(kinds: tuple[str, ...]) -> bool:
        steps = [s for s in plan.steps if s.kind in kinds and s.action not in ("conflict",)]
        return any(
            s.id not in ex.results or ex.results[s.id].status == "pending" for s in steps
        )

    preparing: list[Preparing] = []
    if kit.team is not None and waiting(("team", "channel")):
        preparing.append("team")
    if out.mailboxes_pending and waiting(("mailbox",)):
        preparing.append("mailboxes")
    if kit.folders and waiting(("drive", "folder")):
        preparing.append("sharepoint")
    return preparing


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
    no_wait: bool = False  # --no-wait: pending readiness is expected, not a failure

    @property
    def exit_code(self) -> int:
        """0: done (or, with --no-wait, handed over and provisioning); 1: failed or pending."""
        if not self.confirmed or not self.ok:
            return 1
        outcome = self.outcome
        if outcome is not None and (outcome.pending or outcome.writes_pending):
            return 0 if self.no_wait else 1
        return 0

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
            "no_wait": self.no_wait,
            "exit_code": self.exit_code if self.executed or not self.confirmed else 0,
        }


def failure_message(report: ActivationReport) -> OperationFailed:
    outcome = report.outcome
    lines = outcome.failures if outcome else ["the run stopped"]
    return OperationFailed(
        "activation incomplete; rerun the same command to resume:\n  " + "\n  ".join(lines)
    )


def finishing_command(report: ActivationReport) -> str:
    """Return the command that finishes a kit still provisioning (read-only when it can be)."""
    outcome = report.outcome
    if outcome is not None and outcome.writes_pending:
        return f"crisiskit activate {report.plan.commune}"
    return f"crisiskit status {report.plan.commune} --wait"


def pending_lines(report: ActivationReport) -> list[str]:
    """Say what is still provisioning, then the command that finishes it."""
    outcome = report.outcome
    if outcome is None or not (outcome.pending or outcome.writes_pending):
        return []
    lines = [*outcome.pending, *outcome.writes_pending]
    if outcome.writes_pending:
        lines.append(
            f"finish with: {finishing_command(report)} (it waits, then creates what "
            "needs them)"
        )
    else:
        lines.append(f"finish with: {finishing_command(report)}")
    return lines


def pending_message(report: ActivationReport) -> OperationFailed:
    """The error of a run that waited to the bounds and still has things provisioning."""
    return OperationFailed(
        "the kit is not complete: still provisioning after the documented wait:\n  "
        + "\n  ".join(pending_lines(report))
    )
