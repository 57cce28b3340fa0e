"""The crisis Microsoft 365 group: natural key the mailNickname; ours when tagged for the commune.

    read:    by_nickname, by_id, parse → ObservedGroup (members and owners read by memberships)
    create:  POST /groups, private, Unified, tagged, with ≤ 20 owner+member binds; an owner is
             required (app-only creation); found again by mailNickname
    delete:  DELETE /groups/{id} (soft delete, with its Team), confirmed by consecutive 404s
    purge:   DELETE /directory/deletedItems/{id} (`recycle`: refused to app-only tokens, reported)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crisiskit.graph.types import GraphResponse, Request
from crisiskit.plan.model import Id
from crisiskit.resources import recycle
from crisiskit.resources.base import (
    Confirm,
    Create,
    Found,
    Resource,
    Write,
    delete,
    get,
    gone,
    ident,
    is_duplicate_in_directory,
    post,
    q,
)

KIND = "group"
MAX_BINDS = 20  # owner+member links in one create or one PATCH (GRAPH.md)
FIELDS = (
    "id,displayName,mailNickname,visibility,assignedLicenses,createdDateTime,"
    "resourceProvisioningOptions"
)


@dataclass
class ObservedGroup:
    id: str
    mail_nickname: str
    display_name: str
    tag: str | None
    sku_ids: set[str]
    members: set[str] = field(default_factory=set)  # directory object ids
    owners: set[str] = field(default_factory=set)
    created: str | None = None  # createdDateTime, ISO 8601
    provisioning: set[str] = field(default_factory=set)  # resourceProvisioningOptions ("Team")
    # Found by its journaled id or by proof, not by the kit's nickname: a group an
    # interrupted run created and did not finish (tag it, name it): how we know it is ours.
    adopt: str = ""


def parse(body: Mapping[str, Any], tag: str) -> ObservedGroup:
    return ObservedGroup(
        id=str(body.get("id")),
        mail_nickname=str(body.get("mailNickname") or ""),
        display_name=str(body.get("displayName") or ""),
        tag=body.get(tag),
        sku_ids={str(x.get("skuId")) for x in body.get("assignedLicenses") or [] if x},
        created=body.get("createdDateTime"),
        provisioning={str(x) for x in body.get("resourceProvisioningOptions") or []},
    )


def by_nickname(nickname: str, tag: str) -> Request:
    return get(f"/groups?$filter=mailNickname%20eq%20'{q(nickname)}'&$select={FIELDS},{tag}")


def by_display_name(name: str, tag: str) -> Request:
    """Find groups by display name (eq works without advanced query on groups)."""
    return get(f"/groups?$filter=displayName%20eq%20'{q(name)}'&$select={FIELDS},{tag}")


def by_id(group_id: str, tag: str) -> Request:
    return get(f"/groups/{group_id}?$select={FIELDS},{tag}")


def bind_url(graph_root: str, object_id: str) -> str:
    """Return the `@odata.bind` URL of a directory object under the configured Graph root."""
    return f"{graph_root.rstrip('/')}/directoryObjects/{object_id}"


@dataclass(frozen=True)
class GroupCreate:
    """`POST /groups`: owners and members are user ids (refs dropped if their user failed)."""

    nickname: str
    display_name: str
    description: str
    tag: str
    commune: str
    graph_root: str  # root of the bind URLs (the tenant's Graph, national clouds included)
    owners: tuple[Id, ...] = ()
    members: tuple[Id, ...] = ()


@dataclass(frozen=True)
class GroupTarget:
    """The group a delete or purge acts on."""

    group: Id


def create_request(p: GroupCreate) -> Request:
    """Build the POST /groups request: private, Unified, tagged, with ≤ 20 links in total."""
    if len(p.owners) + len(p.members) > MAX_BINDS:
        raise ValueError(f"a group create binds at most {MAX_BINDS} owners and members")
    body: dict[str, Any] = {
        "displayName": p.display_name,
        "description": p.description,
        "mailEnabled": True,
        "mailNickname": p.nickname,
        "securityEnabled": False,
        "groupTypes": ["Unified"],
        "visibility": "Private",
        p.tag: p.commune,
    }
    if p.owners:
        body["owners@odata.bind"] = [bind_url(p.graph_root, ident(u)) for u in p.owners]
    if p.members:
        body["members@odata.bind"] = [bind_url(p.graph_root, ident(u)) for u in p.members]
    return post("/groups", body)


def _values(body: Mapping[str, Any]) -> dict[str, Any]:
    out = {"id": str(body["id"])}
    if body.get("createdDateTime"):
        out["createdDateTime"] = str(body["createdDateTime"])
    return out


def _created(answer: GraphResponse, p: GroupCreate) -> Mapping[str, Any] | None:
    return _values(answer.json()) if answer.json().get("id") else None


def _found(answer: GraphResponse, p: GroupCreate) -> Found | None:
    items = answer.values()
    if not items or not items[0].get("id"):
        return None
    first = items[0]
    return Found(str(first["id"]), ours=first.get(p.tag) == p.commune, values=_values(first))


def _refuse(p: GroupCreate) -> str | None:
    # App-only creation must name an owner (GRAPH.md), or the group cannot be managed later.
    return None if p.owners else "no owner account exists"


CREATE: Create[GroupCreate] = Create(
    request=create_request,
    lookup=lambda p: by_nickname(p.nickname, p.tag),
    found=_found,
    created=_created,
    duplicate=is_duplicate_in_directory,
    refuse=_refuse,
)
RESOURCE = Resource(
    KIND,
    {
        "create": CREATE,
        "delete": Write(
            lambda p: delete(f"/groups/{ident(p.group)}"),
            gone_is_done=True,
            confirm=Confirm(
                lambda p: get(f"/groups/{ident(p.group)}?$select=id"),
                gone,
                "deleted, but still readable; rerun to confirm",
            ),
        ),
        "purge": recycle.purge,
    },
)
