"""Documented waits run on the clock the engine is given: driven, they take no real time.

The simulator answers for real over loopback (a site that never comes, a group too young for
a Team); only the engine's clock is a ManualClock, so fifteen minutes of documented waiting
play out in well under a second, in the order and to the deadline the real waits would.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from planrun import DOMAIN, ROOT, TAG, execute, user

from crisiskit.clock import ManualClock
from crisiskit.plan.model import Ref, step
from crisiskit.resources.drives import DriveWait
from crisiskit.resources.groups import GroupCreate
from crisiskit.resources.licences import LicenceAssign
from crisiskit.resources.mailboxes import MailboxWait
from crisiskit.resources.teams import GROUP_MATURITY_S, TEAM_RETRY_S, TeamCreate, TeamWait
from crisiskit.resources.waiting import MAILBOX_BOUND_S, TEAM_BOUND_S
from crisiskit.sim.server import EmbeddedSimulator

UPN = f"camille.veille@{DOMAIN}"
NICK = "crisiskit-clock"


def _group_steps() -> list:
    owner = Ref(f"user:{UPN}")
    return [
        step("user", "create", UPN, user("camille.veille")),
        step("group", "create", NICK,
             GroupCreate(NICK, "Clock", "d", TAG, "aubagne", ROOT, (owner,))),
    ]


def test_the_drive_bound_ends_on_the_engines_clock(sim: EmbeddedSimulator, tmp_path: Path):
    sim.set_profile(site_delay_s=10 * 3600)  # the site never comes during the test
    clock = ManualClock(start=datetime.now(UTC))
    started = time.monotonic()
    ran = execute(sim, tmp_path, [
        *_group_steps(),
        step("drive", "wait", "Documents", DriveWait(Ref(f"group:{NICK}"), 900.0)),
    ], clock=clock)
    elapsed = time.monotonic() - started
    result = ran.execution.results["drive:Documents"]
    assert result.status == "pending" and "still provisioning" in result.detail
    assert ran.execution.ok  # still provisioning is not a failure
    assert 899.0 <= clock.slept <= 901.0  # the whole 900 s bound, the last look at it
    assert elapsed < 30.0  # and none of it was really slept
    polls = [r for r in sim.requests() if r["path"].endswith("/drive")]
    # Capped backoff: 5 s, 10 s, then every 15 s (service seconds), until the bound.
    assert 59 <= len(polls) <= 63 and all(r["status"] == 404 for r in polls)


def test_the_young_group_recipe_runs_on_the_engines_clock(sim: EmbeddedSimulator, tmp_path):
    sim.set_profile(replication_lag_s=3600)  # Teams refuses the group for the whole test
    clock = ManualClock(start=datetime.now(UTC))
    started = time.monotonic()
    ran = execute(sim, tmp_path, [
        *_group_steps(),
        step("team", "create", "Clock", TeamCreate(
            Ref(f"group:{NICK}"), ROOT, 60.0, Ref(f"group:{NICK}", "createdDateTime", True)
        )),
    ], clock=clock)
    result = ran.execution.results["team:Clock"]
    assert result.status == "pending" and "too young" in result.detail
    posts = [r for r in sim.requests() if r["method"] == "POST" and r["path"] == "/teams"]
    assert len(posts) >= 5 and all(r["status"] == 404 for r in posts)
    # 3 retries 10 s apart, then until the group is 15 minutes old: never less than that.
    assert clock.slept >= GROUP_MATURITY_S - 2 * TEAM_RETRY_S
    assert clock.slept <= GROUP_MATURITY_S + 2 * TEAM_RETRY_S + 1
    assert time.monotonic() - started < 30.0


def test_a_slow_mailbox_is_waited_for_to_its_bound_then_reported(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    sim.set_profile(mailbox_delay_s=10 * 3600)
    sku = next(s["skuId"] for s in sim.state()["subscribedSkus"])
    clock = ManualClock(start=datetime.now(UTC))
    ran = execute(sim, tmp_path, [
        step("user", "create", UPN, user("camille.veille")),
        step("licence", "create", UPN, LicenceAssign(Ref(f"user:{UPN}"), "user", sku, "sku")),
        step("mailbox", "wait", UPN, MailboxWait(Ref(f"user:{UPN}"), UPN, 120.0),
             after=(f"licence:{UPN}",)),
    ], clock=clock, wait_scale=0.5)
    assert ran.execution.ok  # a slow mailbox never fails the run
    result = ran.execution.results[f"mailbox:{UPN}"]
    assert result.status == "pending" and "still provisioning" in result.detail
    notes = [e.detail for e in ran.waits if e.kind == "mailbox"]
    assert notes and all("to provision the mailboxes" in n and "up to 60 s" in n for n in notes)
    # 120 s scaled by 0.5, the last look at the bound itself.
    assert clock.slept == 60.0


def test_waits_end_when_the_service_is_ready_not_at_a_deadline(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    """Ready after 40 min (mailbox) and 25 min (site): seen then, under the documented bounds."""
    sim.set_profile(mailbox_delay_s=40 * 60, site_delay_s=25 * 60)
    sku = next(s["skuId"] for s in sim.state()["subscribedSkus"])

    # The simulator's delays run on its own clock: move it with the engine's.
    class Both(ManualClock):
        async def sleep(self, seconds: float) -> None:
            sim.advance(max(seconds, 0.0))
            await super().sleep(seconds)

    clock = Both(start=datetime.now(UTC))
    ran = execute(sim, tmp_path, [
        *_group_steps(),
        step("licence", "create", UPN, LicenceAssign(Ref(f"user:{UPN}"), "user", sku, "sku")),
        step("mailbox", "wait", UPN, MailboxWait(Ref(f"user:{UPN}"), UPN, MAILBOX_BOUND_S),
             after=(f"licence:{UPN}",)),
        step("drive", "wait", "Documents", DriveWait(Ref(f"group:{NICK}"))),
    ], clock=clock)
    results = ran.execution.results
    assert results[f"mailbox:{UPN}"].status == "ready"
    assert results["drive:Documents"].status == "ready"
    # Both waits share the clock (their sleeps add up): far below the 24 h + 60 min bounds,
    # and within one 15 s poll of each delay.
    assert clock.slept <= 40 * 60 + 25 * 60 + 2 * 16


def test_the_team_wait_checks_at_most_every_30_seconds_up_to_its_bound(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    sim.set_profile(team_op_s=10 * 3600)  # the operation never completes during the test
    clock = ManualClock(start=datetime.now(UTC))
    owner = Ref(f"user:{UPN}")
    from crisiskit.resources.teamcreate import TeamGroupCreate

    ran = execute(sim, tmp_path, [
        step("user", "create", UPN, user("camille.veille")),
        step("group", "create", NICK, TeamGroupCreate(
            NICK, "Clock", "d", TAG, "aubagne", ROOT, (owner,), (), (("Main", "m"),))),
        step("team", "wait", "Clock", TeamWait(
            Ref(f"group:{NICK}"), Ref(f"group:{NICK}", "operation", True), TEAM_BOUND_S)),
    ], clock=clock)
    result = ran.execution.results["team:Clock"]
    assert result.status == "pending" and "still being created" in result.detail
    polls = [r for r in sim.requests() if "/operations/" in r["path"]]
    # "wait >30 seconds between checks" (teamsasyncoperation.md), 60 min bound: ≤ 120 checks.
    assert 100 <= len(polls) <= 121
    assert TEAM_BOUND_S - 31 <= clock.slept <= TEAM_BOUND_S + 1


def test_a_mailbox_seen_ready_is_not_held_behind_another_ones_lagging_replica(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    """Every read of a young account lags (404): the one licensed earlier is recorded ready the
    round it is seen, while the other's replica still lags (each mailbox's clock starts at
    its own licence; holding the first until the second settles cost whole seconds)."""
    sim.set_profile(mailbox_delay_s=0, replication_404_rate=1.0, replication_lag_s=12)
    sku = next(s["skuId"] for s in sim.state()["subscribedSkus"])

    class Both(ManualClock):
        async def sleep(self, seconds: float) -> None:
            sim.advance(max(seconds, 0.0))
            await super().sleep(seconds)

    early, late = UPN, f"dominique.garde@{DOMAIN}"
    first = execute(sim, tmp_path, [
        step("user", "create", early, user("camille.veille")),
        step("licence", "create", early, LicenceAssign(Ref(f"user:{early}"), "user", sku, "sku")),
    ], clock=Both(start=datetime.now(UTC)))
    early_id = first.execution.results[f"user:{early}"].values["id"]
    sim.advance(6)  # the early account's replica catches up 6 s into the next run
    ran = execute(sim, tmp_path, [
        step("user", "create", late, user("dominique.garde")),
        step("licence", "create", late, LicenceAssign(Ref(f"user:{late}"), "user", sku, "sku")),
        # The late one first: probed in that order, in one `$batch` per round.
        step("mailbox", "wait", late, MailboxWait(Ref(f"user:{late}"), late),
             after=(f"licence:{late}",)),
        step("mailbox", "wait", early, MailboxWait(early_id, early), after=(f"licence:{late}",)),
    ], clock=Both(start=datetime.now(UTC)))
    results = ran.execution.results
    assert results[f"mailbox:{early}"].status == "ready"
    assert results[f"mailbox:{late}"].status == "ready"
    order = [k for k in results if k.startswith("mailbox:")]
    assert order == [f"mailbox:{early}", f"mailbox:{late}"], order
    late_id = results[f"user:{late}"].values["id"]
    probes = [r for r in sim.requests() if r["path"] == f"/users/{late_id}/mailboxSettings"]
    assert len(probes) > 2 and probes[-1]["status"] == 200  # it did lag, then was seen
