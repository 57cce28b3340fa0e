"""SIGKILL `crisiskit activate` at varied points, rerun, and compare with an uninterrupted run."""

from __future__ import annotations

import random
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
from convergence import assert_converged, assert_reissue_reported, orphan_passes
from faultkit import (
    COMMUNE,
    SAMPLE_INVENTORY,
    CliResult,
    RecordingProxy,
    SimServer,
    child_env,
    run_cli,
    start_cli,
    writes,
)
from faultruns import Activation
from planjson import parse_json_stdout

LATENCY_MS = 40  # slow enough that a poll of /_sim/requests can stop the run mid-way
POLL_S = 0.01
WRITE_FRACTIONS = (0.01, 0.2, 0.45, 0.7, 0.95)
RANDOM_KILLS = [round(random.Random(20261126 + i).uniform(0.6, 3.0), 2) for i in range(2)]

def assert_local_state_intact(
    home: Path, env: dict[str, str], when: str, *, status: bool = True
) -> None:
    """A SIGKILL never leaves a broken audit chain or a torn, readable credentials file."""
    if (home / "state.db").exists():
        verify = run_cli(["audit", "verify"], env)
        assert verify.returncode == 0, f"audit chain broken {when}:\n{verify}"
    cred = home / "outputs" / COMMUNE / "credentials.csv"
    if cred.exists():
        assert stat.S_IMODE(cred.stat().st_mode) == 0o600, f"credentials mode {when}"
        lines = cred.read_text(encoding="utf-8").splitlines()
        assert lines[0] == "upn,display_name,temporary_access_pass,valid_from,valid_until", when
        assert all(line.count(",") >= 4 for line in lines[1:]), f"torn credentials file {when}"
    if status:  # on a half-built kit too
        res = run_cli(["--output", "json", "status", COMMUNE], env)
        assert res.returncode == 0, f"status fails {when}:\n{res}"


def _kill_and_resume(
    tmp_path: Path,
    reference: Activation,
    *,
    after_writes: int | None = None,
    after_seconds: float | None = None,
    must_land_mid_run: bool = False,
    dry_run_first: bool = False,
) -> None:
    sim = SimServer(tmp_path / "sim", SAMPLE_INVENTORY, knobs={"latency_ms": LATENCY_MS})
    try:
        home = tmp_path / "home"
        env = child_env(home, SAMPLE_INVENTORY, sim.base_url)
        run = start_cli(["activate", COMMUNE, "--yes"], env, tmp_path, "killed")
        deadline = time.monotonic() + 60
        while run.proc.poll() is None and time.monotonic() < deadline:
            if after_seconds is not None and time.monotonic() - run.started >= after_seconds:
                break
            if after_writes is not None and len(writes(sim.requests())) >= after_writes:
                break
            time.sleep(POLL_S)
        rc = run.kill()
        killed = run.result(rc)
        sim.settle()
        # The run may end on its own between the last poll and the SIGKILL: its status tells.
        finished = rc != -signal.SIGKILL
        if finished:
            assert rc == 0, f"the run failed before it could be killed:\n{killed}"
        written = len(writes(sim.requests()))
        if must_land_mid_run:
            # Otherwise the test would silently stop testing a kill.
            assert not finished and written < len(writes(reference.requests)), (
                f"the kill landed after the run ({written} writes): slow the run down"
            )

        at_kill = sim.state()
        must_reissue = orphan_passes(at_kill, home)
        assert_local_state_intact(home, env, "after the kill")
        if dry_run_first:
            # Looking at a half-built kit changes nothing and shows what is left to do.
            n = len(sim.requests())
            dry = run_cli(["--output", "json", "activate", COMMUNE, "--dry-run"], env)
            assert dry.returncode == 0, str(dry)
            assert not writes(sim.requests()[n:]), "--dry-run wrote to the tenant"
            if not finished:
                doc = parse_json_stdout(dry.stdout)
                assert doc.get("plan", doc).get("empty") is False, dry.stdout
        rerun = run_cli(["activate", COMMUNE, "--yes"], env)
        assert rerun.returncode == 0, f"rerun after kill ({written} writes done):\n{rerun}"
        final = sim.state()
        context = f"killed after {written} writes" + (" (had finished)" if finished else "")
        assert_converged(final, home, reference.snapshot, reference.loans, context)
        assert_local_state_intact(home, env, "after the rerun", status=False)
        if must_reissue:
            export = run_cli(["audit", "export"], env)
            assert export.returncode == 0, str(export)
            assert_reissue_reported(must_reissue, rerun, export.stdout)
    finally:
        sim.close()


