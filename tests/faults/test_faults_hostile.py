"""The `hostile` profile end to end: throttling, faults and delays, scaled down to stay fast."""

from __future__ import annotations

from pathlib import Path

import pytest
from convergence import assert_converged
from faultkit import (
    COMMUNE,
    SAMPLE_INVENTORY,
    SimServer,
    child_env,
    retry_after_violations,
    run_cli,
)
from faultruns import Activation

MAX_RUNS = 4
SCALE = 0.01  # the realistic delays (minutes of the real service) become tens of milliseconds


@pytest.mark.slow
def test_hostile_profile_converges_and_honours_retry_after(
    tmp_path: Path, reference: Activation
) -> None:
    sim = SimServer(tmp_path / "sim", SAMPLE_INVENTORY, profile="hostile", scale=SCALE, seed=3)
    try:
        profile = sim.profile()
        assert profile["throttle_rate"] >= 1, profile
        assert profile["transient_5xx_rate"] > 0 and profile["commit_then_5xx_rate"] > 0
        home = tmp_path / "home"
        # The engine's documented waits (team retries 10 s apart...) shrink like the service's.
        env = child_env(home, SAMPLE_INVENTORY, sim.base_url)
        env["CRISISKIT_WAIT_SCALE"] = str(SCALE)
        runs = []
        for _ in range(MAX_RUNS):
            res = run_cli(["activate", COMMUNE, "--yes"], env, timeout=150)
            runs.append(res)
            assert res.returncode in (0, 1), str(res)
            if res.returncode == 0:
                break
        assert runs[-1].returncode == 0, f"no convergence in {MAX_RUNS} runs:\n{runs[-1]}"
        log = sim.requests()
        assert_converged(sim.state(), home, reference.snapshot, reference.loans, "hostile")

        throttled = [e for e in log if e["status"] == 429]
        assert throttled, "hostile profile never throttled: the Retry-After check proves nothing"
        # Retry-After is the time to the next token, in fractions of a second as Graph sends
        # it; the simulator logs each value it sent.
        assert all("retryAfter" in e for e in throttled)
        violations = retry_after_violations(log, profile["latency_ms"] / 1000, 1.0)
        assert not violations, f"{len(violations)} requests ignored Retry-After:\n" + "\n".join(
            violations[:20]
        )
        # Backing off means the throttling stays a small share of the traffic.
        assert len(throttled) <= 0.5 * len(log), f"{len(throttled)} of {len(log)} throttled"
    finally:
        sim.close()
