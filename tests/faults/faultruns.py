"""A complete activation against a fresh simulator, captured for the fault tests to compare."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faultkit import (
    COMMUNE,
    SAMPLE_INVENTORY,
    CliResult,
    SimServer,
    child_env,
    duplicates,
    kit_snapshot,
    loans_snapshot,
    run_cli,
)


@dataclass
class Activation:
    """One uninterrupted `crisiskit activate aubagne --yes` and what it left behind."""

    sim: SimServer
    home: Path
    inventory: Path
    env: dict[str, str]
    before: dict[str, Any]
    after: dict[str, Any]
    requests: list[dict[str, Any]]
    result: CliResult
    snapshot: dict[str, Any]
    loans: list[tuple[str, str]]


def activate_fresh(
    workdir: Path,
    *,
    inventory: Path = SAMPLE_INVENTORY,
    profile: str = "instant",
    seed: int = 7,
    extra_args: tuple[str, ...] = (),
    knobs: dict[str, Any] | None = None,
) -> Activation:
    """Start a fresh simulator, activate aubagne once, and capture everything."""
    sim = SimServer(workdir / "sim", inventory, profile=profile, seed=seed, knobs=knobs)
    try:
        home = workdir / "home"
        env = child_env(home, inventory, sim.base_url)
        before = sim.state()
        result = run_cli([*extra_args, "activate", COMMUNE, "--yes"], env)
        assert result.returncode == 0, str(result)
        after = sim.state()
        assert not duplicates(after), duplicates(after)
        return Activation(
            sim=sim,
            home=home,
            inventory=inventory,
            env=env,
            before=before,
            after=after,
            requests=sim.requests(),
            result=result,
            snapshot=kit_snapshot(after),
            loans=loans_snapshot(home),
        )
    except BaseException:
        sim.close()
        raise
