"""Each behaviour knob, shown to have its effect over a real loopback socket."""

from __future__ import annotations

import time

import httpx
import pytest
from simhelp import create_group, create_user, error_code, user_body

from crisiskit.sim.profiles import Profile
from crisiskit.sim.server import EmbeddedSimulator


def upns(sim) -> list[str]:
    return [u["userPrincipalName"] for u in sim.state()["users"]]


def test_named_profiles_and_scale():
    instant = Profile.named("instant").to_json()
    policy = ("scale", "name", "deleted_retention_s")  # 30 days in every profile
    assert all(v == 0 for k, v in instant.items() if k not in policy)
    hostile_retention = Profile.named("hostile").deleted_retention_s
    assert instant["deleted_retention_s"] == hostile_retention == 30 * 86400
    realistic = Profile.named("realistic")
    half = Profile.named("realistic", scale=0.5)
    assert realistic.replication_lag_s > 0 and realistic.mailbox_delay_s > 0
    assert half.mailbox_delay_s == realistic.mailbox_delay_s / 2
    hostile = Profile.named("hostile")
    assert hostile.throttle_rate > 0 and hostile.drop_rate > 0 and hostile.commit_then_5xx_rate > 0
    with pytest.raises(ValueError, match="unknown profile knob"):
        hostile.update(nonsense=1)
    with pytest.raises(ValueError):
        Profile.named("chaotic")
    half.update(scale=1.0)
    assert half.mailbox_delay_s == realistic.mailbox_delay_s


def test_latency_ms_delays_each_request(sim):
    sim.set_profile(latency_ms=150)
    with sim.client() as c:
        start = time.monotonic()
        c.get("users")
        elapsed = time.monotonic() - start
    assert elapsed >= 0.15


def test_throttle_gives_429_with_retry_after_per_client(sim):
    sim.set_profile(throttle_rate=0.5, throttle_burst=2)
    with sim.client() as c, sim.client(token="another-client") as other:
        statuses = [c.get("users").status_code for _ in range(3)]
        third = c.get("users")
        other_status = other.get("users").status_code
    assert statuses[:2] == [200, 200] and statuses[2] == 429
    assert third.status_code == 429 and error_code(third) == "TooManyRequests"
    assert float(third.headers["Retry-After"]) > 0  # seconds, with fractions ("1.998")
    assert other_status == 200


def test_transient_5xx_happens_before_any_effect(sim):
    sim.set_profile(transient_5xx_rate=1)
    with sim.client() as c:
        resp = c.post("users", json=user_body("transient.one"))
    assert resp.status_code in (503, 504)
    assert "transient.one@crise.ampmetropole.fr" not in upns(sim)


def test_commit_then_5xx_applies_the_write_then_fails(sim):
    sim.set_profile(commit_then_5xx_rate=1)
    with sim.client() as c:
        resp = c.post("users", json=user_body("committed.one"))
        read = c.get("users")  # reads are not affected
    assert resp.status_code == 503 and error_code(resp) == "serviceNotAvailable"
    assert "committed.one@crise.ampmetropole.fr" in upns(sim)
    assert read.status_code == 200
    entry = sim.requests()[0]
    assert entry["status"] == 503 and entry["committed"] is True


def http_implementations() -> list[str]:
    """Return uvicorn's HTTP implementations installed here (h11 always; httptools maybe)."""
    import importlib.util

    return ["h11"] + (["httptools"] if importlib.util.find_spec("httptools") else [])


@pytest.mark.parametrize("http", http_implementations())
def test_drop_closes_the_connection_after_the_write(sample_inventory, http):
    with EmbeddedSimulator(sample_inventory, http=http) as sim:
        sim.set_profile(drop_rate=1)
        with sim.client() as c:
            with pytest.raises(httpx.RemoteProtocolError):
                c.post("users", json=user_body("dropped.one"))
            with pytest.raises(httpx.RemoteProtocolError):
                c.get("users")  # reads are dropped too, without effect
        assert "dropped.one@crise.ampmetropole.fr" in upns(sim)
        assert [e["dropped"] for e in sim.requests()] == [True, True]


def test_replication_lag_makes_young_objects_404_by_id(sim):
    sim.set_profile(replication_lag_s=60, replication_404_rate=1)
    with sim.client() as c:
        user = create_user(c, "young.one")
        young = c.get(f"users/{user['id']}")
        sim.advance(61)
        old = c.get(f"users/{user['id']}")
    assert young.status_code == 404 and error_code(young) == "Request_ResourceNotFound"
    assert old.status_code == 200


def test_replication_lag_makes_member_adds_to_young_groups_fail(sim):
    with sim.client() as c:
        owner = create_user(c, "owner.lag")
        member = create_user(c, "member.lag")
        sim.set_profile(replication_lag_s=60, replication_404_rate=1)
        group = create_group(c, "lag-group", owner["id"])
        ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{member['id']}"}
        young = c.post(f"groups/{group['id']}/members/$ref", json=ref)
        sim.advance(61)
        old = c.post(f"groups/{group['id']}/members/$ref", json=ref)
    assert young.status_code in (400, 404)
    assert old.status_code == 204


