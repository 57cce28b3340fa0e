"""Benchmark `crisiskit export` (teardown's export) against a naive sequential script.

Usage: python bench/teardown.py [--accounts 50] [--latency-ms 50] [--bandwidth-mbps 400]
                                [--onedrive-mb 2 20]

What it does, in one run:
1. writes a temporary inventory (the sample one, aubagne's roster replaced by N generated
   people: bench/activate.py's generator), starts `crisiskit sim serve` in its own process
   and activates the commune (profile instant: the activation is not measured);
2. seeds 20 messages per mailbox (every fifth with a 50 KB attachment), 100 files of 100 KB
   in the group's library (in 4 folders) and one file in each of 10 OneDrives;
3. sets the simulator's `latency_ms` and `download_bandwidth_mbps` (one link shared by every
   download), then runs `crisiskit export` as a subprocess (what an operator runs): wall
   time, MB/s, HTTP requests (from `/_sim/requests`, downloads from the export's own
   counters) and its peak RSS (`wait4`), once per OneDrive file size: RSS must stay flat;
4. the naive baseline in the same run: a sequential admin script (httpx, one request at a
   time, every folder and every page listed, each message's MIME and each file fetched in
   turn);
5. the bound: bytes / bandwidth + the dependency chain of listings × latency (scope: users
   then their passes; then the deepest chain: drive → root children → folder children →
   download), and the ratios against the targets (≥ 8× the naive baseline, within 2× of the
   bound). The export's time runs from its first Graph request to its exit; the process's
   start-up before it (interpreter, imports, setup, lock) is reported apart, and included in
   the comparison with the naive script. CPU seconds of the export and of the simulator (the
   same machine's cores) are reported too.

Profiling hooks (environment): BENCH_WRAP="py-spy record -f raw -o F --" runs the export under
a profiler; BENCH_SIM_SPY=F records the simulator with py-spy during the export;
BENCH_TIMELINE=F writes the simulator's request log (with times) and the export's start.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from activate import TOKEN, Sim, crisiskit_env, traffic, write_inventory

COMMUNE = "aubagne"
MESSAGES = 20
LIBRARY_FILES = 100
LIBRARY_SIZE = 100_000
ONEDRIVES = 10
ATTACHMENT = 50_000
# Round trips that must follow each other whatever the concurrency: the scope (users and
# groups, then the accounts' passes and the Team), then the drive, its root's children, a
# folder's children, and the first byte of a download.
CHAIN = 2 + 4
GRAPH_SLOTS = 8  # Graph requests in flight at most (the client's limiter, `Graph(max_concurrency)`)


def kit_users(sim: Sim) -> list[dict[str, Any]]:
    """Return the commune's accounts (tagged for it), by UPN."""
    return sorted(
        (u for u in sim.state()["users"]
         if any(k.startswith("extension_") and v == COMMUNE for k, v in u.items())),
        key=lambda u: str(u["userPrincipalName"]),
    )


def seed(sim: Sim, onedrive_mb: float) -> None:
    users = [u["userPrincipalName"] for u in kit_users(sim)]
    messages = []
    for n, upn in enumerate(users):
        for m in range(MESSAGES):
            msg: dict[str, Any] = {
                "user": upn, "folder": "inbox" if m % 3 else "inbox/Suivi",
                "subject": f"Message {m} de {n}", "from": "bench@exemple.fr",
                "body": "Corps du message " * 40,
            }
            if m % 5 == 0:
                msg["attachments"] = [{"name": f"pj-{m}.pdf", "size": ATTACHMENT,
                                       "seed": n * 100 + m}]
            messages.append(msg)
    files: list[dict[str, Any]] = [
        {"group": "crisiskit-aubagne", "path": f"Dossier {i % 4}/fichier-{i:03}.bin",
         "size": LIBRARY_SIZE, "seed": 1000 + i}
        for i in range(LIBRARY_FILES)
    ]
    files += [{"user": upn, "path": "Documents/gros-fichier.bin",
               "size": int(onedrive_mb * 1_000_000), "seed": 5000 + i}
              for i, upn in enumerate(users[:ONEDRIVES])]
    for start in range(0, len(messages), 200):
        sim.http.post("/_sim/seed", json={"messages": messages[start : start + 200]},
                      timeout=120).raise_for_status()
    sim.http.post("/_sim/seed", json={"files": files}, timeout=120).raise_for_status()


