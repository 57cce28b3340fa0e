"""Graph resource kinds (and the local loans), one module each, registered by kind name.

    REGISTRY[kind] -> Resource(kind, verbs: action -> Create | Write | verb, local)

Adding a kind: write its module (payloads, read requests and parsing, `RESOURCE` with its
verbs) and add one line below; the plan that uses it names the kind in its steps.
The group is created by `POST /groups` or, with its Team, by `POST /teams` (`teamcreate`):
its `create` is chosen by payload, and `update` adopts a group an interrupted run made.
"""

from __future__ import annotations

from crisiskit.resources import (
    channels,
    drives,
    exports,
    groups,
    licences,
    loans,
    mailboxes,
    memberships,
    phones,
    taps,
    teamcreate,
    teams,
    users,
)
from crisiskit.resources.base import ByPayload, Resource, by_kind

GROUP = Resource(
    groups.KIND,
    {
        **groups.RESOURCE.verbs,
        "create": ByPayload({
            groups.GroupCreate: groups.CREATE,
            teamcreate.TeamGroupCreate: teamcreate.create,
        }),
        "update": teamcreate.adopt,
    },
)

REGISTRY: dict[str, Resource] = by_kind(
    [
        users.RESOURCE,
        licences.RESOURCE,
        mailboxes.RESOURCE,
        GROUP,
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
