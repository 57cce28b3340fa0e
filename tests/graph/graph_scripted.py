"""A scripted HTTP server on loopback: the edge of the world for the Graph door's tests.

It answers each request with whatever the test's handler returns, including faults that a
well-behaved framework will not produce: a connection closed without any answer, a slow
answer, a 429 with `Retry-After`. Built on asyncio + h11 so that a drop is a real drop.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import h11

from crisiskit.graph import Graph, RetryPolicy, open_graph


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    target: str  # path and query, as sent
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() at arrival
    in_flight: int  # requests being handled when this one arrived, itself included

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    """What to answer: a status with JSON or bytes, after an optional delay, or a drop."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False
    cut: int | None = None  # send only this many body bytes, then close the connection


DROP = Reply(drop=True)
Handler = Callable[[Seen], Reply]


def ok(body: Any = None, status: int = 200, **headers: str) -> Reply:
    return Reply(status, body, dict(headers))


def graph_error(status: int, code: str, message: str, **headers: str) -> Reply:
    body = {"error": {"code": code, "message": message, "innerError": {"request-id": "inner"}}}
    return Reply(status, body, dict(headers))


class ScriptedServer:
    """Serve `handler` on 127.0.0.1, port 0, in a background thread."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Seen] = []
        self._in_flight = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1.0"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("scripted server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

    def of(self, method: str, path_end: str = "") -> list[Seen]:
        """Return the requests with this method whose path ends with `path_end`."""
        return [r for r in self.requests if r.method == method and r.path.endswith(path_end)]

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request, body = await self._read_request(conn, reader)
                if request is None:
                    return
                self._in_flight += 1
                try:
                    seen = Seen(
                        request.method.decode(),
                        request.target.decode(),
                        {k.decode().lower(): v.decode() for k, v in request.headers},
                        body,
                        time.monotonic(),
                        self._in_flight,
                    )
                    self.requests.append(seen)
                    reply = self.handler(seen)
                    if reply.delay_s:
                        await asyncio.sleep(reply.delay_s)
                finally:
                    self._in_flight -= 1
                if reply.drop:
                    writer.transport.abort()
                    return
                data = self._encode(conn, reply, len(self.requests))
                if reply.cut is not None:
                    assert isinstance(reply.body, bytes)
                    head = len(data) - len(reply.body)
                    writer.write(data[: head + reply.cut])
                    await writer.drain()
                    writer.transport.abort()
                    return
                writer.write(data)
                await writer.drain()
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except (h11.RemoteProtocolError, ConnectionError, asyncio.CancelledError):
            return
        finally:
            writer.close()

    async def _read_request(
        self, conn: h11.Connection, reader: asyncio.StreamReader
    ) -> tuple[h11.Request | None, bytes]:
        request: h11.Request | None = None
        body = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return request, body
            else:  # ConnectionClosed, PAUSED
                return None, b""

    def _encode(self, conn: h11.Connection, reply: Reply, number: int) -> bytes:
        if isinstance(reply.body, bytes):
            payload, ctype = reply.body, "application/octet-stream"
        elif reply.body is None:
            payload, ctype = b"", ""
        else:
            payload, ctype = json.dumps(reply.body).encode(), "application/json"
        headers = {"request-id": f"rid-{number}", **reply.headers}
        if ctype:
            headers.setdefault("Content-Type", ctype)
        headers["Content-Length"] = str(len(payload))
        out = conn.send(h11.Response(status_code=reply.status, headers=list(headers.items())))
        out = (out or b"") + (conn.send(h11.Data(data=payload)) or b"") if payload else out
        return (out or b"") + (conn.send(h11.EndOfMessage()) or b"")


T = TypeVar("T")

TOKEN = "static-bearer-t0ken-9f2c"
# Small delays so that retry tests stay fast; deadlines are still real.
FAST = RetryPolicy(max_attempts=5, deadline_s=10.0, base_delay_s=0.01, max_delay_s=0.05)


def drive(
    server: ScriptedServer,
    scenario: Callable[[Graph], Awaitable[T]],
    **options: Any,
) -> tuple[T, Graph]:
    """Open a Graph client on `server`, run `scenario` in one event loop, close the client."""
    options.setdefault("policy", FAST)

    async def main() -> tuple[T, Graph]:
        graph = open_graph(None, base_url=server.base_url, token=TOKEN, **options)
        try:
            return await scenario(graph), graph
        finally:
            await graph.aclose()

    return asyncio.run(main())
