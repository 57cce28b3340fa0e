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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import httpx

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 90.0


class Gate:
    """A proxy that stops the conversation at the first request carrying `marker`."""

    def __init__(self, upstream: str, marker: bytes, when: Literal["before", "after"]) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        root = upstream.removesuffix("/v1.0")
        client = httpx.Client(base_url=root, timeout=60.0)
        gate = self
        fired = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                hold = marker in body and not gate.reached.is_set() and fired.acquire(False)
                if hold and when == "before":
                    gate.reached.set()
                    gate.release.wait(WAIT_S)
                    self.close_connection = True
                    return
                skip = {"host", "content-length", "connection", "accept-encoding"}
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                resp = client.request(self.command, self.path, content=body, headers=headers)
                if hold:
                    gate.reached.set()
                    gate.release.wait(WAIT_S)
                    self.close_connection = True
                    return
                self.send_response(resp.status_code)
                hop = {"content-length", "transfer-encoding", "connection", "content-encoding"}
                for k, v in resp.headers.items():
                    if k.lower() not in hop:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(resp.content)))
                self.end_headers()
                self.wfile.write(resp.content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward  # noqa: N815

        self._client = client
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1.0"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self._client.close()

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
