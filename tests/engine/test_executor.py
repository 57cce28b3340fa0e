"""The generic executor: dependency order, coalesced batches, skips, optional refs, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from planrun import DOMAIN, ROOT, TAG, execute, sub_requests, user

from crisiskit.plan.model import Plan, PlanError, Ref, Step, step
from crisiskit.resources.groups import GroupCreate
from crisiskit.resources.taps import TapCreate
from crisiskit.resources.users import UserCreate
from crisiskit.sim.server import EmbeddedSimulator
from crisiskit.state import Store


def _tap(upn: str) -> Step:
    return step("tap", "create", upn, TapCreate(Ref(f"user:{upn}"), upn, upn, 60, False))


def test_ready_steps_of_one_kind_share_batches_and_wait_for_their_dependencies(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    names = [f"agent{i:02d}.crise" for i in range(25)]
    upns = [f"{n}@{DOMAIN}" for n in names]
    steps = [step("user", "create", upn, user(n)) for n, upn in zip(names, upns, strict=True)]
    steps += [_tap(upn) for upn in upns]
    mark = len(sim.requests())
    ran = execute(sim, tmp_path, steps)
    assert ran.execution.ok, ran.execution.failures
    assert len(ran.passes) == 25
    # 25 creates then 25 passes: 20 + 5 and 20 + 5 sub-requests, four $batch calls in all.
    assert ran.stats.batches == 4 and ran.stats.sub_requests == 50
    log = sub_requests(sim, mark)
    posts = [n for n, r in enumerate(log) if r["method"] == "POST" and r["path"] == "/users"]
    taps = [n for n, r in enumerate(log) if r["path"].endswith("temporaryAccessPassMethods")]
    assert len(posts) == 25 and len(taps) == 25 and max(posts) < min(taps)


def test_a_failed_step_skips_what_needs_it_and_nothing_else(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    good = f"ana.bonne@{DOMAIN}"
    bad = "ana.mauvaise@unverified.example"  # not a verified domain: 400
    bad_user = UserCreate(bad, "anamauvaise", "Ana", "Ana", "M", "FR", TAG, "aubagne")
    group = GroupCreate(
        "crisiskit-skip", "Skip", "d", TAG, "aubagne", ROOT,
        owners=(Ref(f"user:{good}", optional=True), Ref(f"user:{bad}", optional=True)),
    )
    ran = execute(sim, tmp_path, [
        step("user", "create", good, user("ana.bonne")),
        step("user", "create", bad, bad_user),
        _tap(good),
        _tap(bad),
        step("group", "create", "crisiskit-skip", group),
    ])
    r = ran.execution.results
    assert r[f"user:{bad}"].status == "failed"
    assert r[f"tap:{bad}"].status == "skipped"
    assert r[f"tap:{good}"].status == "done"
    assert r["group:crisiskit-skip"].status == "done"  # the failed owner was left out
    # Graph's own words, its code and the request-id, not a bare status (issue 9).
    [failure] = ran.execution.failures
    assert failure.startswith(f"user {bad}: HTTP 400 Request_BadRequest: "), failure
    assert "domain" in failure.lower() and "(request-id " in failure, failure
    made = next(g for g in sim.state()["groups"] if g["mailNickname"] == "crisiskit-skip")
    assert made["owners"] == [r[f"user:{good}"].id]
    with Store.open(tmp_path) as store:
        rows = store.steps(store.runs("aubagne")[0].id)
    assert ("tap", bad, "skipped") in {(s.kind, s.key, s.status) for s in rows}


def test_invalid_plans_are_refused_before_any_request(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    upn = f"ana.bonne@{DOMAIN}"
    mark = len(sim.requests())
    with pytest.raises(PlanError, match="circular"):
        execute(sim, tmp_path, [
            Step("user", "create", upn, user("ana.bonne"), ("tap:" + upn,)),
            _tap(upn),
        ])
    with pytest.raises(PlanError, match="no 'export' verb"):
        execute(sim, tmp_path, [Step("user", "export", upn)])
    with pytest.raises(PlanError, match="does not depend on"):
        execute(sim, tmp_path, [
            step("user", "create", upn, user("ana.bonne")),
            Step("tap", "create", upn, TapCreate(Ref(f"user:{upn}"), upn, upn, 60, False)),
        ])
    assert sim.requests()[mark:] == []


def test_plans_render_as_data_and_text_whatever_their_actions(capsys) -> None:
    from crisiskit import console

    upn = f"ana.bonne@{DOMAIN}"
    plan = Plan("teardown", "aubagne", [
        step("tap", "delete", upn, None, detail="pass of a leaver"),
        step("user", "disable", upn, None, after=("tap:" + upn,)),
        step("user", "delete", upn, None, id="user:delete", after=("user:" + upn,)),
    ])
    plan.validate()
    data = plan.to_json()
    assert data["counts"] == {"tap": {"delete": 1}, "user": {"delete": 1, "disable": 1}}
    assert data["steps"][2]["depends_on"] == [f"user:{upn}"]
    assert not data["empty"]
    console.render_plan(plan)
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "kind" in line)
    columns = [c.strip() for c in header.strip("┃ ").split("┃")]
    assert columns == ["kind", "disable", "delete"]
    assert f"  - Temporary Access Pass {upn}  (pass of a leaver)" in out
    assert f"  / account {upn}" in out
    assert out.splitlines()[0] == "Plan: teardown aubagne"
    assert out.splitlines()[-1] == (
        "Summary: to delete: 1 Temporary Access Pass, 1 account; to disable: 1 account."
    )
