"""The Graph door against the Graph simulator over loopback, faults switched on by profile."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from crisiskit.graph import AmbiguousWrite, BatchItem, Graph, RetryPolicy, open_graph
from crisiskit.secrets import Secret
from crisiskit.sim.server import EmbeddedSimulator

T = TypeVar("T")
DOMAIN = "crise.ampmetropole.fr"  # the sample inventory's tenant.upn_domain
POLICY = RetryPolicy(max_attempts=8, deadline_s=20.0, base_delay_s=0.01, max_delay_s=0.05)


def on_sim(sim: EmbeddedSimulator, scenario: Callable[[Graph], Awaitable[T]], **kw: Any) -> T:
    async def main() -> T:
        graph = open_graph(None, base_url=sim.base_url, token=Secret(sim.token),
                           policy=kw.pop("policy", POLICY), **kw)
        try:
            return await scenario(graph)
        finally:
            await graph.aclose()

    return asyncio.run(main())


def new_user(nick: str) -> dict[str, Any]:
    return {
        "accountEnabled": True,
        "displayName": f"{nick} (Test)",
        "mailNickname": nick,
        "userPrincipalName": f"{nick}@{DOMAIN}",
        "usageLocation": "FR",
        "passwordProfile": {"password": Secret("Xy!9-long-random"),
                            "forceChangePasswordNextSignIn": False},
    }


def users_named(sim: EmbeddedSimulator, prefix: str) -> list[dict[str, Any]]:
    async def find(graph: Graph) -> list[Any]:
        return await graph.get_all(f"/users?$filter=startswith(mailNickname,'{prefix}')")

    return on_sim(sim, find)


def posts(sim: EmbeddedSimulator, path: str) -> list[dict[str, Any]]:
    return [r for r in sim.requests() if r["method"] == "POST" and r["path"].endswith(path)]


def test_create_then_read_back_by_upn(sim: EmbeddedSimulator) -> None:
    async def scenario(graph: Graph) -> tuple[Any, Any]:
        created = await graph.request("POST", "/users", body=new_user("ana.roux"))
        again = await graph.request("GET", f"/users/ana.roux@{DOMAIN}?$select=id,usageLocation")
        return created, again

    created, again = on_sim(sim, scenario)
    assert created.status == 201 and created.request_id
    assert again.body["id"] == created.body["id"] and again.body["usageLocation"] == "FR"


def test_commit_then_503_is_ambiguous_and_the_lookup_finds_one_user(
    sim: EmbeddedSimulator,
) -> None:
    sim.set_profile(commit_then_5xx_rate=1)
    with pytest.raises(AmbiguousWrite) as caught:
        on_sim(sim, lambda g: g.request("POST", "/users", body=new_user("bea.blanc")))
    assert caught.value.status == 503
    sim.set_profile(commit_then_5xx_rate=0)
    assert len(posts(sim, "/users")) == 1  # never retried blind
    found = [u["userPrincipalName"] for u in users_named(sim, "bea.blanc")]
    assert found == [f"bea.blanc@{DOMAIN}"]


def test_dropped_connection_on_create_is_ambiguous(sim: EmbeddedSimulator) -> None:
    sim.set_profile(drop_rate=1)
    with pytest.raises(AmbiguousWrite, match="connection dropped"):
        on_sim(sim, lambda g: g.request("POST", "/users", body=new_user("cle.noir")))
    sim.set_profile(drop_rate=0)
    assert len(posts(sim, "/users")) == 1
    assert len(users_named(sim, "cle.noir")) == 1


def test_transient_5xx_on_reads_are_retried_to_success(sim: EmbeddedSimulator) -> None:
    sim.set_profile(transient_5xx_rate=0.5)

    async def scenario(graph: Graph) -> tuple[list[int], int]:
        answers = [await graph.request("GET", "/subscribedSkus") for _ in range(8)]
        return [a.status for a in answers], graph.stats.retries

    statuses, retries = on_sim(sim, scenario, policy=RetryPolicy(12, 30.0, 0.01, 0.02))
    assert statuses == [200] * 8 and retries > 0


def test_45_users_by_batch_then_paged_back(sim: EmbeddedSimulator) -> None:
    items = [BatchItem(f"u{i}", "POST", "/users", body=new_user(f"bat.{i:02d}")) for i in range(45)]

    async def scenario(graph: Graph) -> tuple[dict[str, Any], list[Any], Any]:
        results = await graph.batch(items)
        listed = await graph.get_all(
            "/users?$filter=startswith(mailNickname,'bat.')&$select=id,mailNickname&$top=10"
        )
        return results, listed, graph.stats

    results, listed, stats = on_sim(sim, scenario)
    assert all(r.status == 201 for r in results.values())
    assert sorted(u["mailNickname"] for u in listed) == [f"bat.{i:02d}" for i in range(45)]
    assert stats.batches == 3 and stats.sub_requests == 45
    assert len(posts(sim, "/$batch")) == 3
    assert stats.http_requests == 3 + 5  # 3 batches, 5 pages of 10


def test_throttling_is_absorbed_and_honoured(sim: EmbeddedSimulator) -> None:
    sim.set_profile(throttle_rate=20, throttle_burst=4)

    async def scenario(graph: Graph) -> tuple[list[int], int]:
        calls = (graph.request("GET", "/subscribedSkus") for _ in range(12))
        answers = await asyncio.gather(*calls)
        return [a.status for a in answers], graph.stats.throttled

    statuses, throttled = on_sim(sim, scenario)
    assert statuses == [200] * 12
    assert throttled > 0
    log = sim.requests()
    assert sum(1 for r in log if r["status"] == 429) == throttled


def test_temporary_access_pass_from_the_simulator_is_a_secret(sim: EmbeddedSimulator) -> None:
    async def scenario(graph: Graph) -> Any:
        user = await graph.request("POST", "/users", body=new_user("dan.vert"))
        return await graph.request(
            "POST",
            f"/users/{user.body['id']}/authentication/temporaryAccessPassMethods",
            body={"lifetimeInMinutes": 60, "isUsableOnce": False},
        )

    tap = on_sim(sim, scenario)
    assert tap.status == 201
    secret = tap.body["temporaryAccessPass"]
    assert isinstance(secret, Secret) and len(secret.reveal()) >= 8
    assert secret.reveal() not in repr(tap)
