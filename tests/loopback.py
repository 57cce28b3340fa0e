"""A loopback HTTP proxy in front of the simulator: the network, the edge of the world.

    class MyProxy(LoopbackProxy):
        def exchange(self, handler, body):          what happens to each request
            self.reply(handler, self.forward(handler, body))

`forward` sends the request upstream and returns the answer; `reply` relays it; `answer`
sends one made here. The fault tests' proxies (faults/cutproxy.py, faults/faultkit.py's
RecordingProxy, engine/day2_gate.py) hold, cut, refuse or record around these.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

_SKIP = {"host", "content-length", "connection", "accept-encoding"}
_HOP = {"content-length", "transfer-encoding", "connection", "content-encoding"}


class LoopbackProxy:
    """Forward every request to `upstream_root` (`base_url` is the Graph URL to give crisiskit)."""

    def __init__(self, upstream_root: str) -> None:
        self._upstream = httpx.Client(base_url=upstream_root, timeout=60.0)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    proxy.exchange(self, self.rfile.read(length) if length else b"")
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client is gone (a killed run)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1.0"

    def exchange(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        """Handle one request (override): by default, forward it and relay the answer."""
        self.reply(handler, self.forward(handler, body))

    def forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> httpx.Response:
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _SKIP}
        return self._upstream.request(handler.command, handler.path, content=body,
                                      headers=headers)

    def reply(self, handler: BaseHTTPRequestHandler, resp: httpx.Response) -> None:
        kept = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP}
        self.answer(handler, resp.status_code, kept, resp.content)

    @staticmethod
    def answer(
        handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], data: bytes
    ) -> None:
        handler.send_response_only(status)
        for k, v in headers.items():
            handler.send_header(k, v)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._upstream.close()

    def __enter__(self) -> LoopbackProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
