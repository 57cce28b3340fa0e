"""Kill a crisiskit process at an exact point of its conversation with Graph.

`Gate` is a loopback HTTP proxy in front of the simulator (the edge of the world: the
network). The first request whose body holds `marker` is either held back before it reaches
the simulator (`when="before"`: the process dies before that write) or forwarded and its
answer held back (`when="after"`: the write is done, the process never learns its outcome).
The test then SIGKILLs the process, which can no longer do anything in between.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Literal

from loopback import LoopbackProxy

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 90.0


class Gate(LoopbackProxy):
    """A proxy that stops the conversation at the first request carrying `marker`."""

    def __init__(self, upstream: str, marker: bytes, when: Literal["before", "after"]) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        self._marker, self._when = marker, when
        self._fired = threading.Lock()
        super().__init__(upstream.removesuffix("/v1.0"))

    def exchange(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        hold = (self._marker in body and not self.reached.is_set()
                and self._fired.acquire(False))
        if hold and self._when == "before":
            self._hold(handler)
            return
        resp = self.forward(handler, body)
        if hold:
            self._hold(handler)
            return
        self.reply(handler, resp)

    def _hold(self, handler: BaseHTTPRequestHandler) -> None:
        """Say the point is reached; keep the answer until released, then drop the link."""
        self.reached.set()
        self.release.wait(WAIT_S)
        handler.close_connection = True

    def close(self) -> None:
        self.release.set()
        super().close()


def killed_at_gate(
    args: list[str], env: dict[str, str], inventory: Path, gate: Gate, logdir: Path
) -> str:
    """Run `crisiskit -i inventory ARGS` in a child through the gate; SIGKILL it once the gate
    is reached; return what it printed. Fails if it ends before reaching the gate."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("CRISISKIT_")}
    child_env.update(env)
    child_env.update({"CRISISKIT_GRAPH_URL": gate.base_url, "PYTHONUNBUFFERED": "1",
                      "NO_COLOR": "1", "COLUMNS": "200"})
    out = logdir / "killed.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crisiskit", "-i", str(inventory), *args],
            env=child_env, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=REPO,
        )
        deadline = time.monotonic() + WAIT_S
        try:
            while not gate.reached.wait(0.05):
                assert time.monotonic() < deadline, f"gate never reached:\n{out.read_text()}"
                if proc.poll() is not None:
                    raise AssertionError(
                        f"exited {proc.returncode} before the gate:\n{out.read_text()}"
                    )
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(timeout=10) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    gate.release.set()
    return out.read_text(encoding="utf-8", errors="replace")
