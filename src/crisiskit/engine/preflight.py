"""Checks made before a run's first write, and rebuilding a lost state from the tenant.

    check_state(ctx)        the local state is the one this home's outputs say it should be:
                            a missing or empty database beside earlier outputs refuses
                            (StateMismatch, exit 3), saying how to proceed
    check_outputs(setup)    the commune's output folder can be written (a probe file)
    adopt(ctx, kit, seen)   `activate --rebuild-state`: record in the journal what the tenant
                            holds of the kit (tagged accounts, group, team, channels, folders)
                            and the phone loans its MFA numbers prove

The sign-in is checked by the first request of every run, a read (the lease's), so a refused
login never gets as far as a write. All of this comes before the first Graph write.

Why refuse: a state database lost (or emptied) beside earlier outputs would be silently
rebuilt empty: devices already lent would be lent again and the audit chain would restart.
A backup restores everything; the tenant rebuilds only part of it (accounts, groups and
phones carry the commune's tag or number; laptop loans and the audit chain live nowhere
else), which `--rebuild-state` does when asked and says.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from crisiskit.errors import PreconditionFailed, StateMismatch

if TYPE_CHECKING:
    from crisiskit.engine.context import Context, Setup
    from crisiskit.plan.desired import DesiredKit
    from crisiskit.plan.observe import Observed
    from crisiskit.state.api import StateStore

UNRECORDED = "unrecorded:"  # the asset tag of a loan the tenant could not tell
# Files an earlier run leaves in a home, under outputs/<commune>/ (sandbox runs too; the
# sandbox's tenant file is not evidence: `--sandbox` creates it before any check).
EVIDENCE_GLOBS = ("outputs/*/credentials.csv", "outputs/*/fiche-de-remise.*",
                  "outputs/*/fiches-premiere-connexion.*")


def evidence(home: Path) -> list[str]:
    """Return the files (relative to `home`) that earlier runs of this home left behind."""
    found: set[str] = set()
    for pattern in EVIDENCE_GLOBS:
        for path in Path(home).glob(pattern):
            if path.is_file() and not path.is_symlink():
                found.add(str(path.relative_to(home)))
    return sorted(found)


def state_is_empty(store: StateStore) -> bool:
    """Tell whether the state records nothing at all: no run, no loan, no audit entry."""
    return not store.runs(limit=1) and not store.open_loans() and store.audit_count() == 0


def check_state(ctx: Context, *, command: str = "activate") -> None:
    """Refuse (StateMismatch) a missing or empty state database beside earlier outputs."""
    home = ctx.setup.home
    if not state_is_empty(ctx.store):
        return
    left = evidence(home)
    if not left:
        return
    shown = ", ".join(left[:4]) + (f" and {len(left) - 4} more" if len(left) > 4 else "")
    raise StateMismatch(
        f"the state database {home / 'state.db'} is missing or empty, but this home holds "
        f"the outputs of earlier runs ({shown}): going on would lend devices already lent "
        f"and restart the audit chain. Nothing was changed. Restore the database from your "
        f"backup into {home}, or rebuild it from the tenant: crisiskit {command} "
        f"{ctx.commune} --rebuild-state (it records the objects tagged for {ctx.commune} and "
        f"the phones registered on them; laptop loans and the audit chain cannot be rebuilt)"
    )


def check_rebuild(ctx: Context) -> None:
    """Allow `--rebuild-state` only where this home records nothing of the commune."""
    from crisiskit.errors import InputError

    if ctx.store.runs(ctx.commune, limit=1) or ctx.store.open_loans(ctx.commune):
        raise InputError(
            f"--rebuild-state: the state of {ctx.commune} in {ctx.setup.home / 'state.db'} is "
            "not empty (runs or loans are recorded): there is nothing to rebuild; run the "
            "command without --rebuild-state"
        )


def check_outputs(setup: Setup) -> None:
    """Refuse a run whose documents could not be written: probe the output folder first."""
    from crisiskit.state.files import atomic_write

    probe = setup.outputs / f".write-probe-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        atomic_write(probe, b"", 0o600, root=setup.home)
        probe.unlink()
    except OSError as exc:
        raise PreconditionFailed(
            f"cannot write in {setup.outputs} ({exc.strerror or exc}): the passes and the "
            "handover sheet would have nowhere to go. Nothing was changed: make the folder "
            "writable (or set CRISISKIT_HOME elsewhere), then run the command again"
        ) from None


@dataclass
class Adopted:
    """What `--rebuild-state` recorded, and what it could not."""

    objects: int = 0
    phone_loans: int = 0
    no_laptop: frozenset[str] = frozenset()  # accounts whose laptop is unknown (recorded so)
    notices: list[str] = field(default_factory=list)


def adopt(ctx: Context, kit: DesiredKit, observed: Observed) -> Adopted:
    """Record in the journal what the tenant holds of the kit (`activate --rebuild-state`)."""
    store, commune = ctx.store, ctx.commune
    ours = {upn: o for upn, o in observed.users.items() if o.tag == commune}
    recorded: list[tuple[str, str, str]] = [("user", upn, o.id) for upn, o in ours.items()]
    group = observed.group
    if group is not None and group.tag == commune and kit.group is not None:
        recorded.append(("group", kit.group.mail_nickname, group.id))
        if kit.team is not None and observed.team_id:
            recorded.append(("team", kit.team.display_name, observed.team_id))
            names = {c.name.lower(): c.name for c in kit.team.channels}
            recorded += [("channel", names[n], i) for n, i in observed.channels.items()
                         if n in names]
        folders = {f.lower(): f for f in kit.folders}
        recorded += [("folder", folders[n], i) for n, i in observed.folders.items()
                     if n in folders]
    lent = {lo.asset_tag for lo in store.open_loans()}
    phones = 0
    no_laptop = frozenset(u.upn for u in kit.users if u.needs_laptop and u.upn in ours)
    with store.transaction():
        for kind, key, graph_id in recorded:
            store.record_object(None, commune, kind, key, graph_id)
        for phone in ctx.setup.inventory.devices.phones:
            holder = _holder_of(phone.graph_number, observed, ours)
            if holder is not None and phone.asset_tag not in lent:
                store.add_loan(None, commune, "phone", phone.asset_tag, holder)
                phones += 1
        for upn in sorted(no_laptop):
            # Lent before, which laptop is unknown: the account gets no other one.
            store.add_loan(None, commune, "laptop", f"{UNRECORDED}{upn}", upn)
    store.audit_append(
        ctx.operator, commune, "state.rebuilt", commune, "rebuilt",
        details={"objects": str(len(recorded)), "phone_loans": str(phones),
                 "laptops_unknown": ", ".join(sorted(no_laptop))},
    )
    adopted = Adopted(len(recorded), phones, no_laptop)
    adopted.notices.append(
        f"Rebuilt the state of {commune} from the tenant: recorded {len(recorded)} objects "
        f"tagged for it and {phones} phone loans (from the MFA numbers registered on its "
        "accounts)."
    )
    if no_laptop:
        adopted.notices.append(
            f"Laptop loans are not in the tenant: the {len(no_laptop)} accounts that already "
            f"existed are recorded as holding a laptop ({UNRECORDED}<account>) and get no "
            f"other one; the last handover sheet in {ctx.setup.outputs} says which they hold."
        )
    return adopted


def _holder_of(number: str | None, observed: Observed, ours: Mapping[str, object]) -> str | None:
    if not number:
        return None
    digits = "".join(c for c in number if c.isdigit())
    for upn, methods in observed.phones.items():
        if upn not in ours:
            continue
        for _, registered in methods.values():
            if "".join(c for c in registered if c.isdigit()) == digits:
                return upn
    return None
