"""The state store's interface: operations named in the domain, no SQL, any backend.

The engine, the plans and the commands talk to the local state only through `StateStore`:
runs and their steps, the journal of objects crisiskit created, device loans, and the
hash-chained audit log. `crisiskit.state.sqlite.SQLiteStore` is the embedded default; a
PostgreSQL backend (one state shared by a team of operators) implements this same protocol
and nothing above `crisiskit.state` changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from crisiskit.errors import OperationFailed, PreconditionFailed
from crisiskit.state.audit import AuditEntry

DeviceKind = Literal["laptop", "phone"]
# A device's runtime hold, recorded by the tool; "available" lifts the hold (after a wipe).
HoldState = Literal["available", "to_wipe", "maintenance", "lost", "retired"]
HOLD_STATES: tuple[str, ...] = ("available", "to_wipe", "maintenance", "lost", "retired")


class StateError(OperationFailed):
    """The state store cannot be opened or used."""


class LoanConflict(PreconditionFailed):
    """An asset is already lent to someone else."""


@dataclass(frozen=True)
class Run:
    """One invocation of a command that changes or inspects a commune's kit."""

    id: int
    commune: str
    playbook: str | None
    kind: str
    operator: str
    pid: int | None
    started_at: str
    finished_at: str | None
    outcome: str | None
    summary: Mapping[str, Any] | None


@dataclass(frozen=True)
class Reservation:
    """A device, or licence seats still to assign, claimed by an activation in progress."""

    holder: str  # the activation's random token
    commune: str
    kind: Literal["device", "seats"]
    asset_tag: str | None
    sku: str | None
    seats: int
    pid: int
    process_start: str | None
    at: str


@dataclass(frozen=True)
class StepRecord:
    """One step of a run, as journaled."""

    id: int
    run_id: int
    seq: int
    phase: str
    kind: str
    key: str
    action: str
    status: str
    graph_id: str | None
    detail: str | None
    at: str


@dataclass(frozen=True)
class ObjectRecord:
    """The Graph id of an object crisiskit created, by commune, kind and natural key."""

    commune: str
    kind: str
    natural_key: str
    graph_id: str
    run_id: int | None
    created_at: str


@dataclass(frozen=True)
class Loan:
    """A device lent to an account of a commune (open while `returned_at` is None)."""

    id: int
    commune: str
    device_kind: str
    asset_tag: str
    upn: str
    run_id: int | None
    loaned_at: str
    returned_at: str | None

    @property
    def is_open(self) -> bool:
        return self.returned_at is None


@dataclass(frozen=True)
class DeviceEvent:
    """One change of a device's runtime state (why, by whom, for which commune, when)."""

    id: int
    asset_tag: str
    state: str
    reason: str | None
    commune: str | None
    run_id: int | None
    operator: str
    at: str


class StateStore(Protocol):
    """Everything crisiskit keeps about runs, created objects, loans and the audit trail.

    Every write is atomic and committed before it returns, unless made inside
    `transaction()`, which groups the writes of its block into one commit (nesting joins).
    """

    def transaction(self) -> AbstractContextManager[None]: ...

    def close(self) -> None: ...

    # runs and their steps
    def start_run(
        self, commune: str, kind: str, operator: str, playbook: str | None = None
    ) -> int: ...

    def finish_run(
        self, run_id: int, outcome: str, summary: Mapping[str, Any] | None = None
    ) -> None: ...

    def run(self, run_id: int) -> Run | None: ...

    def runs(self, commune: str | None = None, limit: int | None = None) -> list[Run]: ...

    def unfinished_runs(self, commune: str) -> list[Run]: ...

    def add_step(
        self,
        run_id: int,
        phase: str,
        kind: str,
        key: str,
        action: str,
        status: str,
        graph_id: str | None = None,
        detail: str | Mapping[str, Any] | None = None,
    ) -> int: ...

    def steps(self, run_id: int) -> list[StepRecord]: ...

    # the journal of created objects (what teardown will observe, with the tag)
    def record_object(
        self, run_id: int | None, commune: str, kind: str, natural_key: str, graph_id: str
    ) -> None: ...

    def objects(self, commune: str, kind: str | None = None) -> list[ObjectRecord]: ...

    def object_id(self, commune: str, kind: str, natural_key: str) -> str | None: ...

    def forget_object(self, commune: str, kind: str, natural_key: str) -> bool: ...

    # device loans
    def add_loan(
        self, run_id: int | None, commune: str, device_kind: DeviceKind, asset_tag: str, upn: str
    ) -> Loan: ...

    def return_loan(self, commune: str, asset_tag: str) -> Loan | None: ...

    def open_loans(self, commune: str | None = None) -> list[Loan]: ...

    def loans(self, commune: str | None = None, *, open_only: bool = False) -> list[Loan]: ...

    # device states (holds on the lending stock, beside the loans)
    def set_device_state(
        self,
        asset_tag: str,
        state: HoldState,
        *,
        operator: str,
        reason: str | None = None,
        commune: str | None = None,
        run_id: int | None = None,
    ) -> DeviceEvent: ...

    def device_events(self, asset_tag: str | None = None) -> list[DeviceEvent]: ...

    def device_holds(self) -> dict[str, DeviceEvent]:
        """Return the latest event of every device currently held (state not 'available')."""
        ...

    # reservations of activations in progress (devices, seats still to assign); decided
    # inside one `transaction()` with the loans and holds they were computed from
    def reservations(self, *, excluding: str | None = None) -> list[Reservation]:
        """Return the live reservations of other runs (those of dead processes are dropped)."""
        ...

    def reserve(
        self, holder: str, commune: str, *, devices: Iterable[str], sku: str | None, seats: int
    ) -> None: ...

    def seats_assigned(self, holder: str, count: int = 1) -> None: ...

    def release_reservations(self, holder: str) -> None: ...

    # the audit chain
    def audit_append(
        self,
        operator: str,
        commune: str | None,
        action: str,
        target: str | None,
        outcome: str,
        request_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry: ...

    def audit_entries(
        self, commune: str | None = None, *, limit: int | None = None
    ) -> list[AuditEntry]: ...

    def audit_count(self, commune: str | None = None) -> int: ...

    def audit_head(self) -> tuple[int, str] | None: ...

    def audit_verify(self, anchors: Iterable[tuple[int, str]] = ()) -> list[str]: ...
