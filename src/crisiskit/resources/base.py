"""What every resource module declares, and what its verbs may ask of the run executing them.

A resource module describes one Graph resource kind, terraform-provider-azuread style: its
natural key, the requests that read it and how to parse them, and one entry per verb in
`VERBS` (action → how to do it). An entry is either

- `Create`: declared data (the create request, the lookup by natural key after an uncertain
  answer, what says "it is ours", duplicate detection); the executor runs it and never
  re-sends a create blind;
- `Write`: a write that is safe to repeat (update, disable, revoke, delete, purge), with the
  consistency rule that confirms it (N consecutive reads that agree, or N 404s after a
  delete);
- a `Verb`: an async function for the flows that are more than one request and a rule
  (a Team's 202 and its operation, member binds, passes saved the moment they exist, waits);
- `ByPayload`: one of those per payload type, when one action has two flows.

Verbs receive steps whose payload refs are resolved, and report each step exactly once
through the `Session`. Nothing here performs I/O by itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar
from urllib.parse import quote

from crisiskit.graph.consistency import is_gone
from crisiskit.graph.types import GraphResponse, Request
from crisiskit.plan.model import Id, Ref, Step

if TYPE_CHECKING:
    from crisiskit.clock import Clock
    from crisiskit.graph import Graph
    from crisiskit.graph.consistency import Consistency, Lookup
    from crisiskit.resources.taps import IssuedPass
    from crisiskit.state.api import StateStore

P = TypeVar("P")
K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

JSON = {"Content-Type": "application/json"}


class Session(Protocol):
    """The run a verb executes in: the tenant, time, and where outcomes are reported."""

    @property
    def graph(self) -> Graph: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def wait_scale(self) -> float:
        """Factor applied to documented waits (never to consistency retries)."""
        ...

    @property
    def rules(self) -> Consistency: ...

    @property
    def state(self) -> StateStore:
        """The local state, for resources that live there (loans)."""
        ...

    @property
    def run_id(self) -> int: ...

    @property
    def commune(self) -> str: ...

    @property
    def operator(self) -> str:
        """Who runs this, for what the local state records (device holds)."""
        ...

    async def send(self, requests: Mapping[K, Request]) -> dict[K, GraphResponse]:
        """Send requests through `$batch` once (no consistency retry)."""
        ...

    async def settle(
        self, requests: Mapping[K, Request], *, retry_ambiguous: bool = False
    ) -> dict[K, GraphResponse]:
        """Send requests, re-sending those that hit eventual consistency."""
        ...

    async def look_up(self, lookups: Mapping[K, Lookup[T]]) -> dict[K, T | None]:
        """Find objects by natural key; absent only after consecutive empty reads."""
        ...

    def journal(self) -> AbstractContextManager[None]:
        """Group what is reported inside the block in one journal transaction."""
        ...

    def created(self, step: Step, graph_id: str) -> None:
        """Journal the id of an object just created: call it before any wait that follows."""
        ...

    def done(
        self,
        step: Step,
        *,
        values: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        detail: str = "",
        status: str = "done",
    ) -> None:
        """Report a step as done; `values` (at least "id" if there is one) feed later refs."""
        ...

    def failed(self, step: Step, answer: GraphResponse | None = None, why: str = "") -> None:
        """Report a step as failed, with Graph's answer or a reason a rerun can act on."""
        ...

    def pending(self, step: Step, why: str) -> None:
        """Report a wait that ended before the service was ready (its bound, or no waiting)."""
        ...

    def event(
        self,
        kind: str,
        key: str,
        status: str,
        *,
        phase: str,
        action: str = "wait",
        journal: bool = True,
        detail: str = "",
    ) -> None:
        """Record a fact a verb established on the way (e.g. a mailbox still provisioning).

        A verb about to wait on the service says so first: `event(kind, step.key, "waiting",
        phase=step.phase, journal=False, detail="for <service> to <do what>")`; the operator
        sees what is waited for and for how long until the step reports its result.
        """
        ...

    def warn(self, message: str) -> None:
        """Record a warning for the operator."""
        ...

    def save_passes(self, passes: Sequence[IssuedPass]) -> None:
        """Hand Temporary Access Passes to the credentials sink, now (they exist nowhere else)."""
        ...


Verb = Callable[[Session, Sequence[Step]], Awaitable[None]]


@dataclass(frozen=True)
class Found:
    """An object found by its natural key: its id, whether it is ours, what later steps need."""

    id: str
    ours: bool = True
    values: Mapping[str, Any] = field(default_factory=dict)


