"""The state of a commune's crisis kit, read from the tenant and the local state (read-only).

Observation probes every mailbox of the commune's accounts, so readiness is re-checked each
time `status` runs. `status --wait` (`wait_for_kit`) waits for what is still provisioning:
the wait steps of the activation's plan whose objects exist (mailboxes, the Team, the site),
run by the one executor in a session that journals nothing and may not write, under the
same bounds as activation, measured from when each provisioning started. Once the kit is
complete it writes the edition of the handover sheet that says so; if what remains needs
writes (folders of a site that came late), it names `crisiskit activate`, which does them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crisiskit.engine.context import Context, desired
from crisiskit.engine.executor import Executor
from crisiskit.engine.handover import (
    KitState,
    credential_states,
    editions,
    record_edition,
    sheet_inputs,
    write_documents,
)
from crisiskit.engine.hints import journal_hints
from crisiskit.engine.journal import ReadOnlyJournal
from crisiskit.engine.progress import PhaseFactory, ReadinessProgress, quiet_phase
from crisiskit.engine.session import RunSession
from crisiskit.errors import LockHeld
from crisiskit.plan.desired import DesiredKit
from crisiskit.plan.diff import CredentialState, diff
from crisiskit.plan.model import Plan, Step
from crisiskit.plan.observe import Observed, observe
from crisiskit.state.api import StateStore

if TYPE_CHECKING:
    from crisiskit.documents.kit import KitDocuments


@dataclass
class AccountStatus:
    upn: str
    account: str  # present | absent | not ours
    licensed: bool
    mailbox: str  # ready | provisioning | -
    tap_in_tenant: bool
    tap_in_file: bool
    phone: str | None
    tap_valid_from: str | None = None  # the pass on file's window (ISO 8601), never the pass
    tap_valid_until: str | None = None


@dataclass
class KitStatus:
    commune: str
    accounts: list[AccountStatus]
    group: str
    team: str
    drive: str
    strays: list[str] = field(default_factory=list)
    loans: list[dict[str, str]] = field(default_factory=list)
    team_url: str | None = None
    drive_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "commune": self.commune,
            "accounts": [a.__dict__ for a in self.accounts],
            "group": self.group,
            "team": self.team,
            "team_url": self.team_url,
            "drive": self.drive,
            "drive_url": self.drive_url,
            "strays": self.strays,
            "loans": self.loans,
        }


def communes_with_a_kit(store: StateStore, home: Path, commune_ids: list[str]) -> list[str]:
    """Return the communes that have anything recorded: a run, an open loan, credentials."""
    return [
        cid
        for cid in commune_ids
        if store.runs(cid, limit=1)
        or store.open_loans(cid)
        or (home / "outputs" / cid / "credentials.csv").exists()
    ]


async def kit_status(ctx: Context) -> KitStatus:
    """Observe the commune's kit now, mailboxes included."""
    now = ctx.clock.now()
    kit = desired(ctx.setup, ctx.store, now)
    observed = await _observe(ctx, kit)
    return status_of(ctx, kit, observed, credential_states(ctx.setup.credentials_path), now)


async def _observe(ctx: Context, kit: DesiredKit) -> Observed:
    """Observe with the journal's hints (objects runs created, re-read under replication lag)."""
    return await observe(
        ctx.graph, kit, journal_hints(ctx.store, kit), clock=ctx.clock, rules=ctx.rules
    )


def status_of(
    ctx: Context,
    kit: DesiredKit,
    observed: Observed,
    creds: dict[str, CredentialState],
    now: datetime,
) -> KitStatus:
    """Say what the tenant and the local state hold of the kit."""
    ours = {upn for upn, o in observed.users.items() if o.tag == kit.commune_id}
    accounts = []
    for u in kit.users:
        o = observed.users.get(u.upn)
        state = "absent" if o is None else ("present" if u.upn in ours else "not ours")
        mbox = "-"
        if u.upn in ours:
            mbox = "ready" if observed.mailboxes.get(u.upn) else "provisioning"
        row = creds.get(u.upn)
        phones = observed.phones.get(u.upn, {})
        accounts.append(
            AccountStatus(
                upn=u.upn,
                account=state,
                licensed=bool(o and observed.sku_id and observed.sku_id in o.sku_ids),
                mailbox=mbox,
                tap_in_tenant=any(t.usable for t in observed.taps.get(u.upn, [])),
                tap_in_file=row is not None and row.valid_until > now,
                phone=phones["mobile"][1] if "mobile" in phones else None,
                tap_valid_from=row.valid_from.isoformat() if row is not None else None,
                tap_valid_until=row.valid_until.isoformat() if row is not None else None,
            )
        )
    group = observed.group
    group_state = "absent" if group is None else (
        "present" if group.tag == kit.commune_id else "not ours"
    )
    team = "ready" if observed.team_id else "absent"
    if observed.team_id is None and group is not None and "Team" in group.provisioning:
        team = "provisioning"
    drive = "-" if not kit.folders else "ready" if observed.drive_id else (
        "provisioning" if group is not None else "not ready"
    )
    return KitStatus(
        commune=kit.commune_id,
        accounts=accounts,
        group=group_state,
        team=team,
        drive=drive,
        team_url=observed.team_url if observed.team_id else None,
        drive_url=observed.drive_url if observed.drive_id else None,
        strays=[s.upn for s in observed.strays],
        loans=[
            {"kind": lo.device_kind, "asset_tag": lo.asset_tag, "upn": lo.upn,
             "since": lo.loaned_at}
            for lo in ctx.store.open_loans(kit.commune_id)
        ],
    )


