"""Benchmark time to operational: `crisiskit activate` on the simulator's `realistic` profile.

Usage: python bench/operational.py [--scale 1] [--skip-old] [--runs N]

The `realistic` profile maps one minute of the real service to one second (at scale 1): a
mailbox 5 s after its licence, a group's site 3 s after the group, a Teams operation 2 s, and
15 s before a new group reaches Teams (the young-group window of team-post.md).
`CRISISKIT_WAIT_SCALE` is set to match (1/60 at scale 1), so that crisiskit's documented
bounds and polling schedules shrink in the same proportion.

For each scenario, a fresh `crisiskit sim serve --profile realistic` and a fresh home; then
`crisiskit activate ... --yes` as a subprocess, timed from its start:

- credentials: until every commune's `credentials.csv` exists (polled every 10 ms);
- mailboxes / team / site: when the run journaled the last mailbox ready, the Team ready,
  the drive ready (`state.db`, the store's wall clock);
- kit: until the process exits (it must exit 0: the whole kit ready in one run).

Each figure is compared with its floor, the longest service delay it depends on (the profile's
delays: mailbox, site, Team operation, plus the young-group window on the old path) plus the
round trips (the profile's latency) without which that delay cannot start or be seen: a
mailbox's clock starts at its licence, so its floor is POST /users, assignLicense, the delay,
then one probe; a Team's is POST /teams, the operation, one poll; a site's is the group's
create, the delay, one read. The floor leaves out what is the client's own cost: starting
Python, reading the inventory, observing the tenant, writing the documents; the table shows
those apart: `start` (the first step journaled, from the process's start), `licensed` (the
last licence journaled) and `after` (from the last wait's end to the exit: the final
documents and the process's exit). Each
scenario is run with both Team paths: the Team made with its group (`POST /teams` from
scratch, the default) and today's team-from-group path (`--team-path group`, kept for this
comparison and for kits made before). Targets: kit ≤ 1.25 × floor, credentials ≤ 5 s (5 min
of service), 5 communes in one command ≤ 1.3 × one.

One run of a scenario varies by ±0.15 s on this 2-core machine (the start-up, and how many
times a young account's licence meets a lagging replica): with `--runs N` (odd) each scenario
is run N times, the table shows the median run by kit time and the range of kit/floor.

A second figure, NOT the target, is printed beside it: `kit−start / floor`, the kit counted
from the run's first journaled step instead of the process's start. Before its first write a
run must have started Python and the Graph SDK, validated the inventory, taken the commune's
lease and observed the tenant (nothing is written before those): that start-up is the client's
own fixed cost, paid whatever the service's delays, and this figure shows how close the rest of
the run comes to the service's chain. The target stays `kit / floor`.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from activate import GIVEN, ROLES, SURNAMES, Sim, _luhn  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIVE = ["aubagne", "aix-en-provence", "la-ciotat", "martigues", "cassis"]
TOKEN = "bench-token"


def write_inventory(directory: Path, *, accounts: int | None) -> Path:
    """The sample inventory, enough devices for everyone, aubagne's roster optionally grown."""
    data = yaml.safe_load((REPO / "inventory.yaml").read_text(encoding="utf-8"))
    if accounts is not None:
        commune = next(c for c in data["communes"] if c["id"] == "aubagne")
        commune["roster"] = [
            {
                "given_name": GIVEN[i % len(GIVEN)] + (str(i // 90) if i >= 90 else ""),
                "surname": SURNAMES[(i // len(GIVEN) + i) % len(SURNAMES)],
                "role": ROLES[i % len(ROLES)],
                "team_owner": i < 3,
                "laptop": True,
                "phone": i % 4 != 3,
            }
            for i in range(accounts)
        ]
    devices = data["devices"]
    lap0, ph0 = devices["laptops"][0], devices["phones"][0]
    for n in range(80):
        lap = copy.deepcopy(lap0)
        lap.update(asset_tag=f"OPS-PC-{n:04d}", serial=f"OPSSN{n:06d}", status="available")
        devices["laptops"].append(lap)
        ph = copy.deepcopy(ph0)
        body = f"36{n:012d}"
        ph.update(asset_tag=f"OPS-TEL-{n:04d}", imei=body + _luhn(body),
                  number=f"+33798{n:06d}", status="available")
        devices["phones"].append(ph)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "inventory.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (directory / "playbooks").mkdir(exist_ok=True)
    for f in (REPO / "playbooks").glob("*.yaml"):
        (directory / "playbooks" / f.name).write_text(f.read_text(encoding="utf-8"))
    return path


class RealisticSim(Sim):
    """`crisiskit sim serve --profile realistic --scale S` (the bench's Sim, another profile)."""

    def __init__(self, workdir: Path, inventory: Path, scale: float) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__(workdir, inventory)
        self.http.put("/_sim/profile", json={"profile": "realistic", "scale": scale})
        self.profile: dict[str, Any] = self.http.get("/_sim/profile").json()


@dataclass
class Run:
    scenario: str
    path: str
    exit_code: int
    credentials: float
    mailboxes: float
    team: float
    site: float
    kit: float
    start: float
    licensed: float
    accounts: int
    stderr: str
    spread: list[float] = field(default_factory=list)  # every run's kit time (--runs)
    failures: int = 0  # of those runs, how many did not exit 0


def _journal(home: Path, t0: float) -> dict[str, float]:
    """When the last mailbox, the Team and the drive were journaled ready (seconds from t0)."""
    con = sqlite3.connect(f"file:{home / 'state.db'}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT kind, status, at FROM steps").fetchall()
    finally:
        con.close()

    def last(kind: str, statuses: tuple[str, ...]) -> float:
        times = [datetime.fromisoformat(at).timestamp() - t0 for k, st, at in rows
                 if k == kind and st in statuses]
        return max(times) if times else float("nan")

    first = min((datetime.fromisoformat(at).timestamp() - t0 for _, _, at in rows),
                default=float("nan"))
    return {
        "start": first,
        "licensed": last("licence", ("done",)),
        "mailboxes": last("mailbox", ("ready",)),
        "team": last("team", ("ready", "done")),
        "site": last("drive", ("ready",)),
        "accounts": float(sum(1 for k, st, _ in rows if k == "user" and st == "done")),
    }


def activate(workdir: Path, inventory: Path, communes: list[str], path: str,
             scale: float) -> Run:
    """Run one activation against a fresh realistic simulator; return its timings."""
    sim = RealisticSim(workdir / "sim", inventory, scale)
    home = workdir / "home"
    env = {
        "PATH": "/usr/bin:/bin",
        "CRISISKIT_HOME": str(home),
        "CRISISKIT_INVENTORY": str(inventory),
        "CRISISKIT_GRAPH_URL": sim.base_url,
        "CRISISKIT_GRAPH_TOKEN": TOKEN,
        "CRISISKIT_WAIT_SCALE": repr(scale / 60.0),
        "NO_COLOR": "1",
        "COLUMNS": "200",
        "USER": "bench",
    }
    creds = [home / "outputs" / c / "credentials.csv" for c in communes]
    try:
        t0 = time.time()
        proc = subprocess.Popen(
            [sys.executable, "-m", "crisiskit", "activate", *communes, "--yes",
             "--team-path", path],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        got_creds = float("nan")
        while proc.poll() is None:
            if got_creds != got_creds and all(p.exists() for p in creds):
                got_creds = time.time() - t0
            time.sleep(0.01)
        kit = time.time() - t0
        stderr = proc.stderr.read() if proc.stderr else ""
        if got_creds != got_creds and all(p.exists() for p in creds):
            got_creds = kit
        j = _journal(home, t0)
        return Run(" ".join(communes), path, proc.returncode, got_creds, j["mailboxes"],
                   j["team"], j["site"], kit, j["start"], j["licensed"], int(j["accounts"]),
                   stderr)
    finally:
        sim.close()


def floors(profile: dict[str, Any], path: str) -> dict[str, float]:
    """The longest service delay each figure depends on, plus the round trips it cannot start
    or be seen without (seconds, at the profile's scale; see the module docstring)."""
    trip = profile["latency_ms"] / 1000.0
    young = profile["replication_lag_s"] if path == "group" else 0.0
    team = trip + profile["team_op_s"] + young + trip
    mailbox = trip + trip + profile["mailbox_delay_s"] + trip
    site = trip + profile["site_delay_s"] + trip
    return {"mailboxes": mailbox, "team": team, "site": site, "kit": max(mailbox, team, site)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--skip-old", action="store_true", help="only the default Team path")
    parser.add_argument("--runs", type=int, default=1,
                        help="runs per scenario: the table shows the median run (by kit time) "
                             "and the range of kit/floor")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="crisiskit-operational-"))
    paths = ["scratch"] if args.skip_old else ["scratch", "group"]
    try:
        small = write_inventory(work / "inv-sample", accounts=None)
        large = write_inventory(work / "inv-50", accounts=50)
        runs: list[tuple[Run, dict[str, float]]] = []
        profile: dict[str, Any] = {}
        for path in paths:
            for label, inventory, communes in (
                ("aubagne", small, ["aubagne"]),
                ("50 accounts", large, ["aubagne"]),
                ("5 communes", small, FIVE),
            ):
                tries = []
                for k in range(args.runs):
                    run = activate(work / f"run-{len(runs)}-{k}", inventory, communes, path,
                                   args.scale)
                    run.scenario = label
                    tries.append(run)
                # The median run by kit time (an exit 1 counts as the slowest).
                tries.sort(key=lambda r: (r.exit_code != 0, r.kit))
                run = tries[len(tries) // 2]
                run.spread = [r.kit for r in tries]
                run.failures = sum(r.exit_code != 0 for r in tries)
                if not profile:
                    probe = RealisticSim(work / "probe", small, args.scale)
                    profile = probe.profile
                    probe.close()
                runs.append((run, floors(profile, path)))
                print(f"  {label:12} {path:8} exit {run.exit_code}  kit {run.kit:6.2f} s",
                      flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"realistic profile, scale {args.scale}: mailbox {profile['mailbox_delay_s']:g} s, "
          f"site {profile['site_delay_s']:g} s, Team operation {profile['team_op_s']:g} s, "
          f"young group {profile['replication_lag_s']:g} s; "
          f"CRISISKIT_WAIT_SCALE={args.scale / 60:.6f}")
    head = ("scenario", "team path", "accounts", "exit", "start s", "licensed s", "credentials s",
            "mailboxes s (floor)", "team s (floor)", "site s (floor)", "after s", "kit s (floor)",
            "kit/floor", "kit/floor range", "kit−start / floor (not the target)")
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    for run, floor in runs:
        print(" | ".join([
            run.scenario,
            "from scratch" if run.path == "scratch" else "from group (old)",
            str(run.accounts),
            str(run.exit_code) + (f" ({run.failures} of {len(run.spread)} not 0)"
                                  if run.failures else ""),
            f"{run.start:.2f}",
            f"{run.licensed:.2f}",
            f"{run.credentials:.2f}",
            f"{run.mailboxes:.2f} ({floor['mailboxes']:g})",
            f"{run.team:.2f} ({floor['team']:g})",
            f"{run.site:.2f} ({floor['site']:g})",
            f"{run.kit - max(run.mailboxes, run.team, run.site):.2f}",
            f"{run.kit:.2f} ({floor['kit']:g})",
            f"{run.kit / floor['kit']:.2f}",
            f"{min(run.spread) / floor['kit']:.2f}–{max(run.spread) / floor['kit']:.2f}"
            f" ({len(run.spread)} runs)",
            f"{(run.kit - run.start) / floor['kit']:.2f}",
        ]))
    one = {r.path: r for r, _ in runs if r.scenario == "aubagne"}
    five = {r.path: r for r, _ in runs if r.scenario == "5 communes"}
    for path in paths:
        print(f"5 communes / one ({path}): {five[path].kit / one[path].kit:.2f}")
    print(f"credentials ≤ 5 s: {all(r.credentials <= 5 * args.scale for r, _ in runs)}")
    for run, _ in runs:
        if run.exit_code != 0:
            print(f"--- {run.scenario} ({run.path}) exited {run.exit_code}:\n{run.stderr[-2000:]}")


if __name__ == "__main__":
    main()
