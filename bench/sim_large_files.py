"""Does a tenant holding large files slow the simulator down? Baseline and loaded, one run.

Starts an embedded simulator with a state file (so every write saves the tenant), times a write
(`PATCH /users/{id}`) and a listing (`GET .../drive/root/children`) before and after seeding
`--files` generated files of `--mib` MiB each and uploading one more, then times a whole and a
ranged download on one keep-alive connection. The state file's size is printed: file bytes
must stay out of it. Run: `python bench/sim_large_files.py [--files 5] [--mib 20]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from crisiskit.sim.server import EmbeddedSimulator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "sim"))
from simhelp import licensed_user  # noqa: E402


def median_ms(fn: Callable[[], Any], n: int = 50) -> float:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5)
    parser.add_argument("--mib", type=int, default=20)
    args = parser.parse_args()
    size = args.mib * 2**20
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "tenant.json"
        with EmbeddedSimulator(state_file=state) as es, es.client() as http:
            user = licensed_user(es, http, "bench.files")
            base = f"users/{user['id']}"
            write = lambda: http.patch(base, json={"jobTitle": "x"})  # noqa: E731
            listing = lambda: http.get(f"{base}/drive/root/children")  # noqa: E731
            rows = [("baseline", median_ms(write), median_ms(listing))]
            es.seed({"files": [{"user": user["id"], "path": f"f{i}.bin", "size": size, "seed": i}
                               for i in range(args.files)]})
            http.put(f"{base}/drive/root:/upload.bin:/content", content=b"u" * size)
            loaded = f"{args.files + 1} x {args.mib} MiB"
            rows.append((loaded, median_ms(write), median_ms(listing)))
            url = http.get(f"{base}/drive/root:/f0.bin").json()["@microsoft.graph.downloadUrl"]
            with httpx.Client() as raw:
                raw.get(url, headers={"Range": "bytes=0-0"})  # connect, generate once
                start = time.perf_counter()
                whole = len(raw.get(url).content)
                whole_s = time.perf_counter() - start
                ranged = median_ms(lambda: raw.get(url, headers={"Range": "bytes=0-1048575"}), 20)
        print(f"{'tenant':<16} {'PATCH user ms':>14} {'GET children ms':>16}")
        for name, w, ls in rows:
            print(f"{name:<16} {w:>14.2f} {ls:>16.2f}")
        print(f"state file: {state.stat().st_size} bytes; download {whole / 2**20:.0f} MiB in "
              f"{whole_s * 1000:.0f} ms ({whole / whole_s / 2**20:.0f} MiB/s); "
              f"1 MiB range median {ranged:.1f} ms")


if __name__ == "__main__":
    main()