@dataclass
class WaitResult:
    """What `status --wait` waited for, and what it found at the end."""

    status: KitStatus
    ready: list[str] = field(default_factory=list)  # "mailbox x: ready", ...
    pending: list[str] = field(default_factory=list)  # still provisioning past its bound
    remaining: list[str] = field(default_factory=list)  # writes only `activate` can do
    sheet: KitDocuments | None = None  # the complete edition, when this call wrote it
    sheet_left: str | None = None  # why this call left the complete edition to another run

    @property
    def complete(self) -> bool:
        return not self.pending and not self.remaining

    @property
    def exit_code(self) -> int:
        return 0 if self.complete else 1

    def to_json(self) -> dict[str, Any]:
        return {
            **self.status.to_json(),
            "waited": {"ready": self.ready, "pending": self.pending},
            "remaining": self.remaining,
            "complete": self.complete,
            "sheet": self.sheet.to_json() if self.sheet else None,
            "sheet_left": self.sheet_left,
            "exit_code": self.exit_code,
        }


def readiness_plan(plan: Plan) -> Plan:
    """Keep the waits whose objects exist (every step they need is present), and those."""
    by_id = {s.id: s for s in plan.steps}
    waits = [
        s for s in plan.steps
        if s.action == "wait" and all(by_id[d].action == "present" for d in s.depends_on)
    ]
    needed = {d for s in waits for d in s.depends_on}
    steps: list[Step] = [s for s in plan.steps if s.id in needed] + waits
    return Plan("status-wait", plan.commune, steps, playbook=plan.playbook)


async def wait_for_kit(ctx: Context, *, phase: PhaseFactory = quiet_phase) -> WaitResult:
    """Wait (read-only) for the kit's pending readiness; write the sheet once it is complete."""
    now = ctx.clock.now()
    kit = desired(ctx.setup, ctx.store, now)
    creds = credential_states(ctx.setup.credentials_path)
    observed = await _observe(ctx, kit)
    waits = readiness_plan(diff(kit, observed, creds, now).plan)
    session = RunSession(ctx, ReadOnlyJournal(ctx.commune))
    progress = ReadinessProgress(phase, waits)
    session.listeners.append(progress.step)
    session.event_listeners.append(progress.event)
    execution = await Executor(session).run(waits)
    result = WaitResult(status=KitStatus(kit.commune_id, [], "", "", ""))
    for r in execution.results.values():
        if r.step.action != "wait":
            continue
        line = f"{r.step.kind} {r.step.key}"
        if r.ok:
            result.ready.append(f"{line}: ready")
        else:
            result.pending.append(f"{line}: {r.detail}")
    # Look again: what is ready now, and what an activation still has to write.
    now = ctx.clock.now()
    observed = await _observe(ctx, kit)
    result.status = status_of(ctx, kit, observed, creds, now)
    after = diff(kit, observed, creds, now).plan
    waiting = {p.split(":", 1)[0] for p in result.pending}
    result.remaining = [
        f"{s.kind} {s.key}: {s.action}" for s in after.steps
        if s.action not in ("present", "wait") and f"{s.kind} {s.key}" not in waiting
    ]
    result.pending += [
        f"{s.kind} {s.key}: still provisioning" for s in after.steps
        if s.action == "wait" and f"{s.kind} {s.key}" not in waiting
        and f"{s.kind} {s.key}: ready" not in result.ready
    ]
    if result.complete:
        try:
            result.sheet = _complete_edition(ctx, kit, observed, now)
        except LockHeld:
            result.sheet_left = (
                f"not written by this call: another crisiskit run of {ctx.commune} is in "
                f"progress in this home and writes the documents; once it has finished, "
                f"`crisiskit status {ctx.commune} --wait` writes the complete edition if "
                "it did not"
            )
    return result


def _complete_edition(
    ctx: Context, kit: DesiredKit, observed: Observed, now: datetime
) -> KitDocuments | None:
    """Write the edition of the sheet that says the kit is complete, if none did yet.

    Under the commune's lock of this home (the documents are this home's files): never
    beside an activation or another `status --wait` writing them (LockHeld). No tenant
    lease: nothing is written to the tenant.
    """
    from crisiskit.state.lock import commune_lock

    with commune_lock(ctx.setup.home, ctx.commune):
        issued, _, last, _ = editions(ctx.store, ctx.commune)
        if issued is None or last == "complete":
            return None  # no sheet was handed over, or the last edition says complete
        state = KitState(team_url=observed.team_url, sharepoint_url=observed.drive_url)
        inputs = sheet_inputs(ctx.store, ctx.commune, now, state)
        written = write_documents(ctx.setup, kit, now, inputs, state)
        record_edition(ctx.store, ctx.operator, ctx.commune, state, written, inputs)
        return written
