"""Faults the engine must absorb: uncertain creates, dropped connections, lagging replicas."""

from __future__ import annotations

import json
from collections import Counter

from engine_helpers import Kit


def _no_duplicates(state: dict) -> None:
    upns = Counter(u["userPrincipalName"] for u in state["users"])
    assert max(upns.values()) == 1
    nicks = Counter(g["mailNickname"] for g in state["groups"])
    assert max(nicks.values()) == 1
    channels = Counter((c["teamId"], c["displayName"].lower()) for c in state["channels"])
    assert max(channels.values()) == 1
    items = Counter((i.get("groupId"), i["path"]) for i in state["driveItems"])
    assert max(items.values()) == 1
    kinds = Counter(
        (m["userId"], m["@odata.type"], m.get("phoneType"))
        for m in state["authenticationMethods"]
    )
    assert max(kinds.values()) == 1


def _converge(kit: Kit, runs: int = 4) -> int:
    for attempt in range(1, runs + 1):
        result = kit.cli("activate", "aubagne", "--yes")
        assert result.exit_code in (0, 1), result.stderr
        if result.exit_code == 0:
            return attempt
        last = result.stderr
    raise AssertionError(f"activation did not converge: {last}")


def test_commit_then_503_never_duplicates(kit: Kit) -> None:
    kit.sim.set_profile(commit_then_5xx_rate=0.3)
    _converge(kit)
    log = kit.sim.requests()
    state = kit.sim.state()
    _no_duplicates(state)
    # The hazard really happened: a POST /users answered 503 whose user exists anyway.
    failed_creates = [r for r in log if r["method"] == "POST" and r["path"] == "/users"
                      and r["status"] >= 500]
    assert failed_creates
    kit.sim.set_profile(commit_then_5xx_rate=0)
    plan = json.loads(kit.cli("--output", "json", "plan", "aubagne").stdout)
    assert plan["empty"] is True


def test_dropped_connections_never_duplicate(kit: Kit) -> None:
    kit.sim.set_profile(drop_rate=0.2)
    _converge(kit, runs=6)
    _no_duplicates(kit.sim.state())
    kit.sim.set_profile(drop_rate=0)
    plan = json.loads(kit.cli("--output", "json", "plan", "aubagne").stdout)
    assert plan["empty"] is True


def test_lagging_replicas_are_waited_for(kit: Kit) -> None:
    # Reads and member adds of objects younger than 0.5 s may 404/400: the engine retries.
    kit.env["CRISISKIT_WAIT_SCALE"] = "0.001"  # the team's documented waits, scaled down
    kit.sim.set_profile(replication_lag_s=0.5, replication_404_rate=0.7)
    assert _converge(kit, runs=1) == 1
    _no_duplicates(kit.sim.state())


def test_team_on_a_young_group_follows_the_documented_retry(kit: Kit) -> None:
    # The team-from-group path (old kits, benchmarks): 3 retries 10 s apart then a wait until
    # the group is 15 min old, scaled by 1/500.
    kit.env["CRISISKIT_WAIT_SCALE"] = "0.002"
    kit.sim.set_profile(replication_lag_s=0.5, replication_404_rate=1.0)
    result = kit.cli("activate", "aubagne", "--yes", "--team-path", "group")
    assert result.exit_code == 0, result.stderr
    team_posts = [r for r in kit.sim.requests() if r["method"] == "POST"
                  and r["path"].rstrip("/") == "/teams"]
    assert team_posts[0]["status"] == 404 and team_posts[-1]["status"] == 202
    polls = [r for r in kit.sim.requests() if "/operations" in r["path"]]
    assert polls and polls[-1]["status"] == 200


def test_a_team_made_with_its_group_does_not_wait_for_replication(kit: Kit) -> None:
    # A group 15 minutes from reaching Teams: the default path never asks Teams about it.
    kit.env["CRISISKIT_WAIT_SCALE"] = "1"
    kit.sim.set_profile(replication_lag_s=900)
    result = kit.cli("activate", "aubagne", "--yes")
    assert result.exit_code == 0, result.stderr
    team_posts = [r for r in kit.sim.requests() if r["method"] == "POST"
                  and r["path"].rstrip("/") == "/teams"]
    assert [r["status"] for r in team_posts] == [202]
    assert not [r for r in kit.sim.requests() if r["method"] == "POST"
                and r["path"].rstrip("/") == "/groups"]


