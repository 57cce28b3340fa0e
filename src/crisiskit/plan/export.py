"""The export's steps: one per source of each account and of the group, then the manifest.

    export:mail:<upn>  export:onedrive:<upn>  export:calendar:<upn>  export:contacts:<upn>
    export:conversations:<group>  export:files:<group>  export:group_calendar:<group>
    export:channels:<group> (when the group has a Team)
    manifest:<folder>   after every export step: write, then verify from disk

Used by `crisiskit export` on its own, and by teardown between the freeze and the deletions
(`after` gives each source the freeze steps it must wait for: nobody adds data while it is
exported). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from crisiskit.export.layout import GROUP_ROOT, account_root
from crisiskit.plan.model import Step, step
from crisiskit.plan.scope import KitScope
from crisiskit.resources.exports import (
    ACCOUNT_SOURCES,
    GROUP_SOURCES,
    ExportSource,
    ManifestWrite,
)

PHASE = "export"


def manifest_id(root: str) -> str:
    return f"manifest:{root}"


def export_steps(
    scope: KitScope,
    root: str,
    *,
    commune_name: str,
    operator: str,
    operation: str,
    mail_domain: str,
    after: Mapping[str, tuple[str, ...]] | None = None,
) -> list[Step]:
    """Return the export steps of the live accounts and group of `scope`, then the manifest.

    `after[owner key]` (and `after["*"]` for the group's sources) lists steps to wait for.
    """
    after = after or {}
    steps: list[Step] = []
    for u in scope.live_users:
        for source in ACCOUNT_SOURCES:
            payload = ExportSource(root, source, u.key, u.id, account_root(u.key))
            steps.append(step("export", "export", f"{source}:{u.key}", payload,
                              after=after.get(u.key, ()), phase=PHASE, detail=u.key))
    group = scope.group
    if group is not None and group.state == "live":
        domain = group.mail.partition("@")[2] or mail_domain
        for source in GROUP_SOURCES:
            if source == "channels" and not group.team:
                continue
            label = group.display_name if source == "channels" else domain
            payload = ExportSource(root, source, group.key, group.id, GROUP_ROOT, label)
            steps.append(step("export", "export", f"{source}:{group.key}", payload,
                              after=after.get("*", ()), phase=PHASE, detail=group.key))
    manifest = ManifestWrite(root, scope.commune, commune_name, operator, operation)
    steps.append(step(
        "manifest", "export", root, manifest, after=tuple(s.id for s in steps), phase=PHASE,
        id=manifest_id(root), detail="manifest.json, SHA256SUMS, verified from disk",
    ))
    return steps
