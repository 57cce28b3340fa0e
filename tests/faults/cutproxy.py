"""A loopback proxy in front of the simulator whose link can be cut: a machine's network.

    proxy = CutProxy(sim.root_url)          forward everything (proxy.base_url for crisiskit)
    proxy.cut()                             hold every request until `heal()` (a partition)
    proxy.drain()                           wait until the requests forwarded before have
                                            landed (nothing sent before the cut lands later)
    proxy.refuse(lambda path: ...)          answer 503 to the matching requests, unsent
    proxy.heal()                            forward again (held requests go on their way)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

HOLD_LIMIT_S = 120.0


class CutProxy:
    def __init__(self, upstream_root: str) -> None:
        self._open = threading.Event()
        self._open.set()
        self._refused: Callable[[str], bool] = lambda path: False
        self.held = 0
        self.forwarding = 0  # requests sent upstream and not answered yet
        self._count = threading.Lock()
        upstream = httpx.Client(base_url=upstream_root, timeout=60.0)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if not proxy._open.is_set():
                    proxy.held += 1
                    proxy._open.wait(HOLD_LIMIT_S)
                if proxy._refused(self.path):
                    self._answer(503, {"Content-Type": "application/json"},
                                 b'{"error":{"code":"serviceNotAvailable","message":"cut"}}')
                    return
                skip = {"host", "content-length", "connection", "accept-encoding"}
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                with proxy._count:
                    proxy.forwarding += 1
                try:
                    resp = upstream.request(self.command, self.path, content=body,
                                            headers=headers)
                finally:
                    with proxy._count:
                        proxy.forwarding -= 1
                hop = {"content-length", "transfer-encoding", "connection", "content-encoding"}
                kept = {k: v for k, v in resp.headers.items() if k.lower() not in hop}
                self._answer(resp.status_code, kept, resp.content)

            def _answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
                self.send_response_only(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._upstream = upstream
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1.0"

    def cut(self) -> None:
        self._open.clear()

    def drain(self, within_s: float = 30.0) -> None:
        deadline = time.monotonic() + within_s
        while self.forwarding and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not self.forwarding, f"{self.forwarding} requests still in flight"

    def heal(self) -> None:
        self._open.set()

    def refuse(self, matching: Callable[[str], bool]) -> None:
        self._refused = matching

    def wait_held(self, n: int = 1, within_s: float = 30.0) -> None:
        deadline = time.monotonic() + within_s
        while self.held < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.held >= n, f"no request reached the cut link within {within_s}s"

    def close(self) -> None:
        self.heal()
        self.server.shutdown()
        self.server.server_close()
        self._upstream.close()

    def __enter__(self) -> CutProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
