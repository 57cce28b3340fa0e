"""What each inject does: the production operations, called in-process with a `Context`.

    commune_hit       engine.activation.activate (rerun once or twice if incomplete, as an
                      operator would: a rerun resumes), then the time to operational
    agents_join       the roster with the newcomers (an in-memory inventory variant) → activate
    agent_leaves      the roster without the leaver → activate (disable, revoke, pass, loans)
    device_lost       engine.swap.swap on the device lent to the person (or the asset named)
    pass_reissue      engine.reissue.reissue
    end_of_forensics  engine.teardown.teardown: export (verified), then the kit deleted
    throttling_storm  the simulator's per-client rate lowered for the storm's duration

No second engine: each inject is one call of the operation the CLI runs, on the same store,
Graph client and throttling budget as every other commune of the exercise. An inject returns
an `Applied` (outcome, what happened, attempts); its Graph traffic is counted by the runner.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from crisiskit.errors import CrisisKitError, PreconditionFailed
from crisiskit.exercise.scenario import (
    AgentLeaves,
    AgentsJoin,
    DeviceLost,
    EndOfForensics,
    PassReissue,
)
from crisiskit.inventory.naming import roster_accounts
from crisiskit.secrets import Secret

if TYPE_CHECKING:
    from crisiskit.engine.context import Context, Setup
    from crisiskit.engine.report import ActivationReport
    from crisiskit.inventory.models import Person

Outcome = Literal["ok", "failed", "refused"]
ACTIVATION_ATTEMPTS = 3


class Tenant(Protocol):
    """The simulated tenant's control surface, as an exercise drives it (the CLI gives it)."""

    def set_knobs(self, knobs: Mapping[str, float]) -> None:
        """Change the simulator's profile knobs (faults, throttling rate)."""
        ...

    def knobs(self) -> dict[str, float]:
        """Return the simulator's profile knobs now (delays in seconds of the simulator)."""
        ...

    def sign_in(self, upn: str, secret: Secret | None) -> tuple[bool, str]:
        """Could this person sign in now (with this pass)? Return (allowed, reason)."""
        ...


@dataclass
class Applied:
    """What an inject did."""

    outcome: Outcome
    detail: str
    attempts: int = 1
    notes: list[str] = field(default_factory=list)  # failures met and how they were recovered


@dataclass
class Commune:
    """One commune of the exercise: its setup now (roster changes replace it), its passes."""

    setup: Setup
    passes: dict[str, Secret] = field(default_factory=dict)  # upn -> newest pass issued
    hit_at: float | None = None
    activated_at: float | None = None
    operational_at: float | None = None
    milestones: dict[str, float] = field(default_factory=dict)
    operational_failed: str = ""
    check_errors: list[str] = field(default_factory=list)  # readiness reads that failed

    @property
    def id(self) -> str:
        return self.setup.commune.id

    def accounts(self) -> dict[str, str]:
        """Return account name → UPN for the roster now (as activation names them)."""
        domain = self.setup.inventory.tenant.upn_domain
        return {a.upn.split("@")[0]: a.upn for a in roster_accounts(self.setup.commune, domain)
                if a.upn}

    def upn(self, name: str) -> str:
        return self.accounts()[name.split("@")[0].lower()]

    def with_roster(self, roster: list[Person]) -> Setup:
        """Return the setup with this roster: an in-memory variant of the inventory."""
        setup = self.setup
        commune = setup.commune.model_copy(update={"roster": roster})
        communes = [commune if c.id == commune.id else c for c in setup.inventory.communes]
        inventory = setup.inventory.model_copy(update={"communes": communes})
        return dataclasses.replace(setup, inventory=inventory, commune=commune)


ContextOf = Callable[["Commune"], "Context"]


async def activate_until_done(ctx: Context, commune: Commune) -> tuple[Applied, Any]:
    """Activate; an incomplete run is rerun (it resumes), at most ACTIVATION_ATTEMPTS times."""
    from crisiskit.engine.activation import activate

    notes: list[str] = []
    report: ActivationReport | None = None
    created = 0
    for attempt in range(1, ACTIVATION_ATTEMPTS + 1):
        try:
            # Concurrent communes never plan the same device: each activation claims its
            # devices in the store's write transaction (crisiskit.engine.claims).
            report = await activate(ctx)
        except PreconditionFailed as exc:
            return Applied("refused", one_line(exc), attempt, notes), None
        except CrisisKitError as exc:
            notes.append(f"tentative {attempt} interrompue ({one_line(exc)}), relancée")
            continue
        outcome = report.outcome
        for p in (outcome.passes if outcome else []):
            commune.passes[p.upn] = p.secret
        created += sum(outcome.created.values()) if outcome else 0
        if outcome is not None and outcome.ok:
            if attempt > 1:
                notes.append(f"reprise réussie à la tentative {attempt}")
            return Applied("ok", _activation_detail(report, created), attempt, notes), report
        failures = "; ".join(outcome.failures[:3]) if outcome else "aucun résultat"
        notes.append(f"tentative {attempt} incomplète ({failures}), relancée")
    return Applied("failed", "activation incomplète après "
                   f"{ACTIVATION_ATTEMPTS} tentatives", ACTIVATION_ATTEMPTS, notes), report


def _activation_detail(report: ActivationReport, created: int) -> str:
    outcome = report.outcome
    if outcome is None:
        return "rien à faire"
    parts = [f"{created} objet{'s' if created != 1 else ''} créé{'s' if created != 1 else ''}"]
    if outcome.left:
        parts.append(f"{len(outcome.left)} départ{'s' if len(outcome.left) != 1 else ''}")
    if outcome.mailboxes_pending:
        parts.append(f"{len(outcome.mailboxes_pending)} boîte(s) encore en préparation")
    return ", ".join(parts)


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] + ("…" if len(text) > 200 else "")


