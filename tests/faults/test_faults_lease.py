"""Two operators, two machines (two homes), one commune: the tenant lease, end to end.

Real CLI processes against `crisiskit sim serve`; each home is another machine. The lease
lives in the simulated tenant's root site library; the simulator's clock (`/_sim/clock`) ages
it, since the lease judges expiry on the service's clock alone.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
from convergence import assert_converged, credentials_rows
from cutproxy import CutProxy
from faultkit import (
    COMMUNE,
    SAMPLE_INVENTORY,
    SimServer,
    child_env,
    lease_writes,
    run_cli,
    start_cli,
    tap_secrets,
    writes,
)
from faultruns import Activation

LATENCY_MS = 40
MARGIN_S = 15  # crisiskit.engine.lease.SKEW_MARGIN_S


def env_of(home: Path, url: str, operator: str, ttl: float | None = None) -> dict[str, str]:
    env = child_env(home, SAMPLE_INVENTORY, url)
    env["USER"] = operator
    if ttl is not None:
        env["CRISISKIT_LEASE_TTL"] = str(ttl)
    return env


def one_line_error(stderr: str) -> str:
    """Return the one error line (progress lines may precede it), asserting no traceback."""
    assert "Traceback" not in stderr, stderr
    errors = [ln for ln in stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, stderr
    return errors[0]


def wait_for(predicate, within_s: float = 60.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_two_homes_racing_for_one_commune_exactly_one_runs(
    tmp_path: Path, reference: Activation
) -> None:
    sim = SimServer(tmp_path / "sim", SAMPLE_INVENTORY, knobs={"latency_ms": LATENCY_MS})
    try:
        runs = {
            who: start_cli(
                ["activate", COMMUNE, "--yes"],
                env_of(tmp_path / who, sim.base_url, who), tmp_path, who,
            )
            for who in ("alice", "bob")
        }
        results = {who: r.wait() for who, r in runs.items()}
        codes = sorted(r.returncode for r in results.values())
        assert codes == [0, 3], "\n".join(str(r) for r in results.values())
        winner = next(w for w, r in results.items() if r.returncode == 0)
        loser = next(w for w, r in results.items() if r.returncode == 3)
        message = one_line_error(results[loser].stderr)
        assert f"another crisiskit run holds {COMMUNE} in the tenant: {winner} on " in message
        assert "(pid " in message and "activate) since " in message
        # The loser wrote nothing to the kit and has no pass on file; the winner's are the
        # ones valid in the tenant.
        assert not (tmp_path / loser / "outputs" / COMMUNE / "credentials.csv").exists()
        assert_converged(sim.state(), tmp_path / winner, reference.snapshot, reference.loans,
                         "race")
        log = sim.requests()
        assert lease_writes(log)[-1]["method"] == "DELETE"  # released at the end
    finally:
        sim.close()


@pytest.mark.slow
def test_a_killed_holder_blocks_other_homes_until_its_lease_expires(
    tmp_path: Path, reference: Activation
) -> None:
    """SIGKILL the holder mid-run. Its own home reruns at once (the flock proves it dead);
    another home is refused, naming it, until the lease expires, then takes over and says
    whose lease it replaced."""
    sim = SimServer(tmp_path / "sim", SAMPLE_INVENTORY, knobs={"latency_ms": LATENCY_MS})
    try:
        alice = env_of(tmp_path / "alice", sim.base_url, "alice", ttl=30)
        bob = env_of(tmp_path / "bob", sim.base_url, "bob", ttl=30)
        killed = start_cli(["activate", COMMUNE, "--yes"], alice, tmp_path, "killed")
        wait_for(lambda: len(writes(sim.requests())) >= 5, what="the first kit writes")
        killed.kill()
        sim.settle()

        mark = len(sim.requests())
        refused = run_cli(["activate", COMMUNE, "--yes"], bob)
        assert refused.returncode == 3, str(refused)
        message = one_line_error(refused.stderr)
        assert f"holds {COMMUNE} in the tenant: alice on " in message
        assert "expires at" in message
        # Bob changed nothing: no kit write, and its one lease write was refused (409).
        assert not writes(sim.requests()[mark:])
        assert [e["status"] for e in lease_writes(sim.requests()[mark:])] == [409]

        # The killed run's home reruns at once and completes the kit.
        rerun = run_cli(["activate", COMMUNE, "--yes"], alice)
        assert rerun.returncode == 0, str(rerun)
        assert "Took over the lease of aubagne left by alice on " in rerun.stdout
        assert "no longer running on this machine" in rerun.stdout
        assert_converged(sim.state(), tmp_path / "alice", reference.snapshot, reference.loans,
                         "killed then rerun from its home")

        # Killed again, right after taking the lease: bob waits for the expiry, then runs.
        mark = len(sim.requests())
        again = start_cli(["activate", COMMUNE, "--yes"], alice, tmp_path, "killed2")
        wait_for(lambda: any(e["status"] == 201 for e in lease_writes(sim.requests()[mark:])),
                 what="a new lease")
        again.kill()
        sim.settle()
        assert run_cli(["activate", COMMUNE, "--yes"], bob).returncode == 3
        sim.http.post("/_sim/clock", json={"advance": 30 + MARGIN_S + 1})
        took = run_cli(["activate", COMMUNE, "--yes"], bob)
        assert took.returncode == 0, str(took)
        assert "Took over the lease of aubagne left by alice on " in took.stdout
        assert "it had expired" in took.stdout
        # Bob's file holds the passes now valid in the tenant (it reissued them, and said so).
        assert sorted(credentials_rows(tmp_path / "bob").values()) == sorted(
            tap_secrets(sim.state())
        )
    finally:
        sim.close()


@pytest.mark.slow
def test_a_holder_partitioned_while_its_lease_is_taken_over_stops_and_voids_its_passes(
    tmp_path: Path,
) -> None:
    """Alice's machine loses the network after issuing passes; her lease expires and Bob takes
    over and completes the kit. When Alice's link comes back, her run finds the lease gone: it
    stops (exit 1), presents no pass, and her credentials file no longer holds them."""
    knobs = {"latency_ms": LATENCY_MS, "mailbox_delay_s": 600}
    sim = SimServer(tmp_path / "sim", SAMPLE_INVENTORY, knobs=knobs)
    proxy = CutProxy(sim.root_url)
    try:
        alice_home, bob_home = tmp_path / "alice", tmp_path / "bob"
        alice = env_of(alice_home, proxy.base_url, "alice", ttl=12)
        held = start_cli(["activate", COMMUNE, "--yes"], alice, tmp_path, "alice")
        creds = alice_home / "outputs" / COMMUNE / "credentials.csv"
        wait_for(lambda: creds.exists() and len(credentials_rows(alice_home)) >= 12,
                 what="alice's passes on file")
        issued = set(credentials_rows(alice_home).values())
        proxy.cut()
        proxy.drain()  # a renewal sent just before the cut lands before the clock moves
        sim.http.post("/_sim/clock", json={"advance": 12 + MARGIN_S + 5})
        # --no-wait: the mailboxes take 600 s; bob hands over and releases the commune.
        bob = run_cli(["activate", COMMUNE, "--yes", "--no-wait"],
                      env_of(bob_home, sim.base_url, "bob", ttl=12), timeout=180)
        assert bob.returncode == 0, str(bob)
        assert "Took over the lease of aubagne left by alice on " in bob.stdout
        proxy.heal()
        result = held.wait(timeout=180)
        assert result.returncode == 1, str(result)
        message = one_line_error(result.stderr)
        # Bob finished and released it before alice's link healed: gone, not just changed.
        assert "this run lost the lease of aubagne" in message
        assert "are not valid" in message and "removed from" in message
        # Nothing handed over by alice: no pass left on file, no handover sheet, no slips.
        rows = list(csv.DictReader(creds.open(encoding="utf-8"))) if creds.exists() else []
        assert rows == [], rows
        outputs = sorted(p.name for p in (alice_home / "outputs" / COMMUNE).iterdir())
        assert not [n for n in outputs if n.startswith(("fiche", "fiches"))], outputs
        # Bob's passes are the valid ones; none of alice's is.
        valid = set(tap_secrets(sim.state()))
        assert valid == set(credentials_rows(bob_home).values())
        assert not (issued & valid)
        assert "--show-secrets" not in result.stdout
    finally:
        proxy.close()
        sim.close()


@pytest.mark.slow
def test_a_lease_taken_over_after_the_handover_point_withdraws_what_was_handed_over(
    tmp_path: Path,
) -> None:
    """Alice's run hands the credentials, slips and sheet over mid-run (the mailboxes are still
    provisioning), then her machine loses the network and Bob takes the commune over. When her
    link comes back her run stops (exit 1): her credentials file holds none of her passes, the
    slips and the provisional sheet she handed over are gone, and the audit says so."""
    knobs = {"latency_ms": LATENCY_MS, "mailbox_delay_s": 600}
    sim = SimServer(tmp_path / "sim", SAMPLE_INVENTORY, knobs=knobs)
    proxy = CutProxy(sim.root_url)
    try:
        alice_home, bob_home = tmp_path / "alice", tmp_path / "bob"
        alice = env_of(alice_home, proxy.base_url, "alice", ttl=12)
        held = start_cli(["activate", COMMUNE, "--yes"], alice, tmp_path, "alice")
        outputs = alice_home / "outputs" / COMMUNE
        sheet, slips = outputs / "fiche-de-remise.pdf", outputs / "fiches-premiere-connexion.pdf"
        wait_for(lambda: sheet.is_file() and slips.is_file(), within_s=120,
                 what="alice's handover point (sheet and slips written)")
        issued = set(credentials_rows(alice_home).values())
        assert len(issued) == 12 and held.proc.poll() is None
        proxy.cut()
        proxy.drain()  # a renewal sent just before the cut lands before the clock moves
        sim.http.post("/_sim/clock", json={"advance": 12 + MARGIN_S + 5})
        # --no-wait: the mailboxes take 600 s; bob hands over and releases the commune.
        bob = run_cli(["activate", COMMUNE, "--yes", "--no-wait"],
                      env_of(bob_home, sim.base_url, "bob", ttl=12), timeout=180)
        assert bob.returncode == 0, str(bob)
        proxy.heal()
        result = held.wait(timeout=180)
        assert result.returncode == 1, str(result)
        message = one_line_error(result.stderr)
        assert "this run lost the lease of aubagne" in message
        assert "are not valid" in message and "withdrawn" in message
        creds = outputs / "credentials.csv"
        rows = list(csv.DictReader(creds.open(encoding="utf-8"))) if creds.exists() else []
        assert rows == [], rows
        left = sorted(p.name for p in outputs.iterdir())
        assert not [n for n in left if n.startswith(("fiche", "fiches"))], left
        from crisiskit.state import Store

        with Store.open(alice_home) as store:
            entries = store.audit_entries(COMMUNE)
            assert store.audit_verify() == []
        actions = [e.action for e in entries]
        assert actions.index("documents.written") < actions.index("documents.voided")
        voided = next(e for e in entries if e.action == "documents.voided")
        assert "fiches-premiere-connexion.pdf" in voided.details["files"]
        assert "credentials.voided" in actions
        valid = set(tap_secrets(sim.state()))
        assert valid == set(credentials_rows(bob_home).values()) and not (issued & valid)
    finally:
        proxy.close()
        sim.close()


@pytest.mark.slow
def test_an_unreachable_lease_refuses_before_any_write(tmp_path: Path) -> None:
    sim = SimServer(tmp_path / "sim", SAMPLE_INVENTORY)
    proxy = CutProxy(sim.root_url)
    try:
        proxy.refuse(lambda path: path.startswith("/v1.0/sites/root"))
        res = run_cli(["activate", COMMUNE, "--yes"],
                      env_of(tmp_path / "home", proxy.base_url, "alice"))
        assert res.returncode == 3, str(res)
        message = one_line_error(res.stderr)
        assert "cannot reach the tenant to take the lease of aubagne" in message
        assert "nothing was changed" in message
        assert not writes(sim.requests()) and not lease_writes(sim.requests())
    finally:
        proxy.close()
        sim.close()
