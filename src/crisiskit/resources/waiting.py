"""How crisiskit waits for the service: until it is ready, up to the bound of that delay.

A wait ends when the service says the thing is ready, never at an arbitrary deadline: it polls
with capped backoff (honouring `Retry-After`) until the upper bound of the delay, measured
from when the provisioning started; past that bound the thing is reported `pending`, with
what finishes it. Bounds and schedules are in service seconds; the run's wait scale
multiplies both (rehearsals on a scaled simulator).

The bounds, and where they come from:

- mailbox after an Exchange licence: 24 h, documented ("the service typically takes less than
  30 minutes to provision a user ... in some situations these processes can take up to 24
  hours": learn.microsoft.com, exchange/troubleshoot/user-and-shared-mailboxes/
  delays-provision-mailbox-sync-changes);
- a Teams operation (teamsasyncoperation.md): no duration documented, only "wait >30 seconds
  between checks". Bound chosen: 60 min, four times the one Teams delay the reference does
  document (a new group may not reach Teams for 15 minutes, team-post.md);
- the SharePoint site of a new group: no delay documented; field reports go up to 45 min
  (pnp/PnP#1868). Bound chosen: 60 min.

While waiting, each verb says what it waits for and up to when (`note`: a "waiting" event of
its kind, not journaled); the live display counts the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crisiskit.graph.policy import parse_retry_after
from crisiskit.graph.types import GraphResponse
from crisiskit.resources.base import Session

MAILBOX_BOUND_S = 24 * 3600.0
TEAM_BOUND_S = 60 * 60.0
SITE_BOUND_S = 60 * 60.0
MIN_DELAY_S = 0.01  # never spin, whatever the scale


@dataclass(frozen=True)
class Schedule:
    """When to look again: `first_s`, then times `factor`, at most `cap_s` (service seconds)."""

    first_s: float
    factor: float
    cap_s: float


# Every 15 s at most: a thing ready is seen within 15 s (the real service's minutes are then
# lost by seconds), for one small `$batch` per look.
MAILBOX = Schedule(5.0, 2.0, 15.0)
SITE = Schedule(5.0, 2.0, 15.0)
TEAM_OPERATION = Schedule(31.0, 1.0, 31.0)  # documented: "wait >30 seconds between checks"


def parse_time(value: str | None) -> datetime | None:
    """Parse an ISO 8601 time from Graph or the journal (naive means UTC)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def duration(seconds: float) -> str:
    """Say a duration the way an operator reads it: "45 s", "12 min", "3 h 20 min"."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h"


class Waiter:
    """One wait on the run's clock: started `since`, bounded by `bound_s` (both scaled)."""

    def __init__(
        self, session: Session, schedule: Schedule, bound_s: float, since: datetime | None = None
    ) -> None:
        self.clock = session.clock
        self.scale = session.wait_scale
        self.schedule = schedule
        now = self.clock.now()
        self.since = min(since, now) if since is not None else now
        self.bound_s = bound_s * self.scale
        self.deadline = self.since + timedelta(seconds=self.bound_s)
        self._delay = schedule.first_s * self.scale

    def elapsed(self) -> float:
        return (self.clock.now() - self.since).total_seconds()

    def remaining(self) -> float:
        return (self.deadline - self.clock.now()).total_seconds()

    def bound(self) -> str:
        """Say the bound of this wait ("60 min")."""
        return duration(self.bound_s)

    def progress(self) -> str:
        """Say how long this wait has lasted, and its bound."""
        return f"{duration(self.elapsed())} so far, up to {duration(self.bound_s)}"

    async def pause(self, answer: GraphResponse | None = None) -> bool:
        """Sleep until the next look; False when the bound has passed (look no more).

        The last look is made at the bound itself, so a thing ready just in time is seen.
        """
        if self.remaining() <= 0:
            return False
        await self.clock.sleep(self.next_delay(answer))
        return True

    def next_delay(self, answer: GraphResponse | None = None) -> float:
        """Return how long to wait before the next look (0 past the bound), and move the
        schedule on: `pause` without the sleep, for a verb that looks at other things
        meanwhile."""
        left = self.remaining()
        if left <= 0:
            return 0.0
        wait = self._delay
        asked = parse_retry_after(answer.headers.get("retry-after")) if answer else None
        if asked is not None:
            wait = max(wait, asked)  # the service's own instruction, never scaled
        cap = self.schedule.cap_s * self.scale
        self._delay = min(self._delay * self.schedule.factor, cap)
        return max(MIN_DELAY_S, min(wait, left))


def note(session: Session, kind: str, key: str, phase: str, what: str) -> None:
    """Say what a verb is about to wait for ("for Microsoft Teams to ...", a stable text: the
    display counts the elapsed time itself), as a "waiting" event (never journaled)."""
    session.event(kind, key, "waiting", phase=phase, journal=False, detail=what)
