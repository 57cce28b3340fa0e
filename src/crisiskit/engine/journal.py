"""The run's journal: steps, created ids and audit entries, written through the state store.

Every step appends a journal row and an audit entry; every Graph write appends an audit entry
with its request-id (the Graph door's `on_write` hook). Nothing here ever receives a secret:
details are short strings chosen by the engine, and the store refuses a `Secret` anyway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crisiskit.state import Store


class Journal:
    """Record what one run does, for resumption, teardown and the audit trail."""

    def __init__(self, store: Store, run_id: int, commune: str, operator: str) -> None:
        self.store = store
        self.run_id = run_id
        self.commune = commune
        self.operator = operator
        self.writes = 0

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
        """Audit one Graph write (the hook the Graph door calls after every write)."""
        self.writes += 1
        # Query strings never carry secrets, but keep the target short and stable.
        target = path.split("?", 1)[0]
        self.store.audit_append(
            self.operator,
            self.commune,
            f"graph.{method.upper()}",
            target,
            str(status) if status else "no answer",
            request_id=request_id,
            details={"run": str(self.run_id)},
        )
