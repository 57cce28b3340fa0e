"""Streaming downloads through the Graph door, within the same throttling limiter.

    Graph.download(url, dest, *, start=0)   a pre-authenticated URL (`@microsoft.graph.
                                            downloadUrl`): sent WITHOUT Authorization, over a
                                            plain httpx client, never through the SDK
    Graph.stream(path, dest, *, start=0)    an authenticated Graph GET whose body may be large
                                            (a message's `$value`), through the SDK's client

Both write the body to `dest` as it arrives (never whole in memory), appending from `start`
with `Range: bytes=start-` when `start` > 0. A transfer holds one slot for its length: an
authenticated stream one of the client's limiter (the Graph requests' budget), a
pre-authenticated download one of `Graph.downloads` (`DOWNLOAD_CONCURRENCY`: those URLs are
served by SharePoint, not by Graph, and waiting behind JSON requests for a slot only added
round trips); a 429 on either pauses both. A 429 waits its `Retry-After`; a 5xx or a
connection dropped mid-body is retried from the bytes already written (a `Range` resume);
every attempt has a deadline on the client's clock and a per-chunk idle timeout on the
socket. 401/403/404/410/416 are returned to the caller, who knows what they mean (an expired
URL is fetched again from `/content`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crisiskit.graph.errors import GraphError
from crisiskit.graph.policy import RETRYABLE_5XX, AdaptiveLimiter, parse_retry_after

if TYPE_CHECKING:
    from crisiskit.graph.client import Graph

IDLE_TIMEOUT_S = 60.0  # between two chunks of a body
# Statuses that end a download at once: the caller decides (fresh URL, gone, complete).
FINAL = frozenset({401, 403, 404, 410, 416})
FILE_MODE = 0o600
DOWNLOAD_CONCURRENCY = 16  # pre-authenticated downloads in flight at most (halved on a 429)


@dataclass(frozen=True)
class Downloaded:
    """How a download ended: the last status, bytes written by this call, the full size."""

    status: int
    written: int
    size: int | None  # the whole content's size, when the server said it
    request_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in (200, 206)


Opener = Callable[[Mapping[str, str]], Awaitable[Any]]


def _content_size(headers: Mapping[str, str], status: int, start: int) -> int | None:
    """Return the whole content's size from Content-Range (206) or Content-Length (200)."""
    if status == 206:
        total = headers.get("content-range", "").rpartition("/")[2]
        return int(total) if total.isdigit() else None
    length = headers.get("content-length", "")
    return int(length) if length.isdigit() else None


def _open_for_append(dest: Path, start: int) -> int:
    """Open `dest` (never through a link) positioned at `start`, truncating what lies past it."""
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        os.ftruncate(fd, start)
        os.lseek(fd, start, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


async def fetch(
    graph: Graph,
    opener: Opener,
    what: str,
    dest: Path,
    *,
    start: int = 0,
    deadline_s: float | None = None,
    on_bytes: Callable[[int], None] | None = None,
    limiter: AdaptiveLimiter | None = None,
) -> Downloaded:
    """Stream one body to `dest` from `start`; retry throttling, 5xx and drops (see module).

    `limiter` is the one whose slot the transfer holds (the client's by default).
    """
    import httpx

    clock = graph.clock
    slots = limiter or graph.limiter
    deadline = clock.monotonic() + (deadline_s or graph.policy.deadline_s)
    position = start
    written = 0
    attempt = 0
    while True:
        attempt += 1
        if not await graph._acquire(deadline, slots):
            raise GraphError("GET", what, 0, "deadlineExceeded", "no slot before the deadline")
        headers = {"Range": f"bytes={position}-"} if position else {}
        status, rid, size, failure = 0, None, None, ""
        try:
            graph._count(http_requests=1, downloads=1)
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                raise TimeoutError
            async with asyncio.timeout(remaining):
                resp = await opener(headers)
                try:
                    status = resp.status_code
                    got = {k.lower(): v for k, v in resp.headers.items()}
                    rid = got.get("request-id")
                    if status == 200 and position:
                        position = 0  # the server ignored the Range: take the whole body
                    if status in (200, 206):
                        size = _content_size(got, status, position)
                        fd = _open_for_append(dest, position)
                        try:
                            async for chunk in resp.aiter_bytes():
                                view = memoryview(chunk)
                                while view:
                                    n = os.write(fd, view)
                                    view = view[n:]
                                position += len(chunk)
                                written += len(chunk)
                                graph._count(bytes_downloaded=len(chunk))
                                if on_bytes is not None:
                                    on_bytes(len(chunk))
                        finally:
                            os.close(fd)
                        if size is not None and position < size:
                            failure = f"body ended at {position} of {size} bytes"
                            status = 0
                    elif status == 429 or status in RETRYABLE_5XX:
                        retry_after = parse_retry_after(got.get("retry-after"), clock.now())
                        failure = f"HTTP {status}"
                        if status == 429:
                            graph._count(throttled=1)
                            slots.throttled(
                                retry_after or graph.policy.backoff(attempt, graph._rng)
                            )
                        elif retry_after:
                            failure += f" (retry after {retry_after:.1f} s)"
                finally:
                    await resp.aclose()
        except TimeoutError:
            status, failure = 0, "deadline reached"
        except httpx.TransportError as exc:
            status, failure = 0, f"connection dropped ({type(exc).__name__})"
        finally:
            await slots.release()

        if status in (200, 206):
            slots.succeeded()
            return Downloaded(status, written, size if size is not None else position, rid)
        if status in FINAL:
            return Downloaded(status, written, None, rid)
        if status == 429:
            if clock.monotonic() >= deadline:
                raise GraphError("GET", what, 429, "TooManyRequests", "throttled until deadline")
            graph._count(retries=1)
            continue  # the limiter's pause makes the next acquire wait the Retry-After
        if status and status not in RETRYABLE_5XX:
            raise GraphError("GET", what, status, f"http{status}", "download refused", rid)
        delay = graph.policy.backoff(attempt, graph._rng)
        if not graph._may_retry(attempt, deadline, delay):
            raise GraphError("GET", what, status, "downloadFailed", failure or "no answer", rid)
        graph._count(retries=1)
        await clock.sleep(delay)


class RawDownloads:
    """The plain httpx client for pre-authenticated URLs: no Authorization, no SDK middleware."""

    def __init__(self) -> None:
        self._client: Any = None

    def client(self) -> Any:
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(IDLE_TIMEOUT_S, connect=10.0),
                follow_redirects=False,
                limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def pre_authenticated(raw: RawDownloads, url: str) -> Opener:
    """Open a pre-authenticated URL: a GET with no credentials at all."""
    if not url.startswith(("https://", "http://")):
        raise GraphError("GET", "(download URL)", 0, "invalidUrl", "not an http(s) URL")

    async def open_(headers: Mapping[str, str]) -> Any:
        client = raw.client()
        request = client.build_request("GET", url, headers=dict(headers))
        return await client.send(request, stream=True)

    return open_


def authenticated(graph: Graph, path: str) -> Opener:
    """Open a Graph GET through the SDK's client (its authentication and middleware)."""
    url = graph._absolute(path)

    async def open_(headers: Mapping[str, str]) -> Any:
        from kiota_abstractions.method import Method
        from kiota_abstractions.request_information import RequestInformation

        info = RequestInformation()
        info.http_method = Method.GET
        info.url = url
        for name, value in headers.items():
            info.headers.try_add(name, value)
        request = await graph.adapter.convert_to_native_async(info)
        return await graph.http.send(request, stream=True)

    return open_
