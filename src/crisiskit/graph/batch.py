"""JSON `$batch` for the Graph client: chunking, per-sub-request retries, keyed sends.

    send_batch(graph, items)     BatchItems in calls of ≤ 20, concurrently → answers by id
    send_keyed(graph, requests)  `Request`s under the caller's keys → answers under those keys

The SDK's own batch helpers are not used (GRAPH.md: absolute sub-request URLs, `depends_on`
mis-serialised, sub-response bodies dropped): the body is built here and sent through the
client's request adapter like any other request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from crisiskit.graph.body import encode_body
from crisiskit.graph.policy import RETRYABLE_5XX
from crisiskit.graph.types import BatchItem, GraphResponse, Request
from crisiskit.graph.wire import (
    MAX_BATCH,
    READ_METHODS,
    NoAnswer,
    is_idempotent,
    local_error,
    request_id_of,
)

if TYPE_CHECKING:
    from crisiskit.graph.client import Graph

K = TypeVar("K", bound=Hashable)

# A write answered like this has an unknown outcome: it may have been applied.
UNCERTAIN = frozenset({0, *RETRYABLE_5XX})


async def send_batch(
    graph: Graph, items: Sequence[BatchItem], deadline_s: float | None = None
) -> dict[str, GraphResponse]:
    """Send sub-requests in JSON `$batch` calls of at most 20, concurrently."""
    deadline = graph.clock.monotonic() + (deadline_s or graph.policy.deadline_s)
    results: dict[str, GraphResponse] = {}
    chunks = chunk(items)
    outcomes = await asyncio.gather(*(_run_batch(graph, c, deadline) for c in chunks))
    for outcome in outcomes:
        results.update(outcome)
    return results


async def send_keyed(graph: Graph, requests: Mapping[K, Request]) -> dict[K, GraphResponse]:
    """Send requests through `$batch`; return the answers under the same keys.

    A write answered with a 5xx or nothing at all comes back `ambiguous`, even when the
    client re-sent it (idempotent) until its budget ran out: its outcome is unknown.
    """
    if not requests:
        return {}
    keys = list(requests)
    items = [
        BatchItem(
            id=f"r{n}",
            method=r.method.upper(),
            url=r.url,
            body=r.body,
            headers=dict(r.headers),
            idempotent=r.idempotent,
        )
        for n, r in enumerate(requests.values(), start=1)
    ]
    answers = await send_batch(graph, items)
    out: dict[K, GraphResponse] = {}
    for key, item in zip(keys, items, strict=True):
        answer = answers[item.id]
        if item.method not in READ_METHODS and answer.status in UNCERTAIN and not answer.ambiguous:
            answer = replace(answer, ambiguous=True)
        out[key] = answer
    return out


async def _run_batch(
    graph: Graph, items: list[BatchItem], deadline: float
) -> dict[str, GraphResponse]:
    results: dict[str, GraphResponse] = {}
    pending: dict[str, BatchItem] = {item.id: item for item in items}
    last: dict[str, GraphResponse] = {}
    attempt = 0
    throttled = 0
    while pending:
        attempt += 1
        pending = _guarded(graph, pending, results)
        if not pending:
            break
        requests = [_sub_request(graph, item, pending) for item in pending.values()]
        content = encode_body({"requests": requests})
        if not await graph._acquire(deadline):
            # Never raise here: answers of earlier rounds (ids of created objects) would
            # be lost with the exception.
            for item in pending.values():
                results[item.id] = last.get(item.id) or local_error(
                    "deadlineExceeded", "not sent: the deadline came first"
                )
            break
        try:
            graph._count(
                http_requests=1,
                batches=1,
                sub_requests=len(pending),
                writes=sum(i.method not in READ_METHODS for i in pending.values()),
            )
            outer: GraphResponse | None = await graph._exchange(
                "POST",
                graph.base_url + "/$batch",
                content,
                {"Content-Type": "application/json", "Accept": "application/json"},
                deadline,
            )
            unsent = False
        except NoAnswer as exc:
            outer = None
            unsent = not exc.sent
        finally:
            await graph.limiter.release()

        retry: dict[str, BatchItem] = {}
        throttle_wait = 0.0
        if outer is None or outer.status in RETRYABLE_5XX:
            status = 0 if outer is None else outer.status
            rid = None if outer is None else outer.request_id
            for item in pending.values():
                if unsent or is_idempotent(item.method, item.body, item.idempotent):
                    retry[item.id] = item
                    last[item.id] = GraphResponse(status, {}, None, rid)
                else:
                    results[item.id] = GraphResponse(status, {}, None, rid, ambiguous=True)
                    graph._ambiguous(item.method, item.url, status, rid)
        elif outer.status == 429:
            graph._count(throttled=1)
            throttle_wait = graph._retry_after(outer) or 0.0
            throttle_wait = throttle_wait or graph.policy.backoff(attempt, graph._rng)
            retry = dict(pending)
            for item_id in retry:
                last[item_id] = outer
        elif outer.status != 200 or not isinstance(outer.body, dict):
            # The whole call was refused (400, 401, 403...): nothing in it was executed.
            for item in pending.values():
                results[item.id] = outer
                if item.method not in READ_METHODS:
                    graph._wrote(item.method, item.url, outer.status, outer.request_id)
            break
        else:
            graph.limiter.succeeded()
            throttle_wait = _sort_sub_responses(graph, outer, pending, results, retry, last)

        _fail_orphans(retry, results)
        if not retry:
            break
        delay = throttle_wait or graph.policy.backoff(attempt, graph._rng)
        only_throttled = all(last[i].status == 429 for i in retry)
        if only_throttled:
            # Nothing re-sent was processed: a round of 429s is not an attempt.
            attempt -= 1
            throttled += 1
        allowed = (
            graph._may_wait_throttled(throttled, deadline, delay)
            if only_throttled
            else graph._may_retry(attempt, deadline, delay)
        )
        if not allowed:
            for item_id, item in retry.items():
                final = last[item_id]
                results[item_id] = final
                if item.method not in READ_METHODS:
                    graph._wrote(item.method, item.url, final.status, final.request_id)
            break
        graph._count(retries=len(retry))
        if throttle_wait:
            graph.limiter.throttled(throttle_wait)
        else:
            await graph.clock.sleep(delay)
        pending = retry
    return results


def _guarded(
    graph: Graph, pending: dict[str, BatchItem], results: dict[str, GraphResponse]
) -> dict[str, BatchItem]:
    """Answer the write sub-requests a scope's guard forbids (unsent); return what may go."""
    from crisiskit.graph.client import GUARD_CODE, GUARD_STATUS

    reason = graph._refusal()
    if reason is None:
        return pending
    kept: dict[str, BatchItem] = {}
    for item_id, item in pending.items():
        if item.method in READ_METHODS:
            kept[item_id] = item
        else:
            results[item_id] = local_error(GUARD_CODE, reason, GUARD_STATUS)
    _fail_orphans(kept, results)
    return kept


