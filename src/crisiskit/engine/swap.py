"""`devices swap`: a lent device lost or broken, replaced for the same account.

    lock → local facts (loans, holds, lendable stock) → locate (whose, replacement, what an
    earlier run did) → the account's phone methods (phones) → plan → refusals → (confirm)
    → run "swap": the one executor (loan closed and held, new loan, phone method's number)
    → the addendum to the handover sheet (md, html, pdf) beside the sheet

An exercise calls `swap(ctx, asset, reason=..., to=...)` in-process; the CLI is a thin
wrapper. The plan is `crisiskit.plan.swap`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from crisiskit.engine.context import Context, desired
from crisiskit.engine.executor import Executor
from crisiskit.engine.run import NoLock, recorded, refuse
from crisiskit.engine.session import RunSession
from crisiskit.plan.accounts import AccountView, observe_accounts
from crisiskit.plan.desired import tag_property
from crisiskit.plan.swap import HOLDS, KIND, Reason, SwapFacts, SwapPlan, locate, swap_plan


@dataclass
class SwapReport:
    """What `devices swap` did (or would do)."""

    plan: SwapPlan
    executed: bool = False
    confirmed: bool = True
    resumed: list[int] = field(default_factory=list)
    addendum: dict[str, Path] = field(default_factory=dict)  # "md" | "html" | "pdf" -> path
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "commune": self.plan.commune,
            "executed": self.executed,
            "ok": self.ok,
            "plan": self.plan.to_json(),
            "addendum": {k: str(v) for k, v in self.addendum.items()},
            "failures": self.failures,
            "resumed_runs": self.resumed,
        }


def swap_facts(ctx: Context) -> SwapFacts:
    """Read the stock's local facts: the commune's loans, every open loan, the holds."""
    from crisiskit.devices import device_views

    store, inventory = ctx.store, ctx.setup.inventory
    open_loans = store.open_loans()
    holds = store.device_holds()
    views = device_views(inventory, open_loans, holds)
    return SwapFacts(
        loans=store.loans(ctx.commune),
        open_loans=open_loans,
        holds=holds,
        lendable=frozenset(v.asset_tag for v in views if v.state == "available"),
        states={v.asset_tag: v.state for v in views},
    )


async def plan_swap(ctx: Context, asset: str, reason: Reason, to: str | None) -> SwapPlan:
    """Decide the swap from the local state, read the account's phone methods, plan."""
    setup = ctx.setup
    located = locate(setup.inventory, ctx.commune, asset, to, swap_facts(ctx))
    account: AccountView | None = None
    register = bool(setup.playbook.register_phone)
    if located.upn and located.old.kind == "phone" and register and not located.refusals:
        tag = tag_property(setup.inventory.tenant.client_id)
        views = await observe_accounts(
            ctx.graph, tag, ctx.commune, [located.upn], with_phones=True
        )
        account = views[located.upn]
    return swap_plan(ctx.commune, located, reason, account, register_phone=register,
                     playbook=setup.playbook.name)


async def swap(
    ctx: Context,
    asset: str,
    *,
    reason: Reason = "lost",
    to: str | None = None,
    dry_run: bool = False,
    show_plan: Callable[[SwapPlan], None] = lambda plan: None,
    confirm: Callable[[SwapPlan], bool] | None = None,
) -> SwapReport:
    """Plan, check, confirm and run one swap under the commune's lock; write the addendum."""
    lock = NoLock() if dry_run else ctx.lock
    async with lock.hold(ctx.commune, KIND):
        planned = await plan_swap(ctx, asset, reason, to)
        report = SwapReport(plan=planned)
        show_plan(planned)
        if dry_run:
            return report
        if planned.refusals:
            refuse(ctx, KIND, planned.refusals, "swap refused, nothing was changed")
        if confirm is not None and not planned.empty:
            if not await asyncio.to_thread(confirm, planned):
                report.confirmed = False
                return report
        async with recorded(ctx, KIND, playbook=ctx.setup.playbook.name) as run:
            report.resumed = run.resumed
            session = RunSession(ctx, run.journal)
            execution = await Executor(session).run(planned.plan)
            report.executed = True
            report.failures = list(execution.failures)
            s = planned.swap
            run.finish(execution.ok, {
                "ok": execution.ok,
                "old": s.old.asset_tag,
                "new": s.new.asset_tag if s.new else None,
                "upn": s.upn,
                "reason": reason,
                "failures": report.failures,
            })
        if report.ok:
            report.addendum = write_swap_addendum(ctx, planned)
        return report


def write_swap_addendum(ctx: Context, planned: SwapPlan) -> dict[str, Path]:
    """Write the addendum to the handover sheet for a swap that is complete."""
    from crisiskit.documents.addendum import AddendumDevice, SwapAddendum, write_addendum
    from crisiskit.documents.handover import HandoverCommune, HandoverContact, first_activation
    from crisiskit.documents.render import identity_of

    s = planned.swap
    assert s.new is not None and s.upn is not None
    setup, store = ctx.setup, ctx.store
    back = [lo for lo in store.loans(ctx.commune) if lo.asset_tag == s.old.asset_tag
            and lo.upn == s.upn and lo.returned_at]
    # The swap's time is the old loan's return: the same on every rerun, so is the file.
    returned = back[-1].returned_at if back else None
    replaced_at = datetime.fromisoformat(returned) if returned else ctx.clock.now()
    hold = store.device_holds().get(s.old.asset_tag)
    kit = desired(setup, store, ctx.clock.now())
    holder = next((u for u in kit.users if u.upn == s.upn), None)
    has_phone_step = any(st.kind == "phone_method" for st in planned.plan.steps)
    c, m = setup.commune, setup.inventory.metropole

    def device(d: Any) -> AddendumDevice:
        return AddendumDevice(kind=d.kind, asset_tag=d.asset_tag, model=d.model,
                              serial=d.serial, phone_number=d.number)

    addendum = SwapAddendum(
        commune=HandoverCommune(name=c.name, insee=c.insee, address=c.address, mayor=c.mayor),
        activated_at=first_activation(store.runs(c.id)),
        replaced_at=replaced_at,
        reason=planned.reason,
        old_state=hold.state if hold is not None and hold.state in HOLDS.values()
        else HOLDS[planned.reason],
        holder=f"{holder.given_name} {holder.surname}" if holder else s.upn,
        holder_role=holder.role if holder else "agent",
        holder_upn=s.upn,
        old=device(s.old),
        new=device(s.new),
        phone_method=s.new.number if has_phone_step else None,
        metropole_contact=HandoverContact(name=m.name, email=m.email, phone=m.phone),
        commune_correspondent=HandoverContact(
            name=c.correspondent.name, email=c.correspondent.email, phone=c.correspondent.phone
        ),
        metropole_signatory=m.signatory,
        metropole_signatory_title=m.signatory_title,
        audit_anchor=store.audit_head(),
    )
    written = write_addendum(setup.outputs, addendum, identity_of(m), signer=setup.signer)
    return dict(written.paths)