def _never(answer: GraphResponse) -> bool:
    return False


def _nothing(payload: Any) -> str | None:
    return None


def created_values(answer: GraphResponse, payload: Any) -> Mapping[str, Any] | None:
    """Return {"id": ...} of an object from its create answer, or None if it has no id."""
    value = answer.json().get("id")
    return {"id": str(value)} if value else None


@dataclass(frozen=True)
class Create(Generic[P]):
    """A create, declared: the executor sends it and settles an uncertain answer by lookup."""

    request: Callable[[P], Request]
    lookup: Callable[[P], Request]  # find the object by natural key
    found: Callable[[GraphResponse, P], Found | None]  # in a 200 answer of `lookup`
    created: Callable[[GraphResponse, P], Mapping[str, Any] | None] = created_values
    duplicate: Callable[[GraphResponse], bool] = _never  # "already exists": look it up
    refuse: Callable[[P], str | None] = _nothing  # a reason not to send it at all


@dataclass(frozen=True)
class Confirm(Generic[P]):
    """The consistency rule of a write: `agree_reads` consecutive reads that agree."""

    read: Callable[[P], Request]
    agrees: Callable[[GraphResponse, P], bool]
    unconfirmed: str  # the reason reported when the deadline comes first


@dataclass(frozen=True)
class Write(Generic[P]):
    """A write that repeating cannot duplicate (update, disable, revoke, delete, purge)."""

    request: Callable[[P], Request]
    gone_is_done: bool = False  # a 404 means it is already gone (deletes)
    confirm: Confirm[P] | None = None
    accept: Callable[[GraphResponse], bool] = _never  # a non-2xx that still means done


@dataclass(frozen=True)
class ByPayload:
    """One action done differently depending on the payload's type.

    The crisis group is created by `POST /groups` (`GroupCreate`) or, with its Team, by
    `POST /teams` (`TeamGroupCreate`): the same kind and action, two flows.
    """

    specs: Mapping[type, Create[Any] | Write[Any] | Verb]

    def of(self, payload: Any) -> Create[Any] | Write[Any] | Verb:
        for kind, spec in self.specs.items():
            if isinstance(payload, kind):
                return spec
        raise TypeError(f"no verb for a payload of type {type(payload).__name__}")


Spec = Create[Any] | Write[Any] | Verb | ByPayload


@dataclass(frozen=True)
class Resource:
    """One resource kind: its name, its verbs, and whether it lives in the local state."""

    kind: str
    verbs: Mapping[str, Spec]
    local: bool = False  # a local resource (loans) runs inline, before remote steps


def gone(answer: GraphResponse, payload: Any) -> bool:
    """Agree with "deleted": the read answers 404 (`crisiskit.graph.consistency.is_gone`)."""
    return is_gone(answer)


def q(value: str) -> str:
    """Quote a value for an OData string literal inside a URL."""
    return quote(value.replace("'", "''"), safe="@.-_~")


def seg(value: str) -> str:
    """Quote one URL path segment (a UPN, a folder name)."""
    return quote(value, safe="@.-_~")


def ident(value: Id) -> str:
    """Return a payload id once the executor has resolved it."""
    if isinstance(value, Ref):
        raise TypeError(f"unresolved reference to step {value.step!r}")
    return value


def post(url: str, body: Any, *, idempotent: bool | None = None) -> Request:
    return Request("POST", url, body, JSON, idempotent)


def patch(url: str, body: Any) -> Request:
    return Request("PATCH", url, body, JSON)


def get(url: str) -> Request:
    return Request("GET", url)


def delete(url: str) -> Request:
    return Request("DELETE", url)


def first_id(answer: GraphResponse, payload: Any = None) -> Found | None:
    """Find the first object of a collection answer."""
    items = answer.values()
    return Found(str(items[0].get("id"))) if items and items[0].get("id") else None


def is_duplicate_in_directory(answer: GraphResponse) -> bool:
    """Tell whether a directory create failed because its natural key is already taken."""
    return answer.code == "Request_BadRequest" and "already exists" in answer.message


def by_kind(resources: Sequence[Resource]) -> dict[str, Resource]:
    """Index resources by kind; a kind declared twice is a programming error."""
    out: dict[str, Resource] = {}
    for r in resources:
        if r.kind in out:
            raise ValueError(f"resource kind {r.kind!r} is declared twice")
        out[r.kind] = r
    return out
