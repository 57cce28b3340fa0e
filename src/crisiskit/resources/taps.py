"""Temporary Access Passes: one usable pass per user (natural key the UPN).

    read:    of_user, parse → ObservedTap (the secret is never readable after its create)
    create:  POST .../temporaryAccessPassMethods. A new pass replaces the previous one, so
             re-sending never duplicates, and an uncertain answer lost its secret anyway:
             issue again. Each secret goes to the credentials sink the moment its `$batch`
             returns, before anything else is journaled or awaited.
    delete:  DELETE .../temporaryAccessPassMethods/{id}, confirmed by consecutive 404s
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from crisiskit.graph.types import GraphResponse, Request
from crisiskit.plan.model import Id, Step
from crisiskit.resources.base import (
    Confirm,
    Resource,
    Session,
    Write,
    delete,
    get,
    gone,
    ident,
    post,
)
from crisiskit.secrets import Secret

KIND = "tap"
ATTEMPTS = 4
MAX_PER_BATCH = 20
FIRST_DELAY_S = 0.1
MAX_DELAY_S = 2.0


@dataclass
class ObservedTap:
    id: str
    usable: bool
    start: str | None
    lifetime_minutes: int | None


@dataclass
class IssuedPass:
    """A Temporary Access Pass issued by this run (the secret stays a Secret)."""

    upn: str
    display_name: str
    secret: Secret
    valid_from: datetime
    valid_until: datetime
    reissued: str = ""  # why a previous pass was replaced ("reissue (...)"), if it was


@dataclass(frozen=True)
class TapCreate:
    user: Id
    upn: str
    display_name: str  # for the credentials file
    lifetime_minutes: int
    usable_once: bool
    reissue: str = ""  # why the previous pass is replaced; empty for a first pass


@dataclass(frozen=True)
class TapTarget:
    user: Id
    method: str  # the pass's id


def of_user(user_id: str) -> Request:
    return get(f"/users/{user_id}/authentication/temporaryAccessPassMethods")


def parse(body: Mapping[str, Any]) -> ObservedTap:
    return ObservedTap(
        id=str(body.get("id")),
        usable=bool(body.get("isUsable", True)),
        start=body.get("startDateTime"),
        lifetime_minutes=body.get("lifetimeInMinutes"),
    )


def create_request(p: TapCreate) -> Request:
    body = {"lifetimeInMinutes": p.lifetime_minutes, "isUsableOnce": p.usable_once}
    return post(f"/users/{ident(p.user)}/authentication/temporaryAccessPassMethods", body)


def _parse_start(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def issued(p: TapCreate, answer: GraphResponse, now: datetime) -> IssuedPass | None:
    """Return the pass a create answer carries, or None if it carries no secret."""
    body = answer.json()
    secret = body.get("temporaryAccessPass")
    if not answer.ok or not secret:
        return None
    if not isinstance(secret, Secret):
        secret = Secret(str(secret))
    start = _parse_start(body.get("startDateTime")) or now
    lifetime = int(body.get("lifetimeInMinutes") or p.lifetime_minutes)
    return IssuedPass(
        upn=p.upn,
        display_name=p.display_name,
        secret=secret,
        valid_from=start,
        valid_until=start + timedelta(minutes=lifetime),
        reissued=f"reissue ({p.reissue})" if p.reissue else "",
    )


async def issue(session: Session, steps: Sequence[Step]) -> None:
    """Issue passes by `$batch` of ≤ 20, each batch saved to the sink as soon as it returns."""
    chunks = [steps[i : i + MAX_PER_BATCH] for i in range(0, len(steps), MAX_PER_BATCH)]
    await asyncio.gather(*(_issue_chunk(session, c) for c in chunks))


async def _issue_chunk(session: Session, steps: Sequence[Step]) -> None:
    waiting = list(steps)
    delay = FIRST_DELAY_S
    for attempt in range(ATTEMPTS):
        answers = await session.settle({s.id: create_request(s.payload) for s in waiting})
        fresh: list[tuple[Step, IssuedPass, GraphResponse]] = []
        retry: list[Step] = []
        for s in waiting:
            a = answers[s.id]
            p = issued(s.payload, a, session.clock.now())
            if p is not None:
                fresh.append((s, p, a))
            elif a.ambiguous and attempt < ATTEMPTS - 1:
                retry.append(s)
            else:
                session.failed(s, a)
        if fresh:
            # The secret exists nowhere else: save it before doing anything more.
            session.save_passes([p for _, p, _ in fresh])
            with session.journal():
                for s, p, a in fresh:
                    tap_id = a.json().get("id")
                    if tap_id:
                        session.created(s, str(tap_id))
                    values: dict[str, Any] = {"pass": p}
                    if tap_id:
                        values["id"] = str(tap_id)
                    session.done(
                        s, values=values, request_id=a.request_id, detail=p.reissued or "issued"
                    )
                    if s.payload.reissue:
                        session.warn(f"tap: reissued for {p.upn} ({s.payload.reissue})")
        waiting = retry
        if not waiting:
            return
        await session.clock.sleep(delay)
        delay = min(delay * 2, MAX_DELAY_S)


def _method_url(p: TapTarget) -> str:
    return f"/users/{ident(p.user)}/authentication/temporaryAccessPassMethods/{p.method}"


RESOURCE = Resource(
    KIND,
    {
        "create": issue,
        "delete": Write(
            lambda p: delete(_method_url(p)),
            gone_is_done=True,
            confirm=Confirm(
                lambda p: get(_method_url(p)), gone, "deleted, but still readable; rerun"
            ),
        ),
    },
)
