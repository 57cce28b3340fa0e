"""The re-send schedule for a replica lagging behind a new object, on the engine's clock.

Entra's support article on the 404 after a create ("404 error when managing objects using
Microsoft Graph") says: the request "might connect to a replica that hasn't yet been updated";
"wait some time and retry ... If the 404 error still occurs after retrying, double your waiting
time". The simulator answers for real over loopback, every read of the young account lagging
(404) for the whole window; the engine's clock is driven, and drives the simulator's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from planrun import DOMAIN, execute, user

from crisiskit.clock import ManualClock
from crisiskit.plan.model import Ref, step
from crisiskit.resources.licences import LicenceAssign
from crisiskit.resources.mailboxes import MailboxWait
from crisiskit.sim.server import EmbeddedSimulator

UPN = f"camille.veille@{DOMAIN}"


class Driven(ManualClock):
    """The engine's clock, the simulator's clock moved with it; every sleep recorded."""

    def __init__(self, sim: EmbeddedSimulator) -> None:
        super().__init__(start=datetime.now(UTC))
        self.sim = sim
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.sim.advance(max(seconds, 0.0))
        await super().sleep(seconds)


def _licence_after_lag(sim: EmbeddedSimulator, tmp_path: Path, lag_s: float) -> tuple[str, Driven]:
    sim.set_profile(replication_lag_s=lag_s, replication_404_rate=1.0)
    sku = next(s["skuId"] for s in sim.state()["subscribedSkus"])
    clock = Driven(sim)
    ran = execute(sim, tmp_path, [
        step("user", "create", UPN, user("camille.veille")),
        step("licence", "create", UPN, LicenceAssign(Ref(f"user:{UPN}"), "user", sku, "sku")),
    ], clock=clock)
    return ran.execution.results[f"licence:{UPN}"].status, clock


def test_a_lagging_replica_is_asked_again_soon_then_less_and_less_often(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    status, clock = _licence_after_lag(sim, tmp_path, 3.0)
    assert status == "done"
    waits = clock.sleeps
    # The first re-send after about one round trip (another replica may answer it), not
    # a tenth of a second later: the early sends are where a 50-account kit's licences lagged.
    assert waits[0] <= 0.03, waits
    # Then each wait doubles ("double your waiting time"), capped.
    assert all(b == min(2 * a, 2.0) for a, b in zip(waits, waits[1:], strict=False)), waits
    # The answer is seen within one capped wait of the replica catching up.
    assert 3.0 <= sum(waits) <= 3.0 + 2.0, waits


def test_short_first_waits_do_not_shorten_the_patience(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    # A replica lagging 15.5 s behind the new account is still outlasted (the former
    # 0.1 s × 1.5 schedule gave up after 14.9 s): the re-sends span 16.5 s.
    status, clock = _licence_after_lag(sim, tmp_path, 15.5)
    assert status == "done"
    assert 15.5 <= sum(clock.sleeps) <= 17.0, clock.sleeps


def test_a_lagging_mailbox_probe_is_looked_at_again_alone(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    """The young account's probes lag (404) for 3 s after its licence: it alone is probed
    again soon; the other mailbox, readable and not ready, waits for the schedule's looks
    (first look, 5 s, 10 s: its bound), instead of being probed every round trip with it."""
    sim.set_profile(replication_lag_s=3.0, replication_404_rate=1.0, mailbox_delay_s=600)
    sku = next(s["skuId"] for s in sim.state()["subscribedSkus"])
    early, late = UPN, f"dominique.garde@{DOMAIN}"
    first = execute(sim, tmp_path, [
        step("user", "create", early, user("camille.veille")),
        step("licence", "create", early, LicenceAssign(Ref(f"user:{early}"), "user", sku, "sku")),
    ], clock=Driven(sim))
    early_id = first.execution.results[f"user:{early}"].values["id"]
    sim.advance(4)  # the early account's replica has caught up
    since = len(sim.requests())
    ran = execute(sim, tmp_path, [
        step("user", "create", late, user("dominique.garde")),
        step("licence", "create", late, LicenceAssign(Ref(f"user:{late}"), "user", sku, "sku")),
        step("mailbox", "wait", late, MailboxWait(Ref(f"user:{late}"), late, 10.0),
             after=(f"licence:{late}",)),
        step("mailbox", "wait", early, MailboxWait(early_id, early, 10.0),
             after=(f"licence:{late}",)),
    ], clock=Driven(sim))
    results = ran.execution.results
    assert results[f"mailbox:{early}"].status == "pending"
    assert results[f"mailbox:{late}"].status == "pending"
    late_id = results[f"user:{late}"].values["id"]
    probes = [r for r in sim.requests()[since:] if r["path"].endswith("/mailboxSettings")]
    of_early = [r for r in probes if early_id in r["path"]]
    of_late = [r for r in probes if late_id in r["path"]]
    assert any(r["status"] == 404 for r in of_late)
    assert len(of_late) >= 5, of_late  # the lagging one, looked at again soon
    assert len(of_early) == 3, of_early  # at 0, 5 and 10 s only
