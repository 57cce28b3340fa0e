"""Helpers for the day-2 tests: files, passes, sign-ins and device states, read back."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from engine_helpers import Kit

from crisiskit.documents.credentials import read_credentials
from crisiskit.state import Store

DOMAIN = "crise.ampmetropole.fr"
PATRICK = f"patrick.giraud@{DOMAIN}"
JULIE = f"julie.santoni@{DOMAIN}"
MOBILE_ID = "3179e48a-750b-4051-897c-87b9720928f7"  # Graph's fixed id of the mobile method


def outputs(kit: Kit, commune: str) -> Path:
    return kit.home / "outputs" / commune


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def passes(path: Path) -> dict[str, str]:
    """Return {upn: pass} of a credentials file (the pass revealed, for tests only)."""
    return {r.upn: r.temporary_access_pass.reveal() for r in read_credentials(path)}


def user(kit: Kit, upn: str) -> dict[str, Any]:
    return next(u for u in kit.sim.state()["users"] if u["userPrincipalName"] == upn)


def methods(kit: Kit, upn: str, kind: str) -> list[dict[str, Any]]:
    """Return the user's authentication methods of one kind ("temporaryAccessPass", "phone")."""
    uid = user(kit, upn)["id"]
    return [
        m for m in kit.sim.state()["authenticationMethods"]
        if m["userId"] == uid and kind in m["@odata.type"]
    ]


def signs_in(kit: Kit, upn: str, secret: str) -> bool:
    """Ask the simulator whether `upn` could sign in now with this pass."""
    return bool(kit.sim.sign_in(upn, temporaryAccessPass=secret)["allowed"])


def loans(kit: Kit, commune: str) -> dict[str, str]:
    """Return {asset tag: upn} of the commune's open loans."""
    with Store.open(kit.home) as store:
        return {lo.asset_tag: lo.upn for lo in store.open_loans(commune)}


def holds(kit: Kit) -> dict[str, str]:
    """Return {asset tag: state} of the devices held (to wipe, lost, maintenance...)."""
    with Store.open(kit.home) as store:
        return {tag: e.state for tag, e in store.device_holds().items()}


def audit_actions(kit: Kit, commune: str, *, leases: bool = False) -> list[str]:
    """Return the commune's audit actions, oldest first; the tenant lease's own entries
    (`lease.acquired`, …, around every run that writes) only with `leases`."""
    with Store.open(kit.home) as store:
        return [e.action for e in store.audit_entries(commune)
                if leases or not e.action.startswith("lease.")]


def everything_local(kit: Kit) -> bytes:
    """Return the bytes of state.db (and its WAL): where no secret may ever be."""
    return b"".join(
        p.read_bytes() for p in kit.home.glob("state.db*") if p.is_file()
    )
