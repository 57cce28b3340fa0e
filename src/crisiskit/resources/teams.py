"""The crisis Team: its id is its group's; natural key its display name.

    read:    by_group (GET /teams/{group id}: 404 until the Team is provisioned)
    wait:    TeamWait: poll the teamsAsyncOperation at the `Location` of the 202 ("wait >30
             seconds between checks", teamsasyncoperation.md), or, when that is not known (a
             rerun, `status --wait`), the team itself; until ready or its bound
             (`crisiskit.resources.waiting`), else `pending`
    create:  TeamCreate, the Team of an existing group (a kit made before teams were created
             from scratch): POST /teams with template@odata.bind and group@odata.bind → 202,
             its id journaled before any wait, then the wait above. A group younger than 15
             minutes may answer 404 (team-post.md): the documented recipe retries 3 times 10 s
             apart, then waits until the group is 15 minutes old.

A new kit's Team is created with its group in one `POST /teams` (`crisiskit.resources.
teamcreate`); this module only waits for it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from crisiskit.graph.types import GraphResponse, Request
from crisiskit.plan.model import Id, Step
from crisiskit.resources.base import Resource, Session, get, ident, post
from crisiskit.resources.waiting import TEAM_BOUND_S, TEAM_OPERATION, Waiter, note, parse_time

KIND = "team"
PHASE = "team"
ATTEMPTS = 4  # uncertain answers tolerated before giving the outcome up as unknown
TEAM_RETRIES = 3  # documented: retry team creation up to 3 times, 10 s apart
TEAM_RETRY_S = 10.0
GROUP_MATURITY_S = 15 * 60.0  # documented: a group younger than this may not reach Teams
TEAM_ID = re.compile(r"teams\('([^']+)'\)", re.IGNORECASE)
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
class TeamWait:
    """Wait for the Team `team` (its group's id), created `since` (ISO; None: now)."""

    team: Id
    operation: Id | None = None  # the Location of the 202, when this run has it
    bound_s: float = TEAM_BOUND_S  # 0: look once (activate --no-wait)
    since: Id | None = None


@dataclass(frozen=True)
class TeamCreate:
    """`POST /teams` from the existing group `group`, then the wait for its operation."""

    group: Id
    graph_root: str  # root of the bind URLs (the tenant's Graph, national clouds included)
    bound_s: float = TEAM_BOUND_S  # of the operation, after the young-group recipe
    group_created: Id | None = None  # the group's createdDateTime, for the young-group wait


def by_group(group_id: str) -> Request:
    return get(f"/teams/{group_id}")


def team_id_of(accepted: GraphResponse) -> str | None:
    """Return the team id a 202 names in `Location` or `Content-Location`, if any."""
    for header in ("location", "content-location"):
        m = TEAM_ID.search(accepted.headers.get(header, ""))
        if m:
            return m.group(1)
    return None


def from_group_request(p: TeamCreate) -> Request:
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


def _values(answer: GraphResponse, gid: str) -> dict[str, str]:
    out = {"id": gid}
    if answer.status == 200 and answer.json().get("webUrl"):
        out["webUrl"] = str(answer.json()["webUrl"])
    return out


async def wait(session: Session, steps: Sequence[Step]) -> None:
    for s in steps:
        p: TeamWait = s.payload
        since = parse_time(ident(p.since)) if p.since is not None else None
        location = ident(p.operation) if p.operation is not None else None
        await await_team(session, s, ident(p.team), location, Waiter(
            session, TEAM_OPERATION, p.bound_s, since
        ))


async def await_team(
    session: Session, step: Step, gid: str, location: str | None, waiter: Waiter
) -> None:
    """Poll the operation (or the team) until it is ready, failed, or past its bound."""
    while True:
        if location:
            last = (await session.settle({"op": operation(location)}))["op"]
            status = str(last.json().get("status", "")) if last.status == 200 else ""
            if status == "failed" or last.status == 0 or (
                last.status >= 400 and last.status != 404
            ):
                error = last.json().get("error") if last.status == 200 else None
                code = error.get("code") if isinstance(error, dict) else None
                why = f"team creation operation {status or last.status}"
                session.failed(step, last, f"{why} ({code})" if code else why)
                return
            ready = status == "succeeded"
        else:
            # The operation is not known (a rerun, `status --wait`): the team answers 404
            # until it is provisioned.
            last = (await session.send({"team": by_group(gid)}))["team"]
            if last.status not in (200, 404):
                # No answer or an error the Graph door already retried: nothing to wait on.
                session.failed(step, last, "the Team could not be read; rerun")
                return
            ready = last.status == 200
            status = "provisioning"
        if ready:
            check = last if not location else (await session.send({"t": by_group(gid)}))["t"]
            session.done(step, values=_values(check, gid), status="ready")
            return
        if waiter.remaining() <= 0:
            session.pending(step, f"the Team is still being created ({waiter.progress()})")
            return
        note(session, KIND, step.key, PHASE, f"{OPERATION_WAIT} (up to {waiter.bound()})")
        await waiter.pause(last)


async def create(session: Session, steps: Sequence[Step]) -> None:
    for s in steps:
        await _create_from_group(session, s)


async def _create_from_group(session: Session, step: Step) -> None:
    """Create the team of an existing group; on a young group's 404, follow the recipe."""
    p: TeamCreate = step.payload
    gid = ident(p.group)
    clock, scale = session.clock, session.wait_scale
    created = parse_time(ident(p.group_created) if p.group_created else None)
    # The recipe may need the whole maturity wait: never give up before it, unless this
    # run does not wait at all (--no-wait).
    recipe = Waiter(session, TEAM_OPERATION, GROUP_MATURITY_S + 2 * TEAM_RETRY_S if
                    p.bound_s else 0.0, created)
    not_found = 0
    uncertain = 0
    while True:
        answer = (await session.send({"team": from_group_request(p)}))["team"]
        if answer.status == 202:
            # The team's id is the group's: journal it now, before waiting, so that a kill
            # during the wait leaves nothing unknown (a rerun finds the team or its 409).
            session.created(step, gid)
            location = answer.headers.get("location", "") or None
            await await_team(session, step, gid, location, Waiter(
                session, TEAM_OPERATION, p.bound_s
            ))
            return
        if answer.ok or answer.status == 409 or answer.ambiguous:
            # 409: a team exists already (an earlier, interrupted run); ambiguous: it may.
            check = answer
            if not answer.ok:
                check = (await session.settle({"get": by_group(gid)}))["get"]
            if check.status in (200, 201):
                with session.journal():
                    session.created(step, gid)
                    session.done(step, values=_values(check, gid), request_id=answer.request_id)
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
            wait = max(recipe.remaining() - 2 * TEAM_RETRY_S * scale, TEAM_RETRY_S * scale)
        if wait > recipe.remaining():
            session.pending(step, "the group is too young for a Team yet (Teams documents up "
                                  "to 15 minutes for a new group)")
            return
        session.event(KIND, step.key, "waiting", phase=step.phase, journal=False,
                      detail=YOUNG_GROUP_WAIT)
        await clock.sleep(wait)


RESOURCE = Resource(KIND, {"create": create, "wait": wait})
