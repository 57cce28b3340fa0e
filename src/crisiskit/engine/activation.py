"""Activation, plan and status of one commune's crisis kit: the core the CLI calls.

    load → desired kit → connect → observe → plan → preconditions → (confirm) → execute
         → documents → journal

Everything runs inside one event loop (the Graph client belongs to one loop), so the
confirmation prompt is asked from a worker thread. Secrets never leave `IssuedPass` /
`CredentialRow` except into the credentials file (and the terminal with --show-secrets).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crisiskit.engine.executor import IssuedPass, Outcome, PhaseFactory, quiet_phase
from crisiskit.errors import InputError, OperationFailed, PreconditionFailed
from crisiskit.plan.desired import DesiredKit, OpenLoan, desired_kit
from crisiskit.plan.diff import CredentialState, Plan, diff
from crisiskit.plan.observe import Observed, observe
from crisiskit.secrets import Secret

if TYPE_CHECKING:
    from crisiskit.documents.kit import KitDocuments
    from crisiskit.graph import Graph
    from crisiskit.inventory.models import Commune, Inventory
    from crisiskit.playbooks import Playbook
    from crisiskit.state import Store

SANDBOX_TOKEN = "crisiskit-sandbox"


@dataclass
class Setup:
    inventory: Inventory
    commune: Commune
    playbook: Playbook
    home: Path
    signer: Any | None = None  # signs every PDF written (--sign-with), crisiskit.documents.sign

    @property
    def outputs(self) -> Path:
        return self.home / "outputs" / self.commune.id

    @property
    def credentials_path(self) -> Path:
        return self.outputs / "credentials.csv"


@dataclass
class ActivationReport:
    """What `activate` did (or would do), for the CLI to render."""

    plan: Plan
    outcome: Outcome | None = None
    executed: bool = False
    confirmed: bool = True
    credentials_path: Path | None = None
    documents: KitDocuments | None = None  # handover sheet (md, html, pdf), sign-in slips
    loans: list[dict[str, str]] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    resumed: list[int] = field(default_factory=list)  # interrupted runs this one completes

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
        }


def load_setup(
    inventory_path: Path, playbooks_dir: Path, home: Path, commune_id: str, playbook: str | None
) -> Setup:
    """Load and check the inventory, the commune and its playbook (InputError: exit 2)."""
    from crisiskit.inventory import load_inventory
    from crisiskit.playbooks import load_playbook

    inventory = load_inventory(inventory_path)
    commune = inventory.commune(commune_id)
    book = load_playbook(playbook or commune.playbook, playbooks_dir)
    return Setup(inventory, commune, book, home)


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
def endpoint(setup: Setup, sandbox: bool) -> Iterator[tuple[str | None, Secret | None]]:
    """Yield (base_url, token) for static-token endpoints, or (None, None) for the tenant."""
    if sandbox:
        from crisiskit.sim.server import EmbeddedSimulator

        state_dir = setup.home / "sandbox"
        state_dir.mkdir(parents=True, exist_ok=True)
        with EmbeddedSimulator(
            inventory=setup.inventory,
            state_file=state_dir / "tenant.json",
            profile="instant",
        ) as sim:
            yield sim.base_url, Secret(SANDBOX_TOKEN)
        return
    url = os.environ.get("CRISISKIT_GRAPH_URL")
    token = os.environ.get("CRISISKIT_GRAPH_TOKEN")
    if url or token:
        if not (url and token):
            raise InputError("CRISISKIT_GRAPH_URL and CRISISKIT_GRAPH_TOKEN must be set together")
        yield url, Secret(token)
        return
    yield None, None


@asynccontextmanager
async def connected(
    setup: Setup, base_url: str | None, token: Secret | None
) -> AsyncIterator[Graph]:
    from crisiskit.graph import open_graph

    graph = open_graph(setup.inventory.tenant, base_url=base_url, token=token)
    try:
        yield graph
    finally:
        await graph.aclose()


def graph_root(setup: Setup) -> str:
    """Return the Graph root used in `@odata.bind` URLs (national clouds included)."""
    return str(setup.inventory.tenant.graph_url).rstrip("/")


def open_loans(store: Store) -> list[OpenLoan]:
    return [
        OpenLoan(lo.commune, lo.device_kind, lo.asset_tag, lo.upn)  # type: ignore[arg-type]
        for lo in store.open_loans()
    ]


def credential_states(path: Path) -> dict[str, CredentialState]:
    """Read the credentials file's validity windows (the passes themselves are not kept)."""
    from crisiskit.documents.credentials import read_credentials

    return {
        r.upn.lower(): CredentialState(r.upn.lower(), r.valid_from, r.valid_until)
        for r in read_credentials(path)
    }


async def observe_and_plan(
    graph: Graph, kit: DesiredKit, credentials_path: Path, now: datetime
) -> tuple[Observed, Plan]:
    observed = await observe(graph, kit)
    return observed, diff(kit, observed, credential_states(credentials_path), now)


