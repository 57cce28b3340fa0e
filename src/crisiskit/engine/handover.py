"""The documents an activation leaves with the commune: the credentials file and the sheet.

    credential_states(path)     validity windows of the passes on file (never the secrets)
    credentials_sink(path, home) where issued passes go the moment they exist (0600, atomic)
    void_passes(path, home, ps)  take out of the file the passes of a run that lost its lease
    write_documents(...)        the handover sheet (md, html, pdf) and the first sign-in slips

A sheet is rewritten only when what it says changes: each writing is audited
(`documents.written`, with a digest of the facts the documents print, never a pass), and a
run whose facts digest equals the last one's, with every file still there and no signature
asked, leaves the documents as they are (`KitDocuments.unchanged`). So a rerun that finds the
kit complete writes nothing, and a signed sheet is not replaced by an identical unsigned one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crisiskit.plan.diff import CredentialState

if TYPE_CHECKING:
    from crisiskit.documents.kit import KitDocuments
    from crisiskit.engine.context import Setup
    from crisiskit.plan.desired import DesiredKit
    from crisiskit.resources.taps import IssuedPass
    from crisiskit.state.api import StateStore


def credential_states(path: Path) -> dict[str, CredentialState]:
    """Read the validity windows of the passes on file (the passes themselves are not kept).

    `path` is the activation's credentials file; the reissue files beside it count too, the
    newest pass of each account winning (`documents.credentials.current_credentials`), so that
    an activation after `credentials reissue` does not take the reissued pass for a stranger.
    """
    from crisiskit.documents.credentials import current_credentials

    return {
        upn: CredentialState(upn, r.valid_from, r.valid_until)
        for upn, (_, r) in current_credentials(path.parent).items()
    }


def credentials_sink(path: Path, home: Path) -> Callable[[Sequence[IssuedPass]], None]:
    """Return a function merging new passes into the credentials file (0600, atomic).

    Every folder between `home` and the file is checked (never a link, owner-only).
    """
    from crisiskit.documents.credentials import (
        CredentialRow,
        merge_credentials,
        read_credentials,
        write_credentials,
    )

    def save(passes: Sequence[IssuedPass]) -> None:
        rows = [
            CredentialRow(p.upn, p.display_name, p.secret, p.valid_from, p.valid_until)
            for p in passes
        ]
        current = read_credentials(path, root=home)
        write_credentials(path, merge_credentials(current, rows), root=home)

    return save


WRITTEN = "documents.written"  # the audit action of each writing of the documents


def void_passes(path: Path, home: Path, passes: Sequence[IssuedPass]) -> list[str]:
    """Remove these passes from the credentials file; return the accounts they were for.

    A row is removed only while it still holds the very pass given (a later run's pass for
    the same account is kept). The account then has no valid pass on file: the run that
    holds the commune issues one.
    """
    from crisiskit.documents.credentials import read_credentials, write_credentials

    void = {p.upn.lower(): p.secret.reveal() for p in passes}
    if not void:
        return []
    rows = read_credentials(path, root=home)
    kept, removed = [], []
    for row in rows:
        if void.get(row.upn.lower()) == row.temporary_access_pass.reveal():
            removed.append(row.upn)
        else:
            kept.append(row)
    if removed:
        write_credentials(path, kept, root=home)
    return sorted(removed)


def write_documents(
    setup: Setup,
    kit: DesiredKit,
    now: datetime,
    store: StateStore,
    *,
    team_url: str | None,
    sharepoint_url: str | None,
    still_provisioning: list[str],
    operator: str = "crisiskit",
) -> KitDocuments:
    """Write the handover sheet (md, html, pdf) and the first sign-in slips (0600 PDF).

    Nothing is written when the documents on disk already say exactly this (module
    docstring); the result then has `unchanged=True`.
    """
    from crisiskit.documents.handover import HandoverAccount, HandoverDevice
    from crisiskit.documents.kit import write_kit_documents

    users = {u.upn: u for u in kit.users}
    facts: dict[str, Any] = {
        "inventory": setup.inventory,
        "commune": setup.commune,
        "accounts": [
            HandoverAccount(given_name=u.given_name, surname=u.surname, role=u.role,
                            upn=u.upn, team_owner=u.owner)
            for u in kit.users
        ],
        "devices": [
            HandoverDevice(
                kind=a.kind, asset_tag=a.asset_tag, model=a.model,
                serial=a.serial if a.kind == "laptop" else None,
                imei=a.serial if a.kind == "phone" else None,
                phone_number=a.number,
                holder=f"{users[a.upn].given_name} {users[a.upn].surname}"
                if a.upn in users else a.upn,
                holder_upn=a.upn,
            )
            for a in kit.allocations
        ],
        "team_name": kit.team.display_name if kit.team else None,
        "team_url": _web(team_url),
        "sharepoint_url": _web(sharepoint_url),
        "still_provisioning": still_provisioning,
        "tap_usable_once": kit.tap_usable_once,
        "register_phone": kit.register_phone,
    }
    digest = _digest(setup, facts)
    if setup.signer is None:
        kept = _unchanged(setup, store, digest)
        if kept is not None:
            return kept
    written = write_kit_documents(
        setup.outputs,
        **facts,
        runs=store.runs(setup.commune.id),
        now=now,
        audit_anchor=store.audit_head(),
        signer=setup.signer,
    )
    store.audit_append(
        operator, setup.commune.id, WRITTEN, setup.commune.id, "written",
        details={"facts": digest,
                 "files": sorted(p.name for p in [*written.handover.values(), written.slips]
                                 if p is not None)},
    )
    return written


def _digest(setup: Setup, facts: dict[str, Any]) -> str:
    """Return a digest of what the documents print (the passes' windows, never a pass)."""
    from crisiskit.documents.credentials import read_credentials

    wanted = {a.upn.lower() for a in facts["accounts"]}
    windows = [
        (r.upn.lower(), r.valid_from.isoformat(), r.valid_until.isoformat())
        for r in read_credentials(setup.credentials_path)
        if r.upn.lower() in wanted
    ]
    data = {
        **{k: v for k, v in facts.items() if k not in ("inventory", "commune")},
        "accounts": [a.model_dump(mode="json") for a in facts["accounts"]],
        "devices": [d.model_dump(mode="json") for d in facts["devices"]],
        "commune": setup.commune.model_dump(mode="json"),
        "metropole": setup.inventory.metropole.model_dump(mode="json"),
        "passes": windows,
    }
    canonical = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _unchanged(setup: Setup, store: StateStore, digest: str) -> KitDocuments | None:
    """Return the documents on disk if the last writing had this digest and none is missing."""
    from crisiskit.documents.handover import STEM
    from crisiskit.documents.kit import KitDocuments
    from crisiskit.documents.slips import SLIPS_FILE

    last = next(
        (e for e in reversed(store.audit_entries(setup.commune.id)) if e.action == WRITTEN),
        None,
    )
    if last is None or last.details.get("facts") != digest:
        return None
    names = list(last.details.get("files") or [])
    paths = [setup.outputs / name for name in names]
    if not names or not all(p.is_file() and not p.is_symlink() for p in paths):
        return None
    order = ("md", "html", "pdf")
    handover = {
        p.suffix[1:]: p
        for p in sorted(paths, key=lambda p: order.index(p.suffix[1:]) if p.suffix[1:] in order
                        else len(order))
        if p.name.startswith(STEM + ".")
    }
    slips = setup.outputs / SLIPS_FILE if SLIPS_FILE in names else None
    return replace(KitDocuments(handover=handover, slips=slips), unchanged=True)


def _web(url: str | None) -> str | None:
    return url if url and url.startswith(("http://", "https://")) else None
