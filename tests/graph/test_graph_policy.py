"""Retry policy, Retry-After parsing, adaptive concurrency, JSON encoding of secrets."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from graph_scripted import Reply, Seen, drive, graph_error, ok

from crisiskit.clock import ManualClock
from crisiskit.graph import RetryPolicy, encode_body
from crisiskit.graph.policy import AdaptiveLimiter, parse_retry_after
from crisiskit.secrets import Secret


@pytest.mark.parametrize(
    ("header", "expected"),
    [("3", 3.0), ("0", None), ("", None), (None, None), ("soon", None), ("-2", None), ("1.5", 1.5)],
)
def test_retry_after_in_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 11, 26, 3, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=7), usegmt=True)
    assert parse_retry_after(header, now) == 7.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=7), usegmt=True), now) is None


def test_backoff_grows_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=8.0)
    rng = random.Random(4)
    waits = [policy.backoff(n, rng) for n in range(1, 8)]
    for n, wait in enumerate(waits, start=1):
        ceiling = min(8.0, 2.0 ** (n - 1))
        assert ceiling / 2 <= wait <= ceiling
    assert len({round(w, 6) for w in waits}) == len(waits)


def test_encode_body_reveals_secrets_only_in_the_bytes() -> None:
    body = {"passwordProfile": {"password": Secret("Pa55!é")}, "n": [1, None]}
    assert encode_body(body) == '{"passwordProfile":{"password":"Pa55!é"},"n":[1,null]}'.encode()
    assert "Pa55" not in repr(body)
    with pytest.raises(TypeError, match="object is not JSON serialisable"):
        encode_body({"x": object()})


def test_limiter_halves_after_a_429_and_grows_back_after_calm() -> None:
    clock = ManualClock(monotonic=100.0)
    limiter = AdaptiveLimiter(8, cooldown_s=10.0, clock=clock)
    limiter.throttled(2.0)
    assert limiter.limit == 4 and limiter.pause_until == 102.0
    limiter.throttled(1.0)  # sent before the pause: no second halving, pause not shortened
    assert limiter.limit == 4 and limiter.pause_until == 102.0
    clock.advance(1.0)  # t = 101
    limiter.throttled(3.0)
    assert limiter.limit == 4 and limiter.pause_until == 104.0
    clock.advance(3.0)  # t = 104
    limiter.throttled(1.0)  # a 429 after the pause: the client is still too fast
    assert limiter.limit == 2 and limiter.pause_until == 105.0
    limiter.succeeded()
    assert limiter.limit == 2  # not calm yet
    clock.advance(11.0)  # t = 115
    limiter.succeeded()
    limiter.succeeded()
    assert limiter.limit == 3  # one step per cooldown
    clock.advance(10.5)  # t = 125.5
    limiter.succeeded()
    assert limiter.limit == 4


def test_limiter_acquire_respects_its_bound_and_deadline() -> None:
    async def scenario() -> tuple[bool, bool, int]:
        limiter = AdaptiveLimiter(2)
        loop = asyncio.get_running_loop()
        assert await limiter.acquire(loop.time() + 1)
        assert await limiter.acquire(loop.time() + 1)
        third = await limiter.acquire(loop.time() + 0.1)  # full: times out
        await limiter.release()
        fourth = await limiter.acquire(loop.time() + 0.1)
        return third, fourth, limiter.peak_in_flight

    assert asyncio.run(scenario()) == (False, True, 2)


def test_one_429_slows_the_whole_client(serve: Any) -> None:
    """After a 429, concurrent requests wait its Retry-After and half as many fly at once."""
    state = {"throttled": False}

    def handler(seen: Seen) -> Reply:
        if not state["throttled"] and seen.in_flight >= 8:
            state["throttled"] = True
            return graph_error(429, "TooManyRequests", "x", **{"Retry-After": "1"})
        reply = ok({"id": seen.path})
        reply.delay_s = 0.05
        return reply

    server = serve(handler)

    async def scenario(graph: Any) -> int:
        await asyncio.gather(*(graph.request("GET", f"/users/{i}") for i in range(40)))
        return int(graph.limiter.limit)

    limit, graph = drive(server, scenario, policy=RetryPolicy(5, 20.0, 0.01, 0.05, 60.0))
    throttle = next(s for s in server.requests if s.in_flight >= 8)
    after = [s for s in server.requests if s.at > throttle.at + 0.01]
    assert after, "requests continued after the 429"
    assert min(s.at for s in after) - throttle.at >= 0.95  # everyone waited the Retry-After
    assert max(s.in_flight for s in after) <= 4  # and concurrency was halved
    assert limit == 4 and graph.stats.throttled == 1 and graph.stats.peak_in_flight == 8
    assert max(s.in_flight for s in server.requests) == 8  # the default bound


def test_retry_waits_and_throttling_pauses_run_on_the_clients_clock(serve: Any) -> None:
    """A 429 asking for 30 s, then a 503 with a 20 s backoff: 50 s on the clock, none real."""
    import time

    answers = [
        graph_error(429, "TooManyRequests", "slow down", **{"Retry-After": "30"}),
        graph_error(503, "serviceNotAvailable", "busy"),
        ok({"id": "u1"}),
    ]
    server = serve(lambda seen: answers.pop(0))
    clock = ManualClock()
    policy = RetryPolicy(max_attempts=5, deadline_s=600.0, base_delay_s=20.0, max_delay_s=20.0)
    started = time.monotonic()
    resp, graph = drive(server, lambda g: g.request("GET", "/users/u1"), clock=clock,
                        policy=policy)
    assert resp.status == 200 and len(server.requests) == 3
    assert 30.0 + 10.0 <= clock.slept <= 30.0 + 20.0  # Retry-After, then a jittered backoff
    assert graph.stats.throttled == 1 and graph.stats.retries == 2
    assert time.monotonic() - started < 5.0


def test_limiter_deadline_is_measured_on_its_clock() -> None:
    async def scenario() -> tuple[bool, float]:
        clock = ManualClock()
        limiter = AdaptiveLimiter(1, clock=clock)
        assert await limiter.acquire(clock.monotonic() + 60)
        # Full, and nobody releases: the 45 s deadline passes on the clock, not for real.
        got = await limiter.acquire(clock.monotonic() + 45)
        return got, clock.slept

    got, slept = asyncio.run(scenario())
    assert got is False and 45.0 <= slept < 46.0


def test_a_limiter_paused_with_another_waits_out_its_pause_and_passes_its_own_on() -> None:
    async def scenario() -> tuple[float, float, int, int]:
        clock = ManualClock(monotonic=100.0)
        graph = AdaptiveLimiter(8, cooldown_s=10.0, clock=clock)
        downloads = AdaptiveLimiter(16, cooldown_s=10.0, clock=clock, pause_with=graph)
        graph.throttled(5.0)  # a Graph request's 429: downloads wait it out too
        assert await downloads.acquire(clock.monotonic() + 60)
        waited = clock.slept
        await downloads.release()
        downloads.throttled(3.0)  # a download's 429 pauses the Graph requests as well
        return waited, graph.pause_until - clock.monotonic(), downloads.limit, graph.limit

    waited, graph_pause, downloads_limit, graph_limit = asyncio.run(scenario())
    assert waited >= 5.0 and graph_pause >= 3.0
    assert downloads_limit == 8  # its own bound halved
    assert graph_limit == 2  # halved by its own 429, then by the download's after that pause
