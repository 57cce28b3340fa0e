"""The state of a commune's crisis kit, read from the tenant and the local state (read-only)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crisiskit.engine.activation import (
    Setup,
    compute_kit,
    connected,
    credential_states,
    endpoint,
    load_setup,
)
from crisiskit.plan.desired import DesiredKit
from crisiskit.plan.observe import Observed, observe
from crisiskit.resources import mailbox
from crisiskit.resources.base import send


@dataclass
class AccountStatus:
    upn: str
    account: str  # present | absent | not ours
    licensed: bool
    mailbox: str  # ready | provisioning | -
    tap_in_tenant: bool
    tap_in_file: bool
    phone: str | None


@dataclass
class KitStatus:
    commune: str
    accounts: list[AccountStatus]
    group: str
    team: str
    drive: str
    strays: list[str] = field(default_factory=list)
    loans: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "commune": self.commune,
            "accounts": [a.__dict__ for a in self.accounts],
            "group": self.group,
            "team": self.team,
            "drive": self.drive,
            "strays": self.strays,
            "loans": self.loans,
        }


async def kit_status(graph: Any, setup: Setup, kit: DesiredKit, loans: list[Any]) -> KitStatus:
    """Observe the kit and re-check every mailbox now."""
    observed: Observed = await observe(graph, kit)
    creds = credential_states(setup.credentials_path)
    now = datetime.now(UTC)
    ours = {upn: o for upn, o in observed.users.items() if o.tag == kit.commune_id}
    probes = {upn: mailbox.probe(f"m{i}", o.id) for i, (upn, o) in enumerate(ours.items())}
    answers = await send(graph, list(probes.values()))
    accounts = []
    for u in kit.users:
        o = observed.users.get(u.upn)
        state = "absent" if o is None else ("present" if u.upn in ours else "not ours")
        mbox = "-"
        if u.upn in probes:
            mbox = "ready" if answers[probes[u.upn].id].status == 200 else "provisioning"
        row = creds.get(u.upn)
        phones = observed.phones.get(u.upn, {})
        accounts.append(
            AccountStatus(
                upn=u.upn,
                account=state,
                licensed=bool(o and observed.sku_id and observed.sku_id in o.sku_ids),
                mailbox=mbox,
                tap_in_tenant=any(t.usable for t in observed.taps.get(u.upn, [])),
                tap_in_file=row is not None and row.valid_until > now,
                phone=phones["mobile"][1] if "mobile" in phones else None,
            )
        )
    group = observed.group
    group_state = "absent" if group is None else (
        "present" if group.tag == kit.commune_id else "not ours"
    )
    return KitStatus(
        commune=kit.commune_id,
        accounts=accounts,
        group=group_state,
        team="ready" if observed.team_id else "absent",
        drive="ready" if observed.drive_id else "not ready",
        strays=[s.upn for s in observed.strays],
        loans=[
            {"kind": lo.device_kind, "asset_tag": lo.asset_tag, "upn": lo.upn,
             "since": lo.loaned_at}
            for lo in loans
        ],
    )


def run_status(
    inventory_path: Path,
    playbooks_dir: Path,
    home: Path,
    commune: str | None,
    *,
    sandbox: bool,
) -> list[KitStatus]:
    """Return the status of one commune, or of every commune that has anything recorded."""
    from crisiskit.inventory import load_inventory
    from crisiskit.state import Store

    inventory = load_inventory(inventory_path)
    with Store.open(home) as store:
        if commune is not None:
            ids = [inventory.commune(commune).id]
        else:
            ids = [
                c.id
                for c in inventory.communes
                if store.runs(c.id, limit=1)
                or store.open_loans(c.id)
                or (home / "outputs" / c.id / "credentials.csv").exists()
            ]
        if not ids:
            return []
        setups = [load_setup(inventory_path, playbooks_dir, home, cid, None) for cid in ids]
        kits = [compute_kit(s, store, datetime.now(UTC)) for s in setups]
        loans = [store.open_loans(cid) for cid in ids]
        with endpoint(setups[0], sandbox) as (base_url, token):

            async def main() -> list[KitStatus]:
                async with connected(setups[0], base_url, token) as graph:
                    return [
                        await kit_status(graph, s, k, lo)
                        for s, k, lo in zip(setups, kits, loans, strict=True)
                    ]

            return asyncio.run(main())
