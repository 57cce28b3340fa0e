"""Measure the Graph simulator's throughput over loopback with a real HTTP client.

Starts `crisiskit -i inventory.yaml sim serve --port 0 --profile instant` in a subprocess
pinned to one core (`taskset -c 0` when available; the clients run on the other cores), then
times GET
`/users/{id}` and POST `/users`, sequentially and with 16 concurrent clients (one keep-alive
connection each; once with httpx, once with a minimal keep-alive HTTP/1.1 client on asyncio
streams, since httpx needs more CPU per request than the server does). Prints requests/s and the
server's CPU time per request (from /proc), i.e. its capacity on one saturated core.
Run: `python bench/sim_throughput.py [--seconds 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

import httpx

HEADERS = {"Authorization": "Bearer bench"}
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INVENTORY = os.path.join(REPO, "inventory.yaml")
DOMAIN = "crise.ampmetropole.fr"  # the sample inventory's verified domain
_counter = itertools.count()


def user_body() -> dict[str, Any]:
    n = f"{os.getpid()}x{next(_counter)}"
    return {
        "accountEnabled": True,
        "displayName": f"Bench {n}",
        "mailNickname": f"bench{n}",
        "userPrincipalName": f"bench{n}@{DOMAIN}",
        "passwordProfile": {"password": "Xy!23456789abc"},
    }


def start_server(extra: list[str]) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "crisiskit", "-i", INVENTORY, "sim", "serve", "--port", "0"]
    cmd += extra
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        cmd = ["taskset", "-c", "0", *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        raise SystemExit(f"the simulator did not start (first line {url!r})")
    return proc, url


def cpu_seconds(pid: int) -> float:
    """Return the user+system CPU time a process has used (Linux /proc), else 0."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pin_client() -> None:
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if len(cores) > 1:
        os.sched_setaffinity(0, cores - {0})


def sequential(url: str, method: str, seconds: float, user_id: str) -> float:
    with httpx.Client(base_url=url + "/", headers=HEADERS) as client:
        done, deadline, start = 0, time.perf_counter() + seconds, time.perf_counter()
        while time.perf_counter() < deadline:
            if method == "GET":
                resp = client.get(f"users/{user_id}")
            else:
                resp = client.post("users", json=user_body())
            assert resp.status_code in (200, 201), resp.text
            done += 1
        return done / (time.perf_counter() - start)


async def concurrent(url: str, method: str, seconds: float, user_id: str, workers: int) -> float:
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    async with httpx.AsyncClient(base_url=url + "/", headers=HEADERS, limits=limits) as client:
        deadline = time.perf_counter() + seconds
        counts = [0] * workers

        async def worker(i: int) -> None:
            while time.perf_counter() < deadline:
                if method == "GET":
                    resp = await client.get(f"users/{user_id}")
                else:
                    resp = await client.post("users", json=user_body())
                assert resp.status_code in (200, 201), resp.text
                counts[i] += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(workers)))
        return sum(counts) / (time.perf_counter() - start)


async def raw_concurrent(
    url: str, method: str, seconds: float, user_id: str, workers: int
) -> float:
    """Drive the server with minimal keep-alive HTTP/1.1 clients on asyncio streams.

    httpx spends several times the server's CPU per request; this client spends a fraction of
    it, so it shows what the server sustains when the client is not the bottleneck.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    deadline = time.perf_counter() + seconds
    counts = [0] * workers

    def request() -> bytes:
        if method == "GET":
            return (
                f"GET {parts.path}/users/{user_id} HTTP/1.1\r\nHost: {host}\r\n"
                "Authorization: Bearer bench\r\n\r\n"
            ).encode()
        payload = json.dumps(user_body()).encode()
        head = (
            f"POST {parts.path}/users HTTP/1.1\r\nHost: {host}\r\n"
            "Authorization: Bearer bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        )
        return head.encode() + payload

    async def worker(i: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                writer.write(request())
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                assert status in (200, 201), head
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                counts[i] += 1
        finally:
            writer.close()
            await writer.wait_closed()

    start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(workers)))
    return sum(counts) / (time.perf_counter() - start)


def _concurrent_proc(args: tuple[str, str, float, str, int, str]) -> tuple[int, float, float]:
    url, method, seconds, user_id, workers, client = args
    start = time.perf_counter()
    drive = raw_concurrent if client == "raw" else concurrent
    rate = asyncio.run(drive(url, method, seconds, user_id, workers))
    end = time.perf_counter()
    return round(rate * (end - start)), start, end


def concurrent_procs(
    url: str, method: str, seconds: float, user_id: str, workers: int, procs: int, client: str
) -> tuple[float, float]:
    """Spread `workers` connections over `procs` client processes (the client is slower).

    Return (requests/s over the span when clients ran, total requests); process start-up is
    not counted (perf_counter is the system-wide monotonic clock, comparable across forks).
    """
    import multiprocessing

    share = [workers // procs + (1 if i < workers % procs else 0) for i in range(procs)]
    with multiprocessing.get_context("fork").Pool(procs) as pool:
        jobs = [(url, method, seconds, user_id, n, client) for n in share]
        runs = pool.map(_concurrent_proc, jobs)
    total = sum(r[0] for r in runs)
    span = max(r[2] for r in runs) - min(r[1] for r in runs)
    return total / span, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each run")
    parser.add_argument("--workers", type=int, default=16, help="concurrent clients")
    parser.add_argument("--state", action="store_true", help="persist to a state file (fsync)")
    parser.add_argument(
        "--client-procs", type=int, default=4, help="client processes sharing the connections"
    )
    parser.add_argument(
        "--client",
        choices=("httpx", "raw", "both"),
        default="both",
        help="concurrent load from httpx, from a minimal keep-alive HTTP/1.1 client, or both",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        extra = ["--profile", "instant"]
        if args.state:
            extra += ["--state", os.path.join(tmp, "state.json")]
        proc, url = start_server(extra)
        try:
            pin_client()
            first = httpx.get(f"{url}/users?$top=1", headers=HEADERS).json()["value"][0]
            user_id = first["id"]
            print(f"simulator {url} (pinned to core 0: {bool(shutil.which('taskset'))})")
            pid = proc.pid
            for method in ("GET", "POST"):
                labels = ["sequential"]
                clients = ["httpx", "raw"] if args.client == "both" else [args.client]
                labels += [f"{args.workers} conc. {c}" for c in clients]
                for label in labels:
                    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
                    if label == "sequential":
                        rate = sequential(url, method, args.seconds, user_id)
                        requests = rate * (time.perf_counter() - t0)
                    else:
                        rate, requests = concurrent_procs(
                            url,
                            method,
                            args.seconds,
                            user_id,
                            args.workers,
                            args.client_procs,
                            label.rsplit(" ", 1)[1],
                        )
                    cpu = cpu_seconds(pid) - cpu0
                    capacity = requests / cpu if cpu else float("nan")
                    print(
                        f"{method:4} {label:17} {rate:7.0f} req/s   server CPU "
                        f"{1000 * cpu / max(requests, 1):.3f} ms/request "
                        f"(= {capacity:5.0f} req/s on one saturated core)"
                    )
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
