"""The Graph client: raw JSON over the msgraph-sdk request adapter, with our own retry policy.

Requests go through the SDK's kiota request adapter (authentication, middleware pipeline) but
come back as native httpx responses: no model deserialisation (≈ 4 ms of CPU per entity), and
the response headers (Graph `request-id`, `Retry-After`, `Location`) stay readable. The SDK's
RetryHandler is switched off, because it retries POST on 503/504 and can create duplicates;
retries are decided here, per response.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlsplit

from crisiskit.graph.body import decode_json, encode_body
from crisiskit.graph.errors import AmbiguousWrite, GraphError
from crisiskit.graph.policy import RETRYABLE_5XX, AdaptiveLimiter, RetryPolicy, parse_retry_after
from crisiskit.graph.types import BatchItem, GraphResponse, GraphStats

WriteHook = Callable[[str, str, int, "str | None"], None]

MAX_BATCH = 20
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Characters left as they are in request paths; anything else (space, '#', non-ASCII) is
# percent-encoded, and existing %XX escapes are kept.
_PATH_SAFE = "/?&=$',()*:@!~+-._%;"


class _NoAnswer(Exception):
    """The exchange ended without an HTTP response."""

    def __init__(self, reason: str, *, sent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sent = sent  # False when the request surely never reached the server


def _is_idempotent(method: str, body: Any, override: bool | None) -> bool:
    if override is not None:
        return override
    if method in READ_METHODS or method in ("PUT", "DELETE"):
        return True
    if method == "PATCH":
        # Adding members twice fails ("already exist"): such a PATCH is not idempotent.
        return not (isinstance(body, dict) and any(k.endswith("@odata.bind") for k in body))
    return False


def _request_id(headers: Mapping[str, str], body: Any) -> str | None:
    rid = headers.get("request-id") or headers.get("client-request-id")
    if rid:
        return rid
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        inner = body["error"].get("innerError") or body["error"].get("innererror") or {}
        if isinstance(inner, dict) and isinstance(inner.get("request-id"), str):
            return str(inner["request-id"])
    return None


def _error_from(method: str, path: str, resp: GraphResponse, note: str = "") -> GraphError:
    code = resp.error_code or f"http{resp.status}"
    message = resp.error_message or "no error message"
    if note:
        message = f"{message} ({note})"
    return GraphError(method, path, resp.status, code, message, resp.request_id)


def _display_path(path: str) -> str:
    """Return the path as shown in errors: no scheme/host, query kept (it holds no secrets)."""
    parts = urlsplit(path)
    if parts.scheme:
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return path


class Graph:
    """Send requests to Microsoft Graph; one instance per process, used inside one event loop.

    Built by `crisiskit.graph.open_graph`. `stats` counts what went over the wire; `on_write`
    (method, path, status, request_id) is called once per write request or `$batch`
    sub-request when its outcome is final (status 0: no answer, outcome unknown).
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
    ) -> None:
        self.adapter = adapter
        self.sdk = sdk
        self.policy = policy or RetryPolicy()
        self.on_write = on_write
        self.stats = GraphStats()
        self.limiter = AdaptiveLimiter(max_concurrency, self.policy.cooldown_s)
        self.base_url = str(adapter.base_url).rstrip("/")
        self._origin = "{0.scheme}://{0.netloc}".format(urlsplit(self.base_url))
        self._closers = list(closers)
        self._rng = rng or random.Random()

    # -- public API -------------------------------------------------------------------------

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
        shown = _display_path(path)
        content = encode_body(body) if body is not None else None
        hdrs = dict(headers or {})
        if content is not None and not any(k.lower() == "content-type" for k in hdrs):
            hdrs["Content-Type"] = "application/json"
        safe = _is_idempotent(method, body, idempotent)
        is_write = method not in READ_METHODS
        expected = frozenset(expect)
        deadline = time.monotonic() + (deadline_s or self.policy.deadline_s)
        attempt = 0
        throttled = 0
        while True:
            attempt += 1
            if not await self._acquire(deadline):
                raise GraphError(method, shown, 0, "deadlineExceeded", "no slot before deadline")
            resp: GraphResponse | None = None
            try:
                self.stats.http_requests += 1
                if is_write:
                    self.stats.writes += 1
                resp = await self._exchange(method, url, content, hdrs, deadline)
            except _NoAnswer as exc:
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
                self.stats.throttled += 1
                throttled += 1
                attempt -= 1  # not processed: a 429 is not an attempt
                delay = parse_retry_after(resp.headers.get("retry-after")) or self.policy.backoff(
                    throttled, self._rng
                )
                self.limiter.throttled(delay)
                if not self._may_wait_throttled(throttled, deadline, delay):
                    if is_write:
                        self._wrote(method, shown, status, resp.request_id)
                    raise _error_from(method, shown, resp, f"throttled {throttled} times")
                # The limiter's pause makes the next acquire wait the Retry-After.
                self.stats.retries += 1
                continue
            if status in RETRYABLE_5XX:
                if not safe:
                    self._ambiguous(method, shown, status, resp.request_id)
                    raise AmbiguousWrite(method, shown, status, f"HTTP {status}", resp.request_id)
                delay = parse_retry_after(resp.headers.get("retry-after")) or self.policy.backoff(
                    attempt, self._rng
                )
                if self._may_retry(attempt, deadline, delay):
                    await self._retry_sleep(delay)
                    continue
                if is_write:
                    self._wrote(method, shown, status, resp.request_id)
                raise _error_from(method, shown, resp, f"after {attempt} attempts")
            if is_write:
                self._wrote(method, shown, status, resp.request_id)
            raise _error_from(method, shown, resp)

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
                raise GraphError("GET", _display_path(path), 0, "pagingLoop", "paging never ends")
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

        Items linked by `depends_on` travel in the same call. 429'd sub-requests are re-sent
        alone after the longest Retry-After; idempotent ones are re-sent after a 5xx; a
        non-idempotent one with no clear outcome comes back with `ambiguous=True`.
        """
        deadline = time.monotonic() + (deadline_s or self.policy.deadline_s)
        results: dict[str, GraphResponse] = {}
        chunks = _chunk(items)
        outcomes = await asyncio.gather(*(self._run_batch(c, deadline) for c in chunks))
        for outcome in outcomes:
            results.update(outcome)
        return results

    async def __aenter__(self) -> Graph:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client and the credential."""
        for close in self._closers:
            result = close()
            if asyncio.iscoroutine(result):
                await result
        self._closers.clear()

    # -- internals ----------------------------------------------------------------------------

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
        return self.base_url + quote(path, safe=_PATH_SAFE)

    def _relative(self, url: str) -> str:
        if url.startswith(("http://", "https://")):
            if not url.startswith(self.base_url + "/"):
                raise GraphError("POST", "/$batch", 0, "foreignLink", "batch URL outside Graph")
            url = url[len(self.base_url) :]
        if not url.startswith("/"):
            url = "/" + url
        return quote(url, safe=_PATH_SAFE)

    def _may_retry(self, attempt: int, deadline: float, delay: float) -> bool:
        return attempt < self.policy.max_attempts and time.monotonic() + delay < deadline

    def _may_wait_throttled(self, throttled: int, deadline: float, delay: float) -> bool:
        return throttled < self.policy.max_throttled and time.monotonic() + delay < deadline

    async def _retry_sleep(self, delay: float) -> None:
        self.stats.retries += 1
        await asyncio.sleep(delay)

    def _wrote(self, method: str, path: str, status: int, request_id: str | None) -> None:
        if self.on_write is not None:
            self.on_write(method, path, status, request_id)

    def _ambiguous(self, method: str, path: str, status: int, request_id: str | None) -> None:
        self.stats.ambiguous += 1
        self._wrote(method, path, status, request_id)

    async def _acquire(self, deadline: float) -> bool:
        got = await self.limiter.acquire(deadline)
        self.stats.peak_in_flight = self.limiter.peak_in_flight
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
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _NoAnswer("deadline reached", sent=False)
        try:
            async with asyncio.timeout(remaining):
                native = await self.adapter.send_async(info, None, None)
        except TimeoutError:
            raise _NoAnswer("deadline reached while waiting for the answer", sent=True) from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise _NoAnswer(f"cannot connect ({type(exc).__name__})", sent=False) from None
        except httpx.TimeoutException as exc:
            raise _NoAnswer(f"timed out ({type(exc).__name__})", sent=True) from None
        except httpx.TransportError as exc:
            raise _NoAnswer(f"connection dropped ({type(exc).__name__})", sent=True) from None
        return _to_response(native)

    async def _run_batch(self, chunk: list[BatchItem], deadline: float) -> dict[str, GraphResponse]:
        results: dict[str, GraphResponse] = {}
        pending: dict[str, BatchItem] = {item.id: item for item in chunk}
        last: dict[str, GraphResponse] = {}
        attempt = 0
        throttled = 0
        while pending:
            attempt += 1
            requests = [self._sub_request(item, pending) for item in pending.values()]
            content = encode_body({"requests": requests})
            if not await self._acquire(deadline):
                # Never raise here: answers of earlier rounds (ids of created objects) would
                # be lost with the exception.
                for item in pending.values():
                    results[item.id] = last.get(item.id) or _local_error(
                        "deadlineExceeded", "not sent: the deadline came first"
                    )
                break
            try:
                self.stats.http_requests += 1
                self.stats.batches += 1
                self.stats.sub_requests += len(pending)
                self.stats.writes += sum(i.method not in READ_METHODS for i in pending.values())
                outer: GraphResponse | None = await self._exchange(
                    "POST",
                    self.base_url + "/$batch",
                    content,
                    {"Content-Type": "application/json", "Accept": "application/json"},
                    deadline,
                )
                unsent = False
            except _NoAnswer as exc:
                outer = None
                unsent = not exc.sent
            finally:
                await self.limiter.release()

            retry: dict[str, BatchItem] = {}
            throttle_wait = 0.0
            if outer is None or outer.status in RETRYABLE_5XX:
                status = 0 if outer is None else outer.status
                rid = None if outer is None else outer.request_id
                for item in pending.values():
                    if unsent or _is_idempotent(item.method, item.body, item.idempotent):
                        retry[item.id] = item
                        last[item.id] = GraphResponse(status, {}, None, rid)
                    else:
                        results[item.id] = GraphResponse(status, {}, None, rid, ambiguous=True)
                        self._ambiguous(item.method, item.url, status, rid)
            elif outer.status == 429:
                self.stats.throttled += 1
                throttle_wait = parse_retry_after(outer.headers.get("retry-after")) or 0.0
                throttle_wait = throttle_wait or self.policy.backoff(attempt, self._rng)
                retry = dict(pending)
                for item_id in retry:
                    last[item_id] = outer
            elif outer.status != 200 or not isinstance(outer.body, dict):
                # The whole call was refused (400, 401, 403...): nothing in it was executed.
                for item in pending.values():
                    results[item.id] = outer
                    if item.method not in READ_METHODS:
                        self._wrote(item.method, item.url, outer.status, outer.request_id)
                break
            else:
                self.limiter.succeeded()
                throttle_wait = self._sort_sub_responses(outer, pending, results, retry, last)

            _fail_orphans(retry, results)
            if not retry:
                break
            delay = throttle_wait or self.policy.backoff(attempt, self._rng)
            only_throttled = all(last[i].status == 429 for i in retry)
            if only_throttled:
                # Nothing re-sent was processed: a round of 429s is not an attempt.
                attempt -= 1
                throttled += 1
            allowed = (
                self._may_wait_throttled(throttled, deadline, delay)
                if only_throttled
                else self._may_retry(attempt, deadline, delay)
            )
            if not allowed:
                for item_id, item in retry.items():
                    final = last[item_id]
                    results[item_id] = final
                    if item.method not in READ_METHODS:
                        self._wrote(item.method, item.url, final.status, final.request_id)
                break
            self.stats.retries += len(retry)
            if throttle_wait:
                self.limiter.throttled(throttle_wait)
            else:
                await asyncio.sleep(delay)
            pending = retry
        return results

    def _sub_request(self, item: BatchItem, pending: Mapping[str, BatchItem]) -> dict[str, Any]:
        sub: dict[str, Any] = {"id": item.id, "method": item.method.upper()}
        sub["url"] = self._relative(item.url)
        headers = dict(item.headers or {})
        if item.body is not None:
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
            sub["body"] = item.body
        if headers:
            sub["headers"] = headers
        # Dependencies already answered in an earlier round are not in this call.
        depends = [d for d in item.depends_on if d in pending]
        if depends:
            sub["dependsOn"] = depends
        return sub

    def _sort_sub_responses(
        self,
        outer: GraphResponse,
        pending: Mapping[str, BatchItem],
        results: dict[str, GraphResponse],
        retry: dict[str, BatchItem],
        last: dict[str, GraphResponse],
    ) -> float:
        """File each sub-response as final or to re-send; return the longest Retry-After."""
        answers: dict[str, GraphResponse] = {}
        for raw in outer.body.get("responses") or []:
            if not isinstance(raw, dict) or str(raw.get("id")) not in pending:
                continue
            sub_headers = {str(k).lower(): str(v) for k, v in (raw.get("headers") or {}).items()}
            body = raw.get("body")
            answers[str(raw["id"])] = GraphResponse(
                int(raw.get("status") or 0),
                sub_headers,
                body,
                _request_id(sub_headers, body) or outer.request_id,
            )
        longest = 0.0
        throttled = False
        # Failed dependencies (424) are decided after the requests they depend on.
        order = sorted(pending.values(), key=lambda i: answers.get(i.id, outer).status == 424)
        for item in order:
            answer = answers.get(item.id)
            idempotent = _is_idempotent(item.method, item.body, item.idempotent)
            if answer is None:
                # No sub-response at all: same uncertainty as a dropped connection.
                answer = GraphResponse(0, {}, None, outer.request_id)
            status = answer.status
            if status == 429:
                self.stats.throttled += 1
                throttled = True
                longest = max(
                    longest, parse_retry_after(answer.headers.get("retry-after")) or 0.0
                )
                retry[item.id] = item
                last[item.id] = answer
                continue
            if status == 424 and any(d in retry for d in item.depends_on):
                retry[item.id] = item
                last[item.id] = answer
                continue
            if status in RETRYABLE_5XX or status == 0:
                if idempotent:
                    retry[item.id] = item
                    last[item.id] = answer
                    continue
                results[item.id] = replace(answer, ambiguous=True)
                self._ambiguous(item.method, item.url, status, answer.request_id)
                continue
            results[item.id] = answer
            if item.method not in READ_METHODS:
                self._wrote(item.method, item.url, status, answer.request_id)
        if not throttled:
            return 0.0
        return longest or self.policy.backoff(1, self._rng)