@pytest.mark.slow
@pytest.mark.parametrize("fraction", WRITE_FRACTIONS)
def test_kill_after_kth_write_then_rerun_converges(
    tmp_path: Path, reference: Activation, fraction: float
) -> None:
    total = len(writes(reference.requests))
    assert total > 10, f"the reference activation made only {total} writes"
    k = max(1, int(total * fraction))
    _kill_and_resume(
        tmp_path,
        reference,
        after_writes=k,
        must_land_mid_run=fraction < 0.9,
        dry_run_first=fraction == 0.45,
    )


@pytest.mark.slow
@pytest.mark.parametrize("seconds", RANDOM_KILLS)
def test_kill_at_random_time_then_rerun_converges(
    tmp_path: Path, reference: Activation, seconds: float
) -> None:
    _kill_and_resume(tmp_path, reference, after_seconds=seconds)




@pytest.mark.slow
def test_kill_while_passes_are_issued_then_rerun_reissues_and_says_so(
    tmp_path: Path, reference: Activation
) -> None:
    """Kill the run after the tenant issued passes but before their answer reached crisiskit.

    A proxy on the way holds back the answer that carries the passes (a slow network), so the
    kill lands in the window where the tenant holds passes nobody wrote down.
    """
    sim = SimServer(tmp_path / "sim", SAMPLE_INVENTORY)
    proxy = RecordingProxy(sim.root_url, hold_if=b"temporaryAccessPassMethods", hold_s=5.0)
    try:
        home = tmp_path / "home"
        env = child_env(home, SAMPLE_INVENTORY, proxy.base_url)
        run = start_cli(["activate", COMMUNE, "--yes"], env, tmp_path, "killed")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and run.proc.poll() is None:
            if any("temporaryAccessPassMethods" in e["path"] for e in writes(sim.requests())):
                break
            time.sleep(POLL_S)
        assert run.proc.poll() is None, f"the run ended before issuing passes:\n{run.wait()}"
        run.kill()
        sim.settle()
        must_reissue = orphan_passes(sim.state(), home)
        assert must_reissue, "no pass was left unfiled: the kill missed its window"

        env = child_env(home, SAMPLE_INVENTORY, sim.base_url)
        rerun = run_cli(["activate", COMMUNE, "--yes"], env)
        assert rerun.returncode == 0, str(rerun)
        export = run_cli(["audit", "export"], env)
        assert_reissue_reported(must_reissue, rerun, export.stdout)
        assert_converged(sim.state(), home, reference.snapshot, reference.loans, "passes lost")
    finally:
        proxy.close()
        sim.close()


def _kill_service_mid_run(
    tmp_path: Path, reference: Activation, env_extra: dict[str, str], timeout: float
) -> tuple[CliResult, Path]:
    """Start an activation, SIGKILL the simulator a third of the way in, wait for the CLI."""
    sim = SimServer(tmp_path / "sim", SAMPLE_INVENTORY, knobs={"latency_ms": LATENCY_MS})
    home = tmp_path / "home"
    try:
        env = {**child_env(home, SAMPLE_INVENTORY, sim.base_url), **env_extra}
        run = start_cli(["activate", COMMUNE, "--yes"], env, tmp_path, "orphaned")
        target = len(writes(reference.requests)) // 3
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(writes(sim.requests())) < target:
            assert run.proc.poll() is None, str(run.wait())
            time.sleep(POLL_S)
        sim.proc.send_signal(signal.SIGKILL)
        sim.proc.wait(timeout=10)
        try:
            return run.wait(timeout=timeout), home
        except subprocess.TimeoutExpired:
            err = run.err.read_text(errors="replace")
            raise AssertionError(
                f"crisiskit kept going {timeout:.0f}s after Graph became unreachable:\n{err}"
            ) from None
    finally:
        sim.close()


@pytest.mark.slow
def test_service_dies_mid_run_then_comes_back(tmp_path: Path, reference: Activation) -> None:
    """SIGKILL the simulator itself mid-run.

    With Graph gone (connection refused), waiting for readiness is pointless: after its bounded
    retries (6 attempts, ~15 s of backoff per request) the run must stop, cleanly, and say a
    rerun resumes it, not poll for the playbook's 15-minute team deadline. Once the service is
    back with the same (persisted) tenant, a rerun converges.
    """
    res, home = _kill_service_mid_run(tmp_path, reference, {}, timeout=60)
    assert res.returncode == 1, f"expected an operation failure (exit 1):\n{res}"
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    assert "rerun" in res.stderr.lower() or "resume" in res.stderr.lower(), str(res)
    back = SimServer(tmp_path / "sim", SAMPLE_INVENTORY)  # reloads the persisted tenant
    try:
        env = child_env(home, SAMPLE_INVENTORY, back.base_url)
        again = run_cli(["activate", COMMUNE, "--yes"], env)
        assert again.returncode == 0, str(again)
        assert_converged(
            back.state(), home, reference.snapshot, reference.loans, "service died", back.signs_in
        )
    finally:
        back.close()
