"""A run killed between the Team's create and its tag: the rerun adopts the group, or shows
what stands in the way; never a second Team (the real CLI, SIGKILL, a separate simulator)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from convergence import assert_converged
from faultkit import (
    COMMUNE,
    SAMPLE_INVENTORY,
    SimServer,
    child_env,
    db_rows,
    run_cli,
    start_cli,
    tag_of,
)
from faultruns import Activation

TEAM_NAME = "Cellule de crise – Aubagne"
POLL_S = 0.02


def _named(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [g for g in state["groups"] if g.get("displayName") == TEAM_NAME]


def _arm(sim: SimServer, *rules: dict[str, Any]) -> None:
    r = sim.http.put("/_sim/faults", json={"rules": list(rules)})
    assert r.status_code == 200, r.text


def _kill_when(sim: SimServer, run: Any, seen: Any) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and run.proc.poll() is None:
        if seen(sim.requests()):
            break
        time.sleep(POLL_S)
    assert run.proc.poll() is None, f"the run ended before the window:\n{run.wait()}"
    run.kill()
    sim.settle()


def _team_posts(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in log if e["method"] == "POST" and e["path"].rstrip("/") == "/teams"]


@pytest.mark.slow
def test_killed_between_create_and_tag_the_rerun_adopts_the_journaled_group(
    tmp_path: Path, reference: Activation
) -> None:
    sim = SimServer(tmp_path / "sim", SAMPLE_INVENTORY)
    try:
        home = tmp_path / "home"
        env = child_env(home, SAMPLE_INVENTORY, sim.base_url)
        # The tag's PATCH is refused for a minute (Retry-After: 60) until the run is killed.
        _arm(sim, {"method": "PATCH", "path": "^/groups/", "fault": "unavailable",
                   "count": 100, "retryAfter": 60})
        run = start_cli(["activate", COMMUNE, "--yes"], env, tmp_path, "killed")
        _kill_when(sim, run, lambda log: any(
            e["method"] == "PATCH" and e["status"] == 503 for e in log))
        (group,) = _named(sim.state())
        assert tag_of(group) is None and group["mailNickname"] != f"crisiskit-{COMMUNE}"
        journaled = {r["graph_id"] for r in db_rows(home, "SELECT graph_id FROM objects")}
        assert group["id"] in journaled, "the Team's group was created but not journaled"

        _arm(sim)  # the service is well again
        plan = json.loads(run_cli(["--output", "json", "plan", COMMUNE], env).stdout)
        (step,) = [s for s in plan["steps"] if s["kind"] == "group"]
        assert step["action"] == "update" and "journaled" in step["detail"]
        mark = len(sim.requests())
        again = run_cli(["activate", COMMUNE, "--yes"], env)
        assert again.returncode == 0, str(again)
        assert _team_posts(sim.requests()[mark:]) == []  # adopted, not created again
        (group,) = _named(sim.state())
        assert tag_of(group) == COMMUNE and group["mailNickname"] == f"crisiskit-{COMMUNE}"
        assert_converged(sim.state(), home, reference.snapshot, reference.loans, "tag killed")
    finally:
        sim.close()


@pytest.mark.slow
def test_killed_before_the_create_was_answered_the_group_is_proven_ours_and_adopted(
    tmp_path: Path, reference: Activation
) -> None:
    sim = SimServer(tmp_path / "sim", SAMPLE_INVENTORY)
    try:
        home = tmp_path / "home"
        env = child_env(home, SAMPLE_INVENTORY, sim.base_url)
        # The create is applied and its answer lost; the lookup that follows is refused for
        # a minute: the run is killed knowing only that it sent the create.
        _arm(sim, {"method": "POST", "path": "^/teams$", "fault": "drop"},
             {"method": "GET", "path": "^/groups\\?.*filter=displayName", "fault": "unavailable",
              "count": 100, "retryAfter": 60})
        run = start_cli(["activate", COMMUNE, "--yes"], env, tmp_path, "killed")
        _kill_when(sim, run, lambda log: any(
            e["method"] == "GET" and e["status"] == 503 for e in log))
        (ours,) = _named(sim.state())
        assert tag_of(ours) is None
        assert not db_rows(home, "SELECT graph_id FROM objects WHERE kind = 'group'")
        sent = db_rows(home, "SELECT status FROM steps WHERE kind = 'group'")
        assert [r["status"] for r in sent] == ["sent"]
        _arm(sim)

        # Someone else made a group of the same name meanwhile: it is theirs (owned by
        # others), left alone; ours is the one owned by the kit's accounts, created since.
        stranger = next(u for u in sim.state()["users"] if tag_of(u) is None)
        sim.seed({"groups": [{"displayName": TEAM_NAME, "mailNickname": "autre-cellule",
                              "owners": [stranger["id"]]}]})
        plan = json.loads(run_cli(["--output", "json", "plan", COMMUNE], env).stdout)
        (step,) = [s for s in plan["steps"] if s["kind"] == "group"]
        assert step["action"] == "update" and "never read the answer" in step["detail"]
        mark = len(sim.requests())
        again = run_cli(["activate", COMMUNE, "--yes"], env)
        assert again.returncode == 0, str(again)
        assert _team_posts(sim.requests()[mark:]) == []
        other = next(g for g in _named(sim.state()) if g["mailNickname"] == "autre-cellule")
        assert tag_of(other) is None  # untouched
        (group,) = [g for g in _named(sim.state()) if g["id"] == ours["id"]]
        assert tag_of(group) == COMMUNE and group["mailNickname"] == f"crisiskit-{COMMUNE}"
        assert_converged(sim.state(), home, reference.snapshot, reference.loans, "POST killed")
    finally:
        sim.close()
