"""Several communes in one process (`activate A B C`, an exercise): one store, one client.

The activations run concurrently in one event loop and share one state store: each still
decides its devices against the others' reservations, so none lends another's device.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from engine_helpers import REPO, SAMPLE

from crisiskit.engine.activation import activate
from crisiskit.engine.claims import seats_elsewhere
from crisiskit.engine.context import Context, load_setup
from crisiskit.engine.run import FileLock
from crisiskit.graph import open_graph
from crisiskit.sim.server import EmbeddedSimulator
from crisiskit.state import Reservation, Store


def test_communes_activated_together_in_one_process_share_no_device(
    sim: EmbeddedSimulator, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    setups = [load_setup(SAMPLE, REPO / "playbooks", home, c, None)
              for c in ("aubagne", "aix-en-provence", "la-ciotat")]

    async def main() -> list[bool]:
        graph = open_graph(None, base_url=sim.base_url, token="together")
        try:
            with Store.open(home) as store:
                ctx = Context(setups[0], store, graph, FileLock(home), operator="ops",
                              wait_scale=0.01)
                runs = [dataclasses.replace(ctx, setup=s) for s in setups]
                reports = await asyncio.gather(*(activate(c) for c in runs))
                return [r.ok for r in reports]
        finally:
            await graph.aclose()

    assert asyncio.run(main()) == [True, True, True]
    with Store.open(home) as store:
        loans = store.open_loans()
        assert store.reservations() == []
    tags = [lo.asset_tag for lo in loans]
    assert len(tags) == len(set(tags)), sorted(tags)
    assert {lo.commune for lo in loans} == {"aubagne", "aix-en-provence", "la-ciotat"}


def _seats(holder: str, seats: int, sku: str = "SKU") -> Reservation:
    return Reservation(holder, f"c-{holder}", "seats", None, sku, seats, 100, None, "t")


def test_seats_elsewhere_never_undercounts() -> None:
    """Read before observing, or now if larger; a run gone since still counts (it may have
    assigned after we observed); other SKUs and devices do not count."""
    before = [_seats("a", 10), _seats("gone", 3), _seats("x", 9, sku="OTHER")]
    now = [_seats("a", 4), _seats("new", 2)]
    total, who = seats_elsewhere(before, now, "SKU")
    assert total == 10 + 3 + 2
    assert who == ["c-a (pid 100)", "c-gone (pid 100)", "c-new (pid 100)"]
    assert seats_elsewhere([], [], "SKU") == (0, [])
