"""Streamed downloads through the Graph door: no credentials on pre-authenticated URLs, Range
resumes after a drop, 429 waits its Retry-After in the shared limiter, final statuses returned."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from graph_scripted import TOKEN, Reply, ScriptedServer, Seen, drive

from crisiskit.clock import ManualClock
from crisiskit.graph import Graph, open_graph

BODY = os.urandom(300_000)


def _ranged(seen: Seen) -> Reply:
    first = int(seen.headers["range"].removeprefix("bytes=").rstrip("-"))
    return Reply(206, BODY[first:],
                 {"Content-Range": f"bytes {first}-{len(BODY) - 1}/{len(BODY)}"})


def test_a_download_sends_no_credentials_and_resumes_with_a_range(
    serve: Any, tmp_path: Path
) -> None:
    def handler(seen: Seen) -> Reply:
        if "range" not in seen.headers:
            return Reply(200, BODY, cut=100_000)  # the connection drops mid-body
        return _ranged(seen)

    server: ScriptedServer = serve(handler)
    dest = tmp_path / "file.part"
    url = f"http://127.0.0.1:{server.port}/download/abc?tempauth=secret"
    got, graph = drive(server, lambda g: g.download(url, dest))
    assert got.ok and got.status == 206 and got.size == len(BODY)
    assert dest.read_bytes() == BODY
    first, second = server.requests
    assert "authorization" not in first.headers and "authorization" not in second.headers
    assert second.headers["range"] == "bytes=100000-"
    assert graph.stats.downloads == 2 and graph.stats.bytes_downloaded == len(BODY)
    assert dest.stat().st_mode & 0o077 == 0


def test_a_429_waits_its_retry_after_on_the_clock_then_downloads(
    serve: Any, tmp_path: Path
) -> None:
    answers = iter([Reply(429, b"", {"Retry-After": "7"}), Reply(200, BODY)])
    server: ScriptedServer = serve(lambda seen: next(answers))
    clock = ManualClock()
    url = f"http://127.0.0.1:{server.port}/d"
    got, graph = drive(server, lambda g: g.download(url, tmp_path / "f"), clock=clock)
    assert got.status == 200 and (tmp_path / "f").read_bytes() == BODY
    assert graph.stats.throttled == 1 and clock.slept >= 7.0
    assert graph.limiter.limit < graph.limiter.max_concurrency  # everyone slowed down


def test_final_statuses_go_back_to_the_caller_and_a_range_ignored_restarts(
    serve: Any, tmp_path: Path
) -> None:
    def handler(seen: Seen) -> Reply:
        return Reply(401, b"") if seen.path.endswith("expired") else Reply(200, BODY)

    server: ScriptedServer = serve(handler)
    part = tmp_path / "f.part"
    part.write_bytes(b"x" * 500)

    async def scenario(graph: Graph) -> Any:
        base = f"http://127.0.0.1:{server.port}"
        expired = await graph.download(f"{base}/expired", tmp_path / "none")
        whole = await graph.download(f"{base}/whole", part, start=500)
        return expired, whole

    (expired, whole), _ = drive(server, scenario)
    assert expired.status == 401 and not expired.ok and not (tmp_path / "none").exists()
    assert whole.status == 200 and part.read_bytes() == BODY  # the server ignored the Range
    assert server.requests[1].headers["range"] == "bytes=500-"


def test_an_authenticated_stream_carries_the_token_and_shares_the_limiter(
    serve: Any, tmp_path: Path
) -> None:
    async def slow(seen: Seen) -> Reply:
        return Reply(200, BODY, delay_s=0.05)

    server: ScriptedServer = serve(lambda seen: Reply(200, BODY, delay_s=0.05))

    async def main() -> Graph:
        graph = open_graph(None, base_url=server.base_url, token=TOKEN, max_concurrency=2)
        try:
            await asyncio.gather(*(
                graph.stream(f"/users/u/messages/m{n}/$value", tmp_path / f"m{n}.eml")
                for n in range(6)
            ))
        finally:
            await graph.aclose()
        return graph

    graph = asyncio.run(main())
    assert all((tmp_path / f"m{n}.eml").read_bytes() == BODY for n in range(6))
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in server.requests)
    assert server.requests[0].target == "/v1.0/users/u/messages/m0/$value"
    assert max(r.in_flight for r in server.requests) <= 2
    assert graph.stats.peak_in_flight <= 2


def test_pre_authenticated_downloads_hold_their_own_slots_not_graphs(
    serve: Any, tmp_path: Path
) -> None:
    server: ScriptedServer = serve(lambda seen: Reply(200, BODY))

    async def scenario(graph: Graph) -> Any:
        url = f"http://127.0.0.1:{server.port}/d"
        return await asyncio.gather(*(graph.download(url, tmp_path / f"f{n}")
                                      for n in range(12)))

    got, graph = drive(server, scenario)
    assert all(g.ok for g in got) and len(server.requests) == 12
    assert graph.limiter.peak_in_flight == 0  # the Graph requests' budget stayed free
    assert 1 <= graph.downloads.peak_in_flight <= graph.downloads.max_concurrency
