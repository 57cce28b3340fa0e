"""The state of a commune's crisis kit, read from the tenant and the local state (read-only).

Observation probes every mailbox of the commune's accounts, so readiness is re-checked each
time `status` runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crisiskit.engine.context import Context, desired, journaled
from crisiskit.engine.handover import credential_states
from crisiskit.plan.observe import observe
from crisiskit.state.api import StateStore


@dataclass
class AccountStatus:
    upn: str
    account: str  # present | absent | not ours
    licensed: bool
    mailbox: str  # ready | provisioning | -
    tap_in_tenant: bool
    tap_in_file: bool
    phone: str | None
    tap_valid_from: str | None = None  # the pass on file's window (ISO 8601), never the pass
    tap_valid_until: str | None = None


@dataclass
class KitStatus:
    commune: str
    accounts: list[AccountStatus]
    group: str
    team: str
    drive: str
    strays: list[str] = field(default_factory=list)
    loans: list[dict[str, str]] = field(default_factory=list)
    team_url: str | None = None
    drive_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "commune": self.commune,
            "accounts": [a.__dict__ for a in self.accounts],
            "group": self.group,
            "team": self.team,
            "team_url": self.team_url,
            "drive": self.drive,
            "drive_url": self.drive_url,
            "strays": self.strays,
            "loans": self.loans,
        }


def communes_with_a_kit(store: StateStore, home: Path, commune_ids: list[str]) -> list[str]:
    """Return the communes that have anything recorded: a run, an open loan, credentials."""
    return [
        cid
        for cid in commune_ids
        if store.runs(cid, limit=1)
        or store.open_loans(cid)
        or (home / "outputs" / cid / "credentials.csv").exists()
    ]


async def kit_status(ctx: Context) -> KitStatus:
    """Observe the commune's kit now, mailboxes included."""
    now = ctx.clock.now()
    kit = desired(ctx.setup, ctx.store, now)
    observed = await observe(
        ctx.graph, kit, clock=ctx.clock, rules=ctx.rules, created=journaled(ctx)
    )
    creds = credential_states(ctx.setup.credentials_path)
    ours = {upn for upn, o in observed.users.items() if o.tag == kit.commune_id}
    accounts = []
    for u in kit.users:
        o = observed.users.get(u.upn)
        state = "absent" if o is None else ("present" if u.upn in ours else "not ours")
        mbox = "-"
        if u.upn in ours:
            mbox = "ready" if observed.mailboxes.get(u.upn) else "provisioning"
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
                tap_valid_from=row.valid_from.isoformat() if row is not None else None,
                tap_valid_until=row.valid_until.isoformat() if row is not None else None,
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
        team_url=observed.team_url if observed.team_id else None,
        drive_url=observed.drive_url if observed.drive_id else None,
        strays=[s.upn for s in observed.strays],
        loans=[
            {"kind": lo.device_kind, "asset_tag": lo.asset_tag, "upn": lo.upn,
             "since": lo.loaned_at}
            for lo in ctx.store.open_loans(kit.commune_id)
        ],
    )
