"""Exports as steps: one source of one owner per step, then the manifest step that checks them.

    export:   ExportSource(root, source, owner, owner_id, base, label): an account's mail,
              OneDrive, calendars or contacts; the group's conversations, library, calendar
              (recorded as not supported app-only) or the Team's channels. Steps ready
              together run concurrently, within the Graph client's limiter.
    manifest: ManifestWrite(root, ...): once every export step succeeded, drop what an
              earlier run left that is no longer a source's, write manifest.json and
              SHA256SUMS, and verify the folder from disk. A manifest that does not verify
              fails the step, and everything that depends on it (teardown's deletions) is
              skipped.

The work itself is `crisiskit.export`; these verbs only report each step once.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from crisiskit.errors import CrisisKitError
from crisiskit.export.job import Job, Reads
from crisiskit.export.sink import sink_for
from crisiskit.plan.model import Step
from crisiskit.resources.base import Resource, Session

KIND = "export"
MANIFEST_KIND = "manifest"
ACCOUNT_SOURCES = ("mail", "onedrive", "calendar", "contacts")
GROUP_SOURCES = ("conversations", "files", "group_calendar", "channels")


@dataclass(frozen=True)
class ExportSource:
    """One source to export into the folder `root`."""

    root: str
    source: str  # one of ACCOUNT_SOURCES or GROUP_SOURCES
    owner: str  # the account's UPN or the group's mailNickname
    owner_id: str
    base: str  # its files' folder, relative to root
    label: str = ""  # conversations: the mail domain; channels: the Team's name


@dataclass(frozen=True)
class ManifestWrite:
    """The manifest of the export in `root`, and what it says about who made it."""

    root: str
    commune: str
    commune_name: str
    operator: str
    operation: str  # export | teardown


async def _run(session: Session, p: ExportSource, reads: Reads) -> Job:
    from crisiskit.export import calendar, channels, conversations, drive, mail

    job = Job(session.graph, sink_for(Path(p.root)), p.source, p.owner, p.owner_id, p.base,
              reads=reads)
    if p.source == "mail":
        await mail.export_mail(job)
    elif p.source == "onedrive":
        await drive.export_drive(job, f"/users/{p.owner_id}/drive", "onedrive")
    elif p.source == "files":
        await drive.export_drive(job, f"/groups/{p.owner_id}/drive", "files")
    elif p.source == "calendar":
        await calendar.export_calendars(job)
    elif p.source == "contacts":
        await calendar.export_contacts(job)
    elif p.source == "conversations":
        await conversations.export_conversations(job, p.label or "crisiskit.invalid")
    elif p.source == "group_calendar":
        calendar.group_calendar(job)
    elif p.source == "channels":
        await channels.export_channels(job, p.label)
    else:
        raise ValueError(f"unknown export source {p.source!r}")
    return job


async def export(session: Session, steps: Sequence[Step]) -> None:
    """Export every source concurrently; report each step with its counts."""
    reads = Reads(session.graph)  # the sources' listings of one moment share `$batch` calls
    outcomes = await asyncio.gather(
        *(_run(session, s.payload, reads) for s in steps), return_exceptions=True
    )
    with session.journal():
        for s, outcome in zip(steps, outcomes, strict=True):
            if isinstance(outcome, CrisisKitError):
                session.failed(s, why=str(outcome))
            elif isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome
                session.failed(s, why=f"{type(outcome).__name__}: {outcome}")
            else:
                status = outcome.status or "exported"
                session.done(
                    s,
                    values={"files": outcome.files, "bytes": outcome.nbytes,
                            "fetched": outcome.fetched, "refetched": outcome.refetched},
                    detail=f"{status}: {outcome.files} files, {outcome.nbytes} bytes"
                    + (f", {outcome.refetched} fetched again (hash mismatch)"
                       if outcome.refetched else ""),
                )


async def manifest(session: Session, steps: Sequence[Step]) -> None:
    """Write and verify the manifest of each export folder (one step per folder)."""
    from crisiskit import __version__
    from crisiskit.export.manifest import verify, write_manifest

    for s in steps:
        p: ManifestWrite = s.payload
        sink = sink_for(Path(p.root))
        stale = [rec for path, rec in sink.recorded.items() if path not in sink.done]
        for rec in stale:
            try:
                os.unlink(sink.abs(rec.path))
            except FileNotFoundError:
                pass
        meta = {
            "commune": p.commune,
            "commune_name": p.commune_name,
            "operation": p.operation,
            "operator": p.operator,
            "run": session.run_id,
            "created_at": session.clock.now().isoformat(timespec="seconds"),
            "crisiskit": __version__,
        }
        sink.sweep()
        written = await asyncio.to_thread(
            write_manifest, sink.root, list(sink.done.values()), sink.sources, meta
        )
        sink.forget_progress()
        checked = await asyncio.to_thread(verify, sink.root)
        with session.journal():
            if not checked.ok:
                session.failed(s, why=checked.summary())
                continue
            totals = written["totals"]
            session.done(
                s,
                values={"digest": written["digest"], "files": totals["files"],
                        "bytes": totals["bytes"], "root": str(sink.root)},
                detail=f"verified: {totals['files']} files, {totals['bytes']} bytes, "
                f"digest {written['digest']}",
            )


RESOURCE = Resource(KIND, {"export": export})
MANIFEST_RESOURCE = Resource(MANIFEST_KIND, {"export": manifest})
