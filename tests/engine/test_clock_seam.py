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
from crisiskit.resources.mailboxes import Mailbox
from crisiskit.resources.teams import GROUP_MATURITY_S, TEAM_RETRY_S, TeamCreate
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


def test_the_drive_deadline_fires_on_the_engines_clock(sim: EmbeddedSimulator, tmp_path: Path):
    sim.set_profile(site_delay_s=10 * 3600)  # the site never comes during the test
    clock = ManualClock(start=datetime.now(UTC))
    started = time.monotonic()
    ran = execute(sim, tmp_path, [
        *_group_steps(),
        step("drive", "create", "Documents", DriveWait(Ref(f"group:{NICK}"), 900.0)),
    ], clock=clock)
    elapsed = time.monotonic() - started
    result = ran.execution.results["drive:Documents"]
    assert result.status == "failed" and "still provisioning" in result.detail
    assert 899.0 <= clock.slept <= 901.0  # the whole 900 s deadline, then it gave up
    assert elapsed < 30.0  # and none of it was really slept
    polls = [r for r in sim.requests() if r["path"].endswith("/drive")]
    assert 10 <= len(polls) <= 100 and all(r["status"] == 404 for r in polls)


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
    assert result.status == "failed" and "too young" in result.detail
    posts = [r for r in sim.requests() if r["method"] == "POST" and r["path"] == "/teams"]
    assert len(posts) >= 5 and all(r["status"] == 404 for r in posts)
    # 3 retries 10 s apart, then until the group is 15 minutes old: never less than that.
    assert clock.slept >= GROUP_MATURITY_S - 2 * TEAM_RETRY_S
    assert clock.slept <= GROUP_MATURITY_S + 2 * TEAM_RETRY_S + 1
    assert time.monotonic() - started < 30.0


def test_a_slow_mailbox_is_waited_for_to_its_deadline_then_reported(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    sim.set_profile(mailbox_delay_s=10 * 3600)
    sku = next(s["skuId"] for s in sim.state()["subscribedSkus"])
    clock = ManualClock(start=datetime.now(UTC))
    ran = execute(sim, tmp_path, [
        step("user", "create", UPN, user("camille.veille")),
        step("licence", "create", UPN, LicenceAssign(
            Ref(f"user:{UPN}"), "user", sku, "sku", (Mailbox(UPN, Ref(f"user:{UPN}")),), 120.0,
        )),
    ], clock=clock, wait_scale=0.5)
    assert ran.execution.ok  # a slow mailbox never fails the run
    assert [(e.key, e.status) for e in ran.execution.events] == [(UPN, "still provisioning")]
    # 120 s scaled by 0.5: polled until the next wait (≤ 15 s) would pass the deadline.
    assert 60.0 - 15.0 <= clock.slept <= 60.0
