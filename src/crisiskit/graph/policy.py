"""Retry policy and adaptive concurrency for Graph requests.

A small policy object rather than a retry library: Graph needs per-response decisions (a 429
waits `Retry-After` then retries any method; a 5xx retries only idempotent requests; a POST
that got no clear answer must not be retried at all) and a client-wide slow-down after a 429,
which generic retry decorators do not express.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from crisiskit.clock import SYSTEM, Clock

RETRYABLE_5XX = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How many times, and how long, one request may be retried.

    Every request has both a maximum number of attempts and a deadline; whichever comes first
    ends the retries. A 429 is not an attempt (the request was not processed): throttled
    answers are bounded by the deadline and `max_throttled`, each waited out for its
    Retry-After, which Graph gives in fractions of a second.
    """

    max_attempts: int = 6
    deadline_s: float = 120.0
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    cooldown_s: float = 10.0
    max_throttled: int = 40

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Return the wait before retry number `attempt` (1-based): capped exponential, jittered."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** max(0, attempt - 1))
        # Half fixed, half random: spreads concurrent retries without ever waiting ~0.
        jitter: float = (rng or random).random()
        return ceiling / 2 + jitter * ceiling / 2


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Return the seconds a `Retry-After` header asks for, or None if absent, zero or invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or SYSTEM.now())).total_seconds()
    if seconds != seconds or seconds <= 0:  # NaN or not positive
        return None
    return seconds


class AdaptiveLimiter:
    """Bound the requests in flight; after a 429, pause everyone and halve the bound for a while.

    Graph throttles per application and tenant, so one 429 means every concurrent request is
    likely to get one too: they all wait for the `Retry-After`, and concurrency then grows back
    by one per calm `cooldown_s`. Pauses and deadlines are measured on `clock`.
    """

    def __init__(
        self,
        max_concurrency: int = 8,
        cooldown_s: float = 10.0,
        clock: Clock = SYSTEM,
        pause_with: AdaptiveLimiter | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self.limit = max_concurrency
        self.in_flight = 0
        self.peak_in_flight = 0
        self.pause_until = 0.0
        self._cooldown_s = cooldown_s
        self._grow_at = 0.0
        self._clock = clock
        self._waiters: list[asyncio.Future[None]] = []
        # Another limiter whose pauses this one also waits out (downloads wait out a 429 of
        # the Graph requests', and pause them on theirs: see `throttled`).
        self.pause_with = pause_with

    def paused_until(self) -> float:
        """Return when the current pause (this limiter's or the one it shares) ends."""
        other = self.pause_with.pause_until if self.pause_with is not None else 0.0
        return max(self.pause_until, other)

    async def acquire(self, deadline: float) -> bool:
        """Wait for a slot; return False if the deadline (on the clock's monotonic) comes first."""
        while True:
            now = self._clock.monotonic()
            if now >= deadline:
                return False
            pause = self.paused_until()
            if pause > now:
                await self._clock.sleep(min(pause, deadline) - now)
                continue
            if self.in_flight < self.limit:
                self.in_flight += 1
                self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
                return True
            await self._released_or(deadline - now)

    async def release(self) -> None:
        """Free a slot and wake the waiters."""
        self.in_flight -= 1
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _released_or(self, timeout: float) -> None:
        """Wait until a slot is released, or `timeout` seconds on the clock."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        timer = asyncio.ensure_future(self._clock.sleep(timeout))
        try:
            await asyncio.wait({waiter, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def throttled(self, pause_s: float) -> None:
        """Record a 429: halve the bound and pause new requests for `pause_s`.

        429s that arrive while a pause is running were sent before it: they extend the pause
        but do not halve the bound again.
        """
        now = self._clock.monotonic()
        if now >= self.pause_until:
            self.limit = max(1, self.limit // 2)
        self.pause_until = max(self.pause_until, now + pause_s)
        self._grow_at = self.pause_until + self._cooldown_s
        if self.pause_with is not None:
            self.pause_with.throttled(pause_s)

    def succeeded(self) -> None:
        """Record a success: after a calm cooldown, allow one more request in flight."""
        now = self._clock.monotonic()
        if self.limit < self.max_concurrency and now >= self._grow_at:
            self.limit += 1
            self._grow_at = now + self._cooldown_s
