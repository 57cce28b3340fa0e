"""The `hostile` profile end to end: throttling, faults and delays, scaled down to stay fast."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from convergence import assert_converged
from faultkit import COMMUNE, SAMPLE_INVENTORY, SimServer, child_env, run_cli
from faultruns import Activation

MAX_RUNS = 4
SCALE = 0.01  # the realistic delays (minutes of the real service) become tens of milliseconds
TOLERANCE_S = 0.05


def arrival(entry: dict[str, Any], latency_s: float) -> float:
    """Return when a logged request reached the simulator.

    The simulator logs a request when it answers it: at once for a refusal before any effect
    (429, transient 5xx), after the latency otherwise; a `$batch` sub-request is answered when
    its carrier, which waited the latency, is processed.
    """
    t = float(entry["time"])
    refused = entry.get("via") != "$batch" and (
        entry["status"] == 429 or (entry["status"] in (503, 504) and not entry.get("committed"))
    )
    return t if refused else t - latency_s


def retry_after_violations(
    log: list[dict[str, Any]], latency_s: float, retry_after_s: float
) -> list[str]:
    """List the requests sent while the client had been told to wait (Retry-After).

    The client learns of a 429 when its answer arrives, which is when the simulator logs it.
    Any request that reaches the simulator after that moment and before Retry-After has
    elapsed was sent too early (requests already in flight arrive before the moment).
    """
    out = []
    told = [float(e["time"]) for e in log if e["status"] == 429]
    for t429 in told:
        for e in log:
            if e.get("via") != "$batch" and str(e["path"]).rstrip("/").endswith("$batch"):
                at = float(e["time"]) - latency_s  # the carrier itself
            else:
                at = arrival(e, latency_s)
            if t429 + TOLERANCE_S < at < t429 + retry_after_s - TOLERANCE_S:
                out.append(
                    f"{e['method']} {e['path']} sent {at - t429:.3f}s after a 429 "
                    f"(Retry-After {retry_after_s:.0f}s)"
                )
    return out


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
        env = child_env(home, SAMPLE_INVENTORY, sim.base_url)
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
        # Retry-After is ceil(time to the next token) >= 1 s; at >= 1 request/s it is 1 s.
        violations = retry_after_violations(log, profile["latency_ms"] / 1000, 1.0)
        assert not violations, f"{len(violations)} requests ignored Retry-After:\n" + "\n".join(
            violations[:20]
        )
        # Backing off means the throttling stays a small share of the traffic.
        assert len(throttled) <= 0.5 * len(log), f"{len(throttled)} of {len(log)} throttled"
    finally:
        sim.close()
