"""The export operation (`crisiskit export`), and what teardown shares with it.

    lock → scope (journal ∩ tag) → plan (export steps + manifest) → recorded run → executor

Where an export goes: `--to DIR` if given; else the commune's latest export folder under
`$CRISISKIT_HOME/exports/` that is still incomplete (no manifest yet: a killed export is
resumed there); else a new `exports/<commune>-<UTC timestamp>/`. A rerun into a folder
re-hashes what is there and fetches only what is missing or corrupt (`crisiskit.export`).
Progress is counted in files and bytes as they land.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crisiskit.engine.context import Context
from crisiskit.engine.executor import Executor
from crisiskit.engine.progress import PhaseFactory, quiet_phase
from crisiskit.engine.run import recorded
from crisiskit.engine.session import Execution, RunSession
from crisiskit.export.manifest import read_manifest
from crisiskit.export.sink import PROGRESS, FileRecord, drop_sink, sink_for
from crisiskit.plan.desired import tag_property
from crisiskit.plan.export import export_steps, manifest_id
from crisiskit.plan.model import Plan
from crisiskit.plan.scope import KitScope, observe_scope

KIND = "export"


def new_export_root(ctx: Context) -> Path:
    """Return a new export folder's path (not created: a dry run creates nothing)."""
    stamp = ctx.clock.now().strftime("%Y%m%dT%H%M%SZ")
    return ctx.setup.home / "exports" / f"{ctx.commune}-{stamp}"


def prepare_root(ctx: Context, root: Path) -> None:
    """Create the home's `exports/` folder owner-only (0700) when the export goes there."""
    from crisiskit.state.files import private_dir

    home = Path(ctx.setup.home).absolute()
    if Path(root).absolute().parent == home / "exports":
        private_dir(ctx.setup.home, "exports")


def unfinished_export(ctx: Context) -> Path | None:
    """Return the commune's latest export folder that has no manifest yet, if any."""
    base = ctx.setup.home / "exports"
    if not base.is_dir():
        return None
    found = sorted(
        (p for p in base.glob(f"{ctx.commune}-*") if p.is_dir() and not p.is_symlink()),
        reverse=True,
    )
    for folder in found[:1]:
        if (folder / PROGRESS).exists() and read_manifest(folder) is None:
            return folder
    return None


async def scope_of(ctx: Context, *, from_tenant: bool = False) -> KitScope:
    tag = tag_property(ctx.setup.inventory.tenant.client_id)
    return await observe_scope(ctx.graph, ctx.store, ctx.commune, tag, ctx.clock.now(),
                               from_tenant=from_tenant)


class FileProgress:
    """Count exported files and bytes as they land, on one progress phase."""

    def __init__(self, factory: PhaseFactory, total: int) -> None:
        self.phase = factory("export", total)
        self.files = self.bytes = self.fetched = 0

    def __call__(self, rec: FileRecord, fetched: bool) -> None:
        self.files += 1
        self.bytes += rec.size
        self.fetched += int(fetched)

    def source_done(self) -> None:
        self.phase.advance(1)

    def close(self) -> None:
        self.phase.finish(
            f"{self.files} files, {self.bytes / 1e6:.1f} MB "
            f"({self.fetched} fetched, {self.files - self.fetched} already there and verified)"
        )


@dataclass
class ExportReport:
    """What `crisiskit export` did."""

    root: Path | None = None
    nothing: bool = False
    resumed: list[int] = field(default_factory=list)
    execution: Execution | None = None
    manifest: dict[str, Any] | None = None
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.nothing or (self.execution is not None and self.execution.ok)

    def failures(self) -> list[str]:
        return list(self.execution.failures) if self.execution else []

    def to_json(self) -> dict[str, Any]:
        totals = (self.manifest or {}).get("totals", {})
        return {
            "root": str(self.root) if self.root else None,
            "nothing": self.nothing,
            "ok": self.ok,
            "resumed": self.resumed,
            "digest": (self.manifest or {}).get("digest"),
            "files": totals.get("files"),
            "bytes": totals.get("bytes"),
            "sources": (self.manifest or {}).get("sources", []),
            "failures": self.failures(),
            "stats": self.stats,
        }


def stats_of(scope: Any) -> dict[str, int]:
    s = scope.stats
    return {
        "http_requests": s.http_requests, "batches": s.batches, "sub_requests": s.sub_requests,
        "writes": s.writes, "retries": s.retries, "throttled": s.throttled,
        "downloads": s.downloads, "bytes_downloaded": s.bytes_downloaded,
    }


async def run_steps(
    ctx: Context, plan: Plan, roots: list[str], phase: PhaseFactory, session: RunSession
) -> Execution:
    """Execute a plan holding export steps, with file progress; forget the folders' sinks."""
    sources = sum(1 for s in plan.steps if s.kind == "export" and s.action == "export")
    progress = FileProgress(phase, sources) if sources else None
    sinks = [sink_for(Path(r)) for r in roots]
    if progress is not None:
        for sink in sinks:
            sink.listeners.append(progress)
        session.listeners.append(
            lambda result: progress.source_done() if result.step.kind == "export" else None
        )
    try:
        return await Executor(session).run(plan)
    finally:
        if progress is not None:
            progress.close()
        for r in roots:
            drop_sink(Path(r))


async def export(
    ctx: Context, *, root: Path | None = None, phase: PhaseFactory = quiet_phase
) -> ExportReport:
    """Export the commune's data into `root` (see the module docstring)."""
    from crisiskit.export.warm import warm

    report = ExportReport()
    with ctx.graph.scope() as traffic:
        async with ctx.lock.hold(ctx.commune, KIND):
            warm()  # the exporters' imports, while the scope is read (after the lease's reads)
            scope = await scope_of(ctx)
            if not scope.live_users and (scope.group is None or scope.group.state != "live"):
                report.nothing = True
                return report
            folder = root or unfinished_export(ctx) or new_export_root(ctx)
            report.root = Path(folder)
            prepare_root(ctx, report.root)
            steps = export_steps(
                scope, str(report.root), commune_name=ctx.setup.commune.name,
                operator=ctx.operator, operation=KIND,
                mail_domain=ctx.setup.inventory.tenant.upn_domain,
            )
            plan = Plan(KIND, ctx.commune, steps)
            async with recorded(ctx, KIND) as run:
                report.resumed = run.resumed
                session = RunSession(ctx, run.journal)
                execution = await run_steps(ctx, plan, [str(report.root)], phase, session)
                report.execution = execution
                result = execution.results.get(manifest_id(str(report.root)))
                if result is not None and result.ok:
                    report.manifest = read_manifest(report.root)
                run.finish(execution.ok, {
                    "root": str(report.root), "failures": len(execution.failures),
                    "digest": (report.manifest or {}).get("digest"),
                })
        report.stats = stats_of(traffic)
    return report
