"""`credentials reissue`: a new Temporary Access Pass for named accounts of a commune.

    lock → kit → read the accounts and their passes → plan (delete, then create) → refusals
    → (confirm) → run "reissue": the one executor; each secret goes the moment it exists to
    a NEW credentials file (outputs/<commune>/credentials-reissue-<UTC>.csv, 0600; the
    activation's file is never touched) → one sign-in slip per account (PDF, 0600)

An exercise calls `reissue(ctx, upns)` in-process; the CLI is a thin wrapper. The plan is
`crisiskit.plan.reissue`; the run lifecycle, audit and journal are those of every operation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crisiskit.engine.context import Context, desired
from crisiskit.engine.executor import Executor
from crisiskit.engine.handover import credential_states
from crisiskit.engine.run import NoLock, recorded, refuse
from crisiskit.engine.session import RunSession
from crisiskit.errors import InputError, LeaseLost
from crisiskit.plan.accounts import observe_accounts
from crisiskit.plan.desired import DesiredKit
from crisiskit.plan.reissue import KIND, ReissuePlan, reissue_plan
from crisiskit.resources.taps import IssuedPass

SLIPS_PREFIX = "fiches-premiere-connexion-reissue-"


@dataclass
class ReissueReport:
    """What `credentials reissue` did (or would do)."""

    plan: ReissuePlan
    executed: bool = False
    confirmed: bool = True
    resumed: list[int] = field(default_factory=list)
    passes: list[IssuedPass] = field(default_factory=list)  # secrets stay Secrets
    credentials_path: Path | None = None
    slips_path: Path | None = None
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "commune": self.plan.commune,
            "executed": self.executed,
            "ok": self.ok,
            "plan": self.plan.to_json(),
            "reissued": [
                {"upn": p.upn, "valid_from": p.valid_from.isoformat(),
                 "valid_until": p.valid_until.isoformat()}
                for p in self.passes
            ],
            "credentials_file": str(self.credentials_path) if self.credentials_path else None,
            "signin_slips": str(self.slips_path) if self.slips_path else None,
            "failures": self.failures,
            "warnings": self.warnings,
            "resumed_runs": self.resumed,
        }


def account_names(kit: DesiredKit, names: Sequence[str], domain: str) -> list[str]:
    """Return the kit's UPNs for `names` (a UPN, or its part before the @), in order, once.

    A name that is not an account of the commune's kit is bad input (exit 2).
    """
    known = {u.upn for u in kit.users}
    out: list[str] = []
    unknown: list[str] = []
    for name in names:
        upn = name.strip().lower()
        if upn and "@" not in upn:
            upn = f"{upn}@{domain.lower()}"
        if upn not in known:
            unknown.append(name)
        elif upn not in out:
            out.append(upn)
    if unknown or not out:
        raise InputError(
            f"not an account of {kit.commune_id}'s crisis kit: {', '.join(unknown) or '(none)'}"
            " (see crisiskit status or the roster)"
        )
    return out


def new_file(directory: Path, prefix: str, stamp: str, suffix: str) -> Path:
    """Return `<prefix><stamp><suffix>` in `directory`, numbered if a file already has it."""
    path = directory / f"{prefix}{stamp}{suffix}"
    n = 2
    while path.exists() or path.is_symlink():
        path = directory / f"{prefix}{stamp}-{n}{suffix}"
        n += 1
    return path


def stamp_of(moment: datetime) -> str:
    """Return a UTC timestamp fit for a file name: 20261202T101500Z."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


async def plan_reissue(ctx: Context, names: Sequence[str]) -> tuple[DesiredKit, ReissuePlan]:
    """Read the named accounts and compute the reissue's plan (read-only)."""
    kit = desired(ctx.setup, ctx.store, ctx.clock.now())
    upns = account_names(kit, names, ctx.setup.inventory.tenant.upn_domain)
    views = await observe_accounts(
        ctx.graph, kit.tag, kit.commune_id, upns, with_taps=True
    )
    saved = {o.natural_key.lower(): o.graph_id for o in ctx.store.objects(kit.commune_id, "tap")}
    credentials = credential_states(ctx.setup.credentials_path)
    return kit, reissue_plan(kit, views, credentials, upns, saved)


