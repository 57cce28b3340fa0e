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
from http.server import BaseHTTPRequestHandler

from loopback import LoopbackProxy

HOLD_LIMIT_S = 120.0


class CutProxy(LoopbackProxy):
    def __init__(self, upstream_root: str) -> None:
        self._open = threading.Event()
        self._open.set()
        self._refused: Callable[[str], bool] = lambda path: False
        self.held = 0
        self.forwarding = 0  # requests sent upstream and not answered yet
        self._count = threading.Lock()
        super().__init__(upstream_root)

    def exchange(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        if not self._open.is_set():
            self.held += 1
            self._open.wait(HOLD_LIMIT_S)
        if self._refused(handler.path):
            self.answer(handler, 503, {"Content-Type": "application/json"},
                        b'{"error":{"code":"serviceNotAvailable","message":"cut"}}')
            return
        with self._count:
            self.forwarding += 1
        try:
            resp = self.forward(handler, body)
        finally:
            with self._count:
                self.forwarding -= 1
        self.reply(handler, resp)

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
        super().close()
