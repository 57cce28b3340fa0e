"""Measure the Graph door's per-request overhead and $batch fan-out on the simulator.

Run by hand (not a test): `/work/venv/bin/python tests/graph/graph_overhead.py`.
Prints per-request wall/CPU time through the Graph door versus raw httpx (simulator in the
same process, so both include its CPU), and $batch vs single requests at 50 ms latency.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from crisiskit.graph import BatchItem, open_graph
from crisiskit.inventory import load_inventory
from crisiskit.sim.server import EmbeddedSimulator

N = 300
PATH = "/subscribedSkus"
AUTH = {"Authorization": "Bearer bench"}


async def sequential(base_url: str) -> None:
    graph = open_graph(None, base_url=base_url, token="bench")
    try:
        await graph.request("GET", PATH)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(N):
            await graph.request("GET", PATH)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"graph door : {wall / N * 1000:.2f} ms/request wall, {cpu / N * 1000:.2f} ms CPU")
    finally:
        await graph.aclose()
    async with httpx.AsyncClient() as client:
        await client.get(base_url + PATH, headers=AUTH)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(N):
            await client.get(base_url + PATH, headers=AUTH)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"raw httpx  : {wall / N * 1000:.2f} ms/request wall, {cpu / N * 1000:.2f} ms CPU")


async def fan_out(base_url: str) -> None:
    graph = open_graph(None, base_url=base_url, token="bench")
    try:
        items = [BatchItem(str(i), "GET", PATH) for i in range(160)]
        wall = time.perf_counter()
        await graph.batch(items)
        print(
            f"160 GETs in $batch at 50 ms: {time.perf_counter() - wall:.3f} s "
            f"({graph.stats.batches} calls, 8 in flight)"
        )
        wall = time.perf_counter()
        await asyncio.gather(*(graph.request("GET", PATH) for _ in range(80)))
        print(f"80 single GETs at 50 ms, 8 in flight: {time.perf_counter() - wall:.3f} s")
    finally:
        await graph.aclose()


def main() -> None:
    inventory = load_inventory(Path(__file__).resolve().parents[2] / "inventory.yaml")
    with EmbeddedSimulator(inventory) as sim:
        asyncio.run(sequential(sim.base_url))
        sim.set_profile(latency_ms=50)
        asyncio.run(fan_out(sim.base_url))


if __name__ == "__main__":
    main()
