"""The simulator's download bandwidth knob: one link shared by every download, set at runtime."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import pytest
from simhelp import licensed_user

from crisiskit.sim.blobs import pattern_bytes
from crisiskit.sim.server import EmbeddedSimulator

SIZE = 400_000


def _urls(es: EmbeddedSimulator, http: httpx.Client, count: int) -> list[str]:
    user = licensed_user(es, http, "agent.bande")
    upn = user["userPrincipalName"]
    es.seed({"files": [{"user": upn, "path": f"f{i}.bin", "size": SIZE, "seed": i}
                       for i in range(count)]})
    items = http.get(f"users/{user['id']}/drive/root/children").json()["value"]
    return [i["@microsoft.graph.downloadUrl"] for i in sorted(items, key=lambda i: i["name"])]


def test_bandwidth_paces_downloads_and_is_shared_by_concurrent_ones(
    es: EmbeddedSimulator, http: httpx.Client
) -> None:
    urls = _urls(es, http, 2)
    assert es.set_profile(download_bandwidth_mbps=16.0)["download_bandwidth_mbps"] == 16.0
    rate = 16e6 / 8  # bytes per second
    start = time.monotonic()
    body = httpx.get(urls[0]).content
    alone = time.monotonic() - start
    assert body == pattern_bytes(0, SIZE)
    assert alone >= SIZE / rate * 0.95  # a lower bound: pacing never sends faster
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        bodies = list(pool.map(lambda u: httpx.get(u).content, urls))
    together = time.monotonic() - start
    assert bodies == [pattern_bytes(0, SIZE), pattern_bytes(1, SIZE)]
    assert together >= 2 * SIZE / rate * 0.95  # one link: two downloads share it


def test_no_bandwidth_means_unlimited_and_bad_values_are_refused(
    es: EmbeddedSimulator, http: httpx.Client
) -> None:
    urls = _urls(es, http, 1)
    assert es.set_profile()["download_bandwidth_mbps"] == 0.0
    assert httpx.get(urls[0]).content == pattern_bytes(0, SIZE)
    for bad in (-1, "fast", True):
        with pytest.raises(RuntimeError, match="download_bandwidth_mbps"):
            es.set_profile(download_bandwidth_mbps=bad)