async def agents_join(inject: AgentsJoin, commune: Commune, ctx_of: ContextOf,
                      tenant: Tenant) -> Applied:
    """Add the newcomers to the roster, activate again, check they can sign in."""
    before = set(commune.accounts().values())
    commune.setup = commune.with_roster([*commune.setup.commune.roster, *inject.people])
    applied, _ = await activate_until_done(ctx_of(commune), commune)
    new = sorted(set(commune.accounts().values()) - before)
    if applied.outcome == "ok":
        refused = [f"{u} ({why})" for u in new
                   for ok, why in [tenant.sign_in(u, commune.passes.get(u))] if not ok]
        if refused:
            return Applied("failed", "ne peuvent pas se connecter : " + ", ".join(refused),
                           applied.attempts, applied.notes)
        applied.detail = f"{len(new)} arrivée(s) : {', '.join(new)}, connexion vérifiée"
    return applied


async def agent_leaves(inject: AgentLeaves, commune: Commune, ctx_of: ContextOf,
                       tenant: Tenant) -> Applied:
    """Remove the leaver from the roster, activate again, check they can no longer sign in."""
    upn = commune.upn(inject.person)
    leaving = next(a.person for a in roster_accounts(
        commune.setup.commune, commune.setup.inventory.tenant.upn_domain) if a.upn == upn)
    commune.setup = commune.with_roster(
        [p for p in commune.setup.commune.roster if p is not leaving])
    applied, _ = await activate_until_done(ctx_of(commune), commune)
    if applied.outcome == "ok":
        allowed, why = tenant.sign_in(upn, commune.passes.get(upn))
        if allowed:
            return Applied("failed", f"{upn} peut encore se connecter", applied.attempts,
                           applied.notes)
        applied.detail = f"{upn} désactivé, sessions révoquées (connexion refusée : {why})"
        commune.passes.pop(upn, None)
    return applied


async def device_lost(inject: DeviceLost, commune: Commune, ctx_of: ContextOf,
                      tenant: Tenant) -> Applied:
    """Swap the device: the one lent to the person, or the asset named."""
    from crisiskit.engine.swap import swap

    ctx = ctx_of(commune)
    asset = inject.asset
    if asset is None:
        upn = commune.upn(inject.person or "")
        lent = [lo.asset_tag for lo in ctx.store.open_loans(commune.id)
                if lo.upn == upn and lo.device_kind == inject.device]
        if not lent:
            return Applied("refused", f"aucun {_DEVICE[inject.device]} prêté à {upn}")
        asset = lent[0]
    try:
        report = await swap(ctx, asset, reason=inject.reason)
    except PreconditionFailed as exc:
        return Applied("refused", one_line(exc))
    if not report.ok:
        return Applied("failed", "; ".join(report.failures[:3]) or "remplacement incomplet")
    s = report.plan.swap
    new = s.new.asset_tag if s.new is not None else "?"
    return Applied("ok", f"{asset} remplacé par {new} pour {s.upn}, avenant écrit")


_DEVICE = {"phone": "téléphone", "laptop": "ordinateur"}


async def pass_reissue(inject: PassReissue, commune: Commune, ctx_of: ContextOf,
                       tenant: Tenant) -> Applied:
    """Reissue the passes, then check each person can sign in with the new one."""
    from crisiskit.engine.reissue import reissue

    try:
        report = await reissue(ctx_of(commune), list(inject.people))
    except PreconditionFailed as exc:
        return Applied("refused", one_line(exc))
    if report.failures:
        return Applied("failed", "; ".join(report.failures[:3]))
    for p in report.passes:
        commune.passes[p.upn] = p.secret
    refused = [f"{p.upn} ({why})" for p in report.passes
               for ok, why in [tenant.sign_in(p.upn, p.secret)] if not ok]
    if refused:
        return Applied("failed", "nouveau passe refusé : " + ", ".join(refused))
    names = ", ".join(p.upn for p in report.passes)
    return Applied("ok", f"nouveau passe pour {names}, connexion vérifiée")


async def end_of_forensics(inject: EndOfForensics, commune: Commune, ctx_of: ContextOf,
                           tenant: Tenant) -> Applied:
    """Teardown with export (engine.teardown): the data saved and verified, then the kit gone.

    Checked as the players would see it: the export verifies, and no account of the kit can
    sign in any more.
    """
    from pathlib import Path

    from crisiskit.engine.teardown import teardown
    from crisiskit.export.manifest import verify

    upns = sorted(set(commune.accounts().values()) | set(commune.passes))
    try:
        report = await teardown(ctx_of(commune))
    except PreconditionFailed as exc:
        return Applied("refused", one_line(exc))
    if report.export_blocked:
        return Applied("failed", f"suppression bloquée : {report.export_blocked}")
    if not report.ok:
        failures = report.execution.failures[:3] if report.execution else []
        return Applied("failed", "; ".join(failures) or "démontage incomplet")
    checked = verify(Path(report.export_root)) if report.export_root else None
    if checked is not None and not checked.ok:
        return Applied("failed", f"l'export ne se vérifie pas : {checked.summary()}")
    still = [u for u in upns if tenant.sign_in(u, commune.passes.get(u))[0]]
    if still:
        return Applied("failed", "peuvent encore se connecter : " + ", ".join(still))
    commune.passes.clear()
    exported = (f"export vérifié ({checked.checked} fichiers)" if checked is not None
                else "sans export")
    return Applied("ok", f"{exported}, kit supprimé, plus aucune connexion possible "
                   f"({len(upns)} comptes), attestation écrite")
