"""The simulator's ASGI application: Graph under `/v1.0`, control under `/_sim/`, `$batch`, faults.

A plain ASGI callable rather than a framework router: it answers thousands of requests a second
on one core, and it can do what Graph's failure modes need, such as closing a connection without
any response (`drop_rate`). Everything stateful goes through `Simulator.dispatch`.

Order of effects for one Graph request: authentication (401) → throttling (429, nothing done) →
transient 5xx (503/504, nothing done) → latency → dispatch → for a successful write, a 503
after the commit (`commit_then_5xx_rate`) → for any request, a dropped connection (`drop_rate`;
after the write when it is one).
Drive items' pre-authenticated download URLs live under `/_sim/download/` and need no token, as
Graph's do; any other path outside `/v1.0` gets Graph's "Invalid version" 400.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from crisiskit.sim import batch, control, downloads, faultplan, jsonbody
from crisiskit.sim.core import Simulator
from crisiskit.sim.errors import (
    SimError,
    invalid_json,
    invalid_version,
    throttled,
    unauthenticated,
)
from crisiskit.sim.permissions import DEFAULT_ROLES, Principal
from crisiskit.sim.router import SimRequest, SimResponse

JSON_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;"
    "IEEE754Compatible=false;charset=utf-8"
)

Scope = dict[str, Any]


class TokenBuckets:
    """One token bucket per client: `rate` tokens a second, at most `burst` stored."""

    def __init__(self) -> None:
        self.buckets: dict[str, list[float]] = {}

    def take(self, client: str, rate: float, burst: float) -> float:
        """Take one token; return 0 when granted, else the seconds until one is available."""
        capacity = burst if burst > 0 else max(1.0, rate)
        now = time.monotonic()
        bucket = self.buckets.get(client)
        if bucket is None:
            bucket = self.buckets[client] = [capacity, now]
        tokens = min(capacity, bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / rate

    def reset(self) -> None:
        self.buckets.clear()


class SimApp:
    """ASGI application serving one `Simulator`.

    Tokens: with `token`, only that token (holding `roles`, default README's least-privilege
    set) and tokens registered through the control API are accepted; without it, any bearer
    token is, and an unknown one holds `roles`.
    """

    def __init__(
        self,
        sim: Simulator,
        *,
        token: str | None = None,
        roles: tuple[str, ...] | None = None,
    ) -> None:
        self.sim = sim
        self.token = token
        self.buckets = TokenBuckets()
        self._drop_exchange = False  # a targeted drop hit a sub-request of the current $batch
        self.default_principal = Principal.application(DEFAULT_ROLES if roles is None else roles)
        self.principals: dict[str, Principal] = {}
        if token is not None:
            self.principals[token] = self.default_principal
        self.initial_principals = (self.default_principal, dict(self.principals))

    def principal_of(self, token: str) -> Principal | None:
        """Return who a bearer token stands for, or None when it is not accepted."""
        known = self.principals.get(token)
        if known is not None:
            return known
        return None if self.token is not None else self.default_principal

    def reset_principals(self) -> None:
        """Forget tokens registered through the control API; back to the start-up roles."""
        self.default_principal, principals = self.initial_principals
        self.principals = dict(principals)

    def reset_http(self) -> None:
        """Forget the throttling buckets (a reset or a new profile starts them afresh)."""
        self.buckets.reset()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        body = await _read_body(receive)
        if path.startswith("/_sim/download/") and scope["method"] == "GET":
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
            }
            from crisiskit.sim import downloads

            answer = self._download(path[len("/_sim/download/") :], headers)
            await downloads.respond(send, self.sim, answer)
            return
        if path.startswith("/_sim/") or path == "/_sim":
            status, payload = control.handle(self, scope["method"], path, body)
            await _send(send, status, payload, {})
            return
        if not (path.startswith("/v1.0/") or path == "/v1.0"):
            err = invalid_version(path.strip("/").split("/", 1)[0])
            request_id = self.sim.new_request_id()
            refused = self.sim.error_response(err, request_id, request_id)
            refused.headers["request-id"] = request_id
            await self._respond(send, refused)
            return
        req = self._request(scope, body)
        if isinstance(req, SimResponse):
            await self._respond(send, req)
            return
        resp = await self._graph(req, scope)
        if resp is None:
            await _drop(receive)
            return
        await self._respond(send, resp)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _download(self, token: str, headers: dict[str, str]) -> SimResponse:
        """Serve a drive item's pre-authenticated download URL (no Authorization, `Range`)."""
        sim = self.sim
        request_id = sim.new_request_id()
        with sim.lock:
            try:
                resp = downloads.download(sim, token, headers)
            except SimError as err:
                resp = sim.error_response(err, request_id, request_id)
        resp.headers["request-id"] = request_id
        return resp

    def _request(self, scope: Scope, body: bytes) -> SimRequest | SimResponse:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path: str = scope["path"]
        graph = path.startswith("/v1.0/") or path == "/v1.0"
        host = headers.get("host", "127.0.0.1")
        query_string = scope.get("query_string", b"").decode("latin-1")
        query = dict(parse_qsl(query_string, keep_blank_values=True)) if query_string else {}
        client = headers.get("authorization") or (
            scope["client"][0] if scope.get("client") else "anonymous"
        )
        req = SimRequest(
            method=scope["method"],
            path=path[5:] if graph else path,
            query=query,
            headers=headers,
            client=client,
            base_url=f"http://{host}/v1.0",
        )
        if graph:
            denied = self._authenticate(req)
            if denied is not None:
                return self._reject(req, denied)
        if body:
            ctype = headers.get("content-type", "")
            if "json" in ctype or (not ctype and body[:1] in (b"{", b"[")):
                try:
                    req.body = jsonbody.parse(body)
                except jsonbody.JsonRejected as exc:
                    return self._reject(req, invalid_json(str(exc)))
            else:
                req.body = body
        return req

    def _authenticate(self, req: SimRequest) -> SimError | None:
        auth = req.headers.get("authorization", "")
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return unauthenticated()
        principal = self.principal_of(auth[7:].strip())
        if principal is None:
            return unauthenticated("Access token validation failure.")
        req.principal = principal
        return None

    def _reject(self, req: SimRequest, err: SimError) -> SimResponse:
        """Answer with an error before any dispatch, logged like any other request."""
        sim = self.sim
        request_id = sim.new_request_id()
        client_request_id = req.headers.get("client-request-id") or request_id
        resp = sim.error_response(err, request_id, client_request_id)
        resp.headers["request-id"] = request_id
        resp.headers["client-request-id"] = client_request_id
        with sim.lock:
            sim.log(req, resp.status)
            if "Retry-After" in err.headers:
                # What the client was told to wait: fault tests check it was obeyed.
                sim.requests_log[-1]["retryAfter"] = float(err.headers["Retry-After"])
        return resp

    def _gate(self, req: SimRequest) -> SimError | None:
        """Apply throttling and transient faults, which happen before any effect."""
        profile = self.sim.profile
        if profile.throttle_rate > 0:
            wait = self.buckets.take(req.client, profile.throttle_rate, profile.throttle_burst)
            if wait > 0:
                # The service sends fractions of a second (GRAPH.md: "e.g. 2.128").
                return throttled(wait)
        if profile.transient_5xx_rate > 0:
            with self.sim.lock:
                hit = self.sim.rng.random() < profile.transient_5xx_rate
                status = 503 if self.sim.rng.random() < 0.5 else 504
            if hit:
                if status == 503:
                    return SimError(
                        503,
                        "serviceNotAvailable",
                        "The service is temporarily unavailable. Retry later.",
                        headers={"Retry-After": "1"},
                    )
                return SimError(504, "gatewayTimeout", "The gateway timed out.")
        return None

    def _after_dispatch(self, resp: SimResponse, *, can_drop: bool = True) -> str | None:
        """Decide the fault after dispatch: "5xx" (a committed write answered 503), "drop".

        A dropped connection can hit any request; for a write it comes after the write.
        """
        profile = self.sim.profile
        commit = resp.write and profile.commit_then_5xx_rate > 0
        drop = can_drop and profile.drop_rate > 0
        if not (commit or drop):
            return None
        with self.sim.lock:
            if commit and self.sim.rng.random() < profile.commit_then_5xx_rate:
                return "5xx"
            if drop and self.sim.rng.random() < profile.drop_rate:
                return "drop"
        return None

    def _commit_then_5xx(self, req: SimRequest, resp: SimResponse) -> SimResponse:
        err = SimError(
            503, "serviceNotAvailable", "The service is temporarily unavailable. Retry later."
        )
        out = self.sim.error_response(
            err, resp.headers["request-id"], resp.headers["client-request-id"]
        )
        out.headers["request-id"] = resp.headers["request-id"]
        out.headers["client-request-id"] = resp.headers["client-request-id"]
        with self.sim.lock:
            # The write happened: the log says so, then records what the client was told.
            self.sim.requests_log[-1]["committed"] = True
            self.sim.requests_log[-1]["status"] = 503
        return out

    async def _graph(self, req: SimRequest, scope: Scope) -> SimResponse | None:
        """Serve one Graph request; None means: close the connection without answering."""
        is_batch = req.method == "POST" and req.path.rstrip("/").lstrip("/") == "$batch"
        graph = scope["path"].startswith("/v1.0")
        if graph and not is_batch:
            denied = self._gate(req) or faultplan.refusal(self.sim, req)
            if denied is not None:
                return self._reject(req, denied)
        latency = self.sim.profile.latency_ms
        if latency > 0:
            await asyncio.sleep(latency / 1000.0)
        self._drop_exchange = False
        if is_batch:
            resp = self._batch(req)
            fault: str | None = "drop" if self._drop_exchange else None
        else:
            resp = self.sim.dispatch(req)
            fault = faultplan.after(self.sim, req, resp.status)
        fault = fault or self._after_dispatch(resp)
        if fault == "5xx":
            return self._commit_then_5xx(req, resp)
        if fault == "drop":
            with self.sim.lock:
                self.sim.requests_log[-1]["dropped"] = True
            return None
        return resp

    # -- $batch ----------------------------------------------------------------------------
    def _batch(self, req: SimRequest) -> SimResponse:
        try:
            subs = batch.validate(req.body)
        except SimError as err:
            return self._reject(req, err)
        done: dict[str, dict[str, Any]] = {}
        wrote = False
        order: list[str] = []

        def run(sub: dict[str, Any]) -> None:
            nonlocal wrote
            sid = sub["id"].lower()
            if sid in done:
                return
            deps = [str(d).lower() for d in sub.get("dependsOn") or []]
            for dep in deps:
                run(subs[dep])  # the documented shapes have no cycle
            failed = [subs[d]["id"] for d in deps if done[d]["status"] >= 400]
            if failed:
                sub_req = self._sub_request(req, sub)
                resp = self._reject(
                    sub_req,
                    SimError(
                        424,
                        "FailedDependency",
                        f"The request depends on request(s) {', '.join(failed)} that failed.",
                    ),
                )
            else:
                resp = self._run_sub(req, sub)
                wrote = wrote or resp.write
            done[sid] = batch.sub_response(sub["id"], resp)
            order.append(sid)

        try:
            with self.sim.one_save():
                for sub in subs.values():
                    run(sub)
        except SimError as err:
            return self._reject(req, err)
        result = SimResponse(status=200, body={"responses": [done[i] for i in order]})
        result.write = wrote
        request_id = self.sim.new_request_id()
        result.headers["request-id"] = request_id
        result.headers["client-request-id"] = req.headers.get("client-request-id") or request_id
        with self.sim.lock:
            self.sim.log(req, 200)
        return result

    def _sub_request(self, outer: SimRequest, sub: dict[str, Any]) -> SimRequest:
        url = str(sub["url"])
        parts = urlsplit(url if url.startswith("/") else "/" + url)
        headers = {str(k).lower(): str(v) for k, v in (sub.get("headers") or {}).items()}
        for name in ("authorization", "client-request-id"):
            if name in outer.headers and name not in headers:
                headers[name] = outer.headers[name]
        body = sub.get("body")
        if isinstance(body, str) and "json" not in headers.get("content-type", "json"):
            try:
                body = base64.b64decode(body)
            except ValueError:
                body = str(body).encode()
        path = parts.path
        if path.lower().startswith("/v1.0/"):
            path = path[5:]
        return SimRequest(
            method=str(sub["method"]).upper(),
            path=path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)) if parts.query else {},
            headers=headers,
            body=body,
            client=outer.client,
            base_url=outer.base_url,
            via_batch=True,
            principal=outer.principal,
        )

    def _run_sub(self, outer: SimRequest, sub: dict[str, Any]) -> SimResponse:
        url = str(sub["url"])
        sub_req = self._sub_request(outer, sub)
        if "://" in url:
            # Graph resolves batch URLs against /v1.0 and refuses absolute ones (GRAPH.md:
            # msgraph-core 1.5 sends absolute URLs and "Graph rejects them").
            return self._reject(
                sub_req,
                SimError(
                    400, "BadRequest", f"Invalid request URL '{url}': batch URLs must be relative."
                ),
            )
        denied = self._gate(sub_req) or faultplan.refusal(self.sim, sub_req)
        if denied is not None:
            return self._reject(sub_req, denied)
        resp = self.sim.dispatch(sub_req)
        targeted = faultplan.after(self.sim, sub_req, resp.status)
        if targeted == "drop":
            self._drop_exchange = True  # the whole exchange, once every sub-request ran
        elif targeted == "5xx" or self._after_dispatch(resp, can_drop=False) is not None:
            # Within a batch only the whole HTTP exchange can be dropped (drop_rate applies to
            # it); a sub-request's write can still be answered with a 503 after it committed.
            resp = self._commit_then_5xx(sub_req, resp)
            resp.write = True
        return resp

    async def _respond(self, send: Any, resp: SimResponse) -> None:
        headers = dict(resp.headers)
        # Every answer is dated on the simulated clock (RFC 9110 §6.6.1), as `lastModified…`
        # stamps are: a client judging an age from the two sees `/_sim/clock` advances.
        headers.setdefault("Date", formatdate(self.sim.now(), usegmt=True))
        if resp.raw is not None:
            payload = resp.raw
            headers.setdefault("Content-Type", resp.content_type or "application/octet-stream")
        elif resp.body is not None:
            payload = json.dumps(resp.body, separators=(",", ":")).encode()
            headers.setdefault("Content-Type", resp.content_type or JSON_TYPE)
        else:
            payload = b""
        await _send_raw(send, resp.status, payload, headers)


async def _read_body(receive: Any) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _send(send: Any, status: int, payload: Any, headers: dict[str, str]) -> None:
    data = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
    if payload is not None:
        headers = {"Content-Type": "application/json", **headers}
    await _send_raw(send, status, data, headers)


async def _send_raw(send: Any, status: int, data: bytes, headers: dict[str, str]) -> None:
    raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw_headers.append((b"content-length", str(len(data)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": data})


async def _drop(receive: Any) -> None:
    """Close the client's connection without sending anything, like a network failure.

    uvicorn answers 500 when an application fails before responding, which is not a drop; so
    reach the connection's transport through uvicorn's request cycle (the owner of `receive`)
    and abort it. Marking the cycle disconnected stops uvicorn from trying to answer.
    """
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("simulated dropped connection (no transport to close)")
    transport.abort()
    cycle.disconnected = True  # type: ignore[union-attr]