def test_a_mailbox_past_its_bound_names_what_is_pending_and_the_command(kit: Kit) -> None:
    kit.env["CRISISKIT_WAIT_SCALE"] = "0.00001"  # the documented 24 h become 0.86 s
    kit.sim.set_profile(mailbox_delay_s=3600)
    run = kit.cli("activate", "aubagne", "--yes")
    assert run.exit_code == 1, run.stderr
    assert "still provisioning after the documented wait" in run.stderr
    assert run.stderr.count("mailbox still provisioning") == 12  # each pending one, named
    assert "crisiskit status aubagne --wait" in run.stderr
    assert "Traceback" not in run.stderr
    status = json.loads(kit.cli("--output", "json", "status", "aubagne").stdout)
    assert {a["mailbox"] for a in status[0]["accounts"]} == {"provisioning"}
    # A rerun waits for them again, its bound counted from the licences (journaled): past
    # it already, it looks once.
    mark = kit.log_size()
    again = kit.cli("activate", "aubagne", "--yes")
    assert again.exit_code == 1 and "crisiskit status aubagne --wait" in again.stderr
    probes = [r for r in kit.sim.requests()[mark:] if r["path"].endswith("/mailboxSettings")]
    assert len(probes) == 2 * 12  # observation once, the wait once: no polling
    kit.sim.advance(3601)
    waited = kit.cli("status", "aubagne", "--wait")
    assert waited.exit_code == 0, waited.stdout + waited.stderr
    assert "the crisis kit is complete" in waited.stdout


def test_hostile_profile_converges_without_duplicates(kit: Kit) -> None:
    # The hostile profile's knobs, its delays scaled by 1/20 (1 min of service = 50 ms).
    kit.env["CRISISKIT_WAIT_SCALE"] = "0.001"
    kit.sim.set_profile(
        latency_ms=10, throttle_rate=30, throttle_burst=15,
        replication_lag_s=0.75, replication_404_rate=0.5, mailbox_delay_s=0.25,
        site_delay_s=0.15, team_op_s=0.1, transient_5xx_rate=0.05,
        commit_then_5xx_rate=0.05, drop_rate=0.03,
    )
    _converge(kit, runs=4)
    state = kit.sim.state()
    _no_duplicates(state)
    throttled = [r for r in kit.sim.requests() if r["status"] == 429]
    assert throttled  # the client was really throttled, and still converged
    kit.sim.set_profile(
        latency_ms=0, throttle_rate=0, throttle_burst=0, transient_5xx_rate=0,
        commit_then_5xx_rate=0, drop_rate=0, replication_404_rate=0,
    )
    plan = json.loads(kit.cli("--output", "json", "plan", "aubagne").stdout)
    assert plan["empty"] is True, [s for s in plan["steps"] if s["action"] != "present"]


def test_new_owner_added_by_ref_is_checked_after_an_uncertain_answer(
    kit: Kit, write_inventory
) -> None:
    assert kit.cli("activate", "aubagne", "--yes").exit_code == 0

    def promote(data: dict) -> None:
        roster = next(c for c in data["communes"] if c["id"] == "aubagne")["roster"]
        next(p for p in roster if p["surname"] == "Chêne")["team_owner"] = True

    kit.inventory = write_inventory(promote)
    kit.sim.set_profile(commit_then_5xx_rate=1.0)  # every write applied, then answered 503
    mark = kit.log_size()
    run = kit.cli("activate", "aubagne", "--yes")
    assert run.exit_code == 0, run.stderr
    writes = kit.writes(mark)
    assert len(writes) == 1 and writes[0]["path"].endswith("/owners/$ref")
    assert writes[0]["status"] == 503
    state = kit.sim.state()
    group = next(g for g in state["groups"] if g["mailNickname"] == "crisiskit-aubagne")
    noel = next(u for u in state["users"] if u["userPrincipalName"].startswith("noel.chene"))
    assert noel["id"] in group["owners"]
