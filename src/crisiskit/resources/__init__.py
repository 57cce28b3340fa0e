"""Graph resource kinds (and the local loans), one module each, registered by kind name.

    REGISTRY[kind] -> Resource(kind, verbs: action -> Create | Write | verb, local)

Adding a kind: write its module (payloads, read requests and parsing, `RESOURCE` with its
verbs) and add one line below; the plan that uses it names the kind in its steps.
`mailboxes` has no verbs of its own: readiness is the consistency rule of a licence.
"""

from __future__ import annotations

from crisiskit.resources import (
    channels,
    drives,
    exports,
    groups,
    licences,
    loans,
    memberships,
    phones,
    taps,
    teams,
    users,
)
from crisiskit.resources.base import Resource, by_kind

REGISTRY: dict[str, Resource] = by_kind(
    [
        users.RESOURCE,
        licences.RESOURCE,
        groups.RESOURCE,
        memberships.RESOURCE,
        teams.RESOURCE,
        channels.RESOURCE,
        drives.DRIVE_RESOURCE,
        drives.FOLDER_RESOURCE,
        taps.RESOURCE,
        phones.RESOURCE,
        loans.RESOURCE,
        exports.RESOURCE,
        exports.MANIFEST_RESOURCE,
    ]
)

__all__ = ["REGISTRY", "Resource"]
