"""Kill an activation, rerun it at once: objects created seconds ago are still replicating.

On the `realistic` profile a read by id of an object younger than `replication_lag_s` answers
404 three times in ten (a lagging replica). The immediate rerun observes the tenant before it
plans, so it reads the accounts, passes, phones and group the killed run just created: it must
re-read them until they appear (they are in its journal) and converge in ONE run. On the
`hostile` profile too (half the young reads 404, 5xx before and after commits, dropped
connections, throttling): the rerun absorbs them all.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from convergence import assert_converged
from faultkit import (
    COMMUNE,
    SAMPLE_INVENTORY,
    SimServer,
    child_env,
    run_cli,
    start_cli,
    writes,
)
from faultruns import Activation

SIM_SCALE = 0.5  # replication lag 7.5 s, mailboxes 2.5 s, sites 1.5 s, team operations 1 s
WAIT_SCALE = 0.01  # the engine's documented waits: the young-group wait (15 min) is 9 s


@pytest.mark.slow
@pytest.mark.parametrize(("profile", "fraction"), [("realistic", 0.35), ("hostile", 0.5)])
def test_kill_then_immediate_rerun_converges_in_one_run(
    tmp_path: Path, reference: Activation, profile: str, fraction: float
) -> None:
    sim = SimServer(tmp_path / "sim", SAMPLE_INVENTORY, profile=profile, scale=SIM_SCALE, seed=11)
    try:
        assert sim.profile()["replication_404_rate"] > 0
        home = tmp_path / "home"
        env = child_env(home, SAMPLE_INVENTORY, sim.base_url)
        env["CRISISKIT_WAIT_SCALE"] = str(WAIT_SCALE)
        target = max(5, int(len(writes(reference.requests)) * fraction))
        run = start_cli(["activate", COMMUNE, "--yes"], env, tmp_path, "killed")
        deadline = time.monotonic() + 90
        while run.proc.poll() is None and time.monotonic() < deadline:
            if len(writes(sim.requests())) >= target:
                break
            time.sleep(0.01)
        assert run.proc.poll() is None, f"the run ended before the kill:\n{run.wait()}"
        run.kill()
        # At once: the objects just created are still young (reads by id may 404).
        rerun = run_cli(["activate", COMMUNE, "--yes"], env, timeout=180)
        assert rerun.returncode == 0, f"the immediate rerun did not converge:\n{rerun}"
        sim.settle()
        assert_converged(sim.state(), home, reference.snapshot, reference.loans,
                         f"{profile}, killed after {target} writes")
    finally:
        sim.close()
