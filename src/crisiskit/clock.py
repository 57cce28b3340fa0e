"""The clock seam: every wait and deadline of the engine, the Graph door and the resources.

    Clock          now() (aware UTC), monotonic(), async sleep(seconds)
    SystemClock    the real one (the default everywhere)
    ManualClock    time that moves only when told to, or when someone sleeps on it

The core never calls `time.monotonic()`, `time.time()`, `datetime.now()` or `asyncio.sleep()`
for a wait or a deadline: it asks the clock it was given. Tests and crisis exercises pass a
`ManualClock` and drive time instead of waiting for it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What the core needs from time."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Return seconds on a clock that never goes back (deadlines are measured on it)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` (at least one turn of the event loop, even for 0)."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


SYSTEM = SystemClock()


class ManualClock:
    """A clock that advances only through `advance()` or `sleep()`.

    `sleep(s)` moves time forward by `s` at once and yields to the event loop, so a wait of
    fifteen minutes under a deadline is played out in microseconds, in the order the real
    waits would have happened. `slept` is the total time slept on it.
    """

    def __init__(self, start: datetime | None = None, monotonic: float = 1000.0) -> None:
        moment = start or datetime(2026, 1, 1, tzinfo=UTC)
        if moment.tzinfo is None:
            raise ValueError("ManualClock needs an aware start time")
        self._start = moment.astimezone(UTC)
        self._origin = monotonic
        self._elapsed = 0.0
        self.slept = 0.0

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._origin + self._elapsed

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`."""
        if seconds < 0:
            raise ValueError("time does not go back")
        self._elapsed += seconds

    async def sleep(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        self.advance(seconds)
        self.slept += seconds
        await asyncio.sleep(0)


class MeteredClock:
    """A clock that adds up the time slept on it: where an exercise's time goes.

    `slept` is the time of sleeps that ran their course (a Retry-After, a back-off, a wait for
    the service); `cut` the time of sleeps cancelled before their end (a timer raced against
    something else, e.g. waiting for a free slot of the Graph client). Both are summed over
    concurrent sleepers, so they are task-seconds, not elapsed time.
    """

    def __init__(self, base: Clock = SYSTEM) -> None:
        self.base = base
        self.slept = 0.0
        self.cut = 0.0
        self.sleeps = 0

    def now(self) -> datetime:
        return self.base.now()

    def monotonic(self) -> float:
        return self.base.monotonic()

    async def sleep(self, seconds: float) -> None:
        start = self.base.monotonic()
        try:
            await self.base.sleep(seconds)
        except asyncio.CancelledError:
            self.cut += self.base.monotonic() - start
            raise
        self.slept += self.base.monotonic() - start
        self.sleeps += 1
