"""Several communes at once from one home, in several processes: devices and seats.

Two `crisiskit activate` processes share one `CRISISKIT_HOME` (one state database) and one
tenant, for two different communes, started together. Each decides its devices and checks its
seats in one write transaction that sees the other's reservations: they never lend the same
device, never both start when the seats cover only one, and never say "database is locked".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from faultkit import (
    SAMPLE_INVENTORY,
    CliResult,
    SimServer,
    child_env,
    loan_account,
    loan_asset,
    open_loans,
    start_cli,
)

LATENCY_MS = 40
FIRST, SECOND = "aubagne", "aix-en-provence"  # 12 and 4 accounts; 17 and 7 devices


def together(tmp_path: Path, sim: SimServer, communes: tuple[str, ...]) -> dict[str, CliResult]:
    env = child_env(tmp_path / "home", SAMPLE_INVENTORY, sim.base_url)
    runs = {c: start_cli(["activate", c, "--yes"], env, tmp_path, c) for c in communes}
    return {c: r.wait(timeout=180) for c, r in runs.items()}


@pytest.mark.slow
def test_two_communes_at_once_from_one_home_never_lend_the_same_device(tmp_path: Path) -> None:
    sim = SimServer(tmp_path / "sim", SAMPLE_INVENTORY, knobs={"latency_ms": LATENCY_MS})
    try:
        results = together(tmp_path, sim, (FIRST, SECOND))
        for commune, res in results.items():
            assert res.returncode == 0, f"{commune}:\n{res}"
            assert "database is locked" not in res.stderr + res.stdout
        home = tmp_path / "home"
        loans = open_loans(home)
        tags = [loan_asset(x) for x in loans]
        assert len(tags) == len(set(tags)), f"a device is lent twice: {sorted(tags)}"
        by_commune: dict[str, list[str]] = {}
        for loan in loans:
            by_commune.setdefault(str(loan["commune"]), []).append(loan_account(loan))
        assert len(by_commune[FIRST]) == 17 and len(by_commune[SECOND]) == 7, by_commune
        # The loans are each commune's own accounts, and nothing stays reserved.
        assert all(upn.endswith("@crise.ampmetropole.fr") for u in by_commune.values() for upn in u)
        import sqlite3

        db = sqlite3.connect(home / "state.db")
        try:
            assert db.execute("SELECT COUNT(*) FROM reservations").fetchone() == (0,)
        finally:
            db.close()
    finally:
        sim.close()


@pytest.mark.slow
def test_seats_for_only_one_of_two_communes_let_exactly_one_start(tmp_path: Path) -> None:
    workdir = tmp_path / "sim"
    first = SimServer(workdir, SAMPLE_INVENTORY)
    first.seed({"users": [{"userPrincipalName": "placeholder@crise.ampmetropole.fr",
                           "displayName": "Placeholder"}]})  # the tenant file is written
    first.close()
    state = json.loads((workdir / "tenant.json").read_text(encoding="utf-8"))
    for sku in state["tenant"]["skus"].values():
        sku["prepaidUnits"]["enabled"] = sku.get("consumedUnits", 0) + 15  # 12 + 4 = 16 > 15
    (workdir / "tenant.json").write_text(json.dumps(state), encoding="utf-8")
    sim = SimServer(workdir, SAMPLE_INVENTORY, knobs={"latency_ms": LATENCY_MS})
    try:
        results = together(tmp_path, sim, (FIRST, SECOND))
        codes = sorted(r.returncode for r in results.values())
        assert codes == [0, 3], "\n".join(str(r) for r in results.values())
        refused = next(r for r in results.values() if r.returncode == 3)
        started = next(c for c, r in results.items() if r.returncode == 0)
        assert "not enough O365_BUSINESS_PREMIUM licences" in refused.stderr, str(refused)
        if "reserved by activations in progress" in refused.stderr:
            # Planned while the other run still had seats to assign: its reservation counted.
            assert f"{started} (pid " in refused.stderr, str(refused)
        else:
            # Planned once the other run had assigned all its seats: the tenant's own count.
            [(needed, free)] = re.findall(r"(\d+) needed, (\d+) free", refused.stderr)
            assert int(needed) > int(free), str(refused)
        assert "Traceback" not in refused.stderr
        skus = sim.state()["subscribedSkus"]
        assert all(s["consumedUnits"] <= s["prepaidUnits"]["enabled"] for s in skus)
    finally:
        sim.close()
