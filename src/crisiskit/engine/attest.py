"""The attestation's facts, read back from the journal, the manifest and the loans.

A teardown may span several runs (killed, then resumed): every figure comes from what the
state store journaled across the commune's teardown runs since its latest activation, and
from the export's own manifest, so the attestation says what happened, not what one run
planned. Written to `$CRISISKIT_HOME/outputs/<commune>/attestation-fin-de-service.*`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from crisiskit.documents.attestation import (
    Attestation,
    AttestedDevice,
    AttestedObject,
    AttestedSource,
    ExportFacts,
    write_attestation,
)
from crisiskit.documents.handover import anchor_text
from crisiskit.documents.render import identity_of
from crisiskit.engine.context import Context
from crisiskit.export.manifest import read_manifest
from crisiskit.plan.scope import History, history
from crisiskit.plan.teardown import TeardownPlan
from crisiskit.resources.recycle import RETAINED, RETENTION


def _at(iso: str | None) -> datetime | None:
    return datetime.fromisoformat(iso) if iso else None


def _object(past: History, kind: str, key: str) -> AttestedObject:
    frozen = past.last(kind, "disable", key) or past.last(kind, "revoke", key)
    deleted = past.last(kind, "delete", key)
    purge = past.last(kind, "purge", key)
    purged = purge if purge is not None and (purge.detail or "") == "purged" else None
    deleted_at = _at(deleted.at) if deleted else None
    kept = None if purged or deleted_at is None else deleted_at + RETENTION
    return AttestedObject(
        kind, key, _at(frozen.at) if frozen else None, deleted_at,
        _at(purged.at) if purged else None, kept,
        purge_refused=purge is not None and (purge.detail or "").startswith(RETAINED),
    )


def _export(root: str | None) -> ExportFacts | None:
    manifest = read_manifest(Path(root)) if root else None
    if manifest is None:
        return None
    totals = manifest.get("totals") or {}
    by_kind = tuple(
        (kind, int(v.get("files", 0)), int(v.get("bytes", 0)))
        for kind, v in (totals.get("by_kind") or {}).items()
    )
    skipped = tuple(
        AttestedSource(str(s["kind"]), str(s["owner"]), str(s["status"]), str(s.get("detail")))
        for s in manifest.get("sources") or [] if s.get("status") != "exported"
    )
    return ExportFacts(
        folder=str(root), digest=str(manifest.get("digest")), files=int(totals.get("files", 0)),
        bytes=int(totals.get("bytes", 0)), created_at=_at(manifest.get("created_at")),
        by_kind=by_kind, not_exported=skipped,
    )


def attestation_of(ctx: Context, tplan: TeardownPlan) -> Attestation:
    """Gather the attestation's facts for the commune (see the module docstring)."""
    store, commune = ctx.store, ctx.commune
    past = history(store, commune)
    runs = sorted({s.run_id for s in past.steps})
    started = [r.started_at for r in store.runs(commune) if r.id in runs]
    scope = tplan.scope
    objects = []
    if scope.group is not None:
        objects.append(_object(past, "group", scope.group.key))
    objects += [_object(past, "user", u.key) for u in scope.users]
    returned = {s.key for s in past.steps if s.kind == "loan" and s.status == "done"}
    inventory = ctx.setup.inventory
    ident = {d.asset_tag: d.serial for d in inventory.devices.laptops}
    ident.update({d.asset_tag: f"IMEI {d.imei}" for d in inventory.devices.phones})
    # Back from the commune: closed by a teardown run, or earlier (`devices return`, a leaver)
    # with the device sent to wipe for this commune (a lost or broken one did not come back).
    wiped: dict[str, list[str]] = {}
    for e in store.device_events():
        if e.commune == commune and e.state == "to_wipe":
            wiped.setdefault(e.asset_tag, []).append(e.at)
    latest = {}
    for loan in store.loans(commune):
        back = loan.returned_at is not None and any(
            at >= loan.returned_at for at in wiped.get(loan.asset_tag, ()))
        if loan.asset_tag in returned or back:
            latest[loan.asset_tag] = loan
    devices = tuple(
        AttestedDevice(lo.device_kind, lo.asset_tag, ident.get(lo.asset_tag, "–"), lo.upn,
                       _at(lo.returned_at))
        for lo in sorted(latest.values(), key=lambda lo: lo.asset_tag)
    )
    head = store.audit_head()
    now = ctx.clock.now()
    return Attestation(
        commune_name=ctx.setup.commune.name,
        commune_insee=ctx.setup.commune.insee,
        operator=ctx.operator,
        started_at=_at(min(started)) if started else now,  # type: ignore[arg-type]
        finished_at=now,
        runs=tuple(runs),
        export=_export(tplan.options.export_root),
        objects=tuple(objects),
        devices=devices,
        audit_anchor=anchor_text(head) if head else None,
        purge_requested=tplan.options.purge,
        from_tenant=scope.from_tenant,
    )


def write_attestation_files(ctx: Context, tplan: TeardownPlan) -> dict[str, Path]:
    """Write the attestation (md, html, pdf) into the commune's outputs; return the paths."""
    from crisiskit.state.files import private_dir

    att = attestation_of(ctx, tplan)
    setup = ctx.setup
    private_dir(setup.home, "outputs", setup.commune.id)
    written = write_attestation(setup.outputs, att, identity_of(setup.inventory.metropole),
                                signer=setup.signer)
    return dict(written.paths)

