"""Collect the steps of an activation plan, each in its journal phase."""

from __future__ import annotations

from crisiskit.plan.model import Action, Step, step

# The journal's phase of each kind (what the audit trail and `steps` have always said).
PHASES = {
    "user": "accounts",
    "licence": "licences",
    "mailbox": "mailboxes",
    "group": "group",
    "membership": "group",
    "team": "team",
    "channel": "team",
    "drive": "sharepoint",
    "folder": "sharepoint",
    "tap": "credentials",
    "phone_method": "phones",
    "loan": "devices",
}


class StepBuilder:
    """The steps of one plan, in the order they are added."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def add(
        self,
        kind: str,
        action: Action,
        key: str,
        payload: object = None,
        *,
        detail: str = "",
        graph_id: str | None = None,
        after: tuple[str, ...] = (),
    ) -> Step:
        s = step(
            kind, action, key, payload, after=after, detail=detail, graph_id=graph_id,
            phase=PHASES.get(kind, kind),
        )
        self.steps.append(s)
        return s
