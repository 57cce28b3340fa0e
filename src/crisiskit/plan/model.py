"""Plans as data: Steps with a typed payload and explicit dependencies, for every operation.

    Step(kind, action, key, payload, depends_on)   one object and what to do with it
    Ref(step, field)                               a value another step produces (its id...)
    Plan(operation, commune, steps)                the steps of one operation, JSON-able

A payload is a frozen dataclass holding exactly what will be sent; where it needs an id that
only an earlier step's answer carries, it holds a `Ref` to that step, which the executor
resolves once the step is done. Nothing here knows a resource kind or an operation: activation
builds its plan in `crisiskit.plan.diff`, and teardown or day-2 plans are built the same way.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

Action = Literal[
    "create",
    "update",
    "present",
    "conflict",
    "disable",
    "revoke",
    "delete",
    "purge",
    "export",
    "wait",
]
ACTIONS: tuple[str, ...] = get_args(Action)
# Steps that are reported, never executed: nothing to do, or something that must not be touched.
NOT_RUN: frozenset[str] = frozenset({"present", "conflict"})


@dataclass(frozen=True)
class Ref:
    """A value produced by another step of the plan: `field` of that step's result.

    `optional`: if that step does not succeed, the value is None (and left out of the tuple
    that holds it) instead of the step that needs it being skipped.
    """

    step: str
    field: str = "id"
    optional: bool = False


Id = str | Ref


class Unresolved(Exception):
    """A Ref whose step did not produce the value."""

    def __init__(self, ref: Ref) -> None:
        super().__init__(ref.step)
        self.ref = ref


@dataclass(frozen=True)
class Step:
    """One object of an operation and what to do with it.

    `detail` explains the step to people and is never parsed; `graph_id` is the object's id
    when observation already knows it; `phase` groups steps in the journal (default: kind);
    `id` is unique in its plan (default `kind:key`).
    """

    kind: str
    action: Action
    key: str
    payload: Any = None
    depends_on: tuple[str, ...] = ()
    detail: str = ""
    graph_id: str | None = None
    phase: str = ""
    id: str = ""
    refs: tuple[Ref, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}")
        if not self.id:
            object.__setattr__(self, "id", f"{self.kind}:{self.key}")
        if not self.phase:
            object.__setattr__(self, "phase", self.kind)
        object.__setattr__(self, "refs", tuple(refs(self.payload)))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "action": self.action,
            "key": self.key,
            "detail": self.detail,
            "graph_id": self.graph_id,
            "depends_on": list(self.depends_on),
            "payload": to_data(self.payload),
        }


def step(
    kind: str,
    action: Action,
    key: str,
    payload: Any = None,
    *,
    after: tuple[str, ...] = (),
    detail: str = "",
    graph_id: str | None = None,
    phase: str = "",
    id: str = "",
) -> Step:
    """Build a step that depends on every step its payload refers to, and on `after`."""
    needed = [r.step for r in refs(payload)]
    depends = tuple(dict.fromkeys([*needed, *after]))
    return Step(kind, action, key, payload, depends, detail, graph_id, phase, id)


def refs(value: Any) -> Iterator[Ref]:
    """Yield every Ref inside a payload (dataclasses, tuples, lists and dicts are searched)."""
    if isinstance(value, Ref):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from refs(getattr(value, f.name))
    elif isinstance(value, tuple | list):
        for item in value:
            yield from refs(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from refs(item)


def resolve(value: Any, values: Mapping[str, Mapping[str, Any]]) -> Any:
    """Return the payload with every Ref replaced by the value its step produced.

    `values` maps a step id to the values of its result (only successful steps). A Ref that
    cannot be resolved raises `Unresolved`, unless it is optional: it then becomes None, and
    is left out of the tuple that holds it directly.
    """
    if isinstance(value, Ref):
        got = values.get(value.step, {}).get(value.field)
        if got is None and not value.optional:
            raise Unresolved(value)
        return got
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            current = getattr(value, f.name)
            new = resolve(current, values)
            if new is not current:
                changes[f.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    if isinstance(value, tuple):
        out = []
        for item in value:
            new = resolve(item, values)
            if new is None and isinstance(item, Ref) and item.optional:
                continue
            out.append(new)
        return tuple(out)
    return value


def soft_dependencies(step: Step) -> set[str]:
    """Return the dependencies the step can do without: only optional refs point at them."""
    optional = {r.step for r in step.refs if r.optional}
    required = {r.step for r in step.refs if not r.optional}
    return optional - required


def to_data(value: Any) -> Any:
    """Return a payload as JSON-able data (a Ref becomes {"ref": step, "field": name})."""
    if isinstance(value, Ref):
        out: dict[str, Any] = {"ref": value.step}
        if value.field != "id":
            out["field"] = value.field
        if value.optional:
            out["optional"] = True
        return out
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [to_data(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_data(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


class PlanError(ValueError):
    """A plan that cannot be executed: duplicate ids, unknown or circular dependencies."""


@dataclass
class Plan:
    """The steps of one operation on one commune, and the metadata every view needs."""

    operation: str
    commune: str
    steps: list[Step]
    playbook: str | None = None

    @property
    def empty(self) -> bool:
        """Tell whether the plan has nothing to do (every step is `present`)."""
        return all(s.action == "present" for s in self.steps)

    @property
    def conflicts(self) -> list[Step]:
        return [s for s in self.steps if s.action == "conflict"]

    def of(self, kind: str, *actions: str) -> list[Step]:
        """Return the steps of one kind, optionally only those with one of these actions."""
        return [s for s in self.steps if s.kind == kind and (not actions or s.action in actions)]

    def counts(self) -> dict[str, dict[str, int]]:
        """Count steps by kind (in plan order) then action."""
        c: dict[str, Counter[str]] = {}
        for s in self.steps:
            c.setdefault(s.kind, Counter())[s.action] += 1
        return {k: dict(sorted(v.items())) for k, v in c.items()}

    def validate(self) -> None:
        """Raise PlanError unless ids are unique and dependencies exist and form no cycle."""
        ids = [s.id for s in self.steps]
        dupes = [i for i, n in Counter(ids).items() if n > 1]
        if dupes:
            raise PlanError(f"duplicate step ids: {', '.join(sorted(dupes))}")
        known = set(ids)
        for s in self.steps:
            unknown = [d for d in s.depends_on if d not in known]
            if unknown:
                raise PlanError(f"step {s.id} depends on unknown steps: {', '.join(unknown)}")
            missing = [r.step for r in s.refs if r.step not in s.depends_on]
            if missing:
                raise PlanError(f"step {s.id} refers to steps it does not depend on: {missing}")
        state: dict[str, int] = {}
        graph = {s.id: s.depends_on for s in self.steps}

        def visit(node: str, path: tuple[str, ...]) -> None:
            if state.get(node) == 2:
                return
            if state.get(node) == 1:
                raise PlanError(f"circular dependency: {' -> '.join((*path, node))}")
            state[node] = 1
            for dep in graph[node]:
                visit(dep, (*path, node))
            state[node] = 2

        for node in graph:
            visit(node, ())

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "commune": self.commune,
            "playbook": self.playbook,
            "empty": self.empty,
            "counts": self.counts(),
            "steps": [s.to_json() for s in self.steps],
        }
