"""The run's journal: steps, created ids and audit entries, written through the state store.

Every step appends a journal row and an audit entry; every Graph write appends an audit entry
with its request-id (the Graph door's `on_write` hook). Nothing here ever receives a secret:
details are short strings chosen by the engine, and the store refuses a `Secret` anyway.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crisiskit.state.api import StateStore


class Journal:
    """Record what one run does, for resumption, teardown and the audit trail."""

    def __init__(self, store: StateStore, run_id: int, commune: str, operator: str) -> None:
        self.store = store
        self.run_id = run_id
        self.commune = commune
        self.operator = operator
        self.writes = 0
        self._graph_writes: list[tuple[str, str, int, str | None]] = []

    @contextmanager
    def group(self) -> Iterator[None]:
        """Journal everything done inside the block in one SQLite transaction.

        The Graph writes reported by the hook since the last flush go in first, so the audit
        keeps the order in which things happened.
        """
        with self.store.transaction():
            self.flush()
            yield

    def flush(self) -> None:
        """Append the buffered Graph-write audit entries (one transaction)."""
        if not self._graph_writes:
            return
        pending, self._graph_writes = self._graph_writes, []
        with self.store.transaction():
            for method, target, status, request_id in pending:
                self.store.audit_append(
                    self.operator,
                    self.commune,
                    f"graph.{method.upper()}",
                    target,
                    str(status) if status else "no answer",
                    request_id=request_id,
                    details={"run": str(self.run_id)},
                )

    def step(
        self,
        phase: str,
        kind: str,
        key: str,
        action: str,
        status: str,
        *,
        graph_id: str | None = None,
        detail: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """Append one step to the journal and to the audit chain."""
        self.store.add_step(self.run_id, phase, kind, key, action, status, graph_id, detail)
        details: dict[str, str] = {"run": str(self.run_id), "phase": phase}
        if graph_id:
            details["graph_id"] = graph_id
        if detail:
            details["detail"] = detail
        self.store.audit_append(
            self.operator,
            self.commune,
            f"{kind}.{action}",
            key,
            status,
            request_id=request_id,
            details=details,
        )

    def created(self, kind: str, key: str, graph_id: str) -> None:
        """Record the id of an object crisiskit created (before any wait that follows)."""
        self.store.record_object(self.run_id, self.commune, kind, key, graph_id)

    def graph_write(self, method: str, path: str, status: int, request_id: str | None) -> None:
        """Buffer the audit entry of one Graph write (the hook the Graph door calls).

        The engine flushes the buffer, in one transaction with the steps it journals, as soon
        as the batch that carried the write has returned: one commit per batch, not per write.
        """
        self.writes += 1
        # Query strings never carry secrets, but keep the target short and stable.
        self._graph_writes.append((method, path.split("?", 1)[0], status, request_id))


class ReadOnlyJournal(Journal):
    """The journal of an operation that changes nothing (`status --wait`): nothing is kept.

    Its verbs only read (waits for readiness); one that reported a created object would be
    a defect, refused here.
    """

    def __init__(self, commune: str) -> None:
        self.run_id = 0
        self.commune = commune
        self.operator = ""
        self.writes = 0
        self._graph_writes = []

    @contextmanager
    def group(self) -> Iterator[None]:
        yield

    def flush(self) -> None:
        return None

    def step(
        self,
        phase: str,
        kind: str,
        key: str,
        action: str,
        status: str,
        *,
        graph_id: str | None = None,
        detail: str | None = None,
        request_id: str | None = None,
    ) -> None:
        return None

    def created(self, kind: str, key: str, graph_id: str) -> None:
        raise RuntimeError(f"a read-only operation reported a created {kind} {key}")

    def graph_write(self, method: str, path: str, status: int, request_id: str | None) -> None:
        raise RuntimeError(f"a read-only operation sent {method} {path}")