def _local_error(code: str, message: str, status: int = 0) -> GraphResponse:
    """Return an answer made here, not by Graph, in Graph's error shape."""
    return GraphResponse(status, {}, {"error": {"code": code, "message": message}}, None)


def _fail_orphans(retry: dict[str, BatchItem], results: dict[str, GraphResponse]) -> None:
    """Answer 424 for re-sends whose dependency failed or has an unknown outcome.

    Re-sent alone, they would run without the object they depend on.
    """
    changed = True
    while changed:
        changed = False
        for item_id, item in list(retry.items()):
            failed = [
                d for d in item.depends_on
                if d in results and (results[d].ambiguous or not results[d].ok)
            ]
            if failed:
                del retry[item_id]
                results[item_id] = _local_error(
                    "failedDependency", f"depends on {failed[0]!r}, which did not succeed", 424
                )
                changed = True


def _to_response(native: Any) -> GraphResponse:
    headers = {k.lower(): v for k, v in native.headers.items()}
    raw: bytes = native.content
    body: Any = None
    if raw:
        ctype = headers.get("content-type", "")
        if "json" in ctype:
            try:
                body = decode_json(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                body = raw
        else:
            body = raw
    return GraphResponse(native.status_code, headers, body, _request_id(headers, body))


def _chunk(items: Sequence[BatchItem]) -> list[list[BatchItem]]:
    """Split items into calls of at most 20, keeping each `depends_on` group together."""
    ids = [item.id for item in items]
    if len({i.lower() for i in ids}) != len(ids):  # Graph compares them case-insensitively
        raise ValueError("batch item ids must be unique")
    parent = {i: i for i in ids}

    def root(i: str) -> str:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for item in items:
        for dep in item.depends_on:
            if dep not in parent:
                raise ValueError(f"batch item {item.id!r} depends on unknown id {dep!r}")
            parent[root(item.id)] = root(dep)
    groups: dict[str, list[BatchItem]] = {}
    for item in items:
        groups.setdefault(root(item.id), []).append(item)
    # Graph accepts dependsOn in three shapes only (json-batching known issues): no dependency,
    # a serial chain, or every dependent item on the same one. So a call carries at most one
    # group with dependencies, and a chain longer than a star travels alone.
    chunks: list[list[BatchItem]] = []
    current: list[BatchItem] = []
    linked = False  # `current` holds a group with dependencies
    for group in groups.values():
        if len(group) > MAX_BATCH:
            raise ValueError(f"a dependsOn chain of {len(group)} items exceeds {MAX_BATCH}")
        has_deps = len(group) > 1
        if any(len(item.depends_on) > 1 for item in group):
            raise ValueError("a batch item can depend on a single other item")
        star = has_deps and len({d for item in group for d in item.depends_on}) == 1
        alone = has_deps and not star
        if current and (
            len(current) + len(group) > MAX_BATCH or (has_deps and linked) or alone
        ):
            chunks.append(current)
            current, linked = [], False
        current.extend(group)
        linked = linked or has_deps
        if alone:
            chunks.append(current)
            current, linked = [], False
    if current:
        chunks.append(current)
    return chunks