def _sub_request(
    graph: Graph, item: BatchItem, pending: Mapping[str, BatchItem]
) -> dict[str, Any]:
    sub: dict[str, Any] = {"id": item.id, "method": item.method.upper()}
    sub["url"] = graph._relative(item.url)
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
    graph: Graph,
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
            request_id_of(sub_headers, body) or outer.request_id,
        )
    longest = 0.0
    throttled = False
    # Failed dependencies (424) are decided after the requests they depend on.
    order = sorted(pending.values(), key=lambda i: answers.get(i.id, outer).status == 424)
    for item in order:
        answer = answers.get(item.id)
        idempotent = is_idempotent(item.method, item.body, item.idempotent)
        if answer is None:
            # No sub-response at all: same uncertainty as a dropped connection.
            answer = GraphResponse(0, {}, None, outer.request_id)
        status = answer.status
        if status == 429:
            graph._count(throttled=1)
            throttled = True
            longest = max(longest, graph._retry_after(answer) or 0.0)
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
            graph._ambiguous(item.method, item.url, status, answer.request_id)
            continue
        results[item.id] = answer
        if item.method not in READ_METHODS:
            graph._wrote(item.method, item.url, status, answer.request_id)
    if not throttled:
        return 0.0
    return longest or graph.policy.backoff(1, graph._rng)


def _fail_orphans(retry: dict[str, BatchItem], results: dict[str, GraphResponse]) -> None:
    """Answer 424 for re-sends whose dependency failed or has an unknown outcome.

    Re-sent alone, they would run without the object they depend on.
    """
    changed = True
    while changed:
        changed = False
        for item_id, item in list(retry.items()):
            failed = [d for d in item.depends_on if d in results and not results[d].ok]
            if failed:
                del retry[item_id]
                results[item_id] = local_error(
                    "failedDependency", f"depends on {failed[0]!r}, which did not succeed", 424
                )
                changed = True


def chunk(items: Sequence[BatchItem]) -> list[list[BatchItem]]:
    """Split items into calls of at most 20, keeping each `depends_on` group together.

    Ids must be unique case-insensitively (Graph compares them so). Graph accepts dependsOn in
    three shapes only (json-batching, known issues): no dependency, a serial chain, or every
    dependent item on the same one. So a call carries at most one group with dependencies, and
    a group that is not such a star (a chain) travels alone; an item depends on one other.
    """
    ids = [item.id for item in items]
    if len({i.lower() for i in ids}) != len(ids):
        raise ValueError("batch item ids must be unique (case-insensitively)")
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
    chunks: list[list[BatchItem]] = []
    current: list[BatchItem] = []
    linked = False  # `current` holds a group with dependencies
    for group in groups.values():
        if len(group) > MAX_BATCH:
            raise ValueError(f"a dependsOn chain of {len(group)} items exceeds {MAX_BATCH}")
        if any(len(item.depends_on) > 1 for item in group):
            raise ValueError("a batch item can depend on a single other item")
        has_deps = len(group) > 1
        star = has_deps and len({d for item in group for d in item.depends_on}) == 1
        alone = has_deps and not star
        if current and (len(current) + len(group) > MAX_BATCH or (has_deps and linked) or alone):
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