def test_mailbox_delay(sim):
    sim.set_profile(mailbox_delay_s=30)
    sku = sim.state()["subscribedSkus"][0]["skuId"]
    with sim.client() as c:
        user = create_user(c, "mailbox.one", usageLocation="FR")
        lic = c.post(
            f"users/{user['id']}/assignLicense",
            json={"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []},
        )
        early = c.get(f"users/{user['id']}/mailboxSettings")
        sim.advance(31)
        late = c.get(f"users/{user['id']}/mailboxSettings")
    assert lic.status_code == 200
    assert early.status_code == 404 and error_code(early) == "MailboxNotEnabledForRESTAPI"
    assert late.status_code == 200


def test_site_delay(sim):
    sim.set_profile(site_delay_s=30)
    with sim.client() as c:
        owner = create_user(c, "site.owner")
        group = create_group(c, "site-group", owner["id"])
        early = c.get(f"groups/{group['id']}/drive")
        sim.advance(31)
        late = c.get(f"groups/{group['id']}/drive")
    assert early.status_code == 404
    assert late.status_code == 200


def test_team_op_s(sim):
    sim.set_profile(team_op_s=30)
    with sim.client() as c:
        owner = create_user(c, "team.owner")
        group = create_group(c, "team-group", owner["id"])
        resp = c.post(
            "teams",
            json={
                "template@odata.bind": "https://graph.microsoft.com/v1.0/teamsTemplates('standard')",
                "group@odata.bind": f"https://graph.microsoft.com/v1.0/groups('{group['id']}')",
            },
        )
        assert resp.status_code == 202, resp.text
        location = resp.headers["Location"]
        early = c.get(location.lstrip("/")).json()["status"]
        sim.advance(31)
        late = c.get(location.lstrip("/")).json()["status"]
    assert early in ("notStarted", "inProgress")
    assert late == "succeeded"


def test_realistic_models_both_team_paths(sim):
    """Team from a new group: 404 for the young-group window, then the operation's duration;
    from scratch (team-post.md example 2): accepted at once, the same operation's duration."""
    sim.set_profile(profile="realistic", scale=1.0)
    realistic = Profile.named("realistic")
    template = "https://graph.microsoft.com/v1.0/teamsTemplates('standard')"
    with sim.client() as c:
        owner = create_user(c, "both.paths")
        group = create_group(c, "both-paths", owner["id"])
        bind = f"https://graph.microsoft.com/v1.0/groups('{group['id']}')"
        young = c.post("teams", json={"template@odata.bind": template, "group@odata.bind": bind})
        assert young.status_code == 404  # the group is younger than replication_lag_s
        member = {"@odata.type": "#microsoft.graph.aadUserConversationMember",
                  "roles": ["owner"],
                  "user@odata.bind": f"https://graph.microsoft.com/v1.0/users('{owner['id']}')"}
        scratch = c.post("teams", json={
            "template@odata.bind": template, "displayName": "Tout de suite", "members": [member],
        })
        assert scratch.status_code == 202
        op = scratch.headers["Location"].lstrip("/")
        assert c.get(op).json()["status"] != "succeeded"
        sim.advance(realistic.team_op_s)
        assert c.get(op).json()["status"] == "succeeded"
        sim.advance(realistic.replication_lag_s)
        grown = c.post("teams", json={"template@odata.bind": template, "group@odata.bind": bind})
        assert grown.status_code == 202
        op = grown.headers["Location"].lstrip("/")
        assert c.get(op).json()["status"] != "succeeded"
        sim.advance(realistic.team_op_s)
        assert c.get(op).json()["status"] == "succeeded"


def run_scripted(inventory, seed: int) -> tuple[list[str], list[int]]:
    with EmbeddedSimulator(inventory, seed=seed) as s:
        s.set_profile(transient_5xx_rate=0.3, commit_then_5xx_rate=0.3)
        statuses = []
        with s.client() as c:
            for i in range(12):
                statuses.append(c.post("users", json=user_body(f"det.{i}")).status_code)
        return [u["id"] for u in s.state()["users"]], statuses


def test_seed_makes_ids_and_faults_reproducible(sample_inventory):
    first = run_scripted(sample_inventory, 42)
    again = run_scripted(sample_inventory, 42)
    other = run_scripted(sample_inventory, 43)
    assert first == again
    assert first != other
    assert {201, 503} <= set(first[1])


def test_named_profile_and_tap_policy_switch_at_runtime(sim):
    resp = httpx.put(
        f"{sim.root_url}/_sim/profile",
        json={"profile": "hostile", "scale": 0.1, "tapPolicyEnabled": False},
    )
    assert resp.status_code == 200
    knobs = resp.json()
    assert knobs["name"] == "hostile" and knobs["drop_rate"] > 0
    assert knobs["mailbox_delay_s"] == pytest.approx(Profile.named("hostile").mailbox_delay_s / 10)
    assert sim.state()["tapPolicyEnabled"] is False
    sim.reset()
    assert sim.state()["tapPolicyEnabled"] is True
    assert httpx.get(f"{sim.root_url}/_sim/profile").json()["name"] == "instant"
