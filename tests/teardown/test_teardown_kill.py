"""SIGKILL `crisiskit teardown` mid-freeze, then its rerun mid-export (inside a download), then
that one's rerun mid-deletion; rerun once more and check it converges: exactly the kit gone,
one export folder that verifies, the attestation written, nothing else touched."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))
from faultkit import (  # noqa: E402
    SAMPLE_INVENTORY,
    SimServer,
    child_env,
    run_cli,
    start_cli,
    writes,
)
from world import BIG, COMMUNE, NICK, TAG  # noqa: E402

LATENCY_MS = 30
POLL_S = 0.01


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    sim = SimServer(tmp_path_factory.mktemp("sim"), SAMPLE_INVENTORY)
    try:
        yield sim
    finally:
        sim.close()


def _kit(server: SimServer, home: Path) -> dict[str, str]:
    env = child_env(home, SAMPLE_INVENTORY, server.base_url)
    env["CRISISKIT_WAIT_SCALE"] = "0.01"
    act = run_cli(["activate", COMMUNE, "--yes"], env)
    assert act.returncode == 0, str(act)
    state = server.state()
    owner = next(u["userPrincipalName"] for u in state["users"] if u.get(TAG) == COMMUNE)
    server.seed({
        "files": [{"group": NICK, "path": "Forensic/image.bin", "size": BIG, "seed": 3}],
        "messages": [{"user": owner, "folder": "inbox/Suivi", "subject": f"m{i}",
                      "from": "x@y.fr", "body": "b"} for i in range(30)],
    })
    # Slow enough for a kill to land inside the run, and inside the large download.
    server.set_profile(latency_ms=LATENCY_MS, download_bandwidth_mbps=12.0)
    return env


def _after_writes(n: int) -> Callable[[SimServer, list[dict[str, Any]]], bool]:
    return lambda server, log: len(writes(log)) >= n


def _in_export(server: SimServer, log: list[dict[str, Any]]) -> bool:
    # The large file downloads for about 3.5 s once the listings have reached its folder.
    return any("/items/" in r["path"] and r["path"].endswith("/children") for r in log)


def _in_deletion(server: SimServer, log: list[dict[str, Any]]) -> bool:
    return any(r["method"] == "DELETE" and re.fullmatch(r"/(users|groups)/[^/]+", r["path"])
               for r in log)


def _kill_when(
    server: SimServer, env: dict[str, str], tmp_path: Path, name: str,
    when: Callable[..., bool], delay_s: float,
) -> None:
    """Start a teardown, SIGKILL it once `when` holds (plus `delay_s`); it must not be done."""
    mark = len(server.requests())
    run = start_cli(["teardown", COMMUNE, "--yes"], env, tmp_path, name)
    deadline = time.monotonic() + 90
    while run.proc.poll() is None and time.monotonic() < deadline:
        if when(server, server.requests()[mark:]):
            break
        time.sleep(POLL_S)
    time.sleep(delay_s)
    finished = run.proc.poll() is not None
    rc = run.kill()
    assert not finished and rc == -9, f"the kill {name} did not land mid-run:\n{run.result(rc)}"
    server.settle()


@pytest.mark.slow
def test_kill_and_rerun_converges(server: SimServer, tmp_path: Path) -> None:
    # One kit, killed three times in a row at three points (each rerun resumes the previous
    # one and is itself killed further on), then a last rerun that must finish.
    server.reset()
    home = tmp_path / "home"
    env = _kit(server, home)
    before = server.state()
    kit = {u["id"] for u in before["users"] if u.get(TAG) == COMMUNE}
    kit |= {g["id"] for g in before["groups"] if g["mailNickname"] == NICK}
    outside = {o["id"]: o for o in [*before["users"], *before["groups"]] if o["id"] not in kit}
    _kill_when(server, env, tmp_path, "mid-freeze", _after_writes(5), 0.0)
    _kill_when(server, env, tmp_path, "mid-download", _in_export, 0.8)
    _kill_when(server, env, tmp_path, "mid-deletion", _in_deletion, 0.05)
    rerun = run_cli(["teardown", COMMUNE, "--yes"], env, timeout=180)
    assert rerun.returncode == 0, str(rerun)
    assert re.search(r"Resumed after interrupted run #\d+", rerun.stdout), str(rerun)
    after = server.state()
    assert not [u for u in after["users"] if u["id"] in kit]
    assert not [g for g in after["groups"] if g["id"] in kit]
    now = {o["id"]: o for o in [*after["users"], *after["groups"]]}
    assert {i: now.get(i) for i in outside} == outside, "an object outside the kit changed"
    folders = list((home / "exports").iterdir())
    assert len(folders) == 1, f"the reruns did not resume the export in place: {folders}"
    check = run_cli(["export", "verify", str(folders[0])], env)
    assert check.returncode == 0, str(check)
    assert (home / "outputs" / COMMUNE / "attestation-fin-de-service.pdf").exists()
    assert run_cli(["audit", "verify"], env).returncode == 0
    # And a second rerun has nothing left to do.
    mark = len(server.requests())
    again = run_cli(["teardown", COMMUNE, "--yes"], env)
    assert again.returncode == 0 and not writes(server.requests()[mark:]), str(again)
