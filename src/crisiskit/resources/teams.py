"""The crisis Team, made from the group: its id is the group's; natural key its display name.

    read:    by_group (GET /teams/{group id})
    create:  POST /teams with template@odata.bind and group@odata.bind under the configured
             Graph root → 202 and a teamsAsyncOperation polled at its Location under the Team
             deadline. The team id is journaled before that wait. On a young group the service
             answers 404: the documented recipe retries 3 times 10 s apart, then waits until
             the group is 15 minutes old; the deadline is never shorter than that recipe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from crisiskit.graph.types import GraphResponse, Request
from crisiskit.plan.model import Id, Step
from crisiskit.resources.base import Resource, Session, get, ident, post

KIND = "team"
ATTEMPTS = 4  # uncertain answers tolerated before giving the outcome up as unknown
TEAM_RETRIES = 3  # documented: retry team creation up to 3 times, 10 s apart
TEAM_RETRY_S = 10.0
GROUP_MATURITY_S = 15 * 60.0  # documented: then wait until the group is 15 minutes old
POLL_FIRST_S = 0.2
POLL_MAX_S = 15.0
# What the operator is told while the Team is waited for (Session.event "waiting").
YOUNG_GROUP_WAIT = "for the new group to reach Microsoft Teams (documented: up to 15 minutes)"
OPERATION_WAIT = "for Microsoft Teams to finish provisioning"

# Settings mirror the Teams defaults for a crisis cell: members may not delete channels or
# messages, so the main courante cannot be purged from a compromised account.
SETTINGS = {
    "memberSettings": {
        "allowCreateUpdateChannels": True,
        "allowDeleteChannels": False,
    },
    "messagingSettings": {"allowUserDeleteMessages": False, "allowUserEditMessages": True},
}


@dataclass(frozen=True)
class TeamCreate:
    """`POST /teams` from `group`, under the Team deadline (seconds, documented wait)."""

    group: Id
    graph_root: str  # root of the bind URLs (the tenant's Graph, national clouds included)
    deadline_s: float
    group_created: Id | None = None  # the group's createdDateTime, for the young-group wait


def by_group(group_id: str) -> Request:
    return get(f"/teams/{group_id}")


def create_request(p: TeamCreate) -> Request:
    """Build `POST /teams` from the group: 202 and a teamsAsyncOperation to poll at Location."""
    root = p.graph_root.rstrip("/")
    body = {
        "template@odata.bind": f"{root}/teamsTemplates('standard')",
        "group@odata.bind": f"{root}/groups('{ident(p.group)}')",
        **SETTINGS,
    }
    return post("/teams", body)


def operation(location: str) -> Request:
    """Build the GET of a teamsAsyncOperation from the `Location` of the 202."""
    path = location.split("/v1.0", 1)[-1] if "://" in location else location
    return get(path if path.startswith("/") else f"/{path}")


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _values(answer: GraphResponse, gid: str) -> dict[str, str]:
    out = {"id": str(answer.json().get("id") or gid)}
    if answer.json().get("webUrl"):
        out["webUrl"] = str(answer.json()["webUrl"])
    return out


async def create(session: Session, steps: Sequence[Step]) -> None:
    for s in steps:
        await _create_one(session, s)


async def _create_one(session: Session, step: Step) -> None:
    """Create the team; on a young group's 404, follow the documented retry, then wait."""
    p: TeamCreate = step.payload
    gid = ident(p.group)
    clock, scale = session.clock, session.wait_scale
    # The documented recipe may need the whole maturity wait: never give up before it.
    budget = max(p.deadline_s, GROUP_MATURITY_S + 2 * TEAM_RETRY_S)
    deadline = clock.monotonic() + budget * scale + 1.0
    created = _parse_time(ident(p.group_created) if p.group_created else None)
    not_found = 0
    uncertain = 0
    while True:
        answer = (await session.send({"team": create_request(p)}))["team"]
        if answer.status == 202:
            await _await_operation(session, step, gid, answer, deadline)
            return
        if answer.ok or answer.status == 409 or answer.ambiguous:
            # 409: a team exists already (an earlier, interrupted run); ambiguous: it may.
            check = answer
            if not answer.ok:
                check = (await session.settle({"get": by_group(gid)}))["get"]
            if check.status in (200, 201):
                values = _values(check, gid)
                with session.journal():
                    session.created(step, values["id"])
                    session.done(step, values=values, request_id=answer.request_id)
                return
            uncertain += 1
            if check.status != 404 or uncertain >= ATTEMPTS:
                # Neither the create nor the lookup got a usable answer: stop here (a rerun
                # observes the tenant again) rather than poll a dead service.
                session.failed(step, check, "outcome unknown (no usable answer); rerun")
                return
        elif answer.status != 404:
            session.failed(step, answer)
            return
        else:
            not_found += 1
        if not_found <= TEAM_RETRIES:
            wait = TEAM_RETRY_S * scale
        else:
            age = (clock.now() - (created or clock.now())).total_seconds()
            wait = max(GROUP_MATURITY_S * scale - age, TEAM_RETRY_S * scale)
        if clock.monotonic() + wait > deadline:
            session.failed(step, answer, "the group is too young for a team yet; rerun later")
            return
        session.event(KIND, step.key, "waiting", phase=step.phase, journal=False,
                      detail=YOUNG_GROUP_WAIT)
        await clock.sleep(wait)


async def _await_operation(
    session: Session, step: Step, gid: str, accepted: GraphResponse, deadline: float
) -> None:
    """Poll the teamsAsyncOperation of a `POST /teams` until it succeeds, under `deadline`."""
    # The team's id is the group's: journal it now, before waiting, so that a kill during
    # the wait leaves nothing unknown (a rerun finds the team or its 409).
    session.created(step, gid)
    location = accepted.headers.get("location", "")
    delay = POLL_FIRST_S
    last = accepted
    clock = session.clock
    while location:
        last = (await session.settle({"op": operation(location)}))["op"]
        status = str(last.json().get("status", "")) if last.status == 200 else ""
        if status == "succeeded":
            break
        if status == "failed" or (last.status >= 400 and last.status != 404):
            session.failed(step, last, f"team creation operation {status or last.status}")
            return
        if clock.monotonic() + delay > deadline:
            session.failed(step, last, "the team is still being created; rerun later")
            return
        session.event(KIND, step.key, "waiting", phase=step.phase, journal=False,
                      detail=OPERATION_WAIT)
        await clock.sleep(delay)
        delay = min(delay * 2, POLL_MAX_S * max(session.wait_scale, 0.01))
    check = (await session.settle({"get": by_group(gid)}))["get"]
    values = _values(check, gid) if check.status == 200 else {"id": gid}
    values["id"] = gid
    session.done(step, values=values, request_id=accepted.request_id)


RESOURCE = Resource(KIND, {"create": create})
