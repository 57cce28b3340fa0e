"""Bind URLs come from the tenant's configured Graph root, national clouds included.

The requests travel to the simulator's loopback URL (the transport), while every
`@odata.bind` / `@odata.id` names objects under `tenant.graph_url`: here the US Government
cloud. The bodies are read where the simulator receives them.
"""

from __future__ import annotations

from typing import Any

import pytest
from engine_helpers import Kit, commune

US = "https://graph.microsoft.us/v1.0"


def test_team_group_and_member_binds_use_the_configured_graph_root(
    kit: Kit, write_inventory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def us_cloud(data: dict) -> None:
        data["tenant"]["graph_url"] = US
        data["tenant"]["authority_host"] = "https://login.microsoftonline.us"
        roster = commune(data, "aubagne")["roster"]
        roster.extend(
            {"given_name": f"Renfort{i}", "surname": "Crise", "role": "agent"} for i in range(12)
        )

    kit.inventory = write_inventory(us_cloud)
    seen: list[tuple[str, str, Any]] = []
    simulator = kit.sim.simulator
    dispatch = simulator.dispatch

    def spy(req: Any) -> Any:
        seen.append((req.method, req.path, req.body))
        return dispatch(req)

    monkeypatch.setattr(simulator, "dispatch", spy)
    run = kit.cli("activate", "aubagne", "--yes")
    assert run.exit_code == 0, run.stderr

    def bodies(method: str, path: str) -> list[dict[str, Any]]:
        return [b for m, p, b in seen if m == method and p.rstrip("/") == path]

    (team,) = bodies("POST", "/teams")
    assert team["template@odata.bind"] == f"{US}/teamsTemplates('standard')"
    assert "group@odata.bind" not in team  # created from scratch, with its group
    binds = [m["user@odata.bind"] for m in team["members"]]
    assert len(binds) == 20 and all(b.startswith(f"{US}/users('") for b in binds)
    assert bodies("POST", "/groups") == []
    patches = [b for m, p, b in seen if m == "PATCH" and p.startswith("/groups/")
               and "members@odata.bind" in b]
    assert patches  # 24 accounts: the 4 beyond the create's 20 are PATCHed
    assert all(u.startswith(f"{US}/directoryObjects/") for b in patches
               for u in b["members@odata.bind"])
    assert not any("graph.microsoft.com" in str(b) for _, _, b in seen)
