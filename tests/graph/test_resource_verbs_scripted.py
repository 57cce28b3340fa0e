"""Day-2's revoke verb, run by the real executor against a scripted Graph on loopback.

The simulator does not serve `revokeSignInSessions` yet, so this Graph is scripted from the
reference (api-reference/v1.0/api/user-revokesigninsessions.md: `POST
/users/{id}/revokeSignInSessions`, no body, 200 `{"value": true}`), including a 503 first:
the verb is repeatable, so the executor re-sends it rather than giving up or looking it up.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from graph_scripted import FAST, Seen, ok

from crisiskit.clock import ManualClock
from crisiskit.engine.context import Context, load_setup
from crisiskit.engine.executor import Executor
from crisiskit.engine.run import FileLock, recorded
from crisiskit.engine.session import RunSession
from crisiskit.graph import open_graph
from crisiskit.plan.model import Plan, step
from crisiskit.resources.users import UserTarget, revoke_request
from crisiskit.state import Store

REPO = Path(__file__).resolve().parents[2]
UID = "7b3f0c52-0000-4000-8000-000000000001"


def test_revoke_request_is_the_documented_one() -> None:
    r = revoke_request(UserTarget(UID))
    assert (r.method, r.url, r.body) == ("POST", f"/users/{UID}/revokeSignInSessions", None)
    assert r.idempotent is True  # revoking twice revokes nothing more: safe to re-send


def test_revoke_is_resent_after_a_503_and_reported_done(serve: Any, tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []

    def graph(seen: Seen) -> Any:
        subs = seen.json()["requests"]
        calls.extend(subs)
        status, body = (503, None) if len(calls) == 1 else (200, {"value": True})
        return ok({"responses": [
            {"id": s["id"], "status": status, "headers": {}, "body": body} for s in subs
        ]})

    server = serve(graph)
    setup = load_setup(REPO / "inventory.yaml", REPO / "playbooks", tmp_path, "aubagne", None)

    async def main() -> Any:
        client = open_graph(None, base_url=server.base_url, token="t", policy=FAST)
        try:
            with Store.open(tmp_path) as store:
                ctx = Context(setup, store, client, FileLock(tmp_path), clock=ManualClock())
                async with recorded(ctx, "day2") as run:
                    session = RunSession(ctx, run.journal)
                    plan = Plan("day2", "aubagne", [step("user", "revoke", "leaver@x",
                                                         UserTarget(UID))])
                    ex = await Executor(session).run(plan)
                    run.finish(ex.ok, {})
                return ex, [e.action for e in store.audit_entries("aubagne")]
        finally:
            await client.aclose()

    ex, actions = asyncio.run(main())
    assert ex.ok and ex.results["user:leaver@x"].status == "done"
    assert [(c["method"], c["url"]) for c in calls] == [
        ("POST", f"/users/{UID}/revokeSignInSessions")
    ] * 2
    assert "body" not in calls[0]
    assert actions == ["day2.start", "graph.POST", "user.revoke", "day2.finish"]