async def reissue(
    ctx: Context,
    names: Sequence[str],
    *,
    dry_run: bool = False,
    show_plan: Callable[[ReissuePlan], None] = lambda plan: None,
    confirm: Callable[[ReissuePlan], bool] | None = None,
) -> ReissueReport:
    """Plan, check, confirm and run one reissue under the commune's lock."""
    lock = NoLock() if dry_run else ctx.lock
    async with lock.hold(ctx.commune, KIND) as held:
        kit, planned = await plan_reissue(ctx, names)
        report = ReissueReport(plan=planned)
        show_plan(planned)
        if dry_run:
            return report
        if planned.refusals:
            refuse(ctx, KIND, planned.refusals, "reissue refused, nothing was changed")
        if confirm is not None and not await asyncio.to_thread(confirm, planned):
            report.confirmed = False
            return report
        outputs = ctx.setup.outputs
        stamp = stamp_of(ctx.clock.now())
        path = new_file(outputs, "credentials-reissue-", stamp, ".csv")
        async with recorded(ctx, KIND, playbook=ctx.setup.playbook.name) as run:
            report.resumed = run.resumed
            session = RunSession(ctx, run.journal, save_passes=_sink(path, ctx.setup.home))
            execution = await Executor(session).run(planned.plan)
            report.executed = True
            report.passes = [
                r.values["pass"] for r in execution.of("tap", "done")
                if isinstance(r.values.get("pass"), IssuedPass)
            ]
            report.failures = list(execution.failures)
            report.warnings = list(execution.warnings)
            try:
                await held.confirm()  # never hand over passes of a run that lost the commune
            except LeaseLost as exc:
                raise _voided(ctx, run, exc, path, report.passes) from None
            if report.passes:
                report.credentials_path = path
                ctx.store.audit_append(
                    ctx.operator, ctx.commune, f"{KIND}.credentials", path.name, "written",
                    details={"run": str(run.id),
                             "accounts": ", ".join(p.upn for p in report.passes)},
                )
            run.finish(execution.ok, {
                "ok": execution.ok,
                "reissued": [p.upn for p in report.passes],
                "credentials_file": path.name if report.passes else None,
                "failures": report.failures,
            })
        if report.passes:
            slips = new_file(outputs, SLIPS_PREFIX, stamp, ".pdf")
            report.slips_path = write_slips(ctx, kit, report.passes, slips.name)
        return report


def _voided(
    ctx: Context, run: Any, exc: LeaseLost, path: Path, issued: Sequence[IssuedPass]
) -> LeaseLost:
    """Remove this run's file (it holds only its own passes), record why, and say it."""
    accounts = sorted(p.upn for p in issued)
    path.unlink(missing_ok=True)
    run.finish(False, {"error": "lease lost", "reason": str(exc), "voided_passes": accounts})
    ctx.store.audit_append(
        ctx.operator, ctx.commune, "credentials.voided", path.name, "voided",
        details={"accounts": ", ".join(accounts), "reason": str(exc)},
    )
    passes = (
        f"the {len(accounts)} Temporary Access Passes it issued are not valid: {path.name} "
        f"was removed ({', '.join(accounts)})" if accounts
        else "it issued no Temporary Access Pass"
    )
    return LeaseLost(
        f"{exc}. This run stopped writing and hands nothing over: {passes}. Once the run "
        f"holding the commune has finished, reissue them again"
    )


def _sink(path: Path, home: Path) -> Callable[[Sequence[IssuedPass]], None]:
    """Return where this run's passes go: its own new file (merged within the run only)."""
    from crisiskit.documents.credentials import CredentialRow, update_credentials

    def save(passes: Sequence[IssuedPass]) -> None:
        rows = [
            CredentialRow(p.upn, p.display_name, p.secret, p.valid_from, p.valid_until)
            for p in passes
        ]
        update_credentials(path, rows, root=home)

    return save


def write_slips(
    ctx: Context, kit: DesiredKit, passes: Sequence[IssuedPass], file_name: str
) -> Path | None:
    """Write one sign-in slip per reissued pass (one PDF, 0600) beside the new file."""
    from crisiskit.documents.render import identity_of
    from crisiskit.documents.slips import Helpdesk, SigninSlip, write_signin_slips

    setup = ctx.setup
    m = setup.inventory.metropole
    slips = []
    for p in passes:
        user = kit.user(p.upn)
        phone = kit.phone_for(p.upn)
        slips.append(
            SigninSlip(
                name=f"{user.given_name} {user.surname}",
                upn=p.upn,
                role=user.role,
                temporary_access_pass=p.secret,
                valid_from=p.valid_from,
                valid_until=p.valid_until,
                usable_once=kit.tap_usable_once,
                phone_number=phone.number if phone else None,
                phone_registered=kit.register_phone and phone is not None,
            )
        )
    return write_signin_slips(
        setup.outputs,
        slips,
        commune_name=setup.commune.name,
        identity=identity_of(m),
        helpdesk=Helpdesk(name=m.name, phone=m.phone, email=m.email),
        file_name=file_name,
        signer=setup.signer,
        created=ctx.clock.now(),
    )
