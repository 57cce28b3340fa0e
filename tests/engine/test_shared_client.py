"""Two operations in one process share one Graph client (one throttling budget), and each
run still audits exactly its own writes: the shape exercises and `activate A B C` need."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from engine_helpers import REPO, SAMPLE

from crisiskit.engine.activation import activate
from crisiskit.engine.context import Context, load_setup
from crisiskit.engine.run import FileLock
from crisiskit.graph import open_graph
from crisiskit.sim.server import EmbeddedSimulator
from crisiskit.state import Store


def test_two_communes_at_once_on_one_client(sim: EmbeddedSimulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = load_setup(SAMPLE, REPO / "playbooks", home, "aubagne", None)
    second = load_setup(SAMPLE, REPO / "playbooks", home, "pertuis", None)
    mark = len(sim.requests())

    async def main() -> tuple[list, int]:
        graph = open_graph(None, base_url=sim.base_url, token="shared")
        try:
            with Store.open(home) as store:
                ctx = Context(first, store, graph, FileLock(home), operator="exercise",
                              wait_scale=0.01)
                both = [ctx, dataclasses.replace(ctx, setup=second)]
                reports = await asyncio.gather(*(activate(c) for c in both))
                return list(reports), graph.stats.writes
        finally:
            await graph.aclose()

    reports, client_writes = asyncio.run(main())
    assert [r.ok for r in reports] == [True, True], [r.outcome.failures for r in reports]
    writes = [r for r in sim.requests()[mark:] if r["method"] != "GET" and r["path"] != "/$batch"]
    with Store.open(home) as store:
        audited = {
            c: [e for e in store.audit_entries(c) if e.action.startswith("graph.")]
            for c in ("aubagne", "pertuis")
        }
        assert store.audit_verify() == []
    # Each run audited its own writes, none twice, none lost, on the one shared client.
    assert [r.stats["writes"] for r in reports] == [len(audited["aubagne"]),
                                                    len(audited["pertuis"])]
    assert len(audited["aubagne"]) + len(audited["pertuis"]) == len(writes) == client_writes
    assert all(len(a) > 0 for a in audited.values())
