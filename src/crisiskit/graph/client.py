"""The Graph client: raw JSON over the msgraph-sdk request adapter, with our own retry policy.

Requests go through the SDK's kiota request adapter (authentication, middleware pipeline) but
come back as native httpx responses: no model deserialisation (≈ 4 ms of CPU per entity), and
the response headers (Graph `request-id`, `Retry-After`, `Location`) stay readable. The SDK's
RetryHandler is switched off, because it retries POST on 503/504 and can create duplicates;
retries are decided here, per response. `$batch` lives in `crisiskit.graph.batch`.

One client (and so one throttling limiter) can serve several operations of one process at
once: each runs inside its own `scope()`, which gets its own write hook and counters, and may
carry a write guard: while the guard names a reason (the run lost its commune's lease), no
write leaves the client (`request` raises a 412 `leaseLost` GraphError, `$batch` answers each
write sub-request so, unsent); reads go on.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from crisiskit.clock import SYSTEM, Clock
from crisiskit.graph.batch import send_batch, send_keyed
from crisiskit.graph.body import encode_body
from crisiskit.graph.download import (
    DOWNLOAD_CONCURRENCY,
    Downloaded,
    RawDownloads,
    authenticated,
    fetch,
    pre_authenticated,
)
from crisiskit.graph.errors import AmbiguousWrite, GraphError
from crisiskit.graph.policy import RETRYABLE_5XX, AdaptiveLimiter, RetryPolicy, parse_retry_after
from crisiskit.graph.types import BatchItem, GraphResponse, GraphStats, Request
from crisiskit.graph.wire import (
    PATH_SAFE,
    READ_METHODS,
    NoAnswer,
    display_path,
    error_from,
    is_idempotent,
    to_response,
)

WriteHook = Callable[[str, str, int, "str | None"], None]
WriteGuard = Callable[[], "str | None"]  # a reason no write may be sent now, or None
GUARD_STATUS = 412  # the status a guarded write answers with (never sent)
GUARD_CODE = "leaseLost"
K = TypeVar("K", bound=Hashable)


@dataclass
class Scope:
    """One operation's view of a shared client: its write hook and its own counters.

    Scopes nest: what a request does is counted in its scope and every enclosing one.
    """

    on_write: WriteHook | None = None
    stats: GraphStats = field(default_factory=GraphStats)
    parent: Scope | None = None
    guard: WriteGuard | None = None

    def chain(self) -> Iterator[Scope]:
        scope: Scope | None = self
        while scope is not None:
            yield scope
            scope = scope.parent


_SCOPE: ContextVar[Scope | None] = ContextVar("crisiskit_graph_scope", default=None)


def _scopes() -> Iterator[Scope]:
    current = _SCOPE.get()
    return current.chain() if current is not None else iter(())


class Graph:
    """Send requests to Microsoft Graph; one instance per process, used inside one event loop.

    Built by `crisiskit.graph.open_graph`. `stats` counts what went over the wire; `on_write`
    (method, path, status, request_id) is called once per write request or `$batch`
    sub-request when its outcome is final (status 0: no answer, outcome unknown). Inside
    `scope(...)`, the scope's hook and counters are served too.
    """

    def __init__(
        self,
        adapter: Any,
        *,
        sdk: Any = None,
        policy: RetryPolicy | None = None,
        max_concurrency: int = 8,
        on_write: WriteHook | None = None,
        closers: Sequence[Callable[[], Any]] = (),
        rng: random.Random | None = None,
        clock: Clock = SYSTEM,
        http: Any = None,
    ) -> None:
        self.adapter = adapter
        self.sdk = sdk
        self.http = http  # the SDK-wired httpx client (streamed authenticated GETs)
        self._raw = RawDownloads()
        self.policy = policy or RetryPolicy()
        self.on_write = on_write
        self.stats = GraphStats()
        self.clock = clock
        self.limiter = AdaptiveLimiter(max_concurrency, self.policy.cooldown_s, clock)
        # Pre-authenticated downloads are not Graph requests (SharePoint serves them): their
        # own bound, but a 429 on either side pauses both (see `crisiskit.graph.download`).
        self.downloads = AdaptiveLimiter(DOWNLOAD_CONCURRENCY, self.policy.cooldown_s, clock,
                                         pause_with=self.limiter)
        self.base_url = str(adapter.base_url).rstrip("/")
        self._origin = "{0.scheme}://{0.netloc}".format(urlsplit(self.base_url))
        self._closers = list(closers)
        self._rng = rng or random.Random()

    # -- public API -------------------------------------------------------------------------

    @contextmanager
    def scope(
        self, on_write: WriteHook | None = None, *, guard: WriteGuard | None = None
    ) -> Iterator[Scope]:
        """Give the requests made inside the block (and its tasks) their own hook and counters.

        With `guard`, every write made inside the block is first checked against it.
        """
        scope = Scope(on_write, parent=_SCOPE.get(), guard=guard)
        token = _SCOPE.set(scope)
        try:
            yield scope
        finally:
            _SCOPE.reset(token)

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        expect: Iterable[int] = (),
        idempotent: bool | None = None,
        deadline_s: float | None = None,
    ) -> GraphResponse:
        """Send one request and return its answer, retrying what can safely be retried.

        A 2xx, or a status listed in `expect` (e.g. 404 for a lookup), is returned; any other
        status raises `GraphError`. A non-idempotent write (POST; PATCH adding members) that
        gets a 5xx, a timeout or a dropped connection raises `AmbiguousWrite` and is never
        sent again here.
        """
        method = method.upper()
        url = self._absolute(path)
        shown = display_path(path)
        content = encode_body(body) if body is not None else None
        hdrs = dict(headers or {})
        if content is not None and not any(k.lower() == "content-type" for k in hdrs):
            hdrs["Content-Type"] = "application/json"
        safe = is_idempotent(method, body, idempotent)
        is_write = method not in READ_METHODS
        expected = frozenset(expect)
        deadline = self.clock.monotonic() + (deadline_s or self.policy.deadline_s)
        attempt = 0
        throttled = 0
        while True:
            attempt += 1
            refusal = self._refusal() if is_write else None
            if refusal is not None:
                raise GraphError(method, shown, GUARD_STATUS, GUARD_CODE, refusal)
            if not await self._acquire(deadline):
                raise GraphError(method, shown, 0, "deadlineExceeded", "no slot before deadline")
            resp: GraphResponse | None = None
            try:
                self._count(http_requests=1, writes=int(is_write))
                resp = await self._exchange(method, url, content, hdrs, deadline)
            except NoAnswer as exc:
                failure = exc
            finally:
                await self.limiter.release()

            if resp is None:
                if failure.sent and not safe:
                    self._ambiguous(method, shown, 0, None)
                    raise AmbiguousWrite(method, shown, 0, failure.reason)
                delay = self.policy.backoff(attempt, self._rng)
                if not self._may_retry(attempt, deadline, delay):
                    if is_write:
                        self._wrote(method, shown, 0, None)
                    raise GraphError(method, shown, 0, "noResponse", failure.reason)
                await self._retry_sleep(delay)
                continue

            status = resp.status
            if 200 <= status < 300 or status in expected:
                self.limiter.succeeded()
                if is_write:
                    self._wrote(method, shown, status, resp.request_id)
                return resp
            if status == 429:
                self._count(throttled=1)
                throttled += 1
                attempt -= 1  # not processed: a 429 is not an attempt
                delay = self._retry_after(resp) or self.policy.backoff(throttled, self._rng)
                self.limiter.throttled(delay)
                if not self._may_wait_throttled(throttled, deadline, delay):
                    if is_write:
                        self._wrote(method, shown, status, resp.request_id)
                    raise error_from(method, shown, resp, f"throttled {throttled} times")
                # The limiter's pause makes the next acquire wait the Retry-After.
                self._count(retries=1)
                continue
            if status in RETRYABLE_5XX:
                if not safe:
                    self._ambiguous(method, shown, status, resp.request_id)
                    raise AmbiguousWrite(method, shown, status, f"HTTP {status}", resp.request_id)
                delay = self._retry_after(resp) or self.policy.backoff(attempt, self._rng)
                if self._may_retry(attempt, deadline, delay):
                    await self._retry_sleep(delay)
                    continue
                if is_write:
                    self._wrote(method, shown, status, resp.request_id)
                raise error_from(method, shown, resp, f"after {attempt} attempts")
            if is_write:
                self._wrote(method, shown, status, resp.request_id)
            raise error_from(method, shown, resp)

    async def get_all(
        self, path: str, *, headers: Mapping[str, str] | None = None, max_pages: int = 10_000
    ) -> list[Any]:
        """Return every item of a collection, following `@odata.nextLink` to the end.

        The same headers (e.g. `ConsistencyLevel: eventual`) are sent with every page.
        """
        items: list[Any] = []
        url: str | None = path
        seen: set[str] = set()
        pages = 0
        while url:
            if url in seen or pages >= max_pages:
                raise GraphError("GET", display_path(path), 0, "pagingLoop", "paging never ends")
            seen.add(url)
            pages += 1
            resp = await self.request("GET", url, headers=headers)
            body = resp.body if isinstance(resp.body, dict) else {}
            items.extend(body.get("value") or [])
            next_link = body.get("@odata.nextLink")
            url = next_link if isinstance(next_link, str) and next_link else None
        return items

    async def batch(
        self, items: Sequence[BatchItem], *, deadline_s: float | None = None
    ) -> dict[str, GraphResponse]:
        """Send sub-requests in JSON `$batch` calls of at most 20, concurrently.

        Items linked by `depends_on` travel in the same call, in the shapes Graph accepts (at
        most one dependency group per call; a chain alone). 429'd sub-requests are re-sent
        alone after the longest Retry-After, bounded by the deadline and `max_throttled`;
        idempotent ones are re-sent after a 5xx; a non-idempotent one with no clear outcome
        comes back with `ambiguous=True`.
        """
        return await send_batch(self, items, deadline_s)

    async def send(self, requests: Mapping[K, Request]) -> dict[K, GraphResponse]:
        """Send requests (as data) through `$batch`; return the answers under the same keys.

        Any write whose answer is a 5xx or nothing comes back `ambiguous`: look it up, or
        re-send it only if repeating it cannot duplicate anything.
        """
        return await send_keyed(self, requests)

    async def download(
        self,
        url: str,
        dest: Path,
        *,
        start: int = 0,
        deadline_s: float | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> Downloaded:
        """Stream a pre-authenticated URL to `dest` (from `start`), without Authorization.

        Within `self.downloads` (paused with the client's limiter); see
        `crisiskit.graph.download`. The URL (it carries its own credential) is never shown in
        errors.
        """
        opener = pre_authenticated(self._raw, url)
        return await fetch(self, opener, "(pre-authenticated download URL)", dest,
                           start=start, deadline_s=deadline_s, on_bytes=on_bytes,
                           limiter=self.downloads)

    async def stream(
        self,
        path: str,
        dest: Path,
        *,
        start: int = 0,
        deadline_s: float | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> Downloaded:
        """Stream the body of an authenticated Graph GET (e.g. a message's `$value`) to `dest`."""
        if self.http is None:
            # A client built without the SDK's httpx client (scripted tests): not streamed.
            resp = await self.request("GET", path, expect=(401, 403, 404, 410, 416))
            data = resp.body if isinstance(resp.body, bytes) else b""
            if resp.ok:
                dest.write_bytes(data)
            return Downloaded(resp.status, len(data) if resp.ok else 0, len(data),
                              resp.request_id)
        return await fetch(self, authenticated(self, path), display_path(path).split("?")[0],
                           dest, start=start, deadline_s=deadline_s, on_bytes=on_bytes)

    async def __aenter__(self) -> Graph:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client and the credential."""
        await self._raw.aclose()
        for close in self._closers:
            result = close()
            if asyncio.iscoroutine(result):
                await result
        self._closers.clear()

    # -- internals shared with crisiskit.graph.batch -------------------------------------------

    def _absolute(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            parts = urlsplit(path)
            if f"{parts.scheme}://{parts.netloc}".lower() != self._origin.lower():
                raise GraphError(
                    "GET", parts.path, 0, "foreignLink", f"refusing a link outside {self._origin}"
                )
            return path
        if not path.startswith("/"):
            path = "/" + path
        return self.base_url + quote(path, safe=PATH_SAFE)

    def _relative(self, url: str) -> str:
        if url.startswith(("http://", "https://")):
            if not url.startswith(self.base_url + "/"):
                raise GraphError("POST", "/$batch", 0, "foreignLink", "batch URL outside Graph")
            url = url[len(self.base_url) :]
        if not url.startswith("/"):
            url = "/" + url
        return quote(url, safe=PATH_SAFE)

    def _retry_after(self, resp: GraphResponse) -> float | None:
        return parse_retry_after(resp.headers.get("retry-after"), self.clock.now())

    def _may_retry(self, attempt: int, deadline: float, delay: float) -> bool:
        return attempt < self.policy.max_attempts and self.clock.monotonic() + delay < deadline

    def _may_wait_throttled(self, throttled: int, deadline: float, delay: float) -> bool:
        """Tell whether a request throttled `throttled` times may wait `delay` and go again."""
        return throttled < self.policy.max_throttled and self.clock.monotonic() + delay < deadline

    async def _retry_sleep(self, delay: float) -> None:
        self._count(retries=1)
        await self.clock.sleep(delay)

    def _refusal(self) -> str | None:
        """Return why writes may not be sent now (a guard of the current scopes), or None."""
        for scope in _scopes():
            if scope.guard is not None:
                reason = scope.guard()
                if reason is not None:
                    return reason
        return None

    def _count(self, **deltas: int) -> None:
        """Add to the client's counters and to those of the current scope."""
        scopes = list(_scopes())
        for name, n in deltas.items():
            setattr(self.stats, name, getattr(self.stats, name) + n)
            for scope in scopes:
                setattr(scope.stats, name, getattr(scope.stats, name) + n)

    def _wrote(self, method: str, path: str, status: int, request_id: str | None) -> None:
        if self.on_write is not None:
            self.on_write(method, path, status, request_id)
        for scope in _scopes():
            if scope.on_write is not None:
                scope.on_write(method, path, status, request_id)

    def _ambiguous(self, method: str, path: str, status: int, request_id: str | None) -> None:
        self._count(ambiguous=1)
        self._wrote(method, path, status, request_id)

    async def _acquire(self, deadline: float, limiter: AdaptiveLimiter | None = None) -> bool:
        limiter = limiter or self.limiter
        got = await limiter.acquire(deadline)
        if limiter is not self.limiter:
            return got  # a download's slot: `peak_in_flight` counts Graph requests
        self.stats.peak_in_flight = self.limiter.peak_in_flight
        for scope in _scopes():
            scope.stats.peak_in_flight = max(scope.stats.peak_in_flight, self.limiter.in_flight)
        return got

    async def _exchange(
        self,
        method: str,
        url: str,
        content: bytes | None,
        headers: Mapping[str, str],
        deadline: float,
    ) -> GraphResponse:
        import httpx
        from kiota_abstractions.method import Method
        from kiota_abstractions.native_response_handler import NativeResponseHandler
        from kiota_abstractions.request_information import RequestInformation
        from kiota_http.middleware.options import ResponseHandlerOption, RetryHandlerOption

        info = RequestInformation()
        info.http_method = Method(method)
        info.url = url
        for name, value in headers.items():
            info.headers.try_add(name, value)
        if content is not None:
            info.content = content
        info.add_request_options(
            [
                ResponseHandlerOption(NativeResponseHandler()),
                RetryHandlerOption(delay=0, max_retries=0, should_retry=False),
            ]
        )
        remaining = deadline - self.clock.monotonic()
        if remaining <= 0:
            raise NoAnswer("deadline reached", sent=False)
        try:
            # Real I/O: bounded by real time, even on a driven clock.
            async with asyncio.timeout(remaining):
                native = await self.adapter.send_async(info, None, None)
        except TimeoutError:
            raise NoAnswer("deadline reached while waiting for the answer", sent=True) from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise NoAnswer(f"cannot connect ({type(exc).__name__})", sent=False) from None
        except httpx.TimeoutException as exc:
            raise NoAnswer(f"timed out ({type(exc).__name__})", sent=True) from None
        except httpx.TransportError as exc:
            raise NoAnswer(f"connection dropped ({type(exc).__name__})", sent=True) from None
        return to_response(native)