def cpu_s(pid: int) -> float:
    """Return the CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_export(env: dict[str, str], folder: Path, sim: Sim) -> dict[str, Any]:
    # BENCH_WRAP: a profiler's command line put before the export's (`py-spy record -o F --`)
    wrap = os.environ.get("BENCH_WRAP", "").split()
    sim_cpu = cpu_s(sim.proc.pid)
    spy = None
    if os.environ.get("BENCH_SIM_SPY"):  # py-spy's raw profile of the simulator, to that file
        spy = subprocess.Popen(["py-spy", "record", "-r", "200", "-f", "raw", "-o",
                                os.environ["BENCH_SIM_SPY"], "--pid", str(sim.proc.pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
    t0 = time.perf_counter()
    wall_t0 = time.time()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [*wrap, sys.executable, "-m", "crisiskit", "--output", "json", "export", COMMUNE,
             "--to", str(folder)], env=env, stdout=out, stderr=err,
        )  # fmt: skip
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        sim_cpu = cpu_s(sim.proc.pid) - sim_cpu
        if spy is not None:
            spy.send_signal(2)
            spy.wait()
        out.seek(0)
        err.seek(0)
        text, errors = out.read().decode(), err.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"crisiskit export failed:\n{errors[-3000:]}")
    # A profiler (BENCH_WRAP) may print its own lines: the report is the rest.
    report = json.loads("\n".join(t for t in text.splitlines() if not t.startswith("py-spy>")))
    return {"wall": wall, "rss_mb": ru.ru_maxrss / 1024, "report": report,
            "cpu_s": ru.ru_utime + ru.ru_stime, "sim_cpu_s": sim_cpu, "t0": wall_t0}


class Naive:
    """An admin script: one request at a time, every folder and page, each item in turn."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url + "/",
                                 headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)
        self.plain = httpx.Client(timeout=120)
        self.bytes = 0
        self.requests = 0

    def get(self, url: str) -> httpx.Response:
        self.requests += 1
        resp = self.http.get(url.removeprefix(str(self.http.base_url)))
        return resp

    def pages(self, url: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while url:
            resp = self.get(url)
            if resp.status_code != 200:
                return items
            body = resp.json()
            items += body.get("value", [])
            url = body.get("@odata.nextLink") or ""
        return items

    def folders(self, uid: str, url: str, out: Path) -> None:
        for f in self.pages(url):
            for m in self.pages(f"users/{uid}/mailFolders/{f['id']}/messages?$top=1000"):
                resp = self.get(f"users/{uid}/messages/{m['id']}/$value")
                self.bytes += len(resp.content)
                (out / f"{m['id'][-12:]}.eml").write_bytes(resp.content)
            self.folders(uid, f"users/{uid}/mailFolders/{f['id']}/childFolders", out)

    def drive(self, drive_url: str, out: Path) -> None:
        drive = self.get(drive_url)
        if drive.status_code != 200:
            return
        stack = [f"drives/{drive.json()['id']}/items/root/children"]
        while stack:
            for item in self.pages(stack.pop()):
                if "folder" in item:
                    stack.append(f"drives/{drive.json()['id']}/items/{item['id']}/children")
                else:
                    self.requests += 1
                    with self.plain.stream("GET", item["@microsoft.graph.downloadUrl"]) as r, \
                            (out / item["id"]).open("wb") as f:
                        for chunk in r.iter_bytes():
                            f.write(chunk)
                            self.bytes += len(chunk)

    def run(self, out: Path, users: list[dict[str, Any]]) -> float:
        t0 = time.perf_counter()
        group = self.pages("groups?$filter=mailNickname%20eq%20'crisiskit-aubagne'")[0]
        for u in users:
            self.folders(u["id"], f"users/{u['id']}/mailFolders", out)
            self.drive(f"users/{u['id']}/drive", out)
            for cal in self.pages(f"users/{u['id']}/calendars"):
                self.pages(f"users/{u['id']}/calendars/{cal['id']}/events")
            self.pages(f"users/{u['id']}/contacts")
        self.drive(f"groups/{group['id']}/drive", out)
        for thread in self.pages(f"groups/{group['id']}/threads"):
            self.pages(f"groups/{group['id']}/threads/{thread['id']}/posts")
        for ch in self.pages(f"teams/{group['id']}/channels"):
            for m in self.pages(f"teams/{group['id']}/channels/{ch['id']}/messages"):
                self.pages(f"teams/{group['id']}/channels/{ch['id']}/messages/{m['id']}/replies")
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--bandwidth-mbps", type=float, default=400.0)
    parser.add_argument("--onedrive-mb", type=float, nargs="+", default=[2.0, 20.0])
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inventory = write_inventory(work / "inv", args.accounts)
        for size in args.onedrive_mb:
            sim = Sim(work, inventory)
            try:
                home = work / f"home-{size}"
                env = crisiskit_env(home, inventory, sim.base_url)
                env["CRISISKIT_WAIT_SCALE"] = "0.01"
                subprocess.run([sys.executable, "-m", "crisiskit", "activate", COMMUNE, "--yes"],
                               env=env, check=True, capture_output=True, timeout=600)
                seed(sim, size)
                sim.http.put("/_sim/profile", json={
                    "latency_ms": args.latency_ms,
                    "download_bandwidth_mbps": args.bandwidth_mbps}).raise_for_status()
                sim.http.delete("/_sim/requests")
                got = run_export(env, work / f"export-{size}", sim)
                log = sim.requests()
                seen = traffic(log)
                if os.environ.get("BENCH_TIMELINE"):  # the request log, to see where time goes
                    Path(os.environ["BENCH_TIMELINE"]).write_text(
                        json.dumps({"start": got["t0"], "log": log}))
                report = got["report"]
                total = int(report["bytes"])
                # The export starts with its first Graph request: the simulator logs a request
                # once it has waited its latency, so that request left `latency` earlier. What
                # comes before it (interpreter, imports, setup, lock) is start-up.
                first_sent = min(float(e["time"]) for e in log) - args.latency_ms / 1000
                startup = first_sent - got["t0"]
                export_s = got["wall"] - startup
                bound = total / (args.bandwidth_mbps * 1e6 / 8) + CHAIN * args.latency_ms / 1000
                row = {"onedrive_mb": size, "files": report["files"], "mb": total / 1e6,
                       "wall_s": got["wall"], "startup_s": startup, "export_s": export_s,
                       "mb_per_s": total / 1e6 / export_s,
                       "graph_http": seen["http"], "batches": seen["batches"],
                       "sub_requests": seen["sub_requests"],
                       "downloads": report["stats"]["downloads"], "rss_mb": got["rss_mb"],
                       "cpu_s": got["cpu_s"], "sim_cpu_s": got["sim_cpu_s"],
                       "bound_s": bound,
                       # Not the target's bound, a fact beside it: each Graph HTTP request holds
                       # one of the client's GRAPH_SLOTS for at least a latency.
                       "slots_floor_s": -(-seen["http"] // GRAPH_SLOTS) * args.latency_ms / 1000}
                if not args.skip_naive and size == args.onedrive_mb[0]:
                    naive = Naive(sim.base_url)
                    (work / "naive").mkdir(exist_ok=True)
                    row["naive_s"] = naive.run(work / "naive", kit_users(sim))
                    row["naive_requests"] = naive.requests
                    row["naive_mb"] = naive.bytes / 1e6
                rows.append(row)
            finally:
                sim.close()
    for row in rows:
        print(json.dumps(row))
    first = rows[0]
    print(f"\nexport of {first['files']} files, {first['mb']:.1f} MB "
          f"({args.accounts} accounts, latency {args.latency_ms:.0f} ms, "
          f"bandwidth {args.bandwidth_mbps:.0f} Mbit/s):")
    for row in rows:
        print(f"  OneDrive files of {row['onedrive_mb']:g} MB: export {row['export_s']:.2f} s "
              f"(+ start-up {row['startup_s']:.2f} s = wall {row['wall_s']:.2f} s), "
              f"{row['mb_per_s']:.1f} MB/s, {row['graph_http']} Graph HTTP requests "
              f"({row['batches']} $batch, {row['sub_requests']} inside), "
              f"{row['downloads']} downloads, peak RSS {row['rss_mb']:.0f} MB, "
              f"CPU {row['cpu_s']:.2f} s (simulator {row['sim_cpu_s']:.2f} s), "
              f"bound {row['bound_s']:.2f} s -> {row['export_s'] / row['bound_s']:.2f}x the bound "
              f"(target <= 2x); {row['graph_http']} Graph requests, {GRAPH_SLOTS} in flight "
              f"at most, take >= {row['slots_floor_s']:.2f} s")
    if "naive_s" in first:
        print(f"  naive sequential script: {first['naive_s']:.2f} s, "
              f"{first['naive_requests']} requests -> crisiskit is "
              f"{first['naive_s'] / first['wall_s']:.1f}x faster, start-up included "
              f"(target >= 8x)")


if __name__ == "__main__":
    main()