def refusals(setup: Setup, kit: DesiredKit, plan: Plan, today: datetime) -> list[str]:
    """Return the reasons activation must be refused before any write (empty: go)."""
    from crisiskit.conventions import status_at

    reasons: list[str] = []
    state = status_at(setup.commune.convention, today.date())
    if not state.in_force:
        reasons.append(
            f"the convention of {setup.commune.id} is {state.status.value} on "
            f"{today.date().isoformat()}: activation needs an active convention"
        )
    reasons.extend(f"not enough devices: {s}" for s in plan.shortages)
    if plan.sku_id is None:
        reasons.append(f"the tenant has no subscription for SKU {kit.sku_part_number}")
    elif plan.seats_needed > plan.free_seats:
        reasons.append(
            f"not enough {kit.sku_part_number} licences: {plan.seats_needed} needed, "
            f"{plan.free_seats} free"
        )
    for s in plan.conflicts:
        reasons.append(f"conflict: {s.kind} {s.key}: {s.detail} (crisiskit will not touch it)")
    return reasons


def compute_kit(setup: Setup, store: Store, now: datetime) -> DesiredKit:
    return desired_kit(setup.inventory, setup.commune, setup.playbook, open_loans(store), now)


def save_passes_to(path: Path) -> Callable[[list[IssuedPass]], None]:
    """Return a function merging new passes into the credentials file (0600, atomic)."""
    from crisiskit.documents.credentials import (
        CredentialRow,
        merge_credentials,
        read_credentials,
        write_credentials,
    )

    def save(passes: list[IssuedPass]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [
            CredentialRow(p.upn, p.display_name, p.secret, p.valid_from, p.valid_until)
            for p in passes
        ]
        write_credentials(path, merge_credentials(read_credentials(path), rows))

    return save


def write_documents(
    setup: Setup, kit: DesiredKit, outcome: Outcome | None, now: datetime, store: Store
) -> KitDocuments:
    """Write the handover sheet (md, html, pdf) and the first sign-in slips (0600 PDF)."""
    from crisiskit.documents.handover import HandoverAccount, HandoverDevice
    from crisiskit.documents.kit import write_kit_documents

    users = {u.upn: u for u in kit.users}
    return write_kit_documents(
        setup.outputs,
        inventory=setup.inventory,
        commune=setup.commune,
        accounts=[
            HandoverAccount(given_name=u.given_name, surname=u.surname, role=u.role,
                            upn=u.upn, team_owner=u.owner)
            for u in kit.users
        ],
        devices=[
            HandoverDevice(
                kind=a.kind, asset_tag=a.asset_tag, model=a.model,
                serial=a.serial if a.kind == "laptop" else None,
                imei=a.serial if a.kind == "phone" else None,
                phone_number=a.number,
                holder=f"{users[a.upn].given_name} {users[a.upn].surname}"
                if a.upn in users else a.upn,
                holder_upn=a.upn,
            )
            for a in kit.allocations
        ],
        runs=store.runs(setup.commune.id),
        now=now,
        team_name=kit.team.display_name if kit.team else None,
        team_url=_web(outcome.team_url if outcome else None),
        sharepoint_url=_web(outcome.drive_url if outcome else None),
        still_provisioning=list(outcome.mailboxes_pending) if outcome else [],
        audit_anchor=store.audit_head(),
        tap_usable_once=kit.tap_usable_once,
        register_phone=kit.register_phone,
        signer=setup.signer,
    )


def _web(url: str | None) -> str | None:
    return url if url and url.startswith(("http://", "https://")) else None


async def activate(
    setup: Setup,
    store: Store,
    *,
    base_url: str | None,
    token: Secret | None,
    operator: str,
    dry_run: bool = False,
    show_plan: Callable[[Plan], None] = lambda plan: None,
    confirm: Callable[[Plan], bool] | None = None,
    phase: PhaseFactory = quiet_phase,
    now: datetime | None = None,
) -> ActivationReport:
    """Plan, check preconditions, confirm, and execute one activation (under the lock)."""
    from crisiskit.engine.executor import Executor
    from crisiskit.engine.journal import Journal

    moment = now or datetime.now(UTC)
    kit = compute_kit(setup, store, moment)
    async with connected(setup, base_url, token) as graph:
        observed, plan = await observe_and_plan(graph, kit, setup.credentials_path, moment)
        report = ActivationReport(plan=plan)
        plan.refusals = refusals(setup, kit, plan, moment)
        show_plan(plan)
        if dry_run:
            return report
        reasons = plan.refusals
        if reasons:
            store.audit_append(
                operator, setup.commune.id, "activate.refused", setup.commune.id, "refused",
                details={"reasons": "; ".join(reasons)},
            )
            raise PreconditionFailed(
                "activation refused, nothing was changed:\n  " + "\n  ".join(reasons)
            )
        if confirm is not None and not plan.empty:
            if not await asyncio.to_thread(confirm, plan):
                report.confirmed = False
                return report
        # We hold the commune's lock: a run still marked unfinished was killed mid-way.
        for stale in store.unfinished_runs(setup.commune.id):
            store.finish_run(stale.id, "interrupted", {"resumed_by": operator})
            report.resumed.append(stale.id)
        # Compile the document templates while the run waits on Graph, not after it.
        from crisiskit.documents.kit import prepare

        threading.Thread(target=prepare, name="templates", daemon=True).start()
        run_id = store.start_run(setup.commune.id, "activate", operator, setup.playbook.name)
        journal = Journal(store, run_id, setup.commune.id, operator)
        store.audit_append(
            operator, setup.commune.id, "activate.start", setup.commune.id, "started",
            details={"run": str(run_id), "playbook": setup.playbook.name},
        )
        outcome: Outcome | None = None
        try:
            # Loans are local: record them before any Graph write so devices are never
            # promised twice, whatever happens next.
            for a in kit.allocations:
                store.add_loan(run_id, setup.commune.id, a.kind, a.asset_tag, a.upn)
                if not a.existing:
                    journal.step("devices", "loan", a.asset_tag, "create", "done",
                                 detail=f"{a.kind} -> {a.upn}")
            graph.on_write = journal.graph_write
            executor = Executor(
                graph,
                journal,
                kit,
                observed,
                plan,
                graph_root=graph_root(setup),
                save_passes=save_passes_to(setup.credentials_path),
                wait_scale=wait_scale(),
                phase=phase,
            )
            outcome = await executor.run()
            outcome.created["loan"] += sum(1 for a in kit.allocations if not a.existing)
        finally:
            graph.on_write = None
            journal.flush()
            result = "ok" if outcome is not None and outcome.ok else "failed"
            store.finish_run(
                run_id, result, outcome.to_json() if outcome is not None else {"error": "aborted"}
            )
            store.audit_append(
                operator, setup.commune.id, "activate.finish", setup.commune.id, result,
                details={"run": str(run_id)},
            )
        report.outcome = outcome
        report.executed = True
        report.stats = {
            "http_requests": graph.stats.http_requests,
            "batches": graph.stats.batches,
            "sub_requests": graph.stats.sub_requests,
            "writes": graph.stats.writes,
            "retries": graph.stats.retries,
            "throttled": graph.stats.throttled,
            "ambiguous": graph.stats.ambiguous,
        }
    report.loans = [
        {"kind": a.kind, "asset_tag": a.asset_tag, "upn": a.upn} for a in kit.allocations
    ]
    setup.outputs.mkdir(parents=True, exist_ok=True)
    if setup.credentials_path.exists():
        report.credentials_path = setup.credentials_path
    report.documents = write_documents(setup, kit, outcome, moment, store)
    return report


async def plan_only(
    setup: Setup, store: Store, *, base_url: str | None, token: Secret | None,
    now: datetime | None = None,
) -> Plan:
    """Observe and diff without writing anything (the `plan` command)."""
    moment = now or datetime.now(UTC)
    kit = compute_kit(setup, store, moment)
    async with connected(setup, base_url, token) as graph:
        _, plan = await observe_and_plan(graph, kit, setup.credentials_path, moment)
    plan.refusals = refusals(setup, kit, plan, moment)
    return plan


def failure_message(report: ActivationReport) -> OperationFailed:
    outcome = report.outcome
    lines = outcome.failures if outcome else ["the run stopped"]
    return OperationFailed(
        "activation incomplete; rerun the same command to resume:\n  " + "\n  ".join(lines)
    )


def run_activate(
    setup: Setup,
    *,
    sandbox: bool,
    operator: str,
    dry_run: bool = False,
    show_plan: Callable[[Plan], None] = lambda plan: None,
    confirm: Callable[[Plan], bool] | None = None,
    phase: PhaseFactory = quiet_phase,
) -> ActivationReport:
    """Run one activation from synchronous code: store, lock, endpoint, event loop."""
    from crisiskit.state import Store, commune_lock

    scale = wait_scale()  # bad input is refused before anything starts
    del scale
    with Store.open(setup.home) as store:
        lock = commune_lock(setup.home, setup.commune.id) if not dry_run else _no_lock()
        with lock, endpoint(setup, sandbox) as (base_url, token):
            return asyncio.run(
                activate(
                    setup,
                    store,
                    base_url=base_url,
                    token=token,
                    operator=operator,
                    dry_run=dry_run,
                    show_plan=show_plan,
                    confirm=confirm,
                    phase=phase,
                )
            )


def run_plan(setup: Setup, *, sandbox: bool) -> Plan:
    """Compute the plan from synchronous code (read-only: no lock, no journal)."""
    from crisiskit.state import Store

    with Store.open(setup.home) as store, endpoint(setup, sandbox) as (base_url, token):
        return asyncio.run(plan_only(setup, store, base_url=base_url, token=token))


@contextmanager
def _no_lock() -> Iterator[None]:
    yield None
